"""The transformer's Linear: nn.Linear's results, with the few-row CPU inference product split in blocks."""

import pytest
import torch
from torch import nn

from ccvs_core.models import linear as linear_module
from ccvs_core.models.linear import Linear


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def bmm_calls(monkeypatch):
    calls = []
    real = torch.bmm

    def spy(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(linear_module.torch, "bmm", spy)
    return calls


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 64), (4, 1, 64), (2, 8, 64), (17, 64), (64,)])
def test_linear_matches_nn_linear(shape, bias, two_threads, bmm_calls):
    torch.manual_seed(0)
    layer = Linear(64, 48, bias=bias)
    reference = nn.Linear(64, 48, bias=bias)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(shape)
    with torch.no_grad():
        out = layer(x)
    assert out.shape == (*shape[:-1], 48)
    torch.testing.assert_close(out, reference(x).detach(), rtol=1e-5, atol=1e-5)
    rows = x.numel() // 64
    assert bmm_calls == ([(2, 24, 64)] if rows <= linear_module.MAX_ROWS else [])


def test_linear_keeps_nn_linear_for_training_and_odd_sizes(two_threads, bmm_calls):
    layer = Linear(8, 5)  # 5 outputs do not split over 2 threads
    with torch.no_grad():
        layer(torch.randn(1, 8))
    x = torch.randn(1, 8, requires_grad=True)
    Linear(8, 6)(x).sum().backward()  # gradients flow through nn.Linear's own product
    assert x.grad is not None and bmm_calls == []
    assert isinstance(layer, nn.Linear) and set(layer.state_dict()) == {"weight", "bias"}
