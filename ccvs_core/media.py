"""Read and write frames: image folders, video files, GIFs and single images.

Every frame array is numpy uint8 RGB: a clip is ``[T, H, W, 3]``, one image ``[H, W, 3]``. Torch
tensors are accepted wherever frames go in (they are converted with ``.numpy()``); numpy comes out.
Video files are decoded and encoded with PyAV (FFmpeg), images with Pillow. Every writer is atomic:
the file or folder appears complete under its final name, or not at all. Every error is an
``InputError`` that names the file.

Sources ``read_frames`` understands:

- a folder of PNG/JPEG images, in natural name order (``2.png`` before ``10.png``);
- a video file (.mp4 .webm .avi .mov .mkv .m4v): its first video stream, turned upright when the
  container says it is rotated (phone videos);
- a .gif (every frame);
- a single PNG/JPEG image (one frame).

Written videos are H.264 MP4 (crf 17, tagged BT.709 so players show the colours that were written)
or looping GIFs. Sample grids and flow/mask pictures live in ``ccvs_core.visualize``.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import attrs
import av
import numpy as np
from PIL import Image

from ccvs_core.atomic import atomic_path
from ccvs_core.errors import InputError
from ccvs_core.visualize import as_numpy, flow_to_rgb, labelled_grid, make_grid, make_video_grid, mask_to_rgb

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "av_error_text",
    "flow_to_rgb",
    "frame_folder_writer",
    "iter_frames",
    "labelled_grid",
    "make_grid",
    "make_video_grid",
    "mask_to_rgb",
    "read_frames",
    "read_image",
    "read_video_frames",
    "video_info",
    "video_writer",
    "write_frames_dir",
    "write_image",
    "write_video",
]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".m4v")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MP4_FAMILY = (".mp4", ".mov", ".m4v")  # ISO media files: the sample table gives an exact frame count
# a damaged file reaches PIL's parsers: besides OSError they raise IndexError, EOFError and struct.error
_PIL_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    IndexError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)
_AV_ERRORS = (av.FFmpegError, OSError, ValueError, IndexError)


@attrs.frozen
class VideoInfo:
    """What a frame source holds, without decoding all of it where the container says it exactly."""

    num_frames: int
    fps: float | None  # None for image folders and single images, which have no frame rate
    height: int
    width: int
    has_audio: bool


# --------------------------------------------------------------------------------------- reading


def read_frames(path: str | os.PathLike) -> np.ndarray:
    """All frames of a folder of images, a video file, a GIF or one image: uint8 ``[T, H, W, 3]``."""
    path = Path(path)
    return _stack(list(iter_frames(path)), path)


def iter_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield the frames of any source ``read_frames`` reads one at a time, each ``[H, W, 3]``.

    Memory stays at one frame, so long videos can be streamed (``ccvs data import`` does this).
    """
    path = Path(path)
    kind = _source_kind(path)
    if kind == "folder":
        yield from (read_image(file) for file in _image_files(path))
    elif kind == "image":
        yield read_image(path)
    elif kind == "gif":
        yield from _iter_gif(path)
    else:
        yield from _iter_video(path)


def read_video_frames(path: str | os.PathLike, indices: Sequence[int]) -> np.ndarray:
    """The frames at ``indices`` (any order, repeats allowed): uint8 ``[len(indices), H, W, 3]``.

    A video is decoded only up to the largest index; a folder reads only the files asked for.
    """
    path = Path(path)
    indices = [int(i) for i in indices]
    if not indices:
        raise InputError(path, "no frame indices asked for")
    if min(indices) < 0:
        raise InputError(path, f"frame index {min(indices)} is negative")
    last, kind = max(indices), _source_kind(path)
    if kind == "folder":
        files = _image_files(path)
        _check_index(path, last, len(files))
        return _stack([read_image(files[i]) for i in indices], path)
    if kind == "video":  # only the frames kept are converted to RGB
        with _open_video(path) as (container, stream):
            wanted, count = _pick(_decoded(path, container, stream), set(indices), last, _to_rgb)
    else:
        with contextlib.closing(iter_frames(path)) as frames:
            wanted, count = _pick(frames, set(indices), last, lambda frame: frame)
    _check_index(path, last, count)
    return _stack([wanted[i] for i in indices], path)


def _pick(frames: Iterator, asked: set[int], last: int, convert) -> tuple[dict[int, np.ndarray], int]:
    """Walk ``frames`` up to index ``last``: ({index: converted frame} for ``asked``, frames seen)."""
    wanted, count = {}, 0
    for t, frame in enumerate(frames):
        count = t + 1
        if t in asked:
            wanted[t] = convert(frame)
        if t == last:
            break
    return wanted, count


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate, size and whether there is a sound track.

    ``num_frames`` is exact: MP4/MOV/M4V files give it from their sample table; other containers
    (WebM, MKV, AVI), whose header count is missing or unreliable, are decoded and counted.
    """
    path = Path(path)
    kind = _source_kind(path)
    if kind in ("folder", "image"):
        files = _image_files(path) if kind == "folder" else [path]
        height, width = _image_size(files[0])
        return VideoInfo(num_frames=len(files), fps=None, height=height, width=width, has_audio=False)
    if kind == "gif":
        return _gif_info(path)
    return _video_file_info(path)


def check_png_chunks(path: str | os.PathLike) -> None:
    """Refuse a PNG with a chunk that claims more bytes than the file holds, before PIL reads it: PIL
    allocates what a chunk claims (a 100-byte file can ask for 2 GiB). Other files pass unread."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as file:
        if file.read(8) != _PNG_SIGNATURE:
            return
        position = 8
        while position + 8 <= size:
            length, kind = struct.unpack(">I4s", file.read(8))
            end = position + 12 + length  # length, type, data, CRC
            if end > size:
                name = kind.decode("latin-1")
                raise InputError(
                    path, f"is a damaged PNG: chunk {name!r} claims {length} bytes past the end of the file"
                )
            if kind == b"IEND":
                return
            file.seek(end)
            position = end


def read_image(path: str | os.PathLike) -> np.ndarray:
    """One image file as uint8 RGB ``[H, W, 3]`` (greyscale, palette and RGBA are converted)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image file not found")
    check_png_chunks(path)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except _PIL_ERRORS as err:
        raise InputError(path, f"cannot be read as an image ({err})") from err


def av_error_text(err: Exception) -> str:
    """An FFmpeg error without its errno and file name ("Invalid data found when processing input")."""
    return getattr(err, "strerror", None) or str(err)


def _source_kind(path: Path) -> str:
    """'folder', 'image', 'gif' or 'video'; an InputError for anything missing or unknown."""
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise InputError(path, "not found")
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix == ".gif":
        return "gif"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    known = " ".join((*VIDEO_EXTENSIONS, ".gif", *IMAGE_EXTENSIONS))
    raise InputError(path, f"unknown file type '{path.suffix}' (expected a folder of images or {known})")


def _natural_key(name: str) -> list:
    """Sort key comparing digit runs as numbers: frame2.png < frame10.png."""
    # ASCII digits only: "²" passes str.isdigit() but not int()
    return [
        int(part) if part.isascii() and part.isdigit() else part.lower()
        for part in re.split(r"([0-9]+)", name)
    ]


def _image_files(folder: Path) -> list[Path]:
    files = [
        file
        for file in folder.iterdir()
        if file.suffix.lower() in IMAGE_EXTENSIONS and not file.name.startswith(".") and file.is_file()
    ]
    if not files:
        raise InputError(folder, "folder holds no PNG or JPEG images")
    return sorted(files, key=lambda file: _natural_key(file.name))


def _image_size(path: Path) -> tuple[int, int]:
    check_png_chunks(path)
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except _PIL_ERRORS as err:
        raise InputError(path, f"cannot be read as an image ({err})") from err


def _stack(frames: list[np.ndarray], path: Path) -> np.ndarray:
    """[H, W, 3] frames -> [T, H, W, 3], naming the first frame whose size differs."""
    if not frames:
        raise InputError(path, "holds no frames")
    for t, frame in enumerate(frames):
        if frame.shape != frames[0].shape:
            size, first = frame.shape[1::-1], frames[0].shape[1::-1]
            raise InputError(path, f"frame {t} is {size[0]}x{size[1]}, frame 0 is {first[0]}x{first[1]}")
    return np.stack(frames)


def _check_index(path: Path, last: int, count: int) -> None:
    if last >= count:
        raise InputError(path, f"frame index {last} is past the end (it has {count} frames)")


def _iter_gif(path: Path) -> Iterator[np.ndarray]:
    try:
        with Image.open(path) as image:
            for t in range(getattr(image, "n_frames", 1)):
                image.seek(t)
                yield np.asarray(image.convert("RGB"))
    except _PIL_ERRORS as err:
        raise InputError(path, f"cannot be read as a GIF ({err})") from err


def _gif_info(path: Path) -> VideoInfo:
    try:
        with Image.open(path) as image:
            durations_ms = []
            for t in range(getattr(image, "n_frames", 1)):
                image.seek(t)
                durations_ms.append(image.info.get("duration", 0) or 0)
            size = image.size
    except _PIL_ERRORS as err:
        raise InputError(path, f"cannot be read as a GIF ({err})") from err
    total_s = sum(durations_ms) / 1000.0
    fps = len(durations_ms) / total_s if total_s > 0 else None
    return VideoInfo(num_frames=len(durations_ms), fps=fps, height=size[1], width=size[0], has_audio=False)


@contextlib.contextmanager
def _open_video(path: Path) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open a video file and its first video stream (multi-threaded decoding)."""
    try:
        container = av.open(str(path))
    except _AV_ERRORS as err:
        raise InputError(path, f"cannot be opened as a video ({av_error_text(err)})") from err
    with container:
        if not container.streams.video:
            raise InputError(path, "has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield container, stream


def _decoded(path: Path, container, stream) -> Iterator[av.VideoFrame]:
    """The decoded frames of ``stream``, with FFmpeg errors turned into InputErrors naming ``path``."""
    try:
        yield from container.decode(stream)
    except _AV_ERRORS as err:
        raise InputError(path, f"cannot be decoded ({av_error_text(err)})") from err


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as upright uint8 RGB ``[H, W, 3]``, honouring its colour range and rotation."""
    # Full-range ("JPEG") YUV tagged on the frame must be read as such, or blacks and whites clip.
    options = {"src_color_range": frame.color_range} if frame.color_range else {}
    image = frame.to_ndarray(format="rgb24", **options)
    turns = _quarter_turns(frame)
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that show the frame upright (the container's display matrix)."""
    return round((getattr(frame, "rotation", 0) or 0) / 90) % 4


def _iter_video(path: Path) -> Iterator[np.ndarray]:
    with _open_video(path) as (container, stream):
        for frame in _decoded(path, container, stream):
            yield _to_rgb(frame)


def _stream_fps(stream) -> Fraction | None:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate else None


def _video_file_info(path: Path) -> VideoInfo:
    with _open_video(path) as (container, stream):
        frames = _decoded(path, container, stream)
        first = next(frames, None)
        if first is None:
            raise InputError(path, "holds no decodable video frames")
        height, width = first.height, first.width
        if _quarter_turns(first) % 2:
            height, width = width, height
        count = stream.frames
        if not (path.suffix.lower() in _MP4_FAMILY and count > 0):
            count = 1 + sum(1 for _ in frames)
        fps = _stream_fps(stream)
        return VideoInfo(
            num_frames=int(count),
            fps=float(fps) if fps else None,
            height=int(height),
            width=int(width),
            has_audio=bool(container.streams.audio),
        )


# --------------------------------------------------------------------------------------- writing


def write_video(frames, path: str | os.PathLike, fps: float) -> None:
    """Write uint8 ``[T, H, W, 3]`` frames as ``.mp4`` (H.264) or ``.gif`` (looping), atomically."""
    frames = as_numpy(frames)
    if frames.ndim != 4:
        raise InputError(path, f"frames must be [T, H, W, 3], got shape {tuple(frames.shape)}")
    with video_writer(path, fps) as writer:
        for frame in frames:
            writer.write(frame)


def write_frames_dir(frames, folder: str | os.PathLike) -> None:
    """Write uint8 ``[T, H, W, 3]`` frames as ``folder/000000.png, 000001.png, ...``, atomically."""
    frames = as_numpy(frames)
    if frames.ndim != 4:
        raise InputError(folder, f"frames must be [T, H, W, 3], got shape {tuple(frames.shape)}")
    with frame_folder_writer(folder) as writer:
        for frame in frames:
            writer.write(frame)


def write_image(path: str | os.PathLike, image) -> None:
    """Write a uint8 ``[H, W, 3]`` (or greyscale ``[H, W]``) image as PNG (or JPEG by extension)."""
    path = Path(path)
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
    if path.suffix.lower() not in formats:
        raise InputError(path, f"unknown image extension '{path.suffix}' (expected .png, .jpg or .jpeg)")
    image = _check_image(as_numpy(image), path, allow_grey=True)
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format=formats[path.suffix.lower()], **_quality(path))


def _quality(path: Path) -> dict:
    return {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}


def _check_image(image: np.ndarray, path: Path, *, allow_grey: bool = False) -> np.ndarray:
    """Check one frame is uint8 ``[H, W, 3]`` (or ``[H, W]`` when allowed), naming the output."""
    grey_ok = allow_grey and image.ndim == 2
    if not grey_ok and (image.ndim != 3 or image.shape[-1] != 3):
        raise InputError(path, f"a frame must be [H, W, 3] RGB, got shape {tuple(image.shape)}")
    if image.dtype != np.uint8:
        raise InputError(path, f"frames must be uint8 in [0, 255], got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(path, f"a frame must not be empty, got shape {tuple(image.shape)}")
    return np.ascontiguousarray(image)


def _check_fps(fps, path: Path) -> Fraction:
    """fps as an exact fraction (29.97 -> 2997/100, 30000/1001 stays itself)."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise InputError(path, f"fps must be a number > 0, got {fps!r}")
    return Fraction(fps if isinstance(fps, Fraction) else value).limit_denominator(1001)


class _FrameSink:
    """Shared bookkeeping of the writers: frame checks, one size for all frames, the count."""

    def __init__(self, path: Path):
        self.path = path  # the final name, for error messages
        self.num_frames = 0
        self.shape: tuple[int, ...] | None = None

    def write(self, frame) -> None:
        """Append one uint8 ``[H, W, 3]`` frame."""
        frame = _check_image(as_numpy(frame), self.path)
        if self.shape is None:
            self.shape = frame.shape
            self._start(frame.shape[0], frame.shape[1])
        elif frame.shape != self.shape:
            raise InputError(
                self.path,
                f"frame {self.num_frames} is {frame.shape[1]}x{frame.shape[0]}, "
                f"the first was {self.shape[1]}x{self.shape[0]}",
            )
        self._put(frame)
        self.num_frames += 1

    def _start(self, height: int, width: int) -> None:
        pass

    def _put(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        if self.num_frames == 0:
            raise InputError(self.path, "no frames to write")


class _PngFolderSink(_FrameSink):
    def __init__(self, path: Path, folder: Path):
        super().__init__(path)
        self.folder = folder

    def _put(self, frame: np.ndarray) -> None:
        Image.fromarray(frame).save(self.folder / f"{self.num_frames:06d}.png", format="PNG")


class _AvSink(_FrameSink):
    """Frames into a PyAV output container with one video stream, opened at the first frame."""

    def __init__(self, path: Path, tmp: Path, fps: Fraction, format_name: str):
        super().__init__(path)
        self.fps = fps
        options = {"movflags": "+faststart"} if format_name == "mp4" else {}
        try:
            self.container = av.open(str(tmp), "w", format=format_name, options=options)
        except _AV_ERRORS as err:
            raise InputError(path, f"cannot be written ({av_error_text(err)})") from err
        self.stream = None

    def _put(self, frame: np.ndarray) -> None:
        video_frame = self._convert(frame)
        video_frame.pts = self.num_frames  # time base is 1 / fps: one tick per frame
        self._mux(self.stream.encode(video_frame))

    def _convert(self, frame: np.ndarray) -> av.VideoFrame:
        raise NotImplementedError

    def _mux(self, packets) -> None:
        try:
            self.container.mux(packets)
        except _AV_ERRORS as err:
            raise InputError(self.path, f"cannot be written ({av_error_text(err)})") from err

    def finish(self) -> None:
        super().finish()
        self._mux(self.stream.encode(None))  # flush the encoder's delayed frames

    def close(self) -> None:
        self.container.close()


class _Mp4Sink(_AvSink):
    """H.264 (libx264, crf 17: visually lossless for generated samples), BT.709 limited range.

    Even sizes use yuv420p, which every player decodes. 4:2:0 needs even sizes, so odd sizes use
    yuv444p (High 4:4:4 profile) instead of padding or cropping: the reader gets back the size
    that was written.
    """

    CRF = 17
    BT709 = 1  # AVCOL_SPC_BT709 == AVCOL_PRI_BT709 == AVCOL_TRC_BT709 in FFmpeg
    LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG

    def _start(self, height: int, width: int) -> None:
        self.pix_fmt = "yuv420p" if height % 2 == 0 and width % 2 == 0 else "yuv444p"
        stream = self.container.add_stream("libx264", rate=self.fps, options={"crf": str(self.CRF)})
        stream.width, stream.height, stream.pix_fmt = width, height, self.pix_fmt
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = self.BT709
        context.color_range = self.LIMITED_RANGE
        self.stream = stream

    def _convert(self, frame: np.ndarray) -> av.VideoFrame:
        rgb = av.VideoFrame.from_ndarray(frame, format="rgb24")
        yuv = rgb.reformat(format=self.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
        yuv.colorspace, yuv.color_range = self.BT709, self.LIMITED_RANGE
        return yuv


class _GifSink(_AvSink):
    """Looping GIF through FFmpeg's encoder, one 256-colour palette per frame (Pillow's median cut).

    Pillow's own GIF writer merges identical consecutive frames, which would change the frame
    count, so Pillow only quantizes. GIF delays are in 1/100 s; fractional ones alternate (30 fps:
    30, 40, 30 ms) so that the average rate is exact. Browsers slow down GIFs above 50 fps.
    """

    def _start(self, height: int, width: int) -> None:
        stream = self.container.add_stream("gif", rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "pal8"
        self.stream = stream

    def _convert(self, frame: np.ndarray) -> av.VideoFrame:
        image = Image.fromarray(frame).quantize(
            256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        rgb = np.asarray(image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)[:256]
        palette = np.zeros((256, 4), dtype=np.uint8)  # ARGB rows, as PyAV's pal8 frames want them
        palette[:, 0] = 255
        palette[: len(rgb), 1:] = rgb
        return av.VideoFrame.from_ndarray((np.asarray(image), palette), format="pal8")


@contextlib.contextmanager
def video_writer(path: str | os.PathLike, fps: float) -> Iterator[_FrameSink]:
    """Stream frames into ``path`` (.mp4 or .gif) one ``writer.write(frame)`` at a time, atomically.

    The file appears under its name when the block ends without error; ``writer.num_frames``
    counts the frames written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise InputError(path, f"unknown video extension '{path.suffix}' (expected .mp4 or .gif)")
    rate = _check_fps(fps, path)
    with atomic_path(path) as tmp:
        sink = _Mp4Sink(path, tmp, rate, "mp4") if suffix == ".mp4" else _GifSink(path, tmp, rate, "gif")
        try:
            yield sink
            sink.finish()
        finally:
            sink.close()


@contextlib.contextmanager
def frame_folder_writer(folder: str | os.PathLike, durable: bool = True) -> Iterator[_FrameSink]:
    """Stream frames into ``folder/000000.png, ...`` one ``writer.write(frame)`` at a time, atomically.

    An existing folder is replaced only once the new one is complete (``durable``: as ``atomic_path``).
    """
    folder = Path(folder)
    with atomic_path(folder, directory=True, durable=durable) as tmp:
        sink = _PngFolderSink(folder, tmp)
        yield sink
        sink.finish()
