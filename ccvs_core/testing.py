"""The conformance kit: the checks every condition plugin runs in its own tests, with one class.

In a plugin's tests (pytest)::

    from ccvs_core.testing import ConditionConformance

    class TestSpeed(ConditionConformance):
        condition = "speed"                       # the registered name
        config = {"bins": 4}                      # a tiny config (fields of its config class)
        bad_values = ["fast", "-1"]               # --cond speed:VALUE values parse must refuse

        def cli_value(self, world, folder):       # a --cond speed:VALUE that works
            return "2.5"

Each check is a test named after it (``test_spec``, ``test_from_sample``, ``test_tokenize``,
``test_alignment``, ``test_training_tokens``, ``test_layout``, ``test_transformer``,
``test_save_load``, ``test_generate_cli``, ``test_parse_errors``, ``test_measures``) and fails with a
``ConformanceError`` whose message starts with the check's name. They run on a tiny toyworld and a
tiny autoencoder built once per test session (``tiny_world``). A plugin whose input is not in
toyworld, or that needs a trained helper model, overrides ``raw_input`` (its input from a clip) and
``prepare_config`` (e.g. train its helper and return the config that points at it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
import torch

from ccvs_core import conditions as condition_registry
from ccvs_core.condition_values import read_condition
from ccvs_core.conditioning import build_layout, condition_context
from ccvs_core.conditions import Condition, check_spec, get_condition
from ccvs_core.config import TransformerConfig
from ccvs_core.data.clips import Clip, ClipDataset
from ccvs_core.errors import CCVSError, InputError
from ccvs_core.models.autoencoder import FlowAutoencoder
from ccvs_core.models.io import load_autoencoder
from ccvs_core.models.transformer import VideoTransformer, next_token_loss, slot_token_loss
from ccvs_core.sequence import SequenceLayout
from ccvs_core.slots import Timeline, check_tokens
from ccvs_core.training.conditions import build_conditions, video_tokens
from ccvs_core.weights import load_json

WORLD_VIDEOS, WORLD_FRAMES, WORLD_SIZE = 10, 6, 32
CHECKS = (
    "spec", "from_sample", "tokenize", "alignment", "training_tokens", "layout", "transformer",
    "save_load", "generate_cli", "parse_errors", "measures",
)  # fmt: skip


class ConformanceError(AssertionError):
    """A condition breaks the spec; the message starts with the check's name."""


@attrs.frozen(eq=False)
class World:
    """A tiny toyworld (``data``), a tiny autoencoder trained two steps on it (``autoencoder``, its
    exported folder), and the clips of its training videos at the autoencoder's frame size."""

    data: Path
    autoencoder: Path
    frame_size: tuple[int, int]

    def clips(self, split: str | None = "train", frames: int = WORLD_FRAMES) -> ClipDataset:
        return ClipDataset(self.data, num_frames=frames, size=self.frame_size, split=split, crop="first")

    def load_autoencoder(self) -> FlowAutoencoder:
        return load_autoencoder(self.autoencoder).requires_grad_(False).eval()

    def stage2_argv(self) -> list:
        """``ccvs train transformer --data ... --autoencoder ... --preset tiny`` on this world (add --out)."""
        return [
            "train",
            "transformer",
            "--data",
            self.data,
            "--autoencoder",
            self.autoencoder,
            "--preset",
            "tiny",
        ]

    def first_frame(self, split: str = "test") -> Path:
        """The first frame file of the first video of ``split``."""
        return first_frame(self.data, split)


def first_frame(data: Path, split: str = "test") -> Path:
    """The first frame file of the first video of ``split`` in the toyworld folder ``data``."""
    videos = sorted(p for p in Path(data).iterdir() if p.is_dir())
    video = next(v for v in videos if load_json(v / "meta.json")["split"] == split)
    return video / "frames" / "000000.png"


_worlds: dict[Path, World] = {}


def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The session's tiny world (built on first use: 10 videos of 6 frames, an autoencoder trained 2 steps)."""
    base = tmp_path_factory.getbasetemp()
    if base not in _worlds:
        from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
        from ccvs_core.training.autoencoder import AutoencoderTrainer, plan_run

        root = tmp_path_factory.mktemp("ccvs-world")
        data = root / "toyworld"
        config = ToyworldConfig(videos=WORLD_VIDEOS, frames=WORLD_FRAMES, size=WORLD_SIZE, seed=5)
        generate_toyworld(config, data, workers=1, progress=False)
        run = plan_run(root / "ae", "tiny", {"training": {"steps": 2}})
        AutoencoderTrainer(run, data, root / "ae", progress=False).fit()
        autoencoder = root / "ae" / "autoencoder"
        frame_size = tuple(load_json(autoencoder / "config.json")["frame_size"])  # what it was trained at
        _worlds[base] = World(data, autoencoder, frame_size)
    return _worlds[base]


def run_cli(argv: list[str]) -> int:
    """``ccvs ARGV`` in this process; its exit code (errors are printed, as the command prints them)."""
    from ccvs_core.cli import main

    return main([str(a) for a in argv])


def train_pipeline(world: World, out: Path, conditions: list[str], steps: int = 1) -> Path:
    """``ccvs train transformer --preset tiny --steps STEPS --cond ...`` on ``world``; the pipeline folder."""
    argv = [*world.stage2_argv(), "--out", out, "--steps", steps, "--device", "cpu"]
    for condition in conditions:
        argv += ["--cond", condition]
    code = run_cli(argv)
    if code != 0:
        raise AssertionError(f"ccvs {' '.join(map(str, argv))} exited with {code}")
    return out / "pipeline"


def generate_cli(
    pipeline: Path, out: Path, conditions: list[str], *, context: Path | None = None, frames: int = 5,
    samples: int = 2, seed: int = 0,
) -> int:  # fmt: skip
    """``ccvs generate`` with ``--cond`` flags; its exit code (0: the frames are in ``out``)."""
    argv = ["generate", "--model", pipeline, "--frames", frames, "--samples", samples, "--seed", seed]
    argv += ["--out", out, "--device", "cpu"] + (["--context", context] if context is not None else [])
    for condition in conditions:
        argv += ["--cond", condition]
    return run_cli(argv)


@attrs.frozen(eq=False)
class Prepared:
    """A condition built and prepared as the stage-2 trainer does, with the raw input of one clip."""

    condition: Condition
    clip: Clip
    raw: Any
    autoencoder: FlowAutoencoder
    world: World


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


class ConditionConformance:
    """Subclass it in a plugin's tests (module docstring); set ``condition`` and implement ``cli_value``."""

    condition: str = ""
    config: dict[str, Any] = {}  # noqa: RUF012 - a class-level declaration the subclass replaces
    bad_values: list[str] = []  # noqa: RUF012
    frames_to_generate = 3

    # what the plugin tells the kit -------------------------------------------------------------------

    def prepare_config(self, world: World, folder: Path) -> dict[str, Any]:
        """The config values to train with (default: ``config``); build helper models in ``folder``."""
        return dict(self.config)

    def raw_input(self, condition: Condition, clip: Clip) -> Any:
        """The condition's raw input for a toyworld clip (default: ``from_sample``)."""
        return condition.from_sample(clip)

    def cli_value(self, world: World, folder: Path) -> str:
        """A VALUE that ``--cond NAME:VALUE`` accepts (write any file it needs in ``folder``)."""
        raise NotImplementedError("a ConditionConformance subclass must implement cli_value()")

    # fixtures -----------------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def world(cls, tmp_path_factory) -> World:
        return tiny_world(tmp_path_factory)

    @pytest.fixture(scope="class")
    @classmethod
    def prepared(cls, world, tmp_path_factory) -> Prepared:
        return prepare(cls(), world, tmp_path_factory.mktemp(f"conformance-{cls.condition}"))

    # the checks ---------------------------------------------------------------------------------------

    def test_spec(self):
        check_registered(self)

    def test_from_sample(self, prepared):
        check_from_sample(self, prepared)

    def test_tokenize(self, prepared):
        check_tokenize(prepared)

    def test_alignment(self, prepared):
        check_alignment(prepared)

    def test_training_tokens(self, prepared):
        check_training_tokens(prepared)

    def test_layout(self, prepared):
        check_layout(prepared)

    def test_transformer(self, prepared):
        check_transformer(prepared)

    def test_save_load(self, prepared, tmp_path):
        check_save_load(prepared, tmp_path)

    def test_generate_cli(self, prepared, tmp_path):
        check_generate_cli(self, prepared, tmp_path)

    def test_parse_errors(self, prepared):
        check_parse_errors(self, prepared)

    def test_measures(self, prepared):
        check_measures(prepared)


def run_checks(suite: ConditionConformance, world: World, folder: Path) -> dict[str, str]:
    """Every check of ``suite`` in order: ``{check: its failure}`` (empty when the condition conforms)."""
    failures: dict[str, str] = {}
    try:
        check_registered(suite)
        prepared = prepare(suite, world, folder / "prepare")
    except ConformanceError as err:
        return {str(err).split(":")[0]: str(err)}
    checks = {
        "from_sample": lambda: check_from_sample(suite, prepared),
        "tokenize": lambda: check_tokenize(prepared),
        "alignment": lambda: check_alignment(prepared),
        "training_tokens": lambda: check_training_tokens(prepared),
        "layout": lambda: check_layout(prepared),
        "transformer": lambda: check_transformer(prepared),
        "save_load": lambda: check_save_load(prepared, folder / "save_load"),
        "generate_cli": lambda: check_generate_cli(suite, prepared, folder / "generate_cli"),
        "parse_errors": lambda: check_parse_errors(suite, prepared),
        "measures": lambda: check_measures(prepared),
    }
    for name, check in checks.items():
        try:
            check()
        except ConformanceError as err:
            failures[name] = str(err)
    return failures


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
    entry = next(e for e in condition_registry.registry.entries() if e.name == suite.condition and e.ok)
    if entry.cls is not cls:
        raise fail("spec", f"'{suite.condition}' is registered as {entry.cls}, not {cls}")


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
        timeline = Timeline(len(clip.frame_indices), clip.fps)
        guarded(
            "from_sample",
            lambda raw=raw, timeline=timeline: check_tokens(
                p.condition.name,
                p.condition.slots(),
                p.condition.tokenize(raw, timeline),
                1,
                timeline.num_frames,
            ),
        )


def _tokens(p: Prepared, timeline: Timeline, check: str) -> dict[str, torch.Tensor]:
    c = p.condition
    return guarded(
        check, lambda: check_tokens(c.name, c.slots(), c.tokenize(p.raw, timeline), 1, timeline.num_frames)
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


def _layout(p: Prepared, window: int = 3) -> SequenceLayout:
    grid = p.autoencoder.config.token_grid(p.world.frame_size)
    return SequenceLayout(grid, window, [(p.condition.name, s) for s in p.condition.slots()])


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
    torch.manual_seed(0)
    config = TransformerConfig(layers=1, heads=2, width=16, window=layout.num_frames)
    model = guarded(
        "transformer", lambda: VideoTransformer(config, layout, p.autoencoder.config.codebook_size)
    )
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

    layout = build_layout(p.autoencoder.config, TransformerConfig(layers=1, heads=2, width=16, window=3),
                          p.world.frame_size, {p.condition.name: p.condition.slots()})  # fmt: skip
    torch.manual_seed(0)
    transformer = VideoTransformer(
        TransformerConfig(layers=1, heads=2, width=16, window=3), layout, p.autoencoder.config.codebook_size
    )
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
    from ccvs_core.cli import main
    from ccvs_core.media import read_frames

    pipeline = check_save_load(p, folder)
    value = guarded("generate_cli", lambda: suite.cli_value(p.world, folder))
    out = folder / "out.gif"
    argv = ["generate", "--model", str(pipeline), "--frames", str(suite.frames_to_generate), "--samples", "2",
            "--device", "cpu", "--out", str(out), "--cond", f"{p.condition.name}:{value}"]  # fmt: skip
    code = main(argv)
    if code != 0 or not out.is_file():
        raise fail("generate_cli", f"ccvs {' '.join(argv)} exited with {code}")
    if read_frames(out).shape[0] != suite.frames_to_generate:
        raise fail("generate_cli", f"{out} does not have {suite.frames_to_generate} frames")
    if all(s.predicted for s in p.condition.slots()):
        code = main([*argv[:-2], "--out", str(folder / "predicted.gif")])
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
        except CCVSError:
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
    """measures: the condition's own scores of a video are finite numbers (if it has any)."""
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
