"""Where this process stands in a (possible) torchrun job: rank, world size, main process.

Training code asks these instead of assuming one process, so that the same code runs unchanged
under ``torchrun`` (which sets RANK / WORLD_SIZE / LOCAL_RANK). Multi-GPU wrapping (DDP, FSDP)
comes with the scale issue.
"""

from __future__ import annotations

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    """Only the main process writes checkpoints, samples and logs, and shows progress."""
    return rank() == 0
