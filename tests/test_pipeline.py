"""CCVSPipeline and ``ccvs generate``: save/load round trip, seeds, the CLI's outputs and refusals."""

import json

import numpy as np
import pytest
import torch

from ccvs_core.cli import main
from ccvs_core.errors import CheckpointError, InputError
from ccvs_core.media import read_frames, read_image, write_image
from ccvs_core.pipeline import CCVSPipeline
from tests.helpers import train_transformer


@pytest.fixture(scope="module")
def pipeline_dir(stage1, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage2") / "run"
    train_transformer(stage1, out, steps=2)
    return out / "pipeline"


def context(size=32, frames=2):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (frames, size, size, 3), dtype=np.uint8)


def test_saved_pipeline_loads_back_identically(pipeline_dir, tmp_path):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    assert pipeline.frame_size == (16, 16) and pipeline.fps == 10.0
    pipeline.save_pretrained(tmp_path / "again")
    again = CCVSPipeline.from_pretrained(tmp_path / "again")
    for (name, a), b in zip(pipeline.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    config = json.loads((pipeline_dir / "config.json").read_text())
    assert config["format"] == "ccvs-pipeline" and config["conditions"] == {}


def test_same_seed_same_video_other_seed_other_video(pipeline_dir):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    a = pipeline.generate(context(), num_frames=5, num_samples=2, seed=3)
    assert a.shape == (2, 5, 16, 16, 3) and a.dtype == np.uint8
    assert np.array_equal(a, pipeline.generate(context(), num_frames=5, num_samples=2, seed=3))
    assert not np.array_equal(a, pipeline.generate(context(), num_frames=5, num_samples=2, seed=4))
    # sample 1 of seed 3 is sample 0 of seed 4: the same tokens; decoded in a batch of 2 or of 1, a
    # convolution may round a pixel the other way (1 level on 0.03% of the pixels here)
    b = pipeline.generate(context(), num_frames=5, num_samples=1, seed=4)[0]
    assert np.abs(a[1].astype(int) - b.astype(int)).max() <= 1


def test_a_batch_of_inputs_gives_what_each_input_gives_alone(pipeline_dir):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    first, second = context(frames=1), context(size=24, frames=1)[:, ::-1].copy()
    batch = pipeline.generate_batch([first, second], num_frames=5, num_samples=2, seeds=[3, 7])
    assert batch.shape == (2, 2, 5, 16, 16, 3)
    assert np.array_equal(batch[0], pipeline.generate(first, num_frames=5, num_samples=2, seed=3))
    assert np.array_equal(batch[1], pipeline.generate(second, num_frames=5, num_samples=2, seed=7))
    assert not np.array_equal(batch[0], batch[1])


def test_a_batch_refuses_inputs_that_do_not_line_up(pipeline_dir):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    with pytest.raises(InputError, match=r"same number of frames, got \[1, 2\]"):
        pipeline.generate_batch([context(frames=1), context(frames=2)], num_frames=4)
    with pytest.raises(InputError, match="one seed per context"):
        pipeline.generate_batch([context(), context()], num_frames=4, seeds=[1])
    with pytest.raises(InputError, match="at least one context"):
        pipeline.generate_batch([], num_frames=4)


def test_generation_refuses_bad_requests(pipeline_dir):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    with pytest.raises(InputError, match="must be larger than the 2 context frames"):
        pipeline.generate(context(frames=2), num_frames=2)
    with pytest.raises(InputError, match="was not trained with it"):
        pipeline.generate(context(), conditions={"audio": object()}, num_frames=4)
    with pytest.raises(InputError, match="must be uint8 frames"):
        pipeline.generate(context().astype(np.float32), num_frames=4)


def test_ccvs_generate_writes_a_video_and_a_grid(pipeline_dir, tmp_path, capsys):
    write_image(tmp_path / "start.png", context(frames=1)[0])
    out = tmp_path / "out.mp4"
    argv = ["generate", "--model", str(pipeline_dir), "--context", str(tmp_path / "start.png")]
    assert main([*argv, "--frames", "6", "--samples", "3", "--seed", "1", "--out", str(out)]) == 0
    video = read_frames(out)
    assert video.shape[0] == 6
    grid = read_image(tmp_path / "out.png")
    assert grid.shape[0] > 3 * 16 and grid.shape[1] > 6 * 16  # rows: samples, columns: time
    assert "wrote" in capsys.readouterr().out
    # an existing output (the grid here) is not replaced silently, and nothing is written
    out.unlink()
    assert main([*argv, "--frames", "4", "--out", str(out)]) == 2
    assert f"--out: {tmp_path / 'out.png'} exist(s); give --overwrite" in capsys.readouterr().err
    assert not out.exists()
    assert main([*argv, "--frames", "4", "--out", str(out), "--overwrite"]) == 0
    assert read_frames(out).shape[0] == 4


def test_ccvs_generate_names_bad_inputs(pipeline_dir, tmp_path, capsys):
    write_image(tmp_path / "start.png", context(frames=1)[0])
    base = ["generate", "--model", str(pipeline_dir), "--context", str(tmp_path / "start.png")]
    assert main([*base, "--out", str(tmp_path / "x.avi")]) == 2
    assert "--out: must end in .mp4 or .gif" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "x.mp4"), "--cond", "nosuch:1"]) == 2
    assert "--cond nosuch: this pipeline was not trained with it" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "x.mp4"), "--cond", "state"]) == 2
    assert "must be NAME:VALUE" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "x.mp4"), "--context-frames", "3"]) == 2
    assert "start.png: frame index 2 is past the end (it has 1 frames)" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_loading_a_non_pipeline_folder_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"config\.json: file not found"):
        CCVSPipeline.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "something else"}')
    with pytest.raises(CheckpointError, match="is not a ccvs pipeline config"):
        CCVSPipeline.from_pretrained(tmp_path)
