"""Checks generated from the registry: every installed condition gets the same tests, with no new test code."""

import pytest

from ccvs_core import list_conditions
from ccvs_core.sequence import SequenceLayout
from ccvs_core.slots import validate_slots

INSTALLED = [e for e in list_conditions() if e.ok]


def test_the_built_in_plugins_are_installed():
    names = {e.name for e in INSTALLED}
    assert {"state", "audio", "layout", "endframe", "class"} <= names


@pytest.mark.parametrize("entry", INSTALLED, ids=[e.name for e in INSTALLED])
def test_condition_follows_the_spec(entry):
    cls = entry.cls
    condition = cls()
    assert condition.name == entry.name
    slots = validate_slots(entry.name, condition.slots())
    assert slots == entry.slots
    # the config survives its JSON round trip and rebuilds the same slots
    config = cls.config_class.from_dict(condition.config.to_dict())
    assert config == condition.config
    assert cls(config).slots() == slots
    # the slots fit a sequence layout, and every slot's positions are where the layout says
    layout = SequenceLayout((2, 2), 3, [(entry.name, s) for s in slots])
    for slot in slots:
        positions = layout.positions(f"{entry.name}.{slot.name}")
        assert positions.shape == ((slot.length,) if slot.level != "frame" else (3, slot.length))
    # trainable modules, if any, have a state dict that loads back
    state = condition.state_dict()
    cls(config).load_state_dict(state)
