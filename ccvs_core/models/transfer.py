"""Start a transformer from another one trained with other conditions (``--init-from``).

A condition added to a trained model needs only its own embeddings learnt: the blocks, the frame
token embeddings and the output head carry over. The two models' slots are matched by key
(``"frame"``, ``"start"``, ``"<condition>.<slot>"``), so the rows of a shared slot are copied whatever
other slots either layout holds; rows of new slots keep their fresh initialisation. The widths,
depths and the frame vocabulary must match: there is nothing sensible to copy otherwise.
"""

from __future__ import annotations

import os

import attrs
import torch

from ccvs_core.errors import CheckpointError
from ccvs_core.models.transformer import VideoTransformer

# fields of TransformerConfig that fix the shapes of the blocks
_SHAPE_FIELDS = ("layers", "heads", "width", "mlp_ratio")


@attrs.frozen
class Transfer:
    """What ``transfer_weights`` did: slot keys whose rows were copied, the new ones, and the new ones
    whose token rows start as the trained frame tokens' (``Slot.init`` "frame_tokens": the end frame)
    or as the trained places they point at (``Slot.init`` "cell", "column", "row": the state)."""

    shared: tuple[str, ...]
    new: tuple[str, ...]
    from_frames: tuple[str, ...] = ()
    from_places: tuple[str, ...] = ()


@torch.no_grad()
def transfer_weights(
    source: VideoTransformer, target: VideoTransformer, origin: str | os.PathLike
) -> Transfer:
    """Copy into ``target`` every weight of ``source`` that means the same thing there.

    origin: where ``source`` was read from, named in errors.
    """
    for field in _SHAPE_FIELDS:
        have, want = getattr(source.config, field), getattr(target.config, field)
        if have != want:
            raise CheckpointError(
                origin,
                f"its transformer has {field} = {have}, this run {want}",
                "start from a model of the same size",
            )
    if source.frame_vocab != target.frame_vocab or source.layout.grid != target.layout.grid:
        raise CheckpointError(
            origin,
            f"its frames are {source.layout.grid} tokens from a codebook of {source.frame_vocab}, "
            f"this run's {target.layout.grid} from {target.frame_vocab}",
            "start from a model of the same autoencoder",
        )
    for name in ("blocks", "norm", "head"):
        getattr(target, name).load_state_dict(getattr(source, name).state_dict())
    _copy_rows(source.time.weight, target.time.weight)  # frame times; video-level slots use row 0
    _copy_rows(source.index.weight, target.index.weight)
    if source.gap is not None and target.gap is not None:
        _copy_rows(source.gap.weight, target.gap.weight)
    old = {s.key: s for s in source.layout.slots}
    shared, new = [], []
    for slot in target.layout.slots:
        match = old.get(slot.key)
        same_size = match is not None and source.vocabs[match.id] == target.vocabs[slot.id]
        if not same_size or match.length != slot.length:
            new.append(slot.key)
            continue  # fresh rows; those of slots that start from frame tokens or places are set below
        shared.append(slot.key)
        target.slot.weight[slot.id] = source.slot.weight[match.id]
        target.token.weight[target.token_rows(slot.id)] = source.token.weight[source.token_rows(match.id)]
        additive = slot.slot is not None and slot.slot.additive
        if additive and match.slot.additive:  # (a slot made additive only now starts at zero)
            target.add.weight[target.additive_rows(slot.id)] = source.add.weight[
                source.additive_rows(match.id)
            ]
        if str(slot.id) in target.slot_heads and str(match.id) in source.slot_heads:
            target.slot_heads[str(slot.id)].load_state_dict(source.slot_heads[str(match.id)].state_dict())
    # from the trained frame rows, now in target: a new end frame reads codes the model knows
    from_frames = target.copy_frame_embeddings(only=new)
    # and from the trained position embeddings: new coordinates point at places the model knows
    from_places = target.point_embeddings(only=new)
    return Transfer(tuple(shared), tuple(new), tuple(from_frames), tuple(from_places))


def _copy_rows(source: torch.Tensor, target: torch.Tensor) -> None:
    rows = min(len(source), len(target))
    target[:rows] = source[:rows]
