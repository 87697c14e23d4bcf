"""SSIM, the structural similarity index (Wang et al. 2004; paper Sec. 4, "Metrics").

Exactly scikit-image's ``structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=L, channel_axis=-1)``, batched over frames in torch:

* local weighted means, variances and covariance with a Gaussian window, sigma 1.5 truncated at 3.5
  sigma (radius r = int(3.5 * 1.5 + 0.5) = 5, an 11x11 window), normalised to sum 1; population
  (not sample) covariances;
* per pixel ``S = (2 ux uy + C1)(2 vxy + C2) / ((ux^2 + uy^2 + C1)(vx + vy + C2))`` with
  ``C1 = (K1 L)^2``, ``C2 = (K2 L)^2``, K1 = 0.01, K2 = 0.03;
* the mean of S over the frame *without its r-pixel border*, per channel, then the mean over channels.

Border: scikit-image filters the whole image (scipy.ndimage, mode='reflect') and then crops r pixels
from every side of S before averaging. Every pixel that survives the crop has its whole 11x11 window
inside the image, so the reflected values never reach the mean: a *valid* (unpadded) separable
filter gives exactly the cropped map, and is what ``_ssim_map`` computes (it matches scikit-image's
``full=True`` map cropped by r to about 1e-12).
"""

from __future__ import annotations

import torch

from ccvs_core.errors import InputError
from ccvs_core.metrics.psnr import frame_pair, per_frame_in_chunks

SIGMA = 1.5  # Gaussian window's standard deviation (Wang et al. 2004)
TRUNCATE = 3.5  # window radius in sigmas, as scikit-image sets it for gaussian_weights=True
K1 = 0.01  # C1 = (K1 L)^2 stabilises the luminance term
K2 = 0.03  # C2 = (K2 L)^2 stabilises the contrast-structure term
RADIUS = int(TRUNCATE * SIGMA + 0.5)  # 5, rounded as scipy.ndimage does
WINDOW = 2 * RADIUS + 1  # 11


def gaussian_window() -> torch.Tensor:
    """The 1D window ``[WINDOW]`` in float64, as scipy.ndimage's ``_gaussian_kernel1d`` makes it."""
    x = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64)
    phi = torch.exp(-0.5 / SIGMA**2 * x**2)
    return phi / phi.sum()


def _correlate_valid(maps: torch.Tensor, window: list[float], dim: int) -> torch.Tensor:
    """1D correlation of ``maps`` with ``window`` along ``dim``, no padding (the size shrinks by 2r)."""
    n = maps.shape[dim] - len(window) + 1
    out = maps.narrow(dim, 0, n) * window[0]
    for i, weight in enumerate(window[1:], start=1):  # one multiply-add per tap, over all frames at once
        out.add_(maps.narrow(dim, i, n), alpha=weight)
    return out


def _filter_valid(maps: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter without padding: ``[..., H, W]`` -> ``[..., H - 2r, W - 2r]``.

    Written as shifted multiply-adds rather than ``F.conv2d``: in float64 on the CPU, conv2d takes a
    slow path (5 to 20 times slower on 2 cores); on the GPU both are memory-bound."""
    window = gaussian_window().tolist()
    return _correlate_valid(_correlate_valid(maps, window, -2), window, -1)


def _ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """Per-pixel SSIM of float64 frames ``[n, C, H, W]`` -> ``[n, C, H - 2r, W - 2r]`` (scikit-image's
    ``full=True`` map, cropped by r on every side)."""
    ux, uy, uxx, uyy, uxy = _filter_valid(torch.stack((x, y, x * x, y * y, x * y)))  # 5 x [n, C, h, w]
    vx = uxx - ux * ux  # population (co)variances: use_sample_covariance=False
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def ssim(a, b, data_range: float | None = None, *, channels_first: bool = False) -> torch.Tensor:
    """Structural similarity of each frame of ``b`` with the same frame of ``a`` (in [-1, 1], 1 = same).

    a, b: frames of the same shape and dtype, torch tensors or numpy arrays; ``[..., H, W, C]``
        (channels last, as ccvs stores frames), or ``[..., C, H, W]`` with ``channels_first=True``;
        uint8 or floating point (mixing the two is an error); H and W at least 11 (the window).
    data_range: L, the span of possible values (max - min): defaults to 255 for uint8 and 1.0 for
        floating point (frames in [0, 1]); pass 2.0 for frames in [-1, 1].

    Returns a float64 tensor of shape ``[...]`` (0-dim for a single frame) on the inputs' device,
    computed in float64: scikit-image's Gaussian SSIM (see the module docstring) frame by frame, all
    frames at once. For ``[B, T]`` values, ``.mean(0)`` gives the score per time step t.
    """
    x, y, lead, data_range = frame_pair(a, b, data_range, channels_first, "ssim")
    h, w = x.shape[-2:]
    if h < WINDOW or w < WINDOW:
        raise InputError(
            "ssim() argument 'a'",
            f"frames are {h}x{w} (HxW), smaller than the {WINDOW}x{WINDOW} Gaussian window (sigma {SIGMA})",
        )

    def score(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        return _ssim_map(xs, ys, data_range).mean(dim=(2, 3)).mean(dim=1)  # per channel, then channels

    return per_frame_in_chunks(score, x, y, lead)
