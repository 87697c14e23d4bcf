"""What a condition adds to the token sequence (DESIGN.md §3): its ``Slot``s, the ``Timeline`` its tokens
align to, and the checks of both. Below the models and the registry: the sequence layout and the
transformer read slots, and know nothing of the plugins that declare them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

import attrs
import numpy as np
import torch

from ccvs_core.errors import InputError, PluginError

Level = Literal["video", "frame", "target"]
Init = Literal["random", "frame_tokens", "cell", "column", "row"]
LEVELS: tuple[str, ...] = get_args(Level)
INITS: tuple[str, ...] = get_args(Init)
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@attrs.frozen
class Slot:
    """A run of tokens a condition adds to the sequence; where it goes is ``SequenceLayout``'s job.

    level: "video" (once, before the first frame), "frame" (before every frame), or "target" (once,
        before the first frame, aimed at a target frame: the end frame; its position embedding is the
        gap from the window to the target, Appendix E, and in training the core draws the target).
    length: tokens per occurrence.
    vocab_size: distinct token values (the slot gets embedding rows of its own).
    name: key of this slot in the dict ``Condition.tokenize`` returns.
    init: how its embedding rows start. "random"; "frame_tokens": the values are codes of the
        pipeline's codebook (``vocab_size`` = its size) and start as the frame tokens' rows (the end
        frame); "cell" / "column" / "row": value v names frame token v of the token grid (``vocab_size``
        = h * w), or the column / row at ``(v + 0.5) / vocab_size`` of the width / height, and starts
        as that place's position embedding (the state: a model reads it from its first steps).
    predicted: frame level only: the transformer also learns to predict these tokens, and samples
        them when the input is left out (layouts, Fig. D2); the condition implements ``decode``.
    additive: video or frame level: the tokens are also added to the embeddings of the frame tokens
        they condition (every frame, or their own frame), from rows that start at zero (a class, a
        sound: conditions that steer the whole frame).
    """

    level: Level
    length: int
    vocab_size: int
    name: str = "tokens"
    init: Init = "random"
    predicted: bool = False
    additive: bool = False

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, owner: str) -> Slot:
        """A slot of condition ``owner`` as ``to_dict`` wrote it, checked (PluginError otherwise)."""
        fields = {f.name for f in attrs.fields(cls)}
        if not isinstance(data, dict) or set(data) != fields:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise PluginError(f"condition '{owner}'", f"a slot needs the fields {sorted(fields)}, got {got}")
        return validate_slots(owner, [cls(**data)])[0]


def validate_slots(owner: str, slots: Any) -> list[Slot]:
    """Check a condition's declared slots; raise PluginError naming the condition and the slot."""
    subject = f"condition '{owner}'"
    if not isinstance(slots, list | tuple) or not slots:
        raise PluginError(subject, f"slots() must return a non-empty list of Slot, got {slots!r}")
    seen: set[str] = set()
    for i, slot in enumerate(slots):
        if not isinstance(slot, Slot):
            raise PluginError(subject, f"slot {i} is not a Slot: {slot!r}")
        where = f"slot '{slot.name}'"
        if not isinstance(slot.name, str) or not NAME.match(slot.name):
            raise PluginError(subject, f"slot {i} has an invalid name {slot.name!r} (lowercase, digits, _)")
        if slot.name in seen:
            raise PluginError(subject, f"{where} is declared twice")
        seen.add(slot.name)
        if slot.level not in LEVELS:
            raise PluginError(subject, f"{where} has level {slot.level!r}; it must be one of {LEVELS}")
        for field in ("length", "vocab_size"):
            value = getattr(slot, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PluginError(subject, f"{where} has {field}={value!r}; it must be an integer >= 1")
        if slot.init not in INITS:
            raise PluginError(subject, f"{where} has init={slot.init!r}; it must be one of {INITS}")
        for flag in ("predicted", "additive"):
            if not isinstance(getattr(slot, flag), bool):
                raise PluginError(subject, f"{where} has {flag}={getattr(slot, flag)!r}; it must be a bool")
        if slot.predicted and slot.level != "frame":
            raise PluginError(subject, f"{where} is predicted; only frame-level slots can be predicted")
        if slot.additive and slot.level == "target":
            raise PluginError(subject, f"{where} is additive; only video and frame slots can be added")
    return list(slots)


@attrs.frozen
class Timeline:
    """The frames a condition's tokens must align to: ``num_frames`` frames at ``fps``, the first being
    frame ``start_frame`` of the video (sliding windows start later than 0)."""

    num_frames: int
    fps: float
    start_frame: int = 0

    def __attrs_post_init__(self) -> None:
        if self.num_frames < 1 or not self.fps > 0 or self.start_frame < 0:
            raise InputError("timeline", f"needs num_frames >= 1, fps > 0, start_frame >= 0; got {self}")

    def frame_times(self) -> np.ndarray:
        """Time in seconds of each frame, ``[num_frames]``."""
        return (self.start_frame + np.arange(self.num_frames)) / self.fps


def token_shape(slot: Slot, batch: int, num_frames: int) -> tuple[int, ...]:
    """The shape ``tokenize`` returns for ``slot``: frame slots ``[B, T, length]``, the others ``[B, length]``."""
    return (batch, num_frames, slot.length) if slot.level == "frame" else (batch, slot.length)


def check_tokens(
    owner: str, slots: Iterable[Slot], tokens: Any, batch: int, num_frames: int, method: str = "tokenize"
) -> dict[str, torch.Tensor]:
    """Check what ``tokenize`` returned against the declared slots (names, shapes, dtype, value range)."""
    subject = f"condition '{owner}'"
    slots = {s.name: s for s in slots}
    if not isinstance(tokens, Mapping) or set(tokens) != set(slots):
        got = sorted(tokens) if isinstance(tokens, Mapping) else type(tokens).__name__
        raise PluginError(subject, f"{method} must return the slots {sorted(slots)}, got {got}")
    for name, slot in slots.items():
        value, shape = tokens[name], token_shape(slot, batch, num_frames)
        if not isinstance(value, torch.Tensor) or value.dtype != torch.long or tuple(value.shape) != shape:
            desc = f"{value.dtype} {tuple(value.shape)}" if isinstance(value, torch.Tensor) else repr(value)
            raise PluginError(
                subject, f"{method}: slot '{name}' must be a LongTensor of shape {shape}, got {desc}"
            )
        if value.numel() and (value.min() < 0 or value.max() >= slot.vocab_size):
            raise PluginError(subject, f"{method}: slot '{name}' has tokens outside [0, {slot.vocab_size})")
    return dict(tokens)
