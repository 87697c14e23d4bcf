"""The conditions of a stage-2 run: built from their configs, prepared on the training videos and the
pipeline (``Condition.prepare``), frozen; and their tokens of a whole training video, which the token
cache stores and training windows are cut from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ccvs_core.conditions import Condition, ConditionContext, check_config, get_condition
from ccvs_core.data.clips import Clip
from ccvs_core.slots import Timeline, check_tokens


def build_conditions(
    configs: Mapping[str, Mapping[str, Any]], videos: list, context: ConditionContext, device: torch.device
) -> dict[str, Condition]:
    """The run's conditions, each prepared on the training videos and the pipeline, and frozen."""
    conditions = {}
    for name, values in configs.items():
        cls = get_condition(name)
        condition = cls(cls.config_class.from_dict(dict(values), source=f"--cond {name}"))
        condition.context = context
        condition.prepare(videos, context)
        check_config(condition)
        conditions[name] = condition.to(device).requires_grad_(False).eval()
    return conditions


def video_tokens(condition: Condition, clip: Clip) -> dict[str, torch.Tensor]:
    """A condition's tokens of a whole training video (``clip``: all its frames): frame slots
    ``[T, length]``, video slots ``[length]``, and target slots ``[T, length]`` whose row e is what
    ``tokenize`` makes of the same video ending at frame e (the window drawn in training reads the row
    of its target)."""
    slots = condition.slots()
    count = len(clip.frame_indices)
    whole = Timeline(count, clip.fps)
    tokens = check_tokens(
        condition.name, slots, condition.tokenize(condition.from_sample(clip), whole), 1, count
    )
    out = {name: value[0] for name, value in tokens.items()}
    targets = [s for s in slots if s.level == "target"]
    if targets:
        rows: dict[str, list[torch.Tensor]] = {s.name: [] for s in targets}
        for end in range(count):
            head = clip.head(end + 1)
            timeline = Timeline(end + 1, clip.fps)
            raw = condition.tokenize(condition.from_sample(head), timeline)
            tokens = check_tokens(condition.name, slots, raw, 1, end + 1)
            for s in targets:
                rows[s.name].append(tokens[s.name][0])
        out.update({name: torch.stack(values) for name, values in rows.items()})
    return out
