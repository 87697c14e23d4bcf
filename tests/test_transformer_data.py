"""TokenClips: windows of frame tokens with their conditions' tokens, and target slots."""

import torch

from ccvs_core.training.transformer_data import TokenClips


def make(max_gap=64):
    tokens = {"a": torch.arange(10).view(10, 1, 1).expand(10, 2, 2).int()}
    tracks = {
        "a": {
            "state": {"tokens": torch.arange(10).view(10, 1).repeat(1, 2)},  # frame slot [T, 2]
            "class": {"tokens": torch.tensor([3])},  # video slot [1]
            "endframe": {"tokens": torch.arange(10).view(10, 1) * 100},  # target [T, 1]: row e = frame e
        }
    }
    return TokenClips(tokens, 4, seed=0, tracks=tracks, targets={"endframe": ["tokens"]}, max_gap=max_gap)


def test_a_window_reads_its_frames_conditions_and_a_later_target():
    clips = make()
    for draw in range(40):
        item = clips[draw]
        start = int(item["frames"][0, 0, 0])
        assert item["frames"][:, 0, 0].tolist() == list(range(start, start + 4))
        assert item["conditions"]["state"]["tokens"][:, 0].tolist() == list(range(start, start + 4))
        assert item["conditions"]["class"]["tokens"].tolist() == [3]
        gap = int(item["gaps"]["endframe"])
        assert gap >= 1 and start + gap <= 9
        assert item["conditions"]["endframe"]["tokens"].tolist() == [100 * (start + gap)]
    assert torch.equal(clips[7]["frames"], make()[7]["frames"])  # a pure function of (seed, draw)


def test_gaps_stay_within_max_gap():
    clips = make(max_gap=2)
    assert {int(clips[d]["gaps"]["endframe"]) for d in range(60)} <= {1, 2}


def test_batches_collate():
    batch = torch.utils.data.default_collate([make()[d] for d in range(3)])
    assert batch["frames"].shape == (3, 4, 2, 2)
    assert batch["conditions"]["state"]["tokens"].shape == (3, 4, 2)
    assert batch["gaps"]["endframe"].shape == (3,)
