"""Where every token sits in the transformer's sequence (paper Sec. 3.3, Fig. 2; DESIGN.md §3).

For N frames of h*w tokens, video-level and target slots V and frame-level slots F::

    [ S ] [ V1 ... Vk ] [ F1(t=0) ... Fm(t=0) | frame tokens t=0 ] ... [ F1(t=N-1) ... Fm(t=N-1) | frame tokens t=N-1 ]

so the capacity is L = 1 + lv + N * (lf + h*w). S is a learned start token (as in the authors' code):
it lets the transformer predict the first frame's first token when nothing precedes it, so videos
can be made from zero context frames (class-only synthesis, Fig. D6). Slot id 0 is the frame tokens,
1 the start token; the conditions' slots get ids 2, 3, ... in the order they are declared. For every
position the layout gives its slot id, its time index (-1 for the start token, video and target
slots: they have none, or a gap to their target given at run time), and its index within its slot.
Every condition slot's vocabulary has one more value, its "absent" token (``absent_token``): what a
sequence holds where a condition is not given (``drop``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import torch
from einops import rearrange

from ccvs_core.errors import InputError
from ccvs_core.slots import Slot, validate_slots

FRAME_KEY = "frame"
START_KEY = "start"


@attrs.frozen
class PlacedSlot:
    """A slot placed in the layout: its id, its key (``"frame"``, ``"start"`` or
    ``"<condition>.<slot name>"``) and the condition's ``Slot`` (None for the frame and start tokens)."""

    id: int
    key: str
    level: str
    length: int
    slot: Slot | None = None

    @property
    def condition(self) -> str | None:
        return None if self.slot is None else self.key.split(".")[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[-1]


def absent_token(slot: Slot) -> int:
    """The token a condition slot holds where its condition is not given: one past its vocabulary."""
    return slot.vocab_size


class SequenceLayout:
    """Token positions of one window of ``num_frames`` frames with the given condition slots.

    grid: (h, w) frame token grid.
    num_frames: N, frames in the window.
    slots: ``(condition name, Slot)`` pairs in declaration order.
    """

    def __init__(self, grid: tuple[int, int], num_frames: int, slots: Sequence[tuple[str, Slot]] = ()):
        h, w = grid
        for label, value in (("grid height", h), ("grid width", w), ("num_frames", num_frames)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"sequence layout {label}", f"must be an integer >= 1, got {value!r}")
        self.grid = (h, w)
        self.num_frames = num_frames
        self.tokens_per_frame = h * w
        self.slots = [PlacedSlot(0, FRAME_KEY, "frame", h * w), PlacedSlot(1, START_KEY, "video", 1)]
        for condition, slot in slots:
            validate_slots(condition, [slot])
            key = f"{condition}.{slot.name}"
            if any(s.key == key for s in self.slots):
                raise InputError(f"slot '{key}'", "appears twice in the sequence layout")
            self.slots.append(PlacedSlot(len(self.slots), key, slot.level, slot.length, slot))
        self.condition_slots = self.slots[2:]
        before = [s for s in self.slots if s.level != "frame"]  # start, video and target slots
        frame_conditions = [s for s in self.condition_slots if s.level == "frame"]
        self.video_length = sum(s.length for s in before)  # 1 + lv
        self.frame_condition_length = sum(s.length for s in frame_conditions)  # lf
        self.frame_stride = self.frame_condition_length + self.tokens_per_frame  # lf + h*w
        self.length = self.video_length + num_frames * self.frame_stride  # L

        slot_ids = torch.empty(self.length, dtype=torch.long)
        times = torch.empty(self.length, dtype=torch.long)
        indices = torch.empty(self.length, dtype=torch.long)
        self._positions: dict[str, torch.Tensor] = {}
        start = 0
        for s in before:
            self._positions[s.key] = torch.arange(start, start + s.length)
            start += s.length
        chunk_offset = 0
        for s in [*frame_conditions, self.slots[0]]:  # within a frame chunk: conditions, then frame tokens
            frame_starts = self.video_length + self.frame_stride * torch.arange(num_frames)
            self._positions[s.key] = frame_starts[:, None] + chunk_offset + torch.arange(s.length)  # [N, len]
            chunk_offset += s.length
        for s in self.slots:
            pos = self._positions[s.key]
            slot_ids[pos] = s.id
            indices[pos] = torch.arange(s.length).expand_as(pos)
            times[pos] = -1 if s.level != "frame" else torch.arange(num_frames)[:, None].expand_as(pos)
        self.slot_ids = slot_ids  # [L]
        self.times = times  # [L], -1 for the start token, video and target slots
        self.indices = indices  # [L], index within the slot
        self.frame_mask = slot_ids == 0  # [L]: frame tokens, what Eq. 8 scores and sampling draws
        flags = [(s.level == "target", s.slot is not None and s.slot.predicted) for s in self.slots]
        self.target_mask = torch.tensor([flags[i][0] for i in slot_ids.tolist()])  # [L]: target slots
        self.predicted_mask = torch.tensor([flags[i][1] for i in slot_ids.tolist()])  # [L]: predicted slots

    # positions --------------------------------------------------------------------------------------

    def slot(self, key: str) -> PlacedSlot:
        for s in self.slots:
            if s.key == key:
                return s
        raise InputError(
            f"slot '{key}'", f"is not in this layout (slots: {', '.join(s.key for s in self.slots)})"
        )

    def positions(self, key: str) -> torch.Tensor:
        """Positions of a slot: ``[length]`` before the frames, ``[N, length]`` for frame-level slots."""
        self.slot(key)
        return self._positions[key]

    def frame_start(self, t: int) -> int:
        """Position of the first token of frame ``t``'s chunk (its frame-level condition tokens)."""
        return self.video_length + t * self.frame_stride

    def frame_tokens_start(self, t: int) -> int:
        """Position of frame ``t``'s first frame token."""
        return self.frame_start(t) + self.frame_condition_length

    def locate(self, position: int) -> tuple[str, int, int]:
        """(slot key, time index, index within the slot) of one position."""
        if not 0 <= position < self.length:
            raise InputError(f"position {position}", f"is outside the sequence [0, {self.length})")
        return (
            self.slots[int(self.slot_ids[position])].key,
            int(self.times[position]),
            int(self.indices[position]),
        )

    def target_conditions(self) -> list[str]:
        """Names of the conditions that have a target slot (they need a gap at every window)."""
        return sorted({s.condition for s in self.condition_slots if s.level == "target"})

    def gap_ids(self, gaps: Mapping[str, torch.Tensor], batch: int) -> torch.Tensor | None:
        """``[B, L]`` gap of every position of a target slot (0 elsewhere), from ``{condition: gap [B]}``,
        the gap being the target frame minus the window's first frame; None when no slot has a target."""
        targeted = self.target_conditions()
        if not targeted:
            return None
        missing = sorted(set(targeted) - set(gaps))
        if missing:
            raise InputError(f"condition '{missing[0]}'", "has a target slot but no target frame was given")
        device = next(iter(gaps.values())).device
        ids = torch.zeros(batch, self.length, dtype=torch.long, device=device)
        for s in self.condition_slots:
            if s.level == "target":
                gap = torch.as_tensor(gaps[s.condition], device=device).long().reshape(-1)
                ids[:, self._positions[s.key].to(device)] = gap.expand(batch)[:, None]
        return ids

    # assembling and splitting -----------------------------------------------------------------------

    def join(
        self, frames: torch.Tensor, conditions: Mapping[str, Mapping[str, torch.Tensor]]
    ) -> torch.Tensor:
        """Assemble a sequence ``[B, L]`` from frame tokens ``[B, N, h, w]`` and the conditions' tokens
        ``{condition: {slot: tensor}}`` (as ``Condition.tokenize`` returns them)."""
        b = frames.shape[0]
        expected_frames = (b, self.num_frames, *self.grid)
        if tuple(frames.shape) != expected_frames:
            raise InputError("frame tokens", f"must have shape {expected_frames}, got {tuple(frames.shape)}")
        sequence = torch.empty(b, self.length, dtype=torch.long, device=frames.device)
        sequence[:, self._positions[FRAME_KEY]] = rearrange(frames, "b n h w -> b n (h w)").long()
        sequence[:, self._positions[START_KEY]] = 0
        given = {f"{c}.{name}" for c, slots in conditions.items() for name in slots}
        missing = [s.key for s in self.condition_slots if s.key not in given]
        unknown = sorted(given - {s.key for s in self.slots})
        if missing or unknown:
            raise InputError("condition tokens", f"missing slots {missing}, unknown slots {unknown}")
        for s in self.condition_slots:
            pos = self._positions[s.key]
            value = conditions[s.condition][s.name]
            if tuple(value.shape) != (b, *pos.shape):
                raise InputError(
                    f"slot '{s.key}'", f"must have shape {(b, *pos.shape)}, got {tuple(value.shape)}"
                )
            sequence[:, pos] = value.to(sequence.device, torch.long)
        return sequence

    def drop(self, sequence: torch.Tensor, condition: str, rows: torch.Tensor) -> torch.Tensor:
        """``sequence [B, L]`` with the slots of ``condition`` holding their absent tokens in the rows
        where ``rows [B]`` (bool) is set (condition dropout); a new tensor."""
        out = sequence.clone()
        rows = rows.to(sequence.device)
        for s in self.condition_slots:
            if s.condition == condition:
                positions = self._positions[s.key].flatten().to(sequence.device)
                out[rows.nonzero().flatten()[:, None], positions[None, :]] = absent_token(s.slot)
        return out

    def split(self, sequence: torch.Tensor) -> tuple[torch.Tensor, dict[str, dict[str, torch.Tensor]]]:
        """The inverse of ``join``: ``[B, L]`` -> (frame tokens ``[B, N, h, w]``, ``{condition: {slot: tensor}}``)."""
        if sequence.ndim != 2 or sequence.shape[1] != self.length:
            raise InputError(
                "token sequence", f"must have shape [B, {self.length}], got {tuple(sequence.shape)}"
            )
        h, w = self.grid
        frames = rearrange(sequence[:, self._positions[FRAME_KEY]], "b n (h w) -> b n h w", h=h, w=w)
        conditions: dict[str, dict[str, torch.Tensor]] = {}
        for s in self.condition_slots:
            conditions.setdefault(s.condition, {})[s.name] = sequence[:, self._positions[s.key]]
        return frames, conditions

    def __repr__(self) -> str:
        slots = ", ".join(f"{s.key}({s.level}, {s.length})" for s in self.slots)
        return f"SequenceLayout(grid={self.grid}, num_frames={self.num_frames}, length={self.length}, slots=[{slots}])"
