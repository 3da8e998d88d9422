import math

import pytest
import torch

from oaedu.slots import (
    cossim_loss,
    cossim_loss_reference,
    ctr_all_loss,
    ctr_all_loss_reference,
    ctr_img_loss,
    ctr_img_loss_reference,
    hungarian_match_reference,
    match_slots,
    object_loss,
    simclr_loss,
    simclr_loss_reference,
)


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_simclr_reference_equals_batched():
    z0, z1 = _rand(5, 7, seed=1), _rand(5, 7, seed=2)
    torch.testing.assert_close(simclr_loss(z0, z1, 0.3), simclr_loss_reference(z0, z1, 0.3))


@pytest.mark.parametrize("b", [2, 4])
def test_simclr_closed_forms(b):
    tau = 0.1
    same = torch.ones(b, 3, dtype=torch.float64)
    torch.testing.assert_close(simclr_loss(same, same, tau), torch.tensor(math.log(2 * b - 1), dtype=torch.float64))
    eye = torch.eye(b, dtype=torch.float64)  # positives identical, everything else orthogonal
    ideal = math.log(math.exp(1 / tau) + 2 * b - 2) - 1 / tau
    torch.testing.assert_close(simclr_loss(eye, eye, tau), torch.tensor(ideal, dtype=torch.float64))
    torch.testing.assert_close(simclr_loss_reference(eye, eye, tau), torch.tensor(ideal, dtype=torch.float64))


@pytest.mark.parametrize("fast,ref", [(ctr_all_loss, ctr_all_loss_reference), (ctr_img_loss, ctr_img_loss_reference)])
def test_ctr_reference_equals_batched(fast, ref):
    p0, p1 = _rand(3, 4, 6, seed=3), _rand(3, 4, 6, seed=4)
    perm = match_slots(p0, p1)
    torch.testing.assert_close(fast(p0, p1, perm, 0.2), ref(p0, p1, perm, 0.2))
    # also with an arbitrary (non-optimal) permutation: the targets must follow perm and its inverse
    perm = torch.stack([torch.randperm(4, generator=torch.Generator().manual_seed(i)) for i in range(3)])
    torch.testing.assert_close(fast(p0, p1, perm, 0.2), ref(p0, p1, perm, 0.2))


def test_collapse_values():
    b, k = 3, 4
    same = torch.ones(b, k, 5, dtype=torch.float64)
    perm = torch.arange(k).expand(b, k).clone()
    torch.testing.assert_close(
        ctr_all_loss(same, same, perm), torch.tensor(math.log(2 * b * k - 1), dtype=torch.float64)
    )
    torch.testing.assert_close(ctr_img_loss(same, same, perm), torch.tensor(math.log(2 * k - 1), dtype=torch.float64))


def test_permuted_view_is_recovered_and_positive_is_row_max():
    p0 = _rand(4, 5, 8, seed=5)
    shuffle = torch.stack([torch.randperm(5, generator=torch.Generator().manual_seed(10 + i)) for i in range(4)])
    p1 = p0.gather(1, shuffle[..., None].expand_as(p0))  # p1[b, j] = p0[b, shuffle[b, j]]
    perm = match_slots(p0, p1)
    torch.testing.assert_close(perm, shuffle.argsort(1))  # slot i of view 0 sits at shuffle^{-1}(i) in view 1
    q0, q1 = (torch.nn.functional.normalize(x, dim=-1) for x in (p0, p1))
    torch.testing.assert_close(perm, hungarian_match_reference(-torch.einsum("bid,bjd->bij", q0, q1)))
    # with exact positives, CTRIMG is below its value with a wrong matching
    wrong = perm.roll(1, dims=1)
    assert ctr_img_loss(p0, p1, perm) < ctr_img_loss(p0, p1, wrong)


def test_ctr_losses_are_invariant_to_slot_order():
    p0, p1 = _rand(2, 4, 6, seed=6), _rand(2, 4, 6, seed=7)
    order = torch.tensor([2, 0, 3, 1])
    for kind in ("ctrall", "ctrimg", "cossim"):
        a, _ = object_loss(kind, p0, p1, p0 * 2, p1 * 2)
        b, _ = object_loss(kind, p0[:, order], p1, p0[:, order] * 2, p1 * 2)
        torch.testing.assert_close(a, b)


def test_cossim_reference_equals_batched_and_hand_value():
    p0, p1, s0, s1 = (_rand(2, 3, 4, seed=s) for s in range(4))
    perm = match_slots(s0, s1)
    torch.testing.assert_close(cossim_loss(p0, p1, s0, s1, perm), cossim_loss_reference(p0, p1, s0, s1, perm))
    # view 1 is a shuffled copy of view 0 and the projection is the identity ⇒ every matched cosine is 1, loss −1
    shuffle = torch.tensor([[2, 0, 1], [1, 2, 0]])
    s1 = s0.gather(1, shuffle[..., None].expand_as(s0))
    minus_one = torch.tensor(-1.0, dtype=torch.float64)
    torch.testing.assert_close(cossim_loss(s0, s1, s0, s1, match_slots(s0, s1)), minus_one)
    torch.testing.assert_close(cossim_loss_reference(s0, s1, s0, s1, match_slots(s0, s1)), minus_one)


def test_cossim_stops_the_gradient_at_the_target():
    p0, p1 = _rand(2, 3, 4, seed=8).requires_grad_(), _rand(2, 3, 4, seed=9).requires_grad_()
    s0, s1 = _rand(2, 3, 4, seed=10).requires_grad_(), _rand(2, 3, 4, seed=11).requires_grad_()
    loss = cossim_loss(p0, p1, s0, s1, match_slots(s0, s1))
    g = torch.autograd.grad(loss, [p0, p1, s0, s1], allow_unused=True)
    assert g[0] is not None and g[1] is not None and g[2] is None and g[3] is None


def test_bad_inputs():
    p = _rand(2, 3, 4)
    with pytest.raises(ValueError):
        ctr_img_loss(p, _rand(2, 4, 4), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError):
        ctr_all_loss(p, p, torch.zeros(2, 3, dtype=torch.long))  # not a permutation
    with pytest.raises(ValueError):
        simclr_loss(_rand(3, 4), _rand(3, 4), tau=0.0)
    with pytest.raises(ValueError):
        object_loss("ctr", p, p, p, p)


def test_no_nan_for_zero_vectors():
    z = torch.zeros(2, 3, 4, dtype=torch.float64)
    perm = torch.arange(3).expand(2, 3).clone()
    for fn in (ctr_all_loss, ctr_img_loss):
        assert torch.isfinite(fn(z, z, perm))
    assert torch.isfinite(simclr_loss(z[:, 0], z[:, 0]))
    assert torch.isfinite(cossim_loss(z, z, z, z, perm))


def test_identity_pairing_is_the_control_without_matching():
    from oaedu.slots.losses import identity_pairing

    p0 = _rand(2, 4, 6, seed=7)
    order = torch.tensor([2, 0, 3, 1])
    p1 = p0[:, order]  # view 1 holds the same tokens in another order
    loss_h, perm_h = object_loss("ctrimg", p0, p1, p0, p1, 0.1)
    loss_i, perm_i = object_loss("ctrimg", p0, p1, p0, p1, 0.1, matching="identity")
    assert torch.equal(perm_i, identity_pairing(p0, p1)) and torch.equal(perm_i[0], torch.arange(4))
    assert torch.equal(perm_h[0], order.argsort())  # matching undoes the reordering
    torch.testing.assert_close(loss_i, ctr_img_loss_reference(p0, p1, perm_i, 0.1))
    assert loss_h < loss_i  # pairing the wrong slots costs loss
    with pytest.raises(ValueError, match="matching"):
        object_loss("ctrimg", p0, p1, p0, p1, matching="greedy")
