"""An example third-party condition at the frame level: how bright each frame is, one token per frame.

Training reads it from each clip's frames (the mean of their pixels, 0 black to 1 white);
``ccvs generate --cond brightness:0.8`` asks for frames of brightness 0.8 throughout, and
``--cond brightness:ramp.json`` (``{"fps": 10, "brightness": [0.2, 0.4, ...]}``) for a curve over time,
resampled to the video's frames. The brightness is quantized into ``bins`` equal bins over [0, 1].
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ccvs_core import Clip, Condition, Config, InputError, Slot, Timeline, at_least


@attrs.frozen(kw_only=True)
class BrightnessConfig(Config):
    bins: int = attrs.field(default=8, validator=at_least(2))


@attrs.frozen(eq=False)
class Brightness:
    """Brightness values (0 to 1) sampled at ``fps`` (one value: the same for every frame)."""

    values: np.ndarray
    fps: float

    def at(self, times: np.ndarray) -> np.ndarray:
        own = np.arange(len(self.values)) / self.fps
        return np.interp(times, own, self.values)  # held at the ends


class BrightnessCondition(Condition):
    config_class = BrightnessConfig

    def slots(self) -> list[Slot]:
        return [Slot("frame", 1, self.config.bins)]

    def parse(self, value: str, options: Any) -> Brightness:
        """A number in [0, 1], or a JSON file ``{"fps": F, "brightness": [b0, b1, ...]}``."""
        subject = f"--cond brightness:{value}"
        try:
            return Brightness(np.array([_level(float(value), subject)]), 1.0)
        except ValueError:
            pass
        path = Path(value)
        if not path.is_file():
            raise InputError(subject, "must be a number in [0, 1] or a JSON file of brightness values")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(path, f"is not valid JSON ({err})") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("brightness"), list)
            or not data["brightness"]
        ):
            raise InputError(path, 'must be {"fps": F, "brightness": [b0, b1, ...]}')
        fps = data.get("fps")
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0:
            raise InputError(path, f"'fps' must be a positive number, got {fps!r}")
        values = [_level(v, str(path)) for v in data["brightness"]]
        return Brightness(np.array(values), float(fps))

    def from_sample(self, clip: Clip) -> Brightness:
        values = clip.frames.float().mean(dim=(1, 2, 3)) / 255.0  # [T]
        return Brightness(values.numpy().astype(np.float64), clip.fps)

    def tokenize(self, raw: Brightness, timeline: Timeline) -> dict[str, torch.Tensor]:
        levels = raw.at(timeline.frame_times())  # [T], aligned to the timeline's own frames
        bins = np.minimum(self.config.bins - 1, np.floor(levels * self.config.bins)).astype(np.int64)
        return {"tokens": torch.from_numpy(bins)[None, :, None]}  # [1, T, 1]


def _level(value: Any, subject: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(subject, f"brightness must be a number, got {value!r}")
    if not 0 <= value <= 1:
        raise InputError(subject, f"brightness must be in [0, 1], got {value}")
    return float(value)
