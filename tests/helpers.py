"""Test helpers: tiny hand-made dataset folders and frames (independent of toyworld and of the importer)."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from ccvs_core.data.audio import write_wav


def write_video_folder(
    root: Path,
    video_id: str,
    *,
    num_frames: int = 6,
    size: tuple[int, int] = (8, 12),
    fps: float = 10.0,
    split: str = "train",
    label: str | None = "walk",
    audio_rate: int | None = 800,
    state: bool = True,
    layout: bool = True,
    seed: int = 0,
) -> Path:
    """A video folder whose frame t is filled with the value 10 * t + 1 (so a frame's index is readable
    from its pixels), a state moving one pixel right per frame, one square layout annotation per frame,
    and an audio track whose sample value encodes the time (sample i = i / n)."""
    folder = root / video_id
    (folder / "frames").mkdir(parents=True)
    h, w = size
    rng = np.random.default_rng(seed)
    for t in range(num_frames):
        frame = np.full((h, w, 3), 10 * t + 1, dtype=np.uint8)
        frame[0, 0] = rng.integers(0, 255, 3)
        Image.fromarray(frame).save(folder / "frames" / f"{t:06d}.png")
    meta = {"fps": fps, "split": split, "class": label, "num_frames": num_frames}
    (folder / "meta.json").write_text(json.dumps(meta))
    if audio_rate:
        n = round(num_frames / fps * audio_rate)
        write_wav(folder / "audio.wav", (np.arange(n) / n)[None].astype(np.float32), audio_rate)
    if state:
        positions = [[1.5 + t, 2.5] for t in range(num_frames)]
        (folder / "state.json").write_text(json.dumps({"fps": fps, "positions": positions}))
    if layout:
        images = [{"id": 100 + t, "frame_index": t, "width": w, "height": h} for t in range(num_frames)]
        annotations = [
            {"id": t, "image_id": 100 + t, "category_id": 1, "segmentation": [[1, 1, 4, 1, 4, 4, 1, 4]]}
            for t in range(num_frames)
        ]
        data = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "thing"}]}
        (folder / "layout.json").write_text(json.dumps(data))
    return folder


def moving_gradient(num_frames: int, height: int, width: int) -> np.ndarray:
    """Smooth frames that change over time: uint8 [T, H, W, 3]."""
    yy, xx = np.mgrid[0:height, 0:width]
    frames = [
        np.stack([(xx * 5 + 7 * t) % 256, (yy * 5 + 3 * t) % 256, np.full_like(xx, 60 + 10 * t)], axis=-1)
        for t in range(num_frames)
    ]
    return np.stack(frames).astype(np.uint8)


def train_transformer(stage1, out, steps, **training):
    """A tiny stage-2 run on ``stage1`` = (toyworld folder, exported tiny autoencoder); the trainer.
    ``training``: other TransformerTrainingConfig fields."""
    from ccvs_core.training.transformer import TransformerTrainer
    from ccvs_core.training.transformer_run import plan_transformer_run

    data, autoencoder = stage1
    run = plan_transformer_run(out, autoencoder, "tiny", {"training": {"steps": steps, **training}})
    trainer = TransformerTrainer(run, data, out, progress=False)
    trainer.fit()
    return trainer


def stage2_argv(stage1):
    """``ccvs train transformer --data ... --autoencoder ... --preset tiny`` on ``stage1`` (add --out, ...)."""
    return [str(a) for a in world_of(stage1).stage2_argv()]


def world_of(stage1):
    """The conformance kit's ``World`` of ``stage1`` = (toyworld folder, exported tiny autoencoder)."""
    from ccvs_core.testing import World
    from ccvs_core.weights import load_json

    data, autoencoder = stage1
    return World(data, autoencoder, tuple(load_json(autoencoder / "config.json")["frame_size"]))


def train_with_conditions_cli(stage1, out, conditions, steps=1, dropout=None):
    """``ccvs train transformer --preset tiny --steps STEPS --cond ...`` on ``stage1`` (with
    ``--condition-dropout DROPOUT``); the pipeline folder."""
    from ccvs_core.testing import run_cli

    argv = [*stage2_argv(stage1), "--out", str(out), "--steps", str(steps)]
    argv += ["--condition-dropout", str(dropout)] if dropout is not None else []
    for condition in conditions:
        argv += ["--cond", condition]
    assert run_cli(argv) == 0
    return out / "pipeline"


def generate_cli(pipeline, out_file, conditions, **options):
    """``ccvs generate`` with ``--cond`` flags (the kit's); returns the exit code."""
    from ccvs_core.testing import generate_cli as generate

    return generate(pipeline, out_file, conditions, **options)


def first_frame_file(data, split="test"):
    """The path of the first frame of the first video of ``split`` in a toyworld dataset."""
    from ccvs_core.testing import first_frame

    return first_frame(data, split)


USER_MODULE = """
import torch
from ccvs_core import Condition, InputError, Slot, register_condition

@register_condition("{name}")
class Mine(Condition):
    def slots(self):
        return [Slot("video", 1, 3)]

    def parse(self, value, options):
        if value not in ("0", "1", "2"):
            raise InputError(f"--cond {name}:{{value}}", "must be 0, 1 or 2")
        return int(value)

    def from_sample(self, clip):
        return len(clip.frame_indices) % 3

    def tokenize(self, raw, timeline):
        return {{"tokens": torch.tensor([[raw]])}}
"""


def user_module(name):
    """The text of a user's own module (not a package) registering condition ``name``: one video-level
    token, 0 to 2."""
    return USER_MODULE.format(name=name)
