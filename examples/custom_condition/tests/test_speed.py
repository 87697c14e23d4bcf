"""The example plugin: found by entry point once pip-installed, reads its value, and passes the
conformance kit (tokens, a tiny transformer's forward and backward, a pipeline saved, loaded and
generating through the CLI)."""

import pytest
import torch
from ccvs_speed import SpeedCondition, SpeedConfig

from ccvs_core import InputError, Timeline, get_condition, list_conditions
from ccvs_core.testing import ConditionConformance


class TestSpeedConformance(ConditionConformance):
    condition = "speed"
    config = {"bins": 4}  # noqa: RUF012
    bad_values = ["fast", "-1", "nan"]  # noqa: RUF012

    def cli_value(self, world, folder):
        return "2.5"


def test_found_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "speed")
    assert entry.ok and entry.source == "entry point" and entry.package == "ccvs-speed-condition"
    assert get_condition("speed") is SpeedCondition


def test_parse_and_tokenize():
    condition = SpeedCondition(SpeedConfig(bins=4, max_speed=2.0))
    options = condition.options_class()
    assert condition.parse("1.2", options) == 1.2
    for bad in ("fast", "-1", "nan"):
        with pytest.raises(InputError, match="--cond speed:"):
            condition.parse(bad, options)
    tokens = [condition.tokenize(s, Timeline(3, 10.0))["tokens"].item() for s in (0.0, 0.6, 1.2, 9.0)]
    assert tokens == [0, 1, 2, 3]
    assert condition.tokenize(0.5, Timeline(3, 10.0))["tokens"].dtype == torch.long
