"""The one extension point: conditions that turn user input into tokens the transformer reads.

A condition is a ``Condition`` subclass registered under a name, either with the decorator::

    @register_condition("audio")
    class AudioCondition(Condition): ...

or from the ``ccvs.conditions`` entry-point group of an installed distribution::

    [project.entry-points."ccvs.conditions"]
    audio = "ccvs_plugin_audio:AudioCondition"

Entry points are loaded lazily, on the first lookup. Each condition is checked against one spec when it
registers (a ``Condition`` subclass, a valid name, valid ``Slot``s from its default config, a name no
other class holds); a plugin that fails to import or fails the check is recorded as a failure — named,
with its package and error — and skipped, never crashing the caller. Setting the environment variable
``CCVS_DISABLE_PLUGIN_AUTOLOAD=1`` switches entry-point loading off.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import attrs
import numpy as np
import torch

from ccvs_core.config_base import Config
from ccvs_core.errors import CCVSError, InputError, PluginError

ENTRY_POINT_GROUP = "ccvs.conditions"
AUTOLOAD_ENV = "CCVS_DISABLE_PLUGIN_AUTOLOAD"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
log = logging.getLogger(__name__)


@attrs.frozen
class Slot:
    """A run of tokens a condition adds to the sequence (DESIGN.md §3).

    level: "video" (once per sequence, before the first frame) or "frame" (before every frame).
    length: tokens per occurrence.
    vocab_size: number of distinct token values (the slot gets an embedding table of this size).
    name: key of this slot in the dict ``tokenize`` returns.
    timed: video-level only: the slot carries a time index of its own, given at run time
        (the end frame's gap to the current window, Appendix E).
    predictable: frame-level only: the transformer also learns to predict this slot's tokens (it gets
        a head of its own), so generation can sample them when the input is not given (layouts,
        Fig. D2); the condition's ``decode`` turns them back into something to look at.
    frame_tokens: the slot's tokens are frame tokens of the pipeline's codebook (the end frame), so
        ``vocab_size`` must be the codebook size: its embedding rows start as copies of the frame
        tokens' (of the trained model's, with ``--init-from``), so what the model knows of each code
        carries over instead of being learnt again.
    points_at: "x" or "y": each token value names a place along that axis of the frame (value v of
        ``vocab_size`` covers the fraction ``(v + 0.5) / vocab_size`` of the width or height: quantized
        image coordinates, e.g. a trajectory); "cell": value v names frame token v of the token grid
        (row-major; ``vocab_size`` must be the grid's h * w). Its embedding starts as the frame tokens'
        position embedding of that column (x), row (y) or cell, so the model starts out knowing where a
        token points and only learns what is there (a fresh embedding has to discover the grid first).
    additive: the slot's tokens are also added to the input embedding of every frame token they
        condition (a video-level slot: all frames; a frame-level one: its frame), through an
        embedding table of their own that starts at zero (the mean over the slot's tokens), so that a
        condition steering the whole frame (a class, a sound) reaches every frame token directly
        instead of only through attention, and a model started ``--init-from`` a trained one starts
        out computing what that one did.
    """

    level: Literal["video", "frame"]
    length: int
    vocab_size: int
    name: str = "tokens"
    timed: bool = False
    predictable: bool = False
    frame_tokens: bool = False
    points_at: Literal["x", "y", "cell"] | None = None
    additive: bool = False


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
        if not isinstance(slot.name, str) or not _NAME.match(slot.name):
            raise PluginError(subject, f"slot {i} has an invalid name {slot.name!r} (lowercase, digits, _)")
        if slot.name in seen:
            raise PluginError(subject, f"{where} is declared twice")
        seen.add(slot.name)
        if slot.level not in ("video", "frame"):
            raise PluginError(subject, f"{where} has level {slot.level!r}; it must be 'video' or 'frame'")
        for field in ("length", "vocab_size"):
            value = getattr(slot, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PluginError(subject, f"{where} has {field}={value!r}; it must be an integer >= 1")
        if slot.timed and slot.level != "video":
            raise PluginError(subject, f"{where} is timed; only video-level slots carry their own time")
        if slot.predictable and slot.level != "frame":
            raise PluginError(subject, f"{where} is predictable; only frame-level slots can be predicted")
        if slot.points_at not in (None, "x", "y", "cell"):
            raise PluginError(
                subject, f"{where} has points_at={slot.points_at!r}; it must be 'x', 'y', 'cell' or None"
            )
        if slot.points_at is not None and slot.frame_tokens:
            raise PluginError(subject, f"{where} cannot both hold frame tokens and point at places")
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


@attrs.frozen(eq=False)
class ConditionContext:
    """What a pipeline lends its conditions (``Condition.configure`` and ``setup``): the frame tokenizer —
    ``tokenize_frames(frames)``, uint8 ``[T, H, W, 3]`` of any size -> frame tokens ``[T, h, w]`` through
    the pipeline's E and Q — the frame size ``(H, W)``, the frame rate, the frame token grid ``(h, w)``
    and the frame codebook size."""

    tokenize_frames: Callable[[np.ndarray], torch.Tensor]
    frame_size: tuple[int, int]
    fps: float
    token_grid: tuple[int, int]
    codebook_size: int


@attrs.frozen(kw_only=True)
class NoConfig(Config):
    """The config of a condition that has no settings."""


class Condition(torch.nn.Module):
    """Base class of conditions. Subclasses declare ``config_class`` and implement ``slots``, ``parse``,
    ``from_sample`` and ``tokenize``; the other methods have defaults that most conditions keep.

    A condition may hold trainable modules (as ``nn.Module`` attributes); their weights are saved with
    the pipeline under ``conditions.<name>.``.

    Life cycle: the stage-2 trainer builds the condition from its config, calls ``configure`` with the
    training videos (a class list is learnt there) and rebuilds it from the config that returns, calls
    ``setup`` (the pipeline's frame tokenizer) and ``fit`` (its own modules), then ``video_tokens`` once
    per training video.
    ``ccvs generate`` calls ``parse`` on the CLI value, then ``tokenize`` (and ``target_frame`` for
    timed slots).
    """

    name: ClassVar[str] = ""  # set when registered
    config_class: ClassVar[type[Config]] = NoConfig
    # on/off flags this condition adds to ``ccvs generate`` ({"--pad-audio": "help text"}); their values
    # are in ``self.options`` (flag -> bool) when ``parse`` runs
    cli_flags: ClassVar[dict[str, str]] = {}

    def __init__(self, config: Config | None = None):
        super().__init__()
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise PluginError(
                f"condition '{self.name or type(self).__name__}'",
                f"expects a {self.config_class.__name__}, got {type(config).__name__}",
            )
        self.config = config
        self.context: ConditionContext | None = None
        self.options: dict[str, bool] = {}

    def setup(self, context: ConditionContext) -> None:
        """Receive what the pipeline lends (its frame tokenizer, frame size, fps) before any tokenizing."""
        self.context = context

    def require_context(self) -> ConditionContext:
        if self.context is None:
            raise PluginError(
                f"condition '{self.name}'", "is used before setup() gave it the pipeline context"
            )
        return self.context

    def configure(self, videos: Sequence[Any], context: ConditionContext) -> Config:
        """The config fitted to the training data (``VideoRecord``s of the training split) and to the
        pipeline (``context``), e.g. a class list or the frame token grid; the default keeps it as it is."""
        return self.config

    def fit(self, videos: Sequence[Any], context: ConditionContext) -> None:
        """Train or load this condition's own modules before the stage-2 trainer tokenizes with it (after
        ``configure`` and ``setup``); their weights are then saved with the pipeline. Default: nothing."""

    def slots(self) -> list[Slot]:
        """The token slots this condition fills, in order."""
        raise NotImplementedError

    def parse(self, spec: str) -> Any:
        """Turn the CLI value after ``NAME:`` (a path, a class name, ...) into the raw input."""
        raise InputError(f"--cond {self.name}:{spec}", f"condition '{self.name}' takes no value from the CLI")

    def from_sample(self, sample: Any) -> Any:
        """Take this condition's raw input from a dataset item (a ``Clip``), for training."""
        raise NotImplementedError

    def tokenize(self, raw: Any, timeline: Timeline) -> dict[str, torch.Tensor]:
        """Raw input -> ``{slot name: LongTensor}``: video slots ``[B, length]``, frame slots
        ``[B, T, length]`` with ``T = timeline.num_frames``."""
        raise NotImplementedError

    def decode(self, tokens: dict[str, torch.Tensor]) -> Any:
        """For conditions with predictable slots: predicted tokens ``{slot: [S, T, length]}`` -> what they
        stand for (layout maps, ...)."""
        raise NotImplementedError

    def render(self, decoded: Any) -> np.ndarray:
        """What ``decode`` returned -> uint8 pictures ``[S, T, H, W, 3]`` (``ccvs generate`` saves a grid)."""
        raise NotImplementedError

    def target_frame(self, raw: Any, timeline: Timeline) -> int:
        """The frame a timed slot refers to (only for conditions with a timed slot): by default the last
        frame of the video, as for the end frame."""
        return timeline.num_frames - 1

    def video_tokens(self, sample: Any, frame_tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tokens of a whole training video (a ``Clip`` of all its frames, and their frame tokens
        ``[T, h, w]``), computed once per video: frame slots ``[T, length]``, video slots ``[length]``,
        and timed slots ``[T, length]`` (row e: the tokens when the target is frame e). The default
        tokenizes ``from_sample(sample)``; a condition with a timed slot must override it."""
        if any(slot.timed for slot in self.slots()):
            raise PluginError(
                f"condition '{self.name}'", "has a timed slot, so it must implement video_tokens()"
            )
        timeline = Timeline(num_frames=len(sample.frame_indices), fps=sample.fps)
        tokens = check_tokens(self, self.tokenize(self.from_sample(sample), timeline), 1, timeline.num_frames)
        return {name: value[0] for name, value in tokens.items()}


def check_video_tokens(condition: Condition, tokens: Any, num_frames: int) -> dict[str, torch.Tensor]:
    """Check what ``video_tokens`` returned: frame and timed slots ``[T, length]``, video slots ``[length]``."""
    return _check_slots(
        condition, "video_tokens", tokens,
        lambda slot: (slot.length,) if slot.level == "video" and not slot.timed else (num_frames, slot.length),
    )  # fmt: skip


def check_tokens(condition: Condition, tokens: Any, batch: int, num_frames: int) -> dict[str, torch.Tensor]:
    """Check what ``tokenize`` returned against the declared slots (shapes, dtype, value range)."""
    return _check_slots(
        condition, "tokenize", tokens,
        lambda slot: (batch, slot.length) if slot.level == "video" else (batch, num_frames, slot.length),
    )  # fmt: skip


def _check_slots(
    condition: Condition, method: str, tokens: Any, shape_of: Callable[[Slot], tuple[int, ...]]
) -> dict[str, torch.Tensor]:
    subject = f"condition '{condition.name}'"
    slots = {s.name: s for s in condition.slots()}
    if not isinstance(tokens, dict) or set(tokens) != set(slots):
        got = sorted(tokens) if isinstance(tokens, dict) else type(tokens).__name__
        raise PluginError(subject, f"{method} must return the slots {sorted(slots)}, got {got}")
    for name, slot in slots.items():
        value, shape = tokens[name], shape_of(slot)
        if not isinstance(value, torch.Tensor) or value.dtype != torch.long or tuple(value.shape) != shape:
            desc = f"{value.dtype} {tuple(value.shape)}" if isinstance(value, torch.Tensor) else repr(value)
            raise PluginError(
                subject, f"{method}: slot '{name}' must be a LongTensor of shape {shape}, got {desc}"
            )
        if value.numel() and (value.min() < 0 or value.max() >= slot.vocab_size):
            raise PluginError(subject, f"{method}: slot '{name}' has tokens outside [0, {slot.vocab_size})")
    return tokens


@attrs.define
class ConditionEntry:
    """One registered condition, or one that failed to load (then ``cls`` is None and ``error`` says why)."""

    name: str
    cls: type[Condition] | None
    source: str  # "decorator" or "entry point"
    package: str
    version: str
    error: str | None = None
    slots: list[Slot] = attrs.Factory(list)

    @property
    def ok(self) -> bool:
        return self.error is None


def _distribution_of(module: str) -> tuple[str, str]:
    """(distribution name, version) that provides ``module``, or (module, "-") for local code."""
    top = module.split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return top, "-"


class ConditionRegistry:
    """A name -> Condition class registry with lazy entry-point discovery (one per process by default)."""

    def __init__(self, group: str = ENTRY_POINT_GROUP):
        self.group = group
        self._entries: dict[str, ConditionEntry] = {}
        self._failures: list[ConditionEntry] = []
        self._discovered = False

    # registration -----------------------------------------------------------------------------------

    def register(self, name: str) -> Callable[[type[Condition]], type[Condition]]:
        """Class decorator: ``@register_condition("audio")``. Raises PluginError if the class is invalid."""

        def decorate(cls: type[Condition]) -> type[Condition]:
            package, version = _distribution_of(getattr(cls, "__module__", "") or "")
            self.add(name, cls, source="decorator", package=package, version=version)
            return cls

        return decorate

    def add(self, name: str, cls: Any, *, source: str, package: str, version: str) -> ConditionEntry:
        """Check ``cls`` against the condition spec and register it under ``name``."""
        subject = f"condition '{name}'"
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(subject, "a condition name must be lowercase letters, digits and _")
        if not (isinstance(cls, type) and issubclass(cls, Condition)):
            raise PluginError(subject, f"{cls!r} from {package} is not a subclass of ccvs_core.Condition")
        existing = self._entries.get(name)
        if existing is not None:
            if existing.cls is cls:  # the decorator ran, then the entry point loaded the same class
                if source == "entry point":
                    existing.source, existing.package, existing.version = source, package, version
                return existing
            raise PluginError(
                subject,
                f"claimed by both {existing.package} ({_qualname(existing.cls)}) and {package} "
                f"({_qualname(cls)}); the second is skipped",
            )
        if cls.name and cls.name != name:
            raise PluginError(subject, f"{_qualname(cls)} is already registered as '{cls.name}'")
        cls.name = name
        try:
            slots = validate_slots(name, cls().slots())
        except PluginError:
            cls.name = ""
            raise
        except Exception as err:  # a plugin's own bug: report it, do not crash the caller
            cls.name = ""
            raise PluginError(subject, f"cannot be built with its default config ({_describe(err)})") from err
        entry = ConditionEntry(name, cls, source, package, version, slots=slots)
        self._entries[name] = entry
        return entry

    # discovery --------------------------------------------------------------------------------------

    def discover(self) -> None:
        """Load the entry-point group once; record and skip every plugin that fails."""
        if self._discovered:
            return
        self._discovered = True
        if os.environ.get(AUTOLOAD_ENV, "").strip() not in ("", "0"):
            return
        points = importlib.metadata.entry_points(group=self.group)
        for point in sorted(points, key=lambda p: (p.name, p.dist.name if p.dist else "")):
            package = point.dist.name if point.dist else point.module
            version = point.dist.version if point.dist else "-"
            try:
                cls = point.load()
                self.add(point.name, cls, source="entry point", package=package, version=version)
            except Exception as err:
                reason = err.problem if isinstance(err, PluginError) else f"failed to load: {_describe(err)}"
                failure = ConditionEntry(point.name, None, "entry point", package, version, error=reason)
                self._failures.append(failure)
                log.warning(
                    "condition plugin '%s' from %s %s skipped: %s", point.name, package, version, reason
                )

    # lookup -----------------------------------------------------------------------------------------

    def entries(self) -> list[ConditionEntry]:
        """Every registered condition and every failure, sorted by name."""
        self.discover()
        return sorted([*self._entries.values(), *self._failures], key=lambda e: (e.name, not e.ok))

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._entries)

    def get(self, name: str) -> type[Condition]:
        self.discover()
        if name in self._entries:
            return self._entries[name].cls  # type: ignore[return-value]
        failed = [f for f in self._failures if f.name == name]
        if failed:
            f = failed[0]
            raise PluginError(f"condition '{name}'", f"{f.package} {f.version} failed to load: {f.error}")
        known = ", ".join(self.names()) or "none"
        raise PluginError(
            f"condition '{name}'",
            f"is not installed (installed: {known})",
            "install its plugin, e.g. pip install ccvs-plugin-<name>",
        )

    def create(self, name: str, config: Config | None = None) -> Condition:
        return self.get(name)(config)


def _qualname(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)}"


def _describe(err: BaseException) -> str:
    return str(err) if isinstance(err, CCVSError) else f"{type(err).__name__}: {err}"


# The process-wide registry that plugins and the CLI use.
registry = ConditionRegistry()
register_condition = registry.register


def get_condition(name: str) -> type[Condition]:
    """The Condition class registered under ``name`` (PluginError listing the installed ones if none)."""
    return registry.get(name)


def create_condition(name: str, config: Config | None = None) -> Condition:
    return registry.create(name, config)


def list_conditions() -> list[ConditionEntry]:
    """Every installed condition and every plugin that failed to load, sorted by name."""
    return registry.entries()


def condition_slots(conditions: Sequence[Condition]) -> list[tuple[str, Slot]]:
    """``(condition name, slot)`` pairs in declaration order, the input of ``SequenceLayout``."""
    return [(c.name, slot) for c in conditions for slot in validate_slots(c.name, c.slots())]
