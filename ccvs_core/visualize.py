"""Pictures for people: sample grids, optical flow in colour, masks in grey.

All outputs are numpy uint8 RGB (``[H, W, 3]`` images, ``[T, H, W, 3]`` clips) ready for
``ccvs_core.media.write_image`` / ``write_video``. Inputs may be numpy arrays or torch tensors.
"""

from __future__ import annotations

import math

import numpy as np
from einops import rearrange

from ccvs_core.errors import InputError

# The Middlebury colour wheel (Baker et al., "A Database and Evaluation Methodology for Optical
# Flow", IJCV 2011): hue ramps red -> yellow -> green -> cyan -> blue -> magenta -> red, with more
# steps where the eye tells hues apart best. Used by most optical-flow papers and tools.
_WHEEL_CORNERS = ((1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 1, 1), (0, 0, 1), (1, 0, 1), (1, 0, 0))
_WHEEL_STEPS = (15, 6, 4, 11, 13, 6)  # RY, YG, GC, CB, BM, MR


def as_numpy(array) -> np.ndarray:
    """A numpy view of a numpy array, torch tensor (any device) or nested sequence."""
    if hasattr(array, "detach"):  # torch.Tensor, without importing torch here
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def make_grid(videos, pad: int = 2, pad_value=255) -> np.ndarray:
    """Tile samples into one image: rows are samples, columns are time steps.

    videos: uint8 ``[S, T, H, W, 3]`` (or ``[T, H, W, 3]``, one row). ``pad`` pixels of
    ``pad_value`` (a grey level or an RGB triple) separate the cells and frame the grid.
    Returns ``[S * (H + pad) + pad, T * (W + pad) + pad, 3]``.
    """
    videos = _check_videos(videos, "make_grid")
    rows, cols, height, width, _ = videos.shape
    cells = np.empty((rows, height + pad, cols, width + pad, 3), dtype=np.uint8)
    cells[...] = _pad_colour(pad_value)
    cells[:, pad:, :, pad:] = rearrange(videos, "s t h w c -> s h t w c")
    body = rearrange(cells, "s h t w c -> (s h) (t w) c")  # [S*(H+pad), T*(W+pad), 3]
    grid = np.empty((body.shape[0] + pad, body.shape[1] + pad, 3), dtype=np.uint8)
    grid[...] = _pad_colour(pad_value)
    grid[: body.shape[0], : body.shape[1]] = body  # the last row and column of padding close it
    return grid


def labelled_grid(
    videos, rows: list[str], columns: list[str] | None = None, pad: int = 2, min_cell: int = 64
) -> np.ndarray:
    """``make_grid`` with a legend: each row's label on its left and each column's above it (e.g.
    "real" / "generated", "given" / "t=3"). Cells smaller than ``min_cell`` pixels are enlarged
    (nearest neighbour, whole factors) so that the labels and the frames can both be read."""
    from PIL import Image, ImageDraw, ImageFont

    videos = _check_videos(videos, "labelled_grid")
    count, steps, height, width, _ = videos.shape
    if len(rows) != count or (columns is not None and len(columns) != steps):
        raise InputError(
            "labelled_grid",
            f"{len(rows)} row labels and {len(columns or [])} column labels for {count} x {steps} cells",
        )
    factor = max(1, math.ceil(min_cell / min(height, width)))
    videos = videos.repeat(factor, axis=2).repeat(factor, axis=3)
    height, width = height * factor, width * factor
    grid = make_grid(videos, pad=pad)
    font = ImageFont.load_default(size=12)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = lambda text: measure.textbbox((0, 0), text, font=font)[2]  # noqa: E731
    left = max(text_width(label) for label in rows) + 8
    top = 18 if columns is not None else 0
    canvas = Image.new("RGB", (left + grid.shape[1], top + grid.shape[0]), "white")
    canvas.paste(Image.fromarray(grid), (left, top))
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(rows):
        draw.text(
            (4, top + pad + i * (height + pad) + height // 2), label, fill="black", font=font, anchor="lm"
        )
    for j, label in enumerate(columns or []):
        x = left + pad + j * (width + pad) + width // 2
        draw.text((x, top // 2), label, fill="black", font=font, anchor="mm")
    return np.asarray(canvas)


def make_video_grid(videos, columns: int | None = None, pad: int = 2, pad_value=255) -> np.ndarray:
    """Tile samples side by side in every frame: ``[S, T, H, W, 3]`` -> ``[T, H', W', 3]``.

    ``columns`` samples per row (default: about a square); empty cells are ``pad_value``.
    """
    videos = _check_videos(videos, "make_video_grid")
    samples, steps, height, width, _ = videos.shape
    columns = columns or math.ceil(math.sqrt(samples))
    if columns < 1:
        raise InputError("make_video_grid", f"columns must be >= 1, got {columns}")
    rows = math.ceil(samples / columns)
    cells = np.empty((rows * columns, steps, height, width, 3), dtype=np.uint8)
    cells[...] = _pad_colour(pad_value)
    cells[:samples] = videos
    # One make_grid row per tile row, time moved into the samples axis: [rows, columns, ...].
    tiles = rearrange(cells, "(r c) t h w x -> t r c h w x", c=columns)
    return np.stack([make_grid(frame, pad=pad, pad_value=pad_value) for frame in tiles])


def flow_to_rgb(flow, max_magnitude: float | None = None) -> np.ndarray:
    """Optical flow in the Middlebury colour coding: uint8 ``[H, W, 3]``.

    flow: ``[2, H, W]`` or ``[H, W, 2]`` (x then y displacement, in pixels; x right, y down;
    ``[2, H, W]`` is assumed when both readings fit). Hue is the direction, saturation the
    magnitude divided by ``max_magnitude`` (default: the largest magnitude in ``flow``), so zero
    flow is white and the longest vectors are fully saturated. Vectors longer than
    ``max_magnitude`` are drawn darker; non-finite vectors are black.
    """
    u, v = _flow_components(as_numpy(flow).astype(np.float64))  # [H, W] each
    valid = np.isfinite(u) & np.isfinite(v)
    u, v = np.where(valid, u, 0.0), np.where(valid, v, 0.0)
    magnitude = np.hypot(u, v)
    scale = float(max_magnitude) if max_magnitude is not None else float(magnitude.max(initial=0.0))
    if not scale > 0:
        scale = 1.0  # zero flow everywhere (or a zero max): all white
    radius = magnitude / scale
    colour = _wheel_colour(np.arctan2(-v, -u) / np.pi)  # [H, W, 3] in [0, 1]
    inside = (radius <= 1)[..., None]
    colour = np.where(inside, 1 - radius[..., None] * (1 - colour), colour * 0.75)
    colour = np.where(valid[..., None], colour, 0.0)
    return np.floor(colour * 255).astype(np.uint8)  # floor, as the reference code does


def mask_to_rgb(mask) -> np.ndarray:
    """A mask with values in [0, 1] (``[H, W]``, ``[1, H, W]`` or ``[H, W, 1]``) as a grey image.

    0 is black, 1 white; values outside [0, 1] are clipped and non-finite ones drawn black.
    Returns uint8 ``[H, W, 3]``.
    """
    mask = as_numpy(mask).astype(np.float64)
    if mask.ndim == 3 and 1 in (mask.shape[0], mask.shape[-1]):
        mask = mask[0] if mask.shape[0] == 1 else mask[..., 0]
    if mask.ndim != 2:
        raise InputError("mask", f"must be [H, W] (or with one channel), got shape {tuple(mask.shape)}")
    grey = np.round(np.clip(np.nan_to_num(mask, nan=0.0, posinf=0.0, neginf=0.0), 0, 1) * 255)
    return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=-1)


def _check_videos(videos, name: str) -> np.ndarray:
    """uint8 ``[S, T, H, W, 3]``; a single ``[T, H, W, 3]`` clip becomes one sample."""
    videos = as_numpy(videos)
    if videos.ndim == 4:
        videos = videos[None]
    if videos.ndim != 5 or videos.shape[-1] != 3 or 0 in videos.shape:
        raise InputError(name, f"videos must be [S, T, H, W, 3], got shape {tuple(videos.shape)}")
    if videos.dtype != np.uint8:
        raise InputError(name, f"videos must be uint8, got {videos.dtype}")
    return videos


def _pad_colour(pad_value) -> np.ndarray:
    colour = np.broadcast_to(np.asarray(pad_value), (3,))
    return np.clip(colour, 0, 255).astype(np.uint8)


def _flow_components(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split ``[2, H, W]`` or ``[H, W, 2]`` flow into x and y displacements ``[H, W]``."""
    if flow.ndim == 3 and flow.shape[0] == 2:
        return flow[0], flow[1]
    if flow.ndim == 3 and flow.shape[-1] == 2:
        return flow[..., 0], flow[..., 1]
    raise InputError("flow", f"must be [2, H, W] or [H, W, 2], got shape {tuple(flow.shape)}")


def _colour_wheel() -> np.ndarray:
    """The 55 colours of the Middlebury wheel, ``[55, 3]`` in [0, 1]."""
    ramps = []
    for steps, start, end in zip(_WHEEL_STEPS, _WHEEL_CORNERS[:-1], _WHEEL_CORNERS[1:], strict=True):
        t = np.floor(255 * np.arange(steps) / steps)[:, None] / 255  # [steps, 1], as in the reference code
        ramps.append(np.asarray(start) + (np.asarray(end) - np.asarray(start)) * t)
    return np.concatenate(ramps)


def _wheel_colour(angle: np.ndarray) -> np.ndarray:
    """Interpolated wheel colour for ``angle`` in [-1, 1] (radians / pi): ``[..., 3]`` in [0, 1]."""
    wheel = _colour_wheel()
    position = (angle + 1) / 2 * (len(wheel) - 1)
    k0 = np.floor(position).astype(np.int64)
    k1 = (k0 + 1) % len(wheel)
    weight = (position - k0)[..., None]
    return (1 - weight) * wheel[k0] + weight * wheel[k1]
