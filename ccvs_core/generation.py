"""Sampling frame tokens with the transformer (Sec. 3.3 "Inference"): top-k / top-p / temperature /
greedy, one ``torch.Generator`` per sample, a key/value cache, and a temporal sliding window so that a
model trained on N frames makes any number of frames.

Within a window, condition tokens (video-level and each frame's frame-level slots) and the frame
tokens of the given context frames are read, never sampled; every other frame token is sampled
left to right. When the video is longer than the window, the window slides by one frame: its oldest
frame leaves, the video-level slots stay, and the next frame's condition tokens come in. A target slot
(the end frame) is embedded with its gap to the window's first frame, so its embedding changes as the
window approaches the target (Appendix E). With no context frame at all, the first frame is sampled
too, after the start token (class-only synthesis, Fig. D6).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence

import attrs
import torch
import torch.nn.functional as F

from ccvs_core.config_base import Config, at_least, greater_than, in_range
from ccvs_core.errors import InputError
from ccvs_core.models.transformer import VideoTransformer
from ccvs_core.sequence import absent_token

ConditionTokens = Mapping[str, Mapping[str, torch.Tensor]]


@attrs.frozen(kw_only=True)
class SamplingConfig(Config):
    """How the next frame token is drawn (paper default: top-k with k = 100)."""

    temperature: float = attrs.field(default=1.0, validator=greater_than(0))
    top_k: int | None = attrs.field(default=100, validator=at_least(1))  # None: no top-k filter
    top_p: float | None = attrs.field(default=None, validator=in_range(0, 1))  # nucleus; None: off
    greedy: bool = False  # always the most likely token (ignores the rest)
    # classifier-free guidance: frame token logits = uncond + guidance (cond - uncond), the unconditional
    # branch holding every condition's absent tokens (a model trained with condition dropout); 1: off
    guidance: float = attrs.field(default=1.0, validator=at_least(0))


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Keep the ``top_k`` best logits and the smallest set whose probability reaches ``top_p``; -inf elsewhere."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        ordered, order = logits.sort(dim=-1, descending=True)
        cumulative = ordered.softmax(-1).cumsum(-1)
        drop = cumulative - ordered.softmax(-1) >= top_p  # already past top_p before this token
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def sample_tokens(
    logits: torch.Tensor, config: SamplingConfig, generators: Sequence[torch.Generator]
) -> torch.Tensor:
    """One token per row of ``logits [B, V]``, row i drawn with ``generators[i]`` (so a sample does not
    depend on the other samples of its batch): the token ``torch.multinomial(probs[i], 1,
    generator=generators[i])`` draws, found for all rows at once."""
    if config.greedy:
        return logits.argmax(-1)
    logits = logits.float()
    if config.temperature != 1.0:
        logits = logits / config.temperature
    probs = filter_logits(logits, config.top_k, config.top_p).softmax(-1)
    probs = probs.cpu()  # torch.Generator draws on the CPU: the same seed gives the same tokens anywhere
    if math.isnan(probs.sum().item()):  # softmax gives NaN (never infinity) from broken scores
        raise ValueError("the model's scores hold NaN or infinity: its weights or inputs are broken")
    # torch.multinomial draws one sample as argmax(p / q), q ~ Exp(1) from the generator: the same
    # draws, one generator per row, and one division and argmax for the batch
    noise = torch.empty_like(probs)
    for row, generator in zip(noise, generators, strict=True):
        row.exponential_(generator=generator)
    return (probs / noise).argmax(-1).to(logits.device)


def _window_sequence(
    model: VideoTransformer, frames: torch.Tensor, conditions: ConditionTokens, first: int, known: int
) -> torch.Tensor:
    """The window of frames ``first .. first + N`` as a token sequence (unknown frame tokens are 0)."""
    layout = model.layout
    n = layout.num_frames
    window_frames = frames.new_zeros(frames.shape[0], n, *layout.grid)
    have = max(0, min(known, first + n) - first)
    window_frames[:, :have] = frames[:, first : first + have]
    # a video shorter than the window: frame slots are padded past its end (positions after every
    # token that is sampled, so they never reach one through causal attention)
    window_conditions = {
        c: {
            name: value
            if value.ndim == 2
            else F.pad(value[:, first : first + n], (0, 0, 0, n - min(n, value.shape[1] - first)))
            for name, value in slots.items()
        }
        for c, slots in conditions.items()
    }
    return layout.join(window_frames, window_conditions)


def _with_unconditional(layout, conditions: ConditionTokens) -> dict[str, dict[str, torch.Tensor]]:
    """``conditions`` for 2B samples: the B given, then B in which every condition holds its absent tokens."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    for s in layout.condition_slots:
        value = conditions[s.condition][s.name]
        out.setdefault(s.condition, {})[s.name] = torch.cat(
            [value, torch.full_like(value, absent_token(s.slot))]
        )
    return out


@torch.no_grad()
def generate_frame_tokens(
    model: VideoTransformer,
    context: torch.Tensor,
    conditions: ConditionTokens,
    num_frames: int,
    sampling: SamplingConfig,
    generators: Sequence[torch.Generator],
    on_frame: Callable[[int, torch.Tensor], None] | None = None,
    targets: Mapping[str, torch.Tensor] | None = None,
    predict: Collection[str] = (),
) -> torch.Tensor:
    """Frame tokens ``[B, num_frames, h, w]``: the given ``context [B, m, h, w]`` (m >= 0 frames), then
    sampled ones. ``conditions``: ``{condition: {slot: tokens}}`` with frame-level slots covering all
    ``num_frames`` frames (``[B, num_frames, length]``) and video-level ones ``[B, length]``.
    ``targets``: ``{condition: frame index [B]}`` for the conditions with a target slot.
    ``predict``: conditions whose predicted slots are sampled, not read (Fig. D2), for every frame
    (the context frames' too, before their given tokens): the sampled tokens are written into their
    tensors in ``conditions`` (give zero-filled tensors of the right shape).
    ``on_frame(t, tokens [B, h, w])`` is called as each frame is completed (progress, streaming)."""
    layout = model.layout
    b, m = context.shape[:2]
    if m < 0 or m >= num_frames:
        raise InputError("context frames", f"need 0 to {num_frames - 1} context frames, got {m}")
    if len(generators) != b:
        raise InputError("generators", f"need one torch.Generator per sample ({b}), got {len(generators)}")
    for c, slots in conditions.items():
        for name, value in slots.items():
            if value.ndim == 3 and value.shape[1] != num_frames:
                raise InputError(
                    f"condition '{c}.{name}'", f"covers {value.shape[1]} frames, the video has {num_frames}"
                )
    sampled_slots = [s for s in layout.condition_slots if s.condition in predict and s.slot.predicted]
    unknown = sorted(set(predict) - {s.condition for s in sampled_slots})
    if unknown:
        raise InputError(f"condition '{unknown[0]}'", "has no predicted slot: its input must be given")
    frames = context.new_zeros(b, num_frames, *layout.grid)
    frames[:, :m] = context
    hw = layout.tokens_per_frame
    # guidance: the conditioned samples, then the same samples with every condition absent, as one batch
    branches = 2 if sampling.guidance != 1.0 and layout.condition_slots else 1
    both = _with_unconditional(layout, conditions) if branches == 2 else conditions
    cache, cache_first = None, None
    fixed_additive = model.add is not None and not any(s.slot.predicted for s in model.additive)
    # predicted slots are sampled for every frame, the context frames' too (before their given tokens)
    for t in range(0 if sampled_slots else m, num_frames):
        first = max(0, t - layout.num_frames + 1)  # the window that ends with frame t
        sequence = _window_sequence(model, frames.repeat(branches, 1, 1, 1), both, first, known=max(t, m))
        start = layout.frame_tokens_start(t - first)
        end = start + hw
        # what frame t's chunk samples: its predicted condition slots, then (past the context) its frame tokens
        to_sample = sorted(
            [int(p) for s in sampled_slots for p in layout.positions(s.key)[t - first]]
            + (list(range(start, end)) if t >= m else [])
        )
        if cache is None or first != cache_first:  # a new window: positions (and times, gaps) moved
            cache, cache_first = model.new_cache(b * branches), first
            device = sequence.device
            gaps = layout.gap_ids(
                {
                    c: torch.as_tensor(v, device=device).repeat(branches) - first
                    for c, v in (targets or {}).items()
                },
                b * branches,
            )
            # the additive slots hold given condition tokens: what they add is the same all window long
            additive = model.additive_table(sequence) if fixed_additive else None
        position, hidden = cache.length, None
        for p in to_sample:
            if position < p:  # feed what the cache lacks before p: given tokens, the last sampled one
                hidden = model(
                    sequence[:, position:p],
                    position,
                    cache,
                    gaps,
                    hidden=True,
                    window=sequence,
                    additive=additive,
                )[:, -1]
                position = p
            slot_id = int(layout.slot_ids[p])
            logits = model.head_for(slot_id)(hidden)
            if branches == 2:  # frame tokens are guided; a predicted slot is drawn as conditioned
                cond, uncond = logits[:b].float(), logits[b:].float()
                logits = uncond + sampling.guidance * (cond - uncond) if slot_id == 0 else cond
            token = sample_tokens(logits, sampling, generators)
            sequence[:b, p] = token
            if branches == 2 and slot_id == 0:
                sequence[b:, p] = token  # the unconditional branch continues the same video
            if p < to_sample[-1]:  # the chunk's last sampled token is fed with the next chunk
                hidden = model(
                    sequence[:, p : p + 1], p, cache, gaps, hidden=True, window=sequence, additive=additive
                )[:, -1]
                position = p + 1
        for s in sampled_slots:
            condition, name = s.key.split(".", 1)
            conditions[condition][name][:, t] = sequence[:b, layout.positions(s.key)[t - first]]
            if branches == 2:
                both[condition][name][:b, t] = conditions[condition][name][:, t]
        if t >= m:
            frames[:, t] = sequence[:b, start:end].view(b, *layout.grid)
            if on_frame is not None:
                on_frame(t, frames[:, t])
    return frames
