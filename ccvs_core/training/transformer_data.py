"""Training items of the transformer: windows of N frames' tokens cut at random from cached videos."""

from __future__ import annotations

import numpy as np
import torch

from ccvs_core.training.sampler import split_draw


class TokenClips(torch.utils.data.Dataset):
    """Item ``draw`` (from ``DrawSampler``) -> frame tokens ``[N, h, w]`` (long) of one video, starting at
    a random frame: a pure function of (seed, draw)."""

    def __init__(self, tokens: dict[str, torch.Tensor], num_frames: int, seed: int):
        self.ids = sorted(v for v, t in tokens.items() if t.shape[0] >= num_frames)
        if not self.ids:
            raise ValueError(f"no video has the {num_frames} frames a window needs")
        self.tokens, self.num_frames, self.seed = tokens, num_frames, seed

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, draw: int) -> torch.Tensor:
        _, index = split_draw(draw, len(self.ids))
        video = self.tokens[self.ids[index]]
        start = int(
            np.random.default_rng([self.seed, draw]).integers(0, video.shape[0] - self.num_frames + 1)
        )
        return video[start : start + self.num_frames].long()
