"""Import a folder of your own video files into the ccvs dataset format (docs/dataset-format.md).

``import_videos(src, out)`` finds every video file under ``src`` (MP4, WebM, AVI, MOV, MKV, M4V,
recursively), and writes for each one a folder ``out/<video id>/`` with

- ``video.mp4`` (H.264, re-encoded) or ``frames/000000.png ...`` (``frame_format="png"``),
- ``audio.wav`` when the file has a sound track (its own rate and channels, aligned to frame 0 and
  cut or padded with silence to the video's duration),
- ``meta.json``: fps, split, class (the first-level sub-folder of ``src``, as in UCF-101 or
  Kinetics, or null), num_frames and source (the path relative to ``src``).

Frames are streamed (one in memory at a time), so long videos do not fill the memory. The whole
dataset is built beside ``out`` and appears under its name when complete; each video folder inside
it is written atomically too. Files that cannot be read are skipped with a warning naming them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path, PurePosixPath

import attrs
import av
import numpy as np
from PIL import Image
from rich.markup import escape

from ccvs_core.atomic import atomic_path
from ccvs_core.console import console, progress_bar
from ccvs_core.data.audio import read_audio, write_wav
from ccvs_core.data.format import SPLITS
from ccvs_core.errors import InputError
from ccvs_core.media import VIDEO_EXTENSIONS, av_error_text, frame_folder_writer, iter_frames, video_writer

FRAME_FORMATS = ("mp4", "png")


@attrs.frozen
class ImportedVideo:
    """One video written to the dataset."""

    video_id: str
    source: str  # path relative to the source folder, with "/" separators
    class_name: str | None
    split: str
    num_frames: int
    fps: float
    height: int
    width: int
    has_audio: bool


@attrs.frozen
class SkippedFile:
    """One input file that was not imported, and why."""

    source: str
    reason: str


@attrs.frozen
class ImportReport:
    """What ``import_videos`` did: the dataset folder, the videos written and the files skipped."""

    out: Path
    imported: tuple[ImportedVideo, ...]
    skipped: tuple[SkippedFile, ...]

    @property
    def total_frames(self) -> int:
        return sum(video.num_frames for video in self.imported)

    @property
    def classes(self) -> dict[str | None, int]:
        """Videos per class (None: files directly in the source folder), by class name."""
        counts = Counter(video.class_name for video in self.imported)
        return dict(sorted(counts.items(), key=lambda item: (item[0] is not None, item[0] or "")))

    @property
    def splits(self) -> dict[str, int]:
        counts = Counter(video.split for video in self.imported)
        return {split: counts.get(split, 0) for split in SPLITS}


@attrs.frozen
class _Options:
    """The per-video settings of one import."""

    size: int | None
    fps: Fraction | None
    frame_format: str


# ------------------------------------------------------------------------------------ the import


def import_videos(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    size: int | None = None,
    fps: float | None = None,
    frame_format: str = "mp4",
    val_fraction: float = 0.0,
    test_fraction: float = 0.0,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> ImportReport:
    """Turn the video files under ``src`` into a ccvs dataset at ``out``; see the module docstring.

    size: resize so that the short side is ``size`` pixels (even, aspect ratio kept, both sides
        rounded to even numbers); None keeps the source size.
    fps: resample to this frame rate by taking, for each new frame time, the source frame shown at
        that time; None keeps the source rate.
    val_fraction, test_fraction, seed: the split. The video ids are sorted and shuffled with
        ``numpy.random.default_rng(seed)``; the first ``round(n * val_fraction)`` are "val", the
        next ``round(n * test_fraction)`` "test", the rest "train". The same files and seed give
        the same split.
    overwrite: replace an existing non-empty ``out`` (only once the new dataset is complete);
        without it such a folder is refused and nothing is written.
    progress: show a progress bar. Warnings about skipped files are printed either way.
    """
    src, out = Path(src), Path(out)
    options = _check_options(size, fps, frame_format, val_fraction, test_fraction)
    _check_folders(src, out, overwrite)
    sources = find_videos(src, exclude=out)
    if not sources:
        raise InputError(src, f"holds no video files ({' '.join(VIDEO_EXTENSIONS)})")
    video_ids = make_video_ids(sources)
    splits = assign_splits(video_ids, val_fraction, test_fraction, seed)
    imported, skipped = [], []
    with atomic_path(out, directory=True) as tmp, progress_bar(disable=not progress) as bar:
        task = bar.add_task("importing", total=len(sources), status="")
        for rel, video_id in zip(sources, video_ids, strict=True):
            bar.update(task, status=escape(rel.as_posix()))
            item = _SourceItem(src / rel, rel, video_id, _class_name(rel), splits[video_id])
            try:
                imported.append(_import_video(item, tmp / video_id, options))
            except InputError as err:
                skipped.append(SkippedFile(rel.as_posix(), err.problem))
                console.print(f"[yellow]warning:[/] skipped {escape(rel.as_posix())}: {escape(err.problem)}")
            bar.advance(task)
        bar.update(task, status="")
        if not imported:
            raise InputError(src, f"none of its {len(sources)} video files could be imported")
    return ImportReport(out=out, imported=tuple(imported), skipped=tuple(skipped))


def _check_options(size, fps, frame_format, val_fraction, test_fraction) -> _Options:
    if size is not None and (int(size) != size or size < 2 or size % 2):
        raise InputError("--size", f"must be an even number of pixels >= 2, got {size}")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InputError("--fps", f"must be a number > 0, got {fps}")
    if frame_format not in FRAME_FORMATS:
        raise InputError("--format", f"must be one of {', '.join(FRAME_FORMATS)}, got {frame_format!r}")
    for flag, fraction in (("--val-fraction", val_fraction), ("--test-fraction", test_fraction)):
        if not 0 <= fraction <= 1:
            raise InputError(flag, f"must be in [0, 1], got {fraction}")
    if val_fraction + test_fraction > 1:
        raise InputError("--val-fraction", f"plus --test-fraction is {val_fraction + test_fraction}, over 1")
    rate = Fraction(fps).limit_denominator(1001) if fps is not None else None
    return _Options(size=int(size) if size is not None else None, fps=rate, frame_format=frame_format)


def _check_folders(src: Path, out: Path, overwrite: bool) -> None:
    """The source must be a folder; the output must be new, empty or (with overwrite) replaceable."""
    if not src.is_dir():
        raise InputError(src, "not found" if not src.exists() else "is not a folder")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    src_abs, out_abs = src.resolve(), out.resolve()
    if src_abs == out_abs or out_abs in src_abs.parents:
        raise InputError(out, f"holds the source folder {src}; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(out, "exists and is not empty", hint="pass --overwrite to replace it")


# ------------------------------------------------------------------------ files, ids and splits


def find_videos(src: Path, exclude: Path | None = None) -> list[PurePosixPath]:
    """Video files under ``src`` by extension (any case), relative to it, sorted.

    Hidden files and folders (name starting with '.', such as macOS's ``._clip.mp4``), what is not a
    regular file (a FIFO, a socket) and the ``exclude`` folder (the output, when it lies inside ``src``) are skipped.
    """
    excluded = exclude.resolve() if exclude is not None else None
    found = []
    for folder, subfolders, files in os.walk(src):
        here = Path(folder)
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and (here / name).resolve() != excluded
        )
        for name in files:
            regular = (here / name).is_file()  # a FIFO named clip.mp4 would block its reader for ever
            if not name.startswith(".") and Path(name).suffix.lower() in VIDEO_EXTENSIONS and regular:
                found.append(PurePosixPath((here / name).relative_to(src).as_posix()))
    return sorted(found)


def make_video_ids(sources: Iterable[PurePosixPath]) -> list[str]:
    """Folder-safe, unique ids from relative paths: ``walk/clip 01.mp4`` -> ``walk__clip_01``.

    Separators become ``__``, characters other than letters, digits, '.', '_' and '-' become '_',
    a leading '.' becomes '_' (dot folders are ignored by the dataset format), and a repeated id
    (also one differing only in case) gets ``_2``, ``_3``, ... in the given order.
    """
    ids, taken = [], set()
    for rel in sources:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", "__".join(rel.with_suffix("").parts))
        base = re.sub(r"^\.", "_", base)[:150] or "video"
        video_id, n = base, 2
        while video_id.lower() in taken:
            video_id, n = f"{base}_{n}", n + 1
        taken.add(video_id.lower())
        ids.append(video_id)
    return ids


def assign_splits(
    video_ids: list[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """A deterministic split: sort, shuffle with ``default_rng(seed)``, cut val, then test, then train."""
    order = sorted(video_ids)
    shuffled = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    n_val = math.floor(len(order) * val_fraction + 0.5)
    n_test = min(math.floor(len(order) * test_fraction + 0.5), len(order) - n_val)
    splits = dict.fromkeys(shuffled, "train")
    splits.update(dict.fromkeys(shuffled[:n_val], "val"))
    splits.update(dict.fromkeys(shuffled[n_val : n_val + n_test], "test"))
    return splits


def _class_name(rel: PurePosixPath) -> str | None:
    """The first-level sub-folder a file lies in (UCF-101 / Kinetics layout), None at the top."""
    return rel.parts[0] if len(rel.parts) > 1 else None


# ---------------------------------------------------------------------------------- one video


@attrs.frozen
class _SourceItem:
    path: Path
    rel: PurePosixPath
    video_id: str
    class_name: str | None
    split: str


@attrs.frozen
class _Probe:
    """What the container says before decoding: frame rate, sound, stream start times."""

    fps: Fraction
    has_audio: bool
    audio_offset_s: float  # how much later the video starts than the sound


def _import_video(item: _SourceItem, folder: Path, options: _Options) -> ImportedVideo:
    """Write one dataset folder for ``item`` atomically; an InputError when the file is unusable."""
    probe = _probe(item.path)
    out_fps = options.fps or probe.fps
    # not synced one by one: the dataset's own atomic folder syncs them all at once
    with (
        atomic_path(folder, directory=True, durable=False) as tmp,
        contextlib.closing(iter_frames(item.path)) as frames,
    ):
        frames = _converted(frames, probe.fps, options)
        num_frames, (height, width) = _write_frames(frames, tmp, options.frame_format, out_fps)
        if probe.has_audio:
            _write_audio(item.path, tmp / "audio.wav", probe.audio_offset_s, num_frames / out_fps)
        _write_meta(tmp / "meta.json", item, out_fps, num_frames)
    return ImportedVideo(
        video_id=item.video_id,
        source=item.rel.as_posix(),
        class_name=item.class_name,
        split=item.split,
        num_frames=num_frames,
        fps=float(out_fps),
        height=height,
        width=width,
        has_audio=probe.has_audio,
    )


def _converted(frames: Iterable[np.ndarray], src_fps: Fraction, options: _Options) -> Iterable[np.ndarray]:
    """The source frames at the requested rate and size (lazily: one frame at a time)."""
    if options.fps is not None:
        frames = resample_frames(frames, src_fps, options.fps)
    if options.size is not None:
        frames = (resize_short_side(frame, options.size) for frame in frames)
    return frames


def _write_meta(path: Path, item: _SourceItem, fps: Fraction, num_frames: int) -> None:
    meta = {
        "fps": float(fps),
        "split": item.split,
        "class": item.class_name,
        "num_frames": num_frames,
        "source": item.rel.as_posix(),
    }
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _probe(path: Path) -> _Probe:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(path, "has no video stream")
            video = container.streams.video[0]
            rate = video.average_rate or video.guessed_rate or video.base_rate
            if not rate:
                raise InputError(path, "has no frame rate")
            audio = container.streams.audio[0] if container.streams.audio else None
            offset = _start_offset_s(container, video, audio) if audio is not None else 0.0
            return _Probe(fps=Fraction(rate), has_audio=audio is not None, audio_offset_s=offset)
    except (av.FFmpegError, OSError, ValueError) as err:
        raise InputError(path, f"cannot be opened as a video ({av_error_text(err)})") from err


def _start_offset_s(container, video, audio) -> float:
    """How much later the first decoded picture is shown than the first decoded sound is heard.

    Decoded frame times already account for edit lists and AAC priming, which the streams' start
    times do not always.
    """
    first: dict[int, float] = {}
    for packet in container.demux(video, audio):
        if packet.stream.index in first:
            continue
        for frame in packet.decode():
            first.setdefault(packet.stream.index, frame.time or 0.0)
        if len(first) == 2:
            break
    return first.get(video.index, 0.0) - first.get(audio.index, 0.0)


def resample_frames(frames: Iterable[np.ndarray], src_fps: Fraction, dst_fps: Fraction) -> Iterator:
    """Frames at ``dst_fps``: new frame ``k`` (time ``k / dst_fps``) is the source frame shown then.

    Source frame ``i`` covers ``[i / src_fps, (i + 1) / src_fps)``, so new frame ``k`` is source
    frame ``floor(k * src_fps / dst_fps)`` (exact fractions): 30 -> 10 fps keeps frames 0, 3, 6, ...,
    10 -> 30 fps shows each frame three times. ``n`` source frames give ``ceil(n * dst / src)``.
    """
    ratio = Fraction(src_fps) / Fraction(dst_fps)
    k = 0
    for i, frame in enumerate(frames):
        while math.floor(k * ratio) == i:
            yield frame
            k += 1


def resized_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) with the short side ``size``, the long one scaled and rounded to even."""
    short, long = min(height, width), max(height, width)
    new_long = max(2, 2 * round(long * size / short / 2))
    return (size, new_long) if height <= width else (new_long, size)


def resize_short_side(frame: np.ndarray, size: int) -> np.ndarray:
    """Resize ``[H, W, 3]`` so that the short side is ``size`` (Lanczos, antialiased when shrinking)."""
    height, width = resized_shape(frame.shape[0], frame.shape[1], size)
    if (height, width) == frame.shape[:2]:
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS))


def _write_frames(frames: Iterable, folder: Path, frame_format: str, fps: Fraction) -> tuple[int, tuple]:
    """Write ``video.mp4`` or ``frames/`` into ``folder``: (frame count, (height, width))."""
    if frame_format == "mp4":
        writer = video_writer(folder / "video.mp4", fps)
    else:
        writer = frame_folder_writer(folder / "frames", durable=False)
    with writer as sink:
        for frame in frames:
            sink.write(frame)
    return sink.num_frames, tuple(int(n) for n in sink.shape[:2])


def _write_audio(path: Path, wav: Path, offset_s: float, duration_s: Fraction | float) -> None:
    """The sound track as ``audio.wav``: sample 0 at the time of frame 0, ``duration_s`` long."""
    samples, rate = read_audio(path)  # [C, S] float32 in [-1, 1]
    shift = round(offset_s * rate)
    if shift > 0:  # the sound starts earlier than the picture: drop the lead
        samples = samples[:, shift:]
    elif shift < 0:  # the sound starts later: silence until it does
        samples = np.pad(samples, ((0, 0), (-shift, 0)))
    length = round(float(duration_s) * rate)
    samples = samples[:, :length]
    samples = np.pad(samples, ((0, 0), (0, length - samples.shape[1])))  # [C, length]
    write_wav(wav, samples, rate)
