"""ccvs condition 'layout': semantic layout (Appendix E "Layout-conditioned synthesis", Table D2, Fig. D1/D2).

This release declares the condition's config and token slots only; ``parse``, ``from_sample`` and
``tokenize`` are not built yet and raise a PluginError that says so (see README.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from ccvs_core import Condition, Config, PluginError, Slot, Timeline, at_least

__version__ = "0.1.0"


@attrs.frozen(kw_only=True)
class LayoutConfig(Config):
    grid: tuple[int, int] = attrs.field(
        default=(8, 8), validator=at_least(1)
    )  # layout token grid per frame (height, width)
    codebook_size: int = attrs.field(default=256, validator=at_least(2))  # entries of the layout codebook


class LayoutCondition(Condition):
    """Semantic layout: one frame-level slot `tokens`: 8 x 8 = 64 layout tokens per frame from a 256-entry codebook (provisional sizes: the layout tokenizer and its measured comparison come with the plugins issue)."""

    config_class = LayoutConfig

    def slots(self) -> list[Slot]:
        return [Slot("frame", self.config.grid[0] * self.config.grid[1], self.config.codebook_size)]

    def parse(self, spec: str) -> Any:
        raise self._not_built("parse")

    def from_sample(self, sample: Any) -> Any:
        raise self._not_built("from_sample")

    def tokenize(self, raw: Any, timeline: Timeline) -> dict:
        raise self._not_built("tokenize")

    def _not_built(self, method: str) -> PluginError:
        return PluginError(
            "condition 'layout'",
            f"{method} is not built yet in ccvs-plugin-layout {__version__}: this release declares the "
            "slots only; the tokenizer comes with the conditioning-plugins issue",
        )
