"""An example third-party condition: the speed of the video's tracked point (e.g. a gripper), in pixels
per frame, as one video-level token.

Training reads it from each video's state.json (the mean distance the point moves per frame);
``ccvs generate --cond speed:2.5`` asks for 2.5 pixels per frame. The speed is quantized into ``bins``
equal bins over [0, max_speed]; faster speeds fall in the last bin.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import torch

from ccvs_core import Clip, Condition, Config, InputError, Slot, Timeline, at_least, greater_than


@attrs.frozen(kw_only=True)
class SpeedConfig(Config):
    """Saved with the pipeline, so generation quantizes exactly as training did."""

    bins: int = attrs.field(default=8, validator=at_least(2))
    max_speed: float = attrs.field(default=4.0, validator=greater_than(0))  # pixels per frame


class SpeedCondition(Condition):
    config_class = SpeedConfig

    def slots(self) -> list[Slot]:
        return [Slot("video", 1, self.config.bins)]

    def parse(self, spec: str, options: Any) -> float:
        try:
            speed = float(spec)
        except ValueError:
            raise InputError(f"--cond speed:{spec}", "must be a number (pixels per frame)") from None
        if not math.isfinite(speed) or speed < 0:
            raise InputError(f"--cond speed:{spec}", "must be a finite number >= 0")
        return speed

    def from_sample(self, clip: Clip) -> float:
        if clip.state is None or len(clip.state) < 2:
            raise InputError(
                f"video '{clip.video_id}'", "needs a state.json of 2 frames or more for its speed"
            )
        return float((clip.state[1:] - clip.state[:-1]).norm(dim=-1).mean())

    def tokenize(self, raw: float, timeline: Timeline) -> dict[str, torch.Tensor]:
        bin_ = min(self.config.bins - 1, int(raw / self.config.max_speed * self.config.bins))
        return {"tokens": torch.tensor([[bin_]])}
