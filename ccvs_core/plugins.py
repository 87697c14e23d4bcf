"""The one loader of plugins: the entry-point groups of installed distributions, and a user's own modules.

Groups (``[project.entry-points."GROUP"]`` in a plugin's ``pyproject.toml``):

- ``ccvs.conditions``: ``NAME = "module:ConditionClass"``, read by the condition registry;
- ``ccvs.train_commands`` and ``ccvs.data_commands``: ``NAME = "module:command"``, a ``PluginCommand``
  that becomes ``ccvs train NAME`` / ``ccvs data NAME``.

Listing a group reads the installed distributions' metadata only; a plugin is imported when it is
first needed, and one that fails to import in any way (``SystemExit`` included) is reported by name.
``CCVS_DISABLE_PLUGIN_AUTOLOAD=1`` switches entry points off. ``CCVS_PLUGINS=mod1,mod2`` (or ``ccvs
--plugin mod``) imports a user's own modules, whose ``@register_condition`` classes then register: a
module importable from the current folder, or the path of a ``.py`` file.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import attrs

from ccvs_core.errors import CCVSError, PluginError

CONDITIONS_GROUP = "ccvs.conditions"
TRAIN_COMMANDS_GROUP = "ccvs.train_commands"
DATA_COMMANDS_GROUP = "ccvs.data_commands"
AUTOLOAD_ENV = "CCVS_DISABLE_PLUGIN_AUTOLOAD"
MODULES_ENV = "CCVS_PLUGINS"

_loaded_files: dict[Path, str] = {}  # .py files imported as user modules -> their module name


@attrs.frozen(eq=False)
class PluginPoint:
    """One entry point of a group, not yet imported."""

    name: str
    group: str
    distribution: str
    version: str
    entry_point: importlib.metadata.EntryPoint

    def load(self) -> Any:
        """Import what the entry point names; PluginError naming it if that fails in any way."""
        try:
            return self.entry_point.load()
        except (Exception, SystemExit) as err:  # a broken plugin is reported, never crashes ccvs
            passes_through(err)
            raise PluginError(
                f"plugin '{self.name}' ({self.group}) from {self.distribution} {self.version}",
                f"failed to load: {describe(err)}",
            ) from err


def autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip() in ("", "0")


def plugin_points(group: str) -> list[PluginPoint]:
    """The entry points of ``group`` sorted by name (none when autoloading is off); nothing is imported."""
    if not autoload_enabled():
        return []
    points = []
    for point in importlib.metadata.entry_points(group=group):
        dist = point.dist
        points.append(
            PluginPoint(
                point.name, group, dist.name if dist else point.module, dist.version if dist else "-", point
            )
        )
    return sorted(points, key=lambda p: (p.name, p.distribution))


def env_modules() -> list[str]:
    """The user modules ``CCVS_PLUGINS`` names (comma-separated)."""
    return [m.strip() for m in os.environ.get(MODULES_ENV, "").split(",") if m.strip()]


def import_user_module(spec: str, flag: str = "--plugin") -> str:
    """Import a user's module (a name importable from the current folder, or a ``.py`` file's path) so
    that its ``@register_condition`` classes register; its module name. Importing it twice is a no-op."""
    path = Path(spec)
    if spec.endswith(".py") or path.is_file():
        return _import_file(path, f"{flag} {spec}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        importlib.import_module(spec)
    except ModuleNotFoundError as err:
        if err.name is not None and spec.startswith(err.name):
            raise PluginError(
                f"{flag} {spec}",
                "no such module in the current folder or the installed packages",
                "give a module importable from here, or the path of a .py file",
            ) from err
        raise PluginError(f"{flag} {spec}", f"failed to import: {describe(err)}") from err
    except (Exception, SystemExit) as err:
        passes_through(err)
        raise PluginError(f"{flag} {spec}", f"failed to import: {describe(err)}") from err
    return spec


def _import_file(path: Path, subject: str) -> str:
    if not path.is_file():
        raise PluginError(subject, "file not found")
    resolved = path.resolve()
    if resolved in _loaded_files:
        return _loaded_files[resolved]
    # its own name where free, so that a pipeline records the module its conditions came from
    name = (
        path.stem
        if path.stem.isidentifier() and path.stem not in sys.modules
        else f"ccvs_user_{len(_loaded_files)}_{path.stem}"
    )
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise PluginError(subject, "is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _loaded_files[resolved] = name
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:
        del sys.modules[name], _loaded_files[resolved]
        passes_through(err)
        raise PluginError(subject, f"failed to import: {describe(err)}") from err
    return name


def passes_through(err: BaseException) -> None:
    """Re-raise what no plugin failure may swallow: running out of memory (KeyboardInterrupt is no
    Exception, so it is never caught)."""
    if isinstance(err, MemoryError):
        raise err


def describe(err: BaseException) -> str:
    if isinstance(err, SystemExit):
        return f"it called sys.exit({err.code!r})"
    return str(err) if isinstance(err, CCVSError) else f"{type(err).__name__}: {err}"
