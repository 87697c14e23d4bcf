"""Warp, match/refine/fuse and the multi-context aggregation of the flow module F."""

import math

import pytest
import torch

from ccvs_core.models.flow import FlowLevel, aggregate_contexts, correlation, displacements, fuse
from ccvs_core.models.warp import inside_frame, resize_flow, warp


def test_warp_with_zero_flow_is_identity():
    x = torch.randn(2, 5, 7, 9)
    assert torch.allclose(warp(x, torch.zeros(2, 2, 7, 9)), x, atol=1e-6)


@pytest.mark.parametrize(("dx", "dy"), [(1, 0), (0, 2), (-3, 1), (2, -2)])
def test_warp_of_a_known_translation(dx, dy):
    x = torch.randn(1, 3, 10, 12)
    flow = torch.zeros(1, 2, 10, 12)
    flow[:, 0], flow[:, 1] = dx, dy
    out = warp(x, flow)  # out(p) = x(p + (dx, dy))
    ys, xs = slice(max(0, -dy), 10 - max(0, dy)), slice(max(0, -dx), 12 - max(0, dx))
    src_ys, src_xs = slice(ys.start + dy, ys.stop + dy), slice(xs.start + dx, xs.stop + dx)
    assert torch.allclose(out[..., ys, xs], x[..., src_ys, src_xs], atol=1e-5)
    valid = inside_frame(flow)[0, 0]
    assert valid[ys, xs].all() and valid.sum() == (ys.stop - ys.start) * (xs.stop - xs.start)


def test_warp_of_a_half_pixel_is_the_average_of_neighbours():
    x = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 1, 2, 6).contiguous()
    flow = torch.zeros(1, 2, 2, 6)
    flow[:, 0] = 0.5
    assert torch.allclose(warp(x, flow)[0, 0, 0, :5], torch.arange(5.0) + 0.5)


def test_resize_flow_scales_the_vectors():
    flow = torch.ones(1, 2, 4, 4)
    assert torch.allclose(resize_flow(flow, (8, 8)), torch.full((1, 2, 8, 8), 2.0))


def test_fuse_follows_the_mask():
    decoded, context = torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 5)
    assert torch.equal(fuse(decoded, context, torch.full((2, 1, 5, 5), math.inf)), decoded)
    assert torch.equal(fuse(decoded, context, torch.full((2, 1, 5, 5), -math.inf)), context)
    half = fuse(decoded, context, torch.zeros(2, 1, 5, 5))
    assert torch.allclose(half, (decoded + context) / 2)


def test_eq9_with_one_context_equals_eq1():
    decoded = torch.randn(2, 4, 5, 5)
    warped = torch.randn(2, 1, 4, 5, 5)
    mask = torch.randn(2, 1, 1, 5, 5) * 3
    fused_mask, fused_context = aggregate_contexts(mask, warped)
    assert torch.allclose(fused_mask, mask[:, 0]) and torch.allclose(fused_context, warped[:, 0])
    assert torch.allclose(fuse(decoded, fused_context, fused_mask), fuse(decoded, warped[:, 0], mask[:, 0]))


def test_eq9_weights_contexts_by_confidence():
    warped = torch.stack([torch.zeros(1, 2, 3, 3), torch.ones(1, 2, 3, 3)], dim=1)  # [1, 2, 2, 3, 3]
    mask = torch.stack([torch.full((1, 1, 3, 3), 50.0), torch.full((1, 1, 3, 3), -50.0)], dim=1)
    _, fused = aggregate_contexts(mask, warped)
    assert torch.allclose(fused, torch.ones(1, 2, 3, 3))  # the occluded context (m = +50) gets no weight
    useless = torch.full((1, 2, 1, 3, 3), 200.0)  # both contexts deemed useless: still finite, still a mean
    fused_mask, fused = aggregate_contexts(useless, warped)
    assert torch.isfinite(fused).all() and torch.allclose(fused, torch.full_like(fused, 0.5))
    assert torch.allclose(fused_mask, torch.full_like(fused_mask, 200.0))


def test_correlation_peaks_at_the_true_displacement():
    torch.manual_seed(0)
    source = torch.randn(1, 8, 12, 12)
    target = torch.roll(source, shifts=(1, -2), dims=(2, 3))  # target(p) = source(p + (dx=2, dy=-1))
    cost = correlation(target, source, radius=2)
    best = cost[0, :, 4:8, 4:8].mean((1, 2)).argmax()
    assert displacements(2)[best].tolist() == [2, -1]


def test_flow_level_match_finds_a_translation_without_training():
    torch.manual_seed(0)
    level = FlowLevel(channels=8, hidden=8, radius=2)
    context = torch.randn(1, 8, 16, 16)
    decoded = torch.roll(context, shifts=(0, -1), dims=(2, 3))  # decoded(p) = context(p + (1, 0))
    flow, mask = level(decoded, context, torch.zeros(1, 2, 16, 16), torch.zeros(1, 1, 16, 16))
    interior = flow[0, :, 3:-3, 3:-3]
    assert abs(interior[0].mean() - 1) < 0.05 and (interior[0] - 1).abs().max() < 0.1  # dx = 1
    assert interior[1].abs().mean() < 0.05 and interior[1].abs().max() < 0.1  # dy = 0
    assert mask.shape == (1, 1, 16, 16)
