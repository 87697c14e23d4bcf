"""``ccvs train``: every training command, plugins' included, refuses before writing anything a run
folder inside its dataset and a run too large for the machine; under torchrun, a command that trains
in one process only runs in the main process."""

import pytest

from ccvs_core import distributed
from ccvs_core.cli import main


@pytest.mark.parametrize("command", ["audio-tokenizer", "position-estimator"])
def test_under_torchrun_a_helper_trains_in_the_main_process_alone(command, tmp_path, monkeypatch, capsys):
    argv = ["train", command, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run")]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 0  # the other process leaves at once, writing nothing
    assert "process 1: this command trains in the main process alone" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    monkeypatch.setenv("RANK", "0")
    assert main(argv) == 2  # the main process runs the command itself, which finds what it lacks
    assert capsys.readouterr().err.startswith("error: ")


def test_alone_makes_the_main_process_a_job_of_one(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with distributed.alone():
        assert distributed.world_size() == 1 and distributed.is_main()
        assert distributed.share(3) == 3
    assert distributed.world_size() == 2  # restored


def test_a_run_folder_inside_the_dataset_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for out in (data / "run", data, tmp_path / "x" / ".." / "data" / "run"):
        assert main(["train", "autoencoder", "--data", str(data), "--out", str(out)]) == 2
        assert f"--out: {out} is inside the dataset {data}" in capsys.readouterr().err
    assert list(data.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["autoencoder", "--channels", "4096,8192"], "ccvs train autoencoder: needs about"),
        (["autoencoder", "--steps", str(10**9)], "ccvs train autoencoder: would take about"),
        (["transformer", "--width", str(2**20), "--heads", "8"], "ccvs train transformer: needs about"),
        (["transformer", "--layers", str(10**6)], "ccvs train transformer: needs about"),
        (["transformer", "--steps", str(10**12)], "ccvs train transformer: would take about"),
    ],
)
def test_training_past_the_machine_is_refused_before_anything_is_built(
    flags, problem, stage1, tmp_path, capsys
):
    data, autoencoder = stage1
    extra = ["--autoencoder", str(autoencoder)] if flags[0] == "transformer" else []
    argv = ["train", *flags, "--data", str(data), "--out", str(tmp_path / "run"), "--preset", "tiny", *extra]
    with pytest.MonkeyPatch.context() as patch:  # the trainers' models are never built
        for module in ("autoencoder.FlowAutoencoder", "transformer.VideoTransformer"):
            patch.setattr(f"ccvs_core.training.{module}", lambda *a, **k: pytest.fail("a model was built"))
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert problem in err and ("free" in err or "give --yes" in err), err
    assert not (tmp_path / "run").exists()
