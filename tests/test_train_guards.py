"""``ccvs train``: every training command, plugins' included, refuses before writing anything a run
under torchrun (each process would train alone) and a run folder inside its dataset."""

import pytest

from ccvs_core.cli import main


@pytest.mark.parametrize("command", ["autoencoder", "transformer", "audio-tokenizer"])
def test_several_processes_are_refused(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    extra = ["--autoencoder", str(tmp_path / "ae")] if command == "transformer" else []
    argv = ["train", command, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *extra]
    assert main(argv) == 2
    assert "torchrun: WORLD_SIZE=2: ccvs train runs in one process" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_run_folder_inside_the_dataset_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for out in (data / "run", data, tmp_path / "x" / ".." / "data" / "run"):
        assert main(["train", "autoencoder", "--data", str(data), "--out", str(out)]) == 2
        assert f"--out: {out} is inside the dataset {data}" in capsys.readouterr().err
    assert list(data.iterdir()) == []
