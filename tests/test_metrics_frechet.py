"""The Frechet distance: known Gaussians, a scipy.linalg.sqrtm reference, 0 for identical sets."""

import numpy as np
import pytest
import torch
from scipy import linalg

from ccvs_core.errors import InputError
from ccvs_core.metrics.frechet import fit_gaussian, frechet_distance, frechet_distance_of


def reference(x: np.ndarray, y: np.ndarray) -> float:
    """The usual float64 formula with scipy's general matrix square root."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


@pytest.mark.parametrize("dims", [2, 16, 64])
def test_agrees_with_the_scipy_reference(dims):
    rng = np.random.default_rng(dims)
    x = rng.normal(size=(400, dims)) @ rng.normal(size=(dims, dims))
    y = rng.normal(size=(300, dims)) @ rng.normal(size=(dims, dims)) * 0.7 + 0.5
    ours = frechet_distance_of(x, y)
    assert ours == pytest.approx(reference(x, y), rel=1e-6)
    assert frechet_distance_of(torch.from_numpy(x).float(), y) == pytest.approx(ours, rel=1e-4)


def test_known_gaussians():
    # N(mu1, s1^2 I) vs N(mu2, s2^2 I) in D dims: |mu1 - mu2|^2 + D (s1 - s2)^2
    fit = lambda mean, sd: type(fit_gaussian(np.zeros((2, 3))))(  # noqa: E731
        torch.tensor(mean, dtype=torch.float64), torch.eye(3, dtype=torch.float64) * sd**2, 100
    )
    assert frechet_distance(fit([0, 0, 0], 1.0), fit([3, 4, 0], 1.0)) == pytest.approx(25.0)
    assert frechet_distance(fit([0, 0, 0], 1.0), fit([0, 0, 0], 3.0)) == pytest.approx(3 * 4.0)


def test_identical_sets_are_at_zero_even_when_rank_deficient():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 32))  # 10 vectors in 32 dims: a singular covariance
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-9)


def test_bad_features_are_refused():
    with pytest.raises(InputError, match="N >= 2"):
        fit_gaussian(np.zeros((1, 4)))
    with pytest.raises(InputError, match="NaN"):
        fit_gaussian(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(InputError, match="have 4 and 3 dimensions"):
        frechet_distance_of(np.zeros((3, 4)), np.zeros((3, 3)))
