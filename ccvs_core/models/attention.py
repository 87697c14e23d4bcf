"""Causal multi-head attention behind one function, with three backends (DESIGN.md §1):

- "sdpa": ``torch.nn.functional.scaled_dot_product_attention`` (fused, memory-efficient; the default);
- "xformers": ``xformers.ops.memory_efficient_attention`` (CUDA only; chosen by "auto" on CUDA when
  xformers is installed);
- "naive": an explicit softmax(q k^T / sqrt(d)) v, the reference the others are tested against.

Queries may be fewer than keys (incremental decoding with a key/value cache): the causal mask is then
aligned to the bottom right, so query i of Lq sits at absolute position Lk - Lq + i and sees keys
0 .. Lk - Lq + i.
"""

from __future__ import annotations

import functools
import importlib.util
import math

import torch
import torch.nn.functional as F

from ccvs_core.config import ATTENTION_BACKENDS as BACKENDS
from ccvs_core.config import AttentionBackend as Backend
from ccvs_core.errors import ConfigError


@functools.cache
def xformers_available() -> bool:
    return importlib.util.find_spec("xformers") is not None


def resolve_backend(backend: Backend, device: torch.device) -> str:
    """The backend "auto" means on ``device``; an unusable explicit choice is a ConfigError."""
    if backend not in BACKENDS:
        raise ConfigError("attention backend", f"must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "xformers" if device.type == "cuda" and xformers_available() else "sdpa"
    if backend == "xformers" and (device.type != "cuda" or not xformers_available()):
        why = (
            "it is not installed (pip install ccvs-core[xformers])"
            if not xformers_available()
            else "it runs on CUDA only"
        )
        raise ConfigError("attention backend", f"'xformers' cannot be used on {device.type}: {why}")
    return backend


def causal_mask(lq: int, lk: int, device: torch.device) -> torch.Tensor:
    """``[Lq, Lk]`` bool, True where query i (absolute position Lk - Lq + i) may see key j."""
    return torch.ones(lq, lk, dtype=torch.bool, device=device).tril(diagonal=lk - lq)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: Backend = "auto") -> torch.Tensor:
    """Causal attention. q ``[B, H, Lq, D]``, k and v ``[B, H, Lk, D]`` with Lq <= Lk -> ``[B, H, Lq, D]``."""
    lq, lk = q.shape[-2], k.shape[-2]
    if lq > lk:
        raise ValueError(f"more queries ({lq}) than keys ({lk})")
    name = resolve_backend(backend, q.device)
    if name == "naive":
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # [B, H, Lq, Lk]
        scores = scores.masked_fill(~causal_mask(lq, lk, q.device), float("-inf"))
        return torch.softmax(scores.float(), dim=-1).to(v.dtype) @ v
    if name == "xformers":
        import xformers.ops as xops  # optional dependency, CUDA only

        bias = xops.fmha.attn_bias.LowerTriangularFromBottomRightMask()
        out = xops.memory_efficient_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_bias=bias
        )
        return out.transpose(1, 2)
    if lq == lk:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    if lq == 1:  # one new query sees every cached key
        return F.scaled_dot_product_attention(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(lq, lk, q.device))
