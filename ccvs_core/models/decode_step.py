"""One token per sample through the transformer's blocks at inference, with a key/value cache: the
step that sampling runs for every token, as straight-line code.

At the sizes this toolkit trains on a CPU, a step's cost is its number of small operations, not its
arithmetic: ``benchmarks/sampling_floor.py`` measures it. ``Block.forward`` spends about 40 of them a
layer (module calls, reshapes, the cache's bookkeeping, products as in ``Linear``); this step spends
about 15, with the same products (split in row blocks over the threads on the CPU, bias folded in), so
its results equal the blocks' to float rounding (exactly at batch 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ccvs_core.models.linear import Linear

Product = tuple[
    torch.Tensor, torch.Tensor | None
]  # weight [blocks, out / blocks, in], bias [blocks, out / blocks, 1]


class DecodeStep:
    """``step(x [B, D], cache) -> [B, D]``: the blocks and the final layer norm for one new position
    (``cache.length``), whose keys and values it stores; the caller advances the cache. Holds views of
    the model's parameters: build it again after moving the model (``VideoTransformer`` does)."""

    def __init__(self, blocks: nn.ModuleList, norm: nn.LayerNorm, heads: int):
        self.heads = heads
        self.layers = [
            (
                _norm(block.ln1),
                _product(block.attn.qkv),
                _product(block.attn.proj),
                _norm(block.ln2),
                _product(block.mlp[0]),
                _product(block.mlp[2]),
            )
            for block in blocks
        ]
        self.norm = _norm(norm)

    def __call__(self, x: torch.Tensor, cache) -> torch.Tensor:
        b, width = x.shape
        p = cache.length
        shape = (b, 3, self.heads, width // self.heads)
        # one view operation where indexing takes several: each costs as much as a small kernel here
        for (ln1, qkv, proj, ln2, fc1, fc2), (keys, values) in zip(self.layers, cache.layers, strict=True):
            q, k, v = _apply(qkv, F.layer_norm(x, *ln1)).view(shape).unbind(1)  # [B, H, D / H] each
            keys.select(2, p).copy_(k)  # keys, values [B, H, capacity, D / H]
            values.select(2, p).copy_(v)
            attended = F.scaled_dot_product_attention(
                q.unsqueeze(2), keys.narrow(2, 0, p + 1), values.narrow(2, 0, p + 1)
            )
            x = x + _apply(proj, attended.view(b, width))
            x = x + _apply(fc2, F.gelu(_apply(fc1, F.layer_norm(x, *ln2))))
        return F.layer_norm(x, *self.norm)


def _norm(norm: nn.LayerNorm) -> tuple:
    return norm.normalized_shape, norm.weight.detach(), norm.bias.detach(), norm.eps


def _product(linear: Linear) -> Product:
    """The weight split in row blocks, one per thread on the CPU (``Linear``'s few-row product)."""
    weight, bias = linear.weight.detach(), linear.bias
    blocks = torch.get_num_threads() if weight.device.type == "cpu" else 1
    if blocks < 2 or weight.shape[0] % blocks:
        blocks = 1
    rows = weight.shape[0] // blocks
    return weight.view(blocks, rows, weight.shape[1]), None if bias is None else bias.detach().view(
        blocks, rows, 1
    )


def _apply(product: Product, x: torch.Tensor) -> torch.Tensor:
    """``x [B, in] -> [B, out]``."""
    weight, bias = product
    columns = x.T.expand(weight.shape[0], -1, -1)  # [blocks, in, B]
    out = torch.bmm(weight, columns) if bias is None else torch.baddbmm(bias, weight, columns)
    if x.shape[0] == 1:
        return out.view(1, -1)
    # a copy: as a view its last dimension would not be contiguous, and attention would then take
    # PyTorch's slow unfused path (which scales every cached key at every step)
    return out.permute(2, 0, 1).contiguous().view(x.shape[0], -1)
