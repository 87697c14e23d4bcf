"""A video shorter than the model's window, with every condition given: generated, not a slot-shape
error (issue 20's report)."""

from ccvs_core.cli import main
from ccvs_core.media import read_frames


def test_three_frames_with_all_five_conditions(tmp_path):
    inputs = tmp_path / "inputs"
    assert main(["examples", "--out", str(inputs)]) == 0
    conditions = [
        f"audio:{inputs / 'drums.wav'}", f"state:{inputs / 'trajectory.json'}", f"endframe:{inputs / 'last.png'}",
        "class:circle", f"layout:{inputs / 'layout.json'}",
    ]  # fmt: skip
    argv = ["generate", "--frames", "3", "--out", str(tmp_path / "short.gif"), "--device", "cpu"]
    for condition in conditions:
        argv += ["--cond", condition]
    assert main(argv) == 0
    assert read_frames(tmp_path / "short.gif").shape[0] == 3
