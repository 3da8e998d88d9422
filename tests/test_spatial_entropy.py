"""Tests for oaedu.spatial_entropy: components vs scipy, entropy vs loops and closed forms, SAR model hooks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from oaedu.models import tiny_vit
from oaedu.spatial_entropy import (
    connected_components,
    connected_components_reference,
    num_components,
    remove_last_skip,
    spatial_entropy,
    spatial_entropy_and_blobs,
    spatial_entropy_loss,
    spatial_entropy_reference,
)

STRUCT = np.ones((3, 3), dtype=int)
BACKENDS = ["scipy", "torch"]  # connected_components picks scipy on CPU, torch on a GPU: test both here


def scipy_labels(mask: torch.Tensor) -> torch.Tensor:
    h, w = mask.shape[-2:]
    maps = mask.reshape(-1, h, w).numpy()
    return torch.from_numpy(np.stack([ndimage.label(m, structure=STRUCT)[0] for m in maps])).long().view(mask.shape)


def spiral(n: int) -> torch.Tensor:
    m = torch.zeros(n, n, dtype=torch.bool)
    top, left, bottom, right = 0, 0, n - 1, n - 1
    while top <= bottom and left <= right:
        m[top, left : right + 1] = True
        m[top : bottom + 1, right] = True
        if top + 2 <= bottom:
            m[bottom, left : right + 1] = True
        if left + 2 <= right:
            m[top + 2 : bottom + 1, left] = True
        if top + 2 <= bottom and left + 2 <= right:
            m[top + 2, left : left + 1] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
    return m


def snake(n: int) -> torch.Tensor:
    m = torch.zeros(n, n, dtype=torch.bool)
    for r in range(0, n, 2):
        m[r] = True
        if r + 1 < n:
            m[r + 1, n - 1 if (r // 2) % 2 == 0 else 0] = True
    return m


ADVERSARIAL = {
    "spiral": spiral(14),
    "snake": snake(14),
    "checker": (torch.arange(14)[:, None] + torch.arange(14)[None, :]) % 2 == 0,
    "stripes": (torch.arange(14)[:, None] % 2 == 0).expand(14, 14).clone(),
    "diag_chain": torch.eye(14, dtype=torch.bool) | torch.eye(14, dtype=torch.bool).flip(0),
    "empty": torch.zeros(14, 14, dtype=torch.bool),
    "full": torch.ones(14, 14, dtype=torch.bool),
    "single": torch.zeros(1, 1, dtype=torch.bool) | True,
}


@pytest.mark.parametrize("density", [0.05, 0.2, 0.4, 0.5, 0.6, 0.8, 0.95])
def test_components_match_scipy_random(density: float) -> None:
    g = torch.Generator().manual_seed(int(density * 100))
    mask = torch.rand(64, 14, 14, generator=g) < density
    expected = scipy_labels(mask)
    for backend in BACKENDS:
        assert torch.equal(connected_components(mask, backend=backend), expected), backend
    assert torch.equal(connected_components(mask), expected)
    assert torch.equal(connected_components_reference(mask[:8]), expected[:8])


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_components_match_scipy_adversarial(name: str) -> None:
    mask = ADVERSARIAL[name]
    expected = scipy_labels(mask)
    for backend in BACKENDS:
        assert torch.equal(connected_components(mask, backend=backend), expected), backend
    assert torch.equal(connected_components_reference(mask), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_components_stack_of_adversarial_maps_keeps_maps_apart(backend: str) -> None:
    # full and empty maps next to each other: a labeller that connected neighbouring maps in the stack,
    # or numbered across them, would merge or offset these labels
    full = torch.ones(14, 14, dtype=torch.bool)
    maps = torch.stack([m for m in ADVERSARIAL.values() if m.shape == (14, 14)] + [full])
    out = connected_components(maps, backend=backend)
    assert torch.equal(out, scipy_labels(maps))
    assert torch.equal(out, connected_components_reference(maps))


@pytest.mark.parametrize("backend", BACKENDS)
def test_components_strided_and_empty_batches(backend: str) -> None:
    mask = torch.rand(3, 9, 7, generator=torch.Generator().manual_seed(2)) < 0.5
    transposed = mask.transpose(-1, -2)  # not contiguous
    assert torch.equal(connected_components(transposed, backend=backend), scipy_labels(transposed.contiguous()))
    empty = torch.zeros(0, 5, 5, dtype=torch.bool)
    assert connected_components(empty, backend=backend).shape == (0, 5, 5)


def test_nested_rings_count() -> None:
    labels = connected_components(spiral(14))
    assert int(labels.max()) == int(scipy_labels(spiral(14)).max()) > 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_components_leading_dims_and_rectangles(backend: str) -> None:
    mask = torch.rand(2, 3, 5, 9, generator=torch.Generator().manual_seed(1)) < 0.45
    out = connected_components(mask, backend=backend)
    assert out.shape == mask.shape and out.dtype == torch.int64
    assert torch.equal(out, scipy_labels(mask))
    assert torch.equal(num_components(out), scipy_labels(mask).flatten(-2).amax(-1))


def test_components_bad_input() -> None:
    with pytest.raises(ValueError, match="bool"):
        connected_components(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="shape"):
        connected_components(torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        connected_components_reference(torch.zeros(4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="backend"):
        connected_components(torch.zeros(4, 4, dtype=torch.bool), backend="opencv")


def test_entropy_closed_forms() -> None:
    s = torch.zeros(6, 6)
    s[0, 0] = 1.0
    assert spatial_entropy(s).item() == pytest.approx(0.0, abs=1e-7)
    s[5, 5] = 1.0  # two equal isolated blobs -> log 2
    assert spatial_entropy(s).item() == pytest.approx(math.log(2), abs=1e-6)
    s[5, 4] = 1.0  # masses 1 and 2 (mean shifts equally) -> closed form with shifted B
    b = torch.relu(s - s.mean())
    p = torch.tensor([b[0, 0], b[5, 4] + b[5, 5]]) / b.sum()
    assert spatial_entropy(s).item() == pytest.approx(float(-(p * p.log()).sum()), abs=1e-6)
    # four diagonal-touching cells are ONE 8-connected blob
    d = torch.zeros(5, 5)
    d[0, 0] = d[1, 1] = d[2, 2] = 1.0
    assert spatial_entropy(d).item() == pytest.approx(0.0, abs=1e-7)


def test_entropy_matches_reference_and_constant_map_is_safe() -> None:
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 4, 8, 8, generator=g, dtype=torch.float64)
    s[0, 0] = 2.5  # constant map
    torch.testing.assert_close(spatial_entropy(s), spatial_entropy_reference(s))
    x = s.clone().requires_grad_(True)
    value = spatial_entropy(x)
    value.sum().backward()
    assert value[0, 0].item() == 0.0
    assert torch.isfinite(x.grad).all() and torch.count_nonzero(x.grad[0, 0]) == 0
    ent, blobs = spatial_entropy_and_blobs(s)
    torch.testing.assert_close(ent, spatial_entropy(s), rtol=0, atol=0)
    assert blobs[0, 0] == 0 and (blobs[1:] >= 1).all()
    assert (ent <= torch.log(blobs.clamp_min(1).double()) + 1e-9).all()


def test_entropy_gradcheck() -> None:
    g = torch.Generator().manual_seed(3)
    s = torch.randn(2, 5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(spatial_entropy, (s,), eps=1e-7, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_entropy_is_scale_invariant(dtype) -> None:
    # Eq. (7)-(8): P(C_j) is a ratio of sums of B = ReLU(S - m), so H(c·S) = H(S) for every c > 0.
    g = torch.Generator().manual_seed(11)
    s = torch.randn(64, 8, 8, generator=g, dtype=torch.float64).to(dtype)
    base = spatial_entropy(s)
    assert base.abs().sum() > 1  # not a trivial case
    for c in (1e-16, 1e-14, 1e-8, 1e-3, 7.0, 1e8, 1e16):
        torch.testing.assert_close(spatial_entropy(s * c), base, rtol=1e-5, atol=1e-5, msg=f"c = {c}")
        torch.testing.assert_close(spatial_entropy_reference(s[:4] * c), base[:4], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("value", [1e-8, 0.3, -2.0, 1e4])
def test_constant_map_has_zero_entropy_in_every_dtype(dtype, value) -> None:
    s = torch.full((3, 7, 7), value, dtype=dtype)
    for fn in (spatial_entropy, spatial_entropy_reference):
        h = fn(s)
        assert h.dtype == dtype
        assert torch.equal(h.float(), torch.zeros(3)), (fn.__name__, h)


def test_half_precision_map_matches_float32() -> None:
    g = torch.Generator().manual_seed(5)
    s = torch.randn(32, 8, 8, generator=g) * 100
    half = s.half()
    out = spatial_entropy(half)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), spatial_entropy(half.float()), rtol=2e-3, atol=2e-3)


def test_entropy_bad_input() -> None:
    with pytest.raises(ValueError, match="floating"):
        spatial_entropy(torch.zeros(4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="shape"):
        spatial_entropy(torch.zeros(4))
    with pytest.raises(ValueError, match="non-finite"):
        spatial_entropy(torch.full((3, 3), float("nan")))


def _tokens_before_last_block(model, x):
    tokens = model.norm_pre(model._pos_embed(model.patch_embed(x)))
    for block in model.blocks[:-1]:
        tokens = block(tokens)
    return tokens


def test_remove_last_skip_is_eq_10_11_without_the_layernorm() -> None:
    # Oracle written from SAR Eq. (10)-(11): z' = MSA(LN(z)), z_out = MLP(z') + z' (Tab. 1b, row C).
    torch.manual_seed(0)
    model = tiny_vit(num_classes=3, image_size=16, patch_size=4, depth=2).eval()
    x = torch.randn(2, 3, 16, 16)
    last = model.blocks[-1]
    z = last.attn(last.norm1(_tokens_before_last_block(model, x)))
    expected = model.forward_head(model.norm(last.mlp(z) + z))
    with_skip = model(x)
    remove_last_skip(model)
    out = model(x)
    torch.testing.assert_close(out, expected)
    assert not torch.allclose(out, with_skip)
    assert "blocks.1.norm2.weight" not in model.state_dict()
    with pytest.raises(ValueError, match="timm ViT"):
        remove_last_skip(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="already"):
        remove_last_skip(model)


def test_remove_last_skip_keep_norm_is_row_b() -> None:
    torch.manual_seed(0)
    model = tiny_vit(num_classes=3, image_size=16, patch_size=4, depth=2).eval()
    x = torch.randn(2, 3, 16, 16)
    last = model.blocks[-1]
    z = last.attn(last.norm1(_tokens_before_last_block(model, x)))
    expected = model.forward_head(model.norm(last.mlp(last.norm2(z)) + z))
    remove_last_skip(model, keep_norm=True)
    torch.testing.assert_close(model(x), expected)
    assert "blocks.1.norm2.weight" in model.state_dict()


def test_skipless_block_drop_path_never_drops_the_attention_path() -> None:
    # With drop-path on and in training mode, a sample whose MLP branch is dropped must still output z'
    # (Eq. 11 without its MLP term), never zero; one whose branch is kept gets MLP(z')/(1-p) + z'.
    torch.manual_seed(0)
    model = tiny_vit(num_classes=3, image_size=16, patch_size=4, depth=2, drop_path_rate=0.9, drop_rate=0.0)
    remove_last_skip(model)
    model.train()
    last = model.blocks[-1]
    x = torch.randn(64, 17, 64)
    with torch.no_grad():
        out = last(x)
        z = last.attn(last.norm1(x))
        full = z + last.mlp(z) / (1 - 0.9)
    dropped = torch.isclose(out, z, atol=1e-5).flatten(1).all(1)
    kept = torch.isclose(out, full, atol=1e-4).flatten(1).all(1)
    assert torch.all(dropped | kept)
    assert dropped.any() and kept.any()
    assert out.flatten(1).abs().sum(1).min() > 0


def test_spatial_entropy_loss_is_mean_and_differentiable() -> None:
    torch.manual_seed(0)
    model = tiny_vit(num_classes=3, image_size=16, patch_size=4, depth=2)
    x = torch.randn(2, 3, 16, 16)
    logits, loss = spatial_entropy_loss(model, x)
    assert logits.shape == (2, 3)
    q = model.blocks[-1].attn
    tokens = model.norm_pre(model._pos_embed(model.patch_embed(x)))
    h = model.blocks[-1].norm1(model.blocks[0](tokens))
    qkv = q.qkv(h).reshape(2, h.shape[1], 3, q.num_heads, -1).permute(2, 0, 3, 1, 4)
    scores = (qkv[0][:, :, :1] @ qkv[1][:, :, 1:].transpose(-2, -1)).squeeze(2) * q.scale
    expected = spatial_entropy_reference(scores.reshape(2, q.num_heads, 4, 4)).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-5)
    loss.backward()
    assert q.qkv.weight.grad is not None and torch.isfinite(q.qkv.weight.grad).all()
    assert q.qkv.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="images"):
        spatial_entropy_loss(model, torch.randn(3, 16, 16))


@pytest.mark.parametrize("backend", BACKENDS)
def test_components_stress_many_sizes(backend: str) -> None:
    g = torch.Generator().manual_seed(7)
    for h, w in [(1, 17), (17, 1), (3, 3), (8, 8), (14, 14), (31, 23)]:
        density = torch.rand(32, 1, 1, generator=g)
        mask = torch.rand(32, h, w, generator=g) < density
        assert torch.equal(connected_components(mask, backend=backend), scipy_labels(mask)), (h, w)


def test_sar_step_adds_lambda_times_the_entropy():
    import torch.nn.functional as F

    from oaedu.models import tiny_vit
    from oaedu.spatial_entropy import sar_step, spatial_entropy_loss

    torch.manual_seed(0)
    model = tiny_vit(num_classes=3, depth=2).eval()
    images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    out = sar_step(0.5)(model, images, labels, None)
    ref_logits, entropy = spatial_entropy_loss(model, images)
    ce = F.cross_entropy(ref_logits, labels)
    torch.testing.assert_close(out.loss, ce + 0.5 * entropy)
    torch.testing.assert_close(out.logits, ref_logits)
    assert out.terms == pytest.approx({"cross_entropy": ce.item(), "spatial_entropy": entropy.item()})
    with pytest.raises(ValueError, match="non-negative"):
        sar_step(-1.0)
