"""Tests for oaedu.spatial_entropy.experiment: the toy data, Table 1b's rows and the attention measurements."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from timm.models.vision_transformer import Block
from torch import nn

from oaedu.spatial_entropy.experiment import (
    ROWS,
    attention_jaccard,
    attention_report,
    fragment_scenes,
    sar_vit,
    top_mass_masks,
)
from oaedu.spatial_entropy.sar import SkiplessBlock


def test_fragment_scenes_shapes_determinism_and_labels():
    a, b = fragment_scenes(40, seed=3), fragment_scenes(40, seed=3)
    assert a.images.shape == (40, 3, 32, 32) and a.masks.shape == (40, 32, 32) and a.num_classes == 9
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, fragment_scenes(40, seed=4).images)
    assert 0.0 <= a.images.min() and a.images.max() <= 1.0
    area = a.masks.flatten(1).float().mean(1)
    assert (area > 0.02).all() and (area < 0.25).all()  # a radius of 16-22% of the image


def _object_coloured_outside(data) -> torch.Tensor:
    """Per image, the number of pixels outside the object whose colour is the object's exactly (noise-free data)."""
    colour = torch.stack([img[:, m].mean(1) for img, m in zip(data.images, data.masks, strict=True)])
    same = (data.images - colour[:, :, None, None]).abs().amax(1) < 1e-5
    return (same & ~data.masks).flatten(1).sum(1)


def test_fragments_share_the_object_colour_and_vanish_with_zero():
    cluttered = fragment_scenes(32, seed=0, noise=0.0)
    clean = fragment_scenes(32, seed=0, noise=0.0, fragments=0)
    assert (_object_coloured_outside(cluttered) > 0).float().mean() > 0.9
    assert (_object_coloured_outside(clean) == 0).all()
    # the object is one uniform colour: a single colour inside the mask
    img, m = clean.images[0], clean.masks[0]
    assert img[:, m].std(1).max() < 1e-6


def test_fragment_scenes_hue_follows_the_class():
    data = fragment_scenes(400, seed=1, noise=0.0, hue_jitter=0.0)
    colours = torch.stack([img[:, m].mean(1) for img, m in zip(data.images, data.masks, strict=True)])
    rgb = colours / colours.amax(1, keepdim=True)  # brightness and saturation vary; the dominant channel does not
    for c in range(9):
        group = rgb[data.labels == c]
        assert group.argmax(1).unique().numel() == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0},
        {"n": 4, "num_classes": 1},
        {"n": 4, "fragments": -1},
        {"n": 4, "hue_jitter": float("nan")},
        {"n": 4, "image_size": 8},
    ],
)
def test_fragment_scenes_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        fragment_scenes(**kwargs)


def test_rows_build_table_1b_blocks():
    kw = {"num_classes": 9, "embed_dim": 32, "depth": 2, "num_heads": 2}
    a, b, c, f = (sar_vit(row, **kw) for row in ROWS)
    assert type(a.blocks[-1]) is Block
    assert isinstance(b.blocks[-1], SkiplessBlock) and isinstance(b.blocks[-1].norm2, nn.LayerNorm)
    assert isinstance(c.blocks[-1], SkiplessBlock) and isinstance(c.blocks[-1].norm2, nn.Identity)
    assert isinstance(f.blocks[-1].norm2, nn.Identity) and ROWS["SAR: C + λ·L_SE"]["entropy_loss"]
    assert not any(ROWS[r]["entropy_loss"] for r in list(ROWS)[:3])
    with pytest.raises(ValueError, match="unknown row"):
        sar_vit("D: no MLP skip")


def _dino_threshold(attn: np.ndarray, mass: float) -> np.ndarray:
    """The DINO code's thresholding, written out: sort ascending, keep where the cumulative share exceeds 1 − mass."""
    flat = attn.ravel() / attn.sum()
    order = np.argsort(flat, kind="stable")
    cum = np.cumsum(flat[order])
    keep = np.zeros(flat.shape, dtype=bool)
    keep[order] = cum > 1 - mass
    return keep.reshape(attn.shape)


def test_top_mass_masks_matches_the_dino_protocol():
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(200, 8, 8, generator=g, dtype=torch.float64) ** 4  # distinct values, skewed like attention
    ours = top_mass_masks(maps, 0.6)
    for m, keep in zip(maps, ours, strict=True):
        np.testing.assert_array_equal(keep.numpy(), _dino_threshold(m.numpy(), 0.6))
        share = m[keep].sum() / m.sum()
        assert share >= 0.6 and share - m[keep].min() / m.sum() < 0.6  # the smallest set holding 60%


def test_top_mass_masks_edge_cases():
    one_hot = torch.zeros(4, 4)
    one_hot[1, 2] = 5.0
    assert top_mass_masks(one_hot).sum() == 1 and top_mass_masks(one_hot)[1, 2]
    assert top_mass_masks(torch.ones(4, 4), 1.0).all()
    with pytest.raises(ValueError, match="mass"):
        top_mass_masks(one_hot, 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        top_mass_masks(-one_hot)


def test_attention_jaccard_takes_the_best_head():
    masks = torch.zeros(1, 32, 32, dtype=torch.bool)
    masks[0, 8:12, 8:12] = True  # exactly patch (2, 2) of an 8×8 grid of 4 px
    attention = torch.full((1, 3, 8, 8), 1e-3)  # head 0: uniform, its top 60% is 39 patches
    attention[0, 1, 2, 2] = 1.0  # head 1: the object
    attention[0, 2, 2, 3] = 1.0  # head 2: the patch next to it
    jac = attention_jaccard(attention, masks)
    assert jac.shape == (1,) and jac.item() == pytest.approx(1.0)
    assert attention_jaccard(attention[:, 2:], masks).item() == 0.0
    # four equally heavy object patches: 60% of the mass is three of them
    masks[0, 8:16, 8:16] = True
    square = torch.zeros(1, 1, 8, 8)
    square[0, 0, 2:4, 2:4] = 1.0
    assert attention_jaccard(square, masks).item() == pytest.approx(0.75)
    with pytest.raises(ValueError, match="expected attention"):
        attention_jaccard(attention[0], masks)


def test_attention_report_scores_maps_against_their_own_and_the_next_mask():
    torch.manual_seed(0)
    model = sar_vit("A: skip kept", num_classes=9, embed_dim=32, depth=2, num_heads=2)
    data = fragment_scenes(12, seed=0)
    report = attention_report(model, data, batch_size=5)  # batches of 5: the roll must cross batch borders
    assert set(report) == {"entropy", "blobs", "jaccard", "jaccard_position", "object_mass"}
    from oaedu.models import capture_attention

    with torch.no_grad(), capture_attention(model) as rec:
        model(data.images)
        attention = rec.cls_attention(-1)
    own = 100 * attention_jaccard(attention, data.masks).mean().item()
    other = 100 * attention_jaccard(attention, data.masks.roll(-1, 0)).mean().item()
    assert report["jaccard"] == pytest.approx(own) and report["jaccard_position"] == pytest.approx(other)
    assert 1.0 <= report["blobs"] and 0.0 <= report["entropy"] and 0.0 <= report["object_mass"] <= 100.0


def test_plot_sweep_draws_mean_and_spread_per_setting():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oaedu.plotting import plot_sweep

    runs = {0.0: [{"a": 1.0, "b": 5.0}, {"a": 3.0, "b": 5.0}], 0.1: [{"a": 4.0, "b": 6.0}]}
    fig = plot_sweep(runs, ["a", "b"], xlabel="λ")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()) == [2.0, 4.0]  # the means over seeds
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0.0", "0.1"]
    plt.close(fig)
    with pytest.raises(ValueError, match="every setting"):
        plot_sweep({0.0: []}, ["a"])
