"""BG-Mixup at paper scale (ContraCAM Eq. 4, §3): per-item views from fixed maps, and batches that keep negatives."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from oaedu.contracam.augment import background_mixup, background_only
from oaedu.distributed import Context
from oaedu.scale.data import BackgroundMixupViews, _batches, resize_maps, sharded_outputs


def identity(image, gen):
    return image


def scenes(n=4, size=16):
    """Images whose object is a bright 6×6 square at the top left; the rest is each image's own flat colour."""
    images = torch.stack([torch.full((3, size, size), 0.1 * (i + 1)) for i in range(n)])
    images[:, :, :6, :6] = 1.0
    cams = torch.zeros(n, size, size)
    cams[:, :6, :6] = 1.0
    return TensorDataset(images, torch.arange(n), torch.zeros(n, size, size)), cams


def test_the_first_view_keeps_the_object_on_another_images_background():
    data, cams = scenes()
    views = BackgroundMixupViews(data, cams, torch.tensor([False, False, True, False]), identity, p=1.0)
    for i in range(4):
        (first, second), label, _ = views[i]
        image = data[i][0]
        assert torch.equal(second, image) and int(label) == i  # view 2 keeps its own background
        assert torch.equal(first[:, :6, :6], image[:, :6, :6])  # the object stays
        assert torch.allclose(first[:, 8:, 8:], torch.full((3, 8, 8), 0.3))  # image 2's background (the donor)
        expected = background_mixup(image[None], cams[i][None], background_only(data[2][0][None], cams[2][None])[0])
        assert torch.allclose(first, expected[0])  # Eq. 4 with the donor's tiled background


def test_mixing_is_keyed_by_seed_epoch_and_item_and_needs_donors():
    data, cams = scenes(n=8)
    valid = torch.ones(8, dtype=torch.bool)
    views = BackgroundMixupViews(data, cams, valid, identity, p=0.5, seed=3)
    first = [views[i][0][0] for i in range(8)]
    assert all(torch.equal(a, views[i][0][0]) for i, a in enumerate(first))  # the same item, the same views
    mixed = [not torch.equal(a, data[i][0]) for i, a in enumerate(first)]
    assert 0 < sum(mixed) < 8  # p = 0.5: some mixed, some not
    views.set_epoch(1)
    assert any(not torch.equal(a, views[i][0][0]) for i, a in enumerate(first))
    never = BackgroundMixupViews(data, cams, torch.zeros(8, dtype=torch.bool), identity, p=1.0)
    assert all(torch.equal(never[i][0][0], data[i][0]) for i in range(8))  # no background to lend: no mixing
    off = BackgroundMixupViews(data, cams, valid, identity, p=0.0)
    assert all(torch.equal(off[i][0][0], data[i][0]) for i in range(8))


def test_small_stored_maps_are_resized_to_the_image():
    data, cams = scenes()
    small = resize_maps(cams, (8, 8))
    assert small.shape == (4, 8, 8) and torch.allclose(resize_maps(small, (16, 16))[:, 0, 0], torch.ones(4))
    views = BackgroundMixupViews(data, small, torch.ones(4, dtype=torch.bool), identity, p=1.0)
    assert views[0][0].shape == (2, 3, 16, 16)


@pytest.mark.parametrize(
    "cams, valid, message",
    [
        (torch.zeros(3, 16, 16), torch.ones(4, dtype=torch.bool), "cams must be"),
        (torch.zeros(4, 16), torch.ones(4, dtype=torch.bool), "cams must be"),
        (torch.zeros(4, 16, 16), torch.ones(4), "valid must be"),
        (torch.zeros(4, 16, 16), torch.ones(3, dtype=torch.bool), "valid must be"),
    ],
)
def test_maps_and_donors_that_do_not_fit_the_dataset_are_refused(cams, valid, message):
    data, _ = scenes()
    with pytest.raises(ValueError, match=message):
        BackgroundMixupViews(data, cams, valid, identity)


def test_batches_keep_at_least_two_images_for_contracams_negatives():
    for n in range(2, 30):
        for size in (2, 3, 4, 8):
            batches = _batches(list(range(n)), size, 2)
            assert sum(batches, []) == list(range(n)) and min(map(len, batches)) >= 2, (n, size, batches)
    assert _batches(list(range(9)), 4, 1) == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]  # min_batch 1: unchanged
    data, _ = scenes(n=9)
    out, labels = sharded_outputs(
        lambda x, m: x.new_full((len(x), 1), len(x)), data, Context(), batch_size=4, min_batch=2
    )
    sizes = out[:, 0].tolist()
    assert labels.tolist() == list(range(9)) and min(sizes) >= 2
    with pytest.raises(ValueError, match="min_batch"):
        sharded_outputs(lambda x, m: x, data, Context(), batch_size=4, min_batch=5)


def test_the_probe_takes_every_class_of_a_class_sorted_folder():
    from oaedu.scale.recipes import _spread

    labels = torch.arange(9).repeat_interleave(100)  # an image folder: 100 images of class 0, then of class 1, ...
    data = TensorDataset(torch.zeros(900, 1), labels, torch.zeros(900))
    subset = _spread(data, 90)
    picked = torch.tensor([int(subset[i][1]) for i in range(len(subset))])
    assert len(subset) == 90 and torch.equal(picked.bincount(), torch.full((9,), 10))
    assert _spread(data, 5000) is data
