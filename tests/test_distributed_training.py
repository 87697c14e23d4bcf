"""Training under torchrun: two gloo processes on the CPU train as one process with the same global
batch (DDP averages the gradients; the draws, the condition dropout and the tokenizing are shared out)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from ccvs_core.cli import main
from ccvs_core.weights import load_tensors
from tests.helpers import stage2_argv

STEPS_AND_CONDITIONS = ["--steps", "3", "--batch-size", "4", "--cond", "class", "--condition-dropout", "0.5"]


def torchrun(processes: int, argv: list[str]) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node N -m ccvs_core.cli ARGV``, one thread a process."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*command, "-m", "ccvs_core.cli", *argv], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def one_process(stage1, tmp_path_factory):
    """The run every other is compared with: 3 steps in one process."""
    out = tmp_path_factory.mktemp("distributed") / "one"
    assert main([*stage2_argv(stage1), *STEPS_AND_CONDITIONS, "--out", str(out)]) == 0
    return out


def assert_same_model(a, b):
    one = load_tensors(a / "transformer" / "model.safetensors")
    two = load_tensors(b / "transformer" / "model.safetensors")
    assert one.keys() == two.keys()
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-5, rtol=0), name


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_two_processes_train_the_transformer_as_one(parallel, stage1, one_process, tmp_path):
    argv = [*stage2_argv(stage1), *STEPS_AND_CONDITIONS, "--parallel", parallel, "--accumulate", "2"]
    done = torchrun(2, [*argv, "--out", str(tmp_path / "two")])  # 1 window a pass: 2 passes a step
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"2 processes (gloo, cpu, {parallel}), global batch 4 windows" in done.stdout + done.stderr
    assert_same_model(one_process, tmp_path / "two")
    logs = [
        [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        for run in (one_process, tmp_path / "two")
    ]
    assert logs[0][-1]["step"] == logs[1][-1]["step"] == 3
    for step in (0, -1):  # AdamW hides a gradient scaled by the number of processes; the norm does not
        for key in ("loss", "grad_norm"):
            assert logs[0][step][key] == pytest.approx(logs[1][step][key], rel=1e-5), (step, key)
    assert not list((tmp_path / "two" / "tokens").glob(".*part*"))  # the processes' shares, joined


@pytest.mark.parametrize(
    ("first", "then", "parallel"), [(2, 1, "ddp"), (1, 2, "ddp"), (2, 1, "fsdp"), (1, 2, "fsdp")]
)
def test_a_run_resumes_with_another_number_of_processes(first, then, parallel, stage1, one_process, tmp_path):
    argv = [
        *stage2_argv(stage1),
        *STEPS_AND_CONDITIONS,
        "--parallel",
        parallel,
        "--out",
        str(tmp_path / "run"),
    ]
    for processes, steps in ((first, "2"), (then, "3")):  # steps 0 and 1 train at rates --steps leaves alone
        done = torchrun(processes, [*argv, "--steps", steps])
        assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming from" in done.stdout + done.stderr
    assert_same_model(one_process, tmp_path / "run")


def test_a_global_batch_that_does_not_split_is_refused(stage1, tmp_path):
    argv = [*stage2_argv(stage1), "--steps", "1", "--batch-size", "3", "--out", str(tmp_path / "run")]
    done = torchrun(2, argv)
    assert done.returncode != 0
    assert "--batch-size: a global batch of 3 cannot be split evenly over 2 processes" in done.stderr


def test_evaluate_under_two_processes_gives_the_numbers_of_one(stage1, one_process, tmp_path):
    data, _ = stage1
    argv = ["evaluate", "--model", str(one_process / "pipeline"), "--data", str(data), "--split", "train"]
    argv += ["--task", "prediction", "--frames", "5", "--videos", "4", "--samples", "8", "--runs", "2"]
    assert main([*argv, "--out", str(tmp_path / "one.json")]) == 0
    done = torchrun(2, [*argv, "--out", str(tmp_path / "two.json")])  # 2 videos a batch: 1 batch each
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = (json.loads((tmp_path / name).read_text()) for name in ("one.json", "two.json"))
    assert one["protocol"] == two["protocol"]
    assert flat(one["runs"]) == pytest.approx(flat(two["runs"]), rel=1e-6)
    assert flat(one["summary"]) == pytest.approx(flat(two["summary"]), rel=1e-6)


def flat(value, key: str = "") -> dict[str, float]:
    """A JSON value's numbers by path, for pytest.approx."""
    if isinstance(value, dict):
        return {k: v for name, item in value.items() for k, v in flat(item, f"{key}/{name}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{key}/{i}").items()}
    return {key: value}


def test_generate_under_two_processes_makes_the_samples_of_one(one_process, tmp_path):
    from ccvs_core.media import read_image

    argv = ["generate", "--model", str(one_process / "pipeline"), "--frames", "4", "--samples", "3"]
    argv += ["--cond", "class:circle", "--seed", "5"]
    assert main([*argv, "--out", str(tmp_path / "one.gif")]) == 0
    done = torchrun(2, [*argv, "--out", str(tmp_path / "two.gif")])  # samples 0-1, then 2
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = (read_image(tmp_path / name) for name in ("one.png", "two.png"))
    assert one.shape == two.shape and (one == two).mean() > 0.999
