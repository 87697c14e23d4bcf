"""The one extension point: conditions that turn user input into tokens the transformer reads.

A condition is a ``Condition`` subclass registered under a name, either with the decorator::

    @register_condition("audio")
    class AudioCondition(Condition): ...

or from the ``ccvs.conditions`` entry-point group of an installed distribution::

    [project.entry-points."ccvs.conditions"]
    audio = "ccvs_plugin_audio:AudioCondition"

The spec (CONTRIBUTING.md, "Writing a condition plugin"): a ``config_class`` and an ``options_class``,
four required methods (``slots``, ``parse``, ``from_sample``, ``tokenize``) and three optional ones
(``prepare``, ``decode``, ``measures``). Each class is checked against it when it registers; entry
points are loaded lazily (``ccvs_core.plugins``), and one that fails to import or to pass the check is
recorded as a failure, named with its package and error, and skipped.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
import torch

from ccvs_core import plugins
from ccvs_core.config_base import Config
from ccvs_core.errors import CCVSError, InputError, PluginError
from ccvs_core.slots import NAME, Slot, Timeline, validate_slots

if TYPE_CHECKING:
    from ccvs_core.data.clips import Clip
    from ccvs_core.data.video import VideoRecord

log = logging.getLogger(__name__)
REQUIRED = ("slots", "parse", "from_sample", "tokenize")
# the methods of a plugin the core calls: each is guarded (Condition.__init_subclass__)
HOOKS = ("__init__", *REQUIRED, "prepare", "decode", "measures")
CONFLICT = "claimed by both"
# hooks of plugin API 0.1 and what replaced them, so that an old plugin is told what to change
REPLACED = {
    "configure": "prepare()",
    "setup": "prepare() (the pipeline context is self.context)",
    "fit": "prepare()",
    "render": "decode(), which returns the pictures",
    "target_frame": 'a Slot of level "target" (the target is the timeline\'s last frame)',
    "video_tokens": 'a Slot of level "target" (the core makes its per-target rows)',
    "cli_flags": "options_class (--cond NAME:VALUE,KEY=VALUE)",
}


@attrs.frozen(eq=False)
class ConditionContext:
    """What a pipeline lends its conditions (``Condition.context``): the frame tokenizer —
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


@attrs.frozen(kw_only=True)
class NoOptions(Config):
    """The generation options of a condition that has none."""


class Condition(torch.nn.Module):
    """Base class of conditions; the spec is CONTRIBUTING.md's "Writing a condition plugin".

    A condition may hold trainable modules (as ``nn.Module`` attributes); their weights are saved with
    the pipeline under ``conditions.<name>.``. The core sets ``context`` before any tokenizing.
    """

    name: ClassVar[str] = ""  # set when registered
    config_class: ClassVar[type[Config]] = NoConfig  # its settings, saved with the pipeline
    options_class: ClassVar[type[Config]] = NoOptions  # what --cond NAME:VALUE,KEY=VALUE may set
    # how ``ccvs evaluate --task sensitivity`` reads each of ``measures``' scores as an error:
    # "distance" (as it is) or "similarity" (SSIM, IoU: 1 - x); scores not named are not compared
    measure_errors: ClassVar[dict[str, str]] = {}

    def __init__(self, config: Config | None = None):
        super().__init__()
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise PluginError(
                f"condition '{self.name or type(self).__name__}'",
                f"expects a {self.config_class.__name__}, got {type(config).__name__}",
            )
        self.config = config
        self._context: ConditionContext | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Guard every hook a plugin defines: what it raises that is not a ccvs error becomes a PluginError
        naming the plugin and the hook (KeyboardInterrupt and MemoryError pass), wherever it is called."""
        super().__init_subclass__(**kwargs)
        for hook in HOOKS:
            method = cls.__dict__.get(hook)
            if inspect.isfunction(method) and not hasattr(method, "__ccvs_hook__"):
                setattr(cls, hook, _guarded(hook, method))

    def _missing(self, hook: str) -> PluginError:
        return PluginError(plugin_subject(self), f"does not implement {hook}()")

    @property
    def context(self) -> ConditionContext:
        """What the pipeline lends (frame tokenizer, frame size, fps, token grid, codebook size)."""
        if self._context is None:
            raise PluginError(f"condition '{self.name}'", "is used before a pipeline gave it its context")
        return self._context

    @context.setter
    def context(self, context: ConditionContext) -> None:
        self._context = context

    # required ---------------------------------------------------------------------------------------

    def slots(self) -> list[Slot]:
        """The token slots this condition fills, in order."""
        raise self._missing("slots")

    def parse(self, value: str, options: Config) -> Any:
        """The CLI value after ``NAME:`` (a path, a class name, ...) and its options -> the raw input."""
        raise self._missing("parse")

    def from_sample(self, clip: Clip) -> Any:
        """The raw input of a dataset ``Clip``, for training and evaluation."""
        raise self._missing("from_sample")

    def tokenize(self, raw: Any, timeline: Timeline) -> dict[str, torch.Tensor]:
        """Raw input -> ``{slot name: LongTensor}``: frame slots ``[1, T, length]`` aligned to
        ``timeline.frame_times()``, video and target slots ``[1, length]`` (a target slot's target is
        the timeline's last frame)."""
        raise self._missing("tokenize")

    # optional ---------------------------------------------------------------------------------------

    def prepare(self, videos: Sequence[VideoRecord], context: ConditionContext) -> None:
        """Fit this condition to the training videos and the pipeline before stage 2 tokenizes with it:
        set ``self.config`` (a class list, the token grid) and load or train its own modules. Default:
        nothing."""

    def decode(self, tokens: dict[str, torch.Tensor]) -> np.ndarray:
        """Predicted tokens ``{slot: [S, T, length]}`` -> uint8 pictures ``[S, T, H, W, 3]`` of them
        (required with a predicted slot; ``ccvs generate`` saves them as a grid)."""
        raise PluginError(f"condition '{self.name}'", "has predicted slots but does not implement decode()")

    def measures(self, samples: np.ndarray, real: np.ndarray, context_frames: int) -> dict[str, float]:
        """This condition's own scores of one test video, for ``ccvs evaluate --task NAME``: ``samples``
        uint8 ``[S, T, H, W, 3]`` made under the video's condition, ``real`` ``[T, H, W, 3]``, the
        first ``context_frames`` given. Default: none."""
        return {}


def plugin_subject(condition: Condition) -> str:
    """``condition 'NAME' (distribution version)``: whom an error of a plugin's code is about."""
    package, version = distribution_of(type(condition).__module__)
    return f"condition '{condition.name or type(condition).__name__}' ({package} {version})"


def _guarded(hook: str, method: Callable) -> Callable:
    @functools.wraps(method)
    def call(self: Condition, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except CCVSError:
            raise
        except (Exception, SystemExit) as err:
            plugins.passes_through(err)
            raise PluginError(plugin_subject(self), f"{hook}() failed: {plugins.describe(err)}") from err

    call.__ccvs_hook__ = hook
    return call


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


def distribution_of(module: str) -> tuple[str, str]:
    """(distribution name, version) that provides ``module``, or (its top-level name, "-") for local code."""
    top = module.split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return top, "-"


def check_spec(name: str, cls: Any, package: str) -> list[Slot]:
    """Check ``cls`` against the condition spec; its slots at the default config (PluginError otherwise)."""
    subject = f"condition '{name}'"
    if not (isinstance(cls, type) and issubclass(cls, Condition)):
        raise PluginError(subject, f"{cls!r} from {package} is not a subclass of ccvs_core.Condition")
    for attribute in ("config_class", "options_class"):
        value = getattr(cls, attribute)
        if not (isinstance(value, type) and issubclass(value, Config)):
            raise PluginError(subject, f"{attribute} must be a ccvs_core.Config subclass, got {value!r}")
    old = sorted(hook for hook in REPLACED if hasattr(cls, hook))
    if old:
        raise PluginError(
            subject,
            f"uses {old[0]}, a hook of plugin API 0.1; ccvs-core 0.2 replaced it by {REPLACED[old[0]]}",
            "see CONTRIBUTING.md, Writing a condition plugin",
        )
    errors = cls.measure_errors
    if not isinstance(errors, dict) or any(
        not isinstance(k, str) or v not in ("distance", "similarity") for k, v in errors.items()
    ):
        raise PluginError(
            subject, f"measure_errors must map score names to 'distance' or 'similarity', got {errors!r}"
        )
    if errors and cls.measures is Condition.measures:
        raise PluginError(subject, "declares measure_errors but does not implement measures()")
    missing = [m for m in REQUIRED if getattr(cls, m) is getattr(Condition, m)]
    if missing:
        raise PluginError(subject, f"does not implement {', '.join(f'{m}()' for m in missing)}")
    try:
        slots = validate_slots(name, cls().slots())
    except PluginError:
        raise
    except (Exception, SystemExit) as err:  # a plugin's own bug: report it, do not crash the caller
        plugins.passes_through(err)
        raise PluginError(
            subject, f"cannot be built with its default config ({plugins.describe(err)})"
        ) from err
    if any(s.predicted for s in slots) and cls.decode is Condition.decode:
        raise PluginError(subject, "has a predicted slot, so it must implement decode()")
    return slots


class ConditionRegistry:
    """A name -> Condition class registry with lazy discovery (one per process by default): the
    ``ccvs.conditions`` entry points and the user modules of ``CCVS_PLUGINS``."""

    def __init__(self, group: str = plugins.CONDITIONS_GROUP):
        self.group = group
        self._entries: dict[str, ConditionEntry] = {}
        self._failures: list[ConditionEntry] = []
        self._discovered = False

    def register(self, name: str) -> Callable[[type[Condition]], type[Condition]]:
        """Class decorator: ``@register_condition("audio")``. Raises PluginError if the class is invalid."""

        def decorate(cls: type[Condition]) -> type[Condition]:
            package, version = distribution_of(getattr(cls, "__module__", "") or "")
            self.add(name, cls, source="decorator", package=package, version=version)
            return cls

        return decorate

    def add(self, name: str, cls: Any, *, source: str, package: str, version: str) -> ConditionEntry:
        """Check ``cls`` against the condition spec and register it under ``name``."""
        subject = f"condition '{name}'"
        if not isinstance(name, str) or not NAME.match(name):
            raise PluginError(subject, "a condition name must be lowercase letters, digits and _")
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
        if not (isinstance(cls, type) and issubclass(cls, Condition)):
            check_spec(name, cls, package)  # raises: not a Condition
        if cls.name and cls.name != name:
            raise PluginError(subject, f"{_qualname(cls)} is already registered as '{cls.name}'")
        previous, cls.name = cls.name, name  # the spec's checks build it, and its errors name it
        try:
            slots = check_spec(name, cls, package)
        except PluginError:
            cls.name = previous
            raise
        entry = ConditionEntry(name, cls, source, package, version, slots=slots)
        self._entries[name] = entry
        return entry

    def discover(self) -> None:
        """Load the entry-point group and the ``CCVS_PLUGINS`` modules once; record and skip every
        entry point that fails (a named user module that fails is an error)."""
        if self._discovered:
            return
        self._discovered = True
        points = plugins.plugin_points(self.group)
        claimants: dict[str, set[str]] = {}
        for point in points:
            claimants.setdefault(point.name, set()).add(point.distribution)
        for point in points:
            try:
                if len(claimants[point.name]) > 1:  # neither wins: the first by name could be anyone's
                    raise PluginError(
                        f"condition '{point.name}'",
                        f"{CONFLICT} {' and '.join(sorted(claimants[point.name]))}, so neither is used "
                        "(uninstall one of them)",
                    )
                cls = point.load()
                self.add(
                    point.name, cls, source="entry point", package=point.distribution, version=point.version
                )
            except PluginError as err:
                failure = ConditionEntry(
                    point.name, None, "entry point", point.distribution, point.version, error=err.problem
                )
                self._failures.append(failure)
                log.warning(
                    "condition plugin '%s' from %s %s skipped: %s",
                    point.name, point.distribution, point.version, err.problem,
                )  # fmt: skip
        for module in plugins.env_modules():
            plugins.import_user_module(module, plugins.MODULES_ENV)

    def entries(self) -> list[ConditionEntry]:
        """Every registered condition and every failure, sorted by name."""
        self.discover()
        return sorted([*self._entries.values(), *self._failures], key=lambda e: (e.name, not e.ok))

    def contested(self, name: str) -> bool:
        """Whether two distributions claim ``name`` (then neither provides it)."""
        self.discover()
        return any(f.name == name and f.error.startswith(CONFLICT) for f in self._failures)

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
            if f.error.startswith(CONFLICT):
                raise PluginError(f"condition '{name}'", f"is {f.error}")
            raise PluginError(f"condition '{name}'", f"{f.package} {f.version} failed to load: {f.error}")
        known = ", ".join(self.names()) or "none"
        raise PluginError(
            f"condition '{name}'",
            f"is not installed (installed: {known})",
            "install its plugin (e.g. pip install ccvs-plugin-<name>), or load your own module with "
            "ccvs --plugin MODULE or CCVS_PLUGINS=MODULE",
        )


def _qualname(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)}"


# The process-wide registry that plugins and the CLI use.
registry = ConditionRegistry()
register_condition = registry.register


def get_condition(name: str) -> type[Condition]:
    """The Condition class registered under ``name`` (PluginError listing the installed ones if none)."""
    return registry.get(name)


def list_conditions() -> list[ConditionEntry]:
    """Every installed condition and every plugin that failed to load, sorted by name."""
    return registry.entries()


def check_config(condition: Condition) -> None:
    """After ``prepare``: its config is still its config class's, and its slots are valid."""
    if not isinstance(condition.config, condition.config_class):
        raise PluginError(
            f"condition '{condition.name}'",
            f"prepare() set a {type(condition.config).__name__}, not a {condition.config_class.__name__}",
        )
    validate_slots(condition.name, condition.slots())


def unknown_condition(name: str, known: Sequence[str]) -> InputError:
    """The error for ``--cond NAME`` that a pipeline was not trained with."""
    return InputError(
        f"--cond {name}",
        f"this pipeline was not trained with it (its conditions: {', '.join(known) or 'none'})",
    )
