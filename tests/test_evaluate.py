"""ccvs evaluate: tasks, runs, the JSON with its protocol, refusals."""

import json

import pytest

from ccvs_core.cli import main
from tests.helpers import train_transformer, train_with_conditions_cli


@pytest.fixture(scope="module")
def pipeline_dir(stage1, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate") / "run"
    train_transformer(stage1, out, steps=2)
    return out / "pipeline"


@pytest.fixture(scope="module")
def long_videos(tmp_path_factory):
    """Four 10-frame toyworld videos (all in the train split): I3D needs 9 frames or more."""
    from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld

    root = tmp_path_factory.mktemp("long") / "toyworld"
    generate_toyworld(ToyworldConfig(videos=4, frames=10, size=32, seed=7), root, workers=1, progress=False)
    return root


def evaluate(pipeline, data, *extra):
    return main(
        ["evaluate", "--model", str(pipeline), "--data", str(data), "--frames", "5", "--videos", "2", *extra]
    )


def test_prediction_with_runs_div_and_fvd(pipeline_dir, long_videos, tmp_path, capsys):
    out = tmp_path / "p.json"
    argv = ["--task", "prediction", "--runs", "2", "--samples", "2", "--i3d", "random", "--frames", "10"]
    assert evaluate(pipeline_dir, long_videos, *argv, "--out", str(out), "--split", "train") == 0
    result = json.loads(out.read_text())
    assert len(result["runs"]) == 2 and len(result["runs"][0]["ssim"]) == 10
    assert set(result["summary"]) == {"ssim", "psnr", "fvd", "div_whole", "div_moving"}
    assert result["summary"]["div_whole"][0] > 0
    protocol = result["protocol"]
    assert protocol["colour_order"].startswith("RGB") and protocol["context_frames"] == 1
    assert protocol["videos"] == 2 and protocol["samples_per_video"] == 2
    assert "random" in protocol["fvd"]["weights"]
    assert "ccvs evaluate: prediction" in capsys.readouterr().out


def test_videos_generated_in_batches_score_as_one_at_a_time(pipeline_dir, stage1, monkeypatch):
    from ccvs_core import evaluation
    from ccvs_core.pipeline import CCVSPipeline

    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    setup = evaluation.EvaluationSetup(
        task="prediction", frames=5, samples=2, videos=3, split="train", runs=2
    )
    seen = []
    batched = evaluation.evaluate(pipeline, stage1[0], setup, lambda *shown: seen.append(shown))
    assert batched["protocol"]["videos"] == 3
    assert [(done, total) for _, done, total in seen] == [(d, 6) for d in range(1, 7)]  # a determinate bar
    monkeypatch.setattr(evaluation, "BATCH_SAMPLES", 1)  # one video per batch
    assert evaluation._groups(3, 2) == [[0], [1], [2]]
    assert evaluation.evaluate(pipeline, stage1[0], setup)["runs"] == batched["runs"]


def test_reconstruction_is_deterministic(pipeline_dir, stage1, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # without --out, the results go to the working directory
    assert evaluate(pipeline_dir, stage1[0], "--task", "reconstruction") == 0
    assert evaluate(pipeline_dir, stage1[0], "--task", "reconstruction", "--out", str(tmp_path / "b")) == 0
    assert not (pipeline_dir / "evaluation-reconstruction.json").exists()
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("evaluation-reconstruction.json", "b"))
    assert a["runs"] == b["runs"] and a["runs"][0]["ssim"][0] == pytest.approx(1.0)  # the real first frame
    assert a["protocol"]["fvd"].startswith("not computed")


def test_a_condition_task_adds_the_conditions_own_measures(stage1, tmp_path):
    pipeline = train_with_conditions_cli(stage1, tmp_path / "run", ["endframe"])
    out = tmp_path / "e.json"
    assert evaluate(pipeline, stage1[0], "--task", "endframe", "--samples", "2", "--out", str(out)) == 0
    summary = json.loads(out.read_text())["summary"]
    assert {"endframe.best", "endframe.div", "endframe.cpc"} <= set(summary)  # Table D4, from the plugin


def test_bad_requests_are_refused(pipeline_dir, stage1, tmp_path, capsys):
    assert evaluate(pipeline_dir, stage1[0], "--task", "audio") == 2
    assert "'audio' is not one of reconstruction, prediction" in capsys.readouterr().err
    assert evaluate(pipeline_dir, stage1[0], "--context", "5") == 2
    assert "--context: must be 0 .. 4 frames" in capsys.readouterr().err
    assert evaluate(pipeline_dir, stage1[0], "--i3d", str(tmp_path / "none.pt")) == 2
    assert "I3D weights file not found" in capsys.readouterr().err
