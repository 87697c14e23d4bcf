"""The flow module F: match, refine and fuse, coarse to fine (Sec. 3.2, Appendix A and D).

At each decoder level, for every context frame, F estimates a flow f (context -> frame being decoded,
backward convention of ``warp``) and a fusion mask m, refining the coarser level's estimate:

- ``correlation`` + ``FlowLevel.match``: a local cost volume of the decoder features against the
  warped context features over (2r+1)^2 neighbours, read out as a soft correspondence (the expected
  displacement under a softmax of the costs around the best one) plus a learnt residual, and a
  mask update;
- ``FlowLevel.refine``: a residual update of flow and mask from features, mask and flow;
- ``aggregate_contexts`` (Eq. 9) merges c contexts by the confidence 1 - sigmoid(m), and ``fuse``
  (Eq. 1) blends the result into the decoder features.

Mask convention: sigmoid(m) = 1 keeps the decoder's own features (the context is occluded or
useless there), sigmoid(m) = 0 copies the warped context (Appendix B).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ccvs_core.models.blocks import NEGATIVE_SLOPE, conv3x3
from ccvs_core.models.warp import resize_flow, warp


def fuse(decoded: torch.Tensor, warped_context: torch.Tensor, mask_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 1: d = sigmoid(m) * d + (1 - sigmoid(m)) * e' (mask ``[B, 1, h, w]`` broadcast over channels)."""
    keep = torch.sigmoid(mask_logits)
    return keep * decoded + (1 - keep) * warped_context


def aggregate_contexts(mask_logits: torch.Tensor, warped: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 9: merge c contexts into one mask and one warped feature map.

    mask_logits: ``[B, c, 1, h, w]``; warped: ``[B, c, C, h, w]``. The confidence of context i is
    s_i = (1 - sigmoid(m_i)) / sum_j (1 - sigmoid(m_j)), computed as a softmax of log sigmoid(-m) so that
    it stays exact when every context is deemed useless. Returns (m_a ``[B, 1, h, w]``, e'_a ``[B, C, h, w]``).
    """
    confidence = torch.softmax(F.logsigmoid(-mask_logits), dim=1)  # [B, c, 1, h, w], sums to 1 over c
    return (confidence * mask_logits).sum(1), (confidence * warped).sum(1)


def correlation(target: torch.Tensor, source: torch.Tensor, radius: int) -> torch.Tensor:
    """Cost volume ``[N, (2r+1)^2, h, w]``: cosine similarity of ``target`` at p with ``source`` at p + d for
    every displacement d = (dx, dy) in [-r, r]^2, ordered dy-major (index (dy + r) * (2r + 1) + dx + r)."""
    h, w = target.shape[-2:]
    target = F.normalize(target, dim=1)
    source = F.pad(F.normalize(source, dim=1), [radius] * 4)
    side = 2 * radius + 1
    costs = [
        (target * source[:, :, dy : dy + h, dx : dx + w]).sum(1) for dy in range(side) for dx in range(side)
    ]
    return torch.stack(costs, dim=1)


def displacements(radius: int, device=None, dtype=None) -> torch.Tensor:
    """The (dx, dy) of each cost-volume channel: ``[(2r+1)^2, 2]``."""
    steps = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([dx.flatten(), dy.flatten()], dim=1)


def _around_best(logits: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """``[N, n, h, w]`` bool: the displacements within one step of each pixel's best one. The soft
    correspondence averages over these only: a softmax over the whole window is pulled toward its
    centre (flows come out shrunk toward zero), a local one around the peak is not."""
    best = offsets[logits.argmax(1)]  # [N, h, w, 2]
    gap = (offsets.view(1, -1, 1, 1, 2) - best.unsqueeze(1)).abs().amax(-1)  # [N, n, h, w]
    return gap <= 1


def _identity_conv(channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(channels, channels, kernel_size=1)
    with torch.no_grad():
        # not torch.eye: under a torch.device context (models are built on the meta device before
        # their weights load) it goes through torch._refs, which imports torch._dynamo (~0.9 s)
        conv.weight.zero_().view(channels, channels).fill_diagonal_(1.0)
        conv.bias.zero_()
    return conv


def _head(in_channels: int, hidden: int, out_channels: int) -> nn.Sequential:
    last = conv3x3(hidden, out_channels)
    nn.init.zeros_(last.weight)  # start as "no update": the residual path begins at zero
    nn.init.zeros_(last.bias)
    return nn.Sequential(
        conv3x3(in_channels, hidden),
        nn.LeakyReLU(NEGATIVE_SLOPE),
        conv3x3(hidden, hidden),
        nn.LeakyReLU(NEGATIVE_SLOPE),
        last,
    )


class FlowLevel(nn.Module):
    """F at one resolution level: "match" then "refine" (Appendix A, Fig. A1-(2))."""

    def __init__(self, channels: int, hidden: int, radius: int, match: bool = True):
        super().__init__()
        self.radius = radius
        self.use_match = match  # False: refine only (an ablation of the match step)
        neighbours = (2 * radius + 1) ** 2
        self.key_decoded = _identity_conv(channels)  # the features match compares, learnt from identity
        self.key_context = _identity_conv(channels)
        self.sharpness = nn.Parameter(torch.tensor(20.0))  # softmax temperature of the cost volume
        self.match = _head(neighbours, hidden, neighbours + 3)  # logit residuals, flow and mask updates
        self.refine = _head(2 * channels + 3, hidden, 3)  # flow (2) and mask (1) updates

    def forward(
        self, decoded: torch.Tensor, context: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """decoded, context: ``[N, C, h, w]``; flow ``[N, 2, h, w]`` and mask logits ``[N, 1, h, w]`` from the
        coarser level (zeros at the coarsest). Returns the refined (flow, mask logits)."""
        if self.use_match:
            flow, mask = self._match(decoded, context, flow, mask)
        # refine: a residual update from the features, the mask and the flow
        warped = warp(context, flow)
        update = self.refine(torch.cat([decoded, warped, mask, flow], dim=1))
        return flow + update[:, :2], mask + update[:, 2:]

    def _match(
        self, decoded: torch.Tensor, context: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Where around p + f(p) does the context look like the decoded frame? A soft correspondence."""
        n = displacements(self.radius, decoded.device, decoded.dtype).shape[0]
        cost = correlation(self.key_decoded(decoded), self.key_context(warp(context, flow)), self.radius)
        update = self.match(cost)
        logits = self.sharpness * cost + update[:, :n]
        offsets = displacements(self.radius, decoded.device, decoded.dtype)  # [n, 2]
        weights = torch.softmax(logits.masked_fill(~_around_best(logits, offsets), -torch.inf), dim=1)
        step = torch.einsum("bkhw,kc->bchw", weights, offsets)  # expected displacement [N, 2, h, w]
        return flow + step + update[:, n : n + 2], mask + update[:, n + 2 :]


def upsample_estimate(
    flow: torch.Tensor, mask: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Carry a (flow, mask logits) estimate to the next, finer level."""
    return resize_flow(flow, size), F.interpolate(mask, size=size, mode="bilinear", align_corners=False)
