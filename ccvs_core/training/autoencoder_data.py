"""Training items of the autoencoder: a clip plus, for every frame, an augmented view of it as context
with the targets of the flow module (Sec. 3.2). Built in DataLoader workers, on the CPU."""

from __future__ import annotations

import numpy as np
import torch

from ccvs_core.data.clips import ClipDataset
from ccvs_core.models.autoencoder import frames_to_tensor
from ccvs_core.training.augment import AugmentConfig, make_context_view
from ccvs_core.training.sampler import split_draw


class AutoencoderTrainingData(torch.utils.data.Dataset):
    """Item ``draw`` (from ``DrawSampler``) -> dict of tensors:

    frames ``[T, 3, H, W]`` in [-1, 1]; view ``[T, 3, H, W]`` (x_c of each frame); view_flow ``[T, 2, H, W]``
    (target f_c); view_mask ``[T, 1, H, W]`` (target o'_c); direct_fraction ``[T]`` (Algorithm C1).
    Everything is a pure function of (seed, draw).
    """

    def __init__(self, clips: ClipDataset, augment: AugmentConfig, seed: int):
        self.clips, self.augment, self.seed = clips, augment, seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, draw: int) -> dict[str, torch.Tensor]:
        epoch, index = split_draw(draw, len(self.clips))
        frames = frames_to_tensor(self.clips.clip(index, epoch).frames)  # [T, 3, H, W]
        rng = np.random.default_rng([self.seed, draw])
        views = [make_context_view(frame.numpy(), rng, self.augment) for frame in frames]
        return {
            "frames": frames,
            "view": torch.from_numpy(np.stack([v.image for v in views])),
            "view_flow": torch.from_numpy(np.stack([v.flow for v in views])),
            "view_mask": torch.from_numpy(np.stack([v.mask for v in views])),
            "direct_fraction": torch.tensor([v.direct_fraction for v in views], dtype=torch.float32),
        }
