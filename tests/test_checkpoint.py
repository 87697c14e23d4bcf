"""Checkpoints: safetensors + JSON, atomic folders, the newest kept, and clear refusals."""

import pytest
import torch
from torch import nn

from ccvs_core.errors import CheckpointError
from ccvs_core.training.checkpoint import CheckpointManager, load_optimizer, optimizer_tensors
from ccvs_core.weights import load_module, load_tensors, save_tensors


def test_optimizer_state_round_trips_through_safetensors_and_json(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.5, 0.9))
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(4, 3)).square().sum().backward()
        optimizer.step()
    tensors, info = optimizer_tensors(optimizer)
    save_tensors(tmp_path / "opt.safetensors", tensors)
    fresh = torch.optim.Adam(model.parameters(), lr=0.5)
    load_optimizer(fresh, load_tensors(tmp_path / "opt.safetensors"), info, "opt")
    assert fresh.param_groups[0]["lr"] == 0.01
    for a, b in zip(optimizer.state.values(), fresh.state.values(), strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_manager_keeps_the_newest_and_finds_the_latest(tmp_path):
    manager = CheckpointManager(tmp_path / "checkpoints", keep=2)
    assert manager.latest() is None
    for step in (5, 10, 15):
        manager.save(step, {"model": {"w": torch.full((2,), float(step))}}, {"note": "x"})
    assert [s for s, _ in manager.steps()] == [10, 15]
    parts, state = manager.load(manager.latest())
    assert state == {"note": "x", "step": 15} and parts["model"]["w"].tolist() == [15.0, 15.0]


def test_bad_checkpoints_are_refused_with_the_file_named(tmp_path):
    manager = CheckpointManager(tmp_path)
    path = manager.save(1, {"model": {"w": torch.zeros(2)}}, {})
    (path / "state.json").write_text("{oops")
    with pytest.raises(CheckpointError, match=r"state\.json: is not valid JSON"):
        manager.load(path)
    (path / "state.json").write_text('{"step": "one"}')
    with pytest.raises(CheckpointError, match="has no integer 'step'"):
        manager.load(path)
    (path / "state.json").unlink()
    with pytest.raises(CheckpointError, match="an incomplete checkpoint"):
        manager.load(path)


def test_load_module_names_missing_unexpected_and_misshapen_tensors():
    model = nn.Linear(3, 2)
    with pytest.raises(CheckpointError, match=r"w\.safetensors: does not match the model: missing 'bias'"):
        load_module(model, {"weight": torch.zeros(2, 3)}, "w.safetensors")
    with pytest.raises(CheckpointError, match="unexpected 'extra'"):
        load_module(model, {**model.state_dict(), "extra": torch.zeros(1)}, "w.safetensors")
    with pytest.raises(
        CheckpointError, match=r"tensor 'weight' has shape \(3, 3\), the model expects \(2, 3\)"
    ):
        load_module(model, {"weight": torch.zeros(3, 3), "bias": torch.zeros(2)}, "w.safetensors")
