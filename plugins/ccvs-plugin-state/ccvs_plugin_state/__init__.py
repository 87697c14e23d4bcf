"""ccvs condition 'state': a 2D position per frame — a robot gripper, a ball, any tracked point (Sec. 4
BAIR, Table 3 "+ state").

The trajectory is resampled (linear interpolation) to the video's frame times, then turned into 2
tokens per frame, one of two ways (``StateConfig.encoding``):

- ``"cell"`` (default): slot ``cell``, the frame token the position falls in (the autoencoder's
  h x w grid), and slot ``offset``, where in that cell (``offset_bins`` x ``offset_bins``). The cell
  token's embedding starts as that frame token's position embedding (``Slot(init="cell")``): a
  model reads it from its first steps, as a layout is read.
- ``"xy"`` (the authors' setting, with 128 bins): slots ``x`` and ``y``, each coordinate quantized to
  ``bins`` bins over the frame's width / height, embeddings starting at their column / row.

``benchmarks/control_toyworld.py`` measured both. Training reads each video's ``state.json`` (already
mapped to the training frames).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import torch

from ccvs_core import (
    Clip,
    Condition,
    ConditionContext,
    Config,
    FrameGeometry,
    InputError,
    PluginError,
    Slot,
    Timeline,
    at_least,
    read_json,
)

__version__ = "0.4.0"


@attrs.frozen(kw_only=True)
class StateConfig(Config):
    encoding: Literal["cell", "xy"] = "cell"  # see the module's docstring
    bins: int = attrs.field(default=128, validator=at_least(2))  # "xy": bins per coordinate (paper: 128)
    offset_bins: int = attrs.field(default=4, validator=at_least(1))  # "cell": bins per axis within a cell
    # "cell": the pipeline's frame token grid (set from the autoencoder in training)
    grid: tuple[int, int] = attrs.field(default=(8, 8), validator=at_least(1))


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
    data = read_json(path)
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
    """Two frame-level slots, one token each per frame: ``cell`` and ``offset`` (encoding "cell") or
    ``x`` and ``y`` (encoding "xy"); see the module's docstring."""

    config_class = StateConfig

    def slots(self) -> list[Slot]:
        c = self.config
        if c.encoding == "cell":
            h, w = c.grid
            return [
                Slot("frame", 1, h * w, name="cell", init="cell"),
                Slot("frame", 1, c.offset_bins**2, name="offset"),
            ]
        return [
            Slot("frame", 1, c.bins, name="x", init="column"),
            Slot("frame", 1, c.bins, name="y", init="row"),
        ]

    def prepare(self, videos: Any, context: ConditionContext) -> None:
        """The cells are the pipeline's frame token grid."""
        self.config = self.config.replace(grid=tuple(context.token_grid))

    def parse(self, spec: str, options: Any) -> Trajectory:
        return read_trajectory(spec, self.context.frame_size)

    def from_sample(self, clip: Clip) -> Trajectory:
        if clip.state is None:
            raise InputError(f"video '{clip.video_id}'", "has no state.json (the state condition needs one)")
        return Trajectory(clip.state.double().numpy(), clip.fps, f"video '{clip.video_id}' state.json")

    def tokenize(self, raw: Trajectory, timeline: Timeline) -> dict[str, torch.Tensor]:
        if not isinstance(raw, Trajectory):
            raise InputError("state", f"expects a Trajectory (read_trajectory), got {type(raw).__name__}")
        xy = raw.at(timeline.frame_times())  # [T, 2] frame pixels
        context = self.context
        if self.config.encoding == "cell" and tuple(context.token_grid) != tuple(self.config.grid):
            raise PluginError(
                "condition 'state'",
                f"configured for a {self.config.grid} token grid, the pipeline's autoencoder makes "
                f"{tuple(context.token_grid)}",
            )
        tokens = torch.from_numpy(self.quantize(xy, context.frame_size))[None]  # [1, T, 2]
        # the two slots in declaration order: (cell, offset) or (x, y)
        return {slot.name: tokens[..., i : i + 1] for i, slot in enumerate(self.slots())}

    def quantize(self, xy: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """Positions ``[..., 2]`` in pixels of a ``frame_size`` (height, width) frame -> the two tokens
        ``[..., 2]``: (cell, offset) or (x bin, y bin) (positions outside the frame fall at its edge)."""
        height, width = frame_size
        rows, columns = self._steps()
        scaled = np.asarray(xy, dtype=np.float64) / np.array([width, height]) * np.array([columns, rows])
        x, y = (
            np.clip(np.floor(scaled[..., i]), 0, n - 1).astype(np.int64)
            for i, n in enumerate((columns, rows))
        )
        if self.config.encoding == "xy":
            return np.stack([x, y], axis=-1)
        w, k = self.config.grid[1], self.config.offset_bins
        return np.stack([(y // k) * w + x // k, (y % k) * k + x % k], axis=-1)

    def dequantize(self, tokens: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """The two tokens ``[..., 2]`` -> the pixel positions of their bins' centres (the inverse of
        ``quantize``)."""
        height, width = frame_size
        rows, columns = self._steps()
        tokens = np.asarray(tokens, dtype=np.int64)
        if self.config.encoding == "xy":
            x, y = tokens[..., 0], tokens[..., 1]
        else:
            w, k = self.config.grid[1], self.config.offset_bins
            cell, offset = tokens[..., 0], tokens[..., 1]
            x, y = (cell % w) * k + offset % k, (cell // w) * k + offset // k
        return (np.stack([x, y], axis=-1) + 0.5) / np.array([columns, rows]) * np.array([width, height])

    def _steps(self) -> tuple[int, int]:
        """(rows, columns) of the finest bins: each coordinate's bins."""
        if self.config.encoding == "xy":
            return self.config.bins, self.config.bins
        h, w = self.config.grid
        return h * self.config.offset_bins, w * self.config.offset_bins
