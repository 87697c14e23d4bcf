"""ccvs condition 'class': class (Appendix E "Class-conditioned synthesis", Fig. D5/D6).

This release declares the condition's config and token slots only; ``parse``, ``from_sample`` and
``tokenize`` are not built yet and raise a PluginError that says so (see README.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from ccvs_core import Condition, Config, PluginError, Slot, Timeline

__version__ = "0.1.0"


@attrs.frozen(kw_only=True)
class ClassConfig(Config):
    classes: tuple[str, ...] = ()  # the class names, in token order (stored in the pipeline config)


class ClassCondition(Condition):
    """Class: one video-level slot `tokens`: 1 token whose vocabulary is the class list."""

    config_class = ClassConfig

    def slots(self) -> list[Slot]:
        return [Slot("video", 1, max(1, len(self.config.classes)))]

    def parse(self, spec: str) -> Any:
        raise self._not_built("parse")

    def from_sample(self, sample: Any) -> Any:
        raise self._not_built("from_sample")

    def tokenize(self, raw: Any, timeline: Timeline) -> dict:
        raise self._not_built("tokenize")

    def _not_built(self, method: str) -> PluginError:
        return PluginError(
            "condition 'class'",
            f"{method} is not built yet in ccvs-plugin-class {__version__}: this release declares the "
            "slots only; the tokenizer comes with the conditioning-plugins issue",
        )
