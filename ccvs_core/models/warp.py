"""Differentiable backward warping, the W of the paper (Sec. 3.2).

Flow convention used throughout ccvs: ``[B, 2, H, W]`` in pixels, channel 0 the x (column)
displacement, channel 1 the y (row) displacement, and *backward* semantics::

    W(e, f)(p) = e(p + f(p))

so ``f`` says, for every pixel p of the frame being made, where in the context to fetch it from.
Pixel centres sit at integer coordinates (pixel (row i, col j) is at x = j, y = i).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _sample_grid(flow: torch.Tensor) -> torch.Tensor:
    """Flow ``[B, 2, H, W]`` -> grid_sample grid ``[B, H, W, 2]`` in [-1, 1] (align_corners=False)."""
    _, _, h, w = flow.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device)
    x = xs.view(1, 1, w) + flow[:, 0]  # [B, H, W]
    y = ys.view(1, h, 1) + flow[:, 1]
    # pixel centre j sits at (2j + 1) / W - 1 with align_corners=False
    return torch.stack(((2 * x + 1) / w - 1, (2 * y + 1) / h - 1), dim=-1)


def warp(features: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """W(e, f): bilinear backward warp of ``features [B, C, H, W]`` by ``flow [B, 2, H, W]`` (pixels)."""
    if flow.shape[0] != features.shape[0] or flow.shape[-2:] != features.shape[-2:] or flow.shape[1] != 2:
        raise ValueError(f"flow {tuple(flow.shape)} does not match features {tuple(features.shape)}")
    grid = _sample_grid(flow.to(features.dtype))
    return F.grid_sample(features, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def inside_frame(flow: torch.Tensor) -> torch.Tensor:
    """``[B, 1, H, W]``: 1 where ``p + f(p)`` falls inside the frame (its pixels' extent), else 0."""
    _, _, h, w = flow.shape
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w) + flow[:, 0]
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1) + flow[:, 1]
    inside = (xs >= -0.5) & (xs <= w - 0.5) & (ys >= -0.5) & (ys <= h - 0.5)
    return inside.unsqueeze(1).to(flow.dtype)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample a flow field to ``size`` (h, w), scaling its vectors to the new pixel units."""
    h, w = flow.shape[-2:]
    resized = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    scale = torch.tensor([size[1] / w, size[0] / h], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
    return resized * scale
