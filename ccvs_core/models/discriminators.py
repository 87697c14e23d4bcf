"""The image discriminator Δi and the temporal discriminator Δt (Sec. 3.2, Appendix A).

Δi is "similar to that of StyleGAN2": a from-RGB 1x1 convolution, one downsampling residual block per
entry of ``DiscriminatorConfig.image_channels``, minibatch standard deviation, a final 3x3
convolution, global average pooling and a linear layer to one logit per image. Δt "is essentially
the same, with 3D instead of 2D convolutions": its blocks halve space every time and time while the
clip has more than one frame, so clips of 2-4 frames work.

Logit convention (the paper's Eq. 5-6, see ``ccvs_core.training.losses``): a *low* logit means
"real", a *high* logit means "reconstructed". The discriminators themselves are sign-agnostic; the
losses fix the meaning.

Minibatch standard deviation mixes the samples of a batch: call a discriminator on real and on
generated images separately, never on their concatenation.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ccvs_core.config import DiscriminatorConfig
from ccvs_core.models.split_batch import SplitBatch

SLOPE = 0.2  # LeakyReLU negative slope (StyleGAN2)


def _conv(dims: int, in_channels: int, out_channels: int, kernel: int, bias: bool = True) -> nn.Module:
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    return conv(in_channels, out_channels, kernel, padding=kernel // 2, bias=bias)


def downsample(x: torch.Tensor) -> torch.Tensor:
    """2x average pooling of ``[B, C, H, W]`` or ``[B, C, T, H, W]``; time is halved only while T > 1.

    ``ceil_mode``: an odd last row, column or frame is averaged on its own rather than dropped.
    """
    if x.ndim == 4:
        return F.avg_pool2d(x, 2, ceil_mode=True)
    kernel = (2 if x.shape[2] > 1 else 1, 2, 2)
    return F.avg_pool3d(x, kernel, ceil_mode=True)


def minibatch_stddev(x: torch.Tensor, group_size: int, split: SplitBatch | None = None) -> torch.Tensor:
    """StyleGAN2's minibatch standard deviation: append one feature map holding, for each sample, the
    mean over features and positions of the standard deviation across its group of the batch.

    ``x [B, C, *S] -> [B, C + 1, *S]``. The group is the largest divisor of B not above ``group_size``
    (B = 1 gives a constant map); samples n and n + B/G share a group, as in StyleGAN2. With ``split``,
    x is this process's share of a batch split over processes, and the groups are the whole batch's.
    """
    stat = _group_std(x, group_size) if split is None else split.mine(_group_std(split.gather(x), group_size))
    b = x.shape[0]
    stat = stat.to(x.dtype).view(b, 1, *([1] * (x.ndim - 2))).expand(b, 1, *x.shape[2:])  # [B, 1, *S]
    return torch.cat((x, stat), dim=1)


def _group_std(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """``[B, C, *S] -> [B]``: the mean standard deviation across each sample's group."""
    b = x.shape[0]
    g = max(d for d in range(1, min(group_size, b) + 1) if b % d == 0)
    y = x.reshape(g, b // g, *x.shape[1:]).float()  # [G, M, C, *S]
    std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # [M, C, *S]
    return std.flatten(1).mean(dim=1).repeat(g)  # [B], sample n gets group n % M


class DownBlock(nn.Module):
    """Residual block: two 3x3(x3) convs with LeakyReLU, 2x average-pool downsampling, a 1x1(x1) skip
    conv on the downsampled input, the sum scaled by 1/sqrt(2) (StyleGAN2's residual discriminator)."""

    def __init__(self, in_channels: int, out_channels: int, dims: int):
        super().__init__()
        self.conv1 = _conv(dims, in_channels, in_channels, 3)
        self.conv2 = _conv(dims, in_channels, out_channels, 3)
        self.skip = _conv(dims, in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [B, Cin, (T,) H, W] -> [B, Cout, (ceil(T/2),) ceil(H/2), ceil(W/2)]
        h = F.leaky_relu(self.conv1(x), SLOPE)
        h = downsample(F.leaky_relu(self.conv2(h), SLOPE))
        return (h + self.skip(downsample(x))) / math.sqrt(2)


class ResidualDiscriminator(nn.Module):
    """The shared body of Δi (``dims=2``) and Δt (``dims=3``): RGB -> one logit per sample.

    channels: output width of each downsampling block (the from-RGB conv outputs ``channels[0]``).
    mbstd_group: group size of the minibatch standard deviation; 0 switches it off.
    """

    def __init__(self, channels: tuple[int, ...], dims: int, mbstd_group: int = 4):
        super().__init__()
        if dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, got {dims}")
        self.dims = dims
        self.mbstd_group = mbstd_group
        self.from_rgb = _conv(dims, 3, channels[0], 1)
        widths = (channels[0], *channels)
        self.blocks = nn.ModuleList(DownBlock(a, b, dims) for a, b in itertools.pairwise(widths))
        last = channels[-1]
        self.final_conv = _conv(dims, last + (1 if mbstd_group > 0 else 0), last, 3)
        self.head = nn.Linear(last, 1)
        self.split: SplitBatch | None = None  # set when the batch is split over processes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [B, 3, (T,) H, W] in [-1, 1]. Always float32, autocast or not: in bfloat16 the temporal
        # discriminator's weight gradients came out non-finite within 3 steps of a tiny CPU run
        kind = x.device.type
        if kind in ("cpu", "cuda") and torch.is_autocast_enabled(kind):
            with torch.autocast(kind, enabled=False):
                return self._logits(x.float())
        return self._logits(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.from_rgb(x), SLOPE)  # [B, C0, (T,) H, W]
        for block in self.blocks:
            h = block(h)  # [B, Ck, (T/2^k,) H/2^k, W/2^k]
        if self.mbstd_group > 0:
            h = minibatch_stddev(h, self.mbstd_group, self.split)  # [B, C + 1, ...]
        h = F.leaky_relu(self.final_conv(h), SLOPE)  # [B, C, ...]
        h = h.flatten(2).mean(dim=2)  # [B, C] global average pooling
        return self.head(h).squeeze(1)  # [B]


def _check_input(x: torch.Tensor, ndim: int, levels: int, name: str, layout: str) -> None:
    if x.ndim != ndim or x.shape[1] != 3:
        raise ValueError(f"{name} expects {layout}, got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if min(h, w) < 2**levels:
        raise ValueError(
            f"{name} has {levels} downsampling blocks: frames need at least 2**{levels} pixels a side, got {h}x{w}"
        )


class ImageDiscriminator(ResidualDiscriminator):
    """Δi: ``[B, 3, H, W]`` in [-1, 1] -> logits ``[B]`` (low = real, Eq. 5)."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__(config.image_channels, dims=2, mbstd_group=config.mbstd_group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, 4, len(self.blocks), "ImageDiscriminator", "[B, 3, H, W]")
        return super().forward(x)


class TemporalDiscriminator(ResidualDiscriminator):
    """Δt: clips ``[B, 3, T, H, W]`` in [-1, 1], T >= 2 -> logits ``[B]`` (low = real, Eq. 5-6 applied
    to clips)."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__(config.temporal_channels, dims=3, mbstd_group=config.mbstd_group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, 5, len(self.blocks), "TemporalDiscriminator", "[B, 3, T, H, W]")
        if x.shape[2] < 2:
            raise ValueError(f"TemporalDiscriminator needs clips of at least 2 frames, got T = {x.shape[2]}")
        return super().forward(x)
