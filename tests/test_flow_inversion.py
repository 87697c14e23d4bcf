"""Algorithm C1 (flow inversion): the vectorised version against a literal one, exactness on
translations and affine maps, completeness on elastic maps."""

import math

import numpy as np
import pytest
import torch

from ccvs_core.models.warp import warp
from ccvs_core.training.augment import AugmentConfig, affine_flow, elastic_flow
from ccvs_core.training.flow_inversion import invert_flow


def reference_c1(g: np.ndarray) -> np.ndarray:
    """Algorithm C1 written as in the paper, loops and (row, col) = (dh, dw) order (float64)."""
    _, height, width = g.shape
    f = np.zeros((2, height, width))  # paper order: f[0] = dh, f[1] = dw
    c = np.zeros((height, width), dtype=bool)
    for h in range(height):
        for w in range(width):
            dh, dw = float(g[1, h, w]), float(g[0, h, w])  # our flows are (x, y) = (dw, dh)
            h2, w2 = round(h + dh), round(w + dw)
            if 0 <= h2 < height and 0 <= w2 < width:
                f[0, h2, w2], f[1, h2, w2] = -dh, -dw
                c[h2, w2] = True
    kernel = np.outer([1, 2, 1], [1, 2, 1]) / 16

    def blur(a):
        out = np.zeros_like(a)
        for h in range(height):
            for w in range(width):
                for i in (-1, 0, 1):
                    for j in (-1, 0, 1):
                        if 0 <= h + i < height and 0 <= w + j < width:
                            out[..., h, w] += kernel[i + 1, j + 1] * a[..., h + i, w + j]
        return out

    while not c.all():
        d = c.copy()
        for h in range(height):
            for w in range(width):
                for i, j in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    if 0 <= h + i < height and 0 <= w + j < width and c[h + i, w + j]:
                        d[h, w] = True
        new = d & ~c
        i_, w_ = blur(f), blur(c.astype(float))
        for h, w in zip(*np.nonzero(new), strict=True):
            f[:, h, w] = i_[:, h, w] / w_[h, w]
        c = c | new
    return np.stack((f[1], f[0]))  # back to (x, y)


def pixel_grid(h, w):
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return np.stack((xs, ys))


def analytic_inverse(size, angle_deg, scale, translate):
    """f(q) = T(q) - q for the content map T of ``affine_flow`` (about the frame centre)."""
    h, w = size
    centre = np.array([(w - 1) / 2, (h - 1) / 2]).reshape(2, 1, 1)
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    q = pixel_grid(h, w)
    d = q - centre
    rotated = np.stack((cos * d[0] + sin * d[1], -sin * d[0] + cos * d[1]))
    return scale * rotated + centre + np.array(translate).reshape(2, 1, 1) - q


def smooth_image(size, seed=0):
    rng = np.random.default_rng(seed)
    g = pixel_grid(*size)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.05, 0.15), rng.uniform(0.05, 0.15), rng.uniform(0, 6.3)
        channels.append(np.sin(fx * g[0] + phase) * np.cos(fy * g[1]))
    return np.stack(channels).astype(np.float32)


def torch_warp(image, flow):
    return warp(torch.from_numpy(image[None]), torch.from_numpy(flow[None]), padding_mode="border")[0].numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_papers_loops(seed):
    rng = np.random.default_rng(seed)
    size = (9, 11)
    g = (rng.normal(0, 1.5, (2, *size)) + affine_flow(size, 20, 1.1, (1.5, -2))).astype(np.float32)
    f, fraction = invert_flow(g)
    assert f.dtype == np.float32 and f.shape == g.shape
    np.testing.assert_allclose(f, reference_c1(g), atol=1e-4)
    assert 0 < fraction < 1


def test_collisions_keep_the_last_cell_in_row_major_order():
    g = np.zeros((2, 1, 3), dtype=np.float32)
    g[0, 0] = (2.0, 1.2, 0.3)  # all three cells land on (0, 2)
    f, fraction = invert_flow(g)
    assert f[0, 0, 2] == pytest.approx(-0.3)
    assert fraction == pytest.approx(1 / 3)
    np.testing.assert_allclose(f, reference_c1(g), atol=1e-6)


def test_integer_translation_is_inverted_exactly():
    size = (20, 24)
    g = affine_flow(size, translate=(3, -2))  # backward flow (-3, 2) everywhere
    f, fraction = invert_flow(g)
    np.testing.assert_allclose(f[0], 3, atol=1e-5)
    np.testing.assert_allclose(f[1], -2, atol=1e-5)
    assert fraction == pytest.approx((20 - 2) * (24 - 3) / (20 * 24))


@pytest.mark.parametrize(
    ("angle", "scale", "translate"),
    [(0, 1, (0, 0)), (12, 1, (0, 0)), (-20, 1.15, (2.5, -1.5)), (8, 0.85, (-3, 4)), (90, 1, (0, 0))],
)
def test_affine_maps_are_inverted_within_a_pixel(angle, scale, translate):
    size = (48, 56)
    g = affine_flow(size, angle, scale, translate)
    f, _ = invert_flow(g)
    exact = analytic_inverse(size, angle, scale, translate)
    lands = pixel_grid(*size) + exact  # where each cell of x is in the view
    margin = 3
    inside = (lands[0] >= margin) & (lands[0] <= size[1] - 1 - margin)
    inside &= (lands[1] >= margin) & (lands[1] <= size[0] - 1 - margin)
    assert inside.mean() > 0.5
    error = np.sqrt(((f - exact) ** 2).sum(0))[inside]
    assert error.max() < 1.0, error.max()
    assert error.mean() < 0.3


def test_warping_there_and_back_gives_the_image():
    size = (48, 48)
    x = smooth_image(size)
    g = affine_flow(size, 10, 1.1, (2, 1)) + elastic_flow(np.random.default_rng(0), size, 3, 12)
    f, _ = invert_flow(g)
    back = torch_warp(torch_warp(x, g), f)
    interior = (slice(None), slice(8, -8), slice(8, -8))
    assert np.abs(back - x)[interior].mean() < 0.03


def test_elastic_maps_are_filled_everywhere_and_mostly_direct(record_property):
    config = AugmentConfig()
    rng = np.random.default_rng(0)
    size = (64, 64)
    fractions = []
    for _ in range(32):
        g = elastic_flow(rng, size, config.elastic_strength * 64, config.elastic_smoothness * 64)
        f, fraction = invert_flow(g)
        assert np.isfinite(f).all()
        fractions.append(fraction)
    mean = float(np.mean(fractions))
    print(
        f"\nAlgorithm C1, default elastic maps at 64x64: {mean:.1%} of cells directly inverted (paper ~80%)"
    )
    record_property("direct_fraction", mean)
    assert 0.7 < mean < 0.9


def test_a_flow_that_leaves_the_grid_gives_zero():
    g = np.full((2, 8, 8), 100.0, dtype=np.float32)
    f, fraction = invert_flow(g)
    assert fraction == 0.0
    assert not f.any()


def test_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match=r"\[2, H, W\]"):
        invert_flow(np.zeros((3, 4, 4)))
