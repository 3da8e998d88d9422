import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from oaedu.metrics import accuracy, adjusted_rand_index, adjusted_rand_index_reference, bg_gap, iou


@pytest.mark.parametrize("seed", range(4))
def test_ari_matches_sklearn_batched(seed):
    g = torch.Generator().manual_seed(seed)
    true = torch.randint(0, 5, (6, 200), generator=g)
    pred = torch.where(torch.rand(6, 200, generator=g) < 0.6, true, torch.randint(0, 7, (6, 200), generator=g))
    fast = adjusted_rand_index(true, pred)
    ref = adjusted_rand_index_reference(true, pred)
    expected = torch.tensor(
        [adjusted_rand_score(t, p) for t, p in zip(true.numpy(), pred.numpy(), strict=True)], dtype=torch.float64
    )
    assert fast.dtype == torch.float64 and fast.shape == (6,)
    torch.testing.assert_close(fast, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(ref, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("foreground_only", [False, True])
def test_ari_is_the_same_for_few_labels_and_for_large_sparse_ids(foreground_only):
    # Few labels are used as table indices directly, large ids are renumbered first: both give sklearn's ARI.
    g = torch.Generator().manual_seed(7)
    true = torch.randint(0, 4, (5, 120), generator=g)
    pred = torch.where(torch.rand(5, 120, generator=g) < 0.5, true, torch.randint(0, 4, (5, 120), generator=g))
    ids = torch.tensor([0, 13, 1_000_000, 77])  # 0 stays the background
    small = adjusted_rand_index(true, pred, foreground_only)
    large = adjusted_rand_index(ids[true], ids[pred] * 3 + 5, foreground_only)
    torch.testing.assert_close(small, large, rtol=0, atol=1e-12)
    keep = [(t != 0) if foreground_only else torch.ones_like(t, dtype=torch.bool) for t in true]
    expected = [adjusted_rand_score(t[k].numpy(), p[k].numpy()) for t, p, k in zip(true, pred, keep, strict=True)]
    torch.testing.assert_close(small, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)


def test_ari_foreground_only_drops_background_points():
    g = torch.Generator().manual_seed(1)
    true = torch.randint(0, 4, (300,), generator=g)
    pred = torch.randint(0, 4, (300,), generator=g)
    keep = true != 0
    expected = adjusted_rand_score(true[keep].numpy(), pred[keep].numpy())
    assert adjusted_rand_index(true, pred, foreground_only=True).item() == pytest.approx(expected, abs=1e-12)
    assert adjusted_rand_index_reference(true, pred, foreground_only=True).item() == pytest.approx(expected, abs=1e-12)


def test_ari_known_values():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    assert adjusted_rand_index(labels, labels).item() == 1.0
    assert adjusted_rand_index(labels, (labels + 1) % 3).item() == 1.0  # renaming clusters changes nothing
    one = torch.zeros(6, dtype=torch.long)
    assert adjusted_rand_index(one, one).item() == 1.0  # sklearn's convention for trivial partitions
    # Worked example: true {0,0,1,1}, pred {0,1,0,1} has index 0, expected 1/3, max 1 → ARI = -0.5.
    assert adjusted_rand_index(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])).item() == pytest.approx(-0.5)


def test_ari_rejects_bad_input():
    with pytest.raises(ValueError, match="integer"):
        adjusted_rand_index(torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match="shapes differ"):
        adjusted_rand_index(torch.zeros(4, dtype=torch.long), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="no points left"):
        adjusted_rand_index(torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long), foreground_only=True)
    with pytest.raises(ValueError, match="non-negative"):
        adjusted_rand_index(torch.tensor([-1, 0]), torch.tensor([0, 0]))


def test_iou_values_and_errors():
    a = torch.zeros(2, 4, 4, dtype=torch.bool)
    b = torch.zeros(2, 4, 4, dtype=torch.bool)
    a[0, :2] = True
    b[0, 1:3] = True
    result = iou(a, b)
    assert result[0].item() == pytest.approx(4 / 12)
    assert result[1].item() == 1.0  # both empty
    assert iou(a, b, empty=0.0)[1].item() == 0.0
    with pytest.raises(ValueError, match="bool"):
        iou(a.float(), b.float())
    with pytest.raises(ValueError, match="shape"):
        iou(a, b[:, :2])


def test_accuracy_and_bg_gap():
    logits = torch.tensor([[2.0, 1.0], [0.0, 1.0], [3.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(200 / 3)
    assert bg_gap(90.0, 60.0) == 30.0
    with pytest.raises(ValueError):
        accuracy(logits, torch.tensor([0, 1]))


def test_mass_on_object_closed_forms():
    from oaedu.metrics import mass_on_object

    masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    masks[:, :4, :4] = True  # top-left patch of a 2×2 grid
    maps = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    share = mass_on_object(maps, masks)
    assert share.dtype == torch.float64
    assert share.tolist() == [1.0, 0.25, 0.25]  # all on object, uniform, all-zero scored as uniform
    with pytest.raises(ValueError, match="non-negative"):
        mass_on_object(-maps, masks)
    with pytest.raises(ValueError, match="multiple"):
        mass_on_object(torch.ones(3, 3, 3), masks)
