"""The text of ``--cond``: ``NAME:VALUE,KEY=VALUE,...`` at generation (a condition's value and its
options), ``NAME:KEY=VALUE,...`` in training (fields of its config).

A comma starts a new ``KEY=VALUE`` item only when ``KEY=`` follows it, so a value may hold commas
(``--cond audio:take,2.wav,pad=true`` is the file ``take,2.wav``) as long as none of them is followed
by a word and ``=``. A VALUE of an item is JSON when it parses as JSON (``true``, ``3``, ``[8, 8]``),
else the plain text.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from ccvs_core.conditions import Condition
from ccvs_core.errors import InputError
from ccvs_core.json_text import parse_json
from ccvs_core.slots import NAME

_ITEM = re.compile(r",(?=[A-Za-z_][A-Za-z0-9_]*=)")


def split_spec(spec: str, flag: str = "--cond") -> tuple[str, str]:
    """``"audio:drums.wav,pad=true"`` -> ``("audio", "drums.wav,pad=true")``."""
    name, _, text = spec.partition(":")
    if not NAME.match(name):
        raise InputError(
            f"{flag} {spec}", "must start with a condition name (NAME:..., e.g. audio:drums.wav)"
        )
    return name, text


def split_items(text: str, subject: str, has_value: bool) -> tuple[str, dict[str, Any]]:
    """(the value, ``{key: JSON or text}``) of ``VALUE,KEY=VALUE,...`` (``has_value``) or ``KEY=VALUE,...``."""
    parts = _ITEM.split(text) if text else []
    value = parts.pop(0) if has_value and parts else ""
    items: dict[str, Any] = {}
    for part in parts:
        key, sep, raw = part.partition("=")
        if not sep or not key:
            raise InputError(subject, f"'{part}' is not KEY=VALUE")
        if key in items:
            raise InputError(subject, f"'{key}' is given twice")
        try:
            items[key] = parse_json(raw)
        except ValueError:  # not JSON (or beyond its limits): the plain text
            items[key] = raw
    return value, items


def read_options(condition: Condition, items: dict[str, Any], subject: str):
    """The condition's ``options_class`` with the given items (the others at their defaults)."""
    cls = condition.options_class
    known = [f.name for f in attrs.fields(cls)]
    unknown = sorted(set(items) - set(known))
    if unknown:
        raise InputError(
            subject,
            f"'{unknown[0]}' is not an option of condition '{condition.name}' "
            f"(its options: {', '.join(known) or 'none'})",
        )
    return cls.from_dict({**cls().to_dict(), **items}, source=subject)


def read_condition(condition: Condition, text: str) -> Any:
    """The raw input ``--cond NAME:TEXT`` gives: TEXT's value read by ``condition.parse`` with its options."""
    subject = f"--cond {condition.name}:{text}"
    value, items = split_items(text, subject, has_value=True)
    return condition.parse(value, read_options(condition, items, subject))
