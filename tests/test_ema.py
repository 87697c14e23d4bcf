"""The EMA of the autoencoder's parameters, with its warm-up."""

import torch
from torch import nn

from ccvs_core.training.ema import EMA


def test_ema_follows_the_model_with_warm_up():
    model = nn.Linear(2, 1)
    initial = model.weight.detach().clone()
    ema = EMA(model, decay=0.9)
    assert ema.current_decay() == 0.1  # (1 + 0) / (10 + 0): the first updates mostly copy
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.model.weight, 0.1 * initial + 0.9 * torch.ones(1, 2), atol=1e-6)
    for _ in range(200):
        ema.update(model)
    assert ema.current_decay() == 0.9
    assert torch.allclose(ema.model.weight, torch.ones(1, 2), atol=1e-6)
    assert not any(p.requires_grad for p in ema.model.parameters())
