"""JSON from strangers: ``parse_json`` refuses what Python's ``json`` lets through, and the readers that
use it turn that into their own error naming the file."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccvs_core.config import AutoencoderConfig
from ccvs_core.data.format import read_json
from ccvs_core.errors import ConfigError, InputError
from ccvs_core.json_text import MAX_DEPTH, parse_json


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),  # RecursionError in json
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper than 64 levels"),
        ("1" * 5000, "beyond 2**53"),  # ValueError in int(): over 4,300 digits
        ("[9007199254740993]", "beyond 2**53"),
        ('{"fps": 1e400}', "1e400, which overflows a float"),
        ('{"fps": NaN}', "holds NaN, which is not a JSON number"),
        ("[-Infinity]", "holds -Infinity"),
        ("{", "Expecting property name"),
    ],
)
def test_limits_are_value_errors(text, problem):
    with pytest.raises(ValueError, match=problem.replace("*", r"\*").replace("[", r"\[")):
        parse_json(text)


def test_within_the_limits_it_is_json():
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(nested) == json.loads(nested)
    assert parse_json("[9007199254740992, -9007199254740992, 1.5e300]") == [2**53, -(2**53), 1.5e300]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20,
)  # fmt: skip


@given(json_values)
def test_every_value_within_the_limits_round_trips(value):
    assert parse_json(json.dumps(value)) == value


def test_readers_name_the_file(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match=r"deep\.json: is not valid JSON \(is nested deeper"):
        read_json(deep)
    config = tmp_path / "config.json"
    config.write_text('{"beta": 1e400}')
    with pytest.raises(ConfigError, match=r"config\.json: is not valid JSON \(holds the number 1e400"):
        AutoencoderConfig.from_json(config)


def test_checkpoint_json_names_the_file(tmp_path):
    from ccvs_core.errors import CheckpointError
    from ccvs_core.weights import load_json

    state = tmp_path / "state.json"
    state.write_text('{"step": ' + "9" * 5000 + "}")
    with pytest.raises(CheckpointError, match=r"state\.json: is not valid JSON \(holds the integer 9999"):
        load_json(state)
