"""The position estimator: soft-argmax geometry, training (resumable) by the CLI, annotating a dataset."""

import json
import shutil

import pytest
import torch
from ccvs_plugin_state.estimator import EstimatorConfig, PositionEstimator

from ccvs_core.testing import run_cli, tiny_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory)


def test_soft_argmax_returns_the_cell_centre_of_a_sharp_peak():
    model = PositionEstimator(EstimatorConfig(latent_dim=1, channels=1))
    z = torch.zeros(1, 1, 4, 8)
    z[0, 0, 1, 6] = 1.0
    with torch.no_grad():  # score = 100 * latent: a sharp peak at row 1, column 6
        for layer in model.net:
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.zero_()
                layer.bias.zero_()
        model.net[0].weight[0, 0, 1, 1] = 1.0
        model.net[2].weight[0, 0, 1, 1] = 1.0
        model.net[4].weight[0, 0] = 100.0
        xy = model(z)
    assert torch.allclose(xy, torch.tensor([[6.5 / 8, 1.5 / 4]]), atol=1e-3)


def test_train_then_annotate_videos_without_states(world, tmp_path, capsys):
    data, autoencoder = world.data, world.autoencoder
    out = tmp_path / "est"
    argv = ["train", "position-estimator", "--data", str(data), "--out", str(out)]
    assert run_cli([*argv, "--autoencoder", str(autoencoder), "--preset", "tiny"]) == 0
    scores = json.loads((out / "eval.json").read_text())
    assert scores["step"] == 4 and scores["pixel_error"] > 0 and scores["mean_position_error"] > 0
    assert run_cli([*argv, "--steps", "6"]) == 0  # resumes
    assert "resuming from" in capsys.readouterr().err
    assert json.loads((out / "eval.json").read_text())["step"] == 6
    # a copy of the dataset where two videos lost their state.json
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    videos = sorted(p for p in copy.iterdir() if p.is_dir())
    for video in videos[:2]:
        (video / "state.json").unlink()
    before = (videos[3] / "state.json").read_text()
    assert (
        run_cli(["data", "annotate-states", "--data", str(copy), "--estimator", str(out / "estimator")]) == 0
    )
    assert "wrote state.json for 2 videos" in capsys.readouterr().out
    state = json.loads((videos[0] / "state.json").read_text())
    assert len(state["positions"]) == json.loads((videos[0] / "meta.json").read_text())["num_frames"]
    assert (videos[3] / "state.json").read_text() == before  # annotated videos are left alone
    assert run_cli(["data", "check", str(copy)]) == 0
    assert run_cli(["data", "annotate-states", "--data", str(copy), "--estimator", str(tmp_path)]) == 2
    assert "config.json" in capsys.readouterr().err
