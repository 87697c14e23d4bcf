"""Augmented context views (Sec. 3.2): augmentation flows, blur, occlusion, and the targets of F."""

import time

import numpy as np
import pytest
import torch

from ccvs_core.errors import ConfigError
from ccvs_core.models.warp import warp
from ccvs_core.training.augment import (
    AugmentConfig,
    ContextView,
    _warp_np,
    affine_flow,
    build_context_view,
    elastic_flow,
    gaussian_blur,
    make_context_view,
    random_augmentation_flow,
    random_occlusion,
)
from tests.test_flow_inversion import analytic_inverse, pixel_grid, smooth_image

NO_BLUR_NO_OCCLUSION = AugmentConfig(blur_prob=0, occlusion_prob=0)


def test_affine_flow_with_no_parameters_is_zero():
    flow = affine_flow((7, 9))
    assert flow.shape == (2, 7, 9) and flow.dtype == np.float32
    assert not flow.any()


def test_translation_flow_is_constant():
    flow = affine_flow((6, 8), translate=(2.5, -1))  # content moves right 2.5, up 1
    np.testing.assert_allclose(flow[0], -2.5, atol=1e-6)
    np.testing.assert_allclose(flow[1], 1, atol=1e-6)


def test_rotation_by_90_degrees_turns_content_counter_clockwise():
    flow = affine_flow((9, 9), angle_deg=90)  # centre (4, 4)
    # the view's pixel above the centre, (x, y) = (4, 1), shows x's pixel right of it, (7, 4)
    np.testing.assert_allclose(flow[:, 1, 4], (3, 3), atol=1e-5)
    image = np.zeros((1, 9, 9), dtype=np.float32)
    image[0, 4, 7] = 1
    view = _warp_np(image, flow)
    assert view[0, 1, 4] == pytest.approx(1) and view.sum() == pytest.approx(1)


def test_scaling_up_zooms_in():
    flow = affine_flow((9, 9), scale=2)
    np.testing.assert_allclose(flow[:, 4, 8], (-2, 0), atol=1e-5)  # (8, 4) shows (6, 4)
    assert np.abs(flow[:, 4, 4]).max() < 1e-5


def test_elastic_flow_is_smooth_bounded_and_seeded():
    flow = elastic_flow(np.random.default_rng(3), (40, 48), strength=4, smoothness=10)
    assert flow.shape == (2, 40, 48) and flow.dtype == np.float32
    assert np.sqrt((flow**2).sum(0)).max() == pytest.approx(4, rel=1e-5)
    assert np.abs(np.diff(flow, axis=1)).max() < 1 and np.abs(np.diff(flow, axis=2)).max() < 1
    np.testing.assert_array_equal(flow, elastic_flow(np.random.default_rng(3), (40, 48), 4, 10))


def test_random_augmentation_flow():
    config = AugmentConfig()
    flows = [random_augmentation_flow(np.random.default_rng(s), (32, 32), config) for s in range(8)]
    assert all(f.shape == (2, 32, 32) and f.dtype == np.float32 and np.isfinite(f).all() for f in flows)
    assert sum(bool(f.any()) for f in flows) >= 5
    off = AugmentConfig(rotation_prob=0, scale_prob=0, translation_prob=0, elastic_prob=0)
    assert not random_augmentation_flow(np.random.default_rng(0), (8, 8), off).any()


def test_gaussian_blur():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 16, 20)).astype(np.float32)
    blurred = gaussian_blur(image, 1.0)
    assert blurred.shape == image.shape and blurred.dtype == np.float32
    assert blurred.std() < 0.5 * image.std()
    np.testing.assert_array_equal(gaussian_blur(image, 0), image)
    np.testing.assert_allclose(gaussian_blur(np.full((1, 5, 5), 0.7), 2.0), 0.7, atol=1e-6)
    impulse = np.zeros((1, 15, 15), dtype=np.float32)
    impulse[0, 7, 7] = 1
    spread = gaussian_blur(impulse, 1.5)[0]
    np.testing.assert_allclose(spread, spread.T, atol=1e-7)
    assert spread.sum() == pytest.approx(1, abs=1e-5) and spread.argmax() == 7 * 15 + 7


def test_random_occlusion():
    mask = random_occlusion(np.random.default_rng(1), (32, 40), AugmentConfig())
    assert mask.shape == (32, 40) and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0} and 0 < mask.mean() < 1


def test_numpy_warp_matches_the_model_warp():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 12, 15)).astype(np.float32)
    flow = rng.normal(0, 4, size=(2, 12, 15)).astype(np.float32)
    expected = warp(torch.from_numpy(image[None]), torch.from_numpy(flow[None]), padding_mode="border")[0]
    np.testing.assert_allclose(_warp_np(image, flow), expected.numpy(), atol=1e-5)


def test_context_view_shapes_dtypes_and_determinism():
    frame = smooth_image((32, 48))
    view = make_context_view(frame, np.random.default_rng(7), AugmentConfig())
    assert isinstance(view, ContextView)
    for name, shape in [("image", (3, 32, 48)), ("flow", (2, 32, 48)), ("mask", (1, 32, 48))]:
        assert getattr(view, name).shape == shape and getattr(view, name).dtype == np.float32, name
    assert view.augmentation.shape == (2, 32, 48) and view.occlusion.shape == (1, 32, 48)
    assert set(np.unique(view.mask)) <= {0.0, 1.0} and 0 < view.direct_fraction <= 1
    again = make_context_view(frame, np.random.default_rng(7), AugmentConfig())
    for name in ("image", "flow", "mask", "augmentation", "occlusion"):
        np.testing.assert_array_equal(getattr(view, name), getattr(again, name))
    other = make_context_view(frame, np.random.default_rng(8), AugmentConfig())
    assert not np.array_equal(view.image, other.image)


def test_translated_view_with_an_occluder_has_the_exact_targets():
    size = (20, 24)
    frame = smooth_image(size)
    occluder = np.zeros(size, dtype=np.float32)
    occluder[5:9, 10:16] = 1  # context coordinates
    view = build_context_view(frame, affine_flow(size, translate=(3, -2)), occluder, 0.0, 1.5)
    # context pixel p shows x at p + (-3, 2): the occluder covers x's rows 7:11, cols 7:13
    expected = np.zeros(size, dtype=np.float32)
    expected[7:11, 7:13] = 1
    expected[:, 21:] = 1  # x's columns 21-23 are not in the view (moved out on the right)
    expected[:2, :] = 1  # nor are rows 0-1 (moved out at the top)
    np.testing.assert_array_equal(view.mask[0], expected)
    np.testing.assert_allclose(view.flow[0], 3, atol=1e-5)
    np.testing.assert_allclose(view.flow[1], -2, atol=1e-5)
    assert (view.image[:, 5:9, 10:16] == 0).all()  # occluded pixels are 0
    assert (view.image[:, :, :3] == 0).all() and (view.image[:, -2:, :] == 0).all()  # sampled outside x
    back = _warp_np(view.image, view.flow)
    np.testing.assert_allclose(back[:, expected == 0], frame[:, expected == 0], atol=1e-5)


@pytest.mark.parametrize(("angle", "scale", "translate"), [(15, 1.15, (2, -3)), (-10, 0.85, (0, 0))])
def test_mask_of_an_occluder_free_affine_view(angle, scale, translate):
    size = (48, 48)
    frame = smooth_image(size)
    view = build_context_view(frame, affine_flow(size, angle, scale, translate), np.zeros(size), 0.0, 1.5)
    lands = pixel_grid(*size) + analytic_inverse(size, angle, scale, translate)  # cell of x -> view
    distance_inside = np.minimum(  # > 0 inside the view's pixel extent
        np.minimum(lands[0] + 0.5, size[1] - 0.5 - lands[0]),
        np.minimum(lands[1] + 0.5, size[0] - 0.5 - lands[1]),
    )
    mask = view.mask[0]
    interior = np.zeros(size, dtype=bool)
    interior[2:-2, 2:-2] = True  # x's own border is half covered by the view's outside-of-x pixels
    assert (mask[(distance_inside > 2) & interior] == 0).all()
    assert (mask[distance_inside < -2] == 1).all()  # includes the rim a zoom in crops away


def test_context_reconstructs_the_frame_where_the_mask_is_zero():
    frame = smooth_image((64, 64), seed=2)
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(12):
        view = make_context_view(frame, rng, NO_BLUR_NO_OCCLUSION)
        visible = view.mask[0] == 0
        assert visible.mean() > 0.3
        back = _warp_np(view.image, view.flow)
        errors.append(np.abs(back - frame)[:, visible].mean())
    assert max(errors) < 0.05, errors


def test_occluders_are_masked_after_warping():
    frame = smooth_image((64, 64), seed=3)
    config = AugmentConfig(blur_prob=0, occlusion_prob=1)
    for seed in range(4):
        view = make_context_view(frame, np.random.default_rng(seed), config)
        occluded_source = _warp_np(view.occlusion, view.flow)[0]  # o_c seen from x
        assert (view.mask[0][occluded_source > 0.99] == 1).all()
        assert (view.image[:, view.occlusion[0] == 1] == 0).all()


def test_config_checks_its_ranges():
    with pytest.raises(ConfigError, match="scale_range"):
        AugmentConfig(scale_range=(1.2, 0.9))
    with pytest.raises(ConfigError, match="rotation_prob"):
        AugmentConfig(rotation_prob=1.5)
    config = AugmentConfig(max_rotation_deg=5)
    assert AugmentConfig.from_dict(config.to_dict()) == config


def test_a_context_view_takes_a_few_milliseconds():
    frame = smooth_image((64, 64))
    rng = np.random.default_rng(0)
    make_context_view(frame, rng, AugmentConfig())
    start = time.perf_counter()
    for _ in range(50):
        make_context_view(frame, rng, AugmentConfig())
    ms = (time.perf_counter() - start) / 50 * 1e3
    print(f"\nmake_context_view at 64x64: {ms:.2f} ms")
    assert ms < 100
