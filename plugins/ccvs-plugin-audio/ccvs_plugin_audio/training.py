"""Training the sound tokenizer on a dataset's sound tracks (``ccvs train audio-tokenizer``).

Every frame of every training video with an ``audio.wav`` gives one spectrogram (the sound of that
frame's duration); the tokenizer learns to rebuild them through its codebook: L1 on the log spectrogram
plus the codebook and commitment terms of Eq. 3, AdamW, the codebook initialised from the data with
dead codes restarted (as for frames). Checkpoints are atomic and a rerun resumes; the trained tokenizer
is exported to ``OUT/tokenizer/`` with its reconstruction error on the validation videos.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import numpy as np
import torch

from ccvs_core import (
    Config,
    ConfigError,
    InputError,
    Timeline,
    at_least,
    export_module,
    greater_than,
    index_video,
    list_video_folders,
    perplexity,
    quantization_loss,
    track,
    train_steps,
    write_image,
    write_text_atomic,
)
from ccvs_plugin_audio.sound import frame_windows, log_spectrogram, read_sound
from ccvs_plugin_audio.tokenizer import PRESETS, SoundTokenizer, SoundTokenizerConfig

EXPORT_DIR = "tokenizer"
RUN_FILE = "run.json"


@attrs.frozen(kw_only=True)
class SoundTrainingConfig(Config):
    steps: int = attrs.field(default=3000, validator=at_least(1))
    batch_size: int = attrs.field(default=64, validator=at_least(1))
    lr: float = attrs.field(default=1e-3, validator=greater_than(0))
    dead_after: int = attrs.field(default=50, validator=at_least(1))  # steps before an unused code restarts
    checkpoint_every: int = attrs.field(default=500, validator=at_least(1))
    seed: int = 0


# toyworld: 1,000 steps (~3 minutes on 2 CPU cores) for the default model (benchmarks/default_model.py)
TRAINING_PRESETS = {
    "tiny": {"steps": 4, "batch_size": 8, "checkpoint_every": 2},
    "toyworld": {"steps": 1000},
    "paper": {},
}


@attrs.frozen(kw_only=True)
class SoundRunConfig(Config):
    tokenizer: SoundTokenizerConfig = attrs.Factory(SoundTokenizerConfig)
    training: SoundTrainingConfig = attrs.Factory(SoundTrainingConfig)


def plan_sound_run(out: Path, preset: str | None, overrides: dict) -> SoundRunConfig:
    """The saved run when resuming (only steps and checkpoint_every may change), else the preset."""
    saved_path = out / RUN_FILE
    if saved_path.is_file() and preset is None:
        saved = SoundRunConfig.from_json(saved_path)
        run = attrs.evolve(saved, training=saved.training.replace(**overrides))
        changed = [k for k, v in saved.training.to_dict().items() if v != getattr(run.training, k)]
        changed = [k for k in changed if k not in ("steps", "checkpoint_every")]
        if changed:
            raise ConfigError(
                f"--out {out}",
                f"holds a run started with {changed[0]} = {getattr(saved.training, changed[0])!r}",
            )
        return run
    if saved_path.is_file():
        raise ConfigError(
            f"--out {out}", "holds a run already: resume it without --preset, or choose another --out"
        )
    name = preset or "toyworld"
    return SoundRunConfig(
        tokenizer=SoundTokenizerConfig(**PRESETS[name]),
        training=SoundTrainingConfig(**{**TRAINING_PRESETS[name], **overrides}),
    )


def dataset_spectrograms(
    root: str | os.PathLike, split: str, config: SoundTokenizerConfig, progress: bool
) -> torch.Tensor:
    """Spectrograms ``[N, 1, bins, steps]`` of every frame of every ``split`` video that has a sound track."""
    records = [index_video(folder) for folder in list_video_folders(root)]
    records = [r for r in records if r.meta.split == split and r.audio_path is not None]
    chunks = []
    for record in track(records, f"reading {split} sound", disable=not progress):
        sound = read_sound(record.audio_path, pad=True).resampled(config.sample_rate)
        windows = frame_windows(sound, Timeline(record.num_frames, record.meta.fps))
        chunks.append(log_spectrogram(windows, config.bins, config.steps))
    if not chunks:
        raise InputError(root, f"no '{split}' video has an audio.wav")
    return torch.cat(chunks)


@torch.no_grad()
def evaluate(model: SoundTokenizer, spectrograms: torch.Tensor) -> dict[str, float]:
    """Reconstruction error of the log spectrogram (L1, and relative to the spectrogram's own L1),
    codebook use and perplexity."""
    model.eval()
    errors, norms, tokens = [], [], []
    for part in spectrograms.split(256):
        reconstruction, quantized, _ = model(part)
        errors.append((reconstruction - part).abs().sum())
        norms.append(part.abs().sum())
        tokens.append(quantized.tokens.flatten())
    tokens = torch.cat(tokens)
    size = model.config.codebook_size
    return {
        "l1": float(sum(errors) / spectrograms.numel()),
        "relative_l1": float(sum(errors) / sum(norms).clamp_min(1e-12)),
        "codebook_usage": float(tokens.unique().numel() / size),
        "perplexity": perplexity(tokens, size),
        "frames": int(spectrograms.shape[0]),
    }


def spectrogram_picture(model: SoundTokenizer, spectrograms: torch.Tensor, count: int = 16) -> np.ndarray:
    """Rows: real spectrograms of ``count`` frames side by side, then their reconstructions (low
    frequencies at the bottom), uint8 greyscale scaled 4x."""
    with torch.no_grad():
        real = spectrograms[:count]
        rebuilt = model(real)[0]
    rows = [torch.cat(list(x[:, 0].flip(1)), dim=1) for x in (real, rebuilt)]
    image = torch.cat(rows, dim=0)
    image = (image / image.max().clamp_min(1e-6)).clamp(0, 1).mul(255).byte().numpy()
    return np.kron(image, np.ones((4, 4), dtype=np.uint8))


def train_sound_tokenizer(data: str | os.PathLike, out: str | os.PathLike, run: SoundRunConfig, device: str = "cpu", progress: bool = True) -> dict:  # fmt: skip
    """Train (or resume) in ``out``; export ``out/tokenizer``; return the validation scores."""
    out, cfg = Path(out), run.training
    torch.manual_seed(cfg.seed)
    model = SoundTokenizer(run.tokenizer).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    train = dataset_spectrograms(data, "train", run.tokenizer, progress).to(device)
    try:
        held_out = dataset_spectrograms(data, "val", run.tokenizer, progress).to(device)
    except InputError:
        held_out = train  # no validation sound: report the training error, and say so
    run.to_json(out / RUN_FILE)
    last_z: list[torch.Tensor] = []

    def step_loss(draw: torch.Generator) -> torch.Tensor:
        batch = train[torch.randint(0, len(train), (cfg.batch_size,), generator=draw).to(train.device)]
        reconstruction, quantized, z = model(batch)
        last_z[:] = [z.detach()]
        return (reconstruction - batch).abs().mean() + quantization_loss(z, quantized.z_q, run.tokenizer.beta)

    step = train_steps(
        model, optimizer, step_loss, out, steps=cfg.steps, checkpoint_every=cfg.checkpoint_every, seed=cfg.seed,
        description="sound tokenizer", progress=progress,
        after_step=lambda draw: model.quantizer.restart_dead_codes(last_z[0], cfg.dead_after, draw),
    )  # fmt: skip
    scores = {**evaluate(model, held_out), "split": "val" if held_out is not train else "train", "step": step}
    export_module(model, "sound_tokenizer", run.tokenizer, out / EXPORT_DIR, {"eval": scores})
    write_image(out / "spectrograms.png", spectrogram_picture(model, held_out))
    write_text_atomic(out / "eval.json", json.dumps(scores, indent=2) + "\n")
    return scores
