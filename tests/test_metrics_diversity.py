"""DIV, its motion mask (Lucas–Kanade), and the spreads of scores over videos and runs."""

import numpy as np
import pytest
import torch

from ccvs_core.errors import InputError
from ccvs_core.metrics.diversity import diversity
from ccvs_core.metrics.intervals import confidence_interval, over_runs
from ccvs_core.metrics.motion import estimate_flow, moving_mask


def textured(h=32, w=32, shift=0.0):
    """A smooth texture translated right by ``shift`` pixels: float [H, W, 3] in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x = xx - shift
    base = 0.5 + 0.25 * np.sin(x / 3.0) * np.cos(yy / 4.0) + 0.2 * np.sin((x + yy) / 5.0)
    return np.stack([base, base * 0.8, 1 - base], -1)


def test_flow_finds_a_small_translation():
    a, b = torch.from_numpy(textured()[None]), torch.from_numpy(textured(shift=1.5)[None])
    flow = estimate_flow(a, b)[0, :, 8:-8, 8:-8]  # away from the borders
    assert flow[0].mean().item() == pytest.approx(1.5, abs=0.2)
    assert flow[1].abs().mean().item() < 0.2


def test_the_moving_mask_keeps_the_moving_square_only():
    video = np.zeros((2, 32, 32, 3))
    video[0, 8:16, 8:16] = textured(8, 8)
    video[1, 8:16, 10:18] = textured(8, 8)  # the square moves 2 px right
    mask = moving_mask(torch.from_numpy(video))[0]
    assert mask[6:18, 6:20].sum() > 10 and not mask[24:, :].any() and not mask[:, 26:].any()


def test_div_is_zero_for_identical_samples_and_grows_with_difference():
    video = torch.from_numpy(np.stack([textured(shift=s) for s in range(4)]))
    same = diversity(torch.stack([video, video, video]))
    assert same == {"whole": 0.0, "moving": 0.0}
    apart = diversity(torch.stack([video, video.flip(0)]))
    assert apart["whole"] > 0 and apart["moving"] > 0
    uint8 = diversity((torch.stack([video, video.flip(0)]) * 255).round().to(torch.uint8))
    assert uint8["whole"] == pytest.approx(apart["whole"], abs=2e-3)
    with pytest.raises(InputError, match="K >= 2 samples"):
        diversity(video[None])


def test_intervals_over_videos_and_runs():
    interval = confidence_interval([1.0, 2.0, 3.0])
    assert interval.mean == 2.0 and interval.half_width == pytest.approx(1.96 / 3**0.5)
    assert confidence_interval([0.5]).half_width == 0
    assert over_runs([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    with pytest.raises(InputError, match="non-empty"):
        confidence_interval([])
