"""What a model needs of a batch split over processes: the few statistics that span the batch (the
minibatch standard deviation, the codebook's bookkeeping) must see all of it, not one share.

Multi-process training sets it (``ccvs_core.distributed.StridedBatch``); alone, models use their own
batch. Kept as a protocol so that models know nothing of how the processes talk.
"""

from __future__ import annotations

from typing import Protocol

import torch


class SplitBatch(Protocol):
    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """This process's rows -> the whole batch's, in the one-process order (differentiable)."""
        ...

    def mine(self, x: torch.Tensor) -> torch.Tensor:
        """The rows of a whole-batch tensor that this process holds."""
        ...
