"""The tokens of a dataset's videos under a frozen autoencoder (and its conditions' tokens), computed
once and cached on disk.

Stage 2 trains on tokens only, so every frame is encoded and quantized once (E, Q frozen), not at
every step. The cache is one safetensors file per split, a ``[T, h, w]`` int32 tensor per video, and
records the autoencoder it came from (the sha256 of its weights) and the frame size: a cache made by
another autoencoder or at another size is rebuilt, never silently reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ccvs_core import distributed
from ccvs_core.conditions import Condition
from ccvs_core.console import track
from ccvs_core.data.clips import ClipDataset, FrameGeometry
from ccvs_core.data.video import read_record_frames
from ccvs_core.errors import InputError
from ccvs_core.models.autoencoder import FlowAutoencoder, frames_to_tensor
from ccvs_core.training.conditions import video_tokens as condition_video_tokens
from ccvs_core.weights import file_sha256, load_tensors, save_tensors

BATCH = 16  # frames tokenized at once


def cache_key(weights: Path, size: tuple[int, int]) -> dict[str, str]:
    """What cached tokens depend on: the autoencoder's weights and the frame size."""
    return {"autoencoder_sha256": file_sha256(weights), "size": f"{size[0]}x{size[1]}"}


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
    key = cache_key(weights, clips.size)
    if cache.is_file():
        metadata = _metadata(cache)
        if all(metadata.get(k) == v for k, v in key.items()):
            tokens = load_tensors(cache)
            if set(tokens) == {v.id for v in clips.videos}:
                return tokens
    model.eval()

    def share(rank: int, world: int) -> dict[str, torch.Tensor]:
        tokens = {}
        for record in track(clips.videos[rank::world], "tokenizing videos", disable=not progress):
            geometry = FrameGeometry.cover(record.size, clips.size)
            frames = read_record_frames(record, range(record.num_frames))
            resized = torch.stack([torch.from_numpy(geometry.apply(f).copy()) for f in frames])
            tokens[record.id] = tokenize_video(model, resized)
        return tokens

    return distributed.shared_cache(
        cache, share, lambda path, tokens: save_tensors(path, tokens, metadata=key)
    )


def condition_digest(conditions: dict[str, Condition]) -> str:
    """sha256 of the conditions' names, configs and weights: their cached tokens are valid while it holds."""
    digest = hashlib.sha256()
    for name in sorted(conditions):
        condition = conditions[name]
        digest.update(json.dumps([name, condition.config.to_dict()], sort_keys=True).encode())
        for key, value in sorted(condition.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def condition_tracks(
    conditions: dict[str, Condition],
    clips: ClipDataset,
    key: dict[str, str],
    cache: Path,
    progress: bool = True,
) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
    """``{video id: {condition: {slot: tokens}}}`` of every video of ``clips`` (``training.conditions.
    video_tokens`` of the whole video), from ``cache`` when it was made with the same ``key`` (the autoencoder and
    frame size) and the same conditions."""
    key = {**key, "conditions_sha256": condition_digest(conditions)}
    ids = {v.id for v in clips.videos}
    if cache.is_file() and _metadata(cache) == key:
        tracks = _tracks(load_tensors(cache))
        if set(tracks) == ids:
            return tracks

    def share(rank: int, world: int) -> dict[str, torch.Tensor]:
        flat = {}
        mine = range(rank, len(clips.videos), world)
        for v in track(mine, "tokenizing conditions", disable=not progress):
            record, sample = clips.videos[v], clips.video_clip(v)
            for name, condition in conditions.items():
                try:
                    tokens = condition_video_tokens(condition, sample)
                except InputError as err:
                    raise InputError(record.folder, f"condition '{name}': {err}") from err
                flat.update({f"{record.id}/{name}/{slot}": value for slot, value in tokens.items()})
        return flat

    return _tracks(
        distributed.shared_cache(cache, share, lambda path, flat: save_tensors(path, flat, metadata=key))
    )


def _tracks(flat: dict[str, torch.Tensor]) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
    """``{video/condition/slot: tokens}`` -> ``{video: {condition: {slot: tokens}}}``."""
    tracks: dict = {}
    for name, value in flat.items():
        video, condition, slot = name.split("/")
        tracks.setdefault(video, {}).setdefault(condition, {})[slot] = value
    return tracks


def _metadata(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata() or {}
