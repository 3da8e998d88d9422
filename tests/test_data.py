import time

import pytest
import torch

from oaedu.data import (
    background_challenge,
    background_challenge_suite,
    crop_boxes,
    multi_object_scenes,
    paired_hflip,
    paired_random_resized_crop,
    paired_resize,
)
from oaedu.data.background_challenge import _bounding_boxes


@pytest.fixture(scope="module")
def suite():
    return background_challenge_suite(300, seed=5, num_classes=9)


def test_items_have_the_documented_types(suite):
    for variant, data in suite.items():
        image, label, mask = data[0]
        assert image.shape == (3, 32, 32) and image.dtype == torch.float32, variant
        assert isinstance(label, int) and 0 <= label < 9
        assert mask.shape == (32, 32) and mask.dtype == torch.bool
        assert data.images.min() >= 0 and data.images.max() <= 1
        assert len(data) == 300


def test_variants_are_paired_and_deterministic(suite):
    base = suite["original"]
    for variant, data in suite.items():
        assert torch.equal(data.labels, base.labels), variant
        assert torch.equal(data.masks, base.masks), variant
    again = background_challenge("mixed_rand", 300, seed=5)
    assert torch.equal(again.images, suite["mixed_rand"].images)
    other = background_challenge("original", 300, seed=6)
    assert not torch.equal(other.images, base.images)


def test_variant_definitions(suite):
    labels, masks = suite["original"].labels, suite["original"].masks
    m = masks[:, None].expand(-1, 3, -1, -1)
    assert (suite["only_fg"].images[~m] == 0).all() and (suite["only_fg"].images[m] > 0).any()
    assert (suite["no_fg"].images[m] == 0).all()
    box = _bounding_boxes(masks)[:, None].expand(-1, 3, -1, -1)
    assert (suite["only_bg_b"].images[box] == 0).all()
    assert torch.equal(suite["only_bg_b"].images[~box], suite["only_bg_t"].images[~box])
    assert torch.equal(suite["mixed_same"].bg_labels, labels)
    assert torch.equal(suite["mixed_next"].bg_labels, (labels + 1) % 9)
    # Foreground pixels are identical in original and every mixed variant: only the background changes.
    for v in ("mixed_same", "mixed_rand", "mixed_next"):
        assert torch.equal(suite[v].images[m], suite["original"].images[m])
        assert not torch.equal(suite[v].images[~m], suite["original"].images[~m])


def test_bounding_boxes_cover_the_mask_tightly(suite):
    masks = suite["original"].masks
    box = _bounding_boxes(masks)
    assert (box | ~masks).all()
    rows, cols = masks.any(2), masks.any(1)
    assert torch.equal(box.any(2), rows.cumsum(1).bool() & rows.flip(1).cumsum(1).flip(1).bool())
    assert torch.equal(box.any(1), cols.cumsum(1).bool() & cols.flip(1).cumsum(1).flip(1).bool())


@pytest.mark.parametrize("p", [0.2, 0.9])
def test_background_correlation_is_tunable(p):
    data = background_challenge("original", 4000, seed=0, num_classes=5, bg_correlation=p)
    agree = (data.bg_labels == data.labels).float().mean().item()
    assert agree == pytest.approx(p + (1 - p) / 5, abs=0.03)


def test_classes_differ_in_shape():
    data = background_challenge("only_fg", 900, seed=0)
    areas = torch.stack([data.masks[data.labels == c].float().mean(0).sum() for c in range(9)])
    radius_free = areas / areas.max()
    assert len(set(radius_free.round(decimals=2).tolist())) >= 7  # distinct shapes cover distinct areas


def test_generation_is_fast():
    start = time.perf_counter()
    background_challenge("mixed_rand", 10_000, seed=0)
    assert time.perf_counter() - start < 10.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"variant": "mixed"}, "unknown variant"),
        ({"n": 0}, "positive"),
        ({"num_classes": 12}, "num_classes"),
        ({"image_size": 8}, "image_size"),
        ({"bg_correlation": 1.5}, "probability"),
    ],
)
def test_background_challenge_bad_input(kwargs, match):
    args = {"variant": "original", "n": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        background_challenge(**args)


def test_scenes_instance_masks_and_attributes():
    data = multi_object_scenes(200, seed=0, image_size=32, max_objects=5)
    image, instance, attrs = data[0]
    assert image.shape == (3, 32, 32) and instance.dtype == torch.int64
    count = data.attributes["count"]
    assert torch.equal(data.instance_masks.flatten(1).amax(1), count)
    for i in range(len(data)):
        ids = data.instance_masks[i].unique()
        assert torch.equal(ids[ids > 0], torch.arange(1, count[i] + 1))  # ids are 1..count, each visible
    present = data.attributes["shape"] >= 0
    assert torch.equal(present.sum(1), count)
    assert torch.equal(present, torch.arange(5)[None] < count[:, None])  # present objects come first
    assert (data.attributes["colour"][~present] == -1).all()
    assert torch.isnan(data.attributes["position"][~present]).all()
    assert set(attrs) == {"shape", "colour", "size", "radius", "position", "count"}


def test_scenes_radii_set_the_two_object_sizes():
    small, large = 0.06, 0.2
    data = multi_object_scenes(100, seed=3, image_size=32, max_objects=3, radii=(small, large))
    size, radius = data.attributes["size"], data.attributes["radius"]
    present = size >= 0
    assert torch.allclose(radius[present & (size == 0)], torch.tensor(small * 32))
    assert torch.allclose(radius[present & (size == 1)], torch.tensor(large * 32))
    default = multi_object_scenes(100, seed=3, image_size=32, max_objects=3)
    radii = default.attributes["radius"][default.attributes["size"] >= 0].unique()
    torch.testing.assert_close(radii, torch.tensor([0.075 * 32, 0.12 * 32]))  # the default sizes are unchanged
    with pytest.raises(ValueError, match="radii"):
        multi_object_scenes(4, radii=(0.3, 0.1))


def test_scenes_avoid_overlap_keeps_whole_objects():
    data = multi_object_scenes(100, seed=1, image_size=48, max_objects=4, overlap="avoid")
    occl = multi_object_scenes(100, seed=1, image_size=48, max_objects=4, overlap="occlude")
    pos, rad, count = data.attributes["position"], data.attributes["radius"], data.attributes["count"]
    for i in range(100):
        c = int(count[i])
        for a in range(c):
            for b in range(a + 1, c):
                dist = ((pos[i, a] - pos[i, b]) * 48).norm()
                assert dist >= rad[i, a] + rad[i, b]
    assert (data.instance_masks > 0).sum() >= (occl.instance_masks > 0).sum() * 0.8


def test_scenes_cooccurrence_raises_partner_rate():
    plain = multi_object_scenes(1500, seed=2, image_size=32, max_objects=3, cooccurrence=0.0)
    cooc = multi_object_scenes(1500, seed=2, image_size=32, max_objects=3, cooccurrence=0.9)

    def partner_rate(d):
        shape = d.attributes["shape"]
        has_a = (shape == 0).any(1)
        return (shape == 1).any(1)[has_a].float().mean().item()

    assert partner_rate(cooc) > partner_rate(plain) + 0.15


def test_scenes_bad_input():
    with pytest.raises(ValueError, match="min_objects"):
        multi_object_scenes(4, min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match="overlap"):
        multi_object_scenes(4, overlap="merge")
    with pytest.raises(ValueError, match="positive"):
        multi_object_scenes(-1)


def _encode(masks):
    """Images whose red channel equals the mask, so any transform must keep them aligned."""
    images = torch.rand(masks.shape[0], 3, *masks.shape[1:])
    images[:, 0] = masks.float()
    return images


def test_paired_transforms_keep_masks_aligned():
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(8, 32, 32, generator=g) > 0.7
    images = _encode(masks)
    out, m = paired_hflip(images, masks, p=1.0)
    assert torch.equal(m, masks.flip(-1)) and torch.equal(out[:, 0] > 0.5, m)
    out, m, boxes = paired_random_resized_crop(images, masks, 16, scale=(0.3, 1.0), generator=g)
    assert out.shape == (8, 3, 16, 16) and m.shape == (8, 16, 16) and m.dtype == torch.bool
    assert ((boxes[:, 2:] - boxes[:, :2]) > 0).all() and (boxes >= 0).all() and (boxes <= 1 + 1e-6).all()
    small_images, small_masks = paired_resize(images, masks, 16)
    assert small_masks.shape == (8, 16, 16)
    full, full_m = crop_boxes(images, masks, torch.tensor([[0.0, 0.0, 1.0, 1.0]]).expand(8, 4), 32)
    torch.testing.assert_close(full, images, atol=1e-5, rtol=0)
    assert torch.equal(full_m, masks)
    half, half_m = crop_boxes(images, masks, torch.tensor([[0.5, 0.0, 1.0, 0.5]]).expand(8, 4), 16)
    assert torch.equal(half_m, masks[:, :16, 16:])
    with pytest.raises(ValueError, match="match"):
        paired_hflip(images, masks[:, :16])


def test_take_and_first_of_each_class():
    from oaedu.data import first_of_each_class, take

    data = background_challenge("original", 50, seed=0, num_classes=3)
    images, labels, masks = take(data, [3, 1])
    assert torch.equal(images, data.images[[3, 1]]) and torch.equal(masks, data.masks[[3, 1]])
    assert torch.equal(labels, data.labels[[3, 1]])
    firsts = first_of_each_class(data.labels, 3)
    assert data.labels[firsts].tolist() == [0, 1, 2]
    assert all((data.labels[: int(i)] != c).all() for c, i in enumerate(firsts))
    with pytest.raises(ValueError, match="class 3"):
        first_of_each_class(data.labels, 4)
    with pytest.raises(ValueError):
        take(data, [])
