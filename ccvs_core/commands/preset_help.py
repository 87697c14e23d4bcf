"""Each training flag's default in its ``--help``: the flags default to None (the preset decides), so
argparse alone cannot show what a run gets; this reads it from the presets."""

from __future__ import annotations

import argparse

import attrs

from ccvs_core.config import PRESET_NAMES, preset


def show_preset_defaults(group: argparse._ArgumentGroup, config: type) -> None:
    """Append "(default: ...)" to the help of every flag of ``group`` that sets a field of ``config``:
    one value when every preset agrees, else each preset's."""
    fields = {field.name for field in attrs.fields(config)}
    for action in group._group_actions:
        if action.dest not in fields or not action.help or "default" in action.help:
            continue
        values = {name: _text(getattr(preset(config, name), action.dest)) for name in PRESET_NAMES}
        if len(set(values.values())) == 1:
            action.help += f" (default: {values[PRESET_NAMES[0]]})"
        else:
            action.help += " (default: " + ", ".join(f"{k} {v}" for k, v in values.items()) + ")"


def _text(value) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
