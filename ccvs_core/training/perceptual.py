"""VGG16 features for the perceptual term of Eq. 4 (||VGG(x) - VGG(x̂)||_1), without torchvision.

``VGGFeatures`` rebuilds torchvision's ``vgg16().features`` (configuration "D") layer by layer, so
its ``state_dict`` keys are exactly torchvision's (``features.0.weight``, ``features.0.bias``,
``features.2.weight``, ... ``features.28.bias``) and torchvision's ImageNet weights load unchanged.

The expected weights file is the one torchvision downloads as ``vgg16-397923af.pth`` (VGG16,
ImageNet, ``IMAGENET1K_V1``) from https://download.pytorch.org/models/vgg16-397923af.pth; by
torch.hub's naming convention its sha256 begins with ``397923af``. Its ``classifier.*`` entries are
ignored. A ``.safetensors`` file with the same keys works too. Without weights (``weights_path=None``)
the network is randomly initialised: fine for tests, meaningless as a perceptual loss.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ccvs_core.errors import CheckpointError

# torchvision's cfgs["D"]: conv widths, "M" for a 2x2 max-pool.
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


def _layer_indices() -> dict[str, int]:
    """ "reluB_C" (block B, conv C) -> index of that ReLU in ``features`` (relu1_2 -> 3, relu4_3 -> 22)."""
    names, index, block, conv = {}, 0, 1, 0
    for item in VGG16_CONFIG:
        if item == "M":
            index, block, conv = index + 1, block + 1, 0
        else:
            conv += 1
            names[f"relu{block}_{conv}"] = index + 1
            index += 2
    return names


LAYERS = _layer_indices()


def _vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU()]
            channels = item
    return nn.Sequential(*layers)


def _expected_shapes() -> dict[str, torch.Size]:
    with torch.device("meta"):
        features = _vgg16_features()
    return {f"features.{k}": v.shape for k, v in features.state_dict().items()}


def _read_state_dict(path: Path) -> dict:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    if suffix in (".pth", ".pt", ".bin"):
        return torch.load(path, map_location="cpu", weights_only=True)
    raise CheckpointError(path, f"unknown weights format '{suffix}'", "expected .pth, .pt or .safetensors")


def _reason(err: Exception) -> str:
    """One short line for a decoding error (torch's weights-only refusal is a page long)."""
    text = str(err)
    if "WeightsUnpickler error:" in text:  # keep the refused global, drop the advice to unpickle
        text = "refused by weights-only loading: " + text.split("WeightsUnpickler error:", 1)[1].strip()
        text = text.split(" Please use", 1)[0]
    text = text.strip().splitlines()[0] if text.strip() else ""
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def load_vgg16_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read and check a torchvision-layout VGG16 state dict; return its ``features.*`` tensors.

    Accepts ``.pth`` / ``.pt`` (read with ``torch.load(weights_only=True)``, never full unpickling)
    or ``.safetensors``. ``classifier.*`` keys are ignored. Raises ``CheckpointError`` naming the file
    when it does not exist, cannot be decoded, is not a state dict, lacks keys, has unexpected keys or
    has a tensor of the wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            path, "VGG16 weights file not found", "torchvision's vgg16-397923af.pth is expected"
        )
    try:
        state = _read_state_dict(path)
    except CheckpointError:
        raise
    except Exception as err:  # truncated zip, bad pickle, bad safetensors header, disallowed globals...
        raise CheckpointError(path, f"cannot be read as a VGG16 state dict ({_reason(err)})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(path, f"is not a state dict of tensors (found {type(state).__name__})")
    state = {k: v for k, v in state.items() if not str(k).startswith("classifier.")}
    expected = _expected_shapes()
    missing = [k for k in expected if k not in state]
    if missing:
        raise CheckpointError(
            path,
            f"is missing {len(missing)} VGG16 keys ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})",
            "expected torchvision's vgg16 state dict",
        )
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        raise CheckpointError(
            path,
            f"has {len(unexpected)} unexpected keys ({', '.join(map(str, unexpected[:3]))}"
            f"{', ...' if len(unexpected) > 3 else ''})",
            "expected torchvision's vgg16 state dict (not vgg16_bn or vgg19)",
        )
    for key, shape in expected.items():
        if state[key].shape != shape:
            raise CheckpointError(
                path, f"'{key}' has shape {tuple(state[key].shape)}, VGG16 expects {tuple(shape)}"
            )
    return state


class VGGFeatures(nn.Module):
    """Frozen VGG16 feature maps at the named ReLU layers (default relu1_2, relu2_2, relu3_3, relu4_3).

    Input ``[B, 3, H, W]`` in [-1, 1], normalised internally to ImageNet mean/std. Returns a list of
    ``[B, C_l, H / 2^l, W / 2^l]`` maps, one per layer, in the order given. Parameters never require
    gradients (the network has no dropout or batch norm, so train/eval mode does not matter), but
    gradients flow to the input. The ``state_dict`` is torchvision's ``features.*`` layout.
    """

    def __init__(
        self, weights_path: str | os.PathLike | None = None, layers: tuple[str, ...] = DEFAULT_LAYERS
    ):
        super().__init__()
        unknown = [name for name in layers if name not in LAYERS]
        if not layers or unknown:
            raise ValueError(f"unknown VGG16 layers {unknown or '(none given)'}; known: {', '.join(LAYERS)}")
        self.layers = tuple(layers)
        self.features = _vgg16_features()
        if weights_path is not None:
            state = load_vgg16_weights(weights_path)
            self.features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})
        self.requires_grad_(False)
        self.eval()
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # x: [B, 3, H, W] in [-1, 1] -> ImageNet-normalised
        h = ((x + 1) / 2 - self.mean) / self.std
        wanted = {LAYERS[name]: name for name in self.layers}
        found: dict[str, torch.Tensor] = {}
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in wanted:
                found[wanted[index]] = h  # [B, C_l, H_l, W_l]
                if len(found) == len(wanted):
                    break
        return [found[name] for name in self.layers]
