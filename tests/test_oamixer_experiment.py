"""Notebook 02's experiment: the confetti toy, the labels that break the premise, the label-separation score,
arms that differ only in their labels, paired effects and the change plot."""

import math
import statistics

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from oaedu.data import VARIANTS, patch_fractions  # noqa: E402
from oaedu.models import build_model  # noqa: E402
from oaedu.oamixer import (  # noqa: E402
    GTLabeller,
    RotatedLabeller,
    UniformLabeller,
    label_separation,
    pairwise_distance,
)
from oaedu.oamixer.experiment import mean_std, paired_effect, train_arm  # noqa: E402
from oaedu.oamixer.toy import confetti_challenge, confetti_palette, confetti_suite  # noqa: E402
from oaedu.plotting import plot_changes  # noqa: E402
from oaedu.train import cross_entropy_step, evaluate_background_challenge, fit  # noqa: E402
from oaedu.utils import seed_everything  # noqa: E402

GRID = (8, 8)


def _cell_colours(images, cell=2):
    """Index of the nearest palette colour of each ``cell × cell`` square: ``(B, H/cell, W/cell)``."""
    pooled = torch.nn.functional.avg_pool2d(images, cell)  # (B, 3, h, w)
    pal = confetti_palette(6)
    return ((pooled[:, None] - pal[None, :, :, None, None]) ** 2).sum(2).argmin(1)


# --- the confetti toy -------------------------------------------------------------------------------------


def test_confetti_variants_are_paired_and_shaped():
    suite = confetti_suite(64, seed=3)
    assert set(suite) == set(VARIANTS)
    ref = suite["original"]
    for v, d in suite.items():
        assert d.images.shape == (64, 3, 32, 32) and d.images.min() >= 0 and d.images.max() <= 1, v
        assert torch.equal(d.labels, ref.labels) and torch.equal(d.masks, ref.masks), v
    assert torch.equal(suite["mixed_same"].bg_labels, ref.labels)
    assert torch.equal(suite["mixed_next"].bg_labels, (ref.labels + 1) % 6)
    m = ref.masks[:, None]
    # the object is the same object in every variant that shows it
    for v in ("mixed_same", "mixed_rand", "mixed_next"):
        assert torch.allclose(torch.where(m, suite[v].images, 0), torch.where(m, suite["mixed_same"].images, 0))
    # only_bg_t is the original background: equal to the original outside the object
    assert torch.equal(torch.where(m, 0, suite["only_bg_t"].images), torch.where(m, 0, ref.images))
    # mixed_same and mixed_rand share one background draw: identical images wherever the classes agree
    same = suite["mixed_rand"].bg_labels == ref.labels
    assert same.any() and (~same).any()
    assert torch.equal(suite["mixed_rand"].images[same], suite["mixed_same"].images[same])
    assert not torch.equal(suite["mixed_rand"].images[~same], suite["mixed_same"].images[~same])
    assert (torch.where(m, 0, suite["only_fg"].images) == 0).all()
    assert (torch.where(m, suite["no_fg"].images, 0) == 0).all()


def test_confetti_is_deterministic_and_seeded():
    a = confetti_challenge("original", 16, seed=5)
    b = confetti_challenge("original", 16, seed=5)
    c = confetti_challenge("original", 16, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_scattered_objects_cover_whole_patches_in_the_given_range():
    d = confetti_challenge("original", 200, seed=1, object_patches=(7, 11))
    frac = patch_fractions(d.masks, GRID).flatten(1)
    assert ((frac == 0) | (frac == 1)).all()
    counts = frac.sum(1)
    assert counts.min() >= 7 and counts.max() <= 11 and len(set(counts.tolist())) > 2


def test_blob_layout_is_one_compact_object_of_the_same_area():
    d = confetti_challenge("original", 200, seed=1, layout="blob", object_patches=(12, 12))
    area = d.masks.flatten(1).float().sum(1) / 16  # in patches
    assert abs(area.mean().item() - 12) < 1.5
    # compact: the bounding box is at most about twice the area (a scattered object fills most of the image)
    rows, cols = d.masks.any(2).float().sum(1), d.masks.any(1).float().sum(1)
    assert (rows * cols / 16 <= 2.2 * area).all()


def test_confetti_purity_and_correlation_follow_their_parameters():
    n, c = 600, 6
    d = confetti_challenge("only_fg", n, seed=2, fg_purity=0.7, noise=0.0)
    cells = _cell_colours(d.images)
    obj = torch.nn.functional.avg_pool2d(d.masks[:, None].float(), 2)[:, 0] == 1
    share = (cells == d.labels[:, None, None])[obj].float().mean().item()
    assert abs(share - (0.7 + 0.3 / c)) < 0.02
    o = confetti_challenge("original", 4000, seed=2, bg_correlation=0.4)
    agree = (o.bg_labels == o.labels).float().mean().item()
    assert abs(agree - (0.4 + 0.6 / c)) < 0.03
    bg = confetti_challenge("only_bg_t", n, seed=2, bg_purity=0.5, noise=0.0)
    share_bg = (_cell_colours(bg.images) == bg.bg_labels[:, None, None]).float().mean().item()
    assert abs(share_bg - (0.5 + 0.5 / c)) < 0.02


def test_confetti_brightness_switch_makes_the_object_brighter():
    d = confetti_challenge("mixed_rand", 50, seed=0, fg_value=1.0, bg_value=0.5, noise=0.0)
    m = d.masks[:, None].expand_as(d.images)
    assert d.images[m].max() > 0.85 and d.images[~m].max() <= 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"variant": "mixed"},
        {"n": 0},
        {"bg_correlation": 1.5},
        {"fg_purity": -0.1},
        {"layout": "grid"},
        {"cell": 3},
        {"object_patches": (0, 4)},
        {"object_patches": (5, 64)},
        {"image_size": 30},
        {"bg_value": 0.0},
        {"num_classes": 1},
        {"noise": -1.0},
    ],
)
def test_confetti_rejects_bad_input(kwargs):
    args = {"variant": "original", "n": 4, **kwargs}
    with pytest.raises(ValueError):
        confetti_challenge(**args)


# --- labels ------------------------------------------------------------------------------------------------


def _separation_oracle(labels, masks, grid, distance):
    """The definition written out with loops over images and patch pairs."""
    frac = patch_fractions(masks, grid).flatten(1)
    gaps = []
    for b in range(labels.shape[0]):
        d = pairwise_distance(labels[b : b + 1], distance)[0]
        obj = [bool(f >= 0.5) for f in frac[b]]
        cross, within = [], []
        for i in range(len(obj)):
            for j in range(len(obj)):
                (cross if obj[i] != obj[j] else within).append(float(d[i, j]))
        if cross:
            gaps.append(sum(cross) / len(cross) - sum(within) / len(within))
    return sum(gaps) / len(gaps)


def test_label_separation_matches_its_definition_and_its_extremes():
    d = confetti_challenge("mixed_rand", 12, seed=4)
    gt = GTLabeller(GRID)(d.images, d.masks)
    assert label_separation(gt, d.masks, GRID) == pytest.approx(1.0)
    assert label_separation(1.0 - gt, d.masks, GRID) == pytest.approx(1.0)  # the mask only groups: symmetric
    assert label_separation(UniformLabeller(GRID)(d.images, d.masks), d.masks, GRID) == pytest.approx(0.0)
    g = torch.Generator().manual_seed(0)
    for distance, k in (("l1", 1), ("cosine", 5)):
        y = torch.rand(12, 64, k, generator=g, dtype=torch.float64)
        assert label_separation(y, d.masks, GRID, distance) == pytest.approx(
            _separation_oracle(y, d.masks, GRID, distance), abs=1e-9
        )
    # labels that group object patches with background patches score below zero
    masks = torch.zeros(1, 8, 8, dtype=torch.bool)
    masks[0, :4, :4] = True  # object: the top-left 2×2 patches of a 4×4 grid
    y = torch.zeros(1, 16, 1)
    y[0, [2, 3, 6, 7]] = 1.0  # ...labelled like the background, while the top-right background stands apart
    assert label_separation(y, masks, (4, 4)) < 0
    with pytest.raises(ValueError):
        label_separation(gt, d.masks[:3], GRID)
    with pytest.raises(ValueError):
        label_separation(gt, torch.zeros_like(d.masks), GRID)


def test_rotated_labels_keep_their_values_but_lose_the_object():
    d = confetti_challenge("mixed_rand", 300, seed=7)
    gt = GTLabeller(GRID)
    rot = RotatedLabeller(gt, GRID)
    y, yr = gt(d.images, d.masks), rot(d.images, d.masks)
    assert torch.equal(y.sort(1).values, yr.sort(1).values)  # the same values, moved
    assert torch.equal(yr.view(-1, 8, 8, 1).flip(1, 2).reshape(y.shape), y)  # a 180° turn of the grid
    assert label_separation(yr, d.masks, GRID) < 0.1 < 0.9 < label_separation(y, d.masks, GRID)
    with pytest.raises(ValueError):
        RotatedLabeller(gt, (4, 4))(d.images, d.masks)
    with pytest.raises(ValueError):
        RotatedLabeller("gt", GRID)


# --- arms and paired effects -----------------------------------------------------------------------------


def test_paired_effect_against_statistics():
    arm = [{"acc": 80.0}, {"acc": 70.0}, {"acc": 90.0}]
    ctl = [{"acc": 75.0}, {"acc": 69.0}, {"acc": 80.0}]
    eff = paired_effect(arm, ctl, "acc")
    diffs = [5.0, 1.0, 10.0]
    assert eff.differences == tuple(diffs)
    assert eff.difference == pytest.approx(statistics.fmean(diffs))
    assert eff.se == pytest.approx(statistics.stdev(diffs) / math.sqrt(3))
    assert math.isinf(paired_effect(arm[:1], ctl[:1], "acc").se)  # one seed: no standard error
    assert "+5.33" in str(eff)
    with pytest.raises(ValueError):
        paired_effect(arm, ctl[:2], "acc")
    with pytest.raises(ValueError):
        paired_effect(arm, ctl, "gap")
    ms = mean_std(arm, ["acc"])["acc"]
    assert ms == pytest.approx((80.0, 10.0))


def _tiny():
    train = confetti_challenge("original", 256, seed=1)
    suite = confetti_suite(32, seed=2)
    arch = {"image_size": 32, "patch_size": 4, "embed_dim": 16, "depth": 2}
    return train, suite, arch


def test_uniform_label_arm_is_the_vanilla_model_trained_the_same_way():
    # The control isolates the labels: with D = 0 the OAMixer model *is* the vanilla model (κ gets no gradient),
    # so it ends where the vanilla model, built and trained from the same seed, ends.
    train, suite, arch = _tiny()
    oa, res = train_arm(
        "mixer",
        UniformLabeller(GRID),
        train,
        suite,
        seed=3,
        epochs=1,
        kappa_scale=50.0,
        device="cpu",
        progress=False,
        **arch,
    )
    seed_everything(3)
    vanilla = build_model("mixer", num_classes=6, **arch)
    fit(
        vanilla,
        train,
        epochs=1,
        lr=2e-3,
        seed=3,
        device="cpu",
        progress=False,
        step=cross_entropy_step(label_smoothing=0.1),
    )
    x = suite["mixed_rand"].images[:8]
    assert torch.allclose(oa(x, UniformLabeller(GRID)(x, None)), vanilla(x), atol=1e-5)
    assert res == evaluate_background_challenge(vanilla, suite)
    assert (oa.kappas() == 0).all()


def test_train_arm_is_reproducible_and_labels_change_the_outcome():
    train, suite, arch = _tiny()
    kw = {"seed": 0, "epochs": 3, "kappa_scale": 50.0, "device": "cpu", "progress": False, **arch}
    a, ra = train_arm("vit", GTLabeller(GRID), train, suite, **kw)
    b, rb = train_arm("vit", GTLabeller(GRID), train, suite, **kw)
    assert ra == rb and torch.equal(a.kappas(), b.kappas())
    assert (a.kappas() > 0).any()  # κ left 0 with informative labels
    u, _ = train_arm("vit", UniformLabeller(GRID), train, suite, **kw)
    assert (u.kappas() == 0).all()  # D = 0: κ gets no gradient
    with pytest.raises(ValueError):
        train_arm("vit", None, train, suite, **kw)


# --- the change plot ---------------------------------------------------------------------------------------


def test_plot_changes_draws_mean_bars_with_standard_errors_and_every_seed():
    changes = {"Δ Mixed-Rand": {"vit": [1.0, 3.0, 5.0], "mixer": [-1.0, 1.0, 0.0]}, "Δ BG-Gap": {"vit": [-2.0, -4.0]}}
    fig = plot_changes(changes, title="t")
    axes = fig.axes
    assert len(axes) == 2 and axes[0].get_title() == "Δ Mixed-Rand"
    heights = [p.get_height() for p in axes[0].patches]
    assert heights == pytest.approx([3.0, 0.0])
    dots = [line for line in axes[0].lines if line.get_marker() == "o"]
    assert sorted(dots[0].get_ydata().tolist()) == [1.0, 3.0, 5.0]
    err = [c for c in axes[0].containers if hasattr(c, "lines")][0]
    seg = err.lines[2][0].get_segments()[0]
    assert seg[1][1] - seg[0][1] == pytest.approx(2 * statistics.stdev([1, 3, 5]) / math.sqrt(3))
    assert axes[0].get_legend() is None
    with pytest.raises(ValueError):
        plot_changes({"x": {}})
    matplotlib.pyplot.close(fig)


def test_show_maps_can_put_every_map_on_one_colour_scale():
    from oaedu.plotting import show_maps

    images, masks = torch.rand(2, 3, 8, 8), torch.zeros(2, 8, 8, dtype=torch.bool)
    maps = {"weak": torch.full((2, 4, 4), 0.1), "strong": torch.rand(2, 4, 4)}
    fig = show_maps(images, masks, maps, vmin=0, vmax=1)
    assert all(ax.images[0].get_clim() == (0, 1) for ax in fig.axes[2:])
    default = show_maps(images, masks, {"strong": maps["strong"]})
    assert default.axes[2].images[0].get_clim() != (0, 1)  # without them, each map uses its own range
    matplotlib.pyplot.close("all")
