"""Augmented views of a frame for the self-supervision of the flow module F (Sec. 3.2, Appendix F).

The autoencoder reconstructs a frame x with an augmented view of x as context::

    x_c = (1 - o_c) * B(A(x)),    A(x) = W(x, a_c)

where A is a random spatial augmentation (rotation, scaling, translation, elastic deformation and
their combinations) given by its backward flow a_c, B a Gaussian blur and o_c an occlusion mask.
F must then predict the flow f_c that brings the context back onto x, ``W(x_c, f_c) ≈ x``: the
inverse of a_c, approximated by Algorithm C1 (``invert_flow``), and a fusion mask whose target is
``o'_c = W(o_c, f_c)`` (Eq. 7).

Conventions:

- Flows follow ``ccvs_core.models.warp``: ``[2, H, W]`` in pixels, channel 0 = x (column)
  displacement, channel 1 = y (row) displacement, backward semantics ``W(e, f)(p) = e(p + f(p))``,
  pixel centres at integer coordinates.
- Masks: 1 where the context is occluded / has no information, 0 where it shows x. o_c (context
  coordinates) is 1 on the occluders and on the pixels of A(x) sampled from outside x. The target
  o'_c (frame coordinates) is ``W(o_c, f_c)`` rounded to {0, 1}, and also 1 wherever
  ``p + f_c(p)`` falls outside the frame, or where f_c fails the round trip through a_c by more
  than ``AugmentConfig.cycle_tolerance`` pixels: these are the cells of x that no pixel of the
  context shows (the rim cropped away by a zoom in), whose f_c Algorithm C1 only extrapolates. This
  matches the decoder, where sigma(m) = 1 means "use the decoder's own features" (context useless),
  and the paper's masks, white where the context is occluded (Appendix B, Fig. F1).
- Frames are float32 ``[3, H, W]`` in [-1, 1] (what the trainer feeds); any range works. Occluded
  pixels, and pixels sampled from outside x, are set to 0 (mid-grey in [-1, 1]), as the paper's
  product ``o_c ⊗ B(A(x))`` does.
- Composition: the affine part (rotation and scaling about the centre, then translation) and the
  elastic part e are composed exactly, not summed: ``A(x) = W(W(x, t), e)`` with t the affine
  flow, i.e. x is first transformed by the affine map, then deformed elastically; t is evaluated
  analytically at ``p + e(p)``, so ``a_c(p) = e(p) + t(p + e(p))``.

Everything here is numpy, as it runs per sample in DataLoader workers; ``_warp_np`` is the model's
``warp`` (bilinear, border padding) rewritten in numpy. Deterministic given the
``numpy.random.Generator``.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from ccvs_core.config_base import Config, at_least, greater_than, in_range
from ccvs_core.errors import ConfigError
from ccvs_core.training.flow_inversion import invert_flow

__all__ = [
    "AugmentConfig",
    "ContextView",
    "affine_flow",
    "build_context_view",
    "elastic_flow",
    "gaussian_blur",
    "invert_flow",
    "make_context_view",
    "random_augmentation_flow",
    "random_occlusion",
    "target_mask",
]


@attrs.frozen(kw_only=True)
class AugmentConfig(Config):
    """Ranges of the random augmented views (Sec. 3.2). Each component is drawn independently with
    its probability, so views combine any of them (or none: x itself, only blurred / occluded)."""

    # Spatial augmentation A (each part with its probability; angles and scales about the centre)
    rotation_prob: float = attrs.field(default=0.5, validator=in_range(0, 1))
    max_rotation_deg: float = attrs.field(default=15.0, validator=in_range(0, 180))  # uniform in +-
    scale_prob: float = attrs.field(default=0.5, validator=in_range(0, 1))
    # zoom factor (> 1 zooms in), log-uniform in the range
    scale_range: tuple[float, float] = attrs.field(default=(0.85, 1.15), validator=greater_than(0))
    translation_prob: float = attrs.field(default=0.5, validator=in_range(0, 1))
    max_translation: float = attrs.field(default=0.1, validator=in_range(0, 1))  # of width / height, +-
    elastic_prob: float = attrs.field(default=0.5, validator=in_range(0, 1))
    # elastic: the longest shift and the B-spline knot spacing, as fractions of the shorter side; the
    # defaults give ~80% of directly inverted cells in Algorithm C1, as the paper reports
    elastic_strength: float = attrs.field(default=0.1, validator=at_least(0))
    elastic_smoothness: float = attrs.field(default=0.25, validator=greater_than(0))
    # Blur B: Gaussian, sigma in pixels, uniform in the range
    blur_prob: float = attrs.field(default=0.5, validator=in_range(0, 1))
    blur_sigma: tuple[float, float] = attrs.field(default=(0.5, 1.5), validator=at_least(0))
    # Occlusion o_c: rectangles and ellipses, count (inclusive range) and side (fraction of the frame's)
    occlusion_prob: float = attrs.field(default=0.5, validator=in_range(0, 1))
    num_occluders: tuple[int, int] = attrs.field(default=(1, 3), validator=at_least(1))
    occluder_size: tuple[float, float] = attrs.field(default=(0.1, 0.4), validator=in_range(0, 1))
    # Target mask: cells of x whose f_c misses the round trip through a_c by more (pixels) are masked
    cycle_tolerance: float = attrs.field(default=1.5, validator=greater_than(0))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for name in ("scale_range", "blur_sigma", "num_occluders", "occluder_size"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(
                    f"field 'AugmentConfig.{name}'", f"must be (low, high), got ({low}, {high})"
                )


@attrs.frozen(eq=False)
class ContextView:
    """One augmented view of a frame and the targets of F (Eq. 7); all float32 numpy."""

    image: np.ndarray  # [3, H, W] x_c = (1 - o_c) * B(A(x)), 0 where o_c = 1
    flow: np.ndarray  # [2, H, W] target f_c = invert_flow(a_c): W(x_c, f_c) ≈ x
    mask: np.ndarray  # [1, H, W] target o'_c in {0, 1}: 1 where the context shows nothing of x
    direct_fraction: float  # share of f_c's cells set by Algorithm C1's direct mapping
    augmentation: np.ndarray  # [2, H, W] a_c: A(x) = W(x, a_c)
    occlusion: np.ndarray  # [1, H, W] o_c in {0, 1}, context coordinates


# ----------------------------------------------------------------------------- spatial flows


def _pixel_grid(size: tuple[int, int]) -> np.ndarray:
    """``[2, H, W]`` float64 (x, y) coordinates of the pixel centres."""
    h, w = size
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return np.stack((xs, ys))


def _affine_map(
    size: tuple[int, int],
    angle_deg: float,
    scale: float,
    translate: tuple[float, float],
    centre: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(M [2, 2], b [2])`` of the map ``T(q) = M q + b`` that moves the content of x, in (x, y).

    Rotation by ``angle_deg`` counter-clockwise as seen on screen (y points down) and scaling by
    ``scale`` (> 1 zooms in), both about ``centre`` (default: the frame centre), then translation
    by ``translate`` = (tx, ty) pixels (content moves right / down).
    """
    h, w = size
    cx, cy = ((w - 1) / 2, (h - 1) / 2) if centre is None else centre
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    m = scale * np.array([[cos, sin], [-sin, cos]])
    c = np.array([cx, cy])
    return m, c - m @ c + np.asarray(translate, dtype=np.float64)


def _affine_flow_at(m: np.ndarray, b: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Backward flow of T at ``points [2, ...]``: ``T^-1(p) - p`` (float64)."""
    source = np.einsum("ij,j...->i...", np.linalg.inv(m), points - b.reshape(2, *([1] * (points.ndim - 1))))
    return source - points


def affine_flow(
    size: tuple[int, int],
    angle_deg: float = 0.0,
    scale: float = 1.0,
    translate: tuple[float, float] = (0.0, 0.0),
    centre: tuple[float, float] | None = None,
) -> np.ndarray:
    """Backward flow ``[2, H, W]`` of an affine augmentation (exact, analytic).

    ``W(x, affine_flow(...))`` shows x rotated by ``angle_deg`` (counter-clockwise on screen),
    scaled by ``scale`` (> 1 zooms in) about ``centre`` (default the frame centre, ``((W-1)/2,
    (H-1)/2)``), then translated by ``translate = (tx, ty)`` pixels.
    """
    m, b = _affine_map(size, angle_deg, scale, translate, centre)
    return _affine_flow_at(m, b, _pixel_grid(size)).astype(np.float32)


def _cubic_bspline_matrix(n: int, spacing: float) -> np.ndarray:
    """``[n, K]`` weights of uniform cubic B-spline knots every ``spacing`` pixels (from -spacing)."""
    t = np.arange(n) / spacing  # [n] position in knot units
    i = np.floor(t).astype(np.int64)
    u = t - i
    weights = np.stack(
        ((1 - u) ** 3, 3 * u**3 - 6 * u**2 + 4, -3 * u**3 + 3 * u**2 + 3 * u + 1, u**3), axis=1
    )  # [n, 4], non-negative, each row sums to 6
    matrix = np.zeros((n, int(i[-1]) + 4))
    np.put_along_axis(matrix, i[:, None] + np.arange(4), weights / 6, axis=1)
    return matrix


def elastic_flow(
    rng: np.random.Generator, size: tuple[int, int], strength: float, smoothness: float
) -> np.ndarray:
    """A smooth random backward flow ``[2, H, W]`` whose largest displacement is ``strength`` pixels.

    Uniform noise on knots every ``smoothness`` pixels, interpolated by a cubic B-spline (C2
    smooth), then scaled so that the longest displacement vector is exactly ``strength``.
    """
    h, w = size
    rows, cols = _cubic_bspline_matrix(h, smoothness), _cubic_bspline_matrix(w, smoothness)
    knots = rng.uniform(-1.0, 1.0, size=(2, rows.shape[1], cols.shape[1]))  # [2, Kh, Kw]
    field = rows @ knots @ cols.T  # [2, H, W]
    longest = np.sqrt((field**2).sum(0)).max()
    return (field * (strength / max(longest, 1e-12))).astype(np.float32)


def random_augmentation_flow(
    rng: np.random.Generator, size: tuple[int, int], config: AugmentConfig
) -> np.ndarray:
    """The backward flow a_c ``[2, H, W]`` of a random augmentation A (Sec. 3.2).

    Rotation, scaling, translation and elastic deformation, each drawn with its probability from
    ``config``; the affine part and the elastic part are composed exactly (module docstring).
    """
    h, w = size
    side = min(h, w)
    angle = rng.uniform(-1, 1) * config.max_rotation_deg if rng.random() < config.rotation_prob else 0.0
    scale = 1.0
    if rng.random() < config.scale_prob:
        scale = math.exp(rng.uniform(math.log(config.scale_range[0]), math.log(config.scale_range[1])))
    translate = (0.0, 0.0)
    if rng.random() < config.translation_prob:
        translate = tuple(rng.uniform(-1, 1, size=2) * config.max_translation * np.array([w, h]))
    points = _pixel_grid(size)  # [2, H, W]
    elastic = np.zeros_like(points)
    if rng.random() < config.elastic_prob and config.elastic_strength > 0:
        elastic = elastic_flow(rng, size, config.elastic_strength * side, config.elastic_smoothness * side)
    m, b = _affine_map(size, angle, scale, translate, None)
    return (elastic + _affine_flow_at(m, b, points + elastic)).astype(np.float32)


# ----------------------------------------------------------------------------- blur and occlusion


def _convolve_axis(image: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """1D convolution of ``image`` along ``axis`` by a symmetric ``kernel`` with reflect padding."""
    radius = len(kernel) // 2
    pad = [(0, 0)] * image.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(image, pad, mode="reflect")
    n = image.shape[axis]
    out = np.zeros_like(image)
    for k, tap in enumerate(kernel):
        out += tap * np.take(padded, np.arange(k, k + n), axis=axis)
    return out


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """B: separable Gaussian blur of ``image [C, H, W]`` (float32), reflect padding, radius 3 sigma.

    ``sigma <= 0`` returns an unblurred copy.
    """
    image = np.asarray(image, dtype=np.float32)
    if sigma <= 0:
        return image.copy()
    radius = max(1, math.ceil(3 * sigma))
    kernel = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).astype(np.float32)
    return _convolve_axis(_convolve_axis(image, kernel, axis=-1), kernel, axis=-2)


def random_occlusion(rng: np.random.Generator, size: tuple[int, int], config: AugmentConfig) -> np.ndarray:
    """o_c: ``[H, W]`` float32 in {0, 1}, 1 on a few random axis-aligned rectangles and ellipses.

    ``config.num_occluders`` of them (inclusive range), centred anywhere in the frame, each side
    (diameter) a uniform fraction ``config.occluder_size`` of the frame's side.
    """
    h, w = size
    ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]
    mask = np.zeros(size, dtype=bool)
    for _ in range(rng.integers(config.num_occluders[0], config.num_occluders[1] + 1)):
        cx, cy = rng.uniform(0, w - 1), rng.uniform(0, h - 1)
        rx, ry = rng.uniform(*config.occluder_size, size=2) * np.array([w, h]) / 2
        if rng.random() < 0.5:
            mask |= (np.abs(xs - cx) <= rx) & (np.abs(ys - cy) <= ry)
        else:
            mask |= ((xs - cx) / max(rx, 0.5)) ** 2 + ((ys - cy) / max(ry, 0.5)) ** 2 <= 1
    return mask.astype(np.float32)


# ----------------------------------------------------------------------------- the context view


def _warp_np(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``W(image, flow)`` in numpy, bilinear with border padding: ``[C, H, W]``, ``[2, H, W]`` -> ``[C, H, W]``.

    The same numbers as ``ccvs_core.models.warp.warp(..., padding_mode="border")`` (tested), without
    torch's per-call overhead in data-loader workers.
    """
    _, h, w = image.shape
    x = np.clip(np.arange(w, dtype=np.float32)[None, :] + flow[0], 0, w - 1)  # [H, W]
    y = np.clip(np.arange(h, dtype=np.float32)[:, None] + flow[1], 0, h - 1)
    x0, y0 = np.floor(x).astype(np.intp), np.floor(y).astype(np.intp)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    wx, wy = x - x0, y - y0
    flat = image.reshape(image.shape[0], h * w)  # [C, H*W]
    top = np.take(flat, y0 * w + x0, axis=1) * (1 - wx) + np.take(flat, y0 * w + x1, axis=1) * wx  # [C, H, W]
    bottom = np.take(flat, y1 * w + x0, axis=1) * (1 - wx) + np.take(flat, y1 * w + x1, axis=1) * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def _outside(flow: np.ndarray) -> np.ndarray:
    """``[H, W]`` bool: where ``p + flow(p)`` falls outside the frame's extent (as ``inside_frame``)."""
    _, h, w = flow.shape
    x = np.arange(w, dtype=np.float32)[None, :] + flow[0]
    y = np.arange(h, dtype=np.float32)[:, None] + flow[1]
    return ~((x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5))


def target_mask(
    occlusion: np.ndarray, augmentation: np.ndarray, flow: np.ndarray, tolerance: float
) -> np.ndarray:
    """o'_c = W(o_c, f_c) of Eq. 7, in {0, 1}, ``[1, H, W]``; ``occlusion [H, W]`` is o_c.

    Also 1 where ``p + f_c(p)`` is outside the context, or where the round trip
    ``f_c(p) + a_c(p + f_c(p))`` misses p by more than ``tolerance`` pixels (p is seen by no
    context pixel: f_c is only extrapolated there).
    """
    warped = _warp_np(occlusion[None], flow)[0] >= 0.5  # [H, W]
    round_trip = flow + _warp_np(augmentation, flow)  # [2, H, W], ≈ 0 where f_c inverts a_c
    missed = np.sqrt((round_trip**2).sum(0)) > tolerance
    return (warped | _outside(flow) | missed)[None].astype(np.float32)


def build_context_view(
    frame: np.ndarray,
    augmentation: np.ndarray,
    occlusion: np.ndarray,
    blur_sigma: float,
    cycle_tolerance: float,
) -> ContextView:
    """The context view of Sec. 3.2 for given a_c ``[2, H, W]``, occluders ``[H, W]`` and blur.

    ``x_c = (1 - o_c) * B(A(x))`` with o_c = occluders ∪ pixels of A(x) sampled outside x, the
    target flow ``f_c = invert_flow(a_c)`` (Algorithm C1) and the target mask ``o'_c``
    (``target_mask``). ``frame`` is ``[3, H, W]`` float32, in [-1, 1] for the trainer.
    """
    frame = np.asarray(frame, dtype=np.float32)
    augmentation = np.ascontiguousarray(augmentation, dtype=np.float32)
    occlusion = np.asarray(occlusion, dtype=np.float32)
    if augmentation.shape != (2, *frame.shape[-2:]) or occlusion.shape != frame.shape[-2:]:
        raise ValueError(
            f"flow {augmentation.shape} / occlusion {occlusion.shape} do not match frame {frame.shape}"
        )
    occluded = (occlusion >= 0.5) | _outside(augmentation)  # [H, W] o_c
    o_c = occluded.astype(np.float32)
    image = gaussian_blur(_warp_np(frame, augmentation), blur_sigma) * (1 - o_c)  # [3, H, W]
    flow, direct_fraction = invert_flow(augmentation)
    mask = target_mask(o_c, augmentation, flow, cycle_tolerance)
    return ContextView(
        image=image.astype(np.float32),
        flow=flow,
        mask=mask,
        direct_fraction=direct_fraction,
        augmentation=augmentation,
        occlusion=o_c[None],
    )


def make_context_view(frame: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> ContextView:
    """A random augmented view of ``frame [3, H, W]`` (float32, [-1, 1]) as context (Sec. 3.2, App. F).

    Draws a_c (``random_augmentation_flow``), the blur (probability ``config.blur_prob``, sigma
    uniform in ``config.blur_sigma``) and the occluders (probability ``config.occlusion_prob``),
    then builds the view and the targets of F with ``build_context_view``.
    """
    size = tuple(frame.shape[-2:])
    augmentation = random_augmentation_flow(rng, size, config)
    sigma = rng.uniform(*config.blur_sigma) if rng.random() < config.blur_prob else 0.0
    occlusion = np.zeros(size, dtype=np.float32)
    if rng.random() < config.occlusion_prob:
        occlusion = random_occlusion(rng, size, config)
    return build_context_view(frame, augmentation, occlusion, sigma, config.cycle_tolerance)
