"""The machinery of config classes: frozen, validated attrs classes with a strict JSON round trip.

A config class is a frozen attrs class that derives from ``Config``::

    @attrs.frozen(kw_only=True)
    class ClipConfig(Config):
        num_frames: int = attrs.field(default=16, validator=at_least(1))
        size: tuple[int, int] = (64, 64)

Values are checked against the annotations whenever an instance is made (from Python or from JSON):
``bool`` is not an ``int``, an ``int`` is accepted where a ``float`` is expected, JSON lists become
tuples. ``from_dict`` / ``from_json`` refuse unknown fields, missing required fields and ill-typed
values with a ``ConfigError`` that names the field (and the file).
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, Union

import attrs

from ccvs_core.atomic import write_text_atomic
from ccvs_core.errors import ConfigError
from ccvs_core.json_text import parse_json

_NOTHING = attrs.NOTHING


def _subject(field: str, source: str | None) -> str:
    return f"field '{field}'" + (f" ({source})" if source else "")


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _convert(value: Any, tp: Any, field: str, source: str | None) -> Any:
    """Return ``value`` as type ``tp`` (JSON lists -> tuples, int -> float), or raise ConfigError."""

    def fail(expected: str) -> typing.NoReturn:
        raise ConfigError(_subject(field, source), f"must be {expected}, got {_describe(value)}")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if tp is type(None):
        if value is not None:
            fail("null")
        return None
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, field, source)
            except ConfigError as err:
                errors.append(err.problem)
        fail(" or ".join(sorted({e.split(", got")[0].removeprefix("must be ") for e in errors})))
    if origin is Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args):
            fail("one of " + ", ".join(repr(a) for a in args))
        return value
    if tp is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            fail("a string")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            fail("a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{field}[{i}]", source) for i, v in enumerate(value))
        if len(value) != len(args):
            fail(f"a list of {len(args)} items")
        return tuple(
            _convert(v, a, f"{field}[{i}]", source) for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            fail("an object with string keys")
        return {k: _convert(v, args[1], f"{field}.{k}", source) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            fail(f"an object ({tp.__name__})")
        return tp.from_dict(value, source=source, prefix=f"{field}.")
    raise TypeError(f"config field '{field}' has an unsupported annotation {tp!r}")


class Config:
    """Base of every ccvs config class (use with ``@attrs.frozen(kw_only=True)``)."""

    __attrs_attrs__: ClassVar[tuple[attrs.Attribute, ...]]

    @classmethod
    @functools.cache
    def _field_types(cls) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in attrs.fields(cls)}

    def __attrs_post_init__(self) -> None:
        # Type-check (and normalise: lists -> tuples, int -> float) however the instance was made.
        for name, tp in self._field_types().items():
            value = getattr(self, name)
            converted = _convert(value, tp, f"{type(self).__name__}.{name}", None)
            if converted is not value:
                object.__setattr__(self, name, converted)

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None, prefix: str = "") -> Self:
        """Build from a JSON-like dict; unknown, missing or ill-typed fields raise ConfigError."""
        if not isinstance(data, dict):
            raise ConfigError(
                _subject(prefix.rstrip(".") or cls.__name__, source),
                f"must be an object ({cls.__name__}), got {_describe(data)}",
            )
        fields = {f.name: f for f in attrs.fields(cls)}
        for key in data:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                raise ConfigError(
                    _subject(prefix + str(key), source),
                    f"unknown field of {cls.__name__} (known: {', '.join(fields)})",
                    f"did you mean '{prefix}{close[0]}'?" if close else None,
                )
        types_ = cls._field_types()
        kwargs = {}
        for name, field in fields.items():
            if name in data:
                kwargs[name] = _convert(data[name], types_[name], prefix + name, source)
            elif field.default is _NOTHING:
                raise ConfigError(_subject(prefix + name, source), f"is required by {cls.__name__}")
        try:
            return cls(**kwargs)
        except ConfigError as err:  # a validator's or check's error: re-address it to the file's field name
            name = getattr(err, "field_name", None)
            own = f"field '{cls.__name__}."
            if name is None and err.subject.startswith(own):
                name = err.subject[len(own) :].split("'")[0]
            if name is None:
                raise
            raise ConfigError(_subject(prefix + name, source), err.problem, err.hint) from None

    def to_dict(self) -> dict[str, Any]:
        return {name: _to_json_value(getattr(self, name)) for name in self._field_types()}

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> Self:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(path, "config file not found") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(path, f"cannot be read ({err})") from None
        try:
            data = parse_json(text)
        except ValueError as err:  # json.JSONDecodeError included
            raise ConfigError(path, f"is not valid JSON ({err})") from None
        return cls.from_dict(data, source=str(path))

    def to_json(self, path: str | os.PathLike) -> None:
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed; ``None`` values are ignored (an unset CLI flag)."""
        return attrs.evolve(self, **{k: v for k, v in changes.items() if v is not None})


def _to_json_value(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json_value(v) for k, v in value.items()}
    return value


# Validators: they raise ConfigError naming the field, so direct construction reads like JSON loading.


def flag(field: str) -> str:
    """The command-line flag that sets config field ``field``: "checkpoint_every" -> "--checkpoint-every"."""
    return "--" + field.replace("_", "-")


def _validator(check: Callable[[Any], bool], expected: str) -> Callable[[Any, attrs.Attribute, Any], None]:
    def validate(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and not check(value):
            err = ConfigError(
                _subject(f"{type(instance).__name__}.{attribute.name}", None),
                f"must be {expected}, got {value!r}",
            )
            err.field_name = attribute.name
            raise err

    return validate


def at_least(minimum: float) -> Callable[[Any, attrs.Attribute, Any], None]:
    return _validator(lambda v: _each(v, lambda x: x >= minimum), f">= {minimum}")


def greater_than(bound: float) -> Callable[[Any, attrs.Attribute, Any], None]:
    return _validator(lambda v: _each(v, lambda x: x > bound), f"> {bound}")


def in_range(low: float, high: float) -> Callable[[Any, attrs.Attribute, Any], None]:
    return _validator(lambda v: _each(v, lambda x: low <= x <= high), f"between {low} and {high}")


def _each(value: Any, check: Callable[[Any], bool]) -> bool:
    values = value if isinstance(value, tuple | list) else (value,)
    try:
        return all(check(v) for v in values)
    except TypeError:  # a wrong type: the annotation check reports it
        return True
