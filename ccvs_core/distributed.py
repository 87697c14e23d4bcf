"""Where this process stands in a (possible) torchrun job, and the few collective steps training and
evaluation need.

Training code asks these instead of assuming one process, so that the same code runs unchanged
under ``torchrun`` (which sets RANK / WORLD_SIZE / LOCAL_RANK). ``process_group`` joins the job
(nccl between GPUs, gloo on the CPU); gradients are averaged by PyTorch's DDP, set up by the trainer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist

from ccvs_core.errors import InputError


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Only the main process writes checkpoints, samples and logs, and shows progress."""
    return rank() == 0


def active() -> bool:
    """True inside a joined process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@contextmanager
def process_group(device: str) -> Iterator[str]:
    """Join the torchrun job this process belongs to, if any, for the ``with`` block: nccl for a CUDA
    ``device`` (this process's GPU: cuda:LOCAL_RANK), gloo on the CPU. Yields the device to use."""
    if world_size() == 1:
        yield device
        return
    if device.startswith("cuda"):
        if local_rank() >= torch.cuda.device_count():
            raise InputError(
                "torchrun", f"LOCAL_RANK={local_rank()} but this node has {torch.cuda.device_count()} GPUs"
            )
        device = f"cuda:{local_rank()}"
        torch.cuda.set_device(device)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend, device_id=torch.device(device) if backend == "nccl" else None)
    try:
        yield device
    finally:
        dist.destroy_process_group()


def describe(device: str, parallel: str, global_batch: int, unit: str) -> str:
    """The run's first line under torchrun, e.g. "2 processes (gloo, cpu, ddp), global batch 8 windows"."""
    backend = dist.get_backend() if active() else "one process"
    kind = torch.device(device).type
    return f"{world_size()} processes ({backend}, {kind}, {parallel}), global batch {global_batch} {unit}"


def barrier() -> None:
    if active():
        dist.barrier()


def mean(value: torch.Tensor) -> float:
    """The mean of a scalar over the processes (itself alone)."""
    if active():
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= dist.get_world_size()
    return float(value)


def share(global_batch: int, flag: str = "--batch-size") -> int:
    """This process's part of a global batch; an ``InputError`` naming ``flag`` where it cannot be
    split evenly over the processes."""
    world = world_size()
    if global_batch % world:
        raise InputError(
            flag, f"a global batch of {global_batch} cannot be split evenly over {world} processes"
        )
    return global_batch // world


def my_range(count: int) -> range:
    """This process's contiguous part of ``count`` items (the first processes take one more when it
    does not split evenly; a process may get none)."""
    world, r = world_size(), rank()
    size, extra = divmod(count, world)
    start = r * size + min(r, extra)
    return range(start, start + size + (r < extra))


def shared_cache(
    cache: Path, compute: Callable[[int, int], dict[str, torch.Tensor]], write: Callable[[Path, dict], None]
) -> dict[str, torch.Tensor]:
    """Fill ``cache`` with ``compute(rank, world)`` of every process, each its share of the work, and
    return the whole: every process writes its part beside the cache, the main one joins them with
    ``write`` (which must be atomic), the others then read the cache. Alone, ``compute(0, 1)`` is
    written and returned."""
    if not active():
        tensors = compute(0, 1)
        write(cache, tensors)
        return tensors
    from ccvs_core.weights import load_tensors, save_tensors

    world = world_size()
    parts = [cache.with_name(f".{cache.name}.part{r}-of-{world}") for r in range(world)]
    save_tensors(parts[rank()], compute(rank(), world))
    barrier()
    if is_main():
        joined: dict[str, torch.Tensor] = {}
        for path in parts:
            joined.update(load_tensors(path))
        write(cache, joined)
        for path in parts:
            path.unlink()
    barrier()
    return joined if is_main() else load_tensors(cache)


def gather(items: list) -> list:
    """Every process's ``items`` joined in rank order, on every process (alone: ``items``). Only for
    results this job made itself: ``all_gather_object`` pickles them between its processes."""
    if not active():
        return items
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, items)
    return [item for part in parts for item in part]
