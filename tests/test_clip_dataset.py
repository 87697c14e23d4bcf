"""ClipDataset: fixed-length clips at a given resolution, with their condition data, and random crops."""

import json
import logging

import numpy as np
import pytest
import torch

from ccvs_core import InputError
from ccvs_core.data.clips import ClipDataset, FrameGeometry, collate_clips


def frame_index_of(frame):
    return int(frame[1:, 1:].float().mean().round().item() - 1) // 10


def test_clips_carry_frames_and_condition_data_aligned(tiny_dataset, caplog):
    with caplog.at_level(logging.WARNING):
        dataset = ClipDataset(tiny_dataset, num_frames=4, size=(8, 12), crop="first")
    assert [v.id for v in dataset.videos] == ["a", "b"]  # c is too short, d is test
    assert "c" in caplog.text and "shorter than 4 frames" in caplog.text
    clip = dataset[0]
    assert clip.frames.shape == (4, 8, 12, 3) and clip.frames.dtype == torch.uint8
    assert clip.frame_indices == [0, 1, 2, 3]
    assert [frame_index_of(f) for f in clip.frames] == [0, 1, 2, 3]
    assert clip.label == "walk" and clip.fps == 10.0
    assert clip.state[:, 0].tolist() == [1.5, 2.5, 3.5, 4.5]
    assert clip.sample_rate == 800 and clip.audio.shape == (1, 320)  # 4 frames at 10 fps, 800 Hz
    assert len(clip.layout["images"]) == 4 and [im["clip_index"] for im in clip.layout["images"]] == [
        0,
        1,
        2,
        3,
    ]
    assert dataset[1].audio is None and dataset[1].layout is None


def test_stride_and_audio_segment_follow_the_frames(tiny_dataset):
    dataset = ClipDataset(tiny_dataset, num_frames=2, size=(8, 12), crop="all", stride=2, split="test")
    assert len(dataset) == 1  # one video of 6 frames: a clip spans 3 stored frames, step 4
    clip = dataset[0]
    assert clip.frame_indices == [0, 2] and clip.fps == 5.0
    assert clip.audio.shape == (1, 320)  # from frame 0 to the end of the second clip frame: 0.4 s
    all_clips = ClipDataset(tiny_dataset, num_frames=2, size=(8, 12), crop="all", split=None)
    starts = [(all_clips.videos[v].id, s) for v, s in all_clips._items]
    assert starts[:3] == [("a", 0), ("a", 2), ("a", 4)]
    samples = all_clips[1].audio[0].numpy()
    assert samples[0] == pytest.approx(160 / 480, abs=1e-4)  # audio starts at frame 2's time


def test_random_crops_are_a_function_of_seed_epoch_and_index(tiny_dataset):
    a = ClipDataset(tiny_dataset, num_frames=2, size=8, seed=5)
    b = ClipDataset(tiny_dataset, num_frames=2, size=8, seed=5)
    starts = [[a.start_frame(i) for i in range(len(a))] for _ in range(2)]
    assert starts[0] == starts[1] == [b.start_frame(i) for i in range(len(b))]
    epochs = []
    for epoch in range(20):
        a.set_epoch(epoch)
        epochs.append(tuple(a.start_frame(i) for i in range(len(a))))
    assert len(set(epochs)) > 1 and all(0 <= s <= 4 for e in epochs for s in e)
    assert [a[i].frame_indices[0] for i in range(len(a))] == list(epochs[-1])


def test_resizing_maps_frames_and_state():
    geometry = FrameGeometry.cover((8, 12), (4, 4))  # scale 0.5 -> 4x6, crop 1 column each side
    assert geometry.scaled == (4, 6) and (geometry.top, geometry.left) == (0, 1)
    assert geometry.map_points(np.array([[2.0, 2.0]])).tolist() == [[0.0, 1.0]]
    frame = np.zeros((8, 12, 3), dtype=np.uint8)
    frame[:, 6:] = 200
    resized = geometry.apply(frame)
    assert resized.shape == (4, 4, 3) and resized[0, 0, 0] < 50 and resized[0, 3, 0] > 150


def test_resized_clips_and_collate(tiny_dataset):
    dataset = ClipDataset(tiny_dataset, num_frames=3, size=4, crop="first")
    batch = collate_clips([dataset[0], dataset[1]])
    assert batch.frames.shape == (2, 3, 4, 4, 3)
    assert batch.state.shape == (2, 3, 2)
    assert batch.state[0, 0].tolist() == pytest.approx([1.5 * 0.5 - 1, 2.5 * 0.5])
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=collate_clips, num_workers=0)
    assert next(iter(loader)).frames.shape == (2, 3, 4, 4, 3)


def test_bad_arguments_and_files_are_refused(tiny_dataset, tmp_path):
    with pytest.raises(InputError, match="no 'val' video"):
        ClipDataset(tiny_dataset, num_frames=2, size=8, split="val")
    with pytest.raises(InputError, match="dataset folder not found"):
        ClipDataset(tmp_path / "nowhere", num_frames=2, size=8)
    with pytest.raises(InputError, match="clip size"):
        ClipDataset(tiny_dataset, num_frames=2, size=(8, 0))
    with pytest.raises(InputError, match="clip crop"):
        ClipDataset(tiny_dataset, num_frames=2, size=8, crop="middle")
    state = tiny_dataset / "a" / "state.json"
    state.write_text(json.dumps({"fps": 10.0, "positions": [[1, 2]] * 5 + [[float("nan"), 1]]}))
    dataset = ClipDataset(tiny_dataset, num_frames=2, size=8, crop="first")
    with pytest.raises(InputError, match=r"state.json: is not valid JSON \(holds NaN"):  # NaN is not JSON
        dataset[0]


def test_the_head_of_a_clip_keeps_its_first_frames_sound_states_and_layouts(tiny_dataset):
    """What a target slot's row e is made from: the same video ending at frame e."""
    clip = ClipDataset(tiny_dataset, num_frames=6, size=(8, 12), crop="first").video_clip(0)
    head = clip.head(3)
    assert head.frame_indices == clip.frame_indices[:3] and torch.equal(head.frames, clip.frames[:3])
    assert torch.equal(head.state, clip.state[:3])
    assert head.audio.shape[1] == round(3 / clip.fps * clip.sample_rate)
    assert torch.equal(head.audio, clip.audio[:, : head.audio.shape[1]])
    assert sorted(im["clip_index"] for im in head.layout["images"]) == [0, 1, 2]
    assert {a["image_id"] for a in head.layout["annotations"]} <= {im["id"] for im in head.layout["images"]}
    with pytest.raises(InputError, match="clip head"):
        clip.head(0)
