"""The device settings training asks for: TF32 products on recent GPUs, bfloat16 autocast, and
``torch.compile`` of the modules that repeat (each compiled in place, so that weight names, and so
checkpoints, stay those of the plain module)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

# torch.compile's backend; the tests trace with "eager", which captures the same graphs without the
# minutes inductor spends generating code on a CPU
BACKEND = "inductor"


def use_tf32(device: torch.device) -> None:
    """TF32 matrix products on Ampere and later GPUs (float32 sums of products of 10-bit mantissas):
    several times float32's speed, well within what training tolerates."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8:
        torch.set_float32_matmul_precision("high")


def autocast(device: torch.device, precision: str):
    """The forward passes' autocast: bfloat16 when ``precision`` says so, else a no-op context."""
    return torch.autocast(device.type, torch.bfloat16, enabled=precision == "bfloat16")


def compiled(module: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile(module)``: a wrapper whose calls run the compiled graphs (the module itself,
    its weights' names included, stays as it was)."""
    return torch.compile(module, backend=BACKEND)


def compile_each(modules: Iterable[torch.nn.Module]) -> None:
    """``torch.compile`` each module in place (before DDP or FSDP2 wrap them, as PyTorch advises for
    repeated blocks: one compiled graph serves them all)."""
    for module in modules:
        module.compile(backend=BACKEND)
