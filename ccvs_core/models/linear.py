"""``nn.Linear`` with a faster few-row product on the CPU, for the transformer's sampling steps.

A cached sampling step multiplies one token per sample (a few rows) by every weight matrix: reading
the weights is the whole cost. MKL computes such a product on one thread (about 14 GB/s on 2 CPU
cores with AVX512-BF16, against 33 GB/s for a tensor copy); split into row blocks of the weight and
run as one batched product, it uses every thread (about 25 GB/s). ``benchmarks/sampling_speed.py``
measures the effect on a whole step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MAX_ROWS = 16  # above this MKL's own product already uses every thread


class Linear(nn.Linear):
    """Same parameters, state dict and results (to float rounding) as ``nn.Linear``; only the inference
    path for at most ``MAX_ROWS`` rows on the CPU is computed differently."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        # the cheapest tests first: this runs for every weight matrix of every sampled token
        if rows > MAX_ROWS or torch.is_grad_enabled() or x.device.type != "cpu":
            return F.linear(x, self.weight, self.bias)
        blocks = row_blocks(self.weight)
        if blocks is None or torch.is_autocast_enabled("cpu") or x.dtype != self.weight.dtype:
            return F.linear(x, self.weight, self.bias)
        out = few_row_product(blocks, x.reshape(rows, self.in_features))
        out = out.permute(2, 0, 1).reshape(*x.shape[:-1], self.out_features)
        return out if self.bias is None else out + self.bias


def row_blocks(weight: torch.Tensor) -> torch.Tensor | None:
    """``weight [out, in]`` as one block of rows per thread ``[blocks, out / blocks, in]`` (a view), or
    None where the few-row product does not apply: off the CPU, on one thread, or ``out`` not divisible."""
    blocks = torch.get_num_threads()
    if weight.device.type != "cpu" or blocks < 2 or weight.shape[0] % blocks:
        return None
    return weight.view(blocks, weight.shape[0] // blocks, weight.shape[1])


def few_row_product(blocks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``row_blocks(weight)`` times ``x [rows, in]``, every block on its own thread: ``[blocks, out /
    blocks, rows]``, without the bias."""
    return torch.bmm(blocks, x.T.expand(blocks.shape[0], -1, -1))
