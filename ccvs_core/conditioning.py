"""Conditions meet the models: the context a pipeline lends its conditions, the sequence layout of a
set of conditions, and their tokens for generation. Used by the pipeline and the stage-2 trainer alike
(below both), so that training needs nothing of ``pipeline.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ccvs_core.conditions import Condition, ConditionContext, unknown_condition
from ccvs_core.config import AutoencoderConfig, TransformerConfig
from ccvs_core.data.clips import FrameGeometry
from ccvs_core.errors import InputError
from ccvs_core.models.autoencoder import FlowAutoencoder, frames_to_tensor
from ccvs_core.sequence import SequenceLayout, absent_token
from ccvs_core.slots import Slot, Timeline, check_tokens, token_shape


def resize_frames(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 ``[T, H, W, 3]`` of any size -> float ``[T, 3, h, w]`` in [-1, 1] at ``size`` (cover, centre crop)."""
    if tuple(frames.shape[1:3]) == tuple(size):
        return frames_to_tensor(frames)
    geometry = FrameGeometry.cover(tuple(frames.shape[1:3]), tuple(size))
    return frames_to_tensor(torch.stack([torch.from_numpy(geometry.apply(f.numpy()).copy()) for f in frames]))


def condition_context(
    autoencoder: FlowAutoencoder, frame_size: tuple[int, int], fps: float
) -> ConditionContext:
    """What the conditions get from a pipeline made of ``autoencoder`` at ``frame_size``."""

    @torch.no_grad()
    def tokenize_frames(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        frames = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.array(frames))
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise InputError(
                "frames", f"must be uint8 [T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}"
            )
        device = next(autoencoder.parameters()).device
        return autoencoder.tokenize(resize_frames(frames, frame_size).to(device))

    grid = autoencoder.config.token_grid(frame_size)
    return ConditionContext(tokenize_frames, tuple(frame_size), fps, grid, autoencoder.config.codebook_size)


def build_layout(
    autoencoder: AutoencoderConfig,
    transformer: TransformerConfig,
    frame_size: tuple[int, int],
    slots: Mapping[str, Sequence[Slot]],
) -> SequenceLayout:
    """The layout of one window of ``transformer.window`` frames with ``{condition: its slots}``."""
    pairs = [(name, slot) for name, condition_slots in slots.items() for slot in condition_slots]
    return SequenceLayout(autoencoder.token_grid(frame_size), transformer.window, pairs)


def slots_of(conditions: Mapping[str, Condition]) -> dict[str, list[Slot]]:
    return {name: condition.slots() for name, condition in conditions.items()}


def predicted_conditions(conditions: Mapping[str, Condition], given: Sequence[str]) -> list[str]:
    """The conditions left out of ``given`` that the model can predict (all their slots are predicted)."""
    return [
        name
        for name, condition in conditions.items()
        if name not in given and all(s.predicted for s in condition.slots())
    ]


def generation_tokens(
    conditions: Mapping[str, Condition],
    raw: Mapping[str, Any],
    num_frames: int,
    fps: float,
    samples: int,
    device: torch.device | str,
    may_leave_out: bool = False,
    unavailable: Mapping[str, Sequence[Slot]] | None = None,
) -> tuple[dict, dict, list[str]]:
    """What generation reads of the conditions' raw inputs ``raw`` (what ``parse`` returns) for a
    video of ``num_frames`` frames at ``fps``:
    (``{condition: {slot: tokens}}`` repeated for every sample, ``{condition: target frame [S]}`` of
    the conditions with a target slot — the video's last frame —, the conditions left out to be
    predicted; their tokens are zeros that generation overwrites). With ``may_leave_out`` (a model
    trained with condition dropout) a condition not given and not predicted holds its absent tokens, as
    do the ``unavailable`` ones (``{name: slots}`` of conditions whose plugin is not installed)."""
    unknown = sorted(set(raw) - set(conditions))
    if unknown:
        raise unknown_condition(unknown[0], list(conditions))
    predict = predicted_conditions(conditions, list(raw))
    missing = sorted(set(conditions) - set(raw) - set(predict))
    if missing and not may_leave_out:
        raise InputError(
            f"--cond {missing[0]}",
            "this pipeline needs it: give --cond NAME:VALUE (it was trained without --condition-dropout)",
        )
    timeline = Timeline(num_frames=num_frames, fps=fps)
    out, targets = {}, {}
    for name in predict:
        out[name] = {
            s.name: torch.zeros(samples, num_frames, s.length, dtype=torch.long, device=device)
            for s in conditions[name].slots()
        }
    left_out = {**{name: conditions[name].slots() for name in missing}, **(unavailable or {})}
    for name, slots in left_out.items():
        out[name] = absent_tokens(slots, num_frames, samples, device)
    for name, condition in conditions.items():
        if name in predict or name in missing:
            continue
        tokens = check_tokens(name, condition.slots(), condition.tokenize(raw[name], timeline), 1, num_frames)
        out[name] = {slot: value.to(device).repeat_interleave(samples, 0) for slot, value in tokens.items()}
    # a target slot aims at the video's last frame, given or absent
    all_slots = {**{name: c.slots() for name, c in conditions.items()}, **left_out}
    for name, slots in all_slots.items():
        if any(s.level == "target" for s in slots):
            targets[name] = torch.full((samples,), num_frames - 1, device=device)
    return out, targets, predict


def absent_tokens(slots: Sequence[Slot], num_frames: int, samples: int, device) -> dict[str, torch.Tensor]:
    """The tokens of a condition left out: every slot holds its absent token."""
    return {
        s.name: torch.full(
            token_shape(s, samples, num_frames), absent_token(s), dtype=torch.long, device=device
        )
        for s in slots
    }
