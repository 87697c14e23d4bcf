"""Weights as safetensors files (and their JSON companions): atomic writes, and loads that refuse
anything missing, malformed or mismatched with a CheckpointError naming the file."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ccvs_core.atomic import atomic_path
from ccvs_core.errors import CheckpointError


def save_tensors(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Write a safetensors file atomically (tensors are copied to contiguous CPU memory)."""
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata=metadata)


def load_tensors(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing, truncated or malformed file is a CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            path, f"is not a readable safetensors file (truncated or corrupt?): {err}"
        ) from None


def load_module(
    module: nn.Module, tensors: dict[str, torch.Tensor], source: str | os.PathLike, prefix: str = ""
) -> None:
    """Load ``tensors[prefix + key]`` into ``module`` strictly: every missing, unexpected or misshapen
    tensor is a CheckpointError that names the file and the keys."""
    own = module.state_dict()
    given = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_few(prefix, missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(prefix, unexpected)}")
        raise CheckpointError(source, "does not match the model: " + "; ".join(parts))
    for key, value in given.items():
        if value.shape != own[key].shape:
            raise CheckpointError(
                source,
                f"tensor '{prefix}{key}' has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape)}",
            )
    module.load_state_dict(given)


def _few(prefix: str, keys: list[str]) -> str:
    shown = ", ".join(f"'{prefix}{k}'" for k in keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def load_json(path: str | os.PathLike, missing: str = "file not found") -> Any:
    """A JSON file of a checkpoint or exported model; ``missing`` says what its absence means."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(path, missing) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(path, f"is not valid JSON ({err})") from None


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes (what a cache or a protocol records of the weights it used)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
