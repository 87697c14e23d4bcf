"""Condition dropout: a left-out condition holds its absent tokens, in training (drawn per window, the
same on resume) and at generation (any subset of a dropout-trained model's conditions, none included,
or a condition whose plugin is not installed)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from ccvs_core import CCVSPipeline, InputError, SequenceLayout, Slot
from ccvs_core.config import TransformerConfig
from ccvs_core.models.transformer import VideoTransformer, slot_token_loss
from tests.helpers import first_frame_file, generate_cli, train_with_conditions_cli, user_module


def test_drop_writes_absent_tokens_in_the_chosen_windows_only():
    layout = SequenceLayout((2, 2), 2, [("class", Slot("video", 1, 5)), ("state", Slot("frame", 2, 7))])
    frames = torch.zeros(3, 2, 2, 2, dtype=torch.long)
    tokens = {
        "class": {"tokens": torch.ones(3, 1, dtype=torch.long)},
        "state": {"tokens": torch.ones(3, 2, 2, dtype=torch.long)},
    }
    sequence = layout.join(frames, tokens)
    dropped = layout.drop(sequence, "state", torch.tensor([False, True, False]))
    state = layout.positions("state.tokens").flatten()
    assert (dropped[1, state] == 7).all() and (dropped[[0, 2]][:, state] == 1).all()
    assert torch.equal(
        dropped[:, layout.positions("class.tokens")], sequence[:, layout.positions("class.tokens")]
    )


def test_a_predicted_slot_left_out_is_not_scored():
    layout = SequenceLayout((2, 2), 2, [("layout", Slot("frame", 2, 5, predicted=True))])
    model = VideoTransformer(TransformerConfig(layers=1, heads=2, width=16, window=2), layout, frame_vocab=8)
    sequence = layout.join(
        torch.zeros(2, 2, 2, 2, dtype=torch.long),
        {"layout": {"tokens": torch.ones(2, 2, 2, dtype=torch.long)}},
    )
    hidden = model(sequence, hidden=True)
    assert slot_token_loss(model, hidden, sequence) > 0
    both = layout.drop(sequence, "layout", torch.tensor([True, True]))
    assert slot_token_loss(model, model(both, hidden=True), both) == 0  # nothing to predict
    one = layout.drop(sequence, "layout", torch.tensor([True, False]))
    assert torch.isfinite(slot_token_loss(model, model(one, hidden=True), one))


def test_a_dropout_trained_pipeline_takes_any_subset_of_its_conditions(stage1, tmp_path):
    pipeline_dir = train_with_conditions_cli(
        stage1, tmp_path / "run", ["class", "state:offset_bins=2", "endframe"], steps=2, dropout=0.5
    )
    assert json.loads((pipeline_dir / "config.json").read_text())["condition_dropout"] == 0.5
    context = first_frame_file(stage1[0])
    assert generate_cli(pipeline_dir, tmp_path / "none.gif", [], context=context, frames=3) == 0
    pipeline = CCVSPipeline.from_pretrained(pipeline_dir)
    classes = pipeline.conditions["class"].config.classes
    assert (
        generate_cli(pipeline_dir, tmp_path / "class.gif", [f"class:{classes[0]}"], context=context, frames=3)
        == 0
    )
    a = pipeline.generate(None, {}, num_frames=3, num_samples=1, seed=4)
    b = pipeline.generate(None, {"class": classes[0]}, num_frames=3, num_samples=1, seed=4)
    assert a.shape == b.shape == (1, 3, 16, 16, 3)


def test_dropout_draws_are_a_function_of_seed_and_step(stage1, tmp_path):
    from ccvs_core.training.transformer import TransformerTrainer
    from ccvs_core.training.transformer_run import plan_transformer_run

    data, autoencoder = stage1
    overrides = {"training": {"steps": 1, "condition_dropout": 0.5}}
    run = plan_transformer_run(tmp_path / "t", autoencoder, "tiny", overrides, {"class": {}, "state": {}})
    trainer = TransformerTrainer(run, data, tmp_path / "t", progress=False)
    first = trainer.dropped(64)
    assert set(first) == {"class", "state"} and 10 < int(first["class"].sum()) < 54
    assert all(torch.equal(first[c], trainer.dropped(64)[c]) for c in first)
    trainer.step = 1
    assert not torch.equal(first["class"], trainer.dropped(64)["class"])


def test_without_dropout_every_condition_is_needed(stage1, tmp_path, capsys):
    pipeline_dir = train_with_conditions_cli(stage1, tmp_path / "run", ["class"])
    assert generate_cli(pipeline_dir, tmp_path / "x.gif", [], frames=3) == 2
    assert "trained without --condition-dropout" in capsys.readouterr().err
    with pytest.raises(InputError, match="this pipeline needs it"):
        CCVSPipeline.from_pretrained(pipeline_dir).generate(None, {}, num_frames=3)


def test_a_condition_without_its_plugin_is_left_out(stage1, tmp_path):
    module = tmp_path / "gone_cond.py"
    module.write_text(user_module("gone"))
    data, autoencoder = stage1
    from ccvs_core.testing import run_cli

    argv = [
        "--plugin",
        module,
        "train",
        "transformer",
        "--data",
        data,
        "--autoencoder",
        autoencoder,
        "--preset",
        "tiny",
    ]
    argv += [
        "--out",
        tmp_path / "run",
        "--steps",
        "1",
        "--cond",
        "gone",
        "--cond",
        "class",
        "--condition-dropout",
        "0.3",
    ]
    assert run_cli(argv) == 0
    pipeline = tmp_path / "run" / "pipeline"
    code = "import sys; from ccvs_core.cli import main; sys.exit(main(sys.argv[1:]))"
    out = tmp_path / "a.gif"
    result = subprocess.run(
        [sys.executable, "-c", code, "generate", "--model", str(pipeline), "--frames", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "condition 'gone' (gone_cond -) is not installed" in result.stderr and out.is_file()
    assert "load its module with ccvs --plugin" in result.stderr


def test_guidance_needs_a_dropout_trained_pipeline(stage1, tmp_path, capsys):
    trained = train_with_conditions_cli(stage1, tmp_path / "d", ["class"], dropout=0.5)
    classes = CCVSPipeline.from_pretrained(trained).conditions["class"].config.classes
    assert generate_cli(trained, tmp_path / "g.gif", [f"class:{classes[0]}"], frames=3, guidance=2.0) == 0
    plain = train_with_conditions_cli(stage1, tmp_path / "p", ["class"])
    capsys.readouterr()
    assert generate_cli(plain, tmp_path / "x.gif", [f"class:{classes[0]}"], frames=3, guidance=2.0) == 2
    assert "--guidance: needs a pipeline trained with --condition-dropout" in capsys.readouterr().err
