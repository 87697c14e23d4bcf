"""Exponential moving average of a model's parameters (paper Sec. 4: the autoencoder's final parameters)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A frozen copy of ``model`` whose parameters follow ``decay * ema + (1 - decay) * model`` after every
    ``update``; buffers (codebook bookkeeping, ...) are copied as they are."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for ema, live in zip(self.model.parameters(), model.parameters(), strict=True):
            ema.lerp_(live.detach(), 1 - self.decay)
        for ema, live in zip(self.model.buffers(), model.buffers(), strict=True):
            ema.copy_(live)
