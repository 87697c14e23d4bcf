"""VGG16 features for Eq. 4: torchvision's layout, frozen weights, safe loading and its refusals."""

import pytest
import torch
from safetensors.torch import save_file

from ccvs_core.errors import CheckpointError
from ccvs_core.training.losses import reconstruction_loss
from ccvs_core.training.perceptual import VGGFeatures, load_vgg16_weights

CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)  # torchvision's vgg16().features


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return VGGFeatures()


@pytest.fixture(scope="module")
def saved(vgg, tmp_path_factory):
    """The random VGG's weights with torchvision's classifier keys, as .pth and as .safetensors."""
    folder = tmp_path_factory.mktemp("vgg")
    state = {f"features.{k}": v.contiguous() for k, v in vgg.features.state_dict().items()}
    state |= {"classifier.0.weight": torch.zeros(4, 8), "classifier.6.bias": torch.zeros(10)}
    torch.save(state, folder / "vgg16.pth")
    save_file(state, folder / "vgg16.safetensors")
    return folder


def _cheap_state(vgg, **changes):
    """A full-shaped VGG16 state dict that costs a few bytes on disk (expanded zeros)."""
    state = {k: torch.zeros(1).expand(v.shape) for k, v in vgg.state_dict().items()}
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            del state[key]
        else:
            state[key] = value
    return state


def test_state_dict_keys_are_torchvisions(vgg):
    expected = [f"features.{i}.{p}" for i in CONV_INDICES for p in ("weight", "bias")]
    state = vgg.state_dict()
    assert list(state) == expected
    assert state["features.0.weight"].shape == (64, 3, 3, 3)
    assert state["features.28.weight"].shape == (512, 512, 3, 3)


def test_default_layers_shapes(vgg):
    features = vgg(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert [tuple(f.shape) for f in features] == [
        (2, 64, 32, 32),
        (2, 128, 16, 16),
        (2, 256, 8, 8),
        (2, 512, 4, 4),
    ]
    assert all((f >= 0).all() for f in features)  # ReLU outputs


def test_layers_are_returned_in_the_order_asked():
    model = VGGFeatures(layers=("relu2_1", "relu1_1"))
    first, second = model(torch.zeros(1, 3, 8, 8))
    assert first.shape == (1, 128, 4, 4) and second.shape == (1, 64, 8, 8)
    with pytest.raises(ValueError, match="unknown VGG16 layers"):
        VGGFeatures(layers=("relu6_1",))


def test_input_is_normalised_to_imagenet_statistics():
    model = VGGFeatures(layers=("relu1_1",))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    (feature,) = model((mean * 2 - 1).expand(1, 3, 6, 6))  # [-1, 1] input equal to the ImageNet mean
    bias = model.features[0].bias.detach().view(1, 64, 1, 1)
    assert torch.allclose(feature, bias.clamp_min(0).expand(1, 64, 6, 6), atol=1e-5)  # conv of zeros


def test_frozen_but_gradients_reach_the_input(vgg):
    assert not any(p.requires_grad for p in vgg.parameters())
    x = torch.zeros(1, 3, 16, 16, requires_grad=True)
    x_hat = torch.rand(1, 3, 16, 16, requires_grad=True)
    reconstruction_loss(x, x_hat, vgg).backward()
    assert x_hat.grad.abs().sum() > 0 and x.grad is None
    assert all(p.grad is None for p in vgg.parameters())


@pytest.mark.parametrize("name", ["vgg16.pth", "vgg16.safetensors"])
def test_round_trip_gives_identical_features(vgg, saved, name):
    loaded = VGGFeatures(weights_path=saved / name)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    for a, b in zip(vgg(x), loaded(x), strict=True):
        assert torch.equal(a, b)
    assert not any(k.startswith("classifier") for k in load_vgg16_weights(saved / name))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"vgg16-397923af\.pth") as err:
        VGGFeatures(weights_path=tmp_path / "nope.pth")
    assert "nope.pth" in str(err.value) and "not found" in str(err.value)


@pytest.mark.parametrize("name", ["vgg16.pth", "vgg16.safetensors"])
def test_truncated_file(saved, tmp_path, name):
    truncated = tmp_path / name
    truncated.write_bytes((saved / name).read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="cannot be read") as err:
        load_vgg16_weights(truncated)
    assert str(truncated) in str(err.value)


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_vgg16_weights(path)
    path = tmp_path / "text.pth"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_vgg16_weights(path)
    path = tmp_path / "weights.npz"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="unknown weights format"):
        load_vgg16_weights(path)


def test_missing_key_is_named(vgg, tmp_path):
    path = tmp_path / "missing.pth"
    torch.save(_cheap_state(vgg, features__28__bias=None), path)
    with pytest.raises(CheckpointError, match=r"missing 1 VGG16 keys \(features.28.bias\)") as err:
        load_vgg16_weights(path)
    assert "missing.pth" in str(err.value)


def test_unexpected_key_is_named(vgg, tmp_path):
    path = tmp_path / "vgg19ish.pth"
    torch.save(_cheap_state(vgg, features__30__weight=torch.zeros(2)), path)
    with pytest.raises(CheckpointError, match=r"unexpected keys \(features\.30\.weight\)"):
        load_vgg16_weights(path)


def test_wrong_shape_names_key_and_both_shapes(vgg, tmp_path):
    path = tmp_path / "shape.pth"
    torch.save(_cheap_state(vgg, features__28__weight=torch.zeros(256, 512, 3, 3)), path)
    with pytest.raises(
        CheckpointError,
        match=r"'features.28.weight' has shape \(256, 512, 3, 3\), VGG16 expects \(512, 512, 3, 3\)",
    ) as err:
        VGGFeatures(weights_path=path)
    assert "shape.pth" in str(err.value)


class Payload:
    """An arbitrary class: unpickling it would run arbitrary code paths."""


def test_full_pickle_is_refused(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"features.0.weight": Payload()}, path)
    with pytest.raises(CheckpointError, match=r"cannot be read .*refused by weights-only loading"):
        load_vgg16_weights(path)
