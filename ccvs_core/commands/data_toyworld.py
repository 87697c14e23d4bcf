"""``ccvs data toyworld``: synthesize the toyworld dataset, every modality with its ground truth."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ccvs_core.console import console
from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
from ccvs_core.errors import ConfigError, InputError
from ccvs_core.resources import Estimate, check_request

DEFAULTS = ToyworldConfig()

DESCRIPTION = f"""\
Synthesize "toyworld", a dataset in the ccvs format (docs/dataset-format.md) in which every hidden
variable is known, so that models can be scored against the truth and not only against pixels.

Every video (default: {DEFAULTS.frames} frames of {DEFAULTS.size}x{DEFAULTS.size} at {DEFAULTS.fps:g} fps) \
is one folder DIR/v00000/, DIR/v00001/, ... holding:

  frames/*.png   a camera panning over a tileable texture by whole pixels, so the optical flow of
                 the background is exact; a white gripper disk; {DEFAULTS.min_objects}-{DEFAULTS.max_objects} \
coloured objects (disks,
                 squares) fixed in the world that the gripper pushes when it touches them; a
                 yellow striker above a black pad in the bottom-right corner
  state.json     the gripper's centre in every frame (the trajectory / "robot state")
  meta.json      fps, split, and the class: the gripper's motion, one of circle, zigzag, line, still
  audio.wav      {DEFAULTS.sample_rate} Hz mono percussive hits; each starts exactly at the frame where the \
striker
                 touches the pad (in all other frames it is raised)
  layout.json    per-frame COCO layouts of what is visible: gripper, object, striker, pad
                 (background unannotated), uncompressed RLE masks with bbox and area
  truth.json     every hidden variable: camera offsets, gripper and object positions, pushes,
                 hit frames, audio onsets, class and end frame (the last frame); docs/toyworld.md

Shapes are hard-edged and their colours use only channel values 0 and 255, which the texture never
does. Splits go by index: index % 10 == 9 is "test", == 8 is "val", the rest "train". Video i
draws its randomness from (--seed, i) alone: the same seed writes the same bytes, whatever
--videos or --workers. DIR/toyworld.json holds the generator's settings. The dataset is built in a
hidden folder beside DIR and renamed when complete: DIR holds a whole dataset or none (or the old one).
"""

EPILOG = """\
examples:
  ccvs data toyworld --out data/toyworld --videos 2400 --seed 0    # the default model's data
  ccvs data toyworld --out data/toy64 --size 64 --max-pan-speed 1.5   # the reference toyworld
  ccvs data toyworld --out data/toy_small --videos 20 --frames 16 --overwrite
"""

# ToyworldConfig field -> its flag, type, metavar and help; unset flags keep the config's defaults.
CONFIG_FLAGS = {
    "videos": ("--videos", int, "N", "number of videos"),
    "frames": ("--frames", int, "T", "frames per video"),
    "size": ("--size", int, "S", "frame side in pixels, >= 32"),
    "seed": ("--seed", int, "K", "random seed, >= 0"),
    "fps": ("--fps", float, "F", "frames per second"),
    "sample_rate": ("--sample-rate", int, "HZ", "audio sample rate"),
    "max_pan_speed": ("--max-pan-speed", float, "PX", "camera pan, pixels a frame at most"),
    "min_objects": ("--min-objects", int, "N", "pushable objects per video, at least"),
    "max_objects": ("--max-objects", int, "N", "pushable objects per video, at most"),
    "min_hit_gap": ("--min-hit-gap", int, "F", "frames between striker hits, at least"),
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "toyworld",
        help="synthesize a dataset with ground truth for every modality",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="dataset folder to write")
    for field, (flag, kind, metavar, text) in CONFIG_FLAGS.items():
        default = getattr(DEFAULTS, field)
        parser.add_argument(
            flag, dest=field, type=kind, metavar=metavar, help=f"{text} (default {default:g})"
        )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="W",
        help="processes rendering videos in parallel (default: one per CPU core)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a toyworld dataset already in DIR (any other content is never deleted)",
    )
    parser.add_argument("--yes", action="store_true", help="start even when it would take more than a day")
    parser.set_defaults(func=run)


def toyworld_estimate(config: ToyworldConfig, workers: int) -> Estimate:
    """Disk, memory and time of a toyworld (2,400 videos of 32 frames at 32 x 32: 436 MB, 34 s on
    2 cores): PNG frames at half their raw size, 16-bit audio, JSON files, ~1 us a pixel."""
    pixels = config.frames * config.size**2
    per_video = pixels * 3 * 0.5 + config.frames / config.fps * config.sample_rate * 2 + config.frames * 600
    return Estimate(
        memory=workers * pixels * 3 * 16,  # a video's frames as float work arrays in each worker
        seconds=config.videos * pixels * 1e-6 / min(workers, os.cpu_count() or 1),
        disk=config.videos * per_video,
    )


def config_from_args(args: argparse.Namespace) -> ToyworldConfig:
    """The config the flags ask for; a bad value is an InputError naming its flag."""
    try:
        return DEFAULTS.replace(**{field: getattr(args, field) for field in CONFIG_FLAGS})
    except ConfigError as err:
        flag = CONFIG_FLAGS.get(getattr(err, "field_name", ""), ("toyworld settings",))[0]
        raise InputError(flag, err.problem, err.hint) from None


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", f"must be >= 1, got {args.workers}")
    workers = args.workers or os.cpu_count() or 1
    check_request("ccvs data toyworld", toyworld_estimate(config, workers), args.yes, disk_at=args.out)
    summary = generate_toyworld(config, args.out, workers=workers, overwrite=args.overwrite)
    console.print(summary.describe(), highlight=False)
    return 0
