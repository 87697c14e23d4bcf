"""ccvs condition 'endframe': point-to-point synthesis — the video must end on a given frame (Table 3
"+ end frame", Table D4, Fig. D4).

The end frame's own codebook tokens (through the pipeline's E and Q) form one slot of level "target":
the transformer reads them before any frame, and their positional embedding is the gap between the
current window and the end frame's time, updated as the sliding window moves (Appendix E). So one
model makes videos of any length between a start and an end frame: ``--frames T`` puts the end frame
at frame T - 1. In training, each window sees the tokens of a random later frame of its video, with
its gap (the core draws it). The slot starts from the frame tokens (``init="frame_tokens"``): the
transformer reads the end frame with what it already knows of each code. Its own measures, for
``ccvs evaluate --task endframe``, are the point-to-point measures of Table D4 (``measures``).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import torch

from ccvs_core import (
    Clip,
    Condition,
    ConditionContext,
    Config,
    InputError,
    PluginError,
    Slot,
    Timeline,
    at_least,
    iter_frames,
    ssim,
)

__version__ = "0.3.0"


@attrs.frozen(kw_only=True)
class EndFrameConfig(Config):
    # the pipeline's frame token grid and codebook size (set from the autoencoder in training)
    grid: tuple[int, int] = attrs.field(default=(8, 8), validator=at_least(1))
    codebook_size: int = attrs.field(default=1024, validator=at_least(2))


class EndFrameCondition(Condition):
    """One target slot ``tokens``: the end frame's h x w codebook tokens."""

    config_class = EndFrameConfig
    measure_errors: ClassVar[dict[str, str]] = {"best": "similarity", "cpc": "similarity"}  # SSIMs

    def slots(self) -> list[Slot]:
        h, w = self.config.grid
        return [Slot("target", h * w, self.config.codebook_size, init="frame_tokens")]

    def prepare(self, videos: Sequence[Any], context: ConditionContext) -> None:
        """The tokens are the pipeline's own: its grid and codebook."""
        self.config = self.config.replace(grid=tuple(context.token_grid), codebook_size=context.codebook_size)

    def parse(self, spec: str, options: Any) -> np.ndarray:
        """An image file (or a video / GIF / frame folder: its last frame) -> uint8 ``[H, W, 3]``."""
        path = Path(spec)
        if not spec or not path.exists():
            raise InputError(
                f"--cond endframe:{spec}", "file not found (give the target last frame, an image)"
            )
        last = collections.deque(iter_frames(path), maxlen=1)  # one frame in memory at a time
        if not last:
            raise InputError(path, "holds no frames")
        return last[0]

    def from_sample(self, clip: Clip) -> np.ndarray:
        return clip.frames[-1].numpy()

    def tokenize(self, raw: Any, timeline: Timeline) -> dict[str, torch.Tensor]:
        frame = np.asarray(raw)
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise InputError("end frame", f"must be a uint8 image [H, W, 3], got {frame.dtype} {frame.shape}")
        context = self.context
        self._check_grid(context)
        tokens = context.tokenize_frames(frame[None])  # [1, h, w]
        return {"tokens": tokens.flatten(1).long().cpu()}

    def measures(self, samples: np.ndarray, real: np.ndarray, context_frames: int) -> dict[str, float]:
        """Table D4 (after P2PVG, Wang et al. 2019) over the synthesized frames: ``best``, the best
        sample's mean SSIM to the real video; ``div``, the variance across samples of each frame's SSIM,
        averaged over frames; ``cpc`` (control point consistency), the SSIM of the last frame to the real
        end frame, averaged over samples."""
        return point_to_point(samples, real, context_frames)

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


def point_to_point(samples: np.ndarray, real: np.ndarray, context: int) -> dict[str, float]:
    """Best, Div. and C.P.C. of one test video: ``samples`` ``[S, T, H, W, 3]`` against ``real``
    ``[T, H, W, 3]`` (same dtype); the first ``context`` frames are given, not scored."""
    samples, real = np.asarray(samples), np.asarray(real)
    if samples.ndim != 5 or samples.shape[1:] != real.shape:
        raise InputError("samples", f"must be [S, *{real.shape}], got {samples.shape}")
    if not 0 <= context < real.shape[0]:
        raise InputError(
            "context", f"must leave frames to score (0 <= context < {real.shape[0]}), got {context}"
        )
    scored = samples[:, context:]
    scores = np.asarray(ssim(scored, np.broadcast_to(real[context:], scored.shape)))  # [S, T - context]
    return {
        "best": float(scores.mean(1).max()),
        "div": float(scores.var(0).mean()),
        "cpc": float(scores[:, -1].mean()),
    }
