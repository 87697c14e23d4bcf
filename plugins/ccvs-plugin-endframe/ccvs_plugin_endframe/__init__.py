"""ccvs condition 'endframe': point-to-point synthesis — the video must end on a given frame (Table 3
"+ end frame", Table D4, Fig. D4).

The end frame's own codebook tokens (through the pipeline's E and Q) form one video-level, timed slot:
the transformer reads them before any frame, and their positional embedding is the gap between the
current window and the end frame's time, updated as the sliding window moves (Appendix E). So one
model makes videos of any length between a start and an end frame: ``--frames T`` puts the end frame
at frame T - 1. In training, each window sees the tokens of a random later frame of its video, with
its gap. The slot is declared ``frame_tokens``: its token embeddings start as the frame tokens', so
the transformer reads the end frame with what it already knows of each code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ccvs_core import Condition, ConditionContext, Config, InputError, PluginError, Slot, Timeline, at_least
from ccvs_core.media import read_frames

__version__ = "0.2.0"


@attrs.frozen(kw_only=True)
class EndFrameConfig(Config):
    # the pipeline's frame token grid and codebook size (set from the autoencoder in training)
    grid: tuple[int, int] = attrs.field(default=(8, 8), validator=at_least(1))
    codebook_size: int = attrs.field(default=1024, validator=at_least(2))


class EndFrameCondition(Condition):
    """One video-level, timed slot ``tokens``: the end frame's h x w codebook tokens."""

    config_class = EndFrameConfig

    def slots(self) -> list[Slot]:
        h, w = self.config.grid
        # the pipeline's own frame tokens: their embeddings start as the frame tokens' (Slot.frame_tokens)
        return [Slot("video", h * w, self.config.codebook_size, timed=True, frame_tokens=True)]

    def configure(self, videos: Sequence[Any], context: ConditionContext) -> Config:
        return self.config.replace(grid=tuple(context.token_grid), codebook_size=context.codebook_size)

    def parse(self, spec: str) -> np.ndarray:
        """An image file (or a video / GIF / frame folder: its last frame) -> uint8 ``[H, W, 3]``."""
        path = Path(spec)
        if not spec or not path.exists():
            raise InputError(
                f"--cond endframe:{spec}", "file not found (give the target last frame, an image)"
            )
        return read_frames(path)[-1]

    def from_sample(self, sample: Any) -> np.ndarray:
        return sample.frames[-1].numpy()

    def tokenize(self, raw: Any, timeline: Timeline) -> dict[str, torch.Tensor]:
        frame = np.asarray(raw)
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise InputError("end frame", f"must be a uint8 image [H, W, 3], got {frame.dtype} {frame.shape}")
        context = self.require_context()
        self._check_grid(context)
        tokens = context.tokenize_frames(frame[None])  # [1, h, w]
        return {"tokens": tokens.flatten(1).long().cpu()}

    def video_tokens(self, sample: Any, frame_tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """Row e: the tokens of frame e (the frame tokens the trainer already has)."""
        if tuple(frame_tokens.shape[1:]) != tuple(self.config.grid):
            raise PluginError(
                "condition 'endframe'",
                f"frame tokens {tuple(frame_tokens.shape[1:])} do not match its grid {self.config.grid}",
            )
        return {"tokens": frame_tokens.flatten(1).long()}

    def _check_grid(self, context: ConditionContext) -> None:
        if (
            tuple(context.token_grid) != tuple(self.config.grid)
            or context.codebook_size != self.config.codebook_size
        ):
            raise PluginError(
                "condition 'endframe'",
                f"configured for a {self.config.grid} grid of {self.config.codebook_size} codes, but the "
                f"pipeline's autoencoder makes {context.token_grid} tokens of {context.codebook_size}",
            )
