"""A synthetic Background Challenge (Xiao et al., ICLR 2021), the robustness test of papers 1 and 3.

Every class is one foreground object with its own shape, texture and hue (jittered by
``fg_hue_jitter``; a larger jitter makes the object harder to recognise); every background *type* is a
tinted, oriented stripe texture. In the training distribution the background type agrees with the
class with probability ``bg_correlation``, so a model can score well by looking at the background
alone: the shortcut the five papers fight. The eight variants below are rendered from the **same**
objects and backgrounds for a given seed, so variant accuracies are paired comparisons, as in IN-9.

=============  ================================================================================
variant        what the image shows
=============  ================================================================================
original       the object on its (correlated) background
only_fg        the object on black
only_bg_b      the original background with the object's bounding box blacked out
only_bg_t      the original background with the box filled by background texture (the synthetic
               backgrounds are stationary, so the ideal tiling is the background itself)
no_fg          the original image with the object's pixels blacked out
mixed_same     the object on a fresh background of its own class
mixed_rand     the object on a background of a uniformly random class
mixed_next     the object on a background of the next class, ``(y + 1) mod C``
=============  ================================================================================

The label is always the object's class; the mask always marks where the object is (or was).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import validate
from .datasets import MaskedImageDataset

VARIANTS: tuple[str, ...] = (
    "original",
    "only_fg",
    "only_bg_b",
    "only_bg_t",
    "no_fg",
    "mixed_same",
    "mixed_rand",
    "mixed_next",
)
SHAPES: tuple[str, ...] = ("disk", "square", "triangle", "plus", "ring", "diamond", "ellipse", "cross", "frame")
MAX_CLASSES = len(SHAPES)

# One tint per background type: distinct hues, so the background is an easy (spurious) cue.
_BG_TINTS = torch.tensor(
    [
        [0.85, 0.35, 0.30],
        [0.30, 0.70, 0.35],
        [0.30, 0.45, 0.85],
        [0.85, 0.75, 0.30],
        [0.70, 0.35, 0.80],
        [0.30, 0.75, 0.75],
        [0.90, 0.55, 0.20],
        [0.55, 0.55, 0.55],
        [0.55, 0.80, 0.25],
    ]
)


def _shape_mask(shape: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Boolean mask of class ``shape`` in object coordinates ``u, v`` (radius 1, v points down)."""
    au, av = u.abs(), v.abs()
    r = torch.sqrt(u**2 + v**2)
    if shape == 0:
        return r <= 1
    if shape == 1:
        return torch.maximum(au, av) <= 0.85
    if shape == 2:
        return (v <= 0.8) & (au <= (v + 0.95) / 1.75)
    if shape == 3:
        return ((au <= 0.34) & (av <= 1)) | ((av <= 0.34) & (au <= 1))
    if shape == 4:
        return (r <= 1) & (r >= 0.55)
    if shape == 5:
        return au + av <= 1.05
    if shape == 6:
        return u**2 + (v / 0.5) ** 2 <= 1
    if shape == 7:
        return (((u - v).abs() <= 0.42) | ((u + v).abs() <= 0.42)) & (torch.maximum(au, av) <= 0.85)
    return (torch.maximum(au, av) <= 0.9) & (torch.maximum(au, av) >= 0.5)


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vectorised HSV → RGB for ``(n,)`` tensors in [0, 1]; returns ``(n, 3)``."""
    k = (torch.tensor([5.0, 3.0, 1.0])[None] + 6 * h[:, None]) % 6
    return v[:, None] - v[:, None] * s[:, None] * (torch.minimum(k, 4 - k).clamp(0, 1))


def _backgrounds(
    bg_class: torch.Tensor, num_classes: int, size: int, phase: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """Tinted stripe textures: orientation, frequency and tint depend on the background class."""
    coords = torch.arange(size, dtype=torch.float32) / size
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    theta = bg_class.float() * math.pi / num_classes
    freq = 2 * math.pi * (2.0 + (bg_class % 3).float() * 1.5)
    proj = x[None] * torch.cos(theta)[:, None, None] + y[None] * torch.sin(theta)[:, None, None]
    stripes = 0.6 + 0.3 * torch.sin(freq[:, None, None] * proj + phase[:, None, None])
    tint = _BG_TINTS[bg_class]
    return (tint[:, :, None, None] * stripes[:, None] + noise).clamp(0, 1)


def background_challenge(
    variant: str,
    n: int,
    seed: int = 0,
    image_size: int = 32,
    num_classes: int = 9,
    bg_correlation: float = 0.9,
    fg_hue_jitter: float = 0.03,
) -> MaskedImageDataset:
    """Generate ``n`` images of one Background Challenge ``variant``; see the module docstring.

    Args:
        variant: one of :data:`VARIANTS`.
        n: number of images.
        seed: the same seed gives the same objects and backgrounds in every variant.
        image_size: side length in pixels (at least 16).
        num_classes: number of object classes, 2 to 9.
        bg_correlation: probability that an image's background type equals its class (used by
            ``original``, ``only_bg_*`` and ``no_fg``); 1/num_classes means no shortcut at all.
        fg_hue_jitter: standard deviation of the object's hue around its class hue (hue in [0, 1)).
            With the defaults a tiny ViT trained for a few epochs scores ~40% on Mixed-Rand (chance
            11%) and ~100% on Mixed-Same: it uses both cues, as ImageNet models do on IN-9.

    Returns:
        A :class:`MaskedImageDataset` whose items are ``(image float[3,H,W] in [0,1], label, mask bool[H,W])``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    n = validate.integer(n, "n", low=1)
    seed = validate.seed(seed)
    num_classes = validate.integer(num_classes, "num_classes", low=2, high=MAX_CLASSES)
    image_size = validate.integer(image_size, "image_size", low=16)
    validate.fits_memory(n * 8 * image_size**2, "n and image_size: the images, masks and backgrounds")
    bg_correlation = validate.probability(bg_correlation, "bg_correlation")
    fg_hue_jitter = validate.non_negative(fg_hue_jitter, "fg_hue_jitter")

    g = torch.Generator().manual_seed(seed)
    draws = _draw_images(g, n, image_size, num_classes, bg_correlation, fg_hue_jitter)
    masks, foreground = _foreground(draws, num_classes, image_size)
    bg_class = _background_class(variant, draws, num_classes)
    background = _variant_background(variant, seed, bg_class, draws.phases, num_classes, image_size)
    images = _compose_variant(variant, foreground, background, masks)
    return MaskedImageDataset(images, draws.labels, masks, bg_class, variant=variant, num_classes=num_classes)


@dataclass(frozen=True)
class _Draws:
    """Everything random about ``n`` images that every variant shares (one seed, one generator, one order)."""

    labels: torch.Tensor  # (n,) object class
    bg_orig: torch.Tensor  # (n,) background class of the original image: the label with prob. bg_correlation
    radius: torch.Tensor  # (n,) object radius (pixels)
    centre: torch.Tensor  # (n, 2) object centre (x, y pixels)
    fg_colour: torch.Tensor  # (n, 3) object RGB: the class hue, jittered
    phases: torch.Tensor  # (2, n) stripe phases: [0] the original backgrounds, [1] the fresh (Mixed-*) ones
    bg_rand: torch.Tensor  # (n,) Mixed-Rand's random background class


def _draw_images(
    g: torch.Generator, n: int, s: int, num_classes: int, bg_correlation: float, fg_hue_jitter: float
) -> _Draws:
    """Draw labels, backgrounds, object placement and colour from ``g``, in a fixed order."""
    labels = torch.randint(num_classes, (n,), generator=g)
    keep = torch.rand(n, generator=g) < bg_correlation
    bg_orig = torch.where(keep, labels, torch.randint(num_classes, (n,), generator=g))
    radius = s * (0.2 + 0.1 * torch.rand(n, generator=g))
    centre = radius[:, None] + 1 + torch.rand(n, 2, generator=g) * (s - 2 * radius[:, None] - 2)
    hue = (labels.float() / num_classes + 0.5 / num_classes + fg_hue_jitter * torch.randn(n, generator=g)) % 1.0
    fg_colour = _hsv_to_rgb(hue, 0.55 + 0.4 * torch.rand(n, generator=g), 0.75 + 0.25 * torch.rand(n, generator=g))
    phases = 2 * math.pi * torch.rand(2, n, generator=g)
    bg_rand = torch.randint(num_classes, (n,), generator=g)
    return _Draws(labels, bg_orig, radius, centre, fg_colour, phases, bg_rand)


def _foreground(draws: _Draws, num_classes: int, s: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each object's mask ``(n, s, s)`` (its class's shape) and its layer ``(n, 3, s, s)``: its colour modulated by
    its class's oriented texture."""
    n = len(draws.labels)
    pix = torch.arange(s, dtype=torch.float32) + 0.5
    u = (pix[None, None, :] - draws.centre[:, 0, None, None]) / draws.radius[:, None, None]
    v = (pix[None, :, None] - draws.centre[:, 1, None, None]) / draws.radius[:, None, None]
    masks = torch.zeros(n, s, s, dtype=torch.bool)
    texture = torch.zeros(n, s, s)
    for c in range(num_classes):
        idx = draws.labels == c
        if idx.any():
            masks[idx] = _shape_mask(c, u[idx], v[idx])
            angle = c * math.pi / num_classes
            texture[idx] = torch.cos((3.0 + c % 3) * (u[idx] * math.cos(angle) + v[idx] * math.sin(angle)))
    return masks, draws.fg_colour[:, :, None, None] * (0.8 + 0.2 * texture[:, None])


def _background_class(variant: str, draws: _Draws, num_classes: int) -> torch.Tensor:
    """The background class per image: the label (Mixed-Same), a random class (Mixed-Rand), the next class
    (Mixed-Next), else the original image's."""
    return {
        "mixed_same": draws.labels,
        "mixed_rand": draws.bg_rand,
        "mixed_next": (draws.labels + 1) % num_classes,
    }.get(variant, draws.bg_orig)


def _variant_background(
    variant: str, seed: int, bg_class: torch.Tensor, phases: torch.Tensor, num_classes: int, s: int
) -> torch.Tensor:
    """The background layer: Mixed-* variants get fresh backgrounds (their own phases and noise)."""
    fresh = variant.startswith("mixed")
    # Pixel noise has its own stream, so variants draw only the noise they use and stay paired.
    noise_gen = torch.Generator().manual_seed(2 * seed + int(fresh))
    noise = 0.04 * torch.randn(len(bg_class), 3, s, s, generator=noise_gen)
    return _backgrounds(bg_class, num_classes, s, phases[int(fresh)], noise)


def _compose_variant(
    variant: str, foreground: torch.Tensor, background: torch.Tensor, masks: torch.Tensor
) -> torch.Tensor:
    """The images of one Background Challenge variant (Xiao et al. 2021, §2) from a ``foreground`` and a
    ``background`` layer ``(N,3,H,W)`` and the object ``masks`` ``(N,H,W)``: black where a variant removes a layer
    (Only-FG: the background; Only-BG-B: the object's bounding box; No-FG: the object), Only-BG-T the background
    alone, every other variant the object pasted on the background."""
    m = masks[:, None]
    if variant == "only_fg":
        images = torch.where(m, foreground, torch.zeros(()))
    elif variant == "only_bg_t":
        images = background
    elif variant == "only_bg_b":
        images = torch.where(_bounding_boxes(masks)[:, None], torch.zeros(()), background)
    elif variant == "no_fg":
        images = torch.where(m, torch.zeros(()), background)
    else:
        images = torch.where(m, foreground, background)
    return images.contiguous()


def _bounding_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Fill each mask's bounding box: ``bool[N,H,W] -> bool[N,H,W]``."""
    rows = masks.any(2)
    cols = masks.any(1)
    idx_r = torch.arange(masks.shape[1])
    idx_c = torch.arange(masks.shape[2])
    big = masks.shape[1] + masks.shape[2]
    r0 = torch.where(rows, idx_r, big).min(1).values
    r1 = torch.where(rows, idx_r, -1).max(1).values
    c0 = torch.where(cols, idx_c, big).min(1).values
    c1 = torch.where(cols, idx_c, -1).max(1).values
    in_r = (idx_r[None] >= r0[:, None]) & (idx_r[None] <= r1[:, None])
    in_c = (idx_c[None] >= c0[:, None]) & (idx_c[None] <= c1[:, None])
    return in_r[:, :, None] & in_c[:, None, :]


def background_challenge_suite(
    n: int, seed: int = 1, image_size: int = 32, num_classes: int = 9, bg_correlation: float = 0.9
) -> dict[str, MaskedImageDataset]:
    """All eight variants for one seed, keyed by variant name."""
    return {v: background_challenge(v, n, seed, image_size, num_classes, bg_correlation) for v in VARIANTS}
