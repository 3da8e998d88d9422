"""OAMixer (paper 1): masks, attention, token mixing, wrappers, labellers."""

import copy

import pytest
import torch
import torch.nn.functional as F

from oaedu.models import build_model, capture_attention
from oaedu.oamixer import (
    CamLabeller,
    DenseCNN,
    GTLabeller,
    SharedKernelConv,
    attention,
    attention_reference,
    conv_mixing,
    conv_mixing_method,
    conv_mixing_reference,
    conv_toeplitz,
    local_distance,
    mixer_linearisation,
    mixer_mixing,
    mixer_mixing_reference,
    oamixer,
    oamixer_step,
    pairwise_distance,
    reweight_mask,
    share_convmixer_kernels,
)

torch.set_num_threads(1)


def _labels(b=3, n=16, k=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, k, generator=g, dtype=torch.float64)


def test_reweight_mask_matches_brute_force_l1_and_cosine():
    y = _labels(2, 5, 3)
    kappa = 1.7
    for dist in ("l1", "cosine"):
        m = reweight_mask(y, kappa, dist)
        for b in range(2):
            for i in range(5):
                for j in range(5):
                    if dist == "l1":
                        d = (y[b, i] - y[b, j]).abs().sum()
                    else:
                        d = 1 - F.cosine_similarity(y[b, i], y[b, j], dim=0)
                    assert abs(m[b, i, j].item() - torch.exp(-kappa * d).item()) < 1e-10
    assert torch.allclose(reweight_mask(y, 0.0), torch.ones(2, 5, 5, dtype=torch.float64))


def test_mask_guards_bad_input_and_zero_vectors():
    with pytest.raises(ValueError, match="B, N, K"):
        reweight_mask(torch.rand(4, 4), 1.0)
    with pytest.raises(ValueError, match="floating"):
        reweight_mask(torch.ones(1, 4, 1, dtype=torch.long), 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        reweight_mask(torch.rand(1, 4, 1), -0.5)
    with pytest.raises(ValueError, match="distance"):
        reweight_mask(torch.rand(1, 4, 1), 1.0, "l2")
    with pytest.raises(ValueError, match="empty"):
        reweight_mask(torch.rand(1, 0, 1), 1.0)
    m = reweight_mask(torch.zeros(1, 4, 3), 2.0, "cosine")
    assert torch.isfinite(m).all() and (m > 0).all() and (m <= 1).all()


def test_attention_reference_equals_fast_and_log_mask_identity():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(3, 2, 10, 8, generator=g, dtype=torch.float64) for _ in range(3))
    y = _labels(3, 10, 1, seed=2)  # different labels per image
    kappa = torch.tensor(2.3, dtype=torch.float64)
    m = reweight_mask(y, kappa)
    ref = attention_reference(q, k, v, m)
    assert torch.allclose(attention(q, k, v, mask=m), ref, atol=1e-12)
    assert torch.allclose(attention(q, k, v, log_mask=-kappa * pairwise_distance(y)), ref, atol=1e-12)
    assert torch.allclose(attention_reference(q, k, v, log_mask=-kappa * pairwise_distance(y)), ref, atol=1e-12)
    # A per-image mask matters: swapping the masks of two images changes the output.
    assert not torch.allclose(attention_reference(q, k, v, m.flip(0)), ref, atol=1e-6)
    with pytest.raises(ValueError, match="B, N, N"):
        attention(q, k, v, mask=m[0])
    for fn in (attention, attention_reference):
        with pytest.raises(ValueError, match="exactly one"):
            fn(q, k, v)


def test_large_kappa_blocks_cross_object_attention():
    q, k, v = (torch.randn(1, 1, 6, 4, dtype=torch.float64) for _ in range(3))
    y = torch.tensor([1, 1, 1, 0, 0, 0], dtype=torch.float64).view(1, 6, 1)
    a = torch.softmax(q @ k.transpose(-2, -1) / 2 - 50 * pairwise_distance(y)[:, None], -1)
    assert a[0, 0, :3, 3:].sum() < 1e-15 and a[0, 0, 3:, :3].sum() < 1e-15
    # attention_reference picks the same weights: values of the other object do not leak in.
    v2 = v.clone()
    v2[..., 3:, :] += 100
    out = attention_reference(q, k, v2, reweight_mask(y, 50.0))
    assert torch.allclose(out[..., :3, :], attention_reference(q, k, v, reweight_mask(y, 50.0))[..., :3, :], atol=1e-9)


def test_vit_kappa_zero_equals_timm_and_mask_one_equals_timm_attention():
    torch.manual_seed(0)
    vit = build_model("vit", num_classes=5, image_size=16, patch_size=4, embed_dim=32, depth=2).eval()
    oa = oamixer(vit).eval()
    x = torch.randn(2, 3, 16, 16)
    labels = torch.rand(2, 16, 1)
    assert torch.allclose(oa(x, labels), vit(x), atol=1e-6)
    # M ≡ 1 through attention(): equal to timm's own Attention module output.
    attn = vit.blocks[0].attn
    tokens = torch.randn(2, 17, 32)
    b, n, _ = tokens.shape
    q, k, v = attn.qkv(tokens).reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    ours = attn.proj(attention(q, k, v, mask=torch.ones(b, n, n)).transpose(1, 2).reshape(b, n, -1))
    assert torch.allclose(ours, attn(tokens), atol=1e-6)


def test_vit_with_kappa_changes_output_and_cls_is_unmasked():
    torch.manual_seed(0)
    vit = build_model("vit", num_classes=5, image_size=16, patch_size=4, embed_dim=32, depth=2).eval()
    oa = oamixer(vit).eval()
    for layer in oa.oa_layers():
        layer.kappa.data.fill_(3.0)
    x = torch.randn(2, 3, 16, 16)
    labels = (torch.rand(2, 16, 1) > 0.5).double().float()
    assert (oa(x, labels) - vit(x)).abs().max() > 1e-5
    # uniform labels ⇒ D = 0 ⇒ vanilla for any κ
    assert torch.allclose(oa(x, torch.ones(2, 16, 1)), vit(x), atol=1e-6)
    with pytest.raises(ValueError, match="patch_labels"):
        oa(x, torch.rand(2, 15, 1))


def test_oa_vit_delegates_to_timm_and_capture_attention_sees_the_masked_probabilities():
    torch.manual_seed(0)
    vit = build_model("vit", num_classes=5, image_size=16, patch_size=4, embed_dim=32, depth=2).eval()
    oa = oamixer(vit).eval()
    for layer in oa.oa_layers():
        layer.kappa.data.fill_(2.0)
    x, labels = torch.randn(2, 3, 16, 16), (torch.rand(2, 16, 1) > 0.5).float()
    fused = oa(x, labels)
    with capture_attention(oa.model) as record:  # timm's explicit path: softmax(s − κD), recorded
        explicit = oa(x, labels)
    assert torch.allclose(explicit, fused, atol=1e-5)
    d = F.pad(oa.distance_matrix(x, labels), (1, 0, 1, 0))  # the CLS row and column: D = 0, M = 1
    scores = record.q[0] @ record.k[0].transpose(-2, -1) * record.scales[0]
    assert torch.allclose(record.probs[0], torch.softmax(scores - 2.0 * d[:, None], -1), atol=1e-6)


def test_mixer_eq7_reference_fast_and_kappa_zero():
    torch.manual_seed(0)
    mixer = build_model("mixer", num_classes=5, image_size=16, patch_size=4, embed_dim=32, depth=2).eval()
    mlp = mixer.blocks[0].mlp_tokens
    x = torch.randn(3, 32, 16, dtype=torch.float64)
    mlp = copy.deepcopy(mlp).double()
    lin = mixer_linearisation(mlp.fc1.weight, mlp.fc2.weight)
    m = reweight_mask(_labels(3, 16), 1.3)
    ref = mixer_mixing_reference(mlp(x), x, lin, m)
    assert torch.allclose(mixer_mixing(mlp(x), x, lin, m), ref, atol=1e-10)
    assert torch.allclose(mixer_mixing(mlp(x), x, lin, log_mask=m.log()), ref, atol=1e-10)
    assert torch.allclose(mixer_mixing_reference(mlp(x), x, lin, log_mask=m.log()), ref, atol=1e-12)
    for fn in (mixer_mixing, mixer_mixing_reference):
        with pytest.raises(ValueError, match="exactly one"):
            fn(mlp(x), x, lin, mask=m, log_mask=m.log())
    # With the biases folded in: (M⊙L)x + (f(x) − Lx) has its linear part masked; at M = 1 it is f(x).
    assert torch.allclose(mixer_mixing_reference(mlp(x), x, lin, torch.ones_like(m)), mlp(x), atol=1e-12)
    oa = oamixer(mixer).eval()
    img = torch.randn(2, 3, 16, 16)
    assert torch.allclose(oa(img, torch.rand(2, 16, 1)), mixer(img), atol=1e-6)


def test_toeplitz_equals_conv2d_and_local_equals_reference():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(5, 5, generator=g, dtype=torch.float64)
    x = torch.randn(2, 4, 7, 9, generator=g, dtype=torch.float64)  # non-square grid
    t = conv_toeplitz(w, 7, 9)
    conv = F.conv2d(x, w.expand(4, 1, 5, 5), padding=2, groups=4)
    assert torch.allclose((x.flatten(2) @ t.T).view_as(x), conv, atol=1e-10)
    y = _labels(2, 63, 2, seed=4)
    label_map = y.transpose(1, 2).reshape(2, 2, 7, 9)
    for dist in ("l1", "cosine"):
        m = reweight_mask(y, 0.9, dist)
        log_local = -0.9 * local_distance(label_map, 5, dist)
        ref = conv_mixing_reference(x, w, 0.25, log_mask=log_local)
        assert torch.allclose(ref, _dense_eq11(x, w, 0.25, m), atol=1e-10), dist  # the local mask is Eq. (3)'s M
        assert torch.allclose(conv_mixing_reference(x, w, 0.25, mask=log_local.exp()), ref, atol=1e-12), dist
        for method in ("auto", "dense", "local"):
            fast = conv_mixing(x, w, 0.25, log_mask=log_local, method=method)
            assert torch.allclose(fast, ref, atol=1e-10), (dist, method)
            fast = conv_mixing(x, w, 0.25, mask=log_local.exp(), method=method)
            assert torch.allclose(fast, ref, atol=1e-10), (dist, method)
    for method in ("dense", "local"):
        zero_log = torch.zeros(2, 25, 63, dtype=torch.float64)
        assert torch.allclose(conv_mixing(x, w, 0.0, log_mask=zero_log, method=method), conv, atol=1e-10), method
    with pytest.raises(ValueError, match="method"):
        conv_mixing(x, w, 0.0, log_mask=zero_log, method="unfold")
    with pytest.raises(ValueError, match="exactly one"):
        conv_mixing_reference(x, w, 0.0, mask=zero_log.exp(), log_mask=zero_log)
    with pytest.raises(ValueError, match="exactly one"):
        conv_mixing(x, w, 0.0)


def _dense_eq11(x, w, bias, m):
    """Eq. (11) from the dense (B, N, N) mask of Eq. (3): ``(M ⊙ W_linear)·x̃ + b`` (the oracle of the local mask)."""
    t = conv_toeplitz(w, *x.shape[-2:])
    return (torch.einsum("bij,bcj->bci", m * t, x.flatten(2)) + bias).view_as(x)


@pytest.mark.parametrize("grid", [(6, 5), (3, 11), (12, 12)])
@pytest.mark.parametrize("kernel", [3, 7])
def test_local_convmixer_branches_equal_reference_with_gradients(grid, kernel):
    # dense and local branches, kernels wider than the grid, and the gradients to x, kernel, bias and κ
    g = torch.Generator().manual_seed(kernel)
    h, w_ = grid
    y = _labels(2, h * w_, 3, seed=kernel)
    x0 = torch.randn(2, 5, h, w_, generator=g, dtype=torch.float64)
    w0 = torch.randn(kernel, kernel, generator=g, dtype=torch.float64)

    def run(method):
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        bias = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        kappa = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
        label_map = y.transpose(1, 2).reshape(2, 3, h, w_)
        if method == "oracle":  # the dense mask of Eq. (3)
            out = _dense_eq11(x, w, bias, reweight_mask(y, kappa))
        elif method == "reference":
            out = conv_mixing_reference(x, w, bias, log_mask=-kappa * local_distance(label_map, kernel))
        else:
            out = conv_mixing(x, w, bias, log_mask=-kappa * local_distance(label_map, kernel), method=method)
        (out * torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view_as(out)).sum().backward()
        return out, x.grad, w.grad, bias.grad, kappa.grad

    expected = run("oracle")
    for method in ("reference", "dense", "local"):
        for got, want in zip(run(method), expected, strict=True):
            assert torch.allclose(got, want, atol=1e-10), method


def test_convmixer_picks_dense_on_small_grids_and_local_on_large():
    assert conv_mixing_method(8 * 8, 5) == "dense"  # the course's ConvMixers: 8×8 patches
    assert conv_mixing_method(14 * 14, 9) == "dense"
    assert conv_mixing_method(28 * 28, 9) == "local"
    assert conv_mixing_method(56 * 56, 9) == "local"


def test_convmixer_shared_kernel_kappa_zero_and_timm_equivalence():
    torch.manual_seed(0)
    cm = build_model("convmixer", num_classes=5, embed_dim=16, depth=2, kernel_size=3).eval()
    shared = share_convmixer_kernels(copy.deepcopy(cm)).eval()
    # The shared kernel equals timm's depthwise conv with the kernel copied into every channel.
    ref = copy.deepcopy(cm).eval()
    for blk_s, blk_r in zip(shared.blocks, ref.blocks, strict=True):
        sc, dc = blk_s[0].fn[0], blk_r[0].fn[0]
        with torch.no_grad():
            dc.weight.copy_(sc.weight.expand_as(dc.weight))
            dc.bias.fill_(sc.bias.item())
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(shared(x), ref(x), atol=1e-5)
    oa = oamixer(shared).eval()
    assert torch.allclose(oa(x, torch.rand(2, 64, 1)), shared(x), atol=1e-5)


def test_shared_kernel_starts_at_the_usual_scale():
    # A depthwise kernel drawn by PyTorch has entries uniform in ±1/S (std 1/(S·√3)); the shared kernel must
    # start at that scale, not at the √C-times smaller mean of C such kernels.
    torch.manual_seed(0)
    s = 9
    cm = build_model("convmixer", num_classes=5, embed_dim=64, depth=4, kernel_size=s)
    shared = share_convmixer_kernels(cm)
    kernels = torch.stack([blk[0].fn[0].weight for blk in shared.blocks]).detach()
    expected = 1 / (s * 3**0.5)
    assert 0.75 * expected < kernels.std() < 1.25 * expected
    assert kernels.abs().max() <= 1 / s
    fresh = SharedKernelConv(s).weight.detach()
    assert fresh.abs().max() <= 1 / s and fresh.std() > 0.5 * expected


@pytest.mark.parametrize("name", ["vit", "mixer", "convmixer"])
def test_gradient_reaches_kappa_at_zero_and_projection(name):
    torch.manual_seed(0)
    model = oamixer(build_model(name, num_classes=4, image_size=16, patch_size=4, embed_dim=16, depth=2))
    torch.nn.init.normal_(model.model.get_classifier().weight)  # timm's Mixer head starts at zero
    x = torch.randn(4, 3, 16, 16)
    labels = (torch.rand(4, 16, 1) > 0.5).float()
    loss = F.cross_entropy(model(x, labels), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    grads = [layer.kappa.grad for layer in model.oa_layers()]
    assert len(grads) == 2 and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().item() > 0 for g in grads)
    # projection: a negative κ is clamped to 0 at the next forward, and still receives gradient
    model.oa_layers()[0].kappa.data.fill_(-1.0)
    model.zero_grad()
    F.cross_entropy(model(x, labels), torch.tensor([0, 1, 2, 3])).backward()
    assert model.kappas().min() >= 0 and model.oa_layers()[0].kappa.item() == 0.0
    assert model.oa_layers()[0].kappa.grad is not None


def test_step_trains_with_gt_labels_and_kappa_moves():
    from oaedu.data import background_challenge
    from oaedu.train import fit

    data = background_challenge("original", 64, seed=0, image_size=16, num_classes=3, bg_correlation=0.5)
    model = oamixer(build_model("vit", num_classes=3, image_size=16, embed_dim=16, depth=2), kappa_scale=10)
    before = copy.deepcopy(model.state_dict())
    hist = fit(
        model, data, epochs=2, batch_size=32, step=oamixer_step(GTLabeller((4, 4))), progress=False, device="cpu"
    )
    k = model.kappas()
    assert torch.isfinite(k).all() and (k >= 0).all() and len(k) == 2
    assert all(torch.isfinite(torch.tensor(hist.loss)))
    moved = [n for n, v in model.state_dict().items() if "kappa" not in n and not torch.equal(v, before[n])]
    assert moved


def test_labellers_shapes_and_no_nan():
    from oaedu.data import background_challenge

    data = background_challenge("original", 8, seed=0, image_size=16, num_classes=3)
    gt = GTLabeller((4, 4))(data.images, data.masks)
    assert gt.shape == (8, 16, 1)
    assert torch.allclose(gt.view(8, 4, 4), F.avg_pool2d(data.masks[:, None].float(), 4)[:, 0])
    cnn = DenseCNN(3, width=8).eval()
    sal = CamLabeller(cnn, (4, 4))(data.images, data.masks)
    rel = CamLabeller(cnn, (4, 4), "relabel")(data.images, data.masks)
    assert sal.shape == (8, 16, 1) and rel.shape == (8, 16, 3)
    assert torch.isfinite(sal).all() and sal.min() >= 0 and sal.max() <= 1
    assert torch.allclose(rel.sum(-1), torch.ones(8, 16), atol=1e-5)
    # all-zero CNN ⇒ constant CAM ⇒ zeros, not NaN
    for p in cnn.classifier.parameters():
        p.data.zero_()
    assert (cnn.saliency(data.images, (4, 4)) == 0).all()
    with pytest.raises(ValueError, match="mode"):
        CamLabeller(cnn, (4, 4), "bbox")
