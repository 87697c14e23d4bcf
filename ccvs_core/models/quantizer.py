"""The vector quantizer Q and un-quantizer U over an F x q codebook (Sec. 3.1, Eq. 3, Appendix A).

Q maps every feature vector of z ``[B, F, h, w]`` to the index of its nearest codebook entry (tokens
``[B, h, w]``); U maps tokens back to entries. Gradients cross the non-differentiable lookup by the
straight-through estimator. Dead codes — entries no feature has picked for ``dead_after`` training
steps — can be restarted on random encoder outputs (an improvement over the paper; see
``restart_dead_codes``).
"""

from __future__ import annotations

import attrs
import torch
from einops import rearrange
from torch import nn

from ccvs_core.models.split_batch import SplitBatch


@attrs.frozen
class Quantized:
    """What Q gives for a batch of features."""

    tokens: torch.Tensor  # [B, h, w] long
    z_q: torch.Tensor  # [B, F, h, w] codebook entries U(Q(z)), with gradient to the codebook (Eq. 3)
    z_st: torch.Tensor  # [B, F, h, w] straight-through: the values of z_q, the gradient of z


def straight_through(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """Forward the quantized values, backward the identity (Appendix A, "straight-through estimator")."""
    return z + (z_q - z).detach()


def perplexity(tokens: torch.Tensor, codebook_size: int) -> float:
    """exp(entropy) of the token histogram: the number of equally used codes it is worth."""
    counts = torch.bincount(tokens.flatten(), minlength=codebook_size).double()
    p = counts / counts.sum().clamp_min(1)
    return float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))


class VectorQuantizer(nn.Module):
    def __init__(self, codebook_size: int, dim: int):
        super().__init__()
        self.codebook = nn.Parameter(
            torch.empty(codebook_size, dim).uniform_(-1 / codebook_size, 1 / codebook_size)
        )
        # training bookkeeping, saved with the weights: the step each code was last picked
        self.register_buffer("last_used", torch.zeros(codebook_size, dtype=torch.long))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        # set when the batch is split over processes: the bookkeeping must see the whole batch
        self.split: SplitBatch | None = None

    @property
    def codebook_size(self) -> int:
        return self.codebook.shape[0]

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Q: nearest codebook entry of every feature vector. ``[B, F, h, w]`` -> tokens ``[B, h, w]``."""
        flat = rearrange(z, "b f h w -> (b h w) f").float()
        codebook = self.codebook.float()
        distances = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.t() + codebook.pow(2).sum(1)
        return distances.argmin(1).view(z.shape[0], *z.shape[2:])

    def lookup(self, tokens: torch.Tensor) -> torch.Tensor:
        """U: tokens ``[B, h, w]`` -> codebook entries ``[B, F, h, w]``."""
        return rearrange(self.codebook[tokens], "b h w f -> b f h w")

    @torch.no_grad()
    def initialize_from(self, z: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Set every entry to a random feature vector of ``z`` ``[B, F, h, w]``. Done once, on the first
        training batch: entries drawn from the data start in use, where a tiny random codebook far from
        the encoder's outputs collapses onto the one entry nearest to them all."""
        flat = rearrange(z, "b f h w -> (b h w) f")
        picks = torch.randint(0, flat.shape[0], (self.codebook_size,), generator=generator, device="cpu")
        self.codebook.copy_(flat[picks.to(flat.device)].to(self.codebook.dtype))
        self.initialized.fill_(True)

    def forward(self, z: torch.Tensor) -> Quantized:
        whole = self.split.gather if self.split is not None else lambda x: x
        if self.training and not self.initialized:
            self.initialize_from(whole(z.detach()))
        tokens = self.quantize(z.detach())
        z_q = self.lookup(tokens).to(z.dtype)
        if self.training:
            with torch.no_grad():
                self.step += 1
                self.last_used[whole(tokens).unique()] = self.step
        return Quantized(tokens, z_q, straight_through(z, z_q))

    @torch.no_grad()
    def restart_dead_codes(
        self, z: torch.Tensor, dead_after: int, generator: torch.Generator | None = None
    ) -> int:
        """Move every code unused for ``dead_after`` steps onto a random feature vector of ``z``
        ``[B, F, h, w]`` (the current batch's encoder outputs). Returns how many codes moved."""
        dead = (self.step - self.last_used > dead_after).nonzero().flatten()
        if dead.numel() == 0:
            return 0
        flat = rearrange(z, "b f h w -> (b h w) f")
        picks = torch.randint(0, flat.shape[0], (dead.numel(),), generator=generator, device="cpu")
        self.codebook[dead] = flat[picks.to(flat.device)].to(self.codebook.dtype)
        self.last_used[dead] = self.step
        return int(dead.numel())
