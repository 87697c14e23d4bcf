"""Residual blocks of the encoder E and decoder D (paper Appendix A)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

NEGATIVE_SLOPE = 0.2  # LeakyReLU slope used by every block


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with LeakyReLU and a 1x1 skip connection, halving ("down") or doubling
    ("up") the resolution, or keeping it ("same"). Appendix A: "the succession of two 3 x 3 2D
    convolutions with LeakyReLU activations and a skip connection in the form of a 1 x 1 convolution"."""

    def __init__(self, in_channels: int, out_channels: int, resample: Literal["down", "up", "same"]):
        super().__init__()
        self.resample = resample
        self.conv1 = conv3x3(in_channels, out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.skip = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, Cin, H, W] -> [B, Cout, H', W']
        if self.resample == "up":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        h = F.leaky_relu(self.conv1(x), NEGATIVE_SLOPE)
        h = F.leaky_relu(self.conv2(h), NEGATIVE_SLOPE)
        out = (h + self.skip(x)) / 2**0.5  # keep the variance of the sum near that of its parts
        if self.resample == "down":
            out = F.avg_pool2d(out, 2)
        return out
