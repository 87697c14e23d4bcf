"""Pictures the first-stage trainer writes next to its checkpoints: reconstructions and flow/mask maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ccvs_core.data.clips import ClipDataset
from ccvs_core.media import flow_to_rgb, labelled_grid, mask_to_rgb, write_image
from ccvs_core.models.autoencoder import FlowAutoencoder, frames_to_tensor, tensor_to_frames

SAMPLE_VIDEOS = 4


@torch.no_grad()
def write_samples(model: FlowAutoencoder, clips: ClipDataset, folder: Path, step: int) -> tuple[Path, Path]:
    """``step-NNNNNNNN-video.png``: rows alternate real clips and their reconstructions (tokens of every
    frame, the first frame real, then decoded with ``max_contexts`` frames of context);
    ``step-NNNNNNNN-flow.png``: per clip, context frame 0, target frame 1, its decoding, the finest flow
    (colour wheel) and the fusion mask sigmoid(m) (white: decoded from tokens, black: copied from context)."""
    model.eval()
    device = next(model.parameters()).device
    count = min(SAMPLE_VIDEOS, len(clips))
    real = torch.stack([frames_to_tensor(clips[i].frames) for i in range(count)]).to(
        device
    )  # [S, T, 3, H, W]
    s, t = real.shape[:2]
    tokens = model.tokenize(real.flatten(0, 1)).view(s, t, *model.tokenize(real[:1, 0]).shape[1:])
    recon = model.decode_video(tokens, real[:, :1])
    rows = torch.stack([real, recon], dim=1).flatten(0, 1)  # real, recon, real, recon, ...
    video_path = folder / f"step-{step:08d}-video.png"
    labels = [f"{kind} {i + 1}" for i in range(s) for kind in ("real", "decoded")]
    write_image(
        video_path, labelled_grid(tensor_to_frames(rows).cpu().numpy(), labels, [f"t={i}" for i in range(t)])
    )

    out = model.decode(model.quantizer.lookup(tokens[:, 1]), [model.encode(real[:, 0])])
    cells = []
    for i in range(s):
        flow = flow_to_rgb(out.flows[-1][i, 0].cpu())
        mask = mask_to_rgb(torch.sigmoid(out.fused_masks[-1][i, 0]).cpu())
        frames = tensor_to_frames(torch.stack([real[i, 0], real[i, 1], out.image[i]])).cpu().numpy()
        cells.append(np.concatenate([frames, flow[None], mask[None]]))
    flow_path = folder / f"step-{step:08d}-flow.png"
    columns = ["context", "target", "decoded", "flow", "mask"]
    write_image(flow_path, labelled_grid(np.stack(cells), [f"clip {i + 1}" for i in range(s)], columns))
    return video_path, flow_path
