"""JSON text from files a stranger may have written, parsed within the toolkit's limits.

Python's ``json`` accepts what ccvs must refuse: nesting deep enough to exhaust the stack
(``RecursionError``), integers of thousands of digits, ``NaN`` and ``Infinity``, and ``1e400`` read as
``inf``. ``parse_json`` raises ``ValueError`` (as ``json.loads`` does for bad syntax) for each of them,
so a reader turns every problem of the text into its own error type with one ``except ValueError``.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # arrays and objects inside each other
MAX_INTEGER = 2**53  # larger integers do not survive a round trip through a float


def parse_json(text: str, allow_nan: bool = False) -> Any:
    """``json.loads(text)`` within the limits above; ``ValueError`` naming the first limit crossed.
    ``allow_nan``: read ``NaN`` (Python's json writes it; ccvs's own files may hold one in a table of
    results: their fields are validated where a number must be finite)."""
    constant = _finite_or_nan if allow_nan else _constant
    try:
        data = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=constant)
    except RecursionError:
        raise ValueError(f"is nested deeper than {MAX_DEPTH} levels") from None
    if _deeper_than(data, MAX_DEPTH):
        raise ValueError(f"is nested deeper than {MAX_DEPTH} levels")
    return data


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_INTEGER:
        raise ValueError(f"holds the integer {text[:20]}{'...' if len(text) > 20 else ''}, beyond 2**53")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"holds the number {text[:20]}, which overflows a float")
    return value


def _constant(text: str) -> float:
    raise ValueError(f"holds {text}, which is not a JSON number")


def _finite_or_nan(text: str) -> float:
    if text != "NaN":
        raise ValueError(f"holds {text}, which is not a JSON number")
    return float("nan")


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether more than ``limit`` arrays and objects are nested (without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, level = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False
