"""The batch split over processes (``distributed.StridedBatch``) and the weight check, between two gloo
processes on the CPU."""

import os
import subprocess
import sys
from pathlib import Path


def test_the_split_batch_and_the_weight_check_between_two_processes():
    probe = Path(__file__).with_name("distributed_probe.py")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        str(probe),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(probe.parents[1])}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok 0" in done.stdout and "ok 1" in done.stdout
