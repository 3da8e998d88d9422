"""Notebook 04's experiment helpers: premise measurements, Eq. (5) on object crops, arms that differ in one thing."""

import math

import pytest
import torch
from torch import nn

from oaedu.contracam import object_aware_crop
from oaedu.contracam.experiment import (
    cam_on_object,
    map_on_and_off_object,
    object_crops,
    objects_per_box,
    pair_distances,
    train_moco,
)
from oaedu.data.datasets import SceneDataset


def test_cam_on_object_by_hand():
    masks = torch.zeros(3, 4, 4, dtype=torch.long)
    masks[:, :2, :2] = 1  # a 2×2 object in the corner of each 4×4 image
    cams = torch.zeros(3, 4, 4)
    cams[0, :2, :2] = 1.0  # image 0: the map is the object
    cams[1] = 1.0  # image 1: the map is everywhere
    cams[1, :2, :2] = 0.0  # ... except on the object
    cams[2] = 0.5  # image 2: flat
    got = cam_on_object(cams, masks)
    assert got["on_object"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert got["off_object"] == pytest.approx((0 + 1 + 0.5) / 3)
    assert got["separated"] == pytest.approx(1 / 3)  # a tie does not count as separated
    empty = torch.zeros(1, 4, 4, dtype=torch.long)
    torch.testing.assert_close(
        torch.tensor(cam_on_object(torch.cat([cams, cams[:1]]), torch.cat([masks, empty]))["separated"]),
        torch.tensor(1 / 3),
    )  # no object: skipped
    with pytest.raises(ValueError, match="both be"):
        cam_on_object(cams, masks[:2])
    on, off = map_on_and_off_object(torch.cat([cams, cams[:1]]), torch.cat([masks, empty]))
    torch.testing.assert_close(on[:3], torch.tensor([1.0, 0.0, 0.5]))
    assert on[3].isnan() and off[3] == pytest.approx(4 / 16)


def _two_square_scenes():
    masks = torch.zeros(2, 16, 16, dtype=torch.long)
    masks[0, 2:6, 2:6] = 1
    masks[0, 9:14, 8:13] = 2
    masks[1, 5:11, 5:11] = 1
    images = torch.zeros(2, 3, 16, 16)
    for i in range(2):
        for k in (1, 2):
            images[i, :, masks[i] == k] = 0.1 * (k + 3 * i)  # each object has its own grey level
    shape = torch.tensor([[3, 1], [2, -1]])
    return SceneDataset(images, masks, {"shape": shape, "count": torch.tensor([2, 1])})


def test_object_crops_are_one_crop_per_object_centred_on_it():
    scenes = _two_square_scenes()
    crops, shapes = object_crops(scenes, margin=0.2)
    assert crops.shape == (3, 3, 16, 16)
    assert shapes.tolist() == [3, 1, 2]
    centres = crops[:, 0, 7:9, 7:9].mean((1, 2))
    torch.testing.assert_close(centres, torch.tensor([0.1, 0.2, 0.4]), atol=1e-5, rtol=0)


def test_pair_distances_on_colour_features():
    conv = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3)[:, :, None, None])  # features = mean colour
    red, green, blue = (torch.zeros(2, 3, 4, 4) for _ in range(3))
    red[:, 0], green[:, 1], blue[:, 2] = 1.0, 1.0, 1.0
    blue[1, 0] = 1.0  # one "blue" crop is magenta: (1, 0, 1)/√2 after normalisation
    crops = torch.cat([red, green, blue])
    shapes = torch.tensor([0, 0, 1, 1, 2, 2])
    d = pair_distances(conv, crops, shapes, [(0, 1), (0, 2)])
    assert d[(0, 1)] == pytest.approx(2 * math.sqrt(2))
    to_magenta = math.sqrt((1 - 1 / math.sqrt(2)) ** 2 + 0.5)
    # red → nearest "blue" is magenta; each blue → red: √2 (blue), to_magenta (magenta)
    assert d[(0, 2)] == pytest.approx(to_magenta + (math.sqrt(2) + to_magenta) / 2)


def test_train_moco_arms_differ_only_in_the_augmentation():
    images = torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    kw = dict(epochs=1, seed=5, widths=(8, 8), strides=(1, 2), queue_size=16, batch_size=8, progress=False)
    a, losses = train_moco(images, **kw)
    b, _ = train_moco(images, prepare=lambda batch, index, gen: (batch, batch), **kw)  # a no-op augmentation
    c, _ = train_moco(images, prepare=lambda batch, index, gen: (batch.flip(-1), batch), **kw)
    assert len(losses) == 1 and losses[0] > 0
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters(), strict=True))


def test_objects_per_box_counts_objects_mostly_inside():
    scenes = _two_square_scenes()
    boxes = [
        torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.6, 0.6]]),
        torch.tensor([[5 / 16, 5 / 16, 8 / 16, 11 / 16]]),
    ]
    # image 0: the whole image holds both squares; rows/cols 1..6 hold square 1; a 2×2 box holds 2 of square 2's
    # 25 pixels; image 1: columns 5..7 hold half of the 6×6 square (share 0.5 counts)
    assert objects_per_box(boxes, scenes.instance_masks).tolist() == [2, 1, 0, 1]
    assert objects_per_box(boxes, scenes.instance_masks, share=0.6).tolist() == [2, 1, 0, 0]
    with pytest.raises(ValueError, match="one box list"):
        objects_per_box(boxes[:1], scenes.instance_masks)


def test_oa_crop_prepare_draws_both_views_from_one_crop():
    from oaedu.contracam import oa_crop_prepare

    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    boxes = [
        torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]),
        torch.zeros(0, 4),
        torch.tensor([[0.25, 0.0, 1.0, 0.75]]),
    ]
    index = torch.tensor([2, 0])  # a batch of training images 2 and 0
    v1, v2 = oa_crop_prepare(boxes)(images[index], index, torch.Generator().manual_seed(1))
    expected, _ = object_aware_crop(images[index], [boxes[2], boxes[0]], generator=torch.Generator().manual_seed(1))
    assert torch.equal(v1, v2) and torch.equal(v1, expected)
    assert not torch.equal(v1[1], images[0])  # image 0 has boxes, so it is cropped
