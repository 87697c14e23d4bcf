"""SequenceLayout: lengths, ids and the position mapping of DESIGN.md §3 for several slot mixes."""

import pytest
import torch

from ccvs_core import InputError, Slot
from ccvs_core.sequence import SequenceLayout

END = ("endframe", Slot("target", 4, 16))
CLASS = ("class", Slot("video", 1, 5))
STATE = ("state", Slot("frame", 2, 128))
AUDIO = ("audio", Slot("frame", 3, 64))

MIXES = {
    "none": [],
    "video-only": [END, CLASS],
    "frame-only": [STATE, AUDIO],
    "both": [CLASS, STATE, END, AUDIO],
}


def expected_ids(grid, n, slots):
    """Build the expected [slot id, time, index] list by hand, straight from DESIGN.md §3."""
    ids = {f"{c}.{s.name}": i + 2 for i, (c, s) in enumerate(slots)}
    rows = [(1, -1, 0)]  # the start token
    for c, s in slots:
        if s.level != "frame":
            rows += [(ids[f"{c}.{s.name}"], -1, i) for i in range(s.length)]
    for t in range(n):
        for c, s in slots:
            if s.level == "frame":
                rows += [(ids[f"{c}.{s.name}"], t, i) for i in range(s.length)]
        rows += [(0, t, i) for i in range(grid[0] * grid[1])]
    return rows


@pytest.mark.parametrize("mix", MIXES)
def test_lengths_and_ids_follow_the_design(mix):
    slots = MIXES[mix]
    grid, n = (2, 3), 4
    layout = SequenceLayout(grid, n, slots)
    lv = sum(s.length for _, s in slots if s.level != "frame")
    lf = sum(s.length for _, s in slots if s.level == "frame")
    assert layout.length == 1 + lv + n * (lf + 6)  # L = 1 + lv + N * (lf + h*w)
    rows = list(zip(layout.slot_ids.tolist(), layout.times.tolist(), layout.indices.tolist(), strict=True))
    assert rows == expected_ids(grid, n, slots)
    assert layout.frame_mask.tolist() == [sid == 0 for sid, _, _ in rows]
    assert layout.frame_mask.sum() == n * 6
    targeted = [layout.slots[sid].level == "target" for sid, _, _ in rows]
    assert layout.target_mask.tolist() == targeted


def test_paper_sizes():
    """The authors' released settings: 16 frames x 64 tokens = 1,024; + state 2/frame = 1,056; audio
    16/frame = 1,280 — plus our one start token."""
    assert SequenceLayout((8, 8), 16).length == 1 + 1024
    assert SequenceLayout((8, 8), 16, [("state", Slot("frame", 2, 128))]).length == 1 + 1056
    assert SequenceLayout((8, 8), 16, [("audio", Slot("frame", 16, 1024))]).length == 1 + 1280


@pytest.mark.parametrize("mix", MIXES)
def test_join_split_round_trip_and_locate(mix):
    slots = MIXES[mix]
    layout = SequenceLayout((2, 3), 4, slots)
    generator = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 100, (2, 4, 2, 3), generator=generator)
    conditions = {}
    for c, s in slots:
        shape = (2, s.length) if s.level != "frame" else (2, 4, s.length)
        conditions.setdefault(c, {})[s.name] = torch.randint(0, s.vocab_size, shape, generator=generator)
    sequence = layout.join(frames, conditions)
    assert sequence.shape == (2, layout.length)
    frames_back, conditions_back = layout.split(sequence)
    assert torch.equal(frames_back, frames)
    assert conditions_back.keys() == conditions.keys()
    for c in conditions:
        for name, value in conditions[c].items():
            assert torch.equal(conditions_back[c][name], value)
    # every position maps to (slot, time, index) and back
    for position in range(layout.length):
        key, t, i = layout.locate(position)
        positions = layout.positions(key)
        assert (positions[i] if t < 0 else positions[t, i]) == position
    assert layout.frame_tokens_start(1) == layout.positions("frame")[1, 0]
    assert layout.frame_start(1) == layout.frame_tokens_start(1) - layout.frame_condition_length


def test_bad_layouts_and_inputs_are_refused():
    with pytest.raises(InputError, match="grid height"):
        SequenceLayout((0, 2), 4)
    with pytest.raises(InputError, match="appears twice"):
        SequenceLayout((2, 2), 4, [STATE, STATE])
    layout = SequenceLayout((2, 2), 2, [STATE])
    with pytest.raises(InputError, match="frame tokens"):
        layout.join(torch.zeros(1, 3, 2, 2), {"state": {"tokens": torch.zeros(1, 2, 2)}})
    with pytest.raises(InputError, match="missing slots"):
        layout.join(torch.zeros(1, 2, 2, 2), {})
    with pytest.raises(InputError, match="outside the sequence"):
        layout.locate(layout.length)
    with pytest.raises(InputError, match="not in this layout"):
        layout.positions("audio.tokens")


def test_gap_ids_cover_target_slots_only():
    layout = SequenceLayout((2, 2), 3, [CLASS, END, STATE])
    assert layout.target_conditions() == ["endframe"]
    gaps = layout.gap_ids({"endframe": torch.tensor([5, 9])}, 2)
    assert gaps.shape == (2, layout.length)
    end = layout.positions("endframe.tokens")
    assert gaps[:, end].tolist() == [[5] * 4, [9] * 4]
    others = torch.ones(layout.length, dtype=torch.bool)
    others[end] = False
    assert not gaps[:, others].any()
    with pytest.raises(InputError, match="no target frame"):
        layout.gap_ids({}, 2)
    assert SequenceLayout((2, 2), 3, [STATE]).gap_ids({}, 2) is None


def test_only_frame_slots_can_be_predicted():
    from ccvs_core import PluginError

    with pytest.raises(PluginError, match="only frame-level slots can be predicted"):
        SequenceLayout((2, 2), 2, [("class", Slot("video", 1, 3, predicted=True))])
