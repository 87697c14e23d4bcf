"""Stage 1 under torchrun: two gloo processes on the CPU train the autoencoder and its discriminators as
one process does with the same global batch. DDP averages the gradients; the batch-level statistics
(the minibatch standard deviation, the codebook's initialisation and bookkeeping, dead-code restarts,
another clip's frames as a wrong context) see the whole global batch."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from ccvs_core.cli import main
from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
from ccvs_core.training.autoencoder import plan_run
from ccvs_core.training.autoencoder_step import draw_choices
from ccvs_core.weights import load_tensors
from tests.test_distributed_training import torchrun

# seed 2 draws contexts 1 and 2 with a wrong context, then none (F sits idle: DDP's unused parameters);
# the discriminators join at once and dead codes restart after one idle step
TRAINING = {
    "steps": 4, "batch_size": 4, "seed": 2, "adversarial_start": 0, "wrong_context_prob": 0.5,
    "self_context_prob": 0.5, "dead_code_steps": 1, "checkpoint_every": 1, "sample_every": 100,
}  # fmt: skip
PARTS = ("model", "ema", "image_disc", "temporal_disc")


@pytest.fixture(scope="module")
def toyworld(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "toyworld"
    generate_toyworld(ToyworldConfig(videos=8, frames=6, size=32, seed=3), root, workers=1, progress=False)
    return root


def prepared(out):
    """``out`` holding the run's settings (the command resumes with them: no flag sets them all)."""
    out.mkdir(parents=True)
    plan_run(out, "tiny", {"training": TRAINING}).to_json(out / "run.json")
    return out


def argv(toyworld, out, steps=4):
    return ["train", "autoencoder", "--data", str(toyworld), "--out", str(out), "--steps", str(steps)]


@pytest.fixture(scope="module")
def one_process(toyworld, tmp_path_factory):
    out = prepared(tmp_path_factory.mktemp("distributed") / "one")
    assert main(argv(toyworld, out)) == 0
    return out


def assert_same_weights(a, b, step=4):
    for part in PARTS:
        one = load_tensors(a / "checkpoints" / f"step-{step:08d}" / f"{part}.safetensors")
        two = load_tensors(b / "checkpoints" / f"step-{step:08d}" / f"{part}.safetensors")
        assert one.keys() == two.keys()
        for name in one:
            assert torch.allclose(one[name].double(), two[name].double(), atol=1e-5, rtol=0), (part, name)


def test_the_choices_cover_what_must_see_the_whole_batch():
    run = plan_run("unused", "tiny", {"training": TRAINING})
    generator = torch.Generator().manual_seed(TRAINING["seed"] + 1)
    choices = [draw_choices(generator, run.autoencoder.max_contexts, run.training) for _ in range(3)]
    assert any(c.wrong_context and c.contexts for c in choices)
    assert any(c.contexts == 0 and not c.self_view for c in choices)
    assert run.discriminator.mbstd_group == 4  # groups of 4 clips: each spans both processes' shares


def test_two_processes_train_the_autoencoder_as_one(toyworld, one_process, tmp_path):
    two = prepared(tmp_path / "two")
    done = torchrun(2, argv(toyworld, two))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 processes (gloo, cpu, ddp), global batch 4 clips" in done.stdout + done.stderr
    assert_same_weights(one_process, two)  # the processes' own copies were checked equal at each checkpoint
    logs = [
        [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        for run in (one_process, two)
    ]
    assert logs[0][-1]["step"] == logs[1][-1]["step"] == 4
    for key in ("total", "discriminator", "usage", "restarted"):
        assert logs[0][-1][key] == pytest.approx(logs[1][-1][key], rel=1e-5), key
    assert logs[0][-1]["restarted"] > 0  # dead codes were restarted, on the whole batch's features


@pytest.mark.parametrize(("first", "then"), [(2, 1), (1, 2)])
def test_a_killed_run_resumes_with_another_number_of_processes(first, then, toyworld, one_process, tmp_path):
    run = prepared(tmp_path / "run")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={first}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(
        [*command, "-m", "ccvs_core.cli", *argv(toyworld, run)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not (run / "checkpoints" / "step-00000002").is_dir():
            assert job.poll() is None and time.monotonic() < deadline, "the run ended before step 2"
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # torchrun and its processes, mid-step
        job.wait()
    written = [int(p.name[5:]) for p in (run / "checkpoints").glob("step-*")]
    assert max(written) < 4, "the kill came after the last step"
    done = torchrun(then, argv(toyworld, run))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming from" in done.stdout + done.stderr
    assert_same_weights(one_process, run)
