"""MoCo/BYOL learners, augmentation and the linear probe (oaedu.contrastive)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from oaedu.contrastive import (
    BYOL,
    MoCo,
    SmallEncoder,
    TwoViewData,
    augment,
    info_nce,
    probe_encoder,
    train_contrastive,
    two_view_step,
)
from oaedu.data import background_challenge


def test_info_nce_matches_the_formula_by_hand():
    g = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(4, 8, generator=g), dim=1)
    k = F.normalize(torch.randn(4, 8, generator=g), dim=1)
    negs = F.normalize(torch.randn(5, 8, generator=g), dim=1)
    tau = 0.3
    by_hand = []
    for i in range(4):
        pos = math.exp(float(q[i] @ k[i]) / tau)
        rest = sum(math.exp(float(q[i] @ n) / tau) for n in negs)
        by_hand.append(-math.log(pos / (pos + rest)))
    assert info_nce(q, k, negs, tau).item() == pytest.approx(sum(by_hand) / 4, rel=1e-5)
    in_batch = []
    for i in range(4):
        logits = [float(q[i] @ k[j]) / tau for j in range(4)]
        in_batch.append(-logits[i] + math.log(sum(math.exp(v) for v in logits)))
    assert info_nce(q, k, None, tau).item() == pytest.approx(sum(in_batch) / 4, rel=1e-5)
    with pytest.raises(ValueError):
        info_nce(q, k[:3], None, tau)


def test_queue_is_fifo_and_wraps():
    m = MoCo(queue_size=5, proj_dim=4)
    keys = torch.eye(4)
    m._enqueue(keys[:3])
    m._enqueue(keys[:3] * 2)
    assert m.queue_ptr.item() == 1
    assert torch.equal(m.queue[3:5], keys[:2] * 2) and torch.equal(m.queue[0], keys[2] * 2)


def test_momentum_update_is_an_ema():
    m = MoCo(queue_size=0, momentum=0.9)
    with torch.no_grad():
        for p in m.encoder.parameters():
            p.add_(1.0)
    before = [p.clone() for p in m.target_encoder.parameters()]
    m.update_target()
    for b, p, t in zip(before, m.encoder.parameters(), m.target_encoder.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * p)


def test_augment_is_seeded_in_range_and_changes_images():
    x = torch.rand(8, 3, 32, 32)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape
    assert a.min() >= 0 and a.max() <= 1
    assert (a - x).abs().mean() > 0.01


@pytest.mark.parametrize("learner", [MoCo(queue_size=64), MoCo(queue_size=0), BYOL()], ids=["queue", "batch", "byol"])
def test_a_few_steps_train_and_move_the_weights(learner):
    torch.manual_seed(0)
    x = background_challenge("original", 32, image_size=32, num_classes=4, bg_correlation=0.9).images
    before = [p.clone() for p in learner.encoder.parameters()]
    losses = train_contrastive(learner, x, epochs=2, batch_size=16, progress=False)
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert any(not torch.equal(b, p) for b, p in zip(before, learner.encoder.parameters(), strict=True))
    assert not learner.training


@pytest.mark.parametrize("cls", [MoCo, BYOL])
def test_the_two_view_step_is_the_learners_loss_on_the_pair(cls):
    torch.manual_seed(0)
    views = torch.rand(4, 2, 3, 16, 16)
    learner = cls(SmallEncoder(widths=(8, 8, 8)), proj_dim=8)
    twin = copy.deepcopy(learner)  # MoCo's loss enqueues its keys: compare two copies
    out = two_view_step()(learner, views, None, None)
    assert out.logits is None and torch.equal(out.loss, twin.loss(views[:, 0], views[:, 1]))
    with pytest.raises(ValueError, match="two views"):
        two_view_step()(learner, views[:, 0], None, None)


def test_linear_probe_separates_classes_and_matches_its_formula():
    torch.manual_seed(0)
    data = background_challenge("only_fg", 120, image_size=32, num_classes=3, bg_correlation=1.0)
    enc = SmallEncoder().eval()
    clf = probe_encoder(enc, data)
    with torch.no_grad():
        logits = clf(data.images)
        feats = enc(data.images).mean((2, 3))
        manual = clf.probe.linear((feats - clf.probe.mean) / clf.probe.std)
    torch.testing.assert_close(logits, manual)
    # colour classes are linearly separable even in random conv features
    assert (logits.argmax(1) == data.labels).float().mean() > 0.9


def _contrastive_loop(learner, images, epochs, batch_size, lr, weight_decay, seed, prepare=None):
    """MoCo-v2's training written out by hand (SGD, cosine, momentum update after each step): the oracle for
    train_contrastive, which runs the same through oaedu.train.fit."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD([p for p in learner.parameters() if p.requires_grad], lr=lr, momentum=0.9,
                          weight_decay=weight_decay)  # fmt: skip
    per_epoch = max(1, len(images) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * per_epoch)
    learner.train()
    losses = []
    for _ in range(epochs):
        perm, total = torch.randperm(len(images), generator=gen), 0.0
        for s in range(per_epoch):
            idx = perm[s * batch_size : (s + 1) * batch_size]
            a, b = prepare(images[idx], idx, gen) if prepare else (images[idx], images[idx])
            loss = learner.loss(augment(a, gen), augment(b, gen))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            learner.update_target()
            total += loss.item() * len(idx)
        losses.append(total / (per_epoch * batch_size))
    return losses


@pytest.mark.parametrize("cls", [MoCo, BYOL])
def test_train_contrastive_is_fit_with_sgd_and_the_momentum_update(cls):
    x = torch.rand(40, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    learners = []
    for _ in range(2):
        torch.manual_seed(0)
        learners.append(cls(SmallEncoder(widths=(8, 8, 8)), proj_dim=8))
    flip = lambda batch, idx, gen: (batch, batch.flip(-1))  # noqa: E731 (a prepare hook)
    got = train_contrastive(learners[0], x, 2, batch_size=16, seed=3, prepare=flip, progress=False)
    want = _contrastive_loop(learners[1], x, 2, 16, 0.06, 5e-4, 3, prepare=flip)
    assert got == pytest.approx(want, rel=1e-6)
    for a, b in zip(learners[0].state_dict().values(), learners[1].state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_two_view_data_drops_the_last_partial_batch():
    data = TwoViewData(torch.rand(10, 3, 16, 16))
    batches = list(data.batches(4, generator=torch.Generator().manual_seed(0)))
    assert data.num_batches(4) == len(batches) == 2 and batches[0][0].shape == (4, 2, 3, 16, 16)
    assert len(set(torch.cat([b[1] for b in batches]).tolist())) == 8  # eight different images
    assert TwoViewData(torch.rand(3, 3, 16, 16)).num_batches(8) == 1  # fewer images than a batch: one batch
