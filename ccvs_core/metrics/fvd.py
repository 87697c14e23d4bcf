"""FVD, the Frechet video distance (Unterthiner et al. 2018; paper Sec. 4): the Frechet distance between
Gaussians fitted to I3D features of real and synthetic videos, with its protocol written down."""

from __future__ import annotations

import os
from typing import Any

from ccvs_core.errors import InputError
from ccvs_core.metrics.frechet import frechet_distance_of
from ccvs_core.metrics.i3d import FRAME_SIZE, I3D, i3d_features
from ccvs_core.weights import file_sha256


def fvd(real, synthetic, model: I3D) -> float:
    """FVD of uint8 videos ``[N, T, H, W, 3]`` (RGB) against ``[M, T, H, W, 3]``, N, M >= 2."""
    real_features, fake_features = i3d_features(model, real), i3d_features(model, synthetic)
    if len(real_features) < 2 or len(fake_features) < 2:
        raise InputError("videos", "FVD needs at least 2 real and 2 synthetic videos")
    return frechet_distance_of(real_features, fake_features)


def fvd_protocol(
    weights: str | os.PathLike | None, real_count: int, fake_count: int, frames: int
) -> dict[str, Any]:
    """What an FVD number depends on, to be stored next to it."""
    return {
        "features": "I3D Kinetics-400 logits, mean over time (400-d)",
        "weights": str(weights) if weights else "random (untrained): not comparable to any published FVD",
        "weights_sha256": file_sha256(weights) if weights else None,
        "input": f"RGB frames resized to {FRAME_SIZE}x{FRAME_SIZE} (bilinear, aspect not kept), scaled to [-1, 1]",
        "colour_order": "RGB",
        "frames_per_video": frames,
        "real_videos": real_count,
        "synthetic_videos": fake_count,
        "covariance": "sample (ddof 1), float64; matrix square roots by eigendecomposition",
    }
