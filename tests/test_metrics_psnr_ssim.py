"""ccvs_core.metrics psnr / ssim against scikit-image (the reference the paper's numbers come from):
random, synthetic and natural frames, uint8 and float, several sizes, batched == frame by frame, errors."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ccvs_core.errors import InputError
from ccvs_core.metrics import psnr, ssim
from ccvs_core.metrics.ssim import WINDOW, _ssim_map, gaussian_window

# the module, not the function psnr() that ccvs_core.metrics exports under the same name
psnr_module = importlib.import_module("ccvs_core.metrics.psnr")

TOL = 1e-4  # absolute, on PSNR (dB) and on SSIM


def sk_ssim(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=-1,
    )


def sk_psnr(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    return peak_signal_noise_ratio(a, b, data_range=data_range)


def reference(metric: str, a: np.ndarray, b: np.ndarray, data_range: float) -> np.ndarray:
    """scikit-image's value for every frame of ``[..., H, W, C]`` stacks, shaped ``[...]``."""
    fn = sk_ssim if metric == "ssim" else sk_psnr
    lead = a.shape[:-3]
    a, b = a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:])
    return np.array([fn(x, y, data_range) for x, y in zip(a, b, strict=True)]).reshape(lead)


def synthetic(h: int, w: int, seed: int) -> np.ndarray:
    """A natural-looking uint8 frame [H, W, 3]: smooth colour gradients, a disc, a bar, mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.5 + 0.3 * np.sin(6 * (xx + yy))], axis=-1)
    cy, cx, r = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w, 0.25 * min(h, w)
    img[(np.mgrid[0:h, 0:w][0] - cy) ** 2 + (np.mgrid[0:h, 0:w][1] - cx) ** 2 < r**2] = rng.uniform(0, 1, 3)
    img[h // 5 : h // 5 + max(1, h // 8), :] *= 0.4
    img += rng.normal(0, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def degrade(frames: np.ndarray, seed: int, strength: int = 25) -> np.ndarray:
    """uint8 frames with noise and a one-pixel shift: a plausible 'synthesized' counterpart."""
    rng = np.random.default_rng(seed)
    shifted = np.roll(frames, 1, axis=-2).astype(np.int64)
    return np.clip(shifted + rng.integers(-strength, strength + 1, frames.shape), 0, 255).astype(np.uint8)


def astronaut(h: int, w: int) -> np.ndarray:
    """skimage.data.astronaut() (ships inside scikit-image: no download), downsampled 4x and cropped."""
    return np.ascontiguousarray(skdata.astronaut()[::4, ::4][:h, :w])


def pair(kind: str, h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(
            0, 256, (h, w, 3), dtype=np.uint8
        )
    a = synthetic(h, w, seed) if kind == "synthetic" else astronaut(h, w)
    return a, degrade(a, seed)


CASES = [
    ("random", 16, 16),
    ("random", 11, 11),  # the smallest frame SSIM accepts: one window
    ("random", 23, 40),
    ("synthetic", 16, 16),
    ("synthetic", 37, 64),
    ("synthetic", 96, 72),
    ("astronaut", 128, 128),
    ("astronaut", 48, 100),
]


@pytest.mark.parametrize("metric", ["psnr", "ssim"])
@pytest.mark.parametrize(("kind", "h", "w"), CASES)
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_matches_scikit_image(metric, kind, h, w, dtype):
    a, b = pair(kind, h, w, seed=h * w)
    if dtype != "uint8":  # float frames in [0, 1], not on the uint8 grid
        rng = np.random.default_rng(0)
        a = np.clip(a / 255 + rng.normal(0, 0.01, a.shape), 0, 1).astype(dtype)
        b = np.clip(b / 255 + rng.normal(0, 0.01, b.shape), 0, 1).astype(dtype)
    data_range = 255 if dtype == "uint8" else 1.0
    fn = psnr if metric == "psnr" else ssim
    got = fn(torch.from_numpy(a), torch.from_numpy(b))  # default data_range: 255 / 1.0
    assert got.dtype == torch.float64 and got.shape == ()
    assert abs(got.item() - reference(metric, a, b, data_range)) < TOL


@pytest.mark.parametrize("metric", ["psnr", "ssim"])
def test_float_frames_in_minus_one_one_with_data_range_two(metric):
    a, b = pair("synthetic", 40, 32, seed=3)
    a, b = a.astype(np.float64) / 127.5 - 1, b.astype(np.float64) / 127.5 - 1
    fn = psnr if metric == "psnr" else ssim
    assert abs(fn(a, b, data_range=2.0).item() - reference(metric, a, b, 2.0)) < TOL


@pytest.mark.parametrize("metric", ["psnr", "ssim"])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_batched_equals_frame_by_frame(metric, dtype):
    frames = np.stack([synthetic(24, 36, seed) for seed in range(6)]).reshape(
        2, 3, 24, 36, 3
    )  # [B, T, H, W, 3]
    fakes = degrade(frames, seed=7)
    if dtype == "float32":
        frames, fakes = (frames / 255).astype(np.float32), (fakes / 255).astype(np.float32)
    fn = psnr if metric == "psnr" else ssim
    batched = fn(torch.from_numpy(frames), torch.from_numpy(fakes))
    assert batched.shape == (2, 3)
    one_by_one = torch.stack(
        [
            torch.stack([fn(x, y) for x, y in zip(xs, ys, strict=True)])
            for xs, ys in zip(frames, fakes, strict=True)
        ]
    )
    torch.testing.assert_close(batched, one_by_one, rtol=0, atol=1e-12)
    data_range = 255 if dtype == "uint8" else 1.0
    np.testing.assert_allclose(
        batched.numpy(), reference(metric, frames, fakes, data_range), rtol=0, atol=TOL
    )
    assert batched.mean(0).shape == (3,)  # the per-time-step score


@pytest.mark.parametrize("metric", ["psnr", "ssim"])
def test_channels_first_numpy_and_chunks_give_the_same_values(metric, monkeypatch):
    frames = np.stack([synthetic(20, 28, seed) for seed in range(5)])  # [T, H, W, 3]
    fakes = degrade(frames, seed=1)
    fn = psnr if metric == "psnr" else ssim
    expected = fn(torch.from_numpy(frames), torch.from_numpy(fakes))
    assert expected.shape == (5,)
    torch.testing.assert_close(fn(frames, fakes), expected, rtol=0, atol=0)  # numpy in
    first = torch.from_numpy(frames).permute(0, 3, 1, 2)
    torch.testing.assert_close(
        fn(first, torch.from_numpy(fakes).permute(0, 3, 1, 2), channels_first=True), expected
    )
    monkeypatch.setattr(psnr_module, "CHUNK_ELEMENTS", 2 * 20 * 28 * 3)  # two frames per chunk
    torch.testing.assert_close(fn(frames, fakes), expected, rtol=0, atol=1e-12)


def test_ssim_map_is_scikit_image_full_map_without_its_border():
    """The border argument of ccvs_core/metrics/ssim.py: the valid filter == skimage's reflect-padded map,
    cropped by (win_size - 1) // 2 on every side."""
    a, b = pair("astronaut", 40, 52, seed=0)
    r = (WINDOW - 1) // 2
    _, full = structural_similarity(
        a[..., 0],
        b[..., 0],
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        full=True,
    )
    x, y = (torch.from_numpy(t[..., 0]).double()[None, None] for t in (a, b))
    ours = _ssim_map(x, y, 255.0)[0, 0].numpy()
    np.testing.assert_allclose(ours, full[r:-r, r:-r], rtol=0, atol=1e-10)
    assert WINDOW == 11 and abs(gaussian_window().sum().item() - 1) < 1e-15


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_identical_frames_give_inf_psnr_and_ssim_one(dtype):
    frames = torch.from_numpy(np.stack([synthetic(16, 16, 0), synthetic(16, 16, 1)])).to(dtype)
    assert torch.isinf(psnr(frames, frames.clone())).all() and (psnr(frames, frames) > 0).all()
    torch.testing.assert_close(
        ssim(frames, frames.clone()), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-12
    )


def test_empty_batch_gives_empty_values():
    empty = torch.zeros(0, 4, 16, 16, 3, dtype=torch.uint8)
    assert psnr(empty, empty).shape == (0, 4) and ssim(empty, empty).shape == (0, 4)


@pytest.mark.parametrize("metric", ["psnr", "ssim"])
@pytest.mark.parametrize(
    ("a", "b", "kwargs", "argument", "problem"),
    [
        (torch.zeros(2, 16, 16, 3), torch.zeros(2, 16, 17, 3), {}, "'b'", "shape [2, 16, 17, 3]"),
        (torch.zeros(16, 16, 3, dtype=torch.uint8), torch.zeros(16, 16, 3), {}, "'b'", "dtype torch.float32"),
        (torch.zeros(16, 16, 3, dtype=torch.int64), torch.zeros(16, 16, 3), {}, "'a'", "uint8 or floating"),
        (torch.zeros(16, 16), torch.zeros(16, 16), {}, "'a'", "[..., H, W, C]"),
        (
            torch.zeros(3, 16, 16),
            torch.zeros(3, 16, 16),
            {"channels_first": True, "data_range": 0},
            "'data_range'",
            "> 0",
        ),
        ([[[0.0]]], torch.zeros(1, 1, 1), {}, "'a'", "torch tensor or a numpy array"),
    ],
)
def test_bad_inputs_raise_input_error_naming_the_argument(metric, a, b, kwargs, argument, problem):
    fn = psnr if metric == "psnr" else ssim
    with pytest.raises(InputError) as err:
        fn(a, b, **kwargs)
    assert err.value.subject == f"{metric}() argument {argument}"
    assert problem in err.value.problem


def test_ssim_rejects_frames_smaller_than_the_window():
    small = torch.zeros(4, 10, 16, 3, dtype=torch.uint8)
    assert psnr(small, small).shape == (4,)  # PSNR has no window
    with pytest.raises(InputError, match=r"ssim\(\) argument 'a': frames are 10x16 .* 11x11"):
        ssim(small, small)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("metric", ["psnr", "ssim"])
def test_cuda_gives_the_cpu_values_on_the_inputs_device(metric):
    frames = torch.from_numpy(np.stack([synthetic(32, 48, seed) for seed in range(4)]))
    fakes = torch.from_numpy(degrade(frames.numpy(), seed=2))
    fn = psnr if metric == "psnr" else ssim
    on_gpu = fn(frames.cuda(), fakes.cuda())
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), fn(frames, fakes), rtol=0, atol=1e-10)
