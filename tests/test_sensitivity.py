"""``ccvs evaluate --task sensitivity``: the likelihood of the test tokens given each condition's own,
another video's and no input, and generated videos scored against the own input."""

import json
import math

import pytest
import torch

from ccvs_core import CCVSPipeline
from ccvs_core.data.clips import ClipDataset
from ccvs_core.sensitivity import condition_window_tokens, other_index, window_bits
from ccvs_core.slots import Timeline
from ccvs_core.testing import run_cli
from ccvs_core.training.transformer_loss import batch_loss
from tests.helpers import train_with_conditions_cli


def test_other_index_is_the_next_video_with_other_tokens():
    a, b = {"t": torch.tensor([1])}, {"t": torch.tensor([2])}
    assert other_index([a, a, b, a], 0) == 2
    assert other_index([a, a, b, a], 2) == 3
    assert other_index([a, a], 1) is None


@pytest.fixture(scope="module")
def dropout_pipeline(stage1, tmp_path_factory):
    out = tmp_path_factory.mktemp("sensitivity") / "run"
    return train_with_conditions_cli(stage1, out, ["class", "endframe"], steps=2, dropout=0.5)


def test_window_bits_is_the_training_loss_of_the_frame_tokens(stage1, dropout_pipeline):
    pipeline = CCVSPipeline.from_pretrained(dropout_pipeline)
    n = pipeline.transformer.config.window
    clips = ClipDataset(stage1[0], num_frames=n, size=pipeline.frame_size, split="train", crop="first")
    clip = clips[0]
    frames = pipeline.context_tokens(clip.frames)[None]
    timeline = Timeline(n, pipeline.fps)
    tokens = {name: condition_window_tokens(c, clip, timeline) for name, c in pipeline.conditions.items()}
    bits = window_bits(pipeline, frames, tokens)
    with torch.no_grad():
        loss = batch_loss(pipeline.transformer, frames, tokens, {"endframe": torch.tensor([n - 1])})
    per_token = float(bits) * n * math.log(2) / (n * frames[0, 0].numel())
    assert per_token == pytest.approx(float(loss), rel=1e-5)


def test_the_sensitivity_task_scores_every_condition(stage1, dropout_pipeline, tmp_path):
    out = tmp_path / "sensitivity.json"
    argv = ["evaluate", "--model", str(dropout_pipeline), "--data", str(stage1[0]), "--task", "sensitivity"]
    argv += ["--split", "train", "--frames", "4", "--videos", "4", "--out", str(out)]
    assert run_cli(argv) == 0
    result = json.loads(out.read_text())
    assert set(result["likelihood"]) == {"class", "endframe"}
    endframe = result["likelihood"]["endframe"]
    assert {"own", "other", "none"} <= set(endframe) and endframe["videos"] == 4
    assert endframe["own"]["mean"] != endframe["none"]["mean"]  # the tokens reach the model
    # the end frame's measures are SSIMs: read as 1 - SSIM, the own and the other input
    cpc = result["generation"]["endframe"]["endframe.cpc"]
    assert 0 <= cpc["own"]["mean"] <= 2 and cpc["ratio"] == pytest.approx(
        cpc["own"]["mean"] / cpc["other"]["mean"]
    )
    assert "class" not in result["generation"]  # it declares no measures


def test_the_sensitivity_task_needs_conditions_and_whole_windows(stage1, dropout_pipeline, tmp_path):
    argv = ["evaluate", "--model", str(dropout_pipeline), "--data", str(stage1[0]), "--task", "sensitivity"]
    assert run_cli([*argv, "--split", "train", "--frames", "3"]) == 2  # the tiny window is 4 frames
    assert run_cli([*argv, "--split", "train", "--frames", "4", "--videos", "1"]) == 2
