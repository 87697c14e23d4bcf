"""One training step of the first stage: the losses of Eq. 2 on a batch of clips (Sec. 3.2, Appendix A).

Training mimics inference (Appendix A): the frames of a clip are decoded one by one from their
(straight-through) quantized features, each with the last ``c`` frames as context — the real first
frame, then the frames decoded so far, re-encoded — and gradients flow only through the immediately
preceding frame's context features. On top of that, for the self-supervision of F, a batch may add
the augmented view of each frame as one more context (its flow and mask have targets: Eq. 7), and
may swap the temporal contexts for another clip's frames, which the mask must learn to reject.
"""

from __future__ import annotations

import attrs
import torch
from einops import rearrange

from ccvs_core.config import AutoencoderTrainingConfig
from ccvs_core.distributed import StridedBatch
from ccvs_core.models.autoencoder import Decoded, Encoded, FlowAutoencoder
from ccvs_core.models.discriminators import ImageDiscriminator, TemporalDiscriminator
from ccvs_core.training.losses import (
    adversarial_loss,
    contextual_loss,
    discriminator_loss,
    quantization_loss,
    reconstruction_loss,
)


@attrs.frozen
class StepChoices:
    """The random choices of one batch (drawn by the trainer from its generator)."""

    contexts: int  # c: temporal context frames (0 = pure decoding)
    self_view: bool  # add each frame's augmented view as a supervised context
    wrong_context: bool  # temporal contexts come from another clip of the batch


def draw_choices(
    generator: torch.Generator, max_contexts: int, cfg: AutoencoderTrainingConfig
) -> StepChoices:
    """The next batch's choices: the same on every process (each draws them from the same generator)."""
    return StepChoices(
        contexts=int(torch.randint(0, max_contexts + 1, (1,), generator=generator)),
        self_view=bool(torch.rand(1, generator=generator) < cfg.self_context_prob),
        wrong_context=bool(torch.rand(1, generator=generator) < cfg.wrong_context_prob),
    )


@attrs.frozen
class GeneratorOutput:
    losses: dict[str, torch.Tensor]  # Eq. 2's parts (scalars with gradients)
    decoded: torch.Tensor  # [B, T, 3, H, W]
    tokens: torch.Tensor  # [B, T, h, w]
    z: torch.Tensor  # [B*T, F, h, w] encoder outputs (for dead-code restarts)
    flow_error: torch.Tensor | None  # end-point error of the finest flow on the augmented views, pixels


def _frame(encoded: Encoded, b: int, t: int) -> Encoded:
    """Frame ``t`` of every clip from an encoding of ``[B*T, ...]`` (clip-major order)."""
    return encoded.map(lambda x: rearrange(x, "(b t) ... -> b t ...", b=b)[:, t])


def _rolled(encoded: Encoded, split: StridedBatch | None) -> Encoded:
    """The same frames, each given to the next clip of the batch (a context from another video); of
    the whole batch when it is split over processes."""
    if split is None:
        return encoded.map(lambda x: x.roll(1, 0))
    return encoded.map(lambda x: split.mine(split.gather(x).roll(1, 0)))


def _view_losses(
    out: Decoded, index: int, flow: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 7 at every level for the context ``index`` (the augmented view), and its finest-level EPE
    (a tensor: no host sync here, and the step also runs on the meta device to estimate its cost)."""
    terms = [
        contextual_loss(f[:, index], flow, m[:, index], mask)
        for f, m in zip(out.flows, out.masks, strict=True)
    ]
    finest = out.flows[-1][:, index].detach()
    epe = (
        (finest - flow).norm(dim=1).mean()
        if finest.shape[-2:] == flow.shape[-2:]
        else finest.new_full((), float("nan"))
    )
    return torch.stack(terms).mean(), epe


def _rejection_loss(out: Decoded, count: int) -> torch.Tensor:
    """Eq. 7's mask term for contexts from another video: their target o'_c is 1 everywhere."""
    terms = [(torch.sigmoid(m[:, :count]) - 1).square().mean() for m in out.masks]
    return torch.stack(terms).mean()


def generator_losses(
    model: FlowAutoencoder,
    batch: dict[str, torch.Tensor],
    choices: StepChoices,
    perceptual: torch.nn.Module | None = None,
    discriminators: tuple[ImageDiscriminator, TemporalDiscriminator] | None = None,
    split: StridedBatch | None = None,
) -> GeneratorOutput:
    """Eq. 2's parts for E, Q, F, D on a batch: frames ``[B, T, 3, H, W]`` and their augmented views.
    ``split``: the batch is this process's share of one split over ``processes`` (wrong contexts then
    come from the whole batch)."""
    x = batch["frames"]
    b, t_len = x.shape[:2]
    whole_b = b * (split.processes if split is not None else 1)
    encoded = model.encode(rearrange(x, "b t c h w -> (b t) c h w"))
    quantized = model.quantize(encoded.z)
    z_st = rearrange(quantized.z_st, "(b t) ... -> b t ...", b=b)
    losses = {"quantization": quantization_loss(encoded.z, quantized.z_q, model.config.beta)}  # Eq. 3
    views = None
    if choices.self_view:
        views = model.encode(rearrange(batch["view"], "b t c h w -> (b t) c h w"))
    wrong = choices.wrong_context and whole_b > 1 and choices.contexts > 0
    history: list[Encoded] = []  # the context frames so far, oldest first
    decoded, contextual, epes = [], [], []
    for t in range(t_len):
        temporal = history[-choices.contexts :] if choices.contexts else []
        if wrong:
            temporal = [_rolled(e, split) for e in temporal]
        contexts = [*temporal, _frame(views, b, t)] if views is not None else temporal
        out = model.decode(z_st[:, t], contexts)
        decoded.append(out.image)
        if views is not None:
            loss, epe = _view_losses(out, len(temporal), batch["view_flow"][:, t], batch["view_mask"][:, t])
            contextual.append(loss)
            epes.append(epe)
        if wrong and temporal:
            contextual.append(_rejection_loss(out, len(temporal)))
        if choices.contexts and t < t_len - 1:
            # the next frame's contexts: the real first frame, then decoded frames re-encoded (shift-and-add);
            # only the immediately preceding frame keeps its gradients (Appendix A)
            newest = _frame(encoded, b, 0) if t == 0 else model.encode(out.image)
            history = [*(h.detach() for h in history), newest]
    frames = torch.stack(decoded, dim=1)  # [B, T, 3, H, W]
    losses["reconstruction"] = reconstruction_loss(
        rearrange(x, "b t c h w -> (b t) c h w"), rearrange(frames, "b t c h w -> (b t) c h w"), perceptual
    )  # Eq. 4
    if contextual:
        losses["contextual"] = torch.stack(contextual).mean()  # Eq. 7
    if discriminators is not None:
        image_disc, temporal_disc = discriminators
        fake_frames = rearrange(frames, "b t c h w -> (b t) c h w")
        losses["adversarial"] = adversarial_loss(image_disc(fake_frames)) + adversarial_loss(
            temporal_disc(rearrange(frames, "b t c h w -> b c t h w"))
        )  # Eq. 6 for Δi and Δt
    tokens = rearrange(quantized.tokens, "(b t) h w -> b t h w", b=b)
    flow_error = torch.stack(epes).mean() if epes else None
    return GeneratorOutput(losses, frames, tokens, encoded.z.detach(), flow_error)


def discriminator_losses(
    image_disc: ImageDiscriminator,
    temporal_disc: TemporalDiscriminator,
    real: torch.Tensor,
    fake: torch.Tensor,
) -> torch.Tensor:
    """Eq. 5 for Δi (frames) plus Δt (clips): real and decoded clips ``[B, T, 3, H, W]`` (fake detached)."""
    fake = fake.detach()
    flat = lambda v: rearrange(v, "b t c h w -> (b t) c h w")  # noqa: E731
    clip = lambda v: rearrange(v, "b t c h w -> b c t h w")  # noqa: E731
    return discriminator_loss(image_disc(flat(real)), image_disc(flat(fake))) + discriminator_loss(
        temporal_disc(clip(real)), temporal_disc(clip(fake))
    )


class GeneratorLoss(torch.nn.Module):
    """``generator_losses`` as one module around the autoencoder: DDP must see the whole step in one
    forward call. Returns the ``GeneratorOutput``'s fields as a dict (DDP looks for tensors there)."""

    def __init__(self, model: FlowAutoencoder):
        super().__init__()
        self.model = model

    def forward(self, batch, choices, perceptual=None, discriminators=None, split=None) -> dict:
        out = generator_losses(self.model, batch, choices, perceptual, discriminators, split)
        return attrs.asdict(out, recurse=False)


class DiscriminatorLoss(torch.nn.Module):
    """``discriminator_losses`` as one module around Δi and Δt (for DDP)."""

    def __init__(self, image_disc: ImageDiscriminator, temporal_disc: TemporalDiscriminator):
        super().__init__()
        self.image_disc, self.temporal_disc = image_disc, temporal_disc

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return discriminator_losses(self.image_disc, self.temporal_disc, real, fake)
