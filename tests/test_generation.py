"""Sampling frame tokens: filters, per-sample seeds, the sliding window, cache == recompute."""

import pytest
import torch

from ccvs_core import InputError, Slot
from ccvs_core.config import TransformerConfig, preset
from ccvs_core.generation import SamplingConfig, filter_logits, generate_frame_tokens, sample_tokens
from ccvs_core.models.transformer import VideoTransformer
from ccvs_core.sequence import SequenceLayout


@pytest.fixture
def model():
    torch.manual_seed(0)
    layout = SequenceLayout((2, 2), 3, [("state", Slot("frame", 1, 4)), ("class", Slot("video", 1, 3))])
    return VideoTransformer(preset(TransformerConfig, "tiny", window=3), layout, frame_vocab=9).eval()


def conditions(frames, batch=2):
    return {
        "state": {"tokens": torch.arange(frames).remainder(4).view(1, frames, 1).repeat(batch, 1, 1)},
        "class": {"tokens": torch.ones(batch, 1, dtype=torch.long)},
    }


def seeds(*values):
    return [torch.Generator().manual_seed(v) for v in values]


def test_filters():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    assert torch.isinf(filter_logits(logits, 2, None)).tolist() == [[True, False, False, True]]
    kept = filter_logits(torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])), None, 0.7)
    assert torch.isfinite(kept).tolist() == [[True, True, False, False]]
    greedy = sample_tokens(logits, SamplingConfig(greedy=True), seeds(0))
    assert greedy.tolist() == [1]
    top1 = [sample_tokens(logits, SamplingConfig(top_k=1), seeds(s)).item() for s in range(5)]
    assert top1 == [1] * 5


@pytest.mark.parametrize(
    "config",
    [SamplingConfig(), SamplingConfig(top_k=3), SamplingConfig(top_k=None, top_p=0.8, temperature=0.7)],
    ids=["top-k 100", "top-k 3", "top-p"],
)
def test_a_batch_draws_what_torch_multinomial_draws_row_by_row(config):
    """The same tokens and the same generator states as one torch.multinomial call per row, the
    draw that sampling made before it was done for the batch at once (seeds keep their videos)."""
    generator = torch.Generator().manual_seed(0)
    for vocabulary in (5, 1024):
        logits = torch.randn(6, vocabulary, generator=generator) * 3
        batch, rows = seeds(*range(6)), seeds(*range(6))
        for _ in range(20):
            probs = filter_logits(logits / config.temperature, config.top_k, config.top_p).softmax(-1)
            expected = [torch.multinomial(p, 1, generator=g).item() for p, g in zip(probs, rows, strict=True)]
            assert sample_tokens(logits, config, batch).tolist() == expected
        assert all(torch.equal(a.get_state(), b.get_state()) for a, b in zip(batch, rows, strict=True))
    with pytest.raises(ValueError, match="NaN or infinity"):
        sample_tokens(torch.full((1, 5), float("nan")), config, seeds(0))


def test_the_sliding_window_makes_more_frames_than_the_model_saw(model):
    context = torch.randint(0, 9, (2, 1, 2, 2))
    frames = generate_frame_tokens(model, context, conditions(7), 7, SamplingConfig(top_k=5), seeds(1, 2))
    assert frames.shape == (2, 7, 2, 2) and torch.equal(frames[:, :1], context)
    assert frames.min() >= 0 and frames.max() < 9


def test_same_seed_same_tokens_other_seed_other_tokens(model):
    context = torch.randint(0, 9, (2, 1, 2, 2))
    run = lambda g: generate_frame_tokens(model, context, conditions(5), 5, SamplingConfig(), g)  # noqa: E731
    assert torch.equal(run(seeds(1, 2)), run(seeds(1, 2)))
    assert not torch.equal(run(seeds(1, 2)), run(seeds(3, 4)))
    # a sample depends on its own seed only, not on the rest of its batch
    assert torch.equal(run(seeds(1, 2))[0], run(seeds(1, 7))[0])


def test_cached_sampling_equals_recomputing_the_prefix(model):
    """Top-k with the same seeds: the generator's cached sampling against a plain loop that runs the
    whole prefix through the model for every token (no cache)."""
    context = torch.randint(0, 9, (2, 1, 2, 2))
    config, cond = SamplingConfig(top_k=4), conditions(3)
    cached = generate_frame_tokens(model, context, cond, 3, config, seeds(5, 6))
    layout, generators = model.layout, seeds(5, 6)
    frames = torch.zeros(2, 3, 2, 2, dtype=torch.long)
    frames[:, 0] = context[:, 0]
    sequence = layout.join(frames, cond)
    for t in (1, 2):
        start = layout.frame_tokens_start(t)
        for position in range(start, start + 4):
            sequence[:, position] = sample_tokens(model(sequence[:, :position])[:, -1], config, generators)
    assert torch.equal(layout.split(sequence)[0], cached)


def test_bad_requests(model):
    context = torch.randint(0, 9, (2, 1, 2, 2))
    with pytest.raises(InputError, match=r"one torch\.Generator per sample"):
        generate_frame_tokens(model, context, conditions(4), 4, SamplingConfig(), seeds(1))
    with pytest.raises(InputError, match="covers 4 frames, the video has 6"):
        generate_frame_tokens(model, context, conditions(4), 6, SamplingConfig(), seeds(1, 2))


def test_zero_context_frames_sample_the_first_frame_too(model):
    empty = torch.zeros(2, 0, 2, 2, dtype=torch.long)
    frames = generate_frame_tokens(model, empty, conditions(4), 4, SamplingConfig(top_k=5), seeds(1, 2))
    assert frames.shape == (2, 4, 2, 2)
    again = generate_frame_tokens(model, empty, conditions(4), 4, SamplingConfig(top_k=5), seeds(1, 2))
    assert torch.equal(frames, again) and not torch.equal(frames[0], frames[1])


@pytest.fixture
def target_model():
    torch.manual_seed(0)
    slots = [("endframe", Slot("target", 4, 9)), ("state", Slot("frame", 1, 4))]
    layout = SequenceLayout((2, 2), 3, slots)
    return VideoTransformer(preset(TransformerConfig, "tiny", window=3, max_gap=16), layout, 9).eval()


def test_a_target_slot_sees_its_gap_to_each_window(target_model):
    """Cached sliding-window sampling against recomputing every prefix, window by window, with the end
    frame's gap = target - the window's first frame (Appendix E)."""
    layout, config = target_model.layout, SamplingConfig(top_k=4)
    end = torch.randint(0, 9, (2, 4), generator=torch.Generator().manual_seed(3))
    cond = {"endframe": {"tokens": end}, "state": conditions(6)["state"]}
    context = torch.randint(0, 9, (2, 1, 2, 2), generator=torch.Generator().manual_seed(4))
    targets = {"endframe": torch.tensor([5, 5])}
    cached = generate_frame_tokens(target_model, context, cond, 6, config, seeds(5, 6), targets=targets)
    generators, frames = seeds(5, 6), torch.zeros(2, 6, 2, 2, dtype=torch.long)
    frames[:, 0] = context[:, 0]
    for t in range(1, 6):
        first = max(0, t - 2)
        window = {
            "endframe": cond["endframe"],
            "state": {"tokens": cond["state"]["tokens"][:, first : first + 3]},
        }
        sequence = layout.join(frames[:, first : first + 3], window)
        gaps = layout.gap_ids({"endframe": targets["endframe"] - first}, 2)
        start = layout.frame_tokens_start(t - first)
        for position in range(start, start + 4):
            logits = target_model(sequence[:, :position], gaps=gaps)[:, -1]
            sequence[:, position] = sample_tokens(logits, config, generators)
        frames[:, t] = sequence[:, start : start + 4].view(2, 2, 2)
    assert torch.equal(frames, cached)
    other = generate_frame_tokens(
        target_model, context, cond, 6, config, seeds(5, 6), targets={"endframe": torch.tensor([9, 9])}
    )
    assert not torch.equal(other, cached)  # the target time matters
    with pytest.raises(InputError, match="no target frame"):
        generate_frame_tokens(target_model, context, cond, 6, config, seeds(5, 6))


@pytest.fixture
def layout_model():
    torch.manual_seed(0)
    slots = [("layout", Slot("frame", 2, 5, predicted=True)), ("class", Slot("video", 1, 3))]
    layout = SequenceLayout((2, 2), 3, slots)
    return VideoTransformer(preset(TransformerConfig, "tiny", window=3), layout, 9).eval()


def test_a_predicted_slot_left_out_is_sampled_with_its_own_head(layout_model):
    """Fig. D2: layouts sampled along with the frames (the context frame's too), against a plain loop that
    recomputes the whole window prefix for every sampled token."""
    layout, config = layout_model.layout, SamplingConfig(top_k=3)
    context = torch.randint(0, 9, (2, 1, 2, 2), generator=torch.Generator().manual_seed(1))

    def conditions():
        return {
            "layout": {"tokens": torch.zeros(2, 5, 2, dtype=torch.long)},
            "class": {"tokens": torch.ones(2, 1, dtype=torch.long)},
        }

    cond = conditions()
    frames = generate_frame_tokens(layout_model, context, cond, 5, config, seeds(3, 4), predict={"layout"})
    predicted = cond["layout"]["tokens"]
    assert predicted.max() < 5 and torch.equal(frames[:, :1], context)
    generators, ref_frames, ref = seeds(3, 4), torch.zeros(2, 5, 2, 2, dtype=torch.long), conditions()
    ref_frames[:, 0] = context[:, 0]
    layout_slot = layout.slot("layout.tokens")
    for t in range(5):
        first = max(0, t - 2)
        window = {"layout": {"tokens": ref["layout"]["tokens"][:, first : first + 3]}, "class": ref["class"]}
        sequence = layout.join(ref_frames[:, first : first + 3], window)
        start = layout.frame_tokens_start(t - first)
        positions = layout.positions("layout.tokens")[t - first].tolist()
        positions += list(range(start, start + 4)) if t >= 1 else []  # frame 0 is given
        for p in positions:
            hidden = layout_model(sequence[:, :p], hidden=True)[:, -1]
            head = layout_model.head_for(layout_slot.id if p < start else 0)
            sequence[:, p] = sample_tokens(head(hidden), config, generators)
        if t >= 1:
            ref_frames[:, t] = sequence[:, start : start + 4].view(2, 2, 2)
        ref["layout"]["tokens"][:, t] = sequence[:, layout.positions("layout.tokens")[t - first]]
    assert torch.equal(frames, ref_frames)
    assert torch.equal(predicted, ref["layout"]["tokens"])
    with pytest.raises(InputError, match="has no predicted slot"):
        generate_frame_tokens(layout_model, context, conditions(), 5, config, seeds(3, 4), predict={"class"})


@pytest.mark.parametrize("weight", [0.0, 2.5])
def test_guidance_equals_two_separate_passes(model, weight):
    """Classifier-free guidance with the cache, both branches in one batch, against two plain passes
    (the conditioned sequence and the one with every condition absent) that recompute every prefix."""
    context = torch.randint(0, 9, (2, 1, 2, 2), generator=torch.Generator().manual_seed(3))
    config, cond = SamplingConfig(top_k=4, guidance=weight), conditions(3)
    guided = generate_frame_tokens(model, context, cond, 3, config, seeds(5, 6))
    layout, generators = model.layout, seeds(5, 6)
    frames = torch.zeros(2, 3, 2, 2, dtype=torch.long)
    frames[:, 0] = context[:, 0]
    given = layout.join(frames, cond)
    absent = layout.join(frames, cond)
    for condition in ("state", "class"):
        absent = layout.drop(absent, condition, torch.ones(2, dtype=torch.bool))
    for t in (1, 2):
        start = layout.frame_tokens_start(t)
        for position in range(start, start + 4):
            c, u = model(given[:, :position])[:, -1], model(absent[:, :position])[:, -1]
            token = sample_tokens(u + weight * (c - u), config, generators)
            given[:, position] = absent[:, position] = token
    assert torch.equal(layout.split(given)[0], guided)


def test_guidance_one_is_plain_conditional_sampling(model):
    context = torch.randint(0, 9, (2, 1, 2, 2))
    plain = generate_frame_tokens(model, context, conditions(3), 3, SamplingConfig(top_k=4), seeds(5, 6))
    one = generate_frame_tokens(
        model, context, conditions(3), 3, SamplingConfig(top_k=4, guidance=1.0), seeds(5, 6)
    )
    assert torch.equal(plain, one)


def test_the_sampling_fast_paths_compute_what_the_modules_do():
    """Sampling's shortcuts are exact: the window's additive table computed once, and a block at
    inference without its module calls."""
    from ccvs_core import CCVSPipeline, default_model

    model = CCVSPipeline.from_pretrained(default_model()).transformer.eval()
    layout = model.layout
    torch.manual_seed(0)
    window = torch.randint(0, 8, (2, layout.length))
    targets = {s.condition: torch.tensor([5, 7]) for s in layout.condition_slots if s.slot.level == "target"}
    gaps = layout.gap_ids(targets, 2)
    table = model.additive_table(window)
    start = int(layout.frame_tokens_start(2)) + 3
    with torch.no_grad():
        for n in (1, 4):
            tokens = window[:, start : start + n]
            read = model.embed(tokens, start, gaps, window=window)
            assert torch.equal(model.embed(tokens, start, gaps, additive=table), read)
        block, x = model.blocks[0], torch.randn(2, 5, model.config.width)
        composed = x + block.attn(block.ln1(x))
        composed = composed + block.mlp(block.ln2(composed))
        assert torch.equal(block(x), composed)
