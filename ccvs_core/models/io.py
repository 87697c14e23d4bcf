"""Exported models: a folder with ``config.json`` and ``model.safetensors`` (DESIGN.md §5)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ccvs_core.atomic import atomic_path
from ccvs_core.config import AutoencoderConfig
from ccvs_core.config_base import Config
from ccvs_core.errors import CheckpointError
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.weights import load_json, load_module, load_tensors, save_tensors

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


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
    return tuple(info["frame_size"])


def load_autoencoder(folder: str | os.PathLike, device: str | torch.device = "cpu") -> FlowAutoencoder:
    """Rebuild the autoencoder a folder holds; a missing, malformed or mismatched file is a CheckpointError."""
    folder = Path(folder)
    config_path = folder / CONFIG_FILE
    data = load_json(config_path)
    if not isinstance(data, dict) or "autoencoder" not in data:
        raise CheckpointError(config_path, "has no 'autoencoder' config")
    config = AutoencoderConfig.from_dict(data["autoencoder"], source=str(config_path), prefix="autoencoder.")
    model = FlowAutoencoder(config)
    weights = folder / WEIGHTS_FILE
    load_module(model, load_tensors(weights), weights, prefix="autoencoder.")
    return model.to(device).eval()
