"""ccvs condition 'class': one video-level token naming the video's class (Appendix E
"Class-conditioned synthesis", Fig. D5/D6).

Training reads the class from each video's ``meta.json``; the class list (sorted names, the token
order) is learnt from the training videos unless the config gives it, and is saved with the pipeline,
so ``--cond class:walk`` means the same token at generation time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs
import torch

from ccvs_core import Clip, Condition, ConditionContext, Config, InputError, Slot, Timeline, VideoRecord

__version__ = "0.4.0"


@attrs.frozen(kw_only=True)
class ClassConfig(Config):
    classes: tuple[str, ...] = ()  # the class names, in token order (learnt from the training videos)


class ClassCondition(Condition):
    """One video-level slot ``tokens``: 1 token whose vocabulary is the class list. It is additive
    (``Slot.additive``): the class is also added to every frame token's embedding, since it steers
    the whole video (read through attention alone, it was not learnt; benchmarks/control_toyworld.py)."""

    config_class = ClassConfig

    def slots(self) -> list[Slot]:
        return [Slot("video", 1, max(1, len(self.config.classes)), additive=True)]

    def prepare(self, videos: Sequence[VideoRecord], context: ConditionContext) -> None:
        """Learn the class list from the training videos, unless the config gives it."""
        if self.config.classes:
            return
        labels = sorted({v.meta.label for v in videos if v.meta.label is not None})
        if not labels:
            raise InputError(
                "training videos", 'none has a "class" in its meta.json (the class condition needs one)'
            )
        self.config = self.config.replace(classes=tuple(labels))

    def parse(self, spec: str, options: Any) -> str:
        """A class name, or its index in the class list."""
        spec = spec.strip()
        if re.fullmatch(r"[0-9]{1,9}", spec) and self.config.classes:  # ASCII: "²" is a digit to isdigit()
            index = int(spec)
            if index >= len(self.config.classes):
                raise InputError(
                    f"--cond class:{spec}",
                    f"index out of range: there are {len(self.config.classes)} classes ({self._known()})",
                )
            return self.config.classes[index]
        self._index(spec, f"--cond class:{spec}")
        return spec

    def from_sample(self, clip: Clip) -> str:
        if clip.label is None:
            raise InputError(f"video '{clip.video_id}'", 'has no "class" in its meta.json')
        return clip.label

    def tokenize(self, raw: str, timeline: Timeline) -> dict[str, torch.Tensor]:
        return {"tokens": torch.tensor([[self._index(raw, f"class '{raw}'")]])}

    def _index(self, name: Any, subject: str) -> int:
        if not self.config.classes:
            raise InputError(subject, "this class condition has no class list yet (it is learnt in training)")
        if name not in self.config.classes:
            raise InputError(subject, f"unknown class; the known ones are {self._known()}")
        return self.config.classes.index(name)

    def _known(self) -> str:
        return ", ".join(f"{i}: {c}" for i, c in enumerate(self.config.classes))
