"""The transformer T: a GPT-style decoder over the token sequence of ``SequenceLayout`` (Sec. 3.3, Appendix A).

Input embedding = token embedding (each slot's vocabulary has its own rows of one table, a condition
slot's with one more row: its absent token) + slot-type embedding + time embedding + in-slot position
embedding: the spatio-temporal decomposition of Appendix A. Pre-norm blocks of causal multi-head self-attention and an MLP. The head scores the
frame codebook only: only frame tokens are ever predicted. A key/value cache makes incremental
decoding cost one position per step instead of the whole prefix.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection

import torch
import torch.nn.functional as F
from torch import nn

from ccvs_core.config import TransformerConfig
from ccvs_core.errors import PluginError
from ccvs_core.models.attention import attention, resolve_backend
from ccvs_core.models.decode_step import DecodeStep
from ccvs_core.models.linear import Linear
from ccvs_core.sequence import SequenceLayout


class KVCache:
    """Keys and values of every layer for positions ``0 .. length - 1``, preallocated to ``capacity``."""

    def __init__(self, layers: int, batch: int, heads: int, head_dim: int, capacity: int, device, dtype):
        shape = (layers, batch, heads, capacity, head_dim)
        self.keys = torch.empty(shape, device=device, dtype=dtype)
        self.values = torch.empty(shape, device=device, dtype=dtype)
        self.layers = list(zip(self.keys.unbind(0), self.values.unbind(0), strict=True))  # views, once
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.keys.shape[3]

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k, v [B, H, n, D]`` after the cached positions; return all keys and values so far."""
        end = self.length + k.shape[2]
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} positions, {end} were asked for")
        self.keys[layer, :, :, self.length : end] = k
        self.values[layer, :, :, self.length : end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]

    def advance(self, n: int) -> None:
        """Count ``n`` new positions as cached (once every layer has stored them)."""
        self.length += n


class SelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.heads, self.backend = config.heads, config.attention
        self.qkv = Linear(config.width, 3 * config.width)
        self.proj = Linear(config.width, config.width)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        b, n, width = x.shape
        # [B, n, 3 * H * D] -> three [B, H, n, D] (views; reshape and permute, not einops: this runs once
        # per layer and sampled token, where Python's overhead is most of the cost)
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = cache.extend(layer, k, v)
        out = attention(q, k, v, self.backend)  # [B, H, n, D]
        return self.proj(out.transpose(1, 2).reshape(b, n, width))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        hidden = int(config.width * config.mlp_ratio)
        self.ln1 = nn.LayerNorm(config.width)
        self.attn = SelfAttention(config)
        self.ln2 = nn.LayerNorm(config.width)
        self.mlp = nn.Sequential(Linear(config.width, hidden), nn.GELU(), Linear(hidden, config.width))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        if self.training:
            x = x + self.dropout(self.attn(self.ln1(x), cache, layer))
            return x + self.dropout(self.mlp(self.ln2(x)))
        # the same operations without the module calls: at inference this runs once per layer and
        # sampled token, where Python's overhead is most of the cost (dropout is the identity)
        x = x + self.attn.forward(_layer_norm(self.ln1, x), cache, layer)
        fc1, gelu, fc2 = self.mlp
        return x + fc2.forward(gelu.forward(fc1.forward(_layer_norm(self.ln2, x))))


def _layer_norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


class VideoTransformer(nn.Module):
    """T over one window of ``layout`` (frame vocabulary ``frame_vocab``, the codebook size)."""

    def __init__(self, config: TransformerConfig, layout: SequenceLayout, frame_vocab: int):
        super().__init__()
        self.config, self.layout, self.frame_vocab = config, layout, frame_vocab
        for s in layout.condition_slots:
            if s.slot.init == "frame_tokens" and s.slot.vocab_size != frame_vocab:
                raise PluginError(
                    f"condition '{s.condition}'",
                    f"slot '{s.key}' holds frame tokens but has vocab_size {s.slot.vocab_size}; "
                    f"the codebook has {frame_vocab}",
                )
            cells = layout.tokens_per_frame
            if s.slot.init == "cell" and s.slot.vocab_size != cells:
                raise PluginError(
                    f"condition '{s.condition}'",
                    f"slot '{s.key}' points at cells but has vocab_size {s.slot.vocab_size}; "
                    f"the token grid {layout.grid} has {cells}",
                )
        # rows per slot id: the codebook, the start token, each condition slot's values and its absent token
        self.vocabs = [frame_vocab, 1] + [s.slot.vocab_size + 1 for s in layout.condition_slots]
        vocabs = self.vocabs
        # first row of each slot's vocabulary, in Python: torch's cumsum and indexing on the meta device
        # (the weight check's build) go through torch._refs, which imports torch._dynamo and sympy (~1 s)
        offsets = list(itertools.accumulate([0, *vocabs[:-1]]))
        token_offset = torch.tensor([offsets[i] for i in layout.slot_ids.tolist()])
        self.register_buffer("token_offset", token_offset, persistent=False)  # [L]
        self.register_buffer("slot_ids", layout.slot_ids.clone(), persistent=False)  # [L]
        self.register_buffer("time_ids", layout.times + 1, persistent=False)  # [L], 0: no time (video-level)
        self.register_buffer("index_ids", layout.indices.clone(), persistent=False)  # [L]
        self.register_buffer("targeted", layout.target_mask.clone(), persistent=False)  # [L]
        self.token = nn.Embedding(sum(vocabs), config.width)
        self.slot = nn.Embedding(len(layout.slots), config.width)
        self.time = nn.Embedding(layout.num_frames + 1, config.width)
        self.index = nn.Embedding(max(s.length for s in layout.slots), config.width)
        # target slots (the end frame) embed their gap to the window instead of a time
        self.gap = nn.Embedding(config.max_gap + 1, config.width) if bool(layout.target_mask.any()) else None
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.width)
        self.head = Linear(config.width, frame_vocab, bias=False)
        # predicted condition slots (layouts, Fig. D2) get heads of their own, keyed by slot id
        self.slot_heads = nn.ModuleDict(
            {
                str(s.id): Linear(config.width, s.slot.vocab_size, bias=False)
                for s in layout.condition_slots
                if s.slot.predicted
            }
        )
        # additive slots (a class, a sound) also reach the frame tokens they condition directly, through
        # rows of their own that start at zero: the model starts as if they were not there
        self.additive = [s for s in layout.condition_slots if s.slot.additive]
        sizes = [s.slot.vocab_size + 1 for s in self.additive]
        self.add = nn.Embedding(sum(sizes), config.width) if self.additive else None
        self.register_buffer(
            "frame_time", torch.where(layout.slot_ids == 0, layout.times, -1), persistent=False
        )  # [L]: the frame of each frame token, -1 elsewhere
        self.apply(_init_weights)
        if self.add is not None:
            nn.init.zeros_(self.add.weight)
        self._decode_step: DecodeStep | bool | None = None  # built at the first one-token step
        self._position_ids: list[tuple[int, ...]] | None = None  # per position, for _embed_one
        # built on the meta device only its shapes are read: no values to set (and torch's meta kernels
        # for setting them import torch._dynamo, about 1 s of every load)
        if not self.token.weight.is_meta:
            self.copy_frame_embeddings()
            self.point_embeddings()

    def _apply(self, fn, recurse=True):
        self._decode_step = None  # it holds views of the parameters as they were
        return super()._apply(fn, recurse)

    def _one_token_step(self) -> DecodeStep | None:
        """The straight-line step for one token at inference (``DecodeStep``), or None where it does
        not apply: another attention backend, or parameters that are not plain tensors (sharded)."""
        if self._decode_step is None or (
            self._decode_step and self._decode_step.threads != torch.get_num_threads()
        ):
            weight = self.head.weight
            usable = resolve_backend(self.config.attention, weight.device) == "sdpa" and all(
                type(p) is nn.Parameter for p in self.parameters()
            )
            self._decode_step = DecodeStep(self.blocks, self.norm, self.config.heads) if usable else False
        return self._decode_step or None

    def token_rows(self, slot_id: int) -> slice:
        """The rows of ``self.token`` that embed the tokens of slot ``slot_id``."""
        start = sum(self.vocabs[:slot_id])
        return slice(start, start + self.vocabs[slot_id])

    @torch.no_grad()
    def copy_frame_embeddings(self, only: Collection[str] | None = None) -> list[str]:
        """Set the value rows of every ``init="frame_tokens"`` slot (the end frame; those whose key is in
        ``only``, if given) to the frame tokens' rows: the same codes, so the same starting meaning.
        Returns the slots' keys."""
        copied = []
        frame_rows = self.token.weight[self.token_rows(0)]
        for s in self.layout.condition_slots:
            if s.slot.init == "frame_tokens" and (only is None or s.key in only):
                first = self.token_rows(s.id).start
                self.token.weight[first : first + self.frame_vocab] = frame_rows
                copied.append(s.key)
        return copied

    def cell_embeddings(self) -> torch.Tensor:
        """``[h, w, D]``: the part of a frame token's input embedding that says which cell of the grid it
        is in (its in-slot position embedding). Slots with ``init`` "cell", "column" or "row" start from
        it, so it must change with the positional encoding."""
        h, w = self.layout.grid
        return self.index.weight[: h * w].view(h, w, -1)

    @torch.no_grad()
    def point_embeddings(self, only: Collection[str] | None = None) -> list[str]:
        """Set the value rows of every slot whose ``init`` is a place (those whose key is in ``only``, if
        given) to the places they name: value v of a "column" slot becomes the mean cell embedding of
        the column at ``(v + 0.5) / vocab_size`` of the width (linearly between two columns' means;
        "row": rows; "cell": frame token v's own), less the slot's own position embedding, so that
        token + position embedding of the slot is the place's. Returns the slots' keys."""
        places = self.cell_embeddings()
        pointed = []
        for s in self.layout.condition_slots:
            if s.slot.init not in ("cell", "column", "row") or (only is not None and s.key not in only):
                continue
            vocab = s.slot.vocab_size
            if s.slot.init == "cell":
                rows = places.flatten(0, 1)  # [h * w, D]: value v is frame token v
            else:
                lines = places.mean(0) if s.slot.init == "column" else places.mean(1)  # [w or h, D]
                size = len(lines)
                u = (torch.arange(vocab, device=lines.device) + 0.5) * size / vocab - 0.5
                u = u.clamp(0, size - 1)  # value -> fractional column (row) index
                low = u.floor().long()
                high = (low + 1).clamp(max=size - 1)
                frac = (u - low)[:, None].to(lines.dtype)
                rows = lines[low] * (1 - frac) + lines[high] * frac  # [vocab, D]
            own = self.index.weight[: s.length].mean(0)  # the slot's own in-slot positions
            first = self.token_rows(s.id).start
            self.token.weight[first : first + vocab] = rows - own
            pointed.append(s.key)
        return pointed

    def additive_rows(self, slot_id: int) -> slice:
        """The rows of ``self.add`` that embed the tokens of the additive slot ``slot_id``."""
        first = 0
        for s in self.additive:
            if s.id == slot_id:
                return slice(first, first + s.slot.vocab_size + 1)
            first += s.slot.vocab_size + 1
        raise KeyError(f"slot {slot_id} is not additive")

    def additive_table(self, window: torch.Tensor) -> torch.Tensor:
        """What the additive slots add at each frame of the window ``[B, N, D]``: the mean embedding of
        each slot's tokens for that frame (video-level slots: their tokens), summed over the slots.
        ``window [B, L]``: the window's whole sequence. Sampling computes it once per window (the
        additive slots hold given condition tokens) and passes it as ``additive``."""
        total = 0
        for s in self.additive:
            rows = self.additive_rows(s.id)
            found = window[:, self.layout.positions(s.key).to(window.device)]  # [B, N, length] or [B, length]
            embedded = self.add(found + rows.start).mean(-2)  # [B, N, D] or [B, D]
            if s.level == "video":
                embedded = embedded[:, None].expand(-1, self.layout.num_frames, -1)
            total = total + embedded
        return total

    def _additive(self, table: torch.Tensor, positions: slice) -> torch.Tensor:
        """``additive_table``'s rows for positions ``positions`` ``[B, n, D]``: a frame token gets its
        frame's row, any other position zero."""
        t = self.frame_time[positions]  # [n]
        return table[:, t.clamp(min=0)] * (t >= 0)[None, :, None].to(table.dtype)

    def head_for(self, slot_id: int) -> nn.Linear:
        """The output head that scores tokens of slot ``slot_id`` (frame tokens: ``head``)."""
        return self.head if slot_id == 0 else self.slot_heads[str(slot_id)]

    def new_cache(self, batch: int, capacity: int | None = None) -> KVCache:
        c = self.config
        capacity = self.layout.length if capacity is None else capacity
        weight = self.head.weight
        return KVCache(c.layers, batch, c.heads, c.width // c.heads, capacity, weight.device, weight.dtype)

    def embed(
        self,
        tokens: torch.Tensor,
        start: int = 0,
        gaps: torch.Tensor | None = None,
        window: torch.Tensor | None = None,
        additive: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token + slot + time + in-slot position embeddings of positions ``start .. start + n`` ``[B, n, D]``
        (+ the additive slots' embeddings at frame tokens).

        gaps: ``[B, L]`` from ``SequenceLayout.gap_ids``, required when the layout has target slots: their
        positions embed the gap between the window's first frame and their target frame (Appendix E:
        "the positional embedding of the end frame reflects the gap"), clamped to ``max_gap``.
        window: ``[B, L]``, the whole window's sequence, required when the layout has additive slots and
        ``tokens`` does not start the window (incremental decoding): their tokens are read from it.
        additive: ``additive_table`` of the window, computed once (then ``window`` is not read).
        """
        positions = slice(start, start + tokens.shape[1])
        time = self.time(self.time_ids[positions])  # [n, D]
        targeted = self.targeted[positions]
        if self.gap is not None and bool(self.layout.target_mask[positions].any()):  # no device sync
            if gaps is None:
                raise ValueError("this layout has target slots: pass their gaps (SequenceLayout.gap_ids)")
            gap = self.gap(gaps[:, positions].clamp(0, self.config.max_gap))  # [B, n, D]
            time = torch.where(targeted[:, None], gap, time)
        x = (
            self.token(tokens + self.token_offset[positions])
            + self.slot(self.slot_ids[positions])
            + time
            + self.index(self.index_ids[positions])
        )
        if self.add is not None:
            if additive is None:
                if window is None:  # a prefix holds every additive token its own frame tokens need
                    if start != 0:
                        raise ValueError("this layout has additive slots: pass the whole window's sequence")
                    window = F.pad(tokens, (0, self.layout.length - tokens.shape[1]))
                additive = self.additive_table(window)
            x = x + self._additive(additive, positions)
        return x

    def _embed_one(
        self,
        tokens: torch.Tensor,
        position: int,
        gaps: torch.Tensor | None,
        window: torch.Tensor | None,
        additive: torch.Tensor | None,
    ) -> torch.Tensor:
        """``embed`` of one position for tokens ``[B]`` -> ``[B, D]``: the same rows summed in the same
        order (so the same floats), read by Python index instead of by gathering over the positions."""
        if self.add is not None and additive is None:
            return self.embed(tokens[:, None], position, gaps, window)[:, 0]
        if self._position_ids is None:  # ints, so that a step does no indexing to find its rows
            self._position_ids = list(
                zip(
                    *(b.tolist() for b in (self.token_offset, self.slot_ids, self.time_ids, self.index_ids)),
                    self.targeted.tolist(),
                    self.frame_time.tolist(),
                    strict=True,
                )
            )
        offset, slot, time, index, targeted, frame = self._position_ids[position]
        x = F.embedding(tokens + offset, self.token.weight) + self.slot.weight[slot]
        if targeted and self.gap is not None:
            if gaps is None:
                raise ValueError("this layout has target slots: pass their gaps (SequenceLayout.gap_ids)")
            x = x + F.embedding(gaps[:, position].clamp(0, self.config.max_gap), self.gap.weight)
        else:
            x = x + self.time.weight[time]
        x = x + self.index.weight[index]
        # embed adds zero rows at positions other than frame tokens: leaving them out changes no value
        return x + additive[:, frame] if self.add is not None and frame >= 0 else x

    def forward(
        self,
        tokens: torch.Tensor,
        start: int = 0,
        cache: KVCache | None = None,
        gaps: torch.Tensor | None = None,
        hidden: bool = False,
        window: torch.Tensor | None = None,
        additive: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``[B, n, frame_vocab]`` for tokens ``[B, n]`` at positions ``start .. start + n``; entry i
        scores the frame token at position ``start + i + 1``. With a cache, ``start`` must equal its length.
        ``gaps``, ``window``, ``additive``: see ``embed``. ``hidden``: return the final normalised states ``[B, n, D]`` instead, for
        ``head_for`` (predicted condition slots)."""
        if start + tokens.shape[1] > self.layout.length:
            raise ValueError(
                f"positions up to {start + tokens.shape[1]} exceed the window ({self.layout.length})"
            )
        if cache is not None and cache.length != start:
            raise ValueError(f"the cache holds {cache.length} positions, the tokens start at {start}")
        if cache is not None and tokens.shape[1] == 1 and start < cache.capacity and not self.training:
            step = None if torch.is_grad_enabled() else self._one_token_step()
            if step is not None and not torch.is_autocast_enabled(tokens.device.type):
                # the sampling step: the same arithmetic, less overhead
                x = step(self._embed_one(tokens[:, 0], start, gaps, window, additive), cache)[:, None]
                cache.advance(1)
                return x if hidden else self.head(x)
        x = self.embed(tokens, start, gaps, window, additive)
        if self.training:
            x = self.dropout(x)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer) if self.training else block.forward(x, cache, layer)
        if cache is not None:
            cache.advance(tokens.shape[1])
        x = _layer_norm(self.norm, x)
        return x if hidden else self.head(x)


def next_token_loss(logits: torch.Tensor, sequence: torch.Tensor, layout: SequenceLayout) -> torch.Tensor:
    """Eq. 8: cross-entropy of each frame token given all preceding tokens (L-1 predictions), masked to
    the positions that hold frame tokens: condition tokens are read, never predicted.

    logits ``[B, L, V]`` from ``VideoTransformer(sequence)``; sequence ``[B, L]``.
    """
    return frame_token_nll(logits, sequence, layout).mean()


def frame_token_nll(logits: torch.Tensor, sequence: torch.Tensor, layout: SequenceLayout) -> torch.Tensor:
    """``[B, P]``: -log p (nats) of each frame token given the tokens before it (``next_token_loss``
    is its mean)."""
    predicted = layout.frame_mask[1:].to(sequence.device)  # [L-1]: targets at positions 1..L-1
    scores = logits[:, :-1][:, predicted].float()  # [B, P, V]
    targets = sequence[:, 1:][:, predicted]  # [B, P]
    return F.cross_entropy(scores.transpose(1, 2), targets, reduction="none")


def slot_token_loss(model: VideoTransformer, hidden: torch.Tensor, sequence: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the predicted condition slots' tokens (Fig. D2: the model also learns to
    predict layouts), each slot scored by its own head; 0 when the layout has none.

    hidden ``[B, L, D]`` from ``model(sequence, hidden=True)``; sequence ``[B, L]``."""
    layout = model.layout
    losses = []
    for s in layout.condition_slots:
        if not s.slot.predicted:
            continue
        targets = (
            layout.positions(s.key).flatten().to(sequence.device)
        )  # positions >= 1: the start token is first
        scores = model.head_for(s.id)(hidden[:, targets - 1])  # [B, P, V]
        # a slot left out (condition dropout) holds its absent token: nothing to predict there
        values = sequence[:, targets].reshape(-1)
        given = values != s.slot.vocab_size
        if bool(given.any()):
            losses.append(F.cross_entropy(scores.reshape(-1, scores.shape[-1])[given].float(), values[given]))
    return torch.stack(losses).mean() if losses else hidden.new_zeros(())


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
