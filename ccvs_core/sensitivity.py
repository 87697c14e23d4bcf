"""Does a pipeline read its conditions? ``ccvs evaluate --task sensitivity``, for any plugin on any dataset.

Two checks, each condition on its own (the others absent when the pipeline was trained with condition
dropout, else each video's own):

- likelihood (cheap, needs no measure of the condition): the bits per frame of each test video's first
  window of frame tokens, teacher-forced, given the video's own condition, another video's (the next
  test video whose tokens of that condition differ) and none (absent tokens; dropout-trained pipelines
  only). A model that reads its condition ranks own < other, and own < none.
- generation (where the condition declares ``measures``): videos generated with the video's own
  input and with the other video's input, both scored by ``measures`` against the real video, that is
  against the own input. ``Condition.measure_errors`` says how a measure reads as an error (a
  distance as it is; an SSIM or an IoU as 1 - x); the ratio own / other of the errors is below 1 when
  the condition steers the video.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from ccvs_core.conditioning import absent_tokens
from ccvs_core.conditions import Condition
from ccvs_core.data.clips import Clip
from ccvs_core.generation import SamplingConfig
from ccvs_core.measures import measure_errors, own_measures
from ccvs_core.metrics.intervals import confidence_interval
from ccvs_core.models.transformer import frame_token_nll
from ccvs_core.slots import Timeline, check_tokens

BATCH = 8  # windows scored at once


def other_index(tokens: Sequence[Mapping[str, torch.Tensor]], v: int) -> int | None:
    """The next video after ``v`` (cyclically) whose tokens differ from video ``v``'s, or None."""
    for step in range(1, len(tokens)):
        u = (v + step) % len(tokens)
        if any(not torch.equal(tokens[u][k], tokens[v][k]) for k in tokens[v]):
            return u
    return None


def condition_window_tokens(condition: Condition, clip: Clip, timeline: Timeline) -> dict[str, torch.Tensor]:
    """``condition``'s tokens of ``clip`` (the window's frames) as generation reads a user's input."""
    raw = condition.tokenize(condition.from_sample(clip), timeline)
    return check_tokens(condition.name, condition.slots(), raw, 1, timeline.num_frames)


@torch.no_grad()
def window_bits(
    pipeline, frames: torch.Tensor, conditions: Mapping[str, Mapping[str, torch.Tensor]]
) -> torch.Tensor:
    """Bits per frame of frame tokens ``[B, N, h, w]`` under ``conditions`` (``{name: {slot: [B, ...]}}``,
    every condition of the pipeline): ``[B]``, the frame tokens' summed -log2 p over the window / N."""
    model = pipeline.transformer
    layout = model.layout
    device = model.head.weight.device
    sequence = layout.join(
        frames.to(device), {c: {s: t.to(device) for s, t in v.items()} for c, v in conditions.items()}
    )
    b, n = frames.shape[:2]
    gaps = {c: torch.full((b,), n - 1, device=device) for c in layout.target_conditions()}
    logits = model(sequence, gaps=layout.gap_ids(gaps, b) if gaps else None)
    return frame_token_nll(logits, sequence, layout).sum(1) / math.log(2) / n


def _stack(rows: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.cat([r[k] for r in rows]) for k in rows[0]}


def likelihood_check(
    pipeline, clips: Sequence[Clip], progress: Callable[[str, int, int], None] | None = None
) -> dict[str, Any]:
    """``{condition: {"own" | "other" | "none": interval of bits per frame}}`` over ``clips`` (windows of
    the transformer's length); "none" only for a pipeline trained with condition dropout."""
    conditions = pipeline.conditions
    layout = pipeline.transformer.layout
    n = layout.num_frames
    timeline = Timeline(n, pipeline.fps)
    device = pipeline.transformer.head.weight.device
    frames = torch.stack([pipeline.context_tokens(c.frames[:n]) for c in clips]).cpu()  # [V, N, h, w]
    own = {
        name: [condition_window_tokens(cond, c, timeline) for c in clips] for name, cond in conditions.items()
    }
    alone = pipeline.condition_dropout > 0
    absent = {
        name: absent_tokens(slots, n, 1, "cpu")
        for name, slots in {**{k: c.slots() for k, c in conditions.items()}, **pipeline.missing}.items()
    }

    def tokens_for(v: int, name: str, choice: str) -> dict[str, dict[str, torch.Tensor]]:
        out = {}
        for other_name in absent:
            if other_name == name:
                if choice == "none":
                    out[other_name] = absent[other_name]
                else:
                    out[other_name] = own[name][v if choice == "own" else partners[name][v]]
            elif alone or other_name not in own:
                out[other_name] = absent[other_name]
            else:
                out[other_name] = own[other_name][v]
        return out

    partners = {name: [other_index(tokens, v) for v in range(len(clips))] for name, tokens in own.items()}
    choices = ("own", "other", "none") if alone else ("own", "other")
    usable_of = {name: [v for v, u in enumerate(partners[name]) if u is not None] for name in conditions}
    total, done = sum(len(choices) * len(usable) for usable in usable_of.values()), 0
    result: dict[str, Any] = {}
    for name in conditions:
        usable = usable_of[name]
        if not usable:  # e.g. one class in every test video: nothing to compare, said in the result
            result[name] = {"videos": 0, "note": "same in every video"}
            continue
        bits: dict[str, list[float]] = {c: [] for c in choices}
        for choice in choices:
            for first in range(0, len(usable), BATCH):
                batch = usable[first : first + BATCH]
                rows = [tokens_for(v, name, choice) for v in batch]
                joined = {c: _stack([r[c] for r in rows]) for c in rows[0]}
                bits[choice] += window_bits(pipeline, frames[batch].to(device), joined).tolist()
                done += len(batch)
                if progress:
                    progress(f"likelihood: {name} ({choice})", done, total)
        entry = {c: attrs.asdict(confidence_interval(values)) for c, values in bits.items()}
        entry["other_minus_own"] = attrs.asdict(confidence_interval(np.subtract(bits["other"], bits["own"])))
        if alone:
            entry["none_minus_own"] = attrs.asdict(
                confidence_interval(np.subtract(bits["none"], bits["own"]))
            )
        entry["videos"] = len(usable)
        result[name] = entry
    return result


def generation_check(
    pipeline,
    clips: Sequence[Clip],
    frames: int,
    context: int,
    samples: int,
    seed: int,
    sampling: SamplingConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """``{condition: {measure: {"own", "other": interval of the error, "ratio": own / other}}}`` for the
    conditions that declare measures as errors."""
    result: dict[str, Any] = {}
    timeline = Timeline(frames, pipeline.fps)
    total = len(clips) * sum(bool(c.measure_errors) for c in pipeline.conditions.values())
    done = 0
    for name, condition in pipeline.conditions.items():
        if not condition.measure_errors:
            continue
        raws = [condition.from_sample(c) for c in clips]
        tokens = [condition_window_tokens(condition, c, timeline) for c in clips]
        errors: dict[str, dict[str, list[float]]] = {}
        for v, clip in enumerate(clips):
            u = other_index(tokens, v)
            if u is None:
                continue
            given = [{**_others(pipeline, clip, name), name: raws[w]} for w in (v, u)]
            videos = pipeline.generate_batch(
                [clip.frames[:context].numpy() if context else None] * 2, given, frames, samples,
                seeds=[seed + 1009 * v] * 2, sampling=sampling,
            )  # fmt: skip
            real = clip.frames.numpy()
            for choice, video in zip(("own", "other"), videos, strict=True):
                scores = own_measures(condition, video, real, context)
                for key, error in measure_errors(condition, scores).items():
                    errors.setdefault(key, {"own": [], "other": []})[choice].append(error)
            done += 1
            if progress:
                progress(f"generation: {name}", done, total)
        entry = {}
        for key, pair in errors.items():
            own, other = np.mean(pair["own"]), np.mean(pair["other"])
            entry[key] = {
                "own": attrs.asdict(confidence_interval(pair["own"])),
                "other": attrs.asdict(confidence_interval(pair["other"])),
                "ratio": float(own / other) if other > 0 else None,
            }
        result[name] = entry
    return result


def _others(pipeline, clip: Clip, name: str) -> dict[str, Any]:
    """The other conditions' inputs when ``name`` is checked: none for a dropout-trained pipeline (the
    condition alone), else the video's own."""
    if pipeline.condition_dropout > 0:
        return {}
    return {n: c.from_sample(clip) for n, c in pipeline.conditions.items() if n != name}
