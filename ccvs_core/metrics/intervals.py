"""Spreads of a score: over test videos, a mean with its 95% confidence interval (a condition's own
measures, e.g. the end frame's point-to-point measures of Table D4); over R evaluation runs, the mean
and standard deviation, as the paper reports."""

from __future__ import annotations

import math

import attrs
import numpy as np

from ccvs_core.errors import InputError


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


def over_runs(values) -> tuple[float, float]:
    """Mean and standard deviation (ddof 1; 0 for one run) of a metric over R evaluation runs."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise InputError("runs", "need at least one run's value")
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
