"""Image and temporal discriminators (Sec. 3.2, Appendix A): shapes, gradients, minibatch std."""

import pytest
import torch

from ccvs_core.config import DiscriminatorConfig, preset
from ccvs_core.models.discriminators import (
    ImageDiscriminator,
    TemporalDiscriminator,
    downsample,
    minibatch_stddev,
)

SIZES = {"tiny": 16, "toyworld": 64}


@pytest.fixture(scope="module", params=list(SIZES))
def preset_name(request):
    return request.param


@pytest.fixture(scope="module")
def discriminators(preset_name):
    torch.manual_seed(0)
    config = preset(DiscriminatorConfig, preset_name)
    return ImageDiscriminator(config), TemporalDiscriminator(config), SIZES[preset_name]


@torch.no_grad()
def test_image_discriminator_gives_one_logit_per_image(discriminators):
    image_d, _, size = discriminators
    logits = image_d(torch.rand(3, 3, size, size) * 2 - 1)
    assert logits.shape == (3,) and torch.isfinite(logits).all()


@torch.no_grad()
@pytest.mark.parametrize("frames", [2, 3, 4])
def test_temporal_discriminator_takes_short_clips(discriminators, frames):
    _, temporal_d, size = discriminators
    logits = temporal_d(torch.rand(2, 3, frames, size, size) * 2 - 1)
    assert logits.shape == (2,) and torch.isfinite(logits).all()


def _backward_reaches_every_parameter(model, x):
    model.zero_grad()
    model(x).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize(("name", "frames"), [("tiny", 2), ("tiny", 3), ("tiny", 4), ("toyworld", 2)])
def test_backward_reaches_every_parameter(name, frames):
    config, size = preset(DiscriminatorConfig, name), SIZES[name]
    torch.manual_seed(0)
    _backward_reaches_every_parameter(ImageDiscriminator(config), torch.randn(2, 3, size, size))
    _backward_reaches_every_parameter(TemporalDiscriminator(config), torch.randn(2, 3, frames, size, size))


@torch.no_grad()
def test_any_frame_size_at_least_two_to_the_levels():
    config = preset(DiscriminatorConfig, "tiny")  # two blocks: at least 4 pixels a side
    assert ImageDiscriminator(config)(torch.randn(2, 3, 4, 7)).shape == (2,)
    assert ImageDiscriminator(config)(torch.randn(2, 3, 17, 24)).shape == (2,)
    assert TemporalDiscriminator(config)(torch.randn(1, 3, 5, 9, 12)).shape == (1,)


@pytest.mark.parametrize(
    ("model", "shape", "match"),
    [
        (ImageDiscriminator, (2, 3, 3, 8), "at least 2\\*\\*2 pixels"),
        (ImageDiscriminator, (2, 1, 16, 16), "\\[B, 3, H, W\\]"),
        (ImageDiscriminator, (2, 3, 2, 16, 16), "\\[B, 3, H, W\\]"),
        (TemporalDiscriminator, (2, 3, 1, 16, 16), "at least 2 frames"),
        (TemporalDiscriminator, (2, 3, 16, 16), "\\[B, 3, T, H, W\\]"),
    ],
)
def test_wrong_inputs_are_refused(model, shape, match):
    with pytest.raises(ValueError, match=match):
        model(preset(DiscriminatorConfig, "tiny"))(torch.randn(shape))


def test_downsample_halves_time_only_while_there_is_more_than_one_frame():
    assert downsample(torch.randn(1, 2, 4, 8, 8)).shape == (1, 2, 2, 4, 4)
    assert downsample(torch.randn(1, 2, 3, 8, 8)).shape == (1, 2, 2, 4, 4)  # odd frame kept
    assert downsample(torch.randn(1, 2, 1, 8, 8)).shape == (1, 2, 1, 4, 4)
    x = torch.arange(3.0).view(1, 1, 3, 1, 1).expand(1, 1, 3, 2, 2)
    assert downsample(x).flatten().tolist() == [0.5, 2.0]  # the odd last frame is averaged on its own


def test_minibatch_stddev_appends_the_group_std():
    x = torch.randn(4, 3, 2, 2)
    out = minibatch_stddev(x, group_size=2)  # groups {0, 2} and {1, 3}
    assert out.shape == (4, 4, 2, 2) and torch.equal(out[:, :3], x)
    for n, m in [(0, 2), (1, 3)]:
        expected = (x[[n, m]].var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[n, 3], expected.expand(2, 2)) and torch.allclose(out[m, 3], out[n, 3])
    assert minibatch_stddev(torch.randn(3, 2, 2, 2), group_size=4).shape == (3, 3, 2, 2)  # G = 3
    assert minibatch_stddev(torch.randn(1, 2, 3, 2, 2), group_size=4)[0, 2].max() < 1e-3  # B = 1


@torch.no_grad()
def test_without_minibatch_std_samples_are_independent():
    torch.manual_seed(0)
    model = ImageDiscriminator(preset(DiscriminatorConfig, "tiny").replace(mbstd_group=0))
    x = torch.randn(4, 3, 16, 16)
    assert torch.allclose(model(x)[:2], model(x[:2]), atol=1e-6)
    with_std = ImageDiscriminator(preset(DiscriminatorConfig, "tiny"))
    assert with_std.final_conv.in_channels == model.final_conv.in_channels + 1
