"""Exported models: a folder with ``config.json`` and ``model.safetensors`` (DESIGN.md §5).

``load_exported`` rebuilds any of them (the autoencoder, a plugin's sound tokenizer or position
estimator): the config is read strictly, the module is first built on the meta device and checked
against the weights' header, and only then built and loaded for real."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from ccvs_core.atomic import atomic_path
from ccvs_core.config import AutoencoderConfig
from ccvs_core.config_base import Config
from ccvs_core.errors import CheckpointError
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.weights import (
    check_built,
    checkpoint_config,
    field_explainer,
    load_json,
    load_module,
    load_tensors,
    read_header,
    save_tensors,
)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
C = TypeVar("C", bound=Config)
M = TypeVar("M", bound=torch.nn.Module)


def export_module(
    module: torch.nn.Module, name: str, config: Config, folder: str | os.PathLike, extra: dict | None = None
) -> Path:
    """Write ``folder/config.json`` (``{name: config, **extra}``) and ``folder/model.safetensors`` (keys
    ``<name>.*``); the folder appears complete or not at all."""
    from ccvs_core import __version__

    folder = Path(folder)
    with atomic_path(folder, directory=True) as tmp:
        data = {"format": f"ccvs-{name}", "ccvs_core": __version__, name: config.to_dict(), **(extra or {})}
        (tmp / CONFIG_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tensors = {f"{name}.{k}": v for k, v in module.state_dict().items()}
        save_tensors(tmp / WEIGHTS_FILE, tensors, metadata={"format": f"ccvs-{name}"})
    return folder


def export_autoencoder(model: FlowAutoencoder, folder: str | os.PathLike, extra: dict | None = None) -> Path:
    """The autoencoder as ``folder/config.json`` + ``folder/model.safetensors`` (keys ``autoencoder.*``)."""
    return export_module(model, "autoencoder", model.config, folder, extra)


def autoencoder_frame_size(folder: str | os.PathLike) -> tuple[int, int]:
    """The frame size (height, width) an exported autoencoder was trained at (its ``config.json``)."""
    path = Path(folder) / CONFIG_FILE
    info = load_json(path)
    if not isinstance(info, dict) or "frame_size" not in info:
        raise CheckpointError(path, "has no 'frame_size' (export it again with ccvs train autoencoder)")
    size = info["frame_size"]
    if not (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise CheckpointError(path, f"field 'frame_size' must be [height, width], got {size!r}")
    return tuple(size)


def load_exported(
    folder: str | os.PathLike,
    name: str,
    config_class: type[C],
    build: Callable[[C], M],
    device: str | torch.device = "cpu",
) -> tuple[M, dict]:
    """(the module ``export_module(module, name, ...)`` wrote to ``folder``, its ``config.json``), rebuilt
    with ``build(config)``. Every bad field, and every tensor whose name, shape, dtype or values disagree
    with the module, is a CheckpointError naming the file and the field or tensor; the config is
    checked against the weights' header before anything is allocated."""
    folder = Path(folder)
    config_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    data = load_json(config_path)
    if not isinstance(data, dict) or name not in data:
        raise CheckpointError(config_path, f"has no '{name}' config")
    config = checkpoint_config(config_class, data[name], config_path, f"{name}.")
    explain = field_explainer({name: data[name]}, CONFIG_FILE)
    check_built(lambda: build(config), read_header(weights), weights, prefix=f"{name}.", explain=explain)
    model = build(config)
    load_module(model, load_tensors(weights), weights, prefix=f"{name}.")
    return model.to(device).eval(), data


def load_autoencoder(folder: str | os.PathLike, device: str | torch.device = "cpu") -> FlowAutoencoder:
    """Rebuild the autoencoder a folder holds; a missing, malformed or mismatched file is a CheckpointError."""
    return load_exported(folder, "autoencoder", AutoencoderConfig, FlowAutoencoder, device)[0]
