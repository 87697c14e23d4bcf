"""Attention backends agree with the explicit-softmax reference, with and without a key/value cache."""

import pytest
import torch

from ccvs_core.errors import ConfigError
from ccvs_core.models.attention import attention, causal_mask, resolve_backend, xformers_available


@pytest.mark.parametrize(("lq", "lk"), [(7, 7), (1, 9), (3, 9), (16, 16)])
def test_sdpa_agrees_with_naive(lq, lk):
    generator = torch.Generator().manual_seed(lq * 100 + lk)
    q = torch.randn(2, 3, lq, 8, generator=generator)
    k, v = torch.randn(2, 2, 3, lk, 8, generator=generator)
    assert torch.allclose(attention(q, k, v, "sdpa"), attention(q, k, v, "naive"), atol=1e-5)


def test_the_mask_is_aligned_to_the_bottom_right():
    assert causal_mask(2, 4, torch.device("cpu")).tolist() == [
        [True, True, True, False],
        [True, True, True, True],
    ]
    # one query after 4 cached keys equals the last row of the full computation
    q, k, v = torch.randn(3, 1, 2, 5, 4)
    full = attention(q, k, v, "naive")
    assert torch.allclose(attention(q[:, :, -1:], k, v, "sdpa"), full[:, :, -1:], atol=1e-6)


def test_backend_choice():
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu) == "sdpa"
    with pytest.raises(ConfigError, match="'xformers' cannot be used on cpu"):
        resolve_backend("xformers", cpu)
    with pytest.raises(ConfigError, match="must be one of"):
        resolve_backend("flash", cpu)


@pytest.mark.skipif(
    not torch.cuda.is_available() or not xformers_available(), reason="needs CUDA and xformers"
)
def test_xformers_agrees_with_naive_on_cuda():
    q, k, v = torch.randn(3, 2, 4, 33, 16, device="cuda")
    for lq in (33, 5, 1):
        expected = attention(q[:, :, -lq:], k, v, "naive")
        assert torch.allclose(attention(q[:, :, -lq:], k, v, "xformers"), expected, atol=1e-5)
