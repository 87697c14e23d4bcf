"""ccvs-plugin-endframe: discovery, tokens through the pipeline's E and Q, the timed slot, the CLI."""

import numpy as np
import pytest
import torch
from ccvs_plugin_endframe import EndFrameCondition

from ccvs_core import InputError, PluginError, Timeline, get_condition, list_conditions
from ccvs_core.media import read_frames, read_image, write_image
from ccvs_core.pipeline import CCVSPipeline
from tests.helpers import first_frame_file, generate_cli, train_with_conditions_cli


def test_discovered_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "endframe")
    assert entry.ok, entry.error
    assert entry.package == "ccvs-plugin-endframe"
    assert get_condition("endframe") is EndFrameCondition
    assert [s.timed for s in entry.slots] == [True]


@pytest.fixture(scope="module")
def pipeline_dir(stage1, tmp_path_factory):
    return train_with_conditions_cli(stage1, tmp_path_factory.mktemp("endframe") / "run", ["endframe"])


def test_trained_config_follows_the_autoencoder(pipeline_dir):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    condition = pipeline.conditions["endframe"]
    grid = pipeline.autoencoder.config.token_grid(pipeline.frame_size)
    assert condition.config.grid == grid
    assert condition.config.codebook_size == pipeline.autoencoder.config.codebook_size
    assert condition.slots()[0].length == grid[0] * grid[1]


def test_tokens_are_the_frame_tokens_of_the_image(pipeline_dir, stage1):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    condition = pipeline.conditions["endframe"]
    image = read_image(first_frame_file(stage1[0]))
    tokens = condition.tokenize(condition.parse(str(first_frame_file(stage1[0]))), Timeline(9, 10.0))[
        "tokens"
    ]
    expected = pipeline.context_tokens(image[None]).flatten(1)
    assert torch.equal(tokens, expected)
    assert condition.target_frame(image, Timeline(9, 10.0)) == 8  # the last frame of a 9-frame video
    # in training, row e of the video's tokens is the tokens of frame e
    frame_tokens = torch.randint(0, 32, (6, *condition.config.grid))
    rows = condition.video_tokens(None, frame_tokens)["tokens"]
    assert rows.shape == (6, condition.slots()[0].length) and torch.equal(rows[3], frame_tokens[3].flatten())


def test_bad_inputs(tmp_path, pipeline_dir):
    condition = CCVSPipeline.from_pretrained(pipeline_dir).conditions["endframe"]
    with pytest.raises(InputError, match="file not found"):
        condition.parse(str(tmp_path / "none.png"))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"broken\.png"):
        condition.parse(str(tmp_path / "broken.png"))
    with pytest.raises(InputError, match="must be a uint8 image"):
        condition.tokenize(np.zeros((4, 4), np.uint8), Timeline(4, 10.0))
    with pytest.raises(PluginError, match="before setup"):
        EndFrameCondition().tokenize(np.zeros((4, 4, 3), np.uint8), Timeline(4, 10.0))


def test_ccvs_generates_between_a_start_and_an_end_frame(pipeline_dir, stage1, tmp_path, capsys):
    start = first_frame_file(stage1[0])
    end = tmp_path / "end.png"
    write_image(end, read_frames(start.parent)[-1])
    for frames in (4, 9):  # shorter and longer than the 4-frame window: the gap embedding moves
        out = tmp_path / f"video-{frames}.gif"
        assert generate_cli(pipeline_dir, out, [f"endframe:{end}"], context=start, frames=frames) == 0
        assert read_frames(out).shape[0] == frames
    capsys.readouterr()
    assert (
        generate_cli(pipeline_dir, tmp_path / "x.gif", [f"endframe:{tmp_path / 'none.png'}"], context=start)
        == 2
    )
    assert "file not found" in capsys.readouterr().err


def test_a_batch_of_end_frames_gives_what_each_gives_alone(pipeline_dir, stage1):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    frames = read_frames(first_frame_file(stage1[0]).parent)
    inputs = [{"endframe": frames[-1]}, {"endframe": frames[2]}]  # other end frames, other target tokens
    contexts = [frames[:1], frames[:1]]
    batch = pipeline.generate_batch(contexts, inputs, num_frames=7, num_samples=2, seeds=[5, 6])
    for video, raw, seed in zip(batch, inputs, (5, 6), strict=True):
        assert np.array_equal(
            video, pipeline.generate(frames[:1], raw, num_frames=7, num_samples=2, seed=seed)
        )
    # each video's samples carry its own end frame's tokens and target
    _, tokens, _ = pipeline._generate(contexts, inputs, 7, 2, [5, 6], None, None, None)
    (given,) = tokens["endframe"].values()
    for v, image in enumerate((frames[-1], frames[2])):
        expected = pipeline.context_tokens(image[None]).flatten()
        assert all(torch.equal(given[2 * v + i], expected) for i in range(2))
