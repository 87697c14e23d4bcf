"""ccvs condition 'audio': audio (Sec. 4 AudioSet-Drums, Tables 6 and D3, Appendix A).

This release declares the condition's config and token slots only; ``parse``, ``from_sample`` and
``tokenize`` are not built yet and raise a PluginError that says so (see README.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from ccvs_core import Condition, Config, PluginError, Slot, Timeline, at_least

__version__ = "0.1.0"


@attrs.frozen(kw_only=True)
class AudioConfig(Config):
    tokens_per_frame: int = attrs.field(
        default=16, validator=at_least(1)
    )  # sound tokens per video frame (paper: 16)
    codebook_size: int = attrs.field(
        default=1024, validator=at_least(2)
    )  # entries of the sound codebook (paper: 1024)


class AudioCondition(Condition):
    """Audio: one frame-level slot `tokens`: 16 tokens per frame from a 1024-entry sound codebook."""

    config_class = AudioConfig

    def slots(self) -> list[Slot]:
        return [Slot("frame", self.config.tokens_per_frame, self.config.codebook_size)]

    def parse(self, spec: str) -> Any:
        raise self._not_built("parse")

    def from_sample(self, sample: Any) -> Any:
        raise self._not_built("from_sample")

    def tokenize(self, raw: Any, timeline: Timeline) -> dict:
        raise self._not_built("tokenize")

    def _not_built(self, method: str) -> PluginError:
        return PluginError(
            "condition 'audio'",
            f"{method} is not built yet in ccvs-plugin-audio {__version__}: this release declares the "
            "slots only; the tokenizer comes with the conditioning-plugins issue",
        )
