"""ccvs-plugin-state: trajectory files (good and bad), resampling, quantization, the CLI end to end."""

import json

import numpy as np
import pytest
import torch
from ccvs_plugin_state import StateCondition, StateConfig, Trajectory, __version__, read_trajectory

from ccvs_core import (
    CCVSPipeline,
    CheckpointError,
    ConditionContext,
    InputError,
    PluginError,
    Timeline,
    get_condition,
    list_conditions,
    read_frames,
)
from ccvs_core.testing import ConditionConformance, generate_cli, tiny_world, train_pipeline


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


def test_discovered_through_its_entry_point():
    entry = next(e for e in list_conditions() if e.name == "state")
    assert entry.ok, entry.error
    assert entry.package == "ccvs-plugin-state"
    assert get_condition("state") is StateCondition
    # 2 tokens per frame: by default a cell of the (default 8 x 8) token grid and an offset within it
    assert [(s.name, s.level, s.length, s.vocab_size, s.init) for s in entry.slots] == [
        ("cell", "frame", 1, 64, "cell"),
        ("offset", "frame", 1, 16, "random"),
    ]
    # the paper's setting: x and y from 128 bins each, each pointing along its axis
    paper = StateCondition(StateConfig(encoding="xy"))
    assert [(s.name, s.length, s.vocab_size, s.init) for s in paper.slots()] == [
        ("x", 1, 128, "column"),
        ("y", 1, 128, "row"),
    ]


OPTIONS = StateCondition.options_class()


class TestStateConformance(ConditionConformance):
    condition = "state"
    config = {"offset_bins": 2}  # noqa: RUF012
    bad_values = ["no/such/trajectory.json"]  # noqa: RUF012

    def cli_value(self, world, folder):
        return str(write(folder, {"fps": 10, "positions": [[2.0 * t, 16.0] for t in range(10)]}))


class TestPaperStateConformance(TestStateConformance):
    config = {"encoding": "xy", "bins": 16}  # noqa: RUF012


def with_frame(condition, size=(32, 64)):
    condition.context = ConditionContext(lambda f: None, size, 10.0, (4, 8), 32)
    return condition


def write(tmp_path, data, name="traj.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_tokens_are_bins_of_the_resampled_positions(tmp_path):
    condition = with_frame(StateCondition(StateConfig(encoding="xy", bins=8)))  # frame 32 high, 64 wide
    # 5 fps trajectory, the video at 10 fps: every other frame is interpolated
    path = write(tmp_path, {"fps": 5, "positions": [[0, 0], [16, 8], [32, 16], [63.9, 31.9]]})
    slots = condition.tokenize(condition.parse(str(path), OPTIONS), Timeline(7, 10.0))
    assert slots["x"].shape == slots["y"].shape == (1, 7, 1) and slots["x"].dtype == torch.long
    tokens = torch.cat([slots["x"], slots["y"]], dim=-1)
    x = np.array([0, 8, 16, 24, 32, 47.95, 63.9])  # x at 0, 0.1, ... 0.6 s
    assert tokens[0, :, 0].tolist() == np.floor(x / 64 * 8).astype(int).tolist()
    assert tokens[0, :, 1].tolist() == np.floor(x / 2 / 32 * 8).astype(int).tolist()
    # later windows start later in the trajectory; outside the frame falls in the edge bins
    later = condition.tokenize(Trajectory(np.array([[-5.0, 100.0]] * 20), 10.0), Timeline(3, 10.0, 4))
    assert later["x"][0].tolist() == [[0]] * 3 and later["y"][0].tolist() == [[7]] * 3
    assert np.allclose(condition.dequantize(np.array([0, 7]), (32, 64)), [4, 30])


def test_cell_tokens_name_the_frame_token_and_the_place_in_it():
    # frame 32 x 64, token grid 4 x 8: cells of 8 x 8 pixels, 2 x 2 offsets of 4 pixels in each
    condition = with_frame(StateCondition(StateConfig(offset_bins=2, grid=(4, 8))))
    xy = np.array([[0.0, 0.0], [13.0, 21.0], [63.9, 31.9], [-5.0, 100.0]])
    tokens = condition.tokenize(Trajectory(xy, 10.0), Timeline(4, 10.0))
    assert tokens["cell"].shape == tokens["offset"].shape == (1, 4, 1)
    # (13, 21): column 1, row 2 -> cell 17; 5 px right, 5 px down in it -> offset (1, 1) = 3
    assert tokens["cell"][0, :, 0].tolist() == [0, 17, 31, 24]
    assert tokens["offset"][0, :, 0].tolist() == [0, 3, 3, 2]
    both = torch.cat([tokens["cell"], tokens["offset"]], -1)[0].numpy()
    assert np.allclose(condition.dequantize(both, (32, 64))[1], [14, 22])  # the offset bin's centre
    # a grid other than the pipeline's is refused, naming both
    other = with_frame(StateCondition(StateConfig(grid=(8, 8))))
    with pytest.raises(PluginError, match=r"configured for a \(8, 8\) token grid.*makes \(4, 8\)"):
        other.tokenize(Trajectory(xy, 10.0), Timeline(4, 10.0))


def test_size_maps_positions_like_the_context_frames(tmp_path):
    path = write(tmp_path, {"fps": 10, "positions": [[100, 50]], "size": [200, 100]})
    assert np.allclose(read_trajectory(path, (32, 64)).positions, [[32, 16]])  # 200x100 -> 64x32


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ({"positions": [[1, 2]]}, "must be an object"),
        ({"fps": 10, "positions": [[1, 2]], "speed": 3}, "unknown keys"),
        ({"fps": 0, "positions": [[1, 2]]}, "'fps' must be a positive number"),
        ({"fps": 10, "positions": []}, "must be a non-empty list"),
        (
            {"fps": 10, "positions": [[1, 2], [1, "NaN"]]},
            r"positions\[1\] must be \[x, y\] with finite numbers",
        ),
        ('{"fps": 10, "positions": [[1, 2], [NaN, 3]]}', "is not valid JSON .holds NaN"),
        ('{"fps": 1e400, "positions": [[1, 2]]}', "1e400, which overflows a float"),
        ('{"fps": 10, "positions": [[1' + "0" * 5000 + ", 2]]}", r"beyond 2\*\*53"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
        ({"fps": 10, "positions": [[1, 2]], "size": [0, 5]}, "'size' must be"),
    ],
)
def test_bad_trajectory_files_name_the_file_and_the_problem(tmp_path, content, problem):
    path = write(tmp_path, content)
    with pytest.raises(InputError, match=problem) as err:
        read_trajectory(path)
    assert str(path) in str(err.value)


def test_a_trajectory_shorter_than_the_video_is_refused(tmp_path):
    condition = with_frame(StateCondition())
    path = write(tmp_path, {"fps": 10, "positions": [[1, 2]] * 3})
    with pytest.raises(InputError, match=r"covers 0\.200 s .* needs 0\.500 s"):
        condition.tokenize(condition.parse(str(path), OPTIONS), Timeline(6, 10.0))
    with pytest.raises(InputError, match="trajectory file not found"):
        condition.parse(str(tmp_path / "none.json"), OPTIONS)


def test_ccvs_trains_and_generates_with_a_trajectory(world, tmp_path, capsys):
    pipeline_dir = train_pipeline(world, tmp_path / "run", ["state:offset_bins=2"])
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    config = pipeline.conditions["state"].config
    assert config.offset_bins == 2 and config.grid == pipeline.transformer.layout.grid
    h, w = pipeline.frame_size
    path = write(tmp_path, {"fps": 10, "positions": [[w * t / 10, h / 2] for t in range(10)]})
    context = world.first_frame()
    assert generate_cli(pipeline_dir, tmp_path / "a.mp4", [f"state:{path}"], context=context, frames=7) == 0
    assert read_frames(tmp_path / "a.mp4").shape[0] == 7
    capsys.readouterr()
    assert generate_cli(pipeline_dir, tmp_path / "b.mp4", [f"state:{path}"], context=context, frames=12) == 2
    assert "the video needs 1.100 s" in capsys.readouterr().err
    assert not (tmp_path / "b.mp4").exists()
    # a pipeline whose tensors no longer fit the plugin's slots names the plugin versions
    config = json.loads((pipeline_dir / "config.json").read_text())
    config["conditions"]["state"].update(version="0.0.1", config={"encoding": "xy", "bins": 8})
    (pipeline_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError, match=r"conditions\.state\.slots': ccvs-plugin-state 0\.0\.1 declared"
    ) as err:
        CCVSPipeline.from_pretrained(pipeline_dir)
    assert f"the installed ccvs-plugin-state {__version__}" in str(err.value)
