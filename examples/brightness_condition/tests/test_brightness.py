"""The frame-level example plugin: found by entry point, one token per frame aligned to the video's
frames whatever window it is asked for, and the conformance kit."""

import json

import numpy as np
import pytest
import torch
from ccvs_brightness import Brightness, BrightnessCondition, BrightnessConfig

from ccvs_core import InputError, Timeline, get_condition, list_conditions
from ccvs_core.testing import ConditionConformance


class TestBrightnessConformance(ConditionConformance):
    condition = "brightness"
    config = {"bins": 4}  # noqa: RUF012
    bad_values = ["bright", "1.5", "no/such/ramp.json"]  # noqa: RUF012

    def cli_value(self, world, folder):
        ramp = folder / "ramp.json"
        ramp.write_text(json.dumps({"fps": 10, "brightness": [0.1, 0.3, 0.6, 0.9]}))
        return str(ramp)


def test_found_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "brightness")
    assert entry.ok and entry.package == "ccvs-brightness-condition"
    assert get_condition("brightness") is BrightnessCondition


def test_a_window_gets_its_own_frames_values():
    condition = BrightnessCondition(BrightnessConfig(bins=4))
    ramp = Brightness(np.array([0.0, 0.3, 0.6, 0.9]), fps=10.0)
    whole = condition.tokenize(ramp, Timeline(4, 10.0))["tokens"]
    assert whole[0, :, 0].tolist() == [0, 1, 2, 3]
    later = condition.tokenize(ramp, Timeline(2, 10.0, start_frame=2))["tokens"]
    assert torch.equal(later, whole[:, 2:])
    # a video at another frame rate reads the curve at its own frame times
    assert condition.tokenize(ramp, Timeline(3, 20.0, start_frame=2))["tokens"][0, :, 0].tolist() == [1, 1, 2]


def test_parse(tmp_path):
    condition = BrightnessCondition()
    options = condition.options_class()
    assert condition.parse("0.5", options).values.tolist() == [0.5]
    (tmp_path / "bad.json").write_text('{"fps": 10, "brightness": [0.1, 2]}')
    with pytest.raises(InputError, match=r"bad\.json: brightness must be in \[0, 1\], got 2"):
        condition.parse(str(tmp_path / "bad.json"), options)
    with pytest.raises(InputError, match=r"--cond brightness:1\.5: brightness must be in"):
        condition.parse("1.5", options)
