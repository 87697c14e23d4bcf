"""The tokens of a dataset's videos under a frozen autoencoder, computed once and cached on disk.

Stage 2 trains on tokens only, so every frame is encoded and quantized once (E, Q frozen), not at
every step. The cache is one safetensors file per split, a ``[T, h, w]`` int32 tensor per video, and
records the autoencoder it came from (the sha256 of its weights) and the frame size: a cache made by
another autoencoder or at another size is rebuilt, never silently reused.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from ccvs_core.console import track
from ccvs_core.data.clips import ClipDataset, FrameGeometry
from ccvs_core.data.video import read_record_frames
from ccvs_core.models.autoencoder import FlowAutoencoder, frames_to_tensor
from ccvs_core.weights import load_tensors, save_tensors

BATCH = 16  # frames tokenized at once


def file_digest(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


@torch.no_grad()
def tokenize_video(model: FlowAutoencoder, frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames ``[T, H, W, 3]`` -> tokens ``[T, h, w]`` int32, in batches of ``BATCH`` frames."""
    device = next(model.parameters()).device
    chunks = [model.tokenize(frames_to_tensor(part).to(device)) for part in frames.split(BATCH)]
    return torch.cat(chunks).to(torch.int32).cpu()


def video_tokens(
    model: FlowAutoencoder, weights: Path, clips: ClipDataset, cache: Path, progress: bool = True
) -> dict[str, torch.Tensor]:
    """``{video id: tokens [T, h, w]}`` for every video of ``clips``, from ``cache`` when it matches."""
    key = {"autoencoder_sha256": file_digest(weights), "size": f"{clips.size[0]}x{clips.size[1]}"}
    if cache.is_file():
        from safetensors import safe_open

        with safe_open(str(cache), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if all(metadata.get(k) == v for k, v in key.items()):
            tokens = load_tensors(cache)
            if set(tokens) == {v.id for v in clips.videos}:
                return tokens
    model.eval()
    tokens = {}
    for record in track(clips.videos, "tokenizing videos", disable=not progress):
        geometry = FrameGeometry.cover(record.size, clips.size)
        frames = read_record_frames(record, range(record.num_frames))
        resized = torch.stack([torch.from_numpy(geometry.apply(f).copy()) for f in frames])
        tokens[record.id] = tokenize_video(model, resized)
    save_tensors(cache, tokens, metadata=key)
    return tokens
