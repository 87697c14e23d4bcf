"""The position estimator (Appendix A, "state"): where datasets have no state annotations (or only a
few), a small conv net on the frozen encoder's latents learns the tracked point's position from the
annotated frames, then writes a state.json for every video that lacks one.

The net scores every latent cell and takes the soft-argmax of the scores: the expected cell centre,
so positions come out continuous. It learns by MSE on positions normalised by the frame size.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from ccvs_core import Config, at_least, greater_than


@attrs.frozen(kw_only=True)
class EstimatorConfig(Config):
    latent_dim: int = attrs.field(validator=at_least(1))  # the encoder's output channels
    channels: int = attrs.field(default=64, validator=at_least(1))


@attrs.frozen(kw_only=True)
class EstimatorTrainingConfig(Config):
    steps: int = attrs.field(default=2000, validator=at_least(1))
    batch_size: int = attrs.field(default=64, validator=at_least(1))
    lr: float = attrs.field(default=1e-3, validator=greater_than(0))
    checkpoint_every: int = attrs.field(default=500, validator=at_least(1))
    seed: int = 0


TRAINING_PRESETS = {"tiny": {"steps": 4, "batch_size": 8, "checkpoint_every": 2}, "toyworld": {}, "paper": {}}
MODEL_PRESETS = {"tiny": {"channels": 8}, "toyworld": {}, "paper": {"channels": 128}}


class PositionEstimator(nn.Module):
    def __init__(self, config: EstimatorConfig):
        super().__init__()
        self.config = config
        c = config.channels
        self.net = nn.Sequential(
            nn.Conv2d(config.latent_dim, c, 3, 1, 1),
            nn.GELU(),
            nn.Conv2d(c, c, 3, 1, 1),
            nn.GELU(),
            nn.Conv2d(c, 1, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``[B, F, h, w]`` -> positions ``[B, 2]`` (x, y) as fractions of the frame's width and height."""
        b, _, h, w = z.shape
        weights = self.net(z).flatten(1).softmax(-1).view(b, h, w)
        xs = (torch.arange(w, device=z.device, dtype=weights.dtype) + 0.5) / w
        ys = (torch.arange(h, device=z.device, dtype=weights.dtype) + 0.5) / h
        return torch.stack([(weights.sum(1) * xs).sum(-1), (weights.sum(2) * ys).sum(-1)], dim=-1)
