"""``ccvs train position-estimator`` and ``ccvs data annotate-states``: training the position estimator
on a dataset's annotated frames, and writing state.json files with it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import numpy as np
import torch

from ccvs_core import (
    CheckpointError,
    Config,
    ConfigError,
    FrameGeometry,
    InputError,
    export_module,
    frames_to_tensor,
    index_video,
    list_video_folders,
    load_autoencoder,
    load_json,
    load_module,
    load_state,
    load_tensors,
    read_record_frames,
    track,
    train_steps,
    write_text_atomic,
)
from ccvs_plugin_state.estimator import (
    MODEL_PRESETS,
    TRAINING_PRESETS,
    EstimatorConfig,
    EstimatorTrainingConfig,
    PositionEstimator,
)

EXPORT_DIR = "estimator"
RUN_FILE = "run.json"
BATCH = 32  # frames encoded at once


@attrs.frozen(kw_only=True)
class EstimatorRunConfig(Config):
    autoencoder: str
    frame_size: tuple[int, int]
    estimator: EstimatorConfig
    training: EstimatorTrainingConfig = attrs.Factory(EstimatorTrainingConfig)


def plan_estimator_run(
    out: Path, autoencoder: Path | None, preset: str | None, overrides: dict
) -> EstimatorRunConfig:
    saved_path = out / RUN_FILE
    if saved_path.is_file():
        if preset is not None or autoencoder is not None:
            raise ConfigError(f"--out {out}", "holds a run already: resume it without --preset/--autoencoder")
        saved = EstimatorRunConfig.from_json(saved_path)
        changed = [
            k
            for k, v in overrides.items()
            if k not in ("steps", "checkpoint_every") and v != getattr(saved.training, k)
        ]
        if changed:
            raise ConfigError(
                f"--out {out}",
                f"holds a run started with {changed[0]} = {getattr(saved.training, changed[0])!r}",
            )
        return attrs.evolve(saved, training=saved.training.replace(**overrides))
    if autoencoder is None:
        raise InputError("--autoencoder", "is required to start a run (the folder stage 1 exported)")
    info = load_json(autoencoder / "config.json")
    if not isinstance(info, dict) or "frame_size" not in info or "autoencoder" not in info:
        raise CheckpointError(autoencoder / "config.json", "is not an exported autoencoder with a frame_size")
    name = preset or "toyworld"
    return EstimatorRunConfig(
        autoencoder=str(autoencoder),
        frame_size=tuple(info["frame_size"]),
        estimator=EstimatorConfig(latent_dim=info["autoencoder"]["embed_dim"], **MODEL_PRESETS[name]),
        training=EstimatorTrainingConfig(**{**TRAINING_PRESETS[name], **overrides}),
    )


@torch.no_grad()
def encode_frames(autoencoder, frames: np.ndarray, frame_size: tuple[int, int]) -> torch.Tensor:
    """uint8 frames ``[T, h, w, 3]`` of a video (any size) -> encoder latents ``[T, F, h', w']``."""
    geometry = FrameGeometry.cover(tuple(frames.shape[1:3]), tuple(frame_size))
    device = next(autoencoder.parameters()).device
    out = []
    for start in range(0, len(frames), BATCH):
        part = np.stack([geometry.apply(f) for f in frames[start : start + BATCH]])
        out.append(autoencoder.encoder(frames_to_tensor(torch.from_numpy(part)).to(device)).z.cpu())
    return torch.cat(out)


def annotated_latents(
    root, split: str, autoencoder, frame_size, progress: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(latents ``[N, F, h, w]``, positions ``[N, 2]`` as fractions of the frame) of every frame of every
    ``split`` video that has a state.json."""
    records = [index_video(f) for f in list_video_folders(root)]
    records = [r for r in records if r.meta.split == split and r.state_path is not None]
    latents, positions = [], []
    for record in track(records, f"encoding {split} frames", disable=not progress):
        frames = read_record_frames(record, range(record.num_frames))
        geometry = FrameGeometry.cover(record.size, tuple(frame_size))
        xy = geometry.map_points(load_state(record.state_path, record.meta.fps, record.num_frames))
        latents.append(encode_frames(autoencoder, frames, frame_size))
        positions.append(torch.from_numpy(xy / np.array([frame_size[1], frame_size[0]], dtype=np.float32)))
    if not latents:
        raise InputError(root, f"no '{split}' video has a state.json to learn from")
    return torch.cat(latents), torch.cat(positions).float()


@torch.no_grad()
def pixel_error(
    model: PositionEstimator, latents: torch.Tensor, positions: torch.Tensor, frame_size
) -> dict[str, float]:
    """Mean distance in frame pixels between estimated and annotated positions, and that of always
    answering the mean annotated position (the baseline a useless estimator reaches)."""
    model.eval()
    scale = torch.tensor([frame_size[1], frame_size[0]], dtype=torch.float32)
    estimated = torch.cat([model(part) for part in latents.split(256)])
    error = ((estimated - positions) * scale).norm(dim=-1).mean()
    baseline = ((positions.mean(0) - positions) * scale).norm(dim=-1).mean()
    return {
        "pixel_error": float(error),
        "mean_position_error": float(baseline),
        "frames": len(positions),
    }


def train_estimator(
    data, out: Path, run: EstimatorRunConfig, device: str = "cpu", progress: bool = True
) -> dict:
    cfg = run.training
    torch.manual_seed(cfg.seed)
    autoencoder = load_autoencoder(run.autoencoder, device).requires_grad_(False)
    model = PositionEstimator(run.estimator).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    latents, positions = annotated_latents(data, "train", autoencoder, run.frame_size, progress)
    try:
        held = annotated_latents(data, "val", autoencoder, run.frame_size, progress)
        split = "val"
    except InputError:
        held, split = (latents, positions), "train"
    run.to_json(out / RUN_FILE)

    def step_loss(draw: torch.Generator) -> torch.Tensor:
        pick = torch.randint(0, len(latents), (cfg.batch_size,), generator=draw)
        return (model(latents[pick].to(device)) - positions[pick].to(device)).pow(2).sum(-1).mean()

    step = train_steps(
        model, optimizer, step_loss, out, steps=cfg.steps, checkpoint_every=cfg.checkpoint_every, seed=cfg.seed,
        description="position estimator", progress=progress,
    )  # fmt: skip
    scores = {**pixel_error(model.cpu(), *held, run.frame_size), "split": split, "step": step}
    extra = {"autoencoder": run.autoencoder, "frame_size": list(run.frame_size), "eval": scores}
    export_module(model, "position_estimator", run.estimator, out / EXPORT_DIR, extra)
    write_text_atomic(out / "eval.json", json.dumps(scores, indent=2) + "\n")
    return scores


def load_estimator(folder: Path) -> tuple[PositionEstimator, dict]:
    info = load_json(folder / "config.json")
    if not isinstance(info, dict) or info.get("format") != "ccvs-position_estimator":
        raise CheckpointError(
            folder / "config.json", "is not a position estimator (ccvs train position-estimator)"
        )
    model = PositionEstimator(
        EstimatorConfig.from_dict(info["position_estimator"], source=str(folder / "config.json"))
    )
    load_module(
        model,
        load_tensors(folder / "model.safetensors"),
        folder / "model.safetensors",
        prefix="position_estimator.",
    )
    return model.eval(), info


@torch.no_grad()
def annotate_states(
    data: str | os.PathLike, estimator: Path, overwrite: bool = False, progress: bool = True
) -> list[str]:
    """Write ``state.json`` for every video of ``data`` without one (every video with ``overwrite``);
    returns the ids of the videos written."""
    model, info = load_estimator(estimator)
    autoencoder = load_autoencoder(info["autoencoder"]).requires_grad_(False)
    frame_size = tuple(info["frame_size"])
    records = [index_video(f) for f in list_video_folders(data)]
    todo = [r for r in records if overwrite or r.state_path is None]
    for record in track(todo, "annotating states", disable=not progress):
        frames = read_record_frames(record, range(record.num_frames))
        xy = model(encode_frames(autoencoder, frames, frame_size)).numpy() * np.array(
            [frame_size[1], frame_size[0]]
        )
        geometry = FrameGeometry.cover(record.size, frame_size)  # frame pixels -> stored pixels
        source = np.stack(
            [(xy[:, 0] + geometry.left) / geometry.scale[1], (xy[:, 1] + geometry.top) / geometry.scale[0]],
            -1,
        )
        state = {"fps": record.meta.fps, "positions": np.round(source, 3).tolist()}
        write_text_atomic(record.folder / "state.json", json.dumps(state) + "\n")
    return [r.id for r in todo]
