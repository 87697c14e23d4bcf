"""The quantizer Q / U: nearest entries, straight-through gradients, usage, dead-code restarts."""

import torch

from ccvs_core.models.quantizer import VectorQuantizer, perplexity, straight_through


def test_tokens_are_the_nearest_entries_and_lookup_inverts():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(codebook_size=16, dim=4)
    quantizer.codebook.data = torch.randn(16, 4)
    quantizer.initialized.fill_(True)
    z = quantizer.codebook.data[torch.tensor([3, 7, 7, 15])].t().reshape(1, 4, 2, 2)  # entries themselves
    out = quantizer(z + 1e-3)
    assert out.tokens.tolist() == [[[3, 7], [7, 15]]]
    assert torch.allclose(quantizer.lookup(out.tokens), z)
    brute = torch.cdist(z.flatten(2).transpose(1, 2), quantizer.codebook.data[None]).argmin(-1)
    assert torch.equal(out.tokens.flatten(), brute.flatten())


def test_straight_through_gradient_equals_the_identity():
    z = torch.randn(2, 4, 3, 3, requires_grad=True)
    z_q = torch.randn(2, 4, 3, 3)
    weight = torch.randn(2, 4, 3, 3)
    (straight_through(z, z_q) * weight).sum().backward()
    through = z.grad.clone()
    z.grad = None
    (z * weight).sum().backward()
    assert torch.equal(through, z.grad)
    assert torch.allclose(straight_through(z, z_q), z_q, atol=1e-6)  # forward: the quantized values


def test_quantizer_outputs_route_gradients():
    quantizer = VectorQuantizer(codebook_size=8, dim=4)
    z = torch.randn(2, 4, 3, 3, requires_grad=True)
    out = quantizer(z)
    out.z_st.sum().backward()
    assert z.grad is not None and quantizer.codebook.grad is None  # z_st: only to the encoder side
    out.z_q.sum().backward()
    assert quantizer.codebook.grad is not None and quantizer.codebook.grad.abs().sum() > 0


def test_usage_bookkeeping_and_dead_code_restart():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(codebook_size=8, dim=2)
    quantizer.codebook.data = torch.tensor([[float(i), 0.0] for i in range(8)])
    quantizer.initialized.fill_(True)
    z = torch.tensor([[0.1, 0.0], [1.1, 0.0]]).t().reshape(1, 2, 1, 2)  # always picks codes 0 and 1
    for _ in range(5):
        quantizer(z)
    assert quantizer.step == 5
    assert quantizer.last_used.tolist() == [5, 5, 0, 0, 0, 0, 0, 0]
    assert quantizer.restart_dead_codes(z, dead_after=10) == 0  # nothing unused for 10 steps yet
    moved = quantizer.restart_dead_codes(z, dead_after=3, generator=torch.Generator().manual_seed(0))
    assert moved == 6
    restarted = quantizer.codebook.data[2:]
    assert all(
        any(torch.allclose(r, v) for v in z.flatten(2)[0].t()) for r in restarted
    )  # on encoder outputs
    assert (quantizer.last_used[2:] == 5).all()
    quantizer.eval()
    quantizer(z)
    assert quantizer.step == 5  # evaluation does not count


def test_perplexity():
    assert perplexity(torch.tensor([0, 1, 2, 3]), 8) == torch.tensor(4.0).item()
    assert abs(perplexity(torch.zeros(10, dtype=torch.long), 8) - 1.0) < 1e-9


def test_first_training_batch_initialises_the_codebook_from_the_data():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(codebook_size=6, dim=3)
    z = torch.randn(2, 3, 4, 4) * 10  # far from the tiny initial entries
    quantizer.eval()
    quantizer(z)
    assert not quantizer.initialized  # evaluation never initialises
    quantizer.train()
    out = quantizer(z)
    assert quantizer.initialized
    vectors = z.permute(0, 2, 3, 1).reshape(-1, 3)
    assert all((vectors - entry).abs().sum(1).min() < 1e-6 for entry in quantizer.codebook.data)
    assert out.tokens.unique().numel() > 1  # not collapsed onto one entry
