"""The transformer T: causality, the key/value cache, the spatio-temporal embeddings, Eq. 8."""

import pytest
import torch

from ccvs_core import Slot
from ccvs_core.config import TransformerConfig, preset
from ccvs_core.models import decode_step
from ccvs_core.models.decode_step import DecodeStep
from ccvs_core.models.linear import MAX_ROWS
from ccvs_core.models.transformer import VideoTransformer, next_token_loss
from ccvs_core.sequence import SequenceLayout

SLOTS = [("class", Slot("video", 1, 5)), ("state", Slot("frame", 2, 16))]
ADDITIVE = [("class", Slot("video", 1, 5, additive=True)), ("state", Slot("frame", 2, 16, additive=True))]


def make_model(slots):
    torch.manual_seed(0)
    layout = SequenceLayout((2, 3), 3, slots)
    model = VideoTransformer(preset(TransformerConfig, "tiny", window=3), layout, frame_vocab=11).eval()
    if model.add is not None:
        with torch.no_grad():
            model.add.weight.normal_(0, 0.5)  # "trained": they start at zero
    return model


@pytest.fixture(params=["in sequence", "additive"])
def model(request):
    """The same layout with its conditions read only from the sequence, or also added to frame tokens."""
    return make_model(SLOTS if request.param == "in sequence" else ADDITIVE)


def random_sequence(model, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    layout = model.layout
    frames = torch.randint(
        0, model.frame_vocab, (batch, layout.num_frames, *layout.grid), generator=generator
    )
    conditions = {
        "class": {"tokens": torch.randint(0, 5, (batch, 1), generator=generator)},
        "state": {"tokens": torch.randint(0, 16, (batch, layout.num_frames, 2), generator=generator)},
    }
    return layout.join(frames, conditions)


def test_logits_cover_the_frame_vocabulary(model):
    sequence = random_sequence(model)
    assert model(sequence).shape == (2, model.layout.length, 11)


@pytest.mark.parametrize("backend", ["sdpa", "naive"])
def test_changing_a_later_token_never_changes_an_earlier_logit(model, backend):
    model.config = model.config.replace(attention=backend)
    for block in model.blocks:
        block.attn.backend = backend
    sequence = random_sequence(model)
    logits = model(sequence)
    for position in (5, 11, model.layout.length - 1):
        changed = sequence.clone()
        slot = model.layout.slots[int(model.layout.slot_ids[position])]
        changed[:, position] = (changed[:, position] + 1) % (
            slot.slot.vocab_size if slot.slot else model.frame_vocab
        )
        other = model(changed)
        assert torch.allclose(other[:, :position], logits[:, :position], atol=1e-6)
        assert not torch.allclose(other[:, position:], logits[:, position:])


def test_cache_gives_the_same_logits_as_recomputing(model):
    sequence = random_sequence(model)
    full = model(sequence)
    cache = model.new_cache(batch=2)
    steps = [model(sequence[:, :4], 0, cache)]  # a prefix at once, then one token at a time
    for position in range(4, model.layout.length):
        steps.append(model(sequence[:, position : position + 1], position, cache, window=sequence))
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    with pytest.raises(ValueError, match="the cache holds"):
        model(sequence[:, :1], 0, cache)


@pytest.fixture
def decode_steps(monkeypatch):
    """Counts the calls of the straight-line one-token step (models/decode_step.py)."""
    calls = []
    real = DecodeStep.__call__

    def spy(self, x, cache):
        calls.append(x.shape[0])
        return real(self, x, cache)

    monkeypatch.setattr(DecodeStep, "__call__", spy)
    return calls


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("threads", [1, 2])
def test_the_sampling_step_gives_the_same_logits_as_recomputing(model, batch, threads, decode_steps):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # the step's products split over the threads
    try:
        sequence = random_sequence(model, batch=batch)
        with torch.no_grad():
            full = model(sequence)
            cache = model.new_cache(batch=batch)
            steps = [model(sequence[:, :4], 0, cache)]
            for position in range(4, model.layout.length):
                steps.append(model(sequence[:, position : position + 1], position, cache, window=sequence))
    finally:
        torch.set_num_threads(before)
    assert decode_steps == [batch] * (model.layout.length - 4)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def shipped_width_model(slots):
    """One block at the shipped model's width with "trained" biases: there MKL rounds a product with
    its bias folded in differently from batch 12 on (the tiny preset's products round alike either
    way, and a zero bias, as initialised, too)."""
    torch.manual_seed(0)
    config = preset(TransformerConfig, "tiny", window=3, width=192, heads=6, layers=1)
    model = VideoTransformer(config, SequenceLayout((2, 3), 3, slots), frame_vocab=11).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0, 0.1)
    return model


def test_the_sampling_steps_products_are_linears_bit_for_bit():
    model = shipped_width_model(SLOTS)
    linears = [model.blocks[0].attn.qkv, model.blocks[0].attn.proj, *model.blocks[0].mlp[::2]]
    before = torch.get_num_threads()
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            for batch in (1, 3, 13, 17):  # 17: past Linear's few-row limit
                for layer in linears:
                    x = torch.randn(batch, layer.in_features)
                    with torch.no_grad():
                        product = decode_step._apply(decode_step._product(layer), x)
                        assert torch.equal(product, layer(x)), (threads, batch, layer)
                    assert product.is_contiguous()  # as a strided view attention would go unfused
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("slots", [SLOTS, ADDITIVE], ids=["in sequence", "additive"])
def test_the_sampling_step_computes_the_blocks_floats(slots, decode_steps, monkeypatch):
    """The blocks' own one-token path's floats (so sampling keeps its tokens), on 1 and 2 threads and
    after the thread count changes: bit for bit, except where the blocks' attention gets Linear's
    strided rows (several samples on 2 threads) and takes PyTorch's unfused kernel, which rounds
    differently from the fused one the step's contiguous rows get."""
    model = shipped_width_model(slots)

    def decode(sequence, straight_line: bool) -> torch.Tensor:
        with monkeypatch.context() as patch:
            if not straight_line:
                patch.setattr(model, "_one_token_step", lambda: None)
            cache = model.new_cache(batch=len(sequence))
            steps = [model(sequence[:, :4], 0, cache)]
            for position in range(4, model.layout.length):
                steps.append(model(sequence[:, position : position + 1], position, cache, window=sequence))
        return torch.cat(steps, dim=1)

    before = torch.get_num_threads()
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            for batch in (1, 3, 13, 17):
                sequence = random_sequence(model, batch=batch)
                with torch.no_grad():
                    fast, blocks = decode(sequence, True), decode(sequence, False)
                if threads == 2 and 1 < batch <= MAX_ROWS:
                    torch.testing.assert_close(fast, blocks, atol=1e-5, rtol=1e-5)
                else:
                    assert torch.equal(fast, blocks), (threads, batch)
    finally:
        torch.set_num_threads(before)
    assert len(decode_steps) == 8 * (model.layout.length - 4)


def test_the_sampling_step_follows_the_model_and_keeps_out_of_training(model, decode_steps):
    sequence = random_sequence(model)

    def decode(model):
        cache = model.new_cache(batch=2)
        model(sequence[:, :4], 0, cache)
        return model(sequence[:, 4:5], 4, cache, window=sequence)

    with torch.no_grad():
        decode(model)
        model.double()  # its parameters are new tensors: the step must not keep the old ones
        torch.testing.assert_close(decode(model), model(sequence)[:, 4:5], atol=1e-9, rtol=1e-9)
    assert len(decode_steps) == 2
    decode(model.float())  # gradients on: the blocks' own path, so that they reach the weights
    model.train()
    with torch.no_grad():
        decode(model)
    assert len(decode_steps) == 2


def test_the_sampling_step_embeds_a_token_exactly_as_the_whole_sequence_does():
    torch.manual_seed(0)
    slots = [*ADDITIVE, ("endframe", Slot("target", 2, 11)), ("layout", Slot("frame", 2, 5, predicted=True))]
    layout = SequenceLayout((2, 2), 3, slots)
    model = VideoTransformer(preset(TransformerConfig, "tiny", window=3, max_gap=4), layout, 11).eval()
    with torch.no_grad():
        model.add.weight.normal_()
    generator = torch.Generator().manual_seed(1)
    conditions = {
        c: {"tokens": torch.randint(0, s.vocab_size, (3, *((3,) if s.level == "frame" else ()), s.length),
                                    generator=generator)}
        for c, s in slots
    }  # fmt: skip
    sequence = layout.join(torch.randint(0, 11, (3, 3, 2, 2), generator=generator), conditions)
    gaps = layout.gap_ids({"endframe": torch.tensor([1, 2, 9])}, 3)  # 9: past max_gap, clamped
    with torch.no_grad():
        table = model.additive_table(sequence)
        whole = model.embed(sequence, 0, gaps, sequence, table)
        for p in range(layout.length):
            for additive in (table, None):  # without the table: computed from the window
                one = model._embed_one(sequence[:, p], p, gaps, sequence, additive)
                assert torch.equal(one, whole[:, p]), (
                    f"position {p} ({layout.slots[int(layout.slot_ids[p])].key})"
                )
    with pytest.raises(ValueError, match="target slots"):
        model._embed_one(sequence[:, 0], int(layout.positions("endframe.tokens")[0]), None, sequence, table)


def test_greedy_decoding_with_the_cache_matches_recomputation(model):
    sequence = random_sequence(model)
    start = model.layout.frame_tokens_start(1)  # decode from frame 1's first token on
    is_frame = model.layout.frame_mask
    recomputed, cached = sequence.clone(), sequence.clone()
    for position in range(start, model.layout.length):
        if is_frame[position]:  # the whole prefix again, as the authors' sampler does
            recomputed[:, position] = model(recomputed[:, :position])[:, -1].argmax(-1)
    cache = model.new_cache(batch=2)
    scores = model(cached[:, :start], 0, cache)[:, -1]
    for position in range(start, model.layout.length):
        if is_frame[position]:
            cached[:, position] = scores.argmax(-1)
        # one position per step (additive slots read their tokens from the window decoded so far)
        scores = model(cached[:, position : position + 1], position, cache, window=cached)[:, -1]
    assert torch.equal(recomputed, cached)
    assert not torch.equal(cached, sequence)  # something was decoded


def test_loss_ignores_condition_tokens(model):
    sequence = random_sequence(model)
    logits = model(sequence).detach().requires_grad_(True)
    next_token_loss(logits, sequence, model.layout).backward()
    targets_are_frames = torch.zeros(model.layout.length, dtype=torch.bool)
    targets_are_frames[:-1] = model.layout.frame_mask[1:]
    assert logits.grad[:, ~targets_are_frames].abs().sum() == 0
    assert logits.grad[:, targets_are_frames].abs().sum() > 0


def test_each_slot_has_its_own_vocabulary_rows(model):
    offsets = model.token_offset
    layout = model.layout
    assert offsets[layout.positions("frame")].unique().tolist() == [0]
    assert offsets[layout.positions("start")].unique().tolist() == [11]  # the start token: 1 row
    # a condition slot's values, then its absent token
    assert offsets[layout.positions("class.tokens")].unique().tolist() == [12]
    assert offsets[layout.positions("state.tokens")].unique().tolist() == [12 + 5 + 1]
    assert model.token.num_embeddings == 11 + 1 + (5 + 1) + (16 + 1)


def test_a_target_slot_embeds_its_gap_and_needs_one():
    torch.manual_seed(0)
    slots = [("endframe", Slot("target", 2, 11))]
    layout = SequenceLayout((2, 2), 3, slots)
    model = VideoTransformer(preset(TransformerConfig, "tiny", window=3, max_gap=8), layout, 11).eval()
    assert model.gap.num_embeddings == 9
    frames = torch.randint(0, 11, (1, 3, 2, 2))
    sequence = layout.join(frames, {"endframe": {"tokens": torch.randint(0, 11, (1, 2))}})
    with pytest.raises(ValueError, match="target slots"):
        model(sequence)
    near, far, farther = (
        model(sequence, gaps=layout.gap_ids({"endframe": torch.tensor([g])}, 1)) for g in (2, 8, 30)
    )
    assert not torch.allclose(near, far)
    assert torch.equal(far, farther)  # gaps past max_gap are clamped to it
    # a layout without target slots has no gap table (and its checkpoints no gap weights)
    assert (
        VideoTransformer(preset(TransformerConfig, "tiny", window=3), SequenceLayout((2, 2), 3), 11).gap
        is None
    )


def test_predicted_slots_have_their_own_head_and_loss():
    from ccvs_core.models.transformer import slot_token_loss

    torch.manual_seed(0)
    layout = SequenceLayout((2, 2), 3, [("layout", Slot("frame", 2, 5, predicted=True))])
    model = VideoTransformer(preset(TransformerConfig, "tiny", window=3), layout, 11)
    assert model.head_for(layout.slot("layout.tokens").id).out_features == 5
    assert layout.predicted_mask.sum() == 3 * 2 and not layout.frame_mask[layout.predicted_mask].any()
    sequence = layout.join(
        torch.randint(0, 11, (2, 3, 2, 2)), {"layout": {"tokens": torch.randint(0, 5, (2, 3, 2))}}
    )
    loss = slot_token_loss(model, model(sequence, hidden=True), sequence)
    loss.backward()
    assert loss > 0 and model.slot_heads["2"].weight.grad.abs().sum() > 0
    assert model.head.weight.grad is None  # the frame head plays no part in it
    plain = VideoTransformer(preset(TransformerConfig, "tiny", window=3), SequenceLayout((2, 2), 3), 11)
    assert len(plain.slot_heads) == 0
    sequence = plain.layout.join(torch.zeros(1, 3, 2, 2, dtype=torch.long), {})
    assert slot_token_loss(plain, plain(sequence, hidden=True), sequence) == 0


def test_additive_slots_reach_their_frames_tokens_and_start_at_zero():
    fresh = VideoTransformer(
        preset(TransformerConfig, "tiny", window=3), SequenceLayout((2, 3), 3, ADDITIVE), frame_vocab=11
    )
    assert fresh.add.weight.abs().sum() == 0  # a new additive slot changes nothing at first
    model = make_model(ADDITIVE)
    layout = model.layout
    sequence = random_sequence(model)
    embedded = model.embed(sequence)
    # frame 1's state: only frame 1's frame tokens (and the state tokens themselves) change
    changed = sequence.clone()
    state_1 = layout.positions("state.tokens")[1]
    changed[:, state_1] = (changed[:, state_1] + 1) % 16
    moved = (model.embed(changed) - embedded).abs().sum((0, 2)) > 0
    frame_1 = layout.positions("frame")[1].flatten()
    assert moved.nonzero().flatten().tolist() == sorted([*state_1.tolist(), *frame_1.tolist()])
    # the class: every frame token
    changed = sequence.clone()
    changed[:, layout.positions("class.tokens")] = (changed[:, layout.positions("class.tokens")] + 1) % 5
    moved = (model.embed(changed) - embedded).abs().sum((0, 2)) > 0
    assert moved[layout.frame_mask].all() and moved.sum() == int(layout.frame_mask.sum()) + 1
    # incremental decoding must hand the window over: a position alone does not say its frame's tokens
    with pytest.raises(ValueError, match="pass the whole window"):
        model(sequence[:, 5:6], 5)
