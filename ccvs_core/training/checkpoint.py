"""Checkpoints as safetensors + JSON, never pickle (DESIGN.md §5).

A training checkpoint is a folder ``step-00001000/`` written atomically (it appears complete or not
at all) holding one ``<part>.safetensors`` per part (model, EMA, discriminators, optimizer tensors)
and ``state.json`` (step, configs, RNG states, optimizer hyper-parameters). ``CheckpointManager``
finds the latest one to resume from and keeps the last few.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ccvs_core.atomic import atomic_path
from ccvs_core.console import console
from ccvs_core.errors import CheckpointError
from ccvs_core.weights import load_json, load_tensors, save_tensors

_STEP_DIR = re.compile(r"^step-(\d{8})$")
STATE_FILE = "state.json"


def optimizer_tensors(
    optimizer: torch.optim.Optimizer | dict[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state dict (or the optimizer's own) into tensors (for safetensors) and
    JSON-able rest."""
    state = optimizer if isinstance(optimizer, dict) else optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict[str, Any], source: str
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *info.get("scalars", {}).items()]:
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    except (KeyError, ValueError, RuntimeError) as err:
        raise CheckpointError(source, f"optimizer state does not match the model: {err}") from None


class CheckpointManager:
    """Training checkpoints under ``folder``: ``step-NNNNNNNN/`` folders, the newest ``keep`` kept."""

    def __init__(self, folder: str | os.PathLike, keep: int = 3):
        self.folder = Path(folder)
        self.keep = keep

    def steps(self) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        found = [
            (int(m.group(1)), p)
            for p in self.folder.iterdir()
            if (m := _STEP_DIR.match(p.name)) and p.is_dir()
        ]
        return sorted(found)

    def latest(self) -> Path | None:
        steps = self.steps()
        return steps[-1][1] if steps else None

    def save(self, step: int, parts: dict[str, dict[str, torch.Tensor]], state: dict[str, Any]) -> Path:
        path = self.folder / f"step-{step:08d}"
        with atomic_path(path, directory=True) as tmp:
            for name, tensors in parts.items():
                save_tensors(tmp / f"{name}.safetensors", tensors)
            (tmp / STATE_FILE).write_text(
                json.dumps({**state, "step": step}, indent=1) + "\n", encoding="utf-8"
            )
        for _, old in self.steps()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return path

    def resume(self, restore: Callable[[Path], None]) -> Path | None:
        """``restore(folder)`` the newest checkpoint that restores, saying so for each one before it that
        does not (a file truncated by a crash of the machine); None without checkpoints. When none
        restores, the newest one's error is raised (a changed model fails them all alike)."""
        first_error = None
        for _, path in reversed(self.steps()):
            try:
                restore(path)
                return path
            except CheckpointError as err:
                first_error = first_error or err
                console.print(
                    f"[yellow]checkpoint {path.name} cannot be resumed ({err}); trying the one before"
                )
        if first_error is not None:
            raise first_error
        return None

    def load(
        self, path: str | os.PathLike, required: Sequence[str] = ()
    ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        """(parts, state) of one checkpoint folder, which must hold the ``required`` parts; anything
        missing or malformed is a CheckpointError."""
        path = Path(path)
        state_path = path / STATE_FILE
        state = load_json(state_path, missing="file not found (an incomplete checkpoint?)")
        if not isinstance(state, dict) or not isinstance(state.get("step"), int):
            raise CheckpointError(state_path, "has no integer 'step'")
        for name in required:
            if not (path / f"{name}.safetensors").is_file():
                raise CheckpointError(
                    path / f"{name}.safetensors", "file not found (an incomplete checkpoint?)"
                )
        parts = {p.stem: load_tensors(p) for p in sorted(path.glob("*.safetensors"))}
        return parts, state
