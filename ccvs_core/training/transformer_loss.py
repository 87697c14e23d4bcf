"""The stage-2 loss of a batch of windows (Eq. 8, and the predicted condition slots'), and the held-out
loss the trainer reports at every checkpoint."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ccvs_core.models.transformer import VideoTransformer, next_token_loss, slot_token_loss
from ccvs_core.training.transformer_data import TokenClips


def window_loss(
    model: VideoTransformer,
    sequence: torch.Tensor,
    gaps: torch.Tensor | None = None,
    precision: str = "float32",
) -> torch.Tensor:
    """The training loss of a batch of windows ``[B, L]``: Eq. 8 on the frame tokens, plus the predicted
    condition slots' (layouts, Fig. D2); the forward pass under bfloat16 autocast when ``precision``
    says so. ``gaps``: ``SequenceLayout.gap_ids`` of the target slots."""
    with torch.autocast(sequence.device.type, torch.bfloat16, enabled=precision == "bfloat16"):
        hidden = model(sequence, gaps=gaps, hidden=True)
        loss = next_token_loss(model.head(hidden), sequence, model.layout)
        if model.slot_heads:
            loss = loss + slot_token_loss(model, hidden, sequence)
    return loss


class WindowLoss(torch.nn.Module):
    """``window_loss`` as one module around the model: DDP must see the whole loss in one forward call
    (the heads run outside the model's own forward)."""

    def __init__(self, model: VideoTransformer):
        super().__init__()
        self.model = model

    def forward(
        self, sequence: torch.Tensor, gaps: torch.Tensor | None = None, precision: str = "float32"
    ) -> torch.Tensor:
        return window_loss(self.model, sequence, gaps, precision)


def batch_loss(
    model: VideoTransformer,
    frames: torch.Tensor,
    conditions: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    gaps: Mapping[str, torch.Tensor] | None = None,
    precision: str = "float32",
    dropped: Mapping[str, torch.Tensor] | None = None,
    loss: torch.nn.Module | None = None,
) -> torch.Tensor:
    """``window_loss`` of a batch as ``TokenClips`` gives it (frame tokens ``[B, N, h, w]``, condition
    tokens, the target conditions' gaps ``[B]``), moved to the model's device and laid out;
    ``dropped``: ``{condition: [B] bool}``, the windows that hold its absent tokens instead; ``loss``:
    the ``WindowLoss`` of ``model`` to call (wrapped in DDP under torchrun)."""
    device = model.head.weight.device
    sequence = model.layout.join(frames.to(device), conditions or {})
    for condition, rows in (dropped or {}).items():
        sequence = model.layout.drop(sequence, condition, rows)
    gap_ids = model.layout.gap_ids({c: g.to(device) for c, g in (gaps or {}).items()}, len(frames))
    return (loss or WindowLoss(model))(sequence, gap_ids, precision)


@torch.no_grad()
def held_out_loss(
    model: VideoTransformer, windows: TokenClips, count: int, batch_size: int, precision: str = "float32"
) -> float:
    """``window_loss`` averaged over windows ``0 .. count - 1`` of ``windows`` (each video once, then
    again from other start frames; the same windows at every call), in eval mode."""
    was_training = model.training
    model.eval()
    total = 0.0
    for first in range(0, count, batch_size):
        batch = torch.utils.data.default_collate(
            [windows[d] for d in range(first, min(first + batch_size, count))]
        )
        loss = batch_loss(model, batch["frames"], batch["conditions"], batch["gaps"], precision)
        total += float(loss) * len(batch["frames"])
    model.train(was_training)
    return total / count
