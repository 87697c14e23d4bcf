"""PSNR, the pairwise image quality score of the paper (Sec. 4, "Metrics"), and the input checks that
PSNR and SSIM share.

Both metrics take two stacks of frames of the same shape, ``[..., H, W, C]`` by default (channels last,
as ccvs stores frames: ``[T, H, W, 3]``, ``[B, T, H, W, 3]``) or ``[..., C, H, W]`` with
``channels_first=True``, and return one float64 value per frame, shaped ``[...]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from einops import rearrange

from ccvs_core.errors import InputError

# Frames are converted to float64 and scored this many elements at a time, so that a whole test set
# scored in one call needs a bounded amount of memory (a 256x256 RGB frame is 196608 elements).
CHUNK_ELEMENTS = 2**22


def _as_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        value = np.ascontiguousarray(value)
        # torch refuses to share read-only memory (np.broadcast_to views, memory maps): copy those
        return torch.from_numpy(value if value.flags.writeable else value.copy())
    raise InputError(name, f"must be a torch tensor or a numpy array, got {type(value).__name__}")


def _data_range(data_range, dtype: torch.dtype, metric: str) -> float:
    """``data_range`` as a float: given, or 255 for uint8 and 1.0 for floating-point frames."""
    if data_range is None:
        return 255.0 if dtype == torch.uint8 else 1.0
    if isinstance(data_range, torch.Tensor) and data_range.numel() == 1:
        data_range = data_range.item()
    if isinstance(data_range, bool) or not isinstance(data_range, int | float | np.number):
        raise InputError(f"{metric}() argument 'data_range'", f"must be a number, got {data_range!r}")
    value = float(data_range)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{metric}() argument 'data_range'", f"must be finite and > 0, got {data_range!r}")
    return value


def frame_pair(
    a, b, data_range, channels_first: bool, metric: str
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...], float]:
    """Check the two inputs of ``metric`` and flatten them to frames.

    Returns ``(x, y, lead, data_range)``: ``x`` and ``y`` are ``[N, C, H, W]`` in the inputs' dtype (not
    yet float64), ``lead`` the leading dims ``[...]`` (N = their product), ``data_range`` a float.
    """
    a = _as_tensor(a, f"{metric}() argument 'a'")
    b = _as_tensor(b, f"{metric}() argument 'b'")
    for name, t in (("a", a), ("b", b)):
        if t.dtype != torch.uint8 and not t.is_floating_point():
            raise InputError(
                f"{metric}() argument '{name}'", f"must be uint8 or floating point, got {t.dtype}"
            )
    if b.dtype != a.dtype:
        raise InputError(f"{metric}() argument 'b'", f"has dtype {b.dtype} but 'a' has {a.dtype}")
    if b.shape != a.shape:
        raise InputError(f"{metric}() argument 'b'", f"has shape {list(b.shape)} but 'a' has {list(a.shape)}")
    if b.device != a.device:
        raise InputError(f"{metric}() argument 'b'", f"is on {b.device} but 'a' is on {a.device}")
    layout = "[..., C, H, W]" if channels_first else "[..., H, W, C]"
    if a.ndim < 3 or 0 in a.shape[-3:]:
        raise InputError(f"{metric}() argument 'a'", f"must be frames {layout}, got shape {list(a.shape)}")
    lead = tuple(a.shape[:-3])
    if channels_first:
        x, y = (rearrange(t, "... c h w -> (...) c h w") for t in (a, b))
    else:
        x, y = (rearrange(t, "... h w c -> (...) c h w") for t in (a, b))
    return x, y, lead, _data_range(data_range, a.dtype, metric)


def per_frame_in_chunks(
    score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    lead: tuple[int, ...],
) -> torch.Tensor:
    """``score`` (float64 ``[n, C, H, W]`` pairs -> ``[n]``) over all frames, at most ``CHUNK_ELEMENTS``
    input elements per call (whole frames, vectorised within a chunk); the result is shaped ``lead``."""

    def chunks() -> Iterator[torch.Tensor]:
        frames_per_chunk = max(1, CHUNK_ELEMENTS // x[0].numel()) if len(x) else 1
        for xs, ys in zip(x.split(frames_per_chunk), y.split(frames_per_chunk), strict=True):
            yield score(xs.to(torch.float64), ys.to(torch.float64))

    values = list(chunks())
    if not values:
        return torch.empty(lead, dtype=torch.float64, device=x.device)
    return torch.cat(values).reshape(lead)


def _psnr_frames(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """PSNR = 10 log10(L^2 / MSE), MSE over every pixel and channel of a frame: ``[n, C, H, W]`` -> ``[n]``."""
    mse = (x - y).square().mean(dim=(1, 2, 3))
    return 10 * torch.log10(data_range**2 / mse)  # mse == 0 -> +inf


def psnr(a, b, data_range: float | None = None, *, channels_first: bool = False) -> torch.Tensor:
    """Peak signal-to-noise ratio of each frame of ``b`` against the same frame of ``a``, in dB.

    a, b: frames of the same shape and dtype, torch tensors or numpy arrays; ``[..., H, W, C]``
        (channels last, as ccvs stores frames), or ``[..., C, H, W]`` with ``channels_first=True``;
        uint8 or floating point (mixing the two is an error).
    data_range: L, the span of possible values (max - min): defaults to 255 for uint8 and 1.0 for
        floating point (frames in [0, 1]); pass 2.0 for frames in [-1, 1].

    Returns a float64 tensor of shape ``[...]`` (0-dim for a single frame) on the inputs' device:
    ``10 log10(L^2 / MSE)`` with the MSE over all pixels and channels of the frame, computed in float64.
    Identical frames (MSE 0) give ``+inf``. Same value as scikit-image's ``peak_signal_noise_ratio``
    on one frame with the same ``data_range``. For ``[B, T]`` values, ``.mean(0)`` gives the score per
    time step t (``inf`` if some frame at t is identical; filter with ``torch.isfinite`` if needed).
    """
    x, y, lead, data_range = frame_pair(a, b, data_range, channels_first, "psnr")
    return per_frame_in_chunks(lambda xs, ys: _psnr_frames(xs, ys, data_range), x, y, lead)
