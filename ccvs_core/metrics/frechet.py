"""The Frechet distance between two Gaussians fitted to feature sets — the distance behind FVD (paper
Sec. 4, "Metrics"; Unterthiner et al. 2018):

    d^2 = |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1^1/2 S_2 S_1^1/2)^1/2)

Numerically careful, in float64: both square roots are of symmetric positive semi-definite matrices,
taken by symmetric eigendecomposition (``torch.linalg.eigh``) with the tiny negative eigenvalues that
rounding leaves clipped to 0 — no complex parts to discard, unlike a general ``sqrtm(S_1 S_2)``.
``Tr((S_1^1/2 S_2 S_1^1/2)^1/2) = Tr((S_1 S_2)^1/2)``, the usual form, since both matrices have the same
eigenvalues.
"""

from __future__ import annotations

import attrs
import numpy as np
import torch

from ccvs_core.errors import InputError


@attrs.frozen(eq=False)
class GaussianFit:
    """Mean ``[D]`` and sample covariance ``[D, D]`` (ddof 1, as FVD and FID use) of ``count`` feature
    vectors, in float64."""

    mean: torch.Tensor
    covariance: torch.Tensor
    count: int


def fit_gaussian(features: torch.Tensor | np.ndarray) -> GaussianFit:
    """Features ``[N, D]`` (N >= 2) -> their mean and sample covariance in float64."""
    x = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
    if x.ndim != 2 or x.shape[0] < 2:
        raise InputError("features", f"need [N, D] with N >= 2 vectors, got shape {tuple(x.shape)}")
    x = x.to(torch.float64)
    if not torch.isfinite(x).all():
        raise InputError("features", "contain NaN or infinity")
    mean = x.mean(0)
    centred = x - mean
    return GaussianFit(mean, centred.T @ centred / (x.shape[0] - 1), int(x.shape[0]))


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (rounding's negative eigenvalues -> 0)."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(a: GaussianFit, b: GaussianFit) -> float:
    """The squared Frechet distance between two fitted Gaussians (0 for identical fits)."""
    if a.mean.shape != b.mean.shape:
        raise InputError("features", f"have {a.mean.shape[0]} and {b.mean.shape[0]} dimensions")
    root = _sqrt_psd(a.covariance)
    inner = root @ b.covariance @ root
    cross = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    difference = (a.mean - b.mean).pow(2).sum()
    value = difference + torch.trace(a.covariance) + torch.trace(b.covariance) - 2 * cross
    return max(0.0, float(value))  # rounding can leave -1e-12 for identical sets


def frechet_distance_of(features_a, features_b) -> float:
    """``frechet_distance`` of the Gaussians fitted to two feature sets ``[N, D]`` and ``[M, D]``."""
    return frechet_distance(fit_gaussian(features_a), fit_gaussian(features_b))
