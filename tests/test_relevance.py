import pytest
import torch

from oaedu.maps import minmax
from oaedu.models import build_model, capture_attention, tiny_vit
from oaedu.relevance import (
    normalized_cut_mask,
    relevance_at,
    relevance_losses,
    relevance_map,
    relevance_map_reference,
    robustvit_step,
    tokencut_masks,
)


@pytest.mark.parametrize("kwargs", [{}, {"reg_tokens": 2}])
@pytest.mark.parametrize("create_graph", [False, True])
def test_fast_relevance_equals_the_reference(kwargs, create_graph):
    torch.manual_seed(0)
    model = tiny_vit(depth=3, **kwargs).eval()
    images = torch.rand(3, 3, 32, 32)
    target = torch.tensor([0, 4, 8])
    fast = relevance_map(model, images, target, create_graph=create_graph)
    ref = relevance_map_reference(model, images, target, create_graph=create_graph)
    assert fast.shape == (3, 8, 8)  # on the patch grid, prefix tokens excluded
    torch.testing.assert_close(fast, ref, atol=1e-6, rtol=1e-5)
    assert (fast >= 0).all()


@pytest.mark.parametrize("create_graph", [False, True])
def test_fast_relevance_gives_the_reference_parameter_gradients(create_graph):
    # what a RobustViT step backpropagates: with create_graph=True through the gradients themselves
    torch.manual_seed(1)
    model = tiny_vit(depth=3).double().eval()
    images = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    target = torch.tensor([3, 5])
    weights = torch.randn(2, 8, 8, dtype=torch.float64)
    grads = []
    for fn in (relevance_map, relevance_map_reference):
        model.zero_grad()
        (fn(model, images, target, create_graph=create_graph) * weights).sum().backward()
        grads.append([p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()])
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-8)
    assert any(g.abs().sum() > 0 for g in grads[0])


def test_maps_lie_on_the_patch_grid_in_row_major_order():
    # A 2×4 grid (not square): the map at (i, j) is patch token 1 + 4i + j of the rollout's CLS row.
    torch.manual_seed(0)
    from timm.models.vision_transformer import VisionTransformer

    model = VisionTransformer(img_size=(16, 32), patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5).eval()
    images = torch.rand(3, 3, 16, 32)
    for fn in (relevance_map, relevance_map_reference):
        rel = fn(model, images)
        assert rel.shape == (3, 2, 4)
        with capture_attention(model) as record:
            logits = model(images)
        grads = torch.autograd.grad(logits.gather(1, logits.argmax(1, keepdim=True)).sum(), record.probs)
        a_bar = [(g * a).clamp(min=0).mean(1) for a, g in zip(record.probs, grads, strict=True)]
        r = torch.eye(9).expand(3, 9, 9)
        for a in a_bar:
            r = r + a @ r
        torch.testing.assert_close(rel, r[:, 0, 1:].view(3, 2, 4), atol=1e-6, rtol=1e-5)


def test_identity_attention_gives_zero_patch_relevance():
    # With one block whose attention is the identity, (∇A ⊙ A)⁺ lives on the diagonal, so the CLS row of
    # R = I + Ā has nothing on the patches.
    torch.manual_seed(0)
    model = tiny_vit(depth=1).eval()
    model.blocks[0].attn.q_norm.register_forward_hook(lambda m, i, o: o * 0 + torch.eye(o.shape[-2], o.shape[-1]) * 1e4)
    model.blocks[0].attn.k_norm.register_forward_hook(lambda m, i, o: o * 0 + torch.eye(o.shape[-2], o.shape[-1]))
    rel = relevance_map(model, torch.rand(2, 3, 32, 32))
    assert rel.abs().max() < 1e-6


def test_exact_map_passes_gradcheck():
    torch.manual_seed(0)
    model = tiny_vit(depth=2, embed_dim=16, image_size=16, patch_size=8).double().eval()
    images = torch.rand(1, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([1])
    fn = lambda x: relevance_map(model, x, target, create_graph=True)
    assert torch.autograd.gradcheck(fn, (images,), eps=1e-6, atol=1e-5)


def test_detached_map_stops_gradients_after_the_last_softmax():
    torch.manual_seed(0)
    model = tiny_vit(depth=2).eval()
    images = torch.rand(2, 3, 32, 32)
    for create_graph, expect_head_grad in ((False, False), (True, True)):
        model.zero_grad()
        relevance_map(model, images, torch.tensor([1, 2]), create_graph=create_graph).sum().backward()
        head = model.head.weight.grad
        assert (head is not None and head.abs().sum() > 0) == expect_head_grad
        assert model.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


def test_relevance_needs_attention_and_gradients():
    with pytest.raises(ValueError, match="no timm Attention"):
        relevance_map(build_model("mixer"), torch.rand(1, 3, 32, 32))
    with torch.no_grad(), pytest.raises(ValueError, match="no_grad"):
        relevance_map(tiny_vit(), torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="one class per image"):
        relevance_map(tiny_vit(), torch.rand(2, 3, 32, 32), target=torch.tensor([1]))
    with pytest.raises(ValueError, match="integer class"):
        relevance_map(tiny_vit(), torch.rand(2, 3, 32, 32), target=torch.tensor([0.7, 1.2]))
    with pytest.raises(ValueError, match="must lie in"):
        relevance_map(tiny_vit(num_classes=3), torch.rand(2, 3, 32, 32), target=torch.tensor([0, 3]))
    for fn in (relevance_map, relevance_map_reference):
        with pytest.raises(ValueError, match="CLS token"):
            fn(tiny_vit(class_token=False, global_pool="avg"), torch.rand(1, 3, 32, 32))


def test_losses_on_hand_made_maps():
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    perfect = relevance_losses(torch.tensor([[5.0, 5.0, 1.0, 1.0]]), mask)
    assert perfect["bg"] == 0 and perfect["fg"] == 0 and perfect["relevance"] == 0
    wrong = relevance_losses(torch.tensor([[1.0, 1.0, 5.0, 5.0]]), mask)
    assert wrong["bg"].item() == pytest.approx(0.5) and wrong["fg"].item() == pytest.approx(0.5)
    assert wrong["relevance"].item() == pytest.approx(2.0 * 0.5 + 0.3 * 0.5)
    constant = relevance_losses(torch.full((1, 4), 3.0), mask)  # min–max of a constant map: zeros, not NaN
    assert torch.isfinite(constant["relevance"]) and constant["fg"].item() == pytest.approx(0.5)
    assert torch.equal(minmax(torch.zeros(2, 5)), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="must match"):
        relevance_losses(torch.zeros(1, 4), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        relevance_losses(torch.zeros(1, 4), torch.full((1, 4), 2.0))


def test_robustvit_step_trains_and_confidence_only_skips_relevance():
    from oaedu.data import background_challenge
    from oaedu.train import fit

    data = background_challenge("original", 64, seed=0, num_classes=3)
    model = tiny_vit(num_classes=3, depth=2)
    history = fit(model, data, epochs=1, batch_size=32, step=robustvit_step(), progress=False, device="cpu")
    assert len(history.loss) == 1 and history.loss[0] > 0
    images, labels, masks = data.images[:4], data.labels[:4], data.masks[:4]
    out = robustvit_step(lambda_rel=0.0)(model, images, labels, masks)
    expected = torch.nn.functional.cross_entropy(out.logits, out.logits.argmax(1))
    torch.testing.assert_close(out.loss, 0.2 * expected)
    assert out.terms == {"confidence": pytest.approx(expected.item())}
    for create_graph in (False, True):
        fast = robustvit_step(create_graph=create_graph)(model, images, labels, masks)
        ref = robustvit_step(create_graph=create_graph, reference=True)(model, images, labels, masks)
        torch.testing.assert_close(fast.loss, ref.loss, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(fast.logits, model(images), atol=1e-6, rtol=1e-5)  # the logits the map explains
        assert set(fast.terms) == {"bg", "fg", "relevance", "confidence"}
        assert fast.terms == pytest.approx(ref.terms, rel=1e-5, abs=1e-6)
        terms = fast.terms
        assert fast.loss.item() == pytest.approx(0.8 * terms["relevance"] + 0.2 * terms["confidence"], rel=1e-5)


def test_pixel_step_is_eq_1_to_5_at_pixel_resolution():
    # Oracle from RobustViT Eq. (1)-(5) as printed: R = min-max of the bilinearly upsampled map over the pixels,
    # L_fg = MSE(R ⊙ S, 1). The step uses the released L_fg = MSE(R ⊙ S, S): same gradient, value lower by the
    # constant λ_rel·λ_fg·mean(1 − S).
    from oaedu.data import background_challenge

    torch.manual_seed(0)
    data = background_challenge("original", 4, seed=3, num_classes=3)
    images, labels, masks = data.images, data.labels, data.masks
    model = tiny_vit(num_classes=3, depth=2)
    params = [p for p in model.parameters() if p.requires_grad]
    for create_graph in (False, True):
        loss = robustvit_step(create_graph=create_graph)(model, images, labels, masks).loss
        ours = torch.autograd.grad(loss, params, allow_unused=True)

        rel = relevance_map(model, images, labels, create_graph=create_graph)
        logits = model(images)
        up = torch.nn.functional.interpolate(rel[:, None], size=(32, 32), mode="bilinear")[:, 0]
        lo = up.flatten(1).min(1).values[:, None, None]
        hi = up.flatten(1).max(1).values[:, None, None]
        r = (up - lo) / (hi - lo)
        s = masks.float()
        l_bg = ((r * (1 - s)) ** 2).mean()  # Eq. (1)
        l_fg = ((r * s - 1) ** 2).mean()  # Eq. (2)
        l_cls = torch.nn.functional.cross_entropy(logits, logits.argmax(1))  # Eq. (4)
        oracle = 0.8 * (2.0 * l_bg + 0.3 * l_fg) + 0.2 * l_cls  # Eq. (3) and (5)
        theirs = torch.autograd.grad(oracle, params, allow_unused=True)
        torch.testing.assert_close(loss, oracle - 0.8 * 0.3 * (1 - s).mean(), atol=1e-6, rtol=1e-5)
        for a, b in zip(ours, theirs, strict=True):
            assert (a is None) == (b is None)
            if a is not None:
                torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_patch_resolution_is_the_area_pooled_variant_and_underweights_boundaries():
    # One patch half covered by the object: the pixel loss asks R = 1 on its object half, the patch loss asks
    # R = 0.5 for the whole patch.
    rel = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]])
    masks = torch.zeros(1, 4, 4, dtype=torch.bool)
    masks[0, :2, 2] = True
    r_patch, s_patch = relevance_at(rel, masks, "patch")
    torch.testing.assert_close(s_patch, torch.tensor([[[0.0, 0.5], [0.0, 0.0]]]))
    torch.testing.assert_close(r_patch, rel)
    r_pix, s_pix = relevance_at(rel, masks, "pixel")
    assert r_pix.shape == (1, 4, 4) and s_pix.dtype == torch.bool
    patch, pixel = relevance_losses(r_patch, s_patch), relevance_losses(r_pix, s_pix)
    # patch form: the half-covered patch at R = 1 meets L_fg = mean(s²(R − 1)²) exactly and pays (1 − s)²R² = 1/4
    torch.testing.assert_close(patch["fg"], torch.tensor(0.0))
    torch.testing.assert_close(patch["bg"], torch.tensor(0.25 / 4))
    assert pixel["fg"] > 0 and not torch.isclose(pixel["bg"], patch["bg"])
    with pytest.raises(ValueError, match="patch grid"):  # flat (B, h·w) maps are refused
        relevance_at(rel.view(1, 4), masks)
    with pytest.raises(ValueError, match="resolution"):
        relevance_at(rel, masks, "token")
    with pytest.raises(ValueError, match="resolution"):
        robustvit_step(resolution="tokens")


def test_normalized_cut_separates_two_clusters():
    g = torch.Generator().manual_seed(0)
    fg = torch.tensor([1.0, 0.0, 0.0]) + 0.05 * torch.randn(5, 3, generator=g)
    bg = torch.tensor([0.0, 1.0, 0.0]) + 0.05 * torch.randn(11, 3, generator=g)
    features = torch.cat([fg, bg]).view(1, 4, 4, 3)  # the first five patches in raster order are the object
    mask = normalized_cut_mask(features)
    assert mask.shape == (1, 4, 4) and mask.dtype == torch.bool
    # The smaller cluster has the larger |eigenvector| entries (they scale with 1/volume), so it holds the seed
    # and becomes the foreground.
    assert mask.flatten(1)[0, :5].all() and not mask.flatten(1)[0, 5:].any()
    with pytest.raises(ValueError, match="patch grid"):
        normalized_cut_mask(torch.zeros(1, 16, 3))  # flat (B, N, D) tokens are refused


def test_tokencut_masks_cut_a_vits_own_patch_tokens():
    from oaedu.models import patch_grid, tiny_vit

    torch.manual_seed(0)
    vit = tiny_vit(image_size=32, patch_size=8, embed_dim=32, depth=2, num_classes=4).eval()
    images = torch.rand(3, 3, 32, 32)
    masks = tokencut_masks(vit, images)
    assert masks.shape == (3, *patch_grid(vit)) and masks.dtype == torch.bool
    with torch.no_grad():
        tokens = vit.forward_features(images)[:, vit.num_prefix_tokens :]
    assert torch.equal(masks, normalized_cut_mask(tokens.reshape(3, 4, 4, -1)))
    pixels = tokencut_masks(vit, images, size=(32, 32))
    assert torch.equal(pixels, masks.repeat_interleave(8, 1).repeat_interleave(8, 2))


def test_marker_dataset_splits():
    from oaedu.relevance import marker_dataset

    train = marker_dataset("train", 2000, seed=0, p=0.95)
    agree = (train.bg_labels == train.labels).float().mean().item()
    assert agree == pytest.approx(0.95 + 0.05 / 4, abs=0.02)
    conflict = marker_dataset("conflict", 500, seed=1)
    assert (conflict.bg_labels != conflict.labels).all()
    rnd = marker_dataset("random", 2000, seed=1)
    assert (rnd.bg_labels == rnd.labels).float().mean().item() == pytest.approx(0.25, abs=0.04)
    assert (train.masks.flatten(1).sum(1) == 256).all()  # a 2×2 block of 8-px patches
    # The marker patch lies outside the object and has its class colour.
    from oaedu.relevance.data import MARKER_COLOURS

    hits = (train.images == MARKER_COLOURS[train.bg_labels][:, :, None, None]).all(1) & ~train.masks
    assert (hits.flatten(1).sum(1) >= 64).all()
    with pytest.raises(ValueError, match="unknown split"):
        marker_dataset("test", 4)


def test_shipped_marker_vit_loads_strictly_and_follows_the_marker():
    from oaedu import checkpoints
    from oaedu.relevance import marker_dataset, marker_vit
    from oaedu.train import evaluate

    model = marker_vit()
    state = torch.load(checkpoints.path("robustvit_marker_vit.pt"), weights_only=True)
    model.load_state_dict(state, strict=True)
    accuracy = {s: evaluate(model, marker_dataset(s, 400, seed=1)) for s in ("id", "random", "conflict")}
    # Mixed reliance, RobustViT's premise (notebook 05): the marker is used (conflict well below id), the texture
    # too (far above chance).
    assert accuracy["id"] > 95 and accuracy["conflict"] < accuracy["id"] - 10 and accuracy["random"] > 60


def test_marker_patches_finds_the_one_painted_patch():
    from oaedu.data import MaskedImageDataset
    from oaedu.relevance import marker_dataset, marker_patches
    from oaedu.relevance.data import MARKER_COLOURS

    data = marker_dataset("conflict", 50, seed=3)
    found = marker_patches(data)
    assert (found.flatten(1).sum(1) == 1).all()
    assert not (found & data.masks[:, ::8, ::8]).any()
    where = found.flatten(1).float().argmax(1)
    rows, cols = where // 4, where % 4
    for i in range(50):
        patch = data.images[i, :, 8 * rows[i] : 8 * rows[i] + 8, 8 * cols[i] : 8 * cols[i] + 8]
        assert torch.equal(patch, MARKER_COLOURS[data.bg_labels[i]][:, None, None].expand(3, 8, 8))
    with pytest.raises(ValueError, match="marker_dataset"):
        marker_patches(MaskedImageDataset(data.images[:2], data.labels[:2], data.masks[:2]))


def test_detached_relevance_and_object_share():
    from oaedu.metrics import mass_on_object
    from oaedu.relevance import marker_dataset, marker_vit
    from oaedu.relevance.experiment import detached_relevance, object_share

    torch.manual_seed(0)
    model = marker_vit().eval()
    data = marker_dataset("id", 10, seed=2)
    grid = detached_relevance(model, data.images)
    assert grid.shape == (10, 4, 4) and grid.device.type == "cpu" and not grid.requires_grad
    torch.testing.assert_close(grid, relevance_map(model, data.images).detach())
    direct = 100 * mass_on_object(grid, data.masks).mean().item()
    assert object_share(model, data, n=10) == pytest.approx(direct)
    assert object_share(model, data, n=10, batch_size=3) == pytest.approx(direct)  # batching changes nothing
    assert object_share(model, data, n=4) == pytest.approx(100 * mass_on_object(grid[:4], data.masks[:4]).mean().item())
    assert 0 <= direct <= 100
    with pytest.raises(ValueError, match="n must"):
        object_share(model, data, n=0)


def test_finetune_copies_the_model_and_is_repeatable():
    from oaedu.relevance import marker_dataset, marker_vit
    from oaedu.relevance.experiment import finetune

    torch.manual_seed(0)
    pretrained = marker_vit()
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    data = marker_dataset("train", 32, seed=0)
    step = robustvit_step(create_graph=True)
    a, history = finetune(pretrained, data, step, lr=1e-3, epochs=1, seed=3, device="cpu")
    b, _ = finetune(pretrained, data, step, lr=1e-3, epochs=1, seed=3, device="cpu")
    c, _ = finetune(pretrained, data, step, lr=1e-3, epochs=1, seed=4, device="cpu")
    assert all(torch.equal(v, before[k]) for k, v in pretrained.state_dict().items())  # the original is untouched
    assert len(history.loss) == 1 and not a.training
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())  # same seed, same model
    assert not torch.equal(a.head.weight, c.head.weight)  # another seed shuffles the batches differently
    assert not torch.equal(a.head.weight, pretrained.head.weight)


def test_misplaced_masks_give_each_image_another_images_mask():
    from oaedu.relevance import marker_dataset
    from oaedu.relevance.experiment import misplaced_masks

    data = marker_dataset("train", 64, seed=0)
    moved = misplaced_masks(data)
    assert torch.equal(moved.images, data.images) and torch.equal(moved.labels, data.labels)
    assert torch.equal(moved.masks[1:], data.masks[:-1]) and torch.equal(moved.masks[0], data.masks[-1])
    # same sizes, other places: the object is only partly covered on average
    assert torch.equal(moved.masks.flatten(1).sum(1), data.masks.flatten(1).sum(1))
    overlap = (moved.masks & data.masks).flatten(1).sum(1).float() / data.masks.flatten(1).sum(1)
    assert overlap.mean() < 0.5
    for shift in (0, 64):
        with pytest.raises(ValueError, match="shift"):
            misplaced_masks(data, shift)
