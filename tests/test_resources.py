"""The resource guard: requests the machine cannot hold are refused up front with the estimate, long
ones are announced, and past a day they need --yes."""

import pytest

from ccvs_core import resources
from ccvs_core.cli import main
from ccvs_core.errors import InputError
from ccvs_core.resources import Estimate, check_request


def test_memory_disk_and_time_are_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(resources, "available_memory", lambda: 2**30)
    monkeypatch.setattr(resources, "free_disk", lambda path: 2**30)
    with pytest.raises(InputError, match="needs about 2 GiB of memory; this machine has 1 GiB free"):
        check_request("job", Estimate(memory=2**31), yes=True)
    with pytest.raises(InputError, match=r"needs about 1\.5 GiB of disk"):
        check_request("job", Estimate(disk=1.5 * 2**30), yes=True, disk_at=tmp_path)
    with pytest.raises(InputError, match=r"would take about 2 days here \(give --yes"):
        check_request("job", Estimate(seconds=2 * 86400), yes=False)
    check_request("job", Estimate(seconds=2 * 86400), yes=True)
    assert "job: this will take about 2 days here" in capsys.readouterr().err
    check_request("job", Estimate(seconds=60), yes=False)
    assert capsys.readouterr().err == ""


def test_toyworld_refuses_what_the_disk_cannot_hold_before_writing(tmp_path, capsys):
    out = tmp_path / "huge"
    assert main(["data", "toyworld", "--out", str(out), "--videos", "1000000000"]) == 2
    assert "ccvs data toyworld: needs about 155 TiB of disk" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_toyworld_of_more_than_a_day_needs_yes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(resources, "free_disk", lambda path: 2**60)
    argv = ["data", "toyworld", "--out", str(tmp_path / "t"), "--videos", "3000000", "--workers", "1"]
    assert main(argv) == 2
    assert "would take about 1.14 days here (give --yes to start it anyway)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
