"""One token per sample through the transformer's blocks at inference, with a key/value cache: the
step that sampling runs for every token, as straight-line code.

At the sizes this toolkit trains on a CPU, a step's cost is its number of small operations, not its
arithmetic: ``benchmarks/sampling_floor.py`` measures it. ``Block.forward`` spends about 40 of them a
layer (module calls, reshapes, the cache's bookkeeping, products as in ``Linear``); this step spends
about 20, with ``Linear``'s products (split in row blocks over the threads on the CPU), bit for bit,
and the same attention call. Its rows are contiguous where ``Linear``'s few-row product returns a
strided view for several samples, so there attention takes PyTorch's fused kernel: faster, and
equal to the blocks' result to float rounding (bit for bit at batch 1 and on one thread).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ccvs_core.models import linear
from ccvs_core.models.linear import Linear, few_row_product, row_blocks

# (weight split [blocks, out / blocks, in] or None, weight [out, in], bias [out] or None)
Product = tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]


class DecodeStep:
    """``step(x [B, D], cache) -> [B, D]``: the blocks and the final layer norm for one new position
    (``cache.length``), whose keys and values it stores; the caller advances the cache. Holds views of
    the model's parameters, split for ``threads`` threads: build it again after moving the model or
    changing the thread count (``VideoTransformer`` does)."""

    def __init__(self, blocks: nn.ModuleList, norm: nn.LayerNorm, heads: int):
        self.heads = heads
        self.threads = torch.get_num_threads()
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


def _product(layer: Linear) -> Product:
    """``Linear``'s few-row product: its weight in row blocks (None where ``Linear`` would not split it:
    then the plain product runs), the weight and the bias."""
    weight = layer.weight.detach()
    return row_blocks(weight), weight, None if layer.bias is None else layer.bias.detach()


def _apply(product: Product, x: torch.Tensor) -> torch.Tensor:
    """``x [B, in] -> [B, out]``, the operations of ``Linear.forward`` for these rows, so the same floats
    (folding the bias into the product would round differently from some batch size on)."""
    split, weight, bias = product
    b = x.shape[0]
    if split is None or b > linear.MAX_ROWS:
        return F.linear(x, weight, bias)
    out = few_row_product(split, x)  # [blocks, out / blocks, B]
    if b == 1:
        out = out.view(1, -1)
        return out if bias is None else out + bias
    # rows in a contiguous tensor, and the bias added in the same pass: Linear's result is a strided
    # view, which would send attention down PyTorch's slow unfused path (it scales every cached key)
    rows = x.new_empty(b, *split.shape[:2])
    if bias is None:
        rows.copy_(out.permute(2, 0, 1))
    else:
        torch.add(out.permute(2, 0, 1), bias.view(split.shape[:2]), out=rows)
    return rows.view(b, -1)
