"""CCVSPipeline: the trained parts put together, saved and loaded as one folder, and ``generate``
(DESIGN.md §4-5).

The folder format and the parts are ``pipeline_format``'s (``config.json`` + ``model.safetensors``).
``generate`` runs the doubly autoregressive loop of Fig. 1: context frames -> tokens (E, Q); the
transformer samples the next frames' tokens, given the conditions' tokens; the autoencoder decodes
them one by one with the flow module over the last frames in image space.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ccvs_core.condition_values import read_condition
from ccvs_core.conditioning import condition_context, generation_tokens, resize_frames
from ccvs_core.conditions import unknown_condition
from ccvs_core.errors import InputError
from ccvs_core.generation import SamplingConfig, generate_frame_tokens
from ccvs_core.models.autoencoder import tensor_to_frames
from ccvs_core.pipeline_format import PipelineParts
from ccvs_core.resources import Estimate

DECODE_CHUNK = 8  # samples decoded at once: memory stays bounded for many samples


class CCVSPipeline(PipelineParts):
    """A trained pipeline (``from_pretrained`` / ``save_pretrained``, see ``PipelineParts``) that makes
    videos."""

    def context_tokens(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 frames ``[T, H, W, 3]`` of any size -> their frame tokens ``[T, h, w]`` (E and Q)."""
        return condition_context(self.autoencoder, self.frame_size, self.fps).tokenize_frames(frames)

    def read_condition(self, name: str, text: str) -> Any:
        """The raw input of condition ``name`` from the text ``--cond NAME:TEXT`` gives (a value and its
        options, ``drums.wav,pad=true``), read by this pipeline's condition."""
        if name not in self.conditions:
            raise unknown_condition(name, list(self.conditions))
        return read_condition(self.conditions[name], text)

    def condition_tokens(
        self, raw: Mapping[str, Any], num_frames: int, samples: int, device
    ) -> tuple[dict, dict, list[str]]:
        """``conditioning.generation_tokens`` of this pipeline's conditions at its frame rate (those whose
        plugin is not installed always absent)."""
        return generation_tokens(
            self.conditions, raw, num_frames, self.fps, samples, device,
            may_leave_out=self.condition_dropout > 0, unavailable=self.missing,
        )  # fmt: skip

    # generation -----------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        context: np.ndarray | torch.Tensor | None,
        conditions: Mapping[str, Any] | None = None,
        num_frames: int = 16,
        num_samples: int = 1,
        seed: int = 0,
        sampling: SamplingConfig | None = None,
        num_contexts: int | None = None,
        on_frame: Callable[[int], None] | None = None,
        return_predicted: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
        """Videos continuing ``context`` (uint8 ``[m, H, W, 3]``, m >= 0 real frames, any size: resized
        and cropped to the pipeline's frame size; None or m = 0: every frame is sampled, e.g. from a
        class alone): uint8 ``[num_samples, num_frames, H, W, 3]``, the context frames first.
        ``conditions``: raw inputs by condition name (what ``Condition.parse`` returns); a condition with
        predicted slots (layout) may be left out: its tokens are then sampled too (Fig. D2), and with
        ``return_predicted`` the result is ``(videos, {condition: pictures of its tokens})`` (``decode``). Sample i
        draws with seed ``seed + i``: the same seed gives the same video."""
        videos, tokens, predict = self._generate(
            [context], [conditions or {}], num_frames, num_samples, [seed], sampling, num_contexts, on_frame
        )
        if not return_predicted:
            return videos[0]
        return videos[0], {name: self.conditions[name].decode(tokens[name]) for name in predict}

    @torch.no_grad()
    def generate_batch(
        self,
        contexts: Sequence[np.ndarray | torch.Tensor | None],
        conditions: Sequence[Mapping[str, Any]] | None = None,
        num_frames: int = 16,
        num_samples: int = 1,
        seeds: Sequence[int] | None = None,
        sampling: SamplingConfig | None = None,
        num_contexts: int | None = None,
        on_frame: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """``generate`` for several inputs at once: uint8 ``[V, num_samples, num_frames, H, W, 3]``, video v
        continuing ``contexts[v]`` (all with the same number of frames) under ``conditions[v]`` with seed
        ``seeds[v]`` (default v). Each video is what ``generate`` makes of its input and seed (every
        sample draws from its own generator; bit for bit on the CPU, where the tests check it: GPU
        kernels may round other batch sizes differently); the V x S samples are sampled as one batch, so the
        transformer's weights are read once per token for all of them: the fast way to evaluate many
        videos. Predicted conditions are sampled but not returned (use ``generate`` for those)."""
        seeds = list(range(len(contexts))) if seeds is None else list(seeds)
        conditions = [{} for _ in contexts] if conditions is None else list(conditions)
        return self._generate(
            contexts, conditions, num_frames, num_samples, seeds, sampling, num_contexts, on_frame
        )[0]

    def _generate(
        self,
        contexts: Sequence[np.ndarray | torch.Tensor | None],
        conditions: Sequence[Mapping[str, Any]],
        num_frames: int,
        num_samples: int,
        seeds: Sequence[int],
        sampling: SamplingConfig | None,
        num_contexts: int | None,
        on_frame: Callable[[int], None] | None,
    ) -> tuple[np.ndarray, dict, list[str]]:
        """(videos ``[V, S, T, H, W, 3]``, the condition tokens of all V x S samples, the predicted conditions)."""
        if not contexts:
            raise InputError("contexts", "give at least one context (None for a video from no frame)")
        if len(conditions) != len(contexts) or len(seeds) != len(contexts):
            raise InputError(
                "generate_batch",
                f"needs one conditions mapping and one seed per context ({len(contexts)}), "
                f"got {len(conditions)} and {len(seeds)}",
            )
        device = next(self.parameters()).device
        if sampling is not None and sampling.guidance != 1.0 and not self.condition_dropout:
            raise InputError(
                "--guidance",
                "needs a pipeline trained with --condition-dropout (its unconditional branch is every "
                "condition absent); this one was not",
            )
        frames = [self._context_frames(c, num_frames, device) for c in contexts]
        m = frames[0].shape[0]
        if any(f.shape[0] != m for f in frames):
            counts = sorted({f.shape[0] for f in frames})
            raise InputError("contexts", f"must all have the same number of frames, got {counts}")
        grid = self.autoencoder.config.token_grid(self.frame_size)
        tokens = (  # every context frame of every video through E and Q at once
            self.autoencoder.tokenize(torch.cat(frames)).view(len(frames), m, *grid)
            if m
            else torch.zeros(len(frames), 0, *grid, dtype=torch.long, device=device)
        ).repeat_interleave(num_samples, 0)  # [V S, m, h, w]
        per_video = [self.condition_tokens(raw or {}, num_frames, num_samples, device) for raw in conditions]
        predict = per_video[0][2]
        if any(p != predict for _, _, p in per_video):
            raise InputError(
                "conditions", "every video must give the same conditions (the others are predicted)"
            )
        condition_tokens = {
            c: {slot: torch.cat([tokens_v[c][slot] for tokens_v, _, _ in per_video]) for slot in slots}
            for c, slots in per_video[0][0].items()
        }
        targets = {c: torch.cat([targets_v[c] for _, targets_v, _ in per_video]) for c in per_video[0][1]}
        generators = [torch.Generator().manual_seed(seed + i) for seed in seeds for i in range(num_samples)]
        sequence = generate_frame_tokens(
            self.transformer, tokens, condition_tokens, num_frames, sampling or SamplingConfig(), generators,
            on_frame=(lambda t, _: on_frame(t)) if on_frame else None, targets=targets, predict=predict,
        )  # fmt: skip
        firsts = torch.stack(frames).repeat_interleave(num_samples, 0)  # [V S, m, 3, H, W]
        videos = [
            tensor_to_frames(self.autoencoder.decode_video(chunk, first, num_contexts)).cpu()
            for chunk, first in zip(sequence.split(DECODE_CHUNK), firsts.split(DECODE_CHUNK), strict=True)
        ]
        videos = torch.cat(videos).numpy()
        return videos.reshape(len(contexts), num_samples, *videos.shape[1:]), condition_tokens, predict

    def generation_estimate(
        self, num_frames: int, num_samples: int, context_frames: int, branches: int = 1
    ) -> Estimate:
        """Memory and time of ``generate``: the key/value cache of every sample and branch, the token and
        frame tensors and the decoded videos; ~20 ms a sampled token at this toolkit's small sizes
        plus the transformer's arithmetic at 10 GFLOP/s, and decoding at ~8 us a pixel (2 CPU cores,
        benchmarks/generate_timing.py)."""
        layout, config = self.transformer.layout, self.transformer.config
        batch = num_samples * branches
        height, width = self.frame_size
        params = sum(p.numel() for p in self.transformer.parameters())
        cache = config.layers * 2 * batch * layout.length * config.width * 4
        pixels = num_samples * num_frames * height * width
        memory = (
            cache + pixels * 3 * 2 + min(num_samples, DECODE_CHUNK) * num_frames * height * width * 3 * 4 * 3
        )
        sampled = (num_frames - context_frames) * layout.tokens_per_frame
        seconds = sampled * (0.02 + 2 * params * batch / 1e10) + pixels * 8e-6
        return Estimate(memory=memory, seconds=seconds)

    def _context_frames(
        self, context: np.ndarray | torch.Tensor | None, num_frames: int, device
    ) -> torch.Tensor:
        """A user's context frames, checked, as float ``[m, 3, H, W]`` at the pipeline's frame size."""
        h, w = self.frame_size
        context = (
            torch.zeros(0, h, w, 3, dtype=torch.uint8)
            if context is None
            else (context if isinstance(context, torch.Tensor) else torch.from_numpy(np.array(context)))
        )
        if context.ndim != 4 or context.shape[-1] != 3 or context.dtype != torch.uint8:
            raise InputError(
                "context", f"must be uint8 frames [m, H, W, 3], got {context.dtype} {tuple(context.shape)}"
            )
        m = context.shape[0]
        if not 0 <= m < num_frames:
            raise InputError("--frames", f"must be larger than the {m} context frames, got {num_frames}")
        return (
            resize_frames(context, self.frame_size).to(device)
            if m
            else torch.zeros(0, 3, h, w, device=device)
        )
