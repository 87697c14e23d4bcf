"""``ccvs train transformer`` end to end on tiny models: tokens cached once, samples, export, exact resume."""

import json

import pytest
import torch

from ccvs_core.cli import main
from ccvs_core.errors import ConfigError, InputError
from ccvs_core.training.transformer_run import plan_transformer_run
from ccvs_core.weights import load_tensors
from tests.helpers import stage2_argv, train_transformer


def test_stage2_trains_writes_samples_and_exports(stage1, tmp_path):
    out = tmp_path / "t"
    trainer = train_transformer(stage1, out, steps=4)
    assert trainer.step == 4 and trainer.layout.grid == (4, 4)
    assert (out / "samples" / "step-00000004-prediction.png").is_file()
    config = json.loads((out / "transformer" / "config.json").read_text())
    assert config["transformer"]["layers"] == 2 and config["step"] == 4
    tokens = load_tensors(out / "tokens" / "train.safetensors")
    assert all(t.dtype == torch.int32 and t.shape[1:] == (4, 4) for t in tokens.values())
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert logged[-1]["step"] == 4 and logged[-1]["loss"] > 0


def test_stage2_resumes_exactly(stage1, tmp_path):
    straight = train_transformer(stage1, tmp_path / "a", steps=4)
    train_transformer(stage1, tmp_path / "b", steps=2)
    resumed = train_transformer(stage1, tmp_path / "b", steps=4)
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6), name


def test_gradient_accumulation_takes_the_same_steps(stage1, tmp_path):
    whole = train_transformer(stage1, tmp_path / "a", steps=3, batch_size=4)
    passes = train_transformer(stage1, tmp_path / "b", steps=3, batch_size=4, accumulate=4)
    for (name, a), b in zip(
        whole.model.state_dict().items(), passes.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-5, rtol=0), name
    logs = [json.loads((tmp_path / r / "log.jsonl").read_text().splitlines()[-1]) for r in "ab"]
    assert logs[0]["loss"] == pytest.approx(logs[1]["loss"], rel=1e-5)
    with pytest.raises(InputError, match="--accumulate: 3 passes cannot split evenly the 4 windows"):
        train_transformer(stage1, tmp_path / "c", steps=1, batch_size=4, accumulate=3)


def test_compiled_training_takes_the_same_steps(stage1, tmp_path, monkeypatch):
    from ccvs_core.training import acceleration

    monkeypatch.setattr(acceleration, "BACKEND", "eager")  # dynamo's graphs, without inductor's codegen
    plain = train_transformer(stage1, tmp_path / "a", steps=3)
    compiled = train_transformer(stage1, tmp_path / "b", steps=3, compile=True)
    assert compiled.forward_loss is not compiled.loss  # the compiled wrapper trained
    for (name, a), b in zip(
        plain.model.state_dict().items(), compiled.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-5, rtol=0), name
    exported = load_tensors(tmp_path / "b" / "transformer" / "model.safetensors")
    assert exported.keys() == load_tensors(tmp_path / "a" / "transformer" / "model.safetensors").keys()


def test_stage2_refuses_bad_starts(stage1, tmp_path):
    with pytest.raises(InputError, match="--autoencoder: is required"):
        plan_transformer_run(tmp_path / "t", None, None, {})
    train_transformer(stage1, tmp_path / "t", steps=2)
    with pytest.raises(ConfigError, match=r"holds a run started with training\.lr"):
        plan_transformer_run(tmp_path / "t", None, None, {"training": {"lr": 0.5}})


def test_stage2_command_line(stage1, tmp_path, capsys):
    data, autoencoder = stage1
    argv = ["train", "transformer", "--data", str(data), "--autoencoder", str(autoencoder)]
    assert main([*argv, "--out", str(tmp_path / "t"), "--preset", "tiny", "--steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert "transformer exported to" in printed
    assert (
        f"ccvs generate --model {tmp_path / 't' / 'pipeline'}" in printed
    )  # one line: paths are not wrapped


def test_stage2_trains_in_bfloat16_and_keeps_float32_weights(stage1, tmp_path):
    data, autoencoder = stage1
    argv = ["train", "transformer", "--data", str(data), "--autoencoder", str(autoencoder), "--preset"]
    assert main([*argv, "tiny", "--out", str(tmp_path / "b"), "--steps", "2", "--precision", "bfloat16"]) == 0
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert run["training"]["precision"] == "bfloat16"
    logged = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert logged[-1]["step"] == 2 and torch.isfinite(torch.tensor(logged[-1]["loss"]))
    weights = load_tensors(tmp_path / "b" / "transformer" / "model.safetensors")
    assert all(w.dtype == torch.float32 for w in weights.values())
    # the same first step in both precisions: bfloat16 rounds, it does not change what is learnt
    float32 = train_transformer(stage1, tmp_path / "f", steps=1)
    bfloat16 = train_transformer(stage1, tmp_path / "g", steps=1, precision="bfloat16")
    first = [json.loads((tmp_path / d / "log.jsonl").read_text().splitlines()[0])["loss"] for d in "fg"]
    assert first[1] == pytest.approx(first[0], rel=0.02)
    for (name, a), b in zip(
        float32.model.state_dict().items(), bfloat16.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=2e-3), name
    # resuming may switch precision; a bad value is refused by name
    assert main([*argv, "tiny", "--out", str(tmp_path / "b"), "--steps", "3", "--precision", "float32"]) == 0
    with pytest.raises(ConfigError, match="precision"):
        plan_transformer_run(tmp_path / "h", autoencoder, "tiny", {"training": {"precision": "float16"}})


def test_stage2_with_conditions_resumes_exactly_and_caches_their_tokens(stage1, tmp_path):
    from ccvs_core.training.transformer import TransformerTrainer

    def train(out, steps):
        run = plan_transformer_run(
            out,
            stage1[1],
            "tiny",
            {"training": {"steps": steps}},
            {"class": {}, "state": {"bins": 8}, "endframe": {}},
        )
        trainer = TransformerTrainer(run, stage1[0], out, progress=False)
        trainer.fit()
        return trainer

    straight = train(tmp_path / "a", 4)
    train(tmp_path / "b", 2)
    cache = tmp_path / "b" / "tokens" / "train-conditions.safetensors"
    before = cache.stat().st_mtime_ns
    resumed = train(tmp_path / "b", 4)
    assert cache.stat().st_mtime_ns == before  # the conditions' tokens were read back, not recomputed
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6), name
    assert resumed.model.gap is not None  # the end frame has a target slot
    assert sorted(json.loads((tmp_path / "b" / "pipeline" / "config.json").read_text())["conditions"]) == [
        "class",
        "endframe",
        "state",
    ]
    samples = sorted((tmp_path / "b" / "samples").glob("*.png"))
    assert samples  # the sample grids were made with the sample clips' own conditions


def test_stage2_refuses_other_conditions_on_resume_and_bad_condition_fields(stage1, tmp_path, capsys):
    argv = stage2_argv(stage1)
    assert main([*argv, "--out", str(tmp_path / "t"), "--steps", "1", "--cond", "class"]) == 0
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "t"), "--steps", "2", "--cond", "state"]) == 2
    assert "trained with conditions ['class'], not ['state']" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "u"), "--cond", "state:bins=many"]) == 2
    assert "bins" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "u"), "--cond", "state:colour=red"]) == 2
    assert "colour" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "u"), "--cond", "state:bins"]) == 2
    assert "'bins' is not KEY=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "u").exists()


def test_stage2_logs_a_held_out_loss_at_each_checkpoint(stage1, tmp_path):
    from ccvs_core.training.transformer import HELD_OUT_WINDOWS
    from ccvs_core.training.transformer_loss import held_out_loss

    trainer = train_transformer(stage1, tmp_path / "t", steps=4, checkpoint_every=2)
    logged = {r["step"]: r for r in map(json.loads, (tmp_path / "t" / "log.jsonl").read_text().splitlines())}
    assert sorted(s for s, r in logged.items() if "val_loss" in r) == [2, 4]
    assert "val_loss" not in logged.get(1, {}) and "loss" in logged[4]
    # the val split's windows (toyworld: video 8 of 10), cached like the training ones, not trained on
    val_ids = set(load_tensors(tmp_path / "t" / "tokens" / "val.safetensors"))
    assert val_ids and not val_ids & set(trainer.tokens)
    # the logged value is the loss of those windows under the final weights, the same at every call
    trainer.model.train()
    again = held_out_loss(trainer.model, trainer.held_out, HELD_OUT_WINDOWS, 3)
    assert again == pytest.approx(logged[4]["val_loss"], rel=1e-5)
    assert trainer.model.training  # the mode it found is put back


def test_stage2_without_a_val_split_trains_and_says_so(stage1, tmp_path, capsys):
    import shutil

    data, autoencoder = stage1
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    shutil.rmtree(copy / "v00008")  # the one val video
    trainer = train_transformer((copy, autoencoder), tmp_path / "t", steps=2)
    said = " ".join(capsys.readouterr().err.split())  # the console writes to stderr, wrapped
    assert trainer.held_out is None and "no held-out loss" in said and "no 'val' video" in said
    logged = [json.loads(line) for line in (tmp_path / "t" / "log.jsonl").read_text().splitlines()]
    assert logged[-1]["step"] == 2 and not any("val_loss" in r for r in logged)
