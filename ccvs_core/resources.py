"""One guard for requests too large for the machine: a command estimates the memory, disk and time
its request needs before it starts, and ``check_request`` refuses what the machine cannot hold (with
the estimate in the message), says when it will take more than an hour, and asks for ``--yes`` past
a day. Estimates are rough (within a few times); they catch the request that is orders too large."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs

from ccvs_core.console import console
from ccvs_core.errors import InputError

HOUR, DAY = 3600.0, 86400.0


@attrs.frozen
class Estimate:
    """What a request needs: ``memory`` and ``disk`` in bytes, ``seconds`` of wall time."""

    memory: float = 0.0
    seconds: float = 0.0
    disk: float = 0.0


def available_memory() -> int:
    """Bytes of memory this process may still use: MemAvailable of /proc/meminfo where there is one."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def device_memory(device: str = "cpu") -> int:
    """Bytes free where a computation on ``device`` ("cpu", "cuda", "cuda:1") keeps its tensors: the
    GPU's own memory for cuda."""
    if str(device).startswith("cuda"):
        import torch  # only here: the data commands run without it

        return torch.cuda.mem_get_info(torch.device(device))[0]
    return available_memory()


def free_disk(path: str | os.PathLike) -> int:
    """Free bytes on the file system that holds ``path`` (or its nearest existing parent)."""
    path = Path(path).resolve()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def check_request(
    subject: str,
    estimate: Estimate,
    yes: bool,
    disk_at: str | os.PathLike | None = None,
    device: str = "cpu",
) -> None:
    """Refuse (``InputError`` naming ``subject``) a request whose memory (on ``device``) or disk exceeds
    the machine's, or whose time exceeds a day without ``yes``; print a line when it exceeds an hour."""
    memory = device_memory(device)
    if estimate.memory > memory:
        where = str(device) if str(device).startswith("cuda") else "this machine"
        raise InputError(
            subject, f"needs about {_size(estimate.memory)} of memory; {where} has {_size(memory)} free"
        )
    if disk_at is not None and estimate.disk > (free := free_disk(disk_at)):
        raise InputError(
            subject, f"needs about {_size(estimate.disk)} of disk; {disk_at} has {_size(free)} free"
        )
    if estimate.seconds > DAY and not yes:
        raise InputError(
            subject, f"would take about {_duration(estimate.seconds)} here", "give --yes to start it anyway"
        )
    if estimate.seconds > HOUR:
        console.print(f"[yellow]{subject}: this will take about {_duration(estimate.seconds)} here")


def _size(count: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count / 2**10:.3g} KiB"


def _duration(seconds: float) -> str:
    for unit, scale in (("years", 365 * DAY), ("days", DAY), ("hours", HOUR)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 60:.3g} minutes"
