"""ccvs condition 'state': state / trajectory (Sec. 4 BAIR, Table 3 "+ state").

This release declares the condition's config and token slots only; ``parse``, ``from_sample`` and
``tokenize`` are not built yet and raise a PluginError that says so (see README.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from ccvs_core import Condition, Config, PluginError, Slot, Timeline, at_least

__version__ = "0.1.0"


@attrs.frozen(kw_only=True)
class StateConfig(Config):
    bins: int = attrs.field(
        default=128, validator=at_least(2)
    )  # quantization bins per coordinate (paper: 128)


class StateCondition(Condition):
    """State / trajectory: one frame-level slot `tokens`: 2 tokens per frame (x and y, each quantized to `bins` = 128 bins)."""

    config_class = StateConfig

    def slots(self) -> list[Slot]:
        return [Slot("frame", 2, self.config.bins)]

    def parse(self, spec: str) -> Any:
        raise self._not_built("parse")

    def from_sample(self, sample: Any) -> Any:
        raise self._not_built("from_sample")

    def tokenize(self, raw: Any, timeline: Timeline) -> dict:
        raise self._not_built("tokenize")

    def _not_built(self, method: str) -> PluginError:
        return PluginError(
            "condition 'state'",
            f"{method} is not built yet in ccvs-plugin-state {__version__}: this release declares the "
            "slots only; the tokenizer comes with the conditioning-plugins issue",
        )
