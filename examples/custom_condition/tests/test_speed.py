"""The example plugin: found by entry point once pip-installed, parses its value, trains and generates."""

import pytest
import torch
from ccvs_speed import SpeedCondition, SpeedConfig

from ccvs_core import InputError, Timeline, get_condition, list_conditions
from ccvs_core.media import read_frames
from tests.helpers import first_frame_file, generate_cli, train_with_conditions_cli


def test_found_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "speed")
    assert entry.ok and entry.source == "entry point" and entry.package == "ccvs-speed-condition"
    assert get_condition("speed") is SpeedCondition


def test_parse_and_tokenize():
    condition = SpeedCondition(SpeedConfig(bins=4, max_speed=2.0))
    assert condition.parse("1.2") == 1.2
    for bad in ("fast", "-1", "nan"):
        with pytest.raises(InputError, match="--cond speed:"):
            condition.parse(bad)
    tokens = [condition.tokenize(s, Timeline(3, 10.0))["tokens"].item() for s in (0.0, 0.6, 1.2, 9.0)]
    assert tokens == [0, 1, 2, 3]
    assert condition.tokenize(0.5, Timeline(3, 10.0))["tokens"].dtype == torch.long


def test_ccvs_trains_and_generates_with_it(stage1, tmp_path):
    pipeline = train_with_conditions_cli(stage1, tmp_path / "run", ["speed:bins=4"])
    context = first_frame_file(stage1[0])
    assert generate_cli(pipeline, tmp_path / "fast.gif", ["speed:2.5"], context=context, frames=4) == 0
    assert read_frames(tmp_path / "fast.gif").shape[0] == 4
