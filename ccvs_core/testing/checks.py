"""The conformance kit's checks: each fails with a ``ConformanceError`` whose message starts with its name."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import torch

from ccvs_core.condition_values import read_condition
from ccvs_core.conditioning import build_layout, condition_context
from ccvs_core.conditions import Condition, check_spec, get_condition
from ccvs_core.config import TransformerConfig
from ccvs_core.data.clips import Clip
from ccvs_core.errors import CCVSError, InputError, PluginError
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.models.transformer import VideoTransformer, next_token_loss, slot_token_loss
from ccvs_core.sequence import SequenceLayout
from ccvs_core.slots import Timeline, check_tokens
from ccvs_core.testing.world import World, generate_cli
from ccvs_core.training.conditions import build_conditions, video_tokens

if TYPE_CHECKING:
    from ccvs_core.testing import ConditionConformance

CHECKS = (
    "spec", "from_sample", "tokenize", "alignment", "training_tokens", "layout", "transformer",
    "save_load", "generate_cli", "parse_errors", "measures",
)  # fmt: skip


class ConformanceError(AssertionError):
    """A condition breaks the spec; the message starts with the check's name."""


@attrs.frozen(eq=False)
class Prepared:
    """A condition built and prepared as the stage-2 trainer does, with the raw input of one clip."""

    condition: Condition
    clip: Clip
    raw: Any
    autoencoder: FlowAutoencoder
    world: World


# the smallest transformer that runs every check: one block, a window of 3 frames
TINY_TRANSFORMER = TransformerConfig(layers=1, heads=2, width=16, window=3)


def fail(check: str, problem: str) -> ConformanceError:
    return ConformanceError(f"{check}: {problem}")


def guarded(check: str, action: Callable[[], Any]) -> Any:
    """Run ``action``; any failure becomes a ConformanceError naming ``check``."""
    try:
        return action()
    except ConformanceError:
        raise
    except Exception as err:
        raise fail(check, f"{type(err).__name__}: {err}") from err


def check_registered(suite: ConditionConformance) -> None:
    """spec: registered, the spec's checks pass, the config survives JSON and rebuilds the same slots."""
    if not suite.condition:
        raise fail("spec", "set the class attribute `condition` to the condition's registered name")
    cls = guarded("spec", lambda: get_condition(suite.condition))
    slots = guarded("spec", lambda: check_spec(suite.condition, cls, "?"))
    config = cls().config
    again = guarded("spec", lambda: cls.config_class.from_dict(config.to_dict()))
    if again != config or cls(again).slots() != slots:
        raise fail("spec", "its default config does not survive a JSON round trip with the same slots")


def prepare(suite: ConditionConformance, world: World, folder: Path) -> Prepared:
    """from_sample: the condition prepared on the tiny world (as stage 2 does) and a clip's raw input."""
    folder.mkdir(parents=True, exist_ok=True)
    autoencoder = world.load_autoencoder()
    clips = world.clips()
    context = condition_context(autoencoder, world.frame_size, clips[0].fps)
    values = guarded("prepare", lambda: suite.prepare_config(world, folder))
    conditions = guarded(
        "prepare",
        lambda: build_conditions({suite.condition: values}, clips.videos, context, torch.device("cpu")),
    )
    condition = conditions[suite.condition]
    clip = clips.video_clip(0)
    raw = guarded("from_sample", lambda: suite.raw_input(condition, clip))
    return Prepared(condition, clip, raw, autoencoder, world)


def check_from_sample(suite: ConditionConformance, p: Prepared) -> None:
    """from_sample: the raw input of every training clip of the tiny world (a whole video was read by
    ``prepare``), tokenized over the clip."""
    for clip in p.world.clips():
        raw = guarded("from_sample", lambda clip=clip: suite.raw_input(p.condition, clip))
        _tokens(p, Timeline(len(clip.frame_indices), clip.fps), "from_sample", raw)


def _tokens(p: Prepared, timeline: Timeline, check: str, raw: Any = None) -> dict[str, torch.Tensor]:
    """The condition's checked tokens of ``raw`` (default: the prepared clip's) over ``timeline``."""
    c, raw = p.condition, p.raw if raw is None else raw
    return guarded(
        check, lambda: check_tokens(c.name, c.slots(), c.tokenize(raw, timeline), 1, timeline.num_frames)
    )


def check_tokenize(p: Prepared) -> None:
    """tokenize: one LongTensor per declared slot, of its shape, inside its vocabulary."""
    _tokens(p, Timeline(len(p.clip.frame_indices), p.clip.fps), "tokenize")


def check_alignment(p: Prepared) -> None:
    """alignment: a window starting at frame s gets the frames s.. of the whole video's frame tokens; its
    video-level tokens are the same for every window."""
    count = len(p.clip.frame_indices)
    whole = _tokens(p, Timeline(count, p.clip.fps), "alignment")
    for start in range(1, count - 1):
        window = _tokens(p, Timeline(count - start - 1, p.clip.fps, start), "alignment")
        for slot in p.condition.slots():
            expected = whole[slot.name]
            if slot.level == "frame":
                expected = expected[:, start : count - 1]
            if slot.level != "target" and not torch.equal(window[slot.name], expected):
                raise fail(
                    "alignment",
                    f"slot '{slot.name}': the window starting at frame {start} is not frames {start}.. of the "
                    "whole video's tokens" if slot.level == "frame" else f"slot '{slot.name}' changes with the window",
                )  # fmt: skip


def check_training_tokens(p: Prepared) -> None:
    """training_tokens: what stage 2 caches of a whole video (frame and target slots ``[T, length]``)."""
    tokens = guarded("training_tokens", lambda: video_tokens(p.condition, p.clip))
    count = len(p.clip.frame_indices)
    for slot in p.condition.slots():
        shape = (slot.length,) if slot.level == "video" else (count, slot.length)
        if tuple(tokens[slot.name].shape) != shape:
            raise fail(
                "training_tokens", f"slot '{slot.name}' is {tuple(tokens[slot.name].shape)}, not {shape}"
            )


def _layout(p: Prepared) -> SequenceLayout:
    slots = {p.condition.name: p.condition.slots()}
    return build_layout(p.autoencoder.config, TINY_TRANSFORMER, p.world.frame_size, slots)


def _transformer(p: Prepared, layout: SequenceLayout) -> VideoTransformer:
    torch.manual_seed(0)
    return VideoTransformer(TINY_TRANSFORMER, layout, p.autoencoder.config.codebook_size)


def _window(p: Prepared, layout: SequenceLayout, check: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    n = layout.num_frames
    tokens = _tokens(p, Timeline(n, p.clip.fps), check)
    frames = torch.randint(
        0,
        p.autoencoder.config.codebook_size,
        (1, n, *layout.grid),
        generator=torch.Generator().manual_seed(0),
    )
    sequence = guarded(check, lambda: layout.join(frames, {p.condition.name: tokens}))
    gaps = layout.gap_ids({c: torch.tensor([n - 1]) for c in layout.target_conditions()}, 1)
    return sequence, gaps


def check_layout(p: Prepared) -> None:
    """layout: the slots lay out, and a sequence splits back into the tokens that made it."""
    layout = guarded("layout", lambda: _layout(p))
    sequence, _ = _window(p, layout, "layout")
    _, conditions = layout.split(sequence)
    tokens = _tokens(p, Timeline(layout.num_frames, p.clip.fps), "layout")
    for name, value in tokens.items():
        if not torch.equal(conditions[p.condition.name][name], value):
            raise fail("layout", f"slot '{name}' does not come back out of the sequence it went into")


def check_transformer(p: Prepared) -> None:
    """transformer: a tiny transformer's forward and backward with the condition are finite, and its
    tokens' embedding rows get gradients."""
    layout = guarded("transformer", lambda: _layout(p))
    model = guarded("transformer", lambda: _transformer(p, layout))
    sequence, gaps = _window(p, layout, "transformer")
    hidden = model(sequence, gaps=gaps, hidden=True)
    loss = next_token_loss(model.head(hidden), sequence, layout) + slot_token_loss(model, hidden, sequence)
    loss.backward()
    if not torch.isfinite(loss) or any(
        not torch.isfinite(q.grad).all() for q in model.parameters() if q.grad is not None
    ):
        raise fail("transformer", f"the loss or a gradient is not finite (loss {float(loss)})")
    for s in layout.condition_slots:
        if model.token.weight.grad[model.token_rows(s.id)].abs().sum() == 0:
            raise fail("transformer", f"slot '{s.name}': its embedding rows get no gradient")


def _parts(p: Prepared):
    from ccvs_core.pipeline_format import PipelineParts

    transformer = _transformer(p, _layout(p))
    return PipelineParts(
        p.autoencoder, transformer, p.world.frame_size, {p.condition.name: p.condition}, p.clip.fps
    )


def check_save_load(p: Prepared, folder: Path) -> Path:
    """save_load: a pipeline with the condition saves and loads back to the same config, weights and tokens."""
    from ccvs_core.pipeline import CCVSPipeline

    parts = _parts(p)
    guarded("save_load", lambda: parts.save_pretrained(folder / "pipeline"))
    loaded = guarded("save_load", lambda: CCVSPipeline.from_pretrained(folder / "pipeline"))
    condition = loaded.conditions[p.condition.name]
    if condition.config != p.condition.config:
        raise fail("save_load", f"the config came back as {condition.config}, not {p.condition.config}")
    ours, theirs = parts.state_dict(), loaded.state_dict()
    if ours.keys() != theirs.keys() or any(not torch.equal(ours[k], theirs[k]) for k in ours):
        raise fail("save_load", "the weights did not come back the same")
    timeline = Timeline(len(p.clip.frame_indices), p.clip.fps)
    before = _tokens(p, timeline, "save_load")
    after = guarded("save_load", lambda: condition.tokenize(p.raw, timeline))
    if any(not torch.equal(before[k], after[k]) for k in before):
        raise fail("save_load", "the loaded condition makes other tokens of the same input")
    return folder / "pipeline"


def check_generate_cli(suite: ConditionConformance, p: Prepared, folder: Path) -> None:
    """generate_cli: ``ccvs generate --cond NAME:VALUE`` makes a video (and, for a predicted condition,
    also without the value)."""
    from ccvs_core.media import read_frames

    pipeline = check_save_load(p, folder)
    value = guarded("generate_cli", lambda: suite.cli_value(p.world, folder))
    out, frames, cond = folder / "out.gif", suite.frames_to_generate, f"{p.condition.name}:{value}"
    code = generate_cli(pipeline, out, [cond], frames=frames)
    if code != 0 or not out.is_file():
        raise fail("generate_cli", f"ccvs generate --cond {cond} --frames {frames} exited with {code}")
    if read_frames(out).shape[0] != frames:
        raise fail("generate_cli", f"{out} does not have {frames} frames")
    if all(s.predicted for s in p.condition.slots()):
        code = generate_cli(pipeline, folder / "predicted.gif", [], frames=frames)
        if code != 0 or not (folder / f"predicted-{p.condition.name}.png").is_file():
            raise fail("generate_cli", "without its value, the predicted condition's picture was not written")


def check_parse_errors(suite: ConditionConformance, p: Prepared) -> None:
    """parse_errors: every one of ``bad_values`` is refused with the toolkit's own error (an InputError
    or another CCVSError), never a bare exception; so is an unknown option."""
    if not suite.bad_values:
        raise fail("parse_errors", "give bad_values: --cond VALUEs that the condition's parse must refuse")
    for value in suite.bad_values:
        try:
            read_condition(p.condition, value)
        except CCVSError as err:
            cause = err.__cause__  # the core's PluginError around a bare exception of parse()
            if isinstance(err, PluginError) and cause is not None and not isinstance(cause, CCVSError):
                raise fail(
                    "parse_errors", f"'{value}' raised {type(cause).__name__}: {cause}, not a ccvs error"
                ) from err
            continue
        except Exception as err:
            raise fail(
                "parse_errors", f"'{value}' raised {type(err).__name__}: {err}, not a ccvs error"
            ) from err
        raise fail("parse_errors", f"'{value}' was accepted")
    try:
        read_condition(p.condition, "x,no_such_option=1")
    except InputError as err:
        if "no_such_option" not in str(err):
            raise fail("parse_errors", f"an unknown option is refused without being named: {err}") from err
    else:
        raise fail("parse_errors", "an unknown option (,no_such_option=1) was accepted")


def check_measures(p: Prepared) -> None:
    """measures: the condition's own scores of a video are finite numbers (if it has any), and include
    every score ``measure_errors`` names."""
    if type(p.condition).measures is Condition.measures:
        return
    real = p.clip.frames.numpy()
    samples = np.stack([real, real[::-1].copy()])
    scores = guarded("measures", lambda: p.condition.measures(samples, real, 1))
    if not isinstance(scores, dict) or not scores:
        raise fail("measures", f"must return a non-empty {{name: number}}, got {scores!r}")
    for key, value in scores.items():
        if (
            not isinstance(key, str)
            or isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise fail("measures", f"'{key}' is {value!r}, not a finite number")
    unknown = sorted(set(type(p.condition).measure_errors) - set(scores))
    if unknown:
        raise fail("measures", f"measure_errors names {unknown}, which measures() does not return")
