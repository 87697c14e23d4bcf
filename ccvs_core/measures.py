"""A condition's own measures (``Condition.measures``), checked, and read as errors for the
sensitivity check (``Condition.measure_errors``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ccvs_core.conditions import Condition
from ccvs_core.errors import PluginError


def own_measures(condition, samples: np.ndarray, real: np.ndarray, context: int) -> dict[str, float]:
    """``condition.measures`` of one test video, checked: names to finite numbers, as ``NAME.KEY``."""
    scores = condition.measures(samples, real, context)
    subject = f"condition '{condition.name}'"
    if not isinstance(scores, dict) or not all(isinstance(k, str) for k in scores):
        raise PluginError(subject, f"measures() must return {{name: number}}, got {type(scores).__name__}")
    out = {}
    for key, value in scores.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.floating)
            or not np.isfinite(value)
        ):
            raise PluginError(subject, f"measures(): '{key}' must be a finite number, got {value!r}")
        out[f"{condition.name}.{key}"] = float(value)
    return out


def measure_errors(condition: Condition, scores: Mapping[str, float]) -> dict[str, float]:
    """The scores ``condition.measure_errors`` names (checked at registration), as errors, lower is
    better: a distance as it is, a similarity (SSIM, IoU) as 1 - x. Keys as ``scores`` has them."""
    kinds = condition.measure_errors
    out = {}
    for key, value in scores.items():
        kind = kinds.get(key.removeprefix(f"{condition.name}."))
        if kind is not None:
            out[key] = value if kind == "distance" else 1.0 - value
    return out
