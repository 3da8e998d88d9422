import pytest
import torch

from oaedu.data import multi_object_scenes
from oaedu.metrics import adjusted_rand_index, adjusted_rand_index_reference
from oaedu.slots import (
    ObjectEncoder,
    auroc,
    encode,
    fg_ari,
    otsu_masks,
    otsu_threshold,
    otsu_threshold_reference,
    presence_targets,
    segmentation_iou,
    segmentation_iou_reference,
    slot_partition,
    slot_probe_scores,
)


@pytest.mark.parametrize("bins", [256, None])
def test_otsu_two_levels_and_constant_map(bins):
    x = torch.tensor([[0.1, 0.1, 0.1, 0.9, 0.9], [0.3, 0.3, 0.3, 0.3, 0.3]])
    t = otsu_threshold(x, bins)
    assert 0.1 <= t[0] < 0.9
    assert not (x[1] > t[1]).any()  # constant map: empty mask, no NaN
    torch.testing.assert_close(t, otsu_threshold_reference(x, bins))


@pytest.mark.parametrize("bins", [256, 16, None])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_otsu_fast_equals_reference_on_random_maps(bins, dtype):
    maps = torch.rand(60, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(dtype) ** 3
    torch.testing.assert_close(otsu_threshold(maps, bins), otsu_threshold_reference(maps, bins))
    levels = torch.randint(0, 4, (30, 16), generator=torch.Generator().manual_seed(1)).to(dtype)  # many ties
    torch.testing.assert_close(otsu_threshold(levels, bins), otsu_threshold_reference(levels, bins))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_binned_otsu_is_scikit_images_threshold_otsu(dtype):
    # The paper binarises each attention map with scikit-image's 256-bin Otsu (App. A.5).
    filters = pytest.importorskip("skimage.filters")
    g = torch.Generator().manual_seed(2)
    maps = torch.cat([torch.rand(40, 256, generator=g) ** 4, torch.randn(40, 256, generator=g).softmax(-1)]).to(dtype)
    expected = torch.tensor([float(filters.threshold_otsu(m.numpy())) for m in maps], dtype=torch.float64)
    torch.testing.assert_close(otsu_threshold(maps), expected, rtol=0, atol=0)
    torch.testing.assert_close(otsu_threshold_reference(maps), expected, rtol=0, atol=0)


def test_binned_and_exact_otsu_differ_and_bins_are_checked():
    g = torch.Generator().manual_seed(3)
    maps = torch.rand(200, 64, generator=g) ** 3
    binned = maps > otsu_threshold(maps)[:, None]
    exact = maps > otsu_threshold(maps, None)[:, None]
    assert (binned != exact).any()  # the 256-bin histogram moves some thresholds
    with pytest.raises(ValueError, match="bins"):
        otsu_threshold(maps, 1)


def _instances():
    inst = torch.zeros(2, 8, 8, dtype=torch.int64)
    inst[0, :4, :4], inst[0, 4:, 4:] = 1, 2
    inst[1, 2:6, 2:6] = 1
    return inst


def test_perfect_prediction_scores_one_and_extra_masks_are_ignored():
    inst = _instances()
    masks = torch.zeros(2, 4, 8, 8, dtype=torch.bool)
    masks[0, 0], masks[0, 2] = inst[0] == 2, inst[0] == 1
    masks[0, 3] = True  # an extra (all-image) mask
    masks[1, 1] = inst[1] == 1
    torch.testing.assert_close(segmentation_iou(masks, inst), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(segmentation_iou_reference(masks, inst), torch.ones(2, dtype=torch.float64))


def test_segmentation_iou_hand_value_and_background_not_counted():
    inst = _instances()[1:]  # one 4×4 object in an 8×8 image
    masks = torch.zeros(1, 2, 8, 8, dtype=torch.bool)
    masks[0, 0, 2:6, 2:4] = True  # half the object: IoU 0.5
    masks[0, 1] = inst[0] == 0  # the background, perfectly
    torch.testing.assert_close(segmentation_iou(masks, inst), torch.tensor([0.5], dtype=torch.float64))


def test_segmentation_iou_fast_equals_reference_on_scenes():
    scenes = multi_object_scenes(12, seed=3, image_size=32, max_objects=4)
    masks = torch.rand(12, 6, 32, 32, generator=torch.Generator().manual_seed(0)) < 0.3
    masks[:, 0] = scenes.instance_masks == 1
    torch.testing.assert_close(
        segmentation_iou(masks, scenes.instance_masks), segmentation_iou_reference(masks, scenes.instance_masks)
    )


def test_segmentation_iou_ties_go_to_the_object_in_both_versions():
    inst = torch.zeros(1, 4, 4, dtype=torch.int64)
    inst[0, :2] = 1  # top half is the object
    band = torch.zeros(4, 4, dtype=torch.bool)
    band[1:3] = True  # IoU 1/3 with the object and with the background
    for masks in (torch.stack([torch.zeros_like(band), band])[None], torch.stack([band, torch.zeros_like(band)])[None]):
        expected = torch.tensor([1 / 3], dtype=torch.float64)
        torch.testing.assert_close(segmentation_iou_reference(masks, inst), expected)
        torch.testing.assert_close(segmentation_iou(masks, inst), expected)


def test_bg_tie_zero_is_scipys_assignment_without_the_rule():
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    inst = torch.zeros(1, 4, 4, dtype=torch.int64)
    inst[0, :2] = 1
    band = torch.zeros(4, 4, dtype=torch.bool)
    band[1:3] = True
    for masks in (torch.stack([torch.zeros_like(band), band])[None], torch.stack([band, torch.zeros_like(band)])[None]):
        table = np.array([[0.0, 1 / 3], [0.0, 1 / 3]]) if masks[0, 1].any() else np.array([[1 / 3, 0.0], [1 / 3, 0.0]])
        rows, cols = linear_sum_assignment(table, maximize=True)  # rows: background, object
        expected = table[1, cols[list(rows).index(1)]]
        got = segmentation_iou_reference(masks, inst, bg_tie=0.0)
        torch.testing.assert_close(got, torch.tensor([expected], dtype=torch.float64))
    with pytest.raises(ValueError, match="bg_tie"):
        segmentation_iou(masks, inst, bg_tie=1.0)


def test_segmentation_iou_bad_input():
    with pytest.raises(ValueError):
        segmentation_iou(torch.zeros(1, 2, 8, 8), _instances()[:1])  # not bool
    with pytest.raises(ValueError):
        segmentation_iou(torch.zeros(1, 2, 8, 8, dtype=torch.bool), torch.zeros(1, 8, 8, dtype=torch.int64))


def test_known_ari_values():
    cases = [
        ([0, 0, 1, 1], [0, 0, 1, 1], 1.0),
        ([0, 0, 1, 1], [1, 1, 0, 0], 1.0),
        ([0, 0, 1, 2], [0, 0, 1, 1], 0.5714285714285714),
        ([0, 0, 0, 0], [0, 1, 2, 3], 0.0),
        ([0, 0, 1, 1], [0, 1, 0, 1], -0.5),
        ([0, 0, 0, 0], [0, 0, 0, 0], 1.0),
    ]
    for t, p, v in cases:
        for fn in (adjusted_rand_index, adjusted_rand_index_reference):
            assert fn(torch.tensor(t), torch.tensor(p)).item() == pytest.approx(v, abs=1e-12)


def test_fg_ari_of_the_exact_partition_is_one_and_ignores_background():
    inst = _instances()
    # attention on a 4×4 grid whose argmax reproduces the 8×8 instance map (2×2 pixel patches)
    owner = inst[:, ::2, ::2]
    attn = torch.nn.functional.one_hot(owner, 3).permute(0, 3, 1, 2).float()
    torch.testing.assert_close(slot_partition(attn, (8, 8)), inst)
    torch.testing.assert_close(fg_ari(attn, inst), torch.ones(2, dtype=torch.float64))
    attn[:, 0] = torch.rand(2, 4, 4)  # changing who owns the background does not matter
    attn[:, 0] = attn[:, 0] * (owner == 0)
    torch.testing.assert_close(fg_ari(attn, inst), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="patch grid"):  # flat (B, K, N) maps are refused
        fg_ari(attn.flatten(2), inst)


def test_auroc_hand_values():
    labels = torch.tensor([[False], [False], [True], [True]])
    assert auroc(torch.tensor([[0.1], [0.2], [0.3], [0.4]]), labels).item() == 1.0
    assert auroc(torch.tensor([[0.4], [0.3], [0.2], [0.1]]), labels).item() == 0.0
    assert auroc(torch.tensor([[0.1], [0.3], [0.2], [0.4]]), labels).item() == 0.75
    assert auroc(torch.ones(4, 1), labels).item() == 0.5


def test_slot_probe_is_invariant_to_slot_order_and_learns_presence():
    g = torch.Generator().manual_seed(0)
    slots = torch.randn(200, 3, 4, generator=g)
    y = (slots[..., 0] > 1.0).any(1, keepdim=True)  # "is there a slot with a large first feature?"
    s1 = slot_probe_scores(slots[:100], y[:100], slots[100:], multilabel=True)
    s2 = slot_probe_scores(slots[:100, [2, 0, 1]], y[:100], slots[100:, [1, 2, 0]], multilabel=True)
    torch.testing.assert_close(s1, s2, atol=1e-2, rtol=1e-2)  # max over slots: same optimum, L-BFGS rounding
    assert auroc(s1, y[100:]) > 0.9


def test_presence_targets():
    attrs = {"colour": torch.tensor([[0, 2, -1], [1, 1, 1]])}
    want = torch.tensor([[True, False, True], [False, True, False]])
    assert torch.equal(presence_targets(attrs, "colour", 3), want)


def test_encoder_slots_are_permutation_equivariant():
    torch.manual_seed(0)
    model = ObjectEncoder("slot", num_slots=4, image_size=16, embed_dim=16).eval()
    x = torch.rand(2, 3, 16, 16)
    out = model(x)
    order = torch.tensor([3, 1, 0, 2])
    with torch.no_grad():
        model.object_fn.slots.copy_(model.object_fn.slots[:, order])
    out2 = model(x)
    torch.testing.assert_close(out2.slots, out.slots[:, order], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out2.global_rep, out.global_rep, atol=1e-5, rtol=1e-5)  # mean over slots
    assert out.attn.shape == (2, 4, *model.grid)  # on the patch grid
    torch.testing.assert_close(out.attn.sum(1), torch.ones(2, *model.grid), atol=1e-5, rtol=1e-5)
    cross = ObjectEncoder("cross", num_slots=4, image_size=16, embed_dim=16).eval()
    torch.testing.assert_close(cross(x).attn.sum((2, 3)), torch.ones(2, 4), atol=1e-5, rtol=1e-5)
    scenes = multi_object_scenes(4, seed=0, image_size=16, max_objects=2)
    o = encode(model, scenes.images)
    assert otsu_masks(o.attn, (16, 16)).shape == (4, 4, 16, 16)
    with pytest.raises(ValueError):
        ObjectEncoder("self")
