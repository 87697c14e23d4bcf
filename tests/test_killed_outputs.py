"""A ``ccvs data toyworld`` killed at any point leaves the dataset it replaces, or the complete new one,
never a partial one (``ccvs data check`` would pass a partial one: every folder in it is valid)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from ccvs_core.data.check import check_dataset
from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld


def toyworld_command(out, seed):
    argv = ["data", "toyworld", "--out", str(out), "--videos", "40", "--frames", "6", "--seed", str(seed)]
    return [sys.executable, "-m", "ccvs_core.cli", *argv, "--overwrite", "--workers", "1"]


def test_a_killed_toyworld_leaves_the_old_dataset_or_the_whole_new_one(tmp_path):
    out = tmp_path / "toyworld"
    generate_toyworld(ToyworldConfig(videos=10, frames=6, seed=0), out, workers=1, progress=False)
    rng = random.Random(0)
    outcomes = set()
    for attempt in range(3):
        process = subprocess.Popen(toyworld_command(out, seed=attempt + 1), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".toyworld.tmp-") for p in tmp_path.iterdir()):  # it started building
            assert process.poll() is None and time.monotonic() < deadline, "toyworld never started"
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.5))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        report = check_dataset(out, progress=False)
        config = json.loads((out / "toyworld.json").read_text())
        assert report.ok and len(report.videos) == config["videos"], report.problems
        assert (config["videos"], config["seed"]) in {(10, 0), (40, attempt + 1)}
        outcomes.add(config["videos"])
        if config["videos"] == 40:  # replaced: the next attempt replaces this one
            generate_toyworld(
                ToyworldConfig(videos=10, frames=6, seed=0), out, workers=1, overwrite=True, progress=False
            )
    assert 10 in outcomes  # at least one kill came before the new dataset was complete
