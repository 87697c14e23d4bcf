"""The first-stage objectives of CCVS (Sec. 3.2, Eq. 2-7), one function per equation.

Reductions: every ``||.||_2^2`` of the paper is a mean squared error and every ``||.||_1`` a mean
absolute error, averaged over all elements (batch, channels, positions), so that the weights of
Eq. 2 do not depend on the frame size or the batch size.

Logit sign convention of the discriminators (Eq. 5-6, exactly as the paper writes them): Δ(x) is
pushed *down* on real images and *up* on reconstructions by Ld, and La pushes Δ(x̂) *down*, toward
the real side. A low logit means "real".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from ccvs_core.config import AutoencoderTrainingConfig

# Eq. 2's parts, and the AutoencoderTrainingConfig field holding each weight λ.
WEIGHT_FIELDS = {
    "quantization": "weight_quantization",
    "reconstruction": "weight_reconstruction",
    "adversarial": "weight_adversarial",
    "contextual": "weight_contextual",
}


def total_loss(
    parts: Mapping[str, torch.Tensor],
    weights: Mapping[str, float] | AutoencoderTrainingConfig | None = None,
) -> torch.Tensor:
    """Eq. 2: L = λq Lq + λr Lr + λa La + λc Lc.

    parts: any of "quantization", "reconstruction", "adversarial", "contextual" (scalars); a missing
        part counts as 0. "adversarial" holds La of Δi plus its Δt counterpart when both are used.
    weights: a mapping from part name to λ, or an ``AutoencoderTrainingConfig`` (its ``weight_*``
        fields); None gives the config's defaults, the paper's (1, 10, 1, 1). Parts missing from a
        mapping take their default weight.
    """
    unknown = sorted(set(parts) - set(WEIGHT_FIELDS))
    if unknown:
        raise ValueError(f"unknown loss parts {unknown} (known: {', '.join(WEIGHT_FIELDS)})")
    config = weights if isinstance(weights, AutoencoderTrainingConfig) else AutoencoderTrainingConfig()
    lambdas = {name: getattr(config, field) for name, field in WEIGHT_FIELDS.items()}
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(WEIGHT_FIELDS))
        if unknown:
            raise ValueError(f"unknown loss weights {unknown} (known: {', '.join(WEIGHT_FIELDS)})")
        lambdas.update(weights)
    terms = [lambdas[name] * value for name, value in parts.items()]
    return torch.stack(terms).sum() if terms else torch.zeros(())


def quantization_loss(z: torch.Tensor, z_q: torch.Tensor, beta: float) -> torch.Tensor:
    """Eq. 3: Lq = ||sg(z) - z_q||^2 + β ||sg(z_q) - z||^2 (each a mean over all elements).

    z: encoder features E(x); z_q: the codebook entries chosen for them, U(Q(z)), *before* the
    straight-through substitution. The first term moves the codebook entries (reaches z_q only); the
    second, the commitment loss, moves the encoder (reaches z only), scaled by β.
    """
    codebook = F.mse_loss(z_q, z.detach())
    commitment = F.mse_loss(z, z_q.detach())
    return codebook + beta * commitment


def reconstruction_loss(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    perceptual: Callable[[torch.Tensor], Sequence[torch.Tensor]] | None = None,
) -> torch.Tensor:
    """Eq. 4: Lr = ||x - x̂||_1 + ||VGG(x) - VGG(x̂)||_1.

    x, x_hat: images ``[..., 3, H, W]`` in [-1, 1] (any leading dims: frames of a clip are images).
    The RGB term is a mean absolute error; the perceptual term, when a feature extractor is given
    (e.g. ``VGGFeatures``), is the sum over its layers of the mean absolute feature difference. x is
    the target: no gradient reaches it.
    """
    if x.shape != x_hat.shape:
        raise ValueError(f"x {tuple(x.shape)} and x_hat {tuple(x_hat.shape)} differ in shape")
    x = x.detach()
    loss = F.l1_loss(x_hat, x)
    if perceptual is not None:
        images, recons = x.reshape(-1, *x.shape[-3:]), x_hat.reshape(-1, *x_hat.shape[-3:])  # [N, 3, H, W]
        with torch.no_grad():
            targets = perceptual(images)
        for target, feature in zip(targets, perceptual(recons), strict=True):
            loss = loss + F.l1_loss(feature, target)
    return loss


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 5: Ld(Δ) = ln(1 + e^{Δ(x)}) + ln(1 + e^{-Δ(x̂)}) = softplus(Δ(x)) + softplus(-Δ(x̂)),
    each averaged over the batch.

    The paper's sign: minimising Ld drives real logits Δ(x) *down* and fake logits Δ(x̂) *up*.
    Pass logits of detached reconstructions, so that only the discriminator is trained by it.
    Computed in float32 (logits from bf16 autocast are upcast).
    """
    return F.softplus(real_logits.float()).mean() + F.softplus(-fake_logits.float()).mean()


def adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 6: La = ln(1 + e^{Δ(x̂)}) = softplus(Δ(x̂)), averaged over the batch.

    The paper's sign: minimising La drives the reconstructions' logits *down*, to the real side of
    Eq. 5. It trains E, Q, F, D through Δ (whose own update comes from Ld only).
    """
    return F.softplus(fake_logits.float()).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 regulariser of StyleGAN2 (not in the paper): E ||∇_x Δ(x)||^2 over real images.

    ``real_images`` must have had ``requires_grad_(True)`` before ``real_logits = Δ(real_images)``.
    Returns the per-sample squared gradient norm averaged over the batch; multiply by γ/2. The
    graph is kept, so the penalty trains Δ. The sign of the logits does not matter.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().flatten(1).sum(dim=1).mean()


def downsample_flow_target(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Flow ``[B, 2, H, W]`` in pixels -> ``[B, 2, h, w]``: area (average) pooling, vectors scaled by
    the resolution ratio (x by w/W, y by h/H) so that they are in pixels of the smaller grid."""
    h, w = flow.shape[-2:]
    if size[0] > h or size[1] > w:
        raise ValueError(f"cannot downsample a {h}x{w} flow to the larger {size[0]}x{size[1]}")
    pooled = F.adaptive_avg_pool2d(flow, size)
    scale = torch.tensor([size[1] / w, size[0] / h], dtype=flow.dtype, device=flow.device)
    return pooled * scale.view(1, 2, 1, 1)


def downsample_mask_target(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Mask ``[B, 1, H, W]`` in [0, 1] -> ``[B, 1, h, w]`` by area (average) pooling: the fraction of
    each coarse cell that is visible."""
    h, w = mask.shape[-2:]
    if size[0] > h or size[1] > w:
        raise ValueError(f"cannot downsample a {h}x{w} mask to the larger {size[0]}x{size[1]}")
    return F.adaptive_avg_pool2d(mask, size)


def _mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return values.mean()
    weight = weight.expand_as(values)
    return (values * weight).sum() / weight.sum().clamp_min(1e-8)


def contextual_loss(
    flow_pred: torch.Tensor,
    flow_target: torch.Tensor,
    mask_logits: torch.Tensor,
    mask_target: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 7: Lc = ||f_c - f̂_c||^2 + ||o'_c - σ(m̂_c)||^2 (each a mean over all elements).

    flow_pred ``[B, 2, h, w]`` (f̂_c, pixels of its own grid) and mask_logits ``[B, 1, h, w]`` (m̂_c,
    before the sigmoid) come from F at one resolution level; flow_target ``[B, 2, H, W]`` (f_c, the
    inverted augmentation flow, pixels) and mask_target ``[B, 1, H, W]`` (o'_c = W(o_c, f_c), in
    [0, 1]) may be finer: they are then area-downsampled to (h, w), so that the loss can be applied
    "at intermediate resolution levels" (Sec. 3.2). weight: optional ``[B, 1, H, W]`` per-pixel
    weights (e.g. 0 where the inverted flow is undefined), downsampled the same way; the means become
    weighted means.
    """
    size = tuple(flow_pred.shape[-2:])
    if mask_logits.shape[-2:] != flow_pred.shape[-2:]:
        raise ValueError(f"flow {tuple(flow_pred.shape)} and mask {tuple(mask_logits.shape)} differ in size")
    if tuple(flow_target.shape[-2:]) != size:
        flow_target = downsample_flow_target(flow_target, size)
    if tuple(mask_target.shape[-2:]) != size:
        mask_target = downsample_mask_target(mask_target, size)
    if weight is not None and tuple(weight.shape[-2:]) != size:
        weight = downsample_mask_target(weight, size)
    flow_term = _mean((flow_pred - flow_target.detach()).square(), weight)
    mask_term = _mean((torch.sigmoid(mask_logits) - mask_target.detach()).square(), weight)
    return flow_term + mask_term
