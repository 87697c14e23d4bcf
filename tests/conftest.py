"""Shared fixtures."""

import pytest

from tests.helpers import write_video_folder


@pytest.fixture
def tiny_dataset(tmp_path):
    """Four videos: three train (6, 6 and 3 frames), one test."""
    root = tmp_path / "dataset"
    write_video_folder(root, "a", seed=1)
    write_video_folder(root, "b", seed=2, label="run", audio_rate=None, layout=False)
    write_video_folder(root, "c", num_frames=3, seed=3)
    write_video_folder(root, "d", split="test", seed=4)
    return root
