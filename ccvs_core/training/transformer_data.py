"""Training items of the transformer: windows of N frames' tokens cut at random from cached videos,
with the conditions' tokens of the same frames."""

from __future__ import annotations

import numpy as np
import torch

from ccvs_core.training.sampler import split_draw

Tracks = dict[str, dict[str, dict[str, torch.Tensor]]]  # {video: {condition: {slot: tokens}}}


class TokenClips(torch.utils.data.Dataset):
    """Item ``draw`` (from ``DrawSampler``) -> ``{"frames": [N, h, w], "conditions": {condition: {slot:
    tokens}}, "gaps": {condition: gap}}`` of one video, starting at a random frame: a pure function of
    (seed, draw).

    tracks: the conditions' tokens of whole videos (``training.conditions.video_tokens``). Frame slots are cut to
    the window; video slots are taken whole; a target slot (``targets``: ``{condition: [slot names]}``)
    gets the tokens of a random target frame after the window's first, at most ``max_gap`` frames
    later, and its gap (target - first frame) goes in ``gaps``.
    """

    def __init__(
        self,
        tokens: dict[str, torch.Tensor],
        num_frames: int,
        seed: int,
        tracks: Tracks | None = None,
        targets: dict[str, list[str]] | None = None,
        max_gap: int = 64,
    ):
        self.ids = sorted(v for v, t in tokens.items() if t.shape[0] >= num_frames)
        if not self.ids:
            raise ValueError(f"no video has the {num_frames} frames a window needs")
        self.tokens, self.num_frames, self.seed = tokens, num_frames, seed
        self.tracks, self.targets, self.max_gap = tracks or {}, targets or {}, max_gap

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, draw: int) -> dict:
        _, index = split_draw(draw, len(self.ids))
        video_id = self.ids[index]
        video = self.tokens[video_id]
        last = video.shape[0] - 1
        rng = np.random.default_rng([self.seed, draw])
        start = int(rng.integers(0, video.shape[0] - self.num_frames + 1))
        conditions, gaps = {}, {}
        for name, slots in self.tracks.get(video_id, {}).items():
            targeted = self.targets.get(name, [])
            if targeted:
                low, high = min(start + 1, last), min(last, start + self.max_gap)
                target = int(rng.integers(low, high + 1))
                gaps[name] = torch.tensor(target - start)
            conditions[name] = {
                slot: value[target] if slot in targeted
                else value if value.ndim == 1
                else value[start : start + self.num_frames]
                for slot, value in slots.items()
            }  # fmt: skip
        return {
            "frames": video[start : start + self.num_frames].long(),
            "conditions": {c: {s: v.long() for s, v in slots.items()} for c, slots in conditions.items()},
            "gaps": gaps,
        }
