"""``ccvs train``: every training command, plugins' included, refuses before writing anything a run
folder inside its dataset, and a run under torchrun where the command trains in one process only
(each process would train alone), and a run too large for the machine."""

import pytest

from ccvs_core.cli import main


@pytest.mark.parametrize("command", ["autoencoder", "audio-tokenizer"])
def test_several_processes_are_refused_where_a_command_trains_alone(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    argv = ["train", command, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "torchrun: WORLD_SIZE=2: this command trains in one process" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


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
