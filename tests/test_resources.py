"""The resource guard: requests the machine cannot hold are refused up front with the estimate, long
ones are announced, and past a day they need --yes."""

import pytest
import torch

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


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--samples", str(10**12)], "ccvs generate: needs about 3.66e+06 TiB of memory"),
        (["--seed", str(2**64)], "--seed: must be 0 to 2**63 - 1 (sample i uses seed + i)"),
        (["--frames", str(10**7)], "ccvs generate: would take about 39.1 days here (give --yes"),
    ],
)
def test_generate_refuses_requests_past_the_machine_before_sampling(
    flags, problem, tmp_path, capsys, monkeypatch
):
    if "--frames" in flags:  # 401 GiB: a machine with that much still waits 39 days
        monkeypatch.setattr(resources, "available_memory", lambda: 2**50)
    out = tmp_path / "g.mp4"
    assert main(["generate", "--out", str(out), *flags]) == 2  # the shipped model
    assert problem in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_training_estimates_grow_with_the_request_and_extrapolate_exactly():
    from ccvs_core.training.autoencoder import plan_run
    from ccvs_core.training.cost import autoencoder_cost, linear_beyond, meta_cost

    run = plan_run("unused", "tiny", {})
    one, many = autoencoder_cost(run, 1), autoencoder_cost(run, 1000)
    assert many.seconds == pytest.approx(1000 * one.seconds) and many.memory == one.memory
    wider = plan_run("unused", "tiny", {"autoencoder": {"channels": (64, 128)}})
    assert autoencoder_cost(wider, 1).memory > one.memory and autoencoder_cost(wider, 1).seconds > one.seconds

    def layers(n: int) -> tuple[float, float]:  # n matrix products of [4, 8] by [8, 8]
        def forward():
            x = torch.empty(4, 8, requires_grad=True)
            for _ in range(n):
                x = x @ torch.empty(8, 8)
            return x.sum()

        return meta_cost(forward)

    assert linear_beyond(layers, 50, 2) == layers(50)
    assert layers(50)[0] == 50 * 2 * (2 * 4 * 8 * 8)  # forward, and backward to x (the weights need none)
