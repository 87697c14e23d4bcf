"""DIV (paper Fig. 6): how different K videos synthesized from the same input are — the mean pixel-wise
distance over all pairs of samples, on whole frames and on moving parts only.

Distance: mean absolute difference of RGB values in [0, 1] (the mean over channels, then over the
pixels counted). Moving parts: frame t + 1's pixels where any sample moves, i.e. where the flow
magnitude from frame t to t + 1 (``motion.estimate_flow``, Lucas–Kanade) is at least 20% of that
sample's maximum for that frame pair; frame 0 is not counted there (it has no flow into it).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ccvs_core.errors import InputError
from ccvs_core.metrics.motion import moving_mask


def _as_float(videos) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(videos)) if not isinstance(videos, torch.Tensor) else videos
    if x.ndim != 5 or x.shape[-1] != 3 or x.shape[0] < 2:
        raise InputError("videos", f"need K >= 2 samples [K, T, H, W, 3], got shape {tuple(x.shape)}")
    return x.to(torch.float64) / 255 if not x.is_floating_point() else x.to(torch.float64)


def diversity(videos, fraction: float = 0.2) -> dict[str, float]:
    """``{"whole": DIV on whole frames, "moving": DIV on moving parts}`` of K samples ``[K, T, H, W, 3]``
    (uint8, or float in [0, 1]) of one input; 0 for identical samples."""
    x = _as_float(videos)
    masks = torch.stack([moving_mask(video, fraction) for video in x]).any(0)  # [T-1, H, W]
    whole, moving = [], []
    for i, j in itertools.combinations(range(x.shape[0]), 2):
        distance = (x[i] - x[j]).abs().mean(-1)  # [T, H, W]
        whole.append(distance.mean())
        if masks.any():
            moving.append(distance[1:][masks].mean())
    return {
        "whole": float(torch.stack(whole).mean()),
        "moving": float(torch.stack(moving).mean()) if moving else 0.0,
    }
