"""The point-to-point measures of Table D4 (after P2PVG, Wang et al. 2019), over S samples per test
video, with 95% confidence intervals over the test videos:

- Best: the best sample's mean SSIM to the real video (over the synthesized frames);
- Div.: the variance across samples of each synthesized frame's SSIM, averaged over frames;
- C.P.C. (control point consistency): SSIM of the last synthesized frame to the real end frame, averaged
  over samples.

And the mean and standard deviation over R evaluation runs, as the paper reports.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from ccvs_core.errors import InputError
from ccvs_core.metrics.ssim import ssim


@attrs.frozen
class Interval:
    """A mean with its 95% confidence half-width (normal approximation: 1.96 sd / sqrt(n))."""

    mean: float
    half_width: float
    count: int

    def __str__(self) -> str:
        return f"{self.mean:.3f}±{self.half_width:.3f}"


def confidence_interval(values) -> Interval:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise InputError("values", "need a non-empty list of numbers")
    spread = values.std(ddof=1) if len(values) > 1 else 0.0
    return Interval(float(values.mean()), float(1.96 * spread / math.sqrt(len(values))), len(values))


def video_point_to_point(samples, real, context: int) -> dict[str, float]:
    """Best, Div. and C.P.C. of one test video: ``samples`` ``[S, T, H, W, 3]`` against ``real``
    ``[T, H, W, 3]`` (same dtype); the first ``context`` frames are given, not scored."""
    samples, real = np.asarray(samples), np.asarray(real)
    if samples.ndim != 5 or samples.shape[1:] != real.shape:
        raise InputError("samples", f"must be [S, *{real.shape}], got {samples.shape}")
    if not 0 <= context < real.shape[0]:
        raise InputError(
            "context", f"must leave frames to score (0 <= context < {real.shape[0]}), got {context}"
        )
    scores = np.asarray(
        ssim(samples[:, context:], np.broadcast_to(real[context:], samples[:, context:].shape))
    )
    return {
        "best": float(scores.mean(1).max()),
        "div": float(scores.var(0).mean()),
        "cpc": float(scores[:, -1].mean()),
    }


def point_to_point(per_video: list[dict[str, float]]) -> dict[str, Interval]:
    """The Table D4 measures over test videos (``video_point_to_point`` of each), with 95% intervals."""
    return {key: confidence_interval([v[key] for v in per_video]) for key in ("best", "div", "cpc")}


def over_runs(values) -> tuple[float, float]:
    """Mean and standard deviation (ddof 1; 0 for one run) of a metric over R evaluation runs."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise InputError("runs", "need at least one run's value")
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
