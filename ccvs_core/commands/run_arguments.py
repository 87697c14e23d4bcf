"""The arguments every ``ccvs train`` command shares, and the device choice."""

from __future__ import annotations

import argparse
from pathlib import Path

from ccvs_core.errors import InputError


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --out, --preset, --device and --yes."""
    from ccvs_core.config import PRESET_NAMES

    parser.add_argument(
        "--data", required=True, type=Path, metavar="DIR", help="dataset folder (train split)"
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="run folder (resumed if it exists)"
    )
    parser.add_argument("--preset", choices=PRESET_NAMES, help="sizes (default: toyworld)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument(
        "--yes", action="store_true", help="start even when the estimate says it takes more than a day"
    )


def check_run_folders(args: argparse.Namespace) -> None:
    """Refuse a run folder inside the dataset before anything is written."""
    data, out = getattr(args, "data", None), getattr(args, "out", None)
    if data is not None and out is not None and out.resolve().is_relative_to(data.resolve()):
        raise InputError("--out", f"{out} is inside the dataset {data}; give a run folder outside it")


def pick_device(requested: str | None) -> str:
    """--device, or cuda when available; asking for cuda without a CUDA device is an InputError."""
    import torch

    device = requested or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device", f"{device} was asked for but no CUDA device is available")
    return device
