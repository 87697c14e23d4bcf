"""Where this process stands in a (possible) torchrun job, and the few collective steps training and
evaluation need.

Training code asks these instead of assuming one process, so that the same code runs unchanged
under ``torchrun`` (which sets RANK / WORLD_SIZE / LOCAL_RANK). ``process_group`` joins the job
(nccl between GPUs, gloo on the CPU); gradients are averaged by PyTorch's DDP, set up by the trainer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
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


@contextmanager
def alone() -> Iterator[None]:
    """For the ``with`` block, this process is a job of one (the main process of a torchrun job
    running a command that does not share its work)."""
    saved = {name: os.environ.pop(name, None) for name in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")}
    try:
        yield
    finally:
        os.environ.update({name: value for name, value in saved.items() if value is not None})


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
    value = value.detach()
    if active():
        value = value.clone()
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


class _GatherRows(torch.autograd.Function):
    """Every process's ``x`` stacked ``[W, *x.shape]``; backward sums the gradients every process gives
    each part and hands each process its own (so a loss on one process trains the others' inputs)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.stack(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[dist.get_rank()]


@attrs.frozen
class StridedBatch:
    """The global batch of a training step as ``DrawSampler`` shares it out: process r holds items
    r, r + W, r + 2W, ... of the W-process batch, in that order, each item ``rows // items`` rows of a
    tensor (a clip's frames flattened into the batch, for instance). Lets the few batch-level
    statistics of a step (the minibatch standard deviation, the codebook's bookkeeping, another
    clip's frames as a wrong context) see the one-process batch, so W processes train as one.
    ``items``: this process's items a step."""

    items: int

    @property
    def processes(self) -> int:
        return world_size()

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """This process's rows ``[N, ...]`` -> the global batch's ``[W * N, ...]`` in the one-process
        order (differentiable: gradients reach the process the rows came from)."""
        if not active():
            return x
        world, rows = dist.get_world_size(), x.shape[0]
        parts = _GatherRows.apply(x)  # [W, N, ...]
        parts = parts.view(world, self.items, rows // self.items, *x.shape[1:])
        return parts.transpose(0, 1).reshape(world * rows, *x.shape[1:])

    def mine(self, x: torch.Tensor) -> torch.Tensor:
        """The rows of a global-batch tensor ``[W * N, ...]`` that this process holds ``[N, ...]``."""
        if not active():
            return x
        world = dist.get_world_size()
        per_item = x.shape[0] // (world * self.items)
        parts = x.view(self.items, world, per_item, *x.shape[1:])[:, dist.get_rank()]
        return parts.reshape(self.items * per_item, *x.shape[1:])


def fingerprints(module: torch.nn.Module) -> list[str]:
    """One SHA-256 of every parameter and buffer's bytes of ``module`` on each process (alone: one)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return gather([digest.hexdigest()])


def check_in_step(module: torch.nn.Module, what: str) -> None:
    """Refuse to go on when the processes' copies of ``module`` differ: DDP keeps them bit-identical,
    so a difference is a bug (a rank-dependent random choice, a statistic of one process's share)."""
    prints = fingerprints(module)
    if len(set(prints)) > 1:
        differ = [r for r, p in enumerate(prints) if p != prints[0]]
        raise RuntimeError(
            f"the processes' {what} weights differ (processes {differ} from process 0): "
            "a rank-dependent computation crept into the step; please report it"
        )


def gather(items: list) -> list:
    """Every process's ``items`` joined in rank order, on every process (alone: ``items``). Only for
    results this job made itself: ``all_gather_object`` pickles them between its processes."""
    if not active():
        return items
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, items)
    return [item for part in parts for item in part]
