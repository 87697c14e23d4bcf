"""``ccvs train autoencoder`` end to end on a tiny toyworld: runs, writes what it says, resumes exactly."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from ccvs_core.cli import main
from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
from ccvs_core.errors import CheckpointError, ConfigError
from ccvs_core.models.io import load_autoencoder
from ccvs_core.training.autoencoder import AutoencoderTrainer, plan_run
from ccvs_core.weights import load_tensors


@pytest.fixture(scope="module")
def toyworld(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "toyworld"
    generate_toyworld(ToyworldConfig(videos=10, frames=6, size=32, seed=3), root, workers=1, progress=False)
    return root


PARTS = ("model", "ema", "image_disc", "temporal_disc", "opt_g", "opt_d", "rng")  # of a checkpoint


def cli_argv(toyworld, out):
    return ["train", "autoencoder", "--data", str(toyworld), "--out", str(out), "--preset", "tiny"]


def train(toyworld, out, steps, **training):
    run = plan_run(out, "tiny", {"training": {"steps": steps, **training}})
    trainer = AutoencoderTrainer(run, toyworld, out, progress=False)
    trainer.fit()
    return trainer


def test_training_writes_checkpoints_samples_logs_and_an_export(toyworld, tmp_path):
    out = tmp_path / "run"
    trainer = train(toyworld, out, steps=4)
    assert trainer.step == 4
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000002", "step-00000004"]
    assert (out / "samples" / "step-00000004-video.png").is_file()
    assert (out / "samples" / "step-00000004-flow.png").is_file()
    assert json.loads((out / "run.json").read_text())["autoencoder"]["channels"] == [8, 16]
    model = load_autoencoder(out / "autoencoder")
    ema = load_tensors(out / "checkpoints" / "step-00000004" / "ema.safetensors")
    assert all(torch.equal(v, ema[k]) for k, v in model.state_dict().items())  # the export is the EMA
    assert model.quantizer.initialized  # the codebook was set from the first batch


def test_resuming_gives_the_same_model_as_training_straight_through(toyworld, tmp_path):
    straight = train(toyworld, tmp_path / "a", steps=6)
    train(toyworld, tmp_path / "b", steps=4)
    resumed = train(toyworld, tmp_path / "b", steps=6)
    assert resumed.step == 6
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name


def test_resuming_refuses_other_settings(toyworld, tmp_path):
    train(toyworld, tmp_path / "run", steps=2)
    with pytest.raises(ConfigError, match=r"holds a run started with training.lr = 0.001, not 0.1"):
        plan_run(tmp_path / "run", None, {"training": {"lr": 0.1}})
    assert plan_run(tmp_path / "run", None, {"training": {"steps": 9}}).training.steps == 9


def test_a_wrong_vgg_path_is_refused_before_training(toyworld, tmp_path, capsys):
    argv = cli_argv(toyworld, tmp_path / "run")
    assert main([*argv, "--vgg-weights", str(tmp_path / "missing.pth")]) == 2
    assert "missing.pth: VGG16 weights file not found" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_missing_perceptual_term_is_announced_once(toyworld, tmp_path, capsys):
    argv = cli_argv(toyworld, tmp_path / "run")
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("perceptual term of Eq. 4 is OFF") == 1


def test_incomplete_checkpoints_are_refused(toyworld, tmp_path):
    train(toyworld, tmp_path / "run", steps=2)
    (tmp_path / "run" / "checkpoints" / "step-00000002" / "opt_d.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"opt_d\.safetensors: file not found"):
        train(toyworld, tmp_path / "run", steps=4)


def test_an_unreadable_latest_checkpoint_falls_back_to_the_one_before(toyworld, tmp_path, capsys):
    whole = train(toyworld, tmp_path / "whole", steps=4, checkpoint_every=2)
    train(toyworld, tmp_path / "run", steps=4, checkpoint_every=2)
    model = tmp_path / "run" / "checkpoints" / "step-00000004" / "model.safetensors"
    model.write_bytes(model.read_bytes()[:100])  # truncated by a crash of the machine
    resumed = train(toyworld, tmp_path / "run", steps=4, checkpoint_every=2)
    err = capsys.readouterr().err
    assert "checkpoint step-00000004 cannot be resumed" in err and "resuming from" in err
    assert resumed.step == 4
    for (name, a), b in zip(
        whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name  # steps 3-4 again from step 2: the same weights


def test_a_killed_run_resumes_from_its_latest_checkpoint(toyworld, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "ccvs_core.cli", "train", "autoencoder", "--data", str(toyworld)]
    command += ["--out", str(out), "--preset", "tiny", "--steps", "400", "--checkpoint-every", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "checkpoints" / "step-00000004").is_dir():
        assert process.poll() is None and time.monotonic() < deadline, "training never wrote a checkpoint"
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    latest = max(
        int(p.name.split("-")[1]) for p in (out / "checkpoints").iterdir() if p.name.startswith("step-")
    )
    assert not any(p.name.startswith(".") for p in (out / "checkpoints").iterdir() if p.is_file())
    resumed = train(toyworld, out, steps=latest + 2)
    assert resumed.step == latest + 2


def test_kills_at_random_points_leave_whole_checkpoints_and_resume_bit_identically(toyworld, tmp_path):
    steps = 12
    whole = train(toyworld, tmp_path / "whole", steps=steps, checkpoint_every=2)
    out, rng = tmp_path / "run", random.Random(0)
    command = [sys.executable, "-m", "ccvs_core.cli", *cli_argv(toyworld, out), "--steps", str(steps)]
    command += ["--checkpoint-every", "2"]
    for _ in range(3):  # each kill lands somewhere in the run: loading, a step, a checkpoint, an export
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 6.0))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        for folder in (out / "checkpoints").glob("step-*") if (out / "checkpoints").is_dir() else []:
            names = sorted(p.name for p in folder.iterdir())
            assert names == sorted([*(f"{p}.safetensors" for p in PARTS), "state.json"]), (
                names
            )  # whole or absent
    resumed = train(toyworld, out, steps=steps, checkpoint_every=2)
    for (name, a), b in zip(
        whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_frame_size_the_levels_cannot_halve_is_refused(toyworld, tmp_path, capsys):
    argv = cli_argv(toyworld, tmp_path / "run")
    assert main([*argv, "--size", "18"]) == 2
    assert "18x18 is not divisible by 2**2 = 4" in capsys.readouterr().err


def test_compiled_training_takes_the_same_steps(toyworld, tmp_path, monkeypatch):
    from ccvs_core.training import acceleration

    monkeypatch.setattr(acceleration, "BACKEND", "eager")  # dynamo's graphs, without inductor's codegen
    train(toyworld, tmp_path / "plain", steps=3, adversarial_start=0)
    compiled = train(toyworld, tmp_path / "compiled", steps=3, adversarial_start=0, compile=True)
    assert any(
        hasattr(m, "_compiled_call_impl") and m._compiled_call_impl for m in compiled.model.decoder.blocks
    )
    plain_weights, compiled_weights = (
        load_tensors(out / "checkpoints" / "step-00000003" / "model.safetensors")
        for out in (tmp_path / "plain", tmp_path / "compiled")
    )
    assert plain_weights.keys() == compiled_weights.keys()  # compiled in place: the same names
    for name, value in plain_weights.items():
        assert torch.allclose(value, compiled_weights[name], atol=1e-5, rtol=0), name


def test_bfloat16_training_keeps_float32_weights(toyworld, tmp_path):
    trainer = train(toyworld, tmp_path / "run", steps=2, adversarial_start=0, precision="bfloat16")
    logged = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert logged["step"] == 2 and torch.isfinite(torch.tensor(logged["total"]))
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert all(p.dtype == torch.float32 for p in trainer.image_disc.parameters())
