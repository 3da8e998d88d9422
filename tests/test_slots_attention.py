import pytest
import torch

from oaedu.slots.attention import CrossAttentionPool, SlotAttention


def test_softmax_axes():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8)
    s, a = SlotAttention(8, 4, iters=3)(x)
    assert s.shape == (2, 4, 8) and a.shape == (2, 4, 16)
    torch.testing.assert_close(a.sum(1), torch.ones(2, 16))
    assert not torch.allclose(a.sum(2), torch.ones(2, 4))
    s2, a2 = CrossAttentionPool(8, 4)(x)
    torch.testing.assert_close(a2.sum(2), torch.ones(2, 4))
    assert torch.isfinite(s).all() and torch.isfinite(s2).all()


def test_permutation_equivariance_over_patches():
    torch.manual_seed(1)
    m = SlotAttention(8, 3, iters=2)
    x = torch.randn(1, 10, 8)
    p = torch.randperm(10)
    s, a = m(x)
    sp, ap = m(x[:, p])
    torch.testing.assert_close(s, sp, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[:, :, p], ap, atol=1e-5, rtol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError):
        SlotAttention(8, 3)(torch.randn(2, 16, 7))
    with pytest.raises(ValueError):
        CrossAttentionPool(8, 3)(torch.randn(16, 8))
