"""Fixed-length clips of a dataset at a given resolution, with their condition data (docs/dataset-format.md)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import torch
from PIL import Image

from ccvs_core.data.audio import read_audio
from ccvs_core.data.format import list_video_folders, load_layout, load_state, read_json
from ccvs_core.data.video import VideoRecord, index_video, read_record_frames
from ccvs_core.errors import InputError

log = logging.getLogger(__name__)
Crop = Literal["random", "first", "all"]


@attrs.frozen
class FrameGeometry:
    """How stored frames (``source`` h, w) became clip frames (``output`` h, w): scaled by ``scale`` (y, x)
    so that they cover the output, then cropped at (``top``, ``left``) of the scaled frame."""

    source: tuple[int, int]
    output: tuple[int, int]
    scale: tuple[float, float]
    top: int
    left: int

    @classmethod
    def cover(cls, source: tuple[int, int], output: tuple[int, int]) -> FrameGeometry:
        factor = max(output[0] / source[0], output[1] / source[1])
        scaled = (max(output[0], round(source[0] * factor)), max(output[1], round(source[1] * factor)))
        scale = (scaled[0] / source[0], scaled[1] / source[1])
        return cls(source, output, scale, (scaled[0] - output[0]) // 2, (scaled[1] - output[1]) // 2)

    @property
    def scaled(self) -> tuple[int, int]:
        return round(self.source[0] * self.scale[0]), round(self.source[1] * self.scale[1])

    def map_points(self, xy: np.ndarray) -> np.ndarray:
        """Points ``[..., 2]`` (x, y) in source pixels -> output pixels."""
        xy = np.asarray(xy, dtype=np.float32)
        return np.stack(
            [xy[..., 0] * self.scale[1] - self.left, xy[..., 1] * self.scale[0] - self.top], axis=-1
        )

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """One uint8 ``[h, w, 3]`` frame -> ``[H, W, 3]`` (antialiased bicubic resize, then crop)."""
        if self.source == self.output:
            return frame
        image = Image.fromarray(frame).resize(self.scaled[::-1], Image.Resampling.BICUBIC)
        h, w = self.output
        return np.asarray(image)[self.top : self.top + h, self.left : self.left + w]


@attrs.frozen
class Clip:
    """One dataset item. Frames are uint8 ``[T, H, W, 3]``; see docs/dataset-format.md for each field."""

    video_id: str
    frame_indices: list[int]
    frames: torch.Tensor
    fps: float
    label: str | None
    geometry: FrameGeometry
    audio: torch.Tensor | None = None  # float32 [channels, samples]
    sample_rate: int | None = None
    state: torch.Tensor | None = None  # float32 [T, 2], output pixels
    layout: dict[str, Any] | None = None  # COCO restricted to the clip's frames, source pixels
    truth: dict[str, Any] | None = None

    def head(self, count: int) -> Clip:
        """The same clip cut to its first ``count`` frames (with their sound, states and layouts)."""
        if not 1 <= count <= len(self.frame_indices):
            raise InputError("clip head", f"needs 1 to {len(self.frame_indices)} frames, got {count}")
        audio = self.audio
        if audio is not None and self.sample_rate is not None:
            audio = audio[:, : round(count / self.fps * self.sample_rate)]
        layout = self.layout
        if layout is not None:
            images = [im for im in layout["images"] if im["clip_index"] < count]
            ids = {im["id"] for im in images}
            annotations = [a for a in layout["annotations"] if a["image_id"] in ids]
            layout = {**layout, "images": images, "annotations": annotations}
        return attrs.evolve(
            self,
            frame_indices=self.frame_indices[:count],
            frames=self.frames[:count],
            audio=audio,
            state=None if self.state is None else self.state[:count],
            layout=layout,
        )


def _parse_size(size: int | Sequence[int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair):
        raise InputError("clip size", f"must be a positive integer or (height, width), got {size!r}")
    return pair  # type: ignore[return-value]


class ClipDataset(torch.utils.data.Dataset):
    """Clips of ``num_frames`` frames (every ``stride``-th stored frame) resized to ``size``.

    crop: "random" — a random start per item, a pure function of (seed, epoch, index), so workers and
    distributed ranks agree and the same seed gives the same clips; "first" — the first frames;
    "all" — every non-overlapping clip of every video (evaluation).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        num_frames: int,
        size: int | Sequence[int],
        *,
        split: str | None = "train",
        stride: int = 1,
        crop: Crop = "random",
        seed: int = 0,
        with_truth: bool = False,
    ):
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise InputError("clip num_frames", f"must be an integer >= 1, got {num_frames!r}")
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise InputError("clip stride", f"must be an integer >= 1, got {stride!r}")
        if crop not in ("random", "first", "all"):
            raise InputError("clip crop", f"must be random, first or all, got {crop!r}")
        if split not in (None, "train", "val", "test"):
            raise InputError("split", f"must be train, val, test or None (all), got {split!r}")
        self.root = Path(root)
        self.num_frames, self.size, self.stride, self.crop, self.seed = (
            num_frames,
            _parse_size(size),
            stride,
            crop,
            seed,
        )
        self.with_truth = with_truth
        self.epoch = 0
        self.span = (num_frames - 1) * stride + 1  # stored frames one clip covers
        records = [index_video(folder) for folder in list_video_folders(root)]
        records = [r for r in records if split is None or r.meta.split == split]
        self.videos = [r for r in records if r.num_frames >= self.span]
        short = [r.id for r in records if r.num_frames < self.span]
        if short:
            names = ", ".join(short[:5]) + (f" and {len(short) - 5} more" if len(short) > 5 else "")
            log.warning(
                "%s: %d videos shorter than %d frames skipped: %s", root, len(short), self.span, names
            )
        if not self.videos:
            which = f"'{split}' " if split else ""
            raise InputError(root, f"no {which}video has the {self.span} frames a clip needs")
        if crop == "all":
            step = num_frames * stride
            self._items = [
                (v, start)
                for v, r in enumerate(self.videos)
                for start in range(0, r.num_frames - self.span + 1, step)
            ]
        else:
            self._items = [(v, None) for v in range(len(self.videos))]

    def set_epoch(self, epoch: int) -> None:
        """Draw new random crops (call once per epoch, as with DistributedSampler.set_epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self._items)

    def start_frame(self, index: int, epoch: int | None = None) -> int:
        """First stored frame of item ``index`` (at ``epoch``, default the current one)."""
        v, start = self._items[index]
        if start is not None:
            return start
        if self.crop == "first":
            return 0
        last = self.videos[v].num_frames - self.span
        epoch = self.epoch if epoch is None else epoch
        return int(np.random.default_rng([self.seed, epoch, index]).integers(0, last + 1))

    def __getitem__(self, index: int) -> Clip:
        return self.clip(index)

    def clip(self, index: int, epoch: int | None = None) -> Clip:
        """Item ``index`` as drawn at ``epoch``: a pure function of both (and the seed), so a trainer can
        ask for any draw in any worker process, and resume exactly."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        record = self.videos[self._items[index][0]]
        start = self.start_frame(index, epoch)
        return self._clip(record, list(range(start, start + self.span, self.stride)), self.stride)

    def video_clip(self, v: int) -> Clip:
        """The whole video ``self.videos[v]`` as one clip (every stored frame, at the dataset's size)."""
        record = self.videos[v]
        return self._clip(record, list(range(record.num_frames)), 1)

    def _clip(self, record: VideoRecord, indices: list[int], stride: int) -> Clip:
        start = indices[0]
        geometry = FrameGeometry.cover(record.size, self.size)
        frames = np.stack([geometry.apply(f) for f in read_record_frames(record, indices)])
        clip_fps = record.meta.fps / stride
        audio, rate = self._audio(record, start, len(indices) * stride) if record.audio_path else (None, None)
        state = None
        if record.state_path:
            positions = load_state(record.state_path, record.meta.fps, record.num_frames)[indices]
            state = torch.from_numpy(geometry.map_points(positions))
        layout = self._layout(record, indices) if record.layout_path else None
        truth = read_json(record.truth_path) if self.with_truth and record.truth_path else None
        return Clip(
            record.id, indices, torch.from_numpy(np.ascontiguousarray(frames)), clip_fps, record.meta.label,
            geometry, audio, rate, state, layout, truth,
        )  # fmt: skip

    def _audio(self, record: VideoRecord, start: int, span: int) -> tuple[torch.Tensor, int]:
        """The sound of ``span`` stored frames from frame ``start`` (last frame time + one clip frame)."""
        samples, rate = read_audio(record.audio_path)
        begin = round(start / record.meta.fps * rate)
        end = round((start + span) / record.meta.fps * rate)
        segment = samples[:, begin:end]
        missing = (end - begin) - segment.shape[1]
        if missing > rate / record.meta.fps:  # more than a frame short: the file does not cover the video
            raise InputError(record.audio_path, f"is {missing / rate:.3f} s too short for frames {start}..")
        if missing > 0:
            segment = np.pad(segment, ((0, 0), (0, missing)))
        return torch.from_numpy(np.ascontiguousarray(segment)), rate

    def _layout(self, record: VideoRecord, indices: list[int]) -> dict[str, Any]:
        layout = load_layout(record.layout_path, record.num_frames, record.size)
        wanted = {index: position for position, index in enumerate(indices)}
        images = [
            dict(im, clip_index=wanted[im["frame_index"]])
            for im in layout["images"]
            if im["frame_index"] in wanted
        ]
        ids = {im["id"] for im in images}
        annotations = [a for a in layout["annotations"] if a["image_id"] in ids]
        return {"images": images, "annotations": annotations, "categories": layout["categories"]}


@attrs.frozen
class ClipBatch:
    """Clips collated for a DataLoader: ``frames`` stacked ``[B, T, H, W, 3]``, the rest as lists."""

    clips: list[Clip]
    frames: torch.Tensor
    state: torch.Tensor | None  # [B, T, 2] when every clip has a state


def collate_clips(clips: list[Clip]) -> ClipBatch:
    states = [c.state for c in clips]
    state = torch.stack(states) if all(s is not None for s in states) else None
    return ClipBatch(clips, torch.stack([c.frames for c in clips]), state)


def first_clips(root: str | os.PathLike, num_frames: int, size: int | Sequence[int]) -> ClipDataset:
    """The first ``num_frames`` frames of each video of the validation split, else of the training
    split, else of any (the fixed clips that training pictures show)."""
    for split in ("val", "train", None):
        try:
            return ClipDataset(root, num_frames=num_frames, size=size, split=split, crop="first")
        except InputError:
            if split is None:
                raise
    raise AssertionError("unreachable")
