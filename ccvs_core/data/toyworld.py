"""Toyworld: a synthetic world with every modality of the paper and all its hidden variables known.

Each video shows a camera panning over a tileable texture (exact background flow), a gripper disk
moving along its class's trajectory (state, class), objects it pushes, and a striker that hits a pad
exactly at the onsets of a percussive sound track (audio), with per-frame COCO layouts (layout) and
the last frame as end frame. ``truth.json`` holds every hidden variable (docs/toyworld.md).

    config = ToyworldConfig(videos=100, frames=32, size=64, seed=0)
    video = render_video(config, 7)            # one video in memory
    generate_toyworld(config, "toyworld")      # the dataset on disk (process pool, progress bar)

Video ``i`` draws all its randomness from ``np.random.default_rng([seed, i])``: it does not depend
on the number of videos or workers, and the same seed writes the same bytes.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from PIL import Image

from ccvs_core.atomic import atomic_path
from ccvs_core.config_base import Config, at_least, greater_than, in_range
from ccvs_core.console import progress_bar
from ccvs_core.data.audio import write_wav
from ccvs_core.data.format import (
    AUDIO_FILE,
    FRAMES_DIR,
    LAYOUT_FILE,
    META,
    STATE_FILE,
    TRUTH_FILE,
    frame_name,
)
from ccvs_core.data.toyworld_audio import drum_track, hit_frames, num_samples, onset_sample
from ccvs_core.data.toyworld_render import (
    GRIPPER_COLOUR,
    OBJECT_COLOURS,
    PAD_COLOUR,
    STRIKER_COLOUR,
    box_masks,
    coco_layout,
    disk_masks,
    draw,
    make_texture,
    semantic_labels,
    square_masks,
)
from ccvs_core.data.toyworld_scene import (
    CLASSES,
    Geometry,
    Scene,
    camera_path,
    gripper_path,
    place_objects,
    simulate_objects,
    striker_boxes,
)
from ccvs_core.errors import ConfigError, InputError

PNG_COMPRESS_LEVEL = 1  # fast; level 6 saves ~10 % of the space at 3x the time
FLOAT_DECIMALS = 6  # floats in JSON files are rounded to this many decimals
VIDEO_NAME = re.compile(r"v\d{5,}")  # folder names of videos


@attrs.frozen(kw_only=True)
class ToyworldConfig(Config):
    """What ``ccvs data toyworld`` generates; saved as ``toyworld.json`` at the dataset's root."""

    videos: int = attrs.field(default=1000, validator=at_least(1))
    frames: int = attrs.field(default=32, validator=at_least(2))  # per video
    # frames are size x size pixels; 32 (4 x 4 tokens) is what the default model trains on 2 CPU cores
    # in its budget (benchmarks/default_model.py)
    size: int = attrs.field(default=32, validator=at_least(32))
    seed: int = attrs.field(default=0, validator=at_least(0))
    fps: float = attrs.field(default=10.0, validator=greater_than(0))
    sample_rate: int = attrs.field(default=16000, validator=at_least(1000))  # Hz, mono audio
    min_objects: int = attrs.field(default=2, validator=in_range(0, len(OBJECT_COLOURS)))
    max_objects: int = attrs.field(default=3, validator=in_range(0, len(OBJECT_COLOURS)))
    min_hit_gap: int = attrs.field(default=4, validator=at_least(2))  # frames between striker hits
    # camera, pixels per frame (each video draws 0.25-1x of it); 0.5 at 32 px is a slower pan for the
    # frame's size than the former 1.5 at 64 px, kept as the fixed reference (RESULTS.md)
    max_pan_speed: float = attrs.field(default=0.5, validator=at_least(0))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.min_objects > self.max_objects:
            err = ConfigError(
                "field 'ToyworldConfig.max_objects'",
                f"must be >= min_objects ({self.min_objects}), got {self.max_objects}",
            )
            err.field_name = "max_objects"
            raise err


@attrs.frozen(eq=False)
class ToyworldVideo:
    """One rendered video, in memory, with everything its folder holds."""

    name: str  # folder name, "v00012"
    split: str  # "train", "val" or "test"
    frames: np.ndarray  # [T, S, S, 3] uint8
    labels: np.ndarray  # [T, S, S] uint8: category ids of layout.json (1 gripper ... 4 pad), 0 = background
    instances: np.ndarray  # [T, S, S] uint8: 0 = background, then objects, pad, striker, gripper
    audio: np.ndarray  # [1, n] float32 in [-1, 1]
    sample_rate: int
    truth: dict[str, Any]  # truth.json
    meta: dict[str, Any]  # meta.json
    state: dict[str, Any]  # state.json
    layout: dict[str, Any]  # layout.json


def split_of(index: int) -> str:
    """The split of video ``index``: every 10th (index % 10 == 9) is test, the one before val."""
    return {9: "test", 8: "val"}.get(index % 10, "train")


def video_name(index: int, videos: int) -> str:
    """``v00012``: the index with at least five digits (more when there are more videos)."""
    return f"v{index:0{max(5, len(str(videos - 1)))}d}"


def render_video(config: ToyworldConfig, index: int) -> ToyworldVideo:
    """Render video ``index`` of the dataset ``config`` describes (pure function of both)."""
    if not 0 <= index < config.videos:
        raise InputError("index", f"must be in [0, {config.videos}), got {index}")
    rng = np.random.default_rng([config.seed, index])
    geometry = Geometry.for_size(config.size)
    period = 4 * config.size
    motion_class = CLASSES[int(rng.integers(len(CLASSES)))]
    texture = make_texture(rng, period)
    camera = camera_path(rng, config.frames, period, config.max_pan_speed)
    gripper, motion = gripper_path(rng, motion_class, config.frames, geometry.workspace)
    hits = hit_frames(rng, config.frames, config.min_hit_gap)
    count = int(rng.integers(config.min_objects, config.max_objects + 1))
    colours = [OBJECT_COLOURS[i] for i in rng.permutation(len(OBJECT_COLOURS))[:count]]
    placed = place_objects(rng, geometry, gripper, camera, count, colours)
    scene = Scene(
        geometry=geometry,
        camera=camera,
        motion_class=motion_class,
        motion=motion,
        gripper=gripper,
        objects=simulate_objects(placed, gripper + camera, geometry.gripper_radius),
        striker=striker_boxes(geometry, config.frames, hits),
        hit_frames=hits,
    )
    onsets = [onset_sample(t, config.fps, config.sample_rate) for t in hits]
    length = num_samples(config.frames, config.fps, config.sample_rate)
    audio = drum_track(rng, onsets, length, config.sample_rate)
    frames, instances, table = draw(scene, texture)
    name = video_name(index, config.videos)
    return ToyworldVideo(
        name=name,
        split=split_of(index),
        frames=frames,
        labels=semantic_labels(instances, table),
        instances=instances,
        audio=audio,
        sample_rate=config.sample_rate,
        truth=_truth(config, index, scene, period, onsets, audio.shape[1]),
        meta={
            "fps": config.fps,
            "split": split_of(index),
            "class": motion_class,
            "num_frames": config.frames,
            "source": f"toyworld seed {config.seed} video {index}",
        },
        state={"fps": config.fps, "positions": gripper.tolist()},
        layout=coco_layout(instances, table),
    )


def _truth(config: ToyworldConfig, index: int, scene: Scene, period: int, onsets, samples: int) -> dict:
    """truth.json: every hidden variable of the video (keys documented in docs/toyworld.md)."""
    return _plain(
        {
            "generator": "ccvs toyworld",
            "seed": config.seed,
            "index": index,
            "size": config.size,
            "num_frames": config.frames,
            "fps": config.fps,
            "class": scene.motion_class,
            "end_frame": config.frames - 1,
            "texture_period": period,
            "camera": scene.camera,
            "gripper": {
                "radius": scene.geometry.gripper_radius,
                "colour": GRIPPER_COLOUR,
                "positions": scene.gripper,
                "motion": scene.motion,
            },
            "objects": [
                {
                    "shape": item.shape,
                    "radius": item.radius,
                    "colour": item.colour,
                    "world": item.world,
                    "screen": item.world - scene.camera,
                    "pushed_frames": item.pushed,
                }
                for item in scene.objects
            ],
            "pad": {"box": scene.geometry.pad, "colour": PAD_COLOUR},
            "striker": {"colour": STRIKER_COLOUR, "boxes": scene.striker, "hit_frames": scene.hit_frames},
            "audio": {
                "sample_rate": config.sample_rate,
                "num_samples": samples,
                "onset_samples": onsets,
                "onset_times": [t / config.fps for t in scene.hit_frames],
            },
        }
    )


def _plain(value: Any) -> Any:
    """A JSON-ready copy: numpy values to Python ones, tuples to lists, floats rounded."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return round(value, FLOAT_DECIMALS)
    return value


def camera_flow(truth: dict[str, Any], t0: int, t1: int) -> np.ndarray:
    """The exact optical flow of the background from frame ``t0`` to frame ``t1``: ``[2]`` (dx, dy)
    pixels, the same at every background pixel. Content moves opposite to the camera:
    ``frame[t1][y, x] == frame[t0][y - dy, x - dx]`` wherever both show background."""
    camera = np.asarray(truth["camera"], dtype=np.float64)  # [T, 2]
    for name, t in (("t0", t0), ("t1", t1)):
        if not 0 <= t < len(camera):
            raise InputError(name, f"must be a frame index in [0, {len(camera)}), got {t}")
    return camera[t0] - camera[t1]


def motion_flow(truth: dict[str, Any], t0: int, t1: int) -> np.ndarray:
    """The exact optical flow from frame ``t0`` to frame ``t1`` at every pixel of frame ``t1``: ``[2, S, S]``
    (dx, dy) pixels, the motion of the shape the pixel shows there (objects, pad, striker, gripper,
    the top one where they overlap) or of the background (``camera_flow``): what frame ``t1`` shows at
    (x, y) was at (x - dx, y - dy) in frame ``t0``. Shapes move by fractions of a pixel (multiples of
    1/64), the background by whole pixels."""
    size = truth["size"]
    flow = np.empty((2, size, size))
    flow[:] = camera_flow(truth, t0, t1)[:, None, None]
    camera = np.asarray(truth["camera"], dtype=np.float64)[[t0, t1]]  # [2, 2]
    layers = []  # (mask at t1, screen position at t0 and t1), bottom to top as draw() paints them
    for item in truth["objects"]:
        screen = np.asarray(item["world"], dtype=np.float64)[[t0, t1]] - camera
        masks = disk_masks if item["shape"] == "disk" else square_masks
        layers.append((masks(screen[1:], item["radius"], size)[0], screen))
    pad = np.asarray([truth["pad"]["box"]] * 2, dtype=np.float64)
    layers.append((box_masks(pad[1:], size)[0], pad[:, :2]))
    striker = np.asarray(truth["striker"]["boxes"], dtype=np.float64)[[t0, t1]]
    layers.append((box_masks(striker[1:], size)[0], striker[:, :2]))
    gripper = np.asarray(truth["gripper"]["positions"], dtype=np.float64)[[t0, t1]]
    layers.append((disk_masks(gripper[1:], truth["gripper"]["radius"], size)[0], gripper))
    for mask, screen in layers:
        flow[:, mask] = (screen[1] - screen[0])[:, None]
    return flow


def write_video_folder(video: ToyworldVideo, folder: str | os.PathLike) -> None:
    """Write one video in the dataset format; the folder appears complete or not at all (not synced
    to disk: generate_toyworld syncs the whole dataset once)."""
    folder = Path(folder)
    with atomic_path(folder, directory=True, durable=False) as tmp:
        (tmp / FRAMES_DIR).mkdir()
        for t, frame in enumerate(video.frames):
            path = tmp / FRAMES_DIR / frame_name(t)
            Image.fromarray(frame).save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        write_wav(tmp / AUDIO_FILE, video.audio, video.sample_rate)
        (tmp / META).write_text(json.dumps(video.meta, indent=2) + "\n", encoding="utf-8")
        for name, data in ((STATE_FILE, video.state), (LAYOUT_FILE, video.layout), (TRUTH_FILE, video.truth)):
            (tmp / name).write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")


@attrs.frozen
class ToyworldSummary:
    """What ``generate_toyworld`` wrote."""

    root: Path
    config: ToyworldConfig
    workers: int
    seconds: float
    splits: dict[str, int]  # videos per split
    classes: dict[str, int]  # videos per motion class
    hits: int  # striker hits (audio onsets) in all videos
    pushes: int  # frames at which an object was pushed, in all videos

    def describe(self) -> str:
        c = self.config
        frames = c.videos * c.frames
        splits = " / ".join(f"{self.splits.get(s, 0)} {s}" for s in ("train", "val", "test"))
        classes = ", ".join(f"{name} {self.classes.get(name, 0)}" for name in CLASSES)
        return (
            f"wrote {c.videos} videos ({splits}) of {c.frames} frames of {c.size}x{c.size} at {c.fps:g} fps "
            f"to {self.root} in {self.seconds:.1f} s ({frames / max(self.seconds, 1e-9):.0f} frames/s, "
            f"{self.workers} workers)\nclasses: {classes}; {self.hits} striker hits; {self.pushes} pushes"
        )


def generate_toyworld(
    config: ToyworldConfig,
    out: str | os.PathLike,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> ToyworldSummary:
    """Write the dataset ``config`` describes into ``out`` (one folder per video and ``toyworld.json``),
    with a pool of ``workers`` processes (default: one per CPU core). It is built in a temporary folder
    beside ``out`` and renamed when complete: ``out`` holds a whole dataset or none (or the old one).

    A non-empty ``out`` is refused unless ``overwrite``; even then only a previous toyworld dataset
    (video folders and toyworld.json) is replaced."""
    out = Path(out)
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise InputError("workers", f"must be >= 1, got {workers}")
    _check_output(out, overwrite)
    start = time.perf_counter()
    splits: Counter = Counter()
    classes: Counter = Counter()
    hits = pushes = 0
    with atomic_path(out, directory=True) as building:
        with _chunk_results(config, building, workers) as results, progress_bar(disable=not progress) as bar:
            task = bar.add_task("toyworld", total=config.videos, status="")
            for chunk in results:
                for split, motion_class, video_hits, video_pushes in chunk:
                    splits[split] += 1
                    classes[motion_class] += 1
                    hits += video_hits
                    pushes += video_pushes
                bar.advance(task, len(chunk))
        config.to_json(building / "toyworld.json")
    return ToyworldSummary(
        root=out,
        config=config,
        workers=workers,
        seconds=time.perf_counter() - start,
        splits=dict(splits),
        classes=dict(classes),
        hits=hits,
        pushes=pushes,
    )


def _check_output(out: Path, overwrite: bool) -> None:
    """Refuse an unusable ``out``: a file, or a folder with anything but a toyworld dataset (which only
    ``overwrite`` replaces, once the new one is complete)."""
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    entries = list(out.iterdir()) if out.exists() else []
    if entries and not overwrite:
        raise InputError(
            out, "is not empty", "pass --overwrite to replace a toyworld dataset, or choose another folder"
        )
    ours = [e for e in entries if e.name == "toyworld.json" or (e.is_dir() and VIDEO_NAME.fullmatch(e.name))]
    foreign = sorted(set(entries) - set(ours))
    if foreign:
        raise InputError(
            out,
            f"holds '{foreign[0].name}', which is not part of a toyworld dataset; refusing to overwrite it",
        )


@contextlib.contextmanager
def _chunk_results(config: ToyworldConfig, out: Path, workers: int) -> Iterator[Iterator[list[tuple]]]:
    """Render and write all videos in chunks of consecutive indices; yield an iterator over the
    chunks' results (in the order they finish).

    The worker processes start here, before the caller's progress bar starts its thread (forking a
    process that has threads can deadlock)."""
    per_chunk = max(1, min(16, config.videos // (8 * workers)))
    chunks = (range(i, min(i + per_chunk, config.videos)) for i in range(0, config.videos, per_chunk))
    count = -(-config.videos // per_chunk)
    if workers == 1 or count == 1:
        yield (_write_chunk(config, out, chunk) for chunk in chunks)
        return
    with ProcessPoolExecutor(max_workers=min(workers, count)) as pool:
        try:
            yield _in_flight(pool, config, out, chunks, 2 * workers)
        finally:
            pool.shutdown(cancel_futures=True)  # on an error, do not render the rest


def _in_flight(
    pool, config: ToyworldConfig, out: Path, chunks: Iterator[range], limit: int
) -> Iterator[list]:
    """The chunks' results as they finish, with at most ``limit`` submitted at a time: memory does not
    grow with the number of videos."""
    pending = {pool.submit(_write_chunk, config, out, chunk) for chunk in itertools.islice(chunks, limit)}
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        pending |= {
            pool.submit(_write_chunk, config, out, chunk) for chunk in itertools.islice(chunks, len(done))
        }
        yield from (future.result() for future in done)


def _write_chunk(config: ToyworldConfig, out: Path, indices: range) -> list[tuple]:
    """Worker: render and write videos; return (split, class, hits, pushes) for each."""
    results = []
    for index in indices:
        video = render_video(config, index)
        write_video_folder(video, out / video.name)
        pushes = sum(len(item["pushed_frames"]) for item in video.truth["objects"])
        results.append((video.split, video.meta["class"], len(video.truth["striker"]["hit_frames"]), pushes))
    return results
