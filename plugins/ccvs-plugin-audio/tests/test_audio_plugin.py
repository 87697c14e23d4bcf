"""ccvs-plugin-audio: registered through its entry point, valid slots, clear 'not built yet' errors."""

import pytest
from ccvs_plugin_audio import AudioCondition, AudioConfig

from ccvs_core import PluginError, Timeline, get_condition, list_conditions
from ccvs_core.sequence import SequenceLayout


def test_discovered_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "audio")
    assert entry.ok, entry.error
    assert entry.package == "ccvs-plugin-audio"
    assert entry.source == "entry point"
    assert get_condition("audio") is AudioCondition


def test_slots_fit_a_sequence_layout():
    condition = AudioCondition(AudioConfig())
    slots = condition.slots()
    assert {s.level for s in slots} == {"frame"}
    layout = SequenceLayout((2, 2), 3, [("audio", s) for s in slots])
    per_frame = sum(s.length for s in slots if s.level == "frame")
    per_video = sum(s.length for s in slots if s.level == "video")
    assert layout.length == 1 + per_video + 3 * (per_frame + 4)  # + the start token


@pytest.mark.parametrize("method", ["parse", "from_sample", "tokenize"])
def test_unbuilt_methods_say_so(method):
    condition = get_condition("audio")()
    args = {"parse": ("x",), "from_sample": (None,), "tokenize": (None, Timeline(4, 10.0))}[method]
    with pytest.raises(PluginError, match="not built yet"):
        getattr(condition, method)(*args)
