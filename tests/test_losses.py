"""First-stage losses (Eq. 2-7): values, the parameters each gradient reaches, the paper's signs."""

import math

import pytest
import torch
from torch import nn

from ccvs_core.config import AutoencoderTrainingConfig
from ccvs_core.training.losses import (
    adversarial_loss,
    contextual_loss,
    discriminator_loss,
    downsample_flow_target,
    downsample_mask_target,
    quantization_loss,
    r1_penalty,
    reconstruction_loss,
    total_loss,
)


def _grads(module):
    return [p.grad for p in module.parameters()]


def _has_grad(module):
    return all(g is not None and g.abs().sum() > 0 for g in _grads(module))


def _no_grad(module):
    return all(g is None or not g.any() for g in _grads(module))


# Eq. 3 ----------------------------------------------------------------------------------------------


def _encode_and_quantize(encoder, codebook, x):
    z = encoder(x)  # [N, D]
    index = torch.cdist(z, codebook.weight).argmin(dim=1)  # [N]
    return z, codebook(index)


def _quantization_grads(beta):
    torch.manual_seed(0)
    encoder, codebook = nn.Linear(4, 3), nn.Embedding(5, 3)
    z, z_q = _encode_and_quantize(encoder, codebook, torch.randn(16, 4))
    loss = quantization_loss(z, z_q, beta)
    loss.backward()
    return loss, encoder, codebook, z.detach(), z_q.detach()


def test_quantization_loss_first_term_reaches_only_the_codebook():
    _, encoder, codebook, _, _ = _quantization_grads(beta=0.0)  # the first term alone
    assert _no_grad(encoder)
    assert codebook.weight.grad.abs().sum() > 0


def test_quantization_loss_second_term_reaches_only_the_encoder_scaled_by_beta():
    loss, encoder1, codebook1, z, z_q = _quantization_grads(beta=1.0)
    _, encoder2, codebook2, _, _ = _quantization_grads(beta=2.0)
    assert torch.allclose(loss, 2 * ((z - z_q) ** 2).mean())  # (1 + beta) * MSE
    assert _has_grad(encoder1)
    # beta does not touch the codebook's gradient (the second term does not reach it) ...
    assert torch.equal(codebook1.weight.grad, codebook2.weight.grad)
    # ... and scales the encoder's, which comes from the second term only
    for g1, g2 in zip(_grads(encoder1), _grads(encoder2), strict=True):
        assert torch.allclose(2 * g1, g2)


# Eq. 4 ----------------------------------------------------------------------------------------------


def test_reconstruction_loss_is_l1_and_reaches_x_hat_not_x():
    x = torch.zeros(2, 3, 4, 4, requires_grad=True)
    x_hat = torch.full((2, 3, 4, 4), 0.5, requires_grad=True)
    loss = reconstruction_loss(x, x_hat)
    assert loss.item() == pytest.approx(0.5)
    loss.backward()
    assert x.grad is None and x_hat.grad.abs().sum() > 0


def test_reconstruction_loss_adds_the_feature_l1_of_every_layer():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1).requires_grad_(False)

    def perceptual(images):
        first = conv(images)
        return [first, nn.functional.avg_pool2d(first, 2)]

    x = torch.rand(2, 2, 3, 8, 8, requires_grad=True)  # a clip [B, T, 3, H, W]: frames are images
    generator = nn.Conv2d(3, 3, 1)
    x_hat = generator(torch.rand(4, 3, 8, 8)).view(2, 2, 3, 8, 8)
    loss = reconstruction_loss(x, x_hat, perceptual)
    flat, flat_hat = x.reshape(4, 3, 8, 8), x_hat.reshape(4, 3, 8, 8)
    expected = (x - x_hat).abs().mean() + sum(
        (a - b).abs().mean() for a, b in zip(perceptual(flat), perceptual(flat_hat), strict=True)
    )
    assert torch.allclose(loss, expected)
    loss.backward()
    assert x.grad is None and _has_grad(generator)


def test_reconstruction_loss_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        reconstruction_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))


# Eq. 5-6 --------------------------------------------------------------------------------------------


def _generator_and_discriminator():
    torch.manual_seed(0)
    generator = nn.Linear(2, 4)
    discriminator = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    return generator, discriminator


def test_discriminator_loss_reaches_the_discriminator_only():
    generator, discriminator = _generator_and_discriminator()
    real, fake = torch.randn(6, 4), generator(torch.randn(6, 2))
    loss = discriminator_loss(discriminator(real), discriminator(fake.detach()))  # as a trainer does
    loss.backward()
    assert _has_grad(discriminator) and _no_grad(generator)


def test_adversarial_loss_reaches_the_generator_through_the_discriminator():
    generator, discriminator = _generator_and_discriminator()
    adversarial_loss(discriminator(generator(torch.randn(6, 2)))).backward()
    assert _has_grad(generator)


def test_softplus_values_and_signs_follow_the_paper():
    zero = torch.zeros(3)
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert adversarial_loss(zero).item() == pytest.approx(math.log(2))
    # Ld = ln(1 + e^{Δ(x)}) + ln(1 + e^{-Δ(x̂)}): small when real logits are low and fake logits high
    assert discriminator_loss(torch.full((3,), -20.0), torch.full((3,), 20.0)) < 1e-8
    assert discriminator_loss(torch.full((3,), 20.0), torch.full((3,), -20.0)) > 39
    # La = ln(1 + e^{Δ(x̂)}): small when the fake logits are low (the real side)
    assert adversarial_loss(torch.full((3,), -20.0)) < 1e-8
    real, fake = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    discriminator_loss(real, fake).backward()
    assert (real.grad > 0).all() and (fake.grad < 0).all()  # descent: real down, fake up
    fake.grad = None
    adversarial_loss(fake).backward()
    assert (fake.grad > 0).all()  # descent: fake down
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(discriminator_loss(big, big)) and torch.isfinite(adversarial_loss(big))


def test_minimising_ld_separates_and_minimising_la_moves_fakes_to_the_real_side():
    torch.manual_seed(0)
    discriminator = nn.Linear(1, 1)
    real = torch.randn(64, 1) * 0.1 + 1.0
    fake = nn.Parameter(torch.full((64, 1), -1.0))  # a "generator" that outputs these points
    d_opt = torch.optim.SGD(discriminator.parameters(), lr=0.5)
    for _ in range(100):
        d_opt.zero_grad()
        discriminator_loss(discriminator(real), discriminator(fake.detach())).backward()
        d_opt.step()
    real_logit, fake_logit = discriminator(real).mean().item(), discriminator(fake).mean().item()
    assert real_logit < 0 < fake_logit  # the paper's convention: real low, fake high
    g_opt = torch.optim.SGD([fake], lr=0.5)
    for _ in range(50):
        g_opt.zero_grad()
        adversarial_loss(discriminator(fake)).backward()
        g_opt.step()
    assert discriminator(fake).mean().item() < fake_logit  # fakes pushed toward the real side ...
    assert (fake.mean() - real.mean()).abs() < 2.0 - 0.5  # ... and toward the real data


def test_r1_penalty_is_the_squared_gradient_norm_and_trains_the_discriminator():
    weight = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    images = torch.randn(5, 3, requires_grad=True)
    penalty = r1_penalty(images @ weight, images)  # ∇x Δ = weight for every sample
    assert penalty.item() == pytest.approx(14.0)
    penalty.backward()
    assert torch.allclose(weight.grad, 2 * weight.detach())


# Eq. 7 ----------------------------------------------------------------------------------------------


def test_contextual_loss_is_zero_for_perfect_predictions():
    flow = torch.randn(2, 2, 8, 8) * 3
    mask = torch.rand(2, 1, 8, 8)
    assert contextual_loss(flow, flow, torch.logit(mask), mask).item() == pytest.approx(0, abs=1e-10)
    binary = (mask > 0.5).float()
    assert contextual_loss(flow, flow, (binary * 2 - 1) * 40, binary).item() == pytest.approx(0, abs=1e-10)


def test_contextual_loss_value_for_a_known_error_and_its_gradients():
    flow_target = torch.randn(2, 2, 8, 8, requires_grad=True)
    mask_target = torch.ones(2, 1, 8, 8, requires_grad=True)
    flow_pred = (flow_target.detach() + torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)).requires_grad_()
    mask_logits = torch.zeros(2, 1, 8, 8, requires_grad=True)  # sigmoid = 0.5 where 1 was due
    loss = contextual_loss(flow_pred, flow_target, mask_logits, mask_target)
    assert loss.item() == pytest.approx(0.5 + 0.25)  # x error 1 on half the flow channels; (1 - 0.5)^2
    loss.backward()
    assert flow_pred.grad.abs().sum() > 0 and mask_logits.grad.abs().sum() > 0
    assert flow_target.grad is None and mask_target.grad is None


def test_contextual_loss_weight_ignores_pixels():
    target = torch.zeros(1, 2, 4, 4)
    pred = target.clone()
    pred[:, 0, 0, 0] = 5.0  # one wrong pixel (x component)
    weight = torch.ones(1, 1, 4, 4)
    weight[..., 0, 0] = 0
    mask = torch.ones(1, 1, 4, 4)
    assert contextual_loss(pred, target, torch.full_like(mask, 40.0), mask, weight) == pytest.approx(
        0, abs=1e-10
    )
    assert contextual_loss(pred, target, torch.full_like(mask, 40.0), mask) == pytest.approx(25 / 16 / 2)


def test_flow_and_mask_targets_downsample_to_intermediate_levels():
    # a translation of (3, -2) pixels at 16x16 is one of (0.75, -0.5) pixels at 4x4
    flow = torch.tensor([3.0, -2.0]).view(1, 2, 1, 1).expand(1, 2, 16, 16)
    assert torch.allclose(downsample_flow_target(flow, (4, 4)), torch.tensor([0.75, -0.5]).view(1, 2, 1, 1))
    assert torch.allclose(downsample_flow_target(flow, (8, 4)), torch.tensor([0.75, -1.0]).view(1, 2, 1, 1))
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    mask[..., 0, 0] = 0
    assert downsample_mask_target(mask, (2, 2)).flatten().tolist() == [0.75, 1.0, 0.0, 0.0]  # area average
    with pytest.raises(ValueError, match="larger"):
        downsample_flow_target(flow, (32, 32))


def test_contextual_loss_applies_at_a_coarser_level_than_the_targets():
    torch.manual_seed(0)
    flow_target, mask_target = torch.randn(2, 2, 16, 16), (torch.rand(2, 1, 16, 16) > 0.5).float()
    flow_pred, mask_logits = torch.randn(2, 2, 4, 4), torch.randn(2, 1, 4, 4)
    expected = contextual_loss(
        flow_pred,
        downsample_flow_target(flow_target, (4, 4)),
        mask_logits,
        downsample_mask_target(mask_target, (4, 4)),
    )
    assert torch.allclose(contextual_loss(flow_pred, flow_target, mask_logits, mask_target), expected)
    perfect = contextual_loss(
        downsample_flow_target(flow_target, (4, 4)),
        flow_target,
        torch.logit(downsample_mask_target(mask_target, (4, 4)).clamp(1e-6, 1 - 1e-6)),
        mask_target,
    )
    assert perfect.item() == pytest.approx(0, abs=1e-8)


# Eq. 2 ----------------------------------------------------------------------------------------------


def test_total_loss_uses_the_papers_weights_by_default():
    one = torch.tensor(1.0)
    parts = {"quantization": one, "reconstruction": one, "adversarial": one, "contextual": one}
    assert total_loss(parts).item() == pytest.approx(1 + 10 + 1 + 1)
    assert total_loss({"reconstruction": torch.tensor(2.0)}).item() == pytest.approx(20)  # others are 0
    assert total_loss({}).item() == 0


def test_total_loss_uses_the_given_weights():
    parts = {"quantization": torch.tensor(2.0), "contextual": torch.tensor(3.0)}
    assert total_loss(parts, {"quantization": 0.5, "contextual": 2.0}).item() == pytest.approx(1 + 6)
    config = AutoencoderTrainingConfig(weight_quantization=3.0, weight_contextual=0.0)
    assert total_loss(parts, config).item() == pytest.approx(6)
    value = torch.tensor(1.0, requires_grad=True)
    total_loss({"adversarial": value}, {"adversarial": 4.0}).backward()
    assert value.grad.item() == 4.0


def test_total_loss_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown loss parts"):
        total_loss({"perceptual": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="unknown loss weights"):
        total_loss({}, {"recon": 1.0})
