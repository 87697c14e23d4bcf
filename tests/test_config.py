"""Config classes: strict JSON round trip, refusals that name the field (and the file)."""

import json
from typing import Literal

import attrs
import pytest

from ccvs_core import Config, ConfigError, at_least, in_range


@attrs.frozen(kw_only=True)
class Inner(Config):
    channels: int = attrs.field(default=4, validator=at_least(1))
    ratio: float = attrs.field(default=0.5, validator=in_range(0, 1))


@attrs.frozen(kw_only=True)
class Outer(Config):
    name: str  # required
    size: tuple[int, int] = (64, 64)
    levels: tuple[int, ...] = (1, 2)
    mode: Literal["fast", "exact"] = "fast"
    path: str | None = None
    weights: dict[str, float] = attrs.Factory(dict)
    inner: Inner = attrs.Factory(Inner)


def test_round_trip_through_json(tmp_path):
    config = Outer(name="x", size=[32, 16], levels=[1], mode="exact", weights={"a": 1}, inner=Inner(ratio=1))
    assert config.size == (32, 16) and config.levels == (1,)  # lists normalised to tuples
    assert config.weights == {"a": 1.0} and isinstance(config.weights["a"], float)
    path = tmp_path / "config.json"
    config.to_json(path)
    assert Outer.from_json(path) == config
    assert json.loads(path.read_text())["inner"] == {"channels": 4, "ratio": 1.0}


def test_replace_ignores_unset_values():
    config = Outer(name="x")
    assert config.replace(size=None, mode="exact") == Outer(name="x", mode="exact")


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"name": "x", "sise": [1, 2]}, "sise", "unknown field of Outer"),
        ({"size": [1, 2]}, "name", "is required"),
        ({"name": 3}, "name", "must be a string"),
        ({"name": "x", "size": [1]}, "size", "a list of 2 items"),
        ({"name": "x", "size": [1, "2"]}, "size[1]", "must be an integer"),
        ({"name": "x", "size": [1, True]}, "size[1]", "must be an integer"),
        ({"name": "x", "levels": "12"}, "levels", "must be a list"),
        ({"name": "x", "mode": "slow"}, "mode", "one of 'fast', 'exact'"),
        ({"name": "x", "path": 1}, "path", "must be a string"),
        ({"name": "x", "weights": {"a": "b"}}, "weights.a", "must be a number"),
        ({"name": "x", "inner": {"channels": 0}}, "inner.channels", "must be >= 1"),
        ({"name": "x", "inner": {"ratio": 2}}, "inner.ratio", "between 0 and 1"),
        ({"name": "x", "inner": {"chanels": 2}}, "inner.chanels", "unknown field of Inner"),
        ({"name": "x", "inner": 3}, "inner", "must be an object"),
    ],
)
def test_refusals_name_the_field_and_file(data, field, problem):
    with pytest.raises(ConfigError) as info:
        Outer.from_dict(data, source="model/config.json")
    message = str(info.value)
    assert f"field '{field}' (model/config.json)" in message
    assert problem in message


def test_unknown_field_suggests_the_close_one():
    with pytest.raises(ConfigError, match="did you mean 'size'"):
        Outer.from_dict({"name": "x", "sise": 1})


def test_direct_construction_is_checked_too():
    with pytest.raises(ConfigError, match=r"field 'Inner.channels'.*>= 1"):
        Inner(channels=0)
    with pytest.raises(ConfigError, match=r"field 'Outer.size\[0\]'.*integer"):
        Outer(name="x", size=(1.5, 2))


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.json: config file not found"):
        Outer.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"bad\.json: is not valid JSON"):
        Outer.from_json(bad)
    wrong = tmp_path / "list.json"
    wrong.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"list.json.*must be an object \(Outer\)"):
        Outer.from_json(wrong)


def test_configs_are_frozen():
    config = Outer(name="x")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.name = "y"
