"""ccvs condition 'endframe': end frame (point-to-point) (Table 3 "+ end frame", Table D4, Fig. D4).

This release declares the condition's config and token slots only; ``parse``, ``from_sample`` and
``tokenize`` are not built yet and raise a PluginError that says so (see README.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from ccvs_core import Condition, Config, PluginError, Slot, Timeline, at_least

__version__ = "0.1.0"


@attrs.frozen(kw_only=True)
class EndFrameConfig(Config):
    grid: tuple[int, int] = attrs.field(
        default=(8, 8), validator=at_least(1)
    )  # frame token grid of the pipeline's autoencoder (paper: 8 x 8)
    codebook_size: int = attrs.field(
        default=1024, validator=at_least(2)
    )  # frame codebook size of the pipeline (paper: 1024)


class EndFrameCondition(Condition):
    """End frame (point-to-point): one video-level, timed slot `tokens`: the end frame's 8 x 8 = 64 codebook tokens; its time index is the gap between the current window and the target time."""

    config_class = EndFrameConfig

    def slots(self) -> list[Slot]:
        return [
            Slot("video", self.config.grid[0] * self.config.grid[1], self.config.codebook_size, timed=True)
        ]

    def parse(self, spec: str) -> Any:
        raise self._not_built("parse")

    def from_sample(self, sample: Any) -> Any:
        raise self._not_built("from_sample")

    def tokenize(self, raw: Any, timeline: Timeline) -> dict:
        raise self._not_built("tokenize")

    def _not_built(self, method: str) -> PluginError:
        return PluginError(
            "condition 'endframe'",
            f"{method} is not built yet in ccvs-plugin-endframe {__version__}: this release declares the "
            "slots only; the tokenizer comes with the conditioning-plugins issue",
        )
