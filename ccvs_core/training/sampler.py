"""An endless, resumable, rank-aware sampler of "draws".

Training asks for draws, not epochs: draw number n is item ``permutation_e[n mod N]`` of epoch
``e = n // N``, with one permutation per epoch from (seed, epoch). The sampler yields
``e * N + item`` so that the dataset can recover both the item and the epoch (for its random crop)
in any worker process; starting at any draw makes a resumed run see exactly the data it would have
seen. With ``world_size`` ranks, rank r takes draws r, r + world_size, ... (torchrun-ready).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class DrawSampler(torch.utils.data.Sampler[int]):
    def __init__(self, num_items: int, seed: int, start: int = 0, rank: int = 0, world_size: int = 1):
        if num_items < 1:
            raise ValueError("DrawSampler needs at least one item")
        self.num_items, self.seed, self.start = num_items, seed, start
        self.rank, self.world_size = rank, world_size

    def _permutation(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.num_items, generator=generator)

    def __iter__(self) -> Iterator[int]:
        draw = self.start + self.rank
        epoch, permutation = -1, None
        while True:
            e, position = divmod(draw, self.num_items)
            if e != epoch:
                epoch, permutation = e, self._permutation(e)
            yield e * self.num_items + int(permutation[position])
            draw += self.world_size


def split_draw(draw: int, num_items: int) -> tuple[int, int]:
    """(epoch, item) of a value the sampler yielded."""
    return divmod(draw, num_items)
