"""A small optical-flow estimate for telling moving from static pixels (the DIV metric's mask, Fig. 6):
Lucas–Kanade (1981) on a two-level pyramid, in torch, no learnt weights.

For grey frames I0, I1: the spatial gradients of their mean, the temporal difference, and per pixel
the least-squares flow over a 7x7 window,

    [sum Ix^2   sum IxIy] [u]     [sum IxIt]
    [sum IxIy   sum Iy^2] [v] = - [sum IyIt],

set to 0 where the system is ill-conditioned (flat regions). The coarse level (half resolution)
reaches motions of a few pixels, the fine level refines after warping. It is a motion detector for
masks, not a flow benchmark: error grows past ~4 pixels per frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WINDOW = 7  # pixels of the least-squares window
MIN_DETERMINANT = 1e-6  # below: no reliable motion (flat or edge-only region)


def _grey(frames: torch.Tensor) -> torch.Tensor:
    """uint8 or float frames ``[N, H, W, 3]`` -> float64 grey ``[N, 1, H, W]`` in [0, 1]."""
    x = frames.to(torch.float64)
    if not frames.is_floating_point():
        x = x / 255
    return (x @ torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64, device=x.device)).unsqueeze(1)


def _lucas_kanade(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Flow ``[N, 2, H, W]`` (dx, dy in pixels) from grey ``a`` to ``b``, one level."""
    mean = (a + b) / 2
    ix = (
        F.pad(mean, (1, 1, 0, 0), mode="replicate")[..., 2:]
        - F.pad(mean, (1, 1, 0, 0), mode="replicate")[..., :-2]
    ) / 2
    iy = (
        F.pad(mean, (0, 0, 1, 1), mode="replicate")[..., 2:, :]
        - F.pad(mean, (0, 0, 1, 1), mode="replicate")[..., :-2, :]
    ) / 2
    it = b - a
    box = lambda x: F.avg_pool2d(F.pad(x, (WINDOW // 2,) * 4, mode="replicate"), WINDOW, 1)  # noqa: E731
    sxx, sxy, syy, sxt, syt = box(ix * ix), box(ix * iy), box(iy * iy), box(ix * it), box(iy * it)
    det = sxx * syy - sxy * sxy
    ok = det > MIN_DETERMINANT
    safe = torch.where(ok, det, torch.ones_like(det))
    u = torch.where(ok, -(syy * sxt - sxy * syt) / safe, torch.zeros_like(det))
    v = torch.where(ok, -(sxx * syt - sxy * sxt) / safe, torch.zeros_like(det))
    return torch.cat([u, v], dim=1)


def _warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` at ``x + flow`` (bilinear, border values outside)."""
    h, w = image.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=image.dtype), torch.arange(w, dtype=image.dtype), indexing="ij"
    )
    gx = (xs.to(image.device) + flow[:, 0]) / max(w - 1, 1) * 2 - 1
    gy = (ys.to(image.device) + flow[:, 1]) / max(h - 1, 1) * 2 - 1
    return F.grid_sample(image, torch.stack([gx, gy], -1), align_corners=True, padding_mode="border")


def estimate_flow(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Flow ``[N, 2, H, W]`` from frames ``first`` to ``second`` (``[N, H, W, 3]``, uint8 or float in [0, 1])."""
    a, b = _grey(first), _grey(second)
    coarse = _lucas_kanade(F.avg_pool2d(a, 2), F.avg_pool2d(b, 2))
    flow = F.interpolate(coarse, size=a.shape[-2:], mode="bilinear", align_corners=False) * 2
    return flow + _lucas_kanade(a, _warp(b, flow))


def moving_mask(video: torch.Tensor, fraction: float = 0.2) -> torch.Tensor:
    """``[T - 1, H, W]`` bool: pixels whose flow magnitude from frame t to t + 1 is at least ``fraction``
    of that frame pair's largest (the DIV protocol: static regions are below 20% of the maximum)."""
    magnitude = estimate_flow(video[:-1], video[1:]).norm(dim=1)  # [T-1, H, W]
    peak = magnitude.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]
    return magnitude >= fraction * peak
