"""Flow inversion approximation, Algorithm C1 of the paper (Appendix C), in vectorised numpy.

Flows follow ``ccvs_core.models.warp``: ``[2, H, W]`` in pixels, channel 0 the x (column)
displacement, channel 1 the y (row) displacement. The paper writes Algorithm C1 in (row, col) =
(dh, dw) order; here ``g[1]`` is its ``dh`` and ``g[0]`` its ``dw``, and the output keeps our (x, y)
order.

Given the backward flow ``g`` of an augmentation (``A(x)(p) = x(p + g(p))``), the inverse ``f``
brings the augmented view back: ``W(A(x), f) ≈ x``. Cell p of the view shows x at ``p + g(p)``, so
the direct mapping sets ``f[round(p + g(p))] = -g(p)``; the cells no p reaches are filled by
iterated interpolation of their filled neighbours.

This runs in DataLoader workers (CPU), so it is numpy only: no loop over pixels, one loop over the
dilation steps of the fill.
"""

from __future__ import annotations

import numpy as np

# The 3x3 Gaussian kernel of B is the binomial one, [1, 2, 1] / 4 in each direction (sigma ~ 0.7).
# Its scale cancels in i / w; only the relative weights of the neighbours matter.
_BLUR_TAPS = (0.25, 0.5, 0.25)


def _blur3(a: np.ndarray) -> np.ndarray:
    """B of Algorithm C1: separable 3x3 Gaussian of ``a [..., H, W]`` with zero padding."""
    out = np.zeros((*a.shape[:-2], a.shape[-2], a.shape[-1] + 2), dtype=a.dtype)  # [..., H, W + 2]
    for k, tap in enumerate(_BLUR_TAPS):  # along x: out[..., j + 1] gathers a[..., j - 1 .. j + 1]
        out[..., :, k : k + a.shape[-1]] += tap * a
    rows = out[..., :, 1:-1]
    out = np.zeros((*a.shape[:-2], a.shape[-2] + 2, a.shape[-1]), dtype=a.dtype)  # [..., H + 2, W]
    for k, tap in enumerate(_BLUR_TAPS):
        out[..., k : k + a.shape[-2], :] += tap * rows
    return out[..., 1:-1, :]


def _dilate4(c: np.ndarray) -> np.ndarray:
    """D of Algorithm C1: a boolean ``[H, W]`` mask grown by one cell up, down, left and right."""
    d = c.copy()
    d[1:, :] |= c[:-1, :]
    d[:-1, :] |= c[1:, :]
    d[:, 1:] |= c[:, :-1]
    d[:, :-1] |= c[:, 1:]
    return d


def _direct_inversion(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First loop of Algorithm C1: ``f[round(p + g(p))] = -g(p)`` where that cell is in the grid.

    When several cells p land on one cell, the last one in the paper's row-major loop wins (the
    largest flat index). Returns ``f [2, H, W]`` (zero where unfilled) and ``c [H, W]`` (bool).
    """
    _, h, w = g.shape
    rows = np.rint(np.arange(h, dtype=np.float64)[:, None] + g[1]).ravel()  # [H*W]: h' of each p
    cols = np.rint(np.arange(w, dtype=np.float64)[None, :] + g[0]).ravel()  # [H*W]: w'
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # NaN flows land nowhere
    sources = np.flatnonzero(inside)  # row-major order, as the paper's loop
    targets = rows[inside].astype(np.int64) * w + cols[inside].astype(np.int64)
    last = np.full(h * w, -1, dtype=np.int64)  # [H*W]: the last source landing on each cell
    np.maximum.at(last, targets, sources)
    c = last >= 0
    f = np.zeros((2, h * w), dtype=np.float32)
    f[:, c] = -g.reshape(2, -1)[:, last[c]]
    return f.reshape(2, h, w), c.reshape(h, w)


def _fill_by_interpolation(f: np.ndarray, c: np.ndarray) -> None:
    """Second loop of Algorithm C1, in place: grow ``c`` by one cardinal step at a time, giving the
    new cells the B-weighted mean of their filled neighbours' flow, until every cell is filled."""
    while not c.all():
        new = _dilate4(c) & ~c  # c' = D(c) ∧ ∼c
        i = _blur3(f)  # [2, H, W]
        weight = _blur3(c.astype(np.float32))  # [H, W], > 0 on c' (a cardinal neighbour is in c)
        f[:, new] = i[:, new] / weight[new]
        c |= new


def invert_flow(g: np.ndarray) -> tuple[np.ndarray, float]:
    """Algorithm C1 (Appendix C): approximate inverse of the backward flow ``g [2, H, W]``.

    Returns ``(f [2, H, W] float32, direct_fraction)``, where ``direct_fraction`` is the share of
    cells filled by the direct mapping (the paper reports about 80% for its elastic deformations);
    the others are interpolated from their neighbours. Exact (up to rounding to the nearest cell) for
    translations; within a fraction of a pixel for small affine maps.

    Guard: if no cell of ``g`` lands inside the grid there is nothing to interpolate from (the
    paper's loop would never end); the result is then a zero flow and a fraction of 0.
    """
    g = np.asarray(g, dtype=np.float32)
    if g.ndim != 3 or g.shape[0] != 2:
        raise ValueError(f"flow must be [2, H, W], got {g.shape}")
    f, c = _direct_inversion(g)
    direct_fraction = float(c.mean())
    if direct_fraction == 0.0:
        return np.zeros_like(g), 0.0
    _fill_by_interpolation(f, c)
    return f, direct_fraction
