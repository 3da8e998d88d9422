import pytest
import torch

from oaedu.slots.attention import CrossAttentionDecoder, SlotAttention


def test_softmax_axes():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8)
    s, a = SlotAttention(8, 4, iters=3)(x)
    assert s.shape == (2, 4, 8) and a.shape == (2, 4, 16)
    torch.testing.assert_close(a.sum(1), torch.ones(2, 16))
    assert not torch.allclose(a.sum(2), torch.ones(2, 4))
    s2, a2 = CrossAttentionDecoder(8, 4, layers=2, num_heads=4)(x)
    assert s2.shape == (2, 4, 8) and a2.shape == (2, 4, 16)
    torch.testing.assert_close(a2.sum(2), torch.ones(2, 4))
    assert torch.isfinite(s).all() and torch.isfinite(s2).all()


@pytest.mark.parametrize("module", [lambda: SlotAttention(8, 3, iters=2), lambda: CrossAttentionDecoder(8, 3)])
def test_permutation_equivariance_over_patches(module):
    torch.manual_seed(1)
    m = module()
    x = torch.randn(1, 10, 8)
    p = torch.randperm(10)
    s, a = m(x)
    sp, ap = m(x[:, p])
    torch.testing.assert_close(s, sp, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[:, :, p], ap, atol=1e-5, rtol=1e-5)


def test_returned_attention_is_the_first_iteration():
    # Paper 5, App. A.5: the maps come from the first slot-attention iteration; oracle from its definition.
    torch.manual_seed(2)
    m = SlotAttention(8, 3, iters=3)
    x = torch.randn(2, 10, 8)
    _, attn = m(x)
    k = m.k(m.norm_x(x))
    q = m.q(m.norm_s(m.slots))
    expected = (q @ k.transpose(1, 2) / 8**0.5).softmax(dim=1)
    torch.testing.assert_close(attn, expected)


def test_a_slot_that_wins_no_patch_takes_the_mean_of_the_values():
    # (α + ε) / Σ_n (α + ε): with α = 0 on every patch the weights are 1/N, so the update is mean_n v(h_n).
    torch.manual_seed(3)
    dim = 4
    m = SlotAttention(dim, 2, iters=1)
    u = torch.tensor([1.0, 0.5, -0.5, -1.0])
    x = (u + 0.01 * torch.randn(1, 6, dim)).float()
    with torch.no_grad():
        m.q.weight.copy_(1000 * torch.eye(dim))
        m.k.weight.copy_(torch.eye(dim))
        m.slots.copy_(torch.stack([u, -u])[None])
    updates = []
    m.gru.register_forward_hook(lambda _m, inputs, _out: updates.append(inputs[0]))
    _, attn = m(x)
    assert torch.all(attn[0, 1] == 0)  # slot 1 loses every patch
    v = m.v(m.norm_x(x))[0]
    torch.testing.assert_close(updates[0][1], v.mean(0))


def test_cross_attention_decoder_returns_the_first_layers_head_mean():
    torch.manual_seed(4)
    m = CrossAttentionDecoder(8, 3, layers=2, num_heads=4).eval()
    x = torch.randn(2, 10, 8)
    _, attn = m(x)
    layer = m.layers[0]
    q = m.slots.expand(2, -1, -1)
    h = layer.norm_self(q)
    q = q + layer.self_attn(h, h, h, need_weights=False)[0]
    xn = layer.norm_x(x)
    _, expected = layer.cross_attn(layer.norm_q(q), xn, xn, need_weights=True, average_attn_weights=True)
    torch.testing.assert_close(attn, expected)


def test_bad_input():
    with pytest.raises(ValueError):
        SlotAttention(8, 3)(torch.randn(2, 16, 7))
    with pytest.raises(ValueError):
        CrossAttentionDecoder(8, 3)(torch.randn(16, 8))
    for make in (SlotAttention, CrossAttentionDecoder):
        with pytest.raises(ValueError, match="num_slots"):
            make(8, 0)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        CrossAttentionDecoder(6, 3, num_heads=4)


@pytest.mark.parametrize("make", [SlotAttention, CrossAttentionDecoder])
def test_sampled_queries_are_a_reparameterised_gaussian(make):
    # App. A.2.2, single Gaussian: q_i = μ + σ ⊙ ε_i, fresh ε for every image and slot; μ and log σ get gradients.
    torch.manual_seed(5)
    m = make(8, 3, queries="sampled")
    with torch.no_grad():
        m.slots_mu.fill_(2.0)
        m.slots_log_sigma.fill_(torch.tensor(0.5).log())
    q = m.initial_queries(4000)
    assert q.shape == (4000, 3, 8)
    torch.testing.assert_close(q.mean((0, 1)), torch.full((8,), 2.0), atol=0.03, rtol=0)
    torch.testing.assert_close(q.std((0, 1)), torch.full((8,), 0.5), atol=0.02, rtol=0)
    assert not torch.equal(q[0], q[1]) and not torch.equal(q[0, 0], q[0, 1])  # per image and per slot
    s, attn = m(torch.randn(2, 10, 8))
    s.sum().backward()
    assert m.slots_mu.grad.abs().sum() > 0 and m.slots_log_sigma.grad.abs().sum() > 0
    assert not hasattr(m, "slots")  # no learned per-slot embedding: a slot's index carries no identity


def test_learned_queries_are_the_same_for_every_image():
    m = SlotAttention(8, 3)
    q = m.initial_queries(2)
    assert torch.equal(q[0], q[1]) and torch.equal(q[0], m.slots[0])
    with pytest.raises(ValueError, match="queries"):
        SlotAttention(8, 3, queries="kmeans")
