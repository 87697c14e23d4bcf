"""One video folder of a dataset: its index record, and reading its frames."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
from PIL import Image, UnidentifiedImageError

from ccvs_core.data.format import (
    AUDIO_FILE,
    FRAMES_DIR,
    LAYOUT_FILE,
    STATE_FILE,
    TRUTH_FILE,
    VIDEO_FILE,
    VideoMeta,
    check_regular,
    frame_files,
    frame_name,
    frames_source,
    load_meta,
)
from ccvs_core.errors import InputError
from ccvs_core.media import check_png_chunks, read_image, read_video_frames, video_info


@attrs.frozen
class VideoRecord:
    """What the index knows of one video folder without decoding its frames."""

    id: str
    folder: Path
    meta: VideoMeta
    source: Path  # folder/frames or folder/video.mp4
    num_frames: int
    size: tuple[int, int]  # (height, width) of the stored frames

    @property
    def audio_path(self) -> Path | None:
        return self._optional(AUDIO_FILE)

    @property
    def state_path(self) -> Path | None:
        return self._optional(STATE_FILE)

    @property
    def layout_path(self) -> Path | None:
        return self._optional(LAYOUT_FILE)

    @property
    def truth_path(self) -> Path | None:
        return self._optional(TRUTH_FILE)

    def _optional(self, name: str) -> Path | None:
        path = self.folder / name
        return path if path.is_file() else None

    @property
    def is_frame_folder(self) -> bool:
        return self.source.name == FRAMES_DIR


def _png_size(path: Path, verify: bool = False) -> tuple[int, int]:
    """(height, width) from a PNG's header; ``verify`` also checks the whole file's integrity."""
    check_png_chunks(path)
    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                raise InputError(path, f"is a {image.format} file, frames must be PNG")
            size = (image.height, image.width)
            if verify:
                image.verify()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, EOFError, IndexError) as err:
        raise InputError(path, f"is not a readable PNG ({err})") from None
    return size


def index_video(folder: Path, *, verify_frames: bool = False) -> VideoRecord:
    """Read ``meta.json`` and count the frames. ``verify_frames`` opens every PNG (``ccvs data check``)."""
    for name in ("meta.json", AUDIO_FILE, STATE_FILE, LAYOUT_FILE, TRUTH_FILE, VIDEO_FILE):
        check_regular(folder / name)  # a FIFO would block its reader for ever
    meta = load_meta(folder)
    source = frames_source(folder)
    if source.name == FRAMES_DIR:
        files = frame_files(folder)
        size = _png_size(files[0], verify=verify_frames)
        if verify_frames:
            for path in files[1:]:
                other = _png_size(path, verify=True)
                if other != size:
                    raise InputError(
                        path, f"is {other[1]}x{other[0]}, the first frame is {size[1]}x{size[0]}"
                    )
        num_frames = len(files)
    else:
        info = video_info(source)
        size, num_frames = (info.height, info.width), info.num_frames
    if meta.num_frames is not None and meta.num_frames != num_frames:
        raise InputError(
            folder / "meta.json", f"says num_frames={meta.num_frames}, {source.name} has {num_frames}"
        )
    return VideoRecord(folder.name, folder, meta, source, num_frames, size)


def read_record_frames(record: VideoRecord, indices: Sequence[int]) -> np.ndarray:
    """Frames ``indices`` of a video as uint8 ``[len(indices), H, W, 3]``."""
    for i in indices:
        if not 0 <= i < record.num_frames:
            raise InputError(record.folder, f"has no frame {i} (it has {record.num_frames})")
    if not record.is_frame_folder:
        return read_video_frames(record.source, list(indices))
    frames = [read_image(record.source / frame_name(i)) for i in indices]
    for i, frame in zip(indices, frames, strict=True):
        if frame.shape[:2] != record.size:
            raise InputError(record.source / frame_name(i), f"is not {record.size[1]}x{record.size[0]}")
    return np.stack(frames)
