"""Commands a plugin adds to ``ccvs train`` and ``ccvs data``, declared, not written with argparse.

A plugin declares ``NAME = "module:command"`` in the ``ccvs.train_commands`` or ``ccvs.data_commands``
entry-point group, where ``command`` is a ``PluginCommand``: a one-line help, a description, an
``options`` config class whose fields become its flags (``steps: int | None`` -> ``--steps N``, help
from ``attrs.field(metadata={"help": ...})``; a ``bool`` field is an on/off flag; a field without
a default is required), and the function that runs it. With ``run_arguments`` the core adds
``--data``, ``--out``, ``--preset`` and ``--device`` and passes them as ``RunArguments``. What the
function returns (a string or a rich renderable) is printed; errors it raises (``InputError``, ...)
are printed as one line, like any ccvs command's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ccvs_core.config_base import Config


@attrs.frozen
class RunArguments:
    """What every training-like plugin command gets: ``--data``, ``--out``, ``--preset`` (None: the
    command's default) and the device ``--device`` chose (cuda when available)."""

    data: Path
    out: Path
    preset: str | None
    device: str


@attrs.frozen
class PluginCommand:
    help: str  # one line, in the list of `ccvs train --help`
    description: str  # its own --help
    options: type[Config]  # its flags, one per field
    run: Callable[[Any, RunArguments | None], Any]  # (options, run arguments or None) -> what to print
    run_arguments: bool = True  # add --data, --out, --preset, --device
