"""The dataset folder format (docs/dataset-format.md): file names, and the loaders that validate each file.

Every loader raises ``InputError`` naming the file and the problem; nothing here decodes pixels.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np

from ccvs_core.data.coco_rle import check_segmentation
from ccvs_core.errors import InputError
from ccvs_core.json_text import parse_json

META = "meta.json"
FRAMES_DIR = "frames"
VIDEO_FILE = "video.mp4"
AUDIO_FILE = "audio.wav"
STATE_FILE = "state.json"
LAYOUT_FILE = "layout.json"
TRUTH_FILE = "truth.json"
SPLITS = ("train", "val", "test")
_FRAME_NAME = re.compile(r"^(\d{6})\.png$")
_META_KEYS = {"fps", "split", "class", "num_frames", "source"}


def frame_name(index: int) -> str:
    return f"{index:06d}.png"


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot be read ({err})") from None
    try:
        return parse_json(text)
    except ValueError as err:  # json.JSONDecodeError included
        raise InputError(path, f"is not valid JSON ({err})") from None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@attrs.frozen
class VideoMeta:
    fps: float
    split: Literal["train", "val", "test"]
    label: str | None = None
    num_frames: int | None = None
    source: str | None = None


def load_meta(folder: Path) -> VideoMeta:
    path = folder / META
    if not path.is_file():
        raise InputError(folder, f"is not a video folder: it has no {META}")
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(path, "must hold a JSON object")
    unknown = sorted(set(data) - _META_KEYS)
    if unknown:
        raise InputError(path, f"unknown keys {unknown} (known: {', '.join(sorted(_META_KEYS))})")
    fps = data.get("fps")
    if not _number(fps) or fps <= 0:
        raise InputError(path, f"'fps' must be a number > 0, got {fps!r}")
    split = data.get("split")
    if split not in SPLITS:
        raise InputError(path, f"'split' must be one of {', '.join(SPLITS)}, got {split!r}")
    label = data.get("class")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise InputError(path, f"'class' must be a non-empty string or null, got {label!r}")
    num_frames = data.get("num_frames")
    if num_frames is not None and (
        isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1
    ):
        raise InputError(path, f"'num_frames' must be an integer >= 1, got {num_frames!r}")
    source = data.get("source")
    if source is not None and not isinstance(source, str):
        raise InputError(path, f"'source' must be a string, got {source!r}")
    return VideoMeta(float(fps), split, label, num_frames, source)


def check_regular(path: Path) -> None:
    """Refuse a ``path`` that exists but is not a regular file (a FIFO, a socket, a device, a folder)."""
    if os.path.lexists(path) and not path.is_file():
        raise InputError(path, "is not a regular file")


def frame_files(folder: Path) -> list[Path]:
    """The PNGs of ``folder/frames``, checked to be numbered 000000.png, 000001.png, ... without gaps."""
    frames_dir = folder / FRAMES_DIR
    names = sorted(p.name for p in frames_dir.iterdir() if not p.name.startswith("."))
    if not names:
        raise InputError(frames_dir, "holds no frames")
    for expected, name in enumerate(names):
        check_regular(frames_dir / name)
        match = _FRAME_NAME.match(name)
        if not match:
            raise InputError(
                frames_dir / name, "is not a frame file (frames are named 000000.png, 000001.png, ...)"
            )
        if int(match.group(1)) != expected:
            raise InputError(
                frames_dir, f"frame {frame_name(expected)} is missing (frames must have no gaps)"
            )
    return [frames_dir / n for n in names]


def frames_source(folder: Path) -> Path:
    """``folder/frames`` or ``folder/video.mp4``, whichever the video has (exactly one is allowed)."""
    has_dir = (folder / FRAMES_DIR).is_dir()
    has_video = (folder / VIDEO_FILE).is_file()
    if has_dir and has_video:
        raise InputError(folder, f"has both {FRAMES_DIR}/ and {VIDEO_FILE}; keep one")
    if not has_dir and not has_video:
        raise InputError(folder, f"has no frames: neither {FRAMES_DIR}/ nor {VIDEO_FILE}")
    return folder / (FRAMES_DIR if has_dir else VIDEO_FILE)


def load_state(path: Path, fps: float, num_frames: int) -> np.ndarray:
    """The positions of ``state.json`` as float32 ``[num_frames, 2]`` (x, y in pixels of the stored frames)."""
    data = read_json(path)
    if not isinstance(data, dict) or "positions" not in data:
        raise InputError(path, 'must be an object {"fps": ..., "positions": [[x, y], ...]}')
    unknown = sorted(set(data) - {"fps", "positions"})
    if unknown:
        raise InputError(path, f"unknown keys {unknown} (known: fps, positions)")
    if not _number(data.get("fps")) or abs(data["fps"] - fps) > 1e-6 * fps:
        raise InputError(path, f"'fps' must equal the video's fps {fps:g}, got {data.get('fps')!r}")
    positions = data["positions"]
    if not isinstance(positions, list) or len(positions) != num_frames:
        count = len(positions) if isinstance(positions, list) else type(positions).__name__
        raise InputError(path, f"'positions' must list one [x, y] per frame ({num_frames}), got {count}")
    for i, p in enumerate(positions):
        if not (isinstance(p, list) and len(p) == 2 and all(_number(v) for v in p)):
            raise InputError(path, f"positions[{i}] must be [x, y] with finite numbers, got {p!r}")
    return np.asarray(positions, dtype=np.float32).reshape(num_frames, 2)


def load_layout(path: Path, num_frames: int, frame_size: tuple[int, int]) -> dict[str, Any]:
    """A validated COCO layout file whose images are frames of a ``num_frames`` video of ``frame_size`` (h, w)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(path, "must hold a COCO JSON object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputError(path, f"'{key}' must be a list")
    h, w = frame_size
    categories = set()
    for i, cat in enumerate(data["categories"]):
        if not (
            isinstance(cat, dict) and isinstance(cat.get("id"), int) and isinstance(cat.get("name"), str)
        ):
            raise InputError(path, f"categories[{i}] needs an integer 'id' and a string 'name'")
        categories.add(cat["id"])
    images = {}
    for i, image in enumerate(data["images"]):
        if not (isinstance(image, dict) and isinstance(image.get("id"), int)):
            raise InputError(path, f"images[{i}] needs an integer 'id'")
        index = image.get("frame_index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < num_frames:
            raise InputError(
                path, f"images[{i}] 'frame_index' must be a frame of the video (0..{num_frames - 1})"
            )
        if (image.get("height"), image.get("width")) != (h, w):
            raise InputError(
                path, f"images[{i}] is {image.get('width')}x{image.get('height')}, the frames are {w}x{h}"
            )
        images[image["id"]] = image
    for i, ann in enumerate(data["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            raise InputError(path, f"{where} must be an object")
        if _id(ann.get("image_id")) not in images:
            raise InputError(
                path, f"{where} refers to image {ann.get('image_id')!r}, which is not in 'images'"
            )
        if _id(ann.get("category_id")) not in categories:
            raise InputError(path, f"{where} has category {ann.get('category_id')!r}, not in 'categories'")
        check_segmentation(ann.get("segmentation"), h, w, str(path), where)
    return data


def list_video_folders(root: str | os.PathLike) -> list[Path]:
    """The video folders of a dataset, sorted by name (hidden folders are skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found" if not root.exists() else "is not a folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise InputError(root, "holds no video folders (see docs/dataset-format.md)")
    return folders


def _id(value: Any) -> Any:
    """An annotation's id as a lookup key: a list or an object (unhashable) matches no id."""
    return value if isinstance(value, int | str | float | None) else None
