"""ContraCAM (Eq. 2, 3), Grad-CAM vs captum, boxes, OA-Crop and background mixup (Eq. 4)."""

import pytest
import torch
from captum.attr import LayerGradCam
from torch import nn

from oaedu import checkpoints
from oaedu.contracam import (
    ContrastiveScore,
    background_mixup,
    background_only,
    boxes_from_cam,
    centre_prior,
    contracam,
    contracam_reference,
    gradcam,
    gradcam_reference,
    iterative_contracam,
    iterative_contracam_history,
    largest_empty_rectangle,
    largest_empty_rectangle_reference,
    mix_batch,
    object_aware_crop,
)
from oaedu.contrastive import MoCo, SmallEncoder, load_online
from oaedu.contrastive.learners import _Learner
from oaedu.maps import minmax


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = MoCo(queue_size=0)
    # non-trivial BN statistics so eval mode is not the identity
    m.train()
    with torch.no_grad():
        m(torch.rand(64, 3, 32, 32))
    return m.eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_batched_contracam_equals_per_image_loop(model, images):
    for nsr in (True, False):
        fast = contracam(model, model.encoder.layer, images, nsr=nsr)
        ref = contracam_reference(model, model.encoder.layer, images, nsr=nsr)
        assert fast.shape == (6, 32, 32)
        torch.testing.assert_close(fast, ref, atol=1e-4, rtol=0)


def test_contracam_is_normalised_and_permutation_equivariant(model, images):
    cam = contracam(model, model.encoder.layer, images, upsample=False)
    assert cam.shape == (6, 8, 8)
    torch.testing.assert_close(cam.amax((1, 2)), torch.ones(6))
    torch.testing.assert_close(cam.amin((1, 2)), torch.zeros(6))
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    torch.testing.assert_close(
        contracam(model, model.encoder.layer, images[perm], upsample=False), cam[perm], atol=1e-5, rtol=0
    )


def test_contracam_matches_captum_per_channel_attributions(model, images):
    # A ≥ 0 (post-ReLU block), so Σ_k ReLU(α_k A^k) = Σ_k ReLU(α_k) A^k: captum's unsummed Grad-CAM clamped per
    # channel is exactly the NSR map; captum's relu_attributions is the map without NSR.
    with torch.no_grad():
        keys = nn.functional.normalize(model(images), dim=1)
    score = ContrastiveScore(model).eval()
    lgc = LayerGradCam(score, model.encoder.layer)
    per_channel = lgc.attribute(images, additional_forward_args=(keys,), attr_dim_summation=False)
    expected = minmax(per_channel.clamp_min(0).sum(1))
    torch.testing.assert_close(
        contracam(model, model.encoder.layer, images, upsample=False), expected, atol=1e-5, rtol=0
    )
    no_nsr = minmax(lgc.attribute(images, additional_forward_args=(keys,), relu_attributions=True)[:, 0])
    torch.testing.assert_close(
        contracam(model, model.encoder.layer, images, nsr=False, upsample=False), no_nsr, atol=1e-5, rtol=0
    )


def test_gradcam_equals_captum_layer_gradcam(images):
    torch.manual_seed(2)
    enc = SmallEncoder()
    clf = nn.Sequential(enc, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(enc.out_dim, 5)).eval()
    targets = torch.tensor([0, 1, 2, 3, 4, 0])
    ours = gradcam(clf, enc.layer, images, targets, normalize=False)
    theirs = LayerGradCam(clf, enc.layer).attribute(images, target=targets, relu_attributions=True)[:, 0]
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    ref = gradcam_reference(clf, enc.layer, images, targets)
    torch.testing.assert_close(ref, gradcam(clf, enc.layer, images, targets), atol=1e-5, rtol=0)


def test_one_iteration_is_plain_contracam_and_the_running_max_grows(model, images):
    one = iterative_contracam(model, model.encoder.layer, images, iterations=1)
    torch.testing.assert_close(one, contracam(model, model.encoder.layer, images), atol=1e-6, rtol=0)
    final = iterative_contracam(model, model.encoder.layer, images, iterations=3)
    history = iterative_contracam_history(model, model.encoder.layer, images, iterations=3)
    assert len(history) == 3 and torch.equal(final, history[-1])
    for a, b in zip(history, history[1:], strict=False):
        assert (b >= a).all()
    assert (history[-1] > history[0]).any()


def _eq3_oracle_second_iteration(model, images, tau=1.0, fill="mean"):
    """Iterative ContraCAM at T = 2 written from Eq. (2)-(3) one image at a time, with explicit sums; masked pixels
    take the batch-mean colour (Alg. 1) or 0 (Eq. 3: x² = (1 − CAM¹) ⊙ x)."""
    layer = model.encoder.layer
    first = contracam(model, layer, images)
    if fill == "mean":
        x2 = images * (1 - first[:, None]) + images.mean((0, 2, 3), keepdim=True) * first[:, None]
    else:
        x2 = (1 - first[:, None]) * images
    acts = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: acts.__setitem__("a", out))
    try:
        with torch.no_grad():
            z1 = nn.functional.normalize(model(images), dim=1)  # z̄(x_n): 𝓑¹ and the positives
            z2 = nn.functional.normalize(model(x2), dim=1)  # 𝓑², the current masked batch
        maps = []
        for i in range(len(images)):
            q = nn.functional.normalize(model(x2[i : i + 1]), dim=1)[0]
            a = acts["a"]
            pos = q @ z1[i] / tau
            negatives = [q @ z1[n] / tau for n in range(len(images)) if n != i]
            negatives += [q @ z2[n] / tau for n in range(len(images)) if n != i]
            score = pos - torch.logsumexp(torch.stack([pos, *negatives]), 0)
            (g,) = torch.autograd.grad(score, a)
            alpha = g.mean((2, 3), keepdim=True).clamp_min(0)
            maps.append((alpha * a).sum(1).clamp_min(0).detach())
    finally:
        handle.remove()
    cam2 = nn.functional.interpolate(torch.cat(maps)[:, None], size=images.shape[-2:], mode="bicubic")[:, 0]
    return torch.maximum(first, minmax(cam2.clamp_min(0)))


@pytest.mark.parametrize("fill", ["mean", "zero"])
def test_iterative_contracam_matches_eq_3_at_two_iterations(model, images, fill):
    expected = _eq3_oracle_second_iteration(model, images, fill=fill)
    got = iterative_contracam(model, model.encoder.layer, images, iterations=2, fill=fill)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_the_fill_colour_changes_the_second_iteration(model, images):
    mean = iterative_contracam(model, model.encoder.layer, images, iterations=2, fill="mean")
    zero = iterative_contracam(model, model.encoder.layer, images, iterations=2, fill="zero")
    assert (mean - zero).abs().max() > 1e-3  # the two fills feed different masked images to round 2
    with pytest.raises(ValueError, match="fill"):
        iterative_contracam(model, model.encoder.layer, images, iterations=2, fill="black")


def test_bad_inputs_raise(model, images):
    with pytest.raises(ValueError, match="two images"):
        contracam(model, model.encoder.layer, images[:1])
    with pytest.raises(ValueError, match="submodule"):
        contracam(model, nn.Linear(2, 2), images)
    with pytest.raises(ValueError, match="images"):
        contracam(model, model.encoder.layer, images[0])
    with pytest.raises(ValueError, match="iterations"):
        iterative_contracam(model, model.encoder.layer, images, iterations=0)
    with pytest.raises(ValueError, match="targets"):
        gradcam(model, model.encoder.layer, images, torch.zeros(6))


def test_minmax_is_safe_on_constant_maps():
    maps = torch.stack([torch.full((4, 4), 3.0), torch.zeros(4, 4), torch.arange(16.0).view(4, 4)])
    out = minmax(maps, dims=2)
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], torch.zeros(4, 4)) and torch.equal(out[1], torch.zeros(4, 4))
    torch.testing.assert_close(out[2], torch.arange(16.0).view(4, 4) / 15)
    prior = centre_prior(2, (9, 9))
    assert prior[0, 4, 4] == 1 and prior[0, 0, 0] == 0


def test_boxes_on_known_shapes():
    cam = torch.zeros(3, 20, 20)
    cam[0, 2:6, 3:9] = 1.0  # two disjoint rectangles
    cam[0, 12:18, 10:20] = 0.8
    cam[1, 5:15, 5:15] = 1.0  # a ring is one component, one box
    cam[1, 8:12, 8:12] = 0.0
    cam[2, 0, 0] = 1.0  # one pixel = 0.25% of the image: dropped at min_area 1%
    boxes = boxes_from_cam(cam, threshold=0.5, margin=0.0)
    torch.testing.assert_close(boxes[0], torch.tensor([[3, 2, 9, 6], [10, 12, 20, 18]]) / 20.0)
    torch.testing.assert_close(boxes[1], torch.tensor([[5, 5, 15, 15]]) / 20.0)
    assert boxes[2].shape == (0, 4)
    grown = boxes_from_cam(cam[:1], threshold=0.5, margin=0.5)[0]
    # width 6 → 3 px each side; height 4 → 2 px; the second box is clipped at the right border
    torch.testing.assert_close(grown[0], torch.tensor([0, 0, 12, 8]) / 20.0)
    assert grown[1, 2] == 1.0


def test_object_aware_crop_uses_a_box_or_the_full_image():
    images = torch.rand(2, 3, 16, 16)
    boxes = [torch.zeros(0, 4), torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])]
    crops, chosen = object_aware_crop(images, boxes, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(crops[0], images[0], atol=1e-5, rtol=0)
    assert any(torch.equal(chosen[1], b) for b in boxes[1])
    quadrant = images[1, :, :8, :8] if chosen[1, 0] == 0 else images[1, :, 8:, 8:]
    torch.testing.assert_close(crops[1, :, ::2, ::2].mean(), quadrant.mean(), atol=0.05, rtol=0)
    with pytest.raises(ValueError):
        object_aware_crop(images, boxes[:1])


def test_largest_empty_rectangle_matches_brute_force():
    g = torch.Generator().manual_seed(3)
    masks = torch.rand(12, 7, 9, generator=g) < 0.25
    fast = largest_empty_rectangle(masks)
    for m, (y0, x0, y1, x1) in zip(masks, fast.tolist(), strict=True):
        ry0, rx0, ry1, rx1 = largest_empty_rectangle_reference(m)
        assert (y1 - y0) * (x1 - x0) == (ry1 - ry0) * (rx1 - rx0)
        assert not m[y0:y1, x0:x1].any()
    assert largest_empty_rectangle(torch.ones(1, 4, 4, dtype=torch.bool)).tolist() == [[0, 0, 0, 0]]


def test_background_only_tiles_the_empty_rectangle():
    images = torch.rand(2, 3, 8, 8)
    cams = torch.zeros(2, 8, 8)
    cams[0, :, :5] = 1.0  # background = columns 5..7
    cams[1] = 0.5  # everything is foreground at threshold 0.2
    bg, valid = background_only(images, cams, threshold=0.2)
    assert valid.tolist() == [True, False]
    cols = torch.tensor([5 + j % 3 for j in range(8)])  # the 3-column strip repeated from the left edge
    torch.testing.assert_close(bg[0], images[0][:, :, cols])
    torch.testing.assert_close(bg[1], images[1])  # no background: left as is, flagged invalid


def test_background_only_needs_an_object_and_a_real_background_area():
    images = torch.rand(3, 3, 8, 8)
    cams = torch.zeros(3, 8, 8)  # image 0: the CAM found nothing, so nothing is known to be background
    cams[1, :, :7] = 1.0  # image 1: a one-column sliver (8 of 64 pixels) is left
    cams[2, :4] = 1.0  # image 2: the bottom half is background
    _, valid = background_only(images, cams, threshold=0.2, min_area=0.25)
    assert valid.tolist() == [False, False, True]
    _, valid = background_only(images, cams, threshold=0.2, min_area=0.1)
    assert valid.tolist() == [False, True, True]
    with pytest.raises(ValueError, match="min_area"):
        background_only(images, cams, min_area=2.0)


def test_mix_batch_draws_donors_among_valid_backgrounds_only():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, 8, 8, generator=g)
    cams = torch.zeros(8, 8, 8)
    cams[:, 2:6, 2:6] = 1.0
    cams[1:] = 1.0  # only image 0 has a background
    bgs = background_only(images, cams)
    mixed, selected = mix_batch(images, cams, p=1.0, generator=g, backgrounds=bgs)
    assert selected.all()  # p = 1 is honoured although 7 of 8 images have no background
    expected = background_mixup(images, cams, bgs[0][[0] * 8])
    torch.testing.assert_close(mixed, expected)
    none, selected = mix_batch(images[1:], cams[1:], p=1.0, generator=g)
    assert torch.equal(none, images[1:]) and not selected.any()


def test_background_mixup_weights_sum_to_one():
    g = torch.Generator().manual_seed(4)
    x, bg = torch.rand(3, 3, 8, 8, generator=g), torch.rand(3, 3, 8, 8, generator=g)
    cam = torch.rand(3, 8, 8, generator=g)
    ones, zeros = torch.ones_like(x), torch.zeros_like(x)
    w_fg = background_mixup(ones, cam, zeros)  # the weight on x
    w_bg = background_mixup(zeros, cam, ones)  # the weight on the background
    torch.testing.assert_close(w_fg + w_bg, ones)
    torch.testing.assert_close(w_fg[:, 0], cam)
    torch.testing.assert_close(background_mixup(x, torch.ones(3, 8, 8), bg), x)
    torch.testing.assert_close(background_mixup(x, torch.zeros(3, 8, 8), bg), bg)
    mixed = background_mixup(x, cam, bg)
    assert ((mixed >= torch.minimum(x, bg) - 1e-6) & (mixed <= torch.maximum(x, bg) + 1e-6)).all()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        background_mixup(x, cam + 1, bg)
    same, selected = mix_batch(x, cam, p=0.0)
    assert torch.equal(same, x) and not selected.any()


def test_shipped_checkpoint_loads_strictly():
    path = checkpoints.path("contracam_moco.pt")
    assert path.stat().st_size < 1_000_000
    learner = load_online(path)
    assert isinstance(learner, _Learner) and not learner.training
    state = torch.load(path, weights_only=True)
    for k, v in learner.encoder.state_dict().items():
        assert torch.equal(v, state["encoder"][k])
    emb = learner(torch.rand(4, 3, 32, 32))
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(4))


def test_mixup_prepare_mixes_view_one_only():
    from oaedu.contracam import background_only, mix_batch, mixup_prepare

    g = torch.Generator().manual_seed(0)
    images = torch.rand(6, 3, 16, 16, generator=g)
    cams = torch.zeros(6, 16, 16)
    cams[:, 4:10, 4:10] = 1.0
    backgrounds = background_only(images, cams)
    index = torch.arange(6)
    v1, v2 = mixup_prepare(cams, backgrounds, p=1.0)(images, index, torch.Generator().manual_seed(1))
    expected, _ = mix_batch(images, cams, p=1.0, generator=torch.Generator().manual_seed(1), backgrounds=backgrounds)
    assert torch.equal(v2, images) and torch.equal(v1, expected)
    assert torch.equal(v1[:, :, 4:10, 4:10], images[:, :, 4:10, 4:10])  # the object (CAM = 1) is kept
    assert not torch.equal(v1, images)
