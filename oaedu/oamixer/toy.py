"""A Background Challenge built so that OAMixer's premise holds, with switches that break it.

OAMixer (Kang et al., 2022, §1) argues that patch mixing *entangles* an object with its background: an
object patch that mixes with background patches picks up their features, and a model that learns from
little data then leans on whatever the background says. Object labels undo the entanglement by
down-weighting object–background mixing (Eq. 3). For that to help, three things must hold:

1. the object's class shows only when its patches are taken **together** (each patch is weak evidence);
2. the background is made of the **same stuff** as objects, and in training it tends to agree with the
   class (a spurious cue), so mixing it into object patches both dilutes and biases the evidence;
3. **only the labels** say which patches belong together: here the object's patches are scattered over
   the image and look like the background, so neither attention by content nor a locality bias finds them.

Every image is *confetti*: a grid of ``cell × cell`` pixel squares, each one of ``num_classes`` colours.
In the object's patches a cell takes the class colour with probability ``fg_purity`` (else a random
colour); in the background it takes the colour of the background class with probability ``bg_purity``.
The background class equals the label with probability ``bg_correlation`` in ``original`` (and in the
``only_bg_*`` and ``no_fg`` variants built from it). ``layout="blob"`` puts the object in one compact
ellipse instead (a locality bias then finds it), and ``fg_value > bg_value`` makes the object brighter
than the background (so attention can find it by content): the two switches that break premise 3.

The eight variants follow :mod:`oaedu.data.background_challenge` and are *paired*: for one seed they
share the objects, and ``mixed_same``/``mixed_rand``/``mixed_next`` share one fresh background draw that
differs only in its class.
"""

from __future__ import annotations

import torch

from .. import validate
from ..data.background_challenge import VARIANTS, _compose_variant, _hsv_to_rgb
from ..data.datasets import MaskedImageDataset

LAYOUTS: tuple[str, ...] = ("scatter", "blob")


def confetti_palette(num_classes: int) -> torch.Tensor:
    """``(num_classes, 3)`` RGB colours at evenly spaced hues (saturation 0.8, value 0.9)."""
    validate.integer(num_classes, "num_classes", low=2)
    hue = torch.arange(num_classes, dtype=torch.float32) / num_classes
    return _hsv_to_rgb(hue, torch.full_like(hue, 0.8), torch.full_like(hue, 0.9))


def _confetti(cls: torch.Tensor, keep: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Cell colour indices: the class colour where ``keep``, a random colour elsewhere."""
    return torch.where(keep, cls[:, None, None], other)


def _object_masks(
    n: int, size: int, patch_size: int, layout: str, object_patches: tuple[int, int], g: torch.Generator
) -> torch.Tensor:
    """``bool (n, size, size)``: scattered whole patches, or one ellipse of about the same area."""
    grid = size // patch_size
    count = torch.randint(object_patches[0], object_patches[1] + 1, (n,), generator=g)
    if layout == "scatter":
        rank = torch.rand(n, grid * grid, generator=g).argsort(1).argsort(1)
        cells = (rank < count[:, None]).view(n, grid, grid)  # (n, grid²) -> (n, grid, grid)
        return cells.repeat_interleave(patch_size, 1).repeat_interleave(patch_size, 2)
    area = count.float() * patch_size**2  # the same object area as the scattered layout
    aspect = 0.75 + 0.5 * torch.rand(n, generator=g)
    ru = torch.sqrt(area / torch.pi * aspect)
    rv = torch.sqrt(area / torch.pi / aspect)
    centre = torch.stack([ru, rv], 1) + torch.rand(n, 2, generator=g) * (size - 2 * torch.stack([ru, rv], 1))
    pix = torch.arange(size, dtype=torch.float32) + 0.5
    u = (pix[None, None, :] - centre[:, 0, None, None]) / ru[:, None, None]
    v = (pix[None, :, None] - centre[:, 1, None, None]) / rv[:, None, None]
    return u**2 + v**2 <= 1


def _check(
    variant: str,
    n: int,
    image_size: int,
    patch_size: int,
    num_classes: int,
    probabilities: dict[str, float],
    layout: str,
    object_patches: tuple[int, int],
    cell: int,
    values: dict[str, float],
) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    validate.integer(n, "n", low=1)
    validate.integer(num_classes, "num_classes", low=2)
    if patch_size < 1 or image_size % patch_size or image_size // patch_size < 2:
        raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size ({patch_size}), ≥ 2 patches")
    if cell < 1 or patch_size % cell:
        raise ValueError(f"cell ({cell}) must divide patch_size ({patch_size})")
    for name, p in probabilities.items():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    for name, v in values.items():
        if not 0.0 < v <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {v}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    lo, hi = object_patches
    if not 1 <= lo <= hi < (image_size // patch_size) ** 2:
        raise ValueError(
            f"object_patches must be (low, high) with 1 ≤ low ≤ high < {(image_size // patch_size) ** 2} patches, "
            f"got {object_patches}"
        )


def confetti_challenge(
    variant: str,
    n: int,
    seed: int = 0,
    image_size: int = 32,
    patch_size: int = 4,
    num_classes: int = 6,
    bg_correlation: float = 0.4,
    fg_purity: float = 0.6,
    bg_purity: float = 0.6,
    layout: str = "scatter",
    object_patches: tuple[int, int] = (10, 16),
    cell: int = 2,
    fg_value: float = 1.0,
    bg_value: float = 1.0,
    noise: float = 0.03,
) -> MaskedImageDataset:
    """``n`` images of one Background Challenge ``variant`` of the confetti task (see the module docstring).

    Args:
        variant: one of :data:`oaedu.data.VARIANTS`.
        n: number of images.
        seed: the same seed gives the same objects (and paired backgrounds) in every variant.
        image_size, patch_size: the image side and the model's patch side in pixels; scattered objects
            cover whole patches, so their patch labels are exactly 0 or 1.
        num_classes: number of classes (one colour each).
        bg_correlation: probability that the background class equals the label (``original``).
        fg_purity, bg_purity: share of object / background cells drawn in the class colour.
        layout: ``"scatter"`` (the object is ``object_patches`` whole patches at random places) or
            ``"blob"`` (one ellipse of the same area).
        object_patches: inclusive range of the object's size in patches.
        cell: side of a confetti square in pixels (divides ``patch_size``).
        fg_value, bg_value: brightness of object and background colours in (0, 1].
        noise: standard deviation of Gaussian pixel noise.

    Returns:
        A :class:`~oaedu.data.MaskedImageDataset` (images in [0, 1], labels, object masks, background classes).
    """
    _check(
        variant,
        n,
        image_size,
        patch_size,
        num_classes,
        {"bg_correlation": bg_correlation, "fg_purity": fg_purity, "bg_purity": bg_purity},
        layout,
        tuple(object_patches),
        cell,
        {"fg_value": fg_value, "bg_value": bg_value},
    )
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    g = torch.Generator().manual_seed(seed)
    c, cells = num_classes, image_size // cell
    labels = torch.randint(c, (n,), generator=g)
    agree = torch.rand(n, generator=g) < bg_correlation
    bg_orig = torch.where(agree, labels, torch.randint(c, (n,), generator=g))
    bg_rand = torch.randint(c, (n,), generator=g)
    masks = _object_masks(n, image_size, patch_size, layout, tuple(object_patches), g)

    def draw(purity: float) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(n, cells, cells, generator=g) < purity, torch.randint(c, (n, cells, cells), generator=g)

    fg_idx = _confetti(labels, *draw(fg_purity))
    orig_draw, fresh_draw = draw(bg_purity), draw(bg_purity)
    bg_class = {"mixed_same": labels, "mixed_rand": bg_rand, "mixed_next": (labels + 1) % c}.get(variant, bg_orig)
    fresh = variant.startswith("mixed")
    bg_idx = _confetti(bg_class, *(fresh_draw if fresh else orig_draw))
    noise_gen = torch.Generator().manual_seed(2 * seed + int(fresh))
    pixel_noise = noise * torch.randn(n, 3, image_size, image_size, generator=noise_gen)

    palette = confetti_palette(c)

    def render(idx: torch.Tensor, value: float) -> torch.Tensor:
        rgb = (value * palette[idx]).permute(0, 3, 1, 2)  # (n, 3, cells, cells)
        return rgb.repeat_interleave(cell, 2).repeat_interleave(cell, 3)

    # noise goes into the two layers, so the black areas of only_fg, only_bg_b and no_fg stay black
    foreground = (render(fg_idx, fg_value) + pixel_noise).clamp(0, 1)
    background = (render(bg_idx, bg_value) + pixel_noise).clamp(0, 1)
    images = _compose_variant(variant, foreground, background, masks)
    return MaskedImageDataset(images, labels, masks, bg_class, variant=variant, num_classes=c)


def confetti_suite(n: int, seed: int = 1, **kwargs) -> dict[str, MaskedImageDataset]:
    """All eight variants of :func:`confetti_challenge` for one seed, keyed by variant name."""
    return {v: confetti_challenge(v, n, seed, **kwargs) for v in VARIANTS}
