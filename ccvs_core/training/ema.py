"""Exponential moving average of a model's parameters (paper Sec. 4: the autoencoder's final parameters)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A frozen copy of ``model`` whose parameters follow ``d * ema + (1 - d) * model`` after every
    ``update``, with d = min(decay, (1 + n) / (10 + n)) at the n-th update: the warm-up keeps the
    average from dwelling on the random initial weights early in training. Buffers (codebook
    bookkeeping, ...) are copied as they are."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        for ema, live in zip(self.model.parameters(), model.parameters(), strict=True):
            ema.lerp_(live.detach(), 1 - decay)
        for ema, live in zip(self.model.buffers(), model.buffers(), strict=True):
            ema.copy_(live)
        self.updates += 1
