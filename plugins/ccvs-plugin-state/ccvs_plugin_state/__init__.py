"""ccvs condition 'state': a 2D position per frame — a robot gripper, a ball, any tracked point (Sec. 4
BAIR, Table 3 "+ state").

The trajectory is resampled (linear interpolation) to the video's frame times, then x and y are each
quantized to ``bins`` bins over the frame's width and height: 2 tokens per frame (the authors'
setting: 128 bins). Training reads each video's ``state.json`` (already mapped to the training frames).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ccvs_core import Condition, Config, InputError, Slot, Timeline, at_least
from ccvs_core.data.clips import FrameGeometry

__version__ = "0.2.0"


@attrs.frozen(kw_only=True)
class StateConfig(Config):
    bins: int = attrs.field(
        default=128, validator=at_least(2)
    )  # quantization bins per coordinate (paper: 128)


@attrs.frozen(eq=False)
class Trajectory:
    """Positions ``[N, 2]`` (x, y in pixels of the pipeline's frames) sampled at ``fps``."""

    positions: np.ndarray
    fps: float
    source: str = "trajectory"

    def at(self, times: np.ndarray) -> np.ndarray:
        """Positions at ``times`` (seconds), linearly interpolated: ``[len(times), 2]``."""
        own = np.arange(len(self.positions)) / self.fps
        # a video may run up to one trajectory frame past its last sample (rounding of the frame times)
        if len(times) and times[-1] > own[-1] + 1.0 / self.fps + 1e-9:
            raise InputError(
                self.source,
                f"covers {own[-1]:.3f} s ({len(self.positions)} positions at {self.fps:g} fps), the video "
                f"needs {times[-1]:.3f} s",
            )
        return np.stack([np.interp(times, own, self.positions[:, i]) for i in (0, 1)], axis=-1)


def read_trajectory(path: str | Path, frame_size: tuple[int, int] | None = None) -> Trajectory:
    """A trajectory file ``{"fps": F, "positions": [[x, y], ...], "size": [width, height]}`` ("size",
    optional, is the image the positions refer to: they are mapped to ``frame_size`` (height, width) the
    way context frames are, scaled to cover and centre-cropped; without it they are frame pixels)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "trajectory file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"is not valid JSON ({err})") from err
    if not isinstance(data, dict) or "positions" not in data or "fps" not in data:
        raise InputError(path, 'must be an object {"fps": F, "positions": [[x, y], ...]}')
    unknown = sorted(set(data) - {"fps", "positions", "size"})
    if unknown:
        raise InputError(path, f"unknown keys {unknown} (known: fps, positions, size)")
    fps = data["fps"]
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0 or not math.isfinite(fps):
        raise InputError(path, f"'fps' must be a positive number, got {fps!r}")
    positions = data["positions"]
    if not isinstance(positions, list) or not positions:
        raise InputError(path, "'positions' must be a non-empty list of [x, y]")
    for i, p in enumerate(positions):
        ok = isinstance(p, list) and len(p) == 2
        ok = ok and all(
            not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v) for v in p
        )
        if not ok:
            raise InputError(path, f"positions[{i}] must be [x, y] with finite numbers, got {p!r}")
    xy = np.asarray(positions, dtype=np.float64)
    if "size" in data:
        size = data["size"]
        if not (
            isinstance(size, list)
            and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
        ):
            raise InputError(path, f"'size' must be [width, height] in pixels, got {size!r}")
        if frame_size is not None:
            xy = FrameGeometry.cover((size[1], size[0]), tuple(frame_size)).map_points(xy).astype(np.float64)
    return Trajectory(xy, float(fps), str(path))


class StateCondition(Condition):
    """One frame-level slot ``tokens``: 2 tokens per frame, x and y each quantized to ``bins`` bins."""

    config_class = StateConfig

    def slots(self) -> list[Slot]:
        return [Slot("frame", 2, self.config.bins)]

    def parse(self, spec: str) -> Trajectory:
        size = self.context.frame_size if self.context is not None else None
        return read_trajectory(spec, size)

    def from_sample(self, sample: Any) -> Trajectory:
        if sample.state is None:
            raise InputError(
                f"video '{sample.video_id}'", "has no state.json (the state condition needs one)"
            )
        return Trajectory(sample.state.double().numpy(), sample.fps, f"video '{sample.video_id}' state.json")

    def tokenize(self, raw: Trajectory, timeline: Timeline) -> dict[str, torch.Tensor]:
        if not isinstance(raw, Trajectory):
            raise InputError("state", f"expects a Trajectory (read_trajectory), got {type(raw).__name__}")
        xy = raw.at(timeline.frame_times())  # [T, 2] frame pixels
        height, width = self.require_context().frame_size
        return {"tokens": torch.from_numpy(self.quantize(xy, (height, width)))[None]}

    def quantize(self, xy: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """Positions ``[..., 2]`` in pixels of a ``frame_size`` (height, width) frame -> bins ``[..., 2]``
        (positions outside the frame fall in the edge bins)."""
        height, width = frame_size
        scaled = np.asarray(xy, dtype=np.float64) / np.array([width, height]) * self.config.bins
        return np.clip(np.floor(scaled), 0, self.config.bins - 1).astype(np.int64)

    def dequantize(self, bins: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """Bins ``[..., 2]`` -> the pixel positions of the bins' centres (the inverse of ``quantize``)."""
        height, width = frame_size
        return (np.asarray(bins, dtype=np.float64) + 0.5) / self.config.bins * np.array([width, height])
