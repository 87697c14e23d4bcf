"""ccvs-plugin-endframe: discovery, tokens through the pipeline's E and Q, the target slot, the CLI,
Table D4's measures."""

import numpy as np
import pytest
import torch
from ccvs_plugin_endframe import EndFrameCondition

from ccvs_core import (
    CCVSPipeline,
    InputError,
    PluginError,
    Timeline,
    get_condition,
    list_conditions,
    read_frames,
    read_image,
    write_image,
)
from ccvs_core.testing import ConditionConformance, generate_cli, tiny_world, train_pipeline


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


class TestEndFrameConformance(ConditionConformance):
    condition = "endframe"
    bad_values = ["", "no/such/end.png"]  # noqa: RUF012

    def cli_value(self, world, folder):
        end = folder / "end.png"
        write_image(end, read_frames(world.first_frame().parent)[-1])
        return str(end)


def test_discovered_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "endframe")
    assert entry.ok, entry.error
    assert entry.package == "ccvs-plugin-endframe"
    assert get_condition("endframe") is EndFrameCondition
    assert [(s.level, s.init) for s in entry.slots] == [("target", "frame_tokens")]


@pytest.fixture(scope="module")
def pipeline_dir(world, tmp_path_factory):
    return train_pipeline(world, tmp_path_factory.mktemp("endframe") / "run", ["endframe"])


def test_trained_config_follows_the_autoencoder(pipeline_dir):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    condition = pipeline.conditions["endframe"]
    grid = pipeline.autoencoder.config.token_grid(pipeline.frame_size)
    assert condition.config.grid == grid
    assert condition.config.codebook_size == pipeline.autoencoder.config.codebook_size
    assert condition.slots()[0].length == grid[0] * grid[1]


def test_tokens_are_the_frame_tokens_of_the_image(pipeline_dir, world):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    condition = pipeline.conditions["endframe"]
    image = read_image(world.first_frame())
    raw = condition.parse(str(world.first_frame()), condition.options_class())
    tokens = condition.tokenize(raw, Timeline(9, 10.0))["tokens"]
    expected = pipeline.context_tokens(image[None]).flatten(1)
    assert torch.equal(tokens, expected)


def test_bad_inputs(tmp_path, pipeline_dir):
    condition = CCVSPipeline.from_pretrained(pipeline_dir).conditions["endframe"]
    options = condition.options_class()
    with pytest.raises(InputError, match="file not found"):
        condition.parse(str(tmp_path / "none.png"), options)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"broken\.png"):
        condition.parse(str(tmp_path / "broken.png"), options)
    with pytest.raises(InputError, match="must be a uint8 image"):
        condition.tokenize(np.zeros((4, 4), np.uint8), Timeline(4, 10.0))
    with pytest.raises(PluginError, match="before a pipeline gave it its context"):
        EndFrameCondition().tokenize(np.zeros((4, 4, 3), np.uint8), Timeline(4, 10.0))


def test_ccvs_generates_between_a_start_and_an_end_frame(pipeline_dir, world, tmp_path, capsys):
    start = world.first_frame()
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


def test_a_batch_of_end_frames_gives_what_each_gives_alone(pipeline_dir, world):
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    frames = read_frames(world.first_frame().parent)
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


def test_point_to_point_measures():
    """Table D4's Best, Div. and C.P.C. of one video (its own measures in ccvs evaluate)."""
    import numpy as np
    from ccvs_plugin_endframe import point_to_point

    from ccvs_core import InputError

    rng = np.random.default_rng(0)
    real = rng.integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    noisy = np.clip(real.astype(int) + rng.integers(-60, 60, real.shape), 0, 255).astype(np.uint8)
    one = point_to_point(np.stack([real, noisy]), real, context=1)
    assert one["best"] == pytest.approx(1.0) and one["cpc"] < 1.0 and one["div"] > 0
    assert point_to_point(np.stack([real, real]), real, context=1) == {"best": 1.0, "div": 0.0, "cpc": 1.0}
    with pytest.raises(InputError, match="must leave frames to score"):
        point_to_point(np.stack([real, noisy]), real, context=5)
