"""CLEVR-like 2-D multi-object scenes with instance masks (papers 3 and 5).

Each scene holds 1 to ``max_objects`` coloured shapes on a softly lit grey floor. Objects are drawn
in order, so later objects occlude earlier ones (``overlap="occlude"``); objects left with less than
``min_visible`` of their pixels are dropped, so every listed object is really visible. With
``overlap="avoid"`` positions are resampled until objects do not touch (objects that find no free
spot are dropped).

``radii`` are the small and large objects' radius as a share of the image (paper 5 uses very different sizes, so
that a large object stands out).

``cooccurrence`` adds the contextual bias of paper 3 (ContraCAM §3.2): each object whose shape is the
first of a pair in ``cooccur_pairs`` is followed, with that probability, by an object of the paired
shape placed next to it, as a fork tends to appear beside a plate.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from .. import validate
from .datasets import SceneDataset

SCENE_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
SCENE_COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "cyan", "brown", "grey")
SIZES: tuple[str, ...] = ("small", "large")
_RGB = torch.tensor(
    [
        [0.80, 0.15, 0.15],
        [0.15, 0.65, 0.20],
        [0.15, 0.30, 0.85],
        [0.90, 0.80, 0.15],
        [0.55, 0.20, 0.70],
        [0.15, 0.75, 0.80],
        [0.55, 0.35, 0.15],
        [0.60, 0.60, 0.60],
    ]
)
_RADIUS = (0.075, 0.12)


def _object_mask(shape: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Per-scene shape masks in object coordinates ``u, v`` of shape ``(n, H, W)``."""
    u, v = torch.broadcast_tensors(u, v)
    au, av = u.abs(), v.abs()
    circle = u**2 + v**2 <= 1
    square = torch.maximum(au, av) <= 0.85
    triangle = (v <= 0.8) & (au <= (v + 0.95) / 1.75)
    diamond = au + av <= 1.1
    stacked = torch.stack([circle, square, triangle, diamond])
    return stacked.gather(0, shape[None, :, None, None].expand(1, *u.shape))[0]


def multi_object_scenes(
    n: int,
    seed: int = 0,
    image_size: int = 64,
    max_objects: int = 6,
    min_objects: int = 1,
    overlap: str = "occlude",
    min_visible: float = 0.3,
    cooccurrence: float = 0.0,
    cooccur_pairs: tuple[tuple[int, int], ...] = ((0, 1),),
    radii: tuple[float, float] = _RADIUS,
) -> SceneDataset:
    """Generate ``n`` scenes; item ``i`` is ``(image, instance_mask int64[H,W], attributes)``.

    ``attributes`` (per object, padded to ``max_objects`` with ``-1``/``nan``): ``shape``, ``colour``,
    ``size`` (0 small, 1 large), ``radius`` (pixels), ``position`` (x, y in [0, 1]), plus ``count`` per
    scene. Object ``k`` (1-based id in the mask) is at index ``k - 1``.
    """
    n = validate.integer(n, "n", low=1)
    seed = validate.seed(seed)
    min_objects = validate.integer(min_objects, "min_objects")
    max_objects = validate.integer(max_objects, "max_objects")
    if not 1 <= min_objects <= max_objects:
        raise ValueError(f"need 1 <= min_objects <= max_objects, got {min_objects} and {max_objects}")
    image_size = validate.integer(image_size, "image_size", low=16)
    validate.fits_memory(n * (8 + max_objects) * image_size**2, "n, image_size and max_objects: the scenes")
    overlap = validate.choice(overlap, "overlap", ("occlude", "avoid"))
    cooccurrence = validate.probability(cooccurrence, "cooccurrence")
    min_visible = validate.probability(min_visible, "min_visible")
    _check_radii_and_pairs(radii, cooccur_pairs)

    # Every random draw comes from ``g``, in this order: objects, partners, fresh positions, floor noise.
    g = torch.Generator().manual_seed(seed)
    s = image_size
    objects = _draw_objects(g, n, min_objects, max_objects, radii, s)
    if cooccurrence > 0:
        _place_partners(g, objects, cooccurrence, dict(cooccur_pairs), s)
    margin = objects.radius / s
    objects.pos = torch.minimum(torch.maximum(objects.pos, margin[..., None]), 1 - margin[..., None])
    if overlap == "avoid":
        _avoid_overlaps(g, objects, margin, s)
    layers = _rasterise(objects, s)
    _drop_hidden(objects, layers, min_visible)
    objects, layers = _visible_first(objects, layers)
    instance = _topmost(layers)
    images = _paint(g, objects, instance, s)
    return SceneDataset(images.contiguous(), instance, _attributes(objects))


def _check_radii_and_pairs(radii: tuple[float, float], cooccur_pairs: tuple[tuple[int, int], ...]) -> None:
    if (
        not isinstance(radii, (tuple, list))
        or len(radii) != 2
        or not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in radii)
        or not 0 < radii[0] <= radii[1] < 0.5
    ):
        raise ValueError(f"radii must be (small, large) with 0 < small <= large < 0.5, got {radii!r}")
    for pair in cooccur_pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"cooccur_pairs must hold pairs (a, b) of shape ids, got {pair!r}")
        a, b = pair
        if not (0 <= a < len(SCENE_SHAPES) and 0 <= b < len(SCENE_SHAPES)):
            raise ValueError(f"cooccur_pairs refer to shapes 0..{len(SCENE_SHAPES) - 1}, got {(a, b)}")


@dataclass
class _Objects:
    """Per-scene object slots ``(n, K)``: which are present, and each one's shape, colour, size, radius (pixels)
    and centre ``pos`` (x, y in [0, 1])."""

    active: torch.Tensor
    shape: torch.Tensor
    colour: torch.Tensor
    size: torch.Tensor
    radius: torch.Tensor
    pos: torch.Tensor

    def reorder(self, order: torch.Tensor) -> _Objects:
        """The objects of every scene taken in ``order`` ``(n, K)``."""

        def take(t: torch.Tensor) -> torch.Tensor:
            # order (n, K) -> (n, K, 1, ...), broadcast over t (n, K, ...)
            return t.gather(1, order.view(*order.shape, *([1] * (t.ndim - 2))).expand_as(t))

        return _Objects(*(take(getattr(self, f.name)) for f in fields(self)))


def _draw_objects(
    g: torch.Generator, n: int, min_objects: int, max_objects: int, radii: tuple[float, float], s: int
) -> _Objects:
    """Draw each scene's object count, then every slot's shape, colour, size and uniform position."""
    count = torch.randint(min_objects, max_objects + 1, (n,), generator=g)
    active = torch.arange(max_objects)[None] < count[:, None]
    shape = torch.randint(len(SCENE_SHAPES), (n, max_objects), generator=g)
    colour = torch.randint(len(SCENE_COLOURS), (n, max_objects), generator=g)
    size = torch.randint(2, (n, max_objects), generator=g)
    radius = torch.tensor(radii)[size] * s
    pos = torch.rand(n, max_objects, 2, generator=g)
    return _Objects(active, shape, colour, size, radius, pos)


def _place_partners(
    g: torch.Generator, objects: _Objects, cooccurrence: float, partner_of: dict[int, int], s: int
) -> None:
    """ContraCAM §3.2's contextual bias, in place: with probability ``cooccurrence`` the object after one whose shape
    has a partner takes the partner's shape and sits right next to it (not twice in a row)."""
    n, k_max = objects.shape.shape
    shape, radius, pos = objects.shape, objects.radius, objects.pos
    follows = torch.zeros(n, k_max, dtype=torch.bool)
    coin = torch.rand(n, k_max, generator=g) < cooccurrence
    offset = torch.rand(n, k_max, generator=g) * 2 * torch.pi
    for k in range(1, k_max):
        prev = shape[:, k - 1]
        has_partner = torch.zeros(n, dtype=torch.bool)
        target = torch.zeros(n, dtype=torch.long)
        for a, b in partner_of.items():
            hit = prev == a
            has_partner |= hit
            target[hit] = b
        take = has_partner & coin[:, k] & objects.active[:, k] & ~follows[:, k - 1]
        shape[take, k] = target[take]
        follows[:, k] = take
        d = (radius[:, k - 1] + radius[:, k] + 1) / s
        step = torch.stack([torch.cos(offset[:, k]), torch.sin(offset[:, k])], -1) * d[:, None]
        pos[take, k] = pos[take, k - 1] + step[take]


def _avoid_overlaps(g: torch.Generator, objects: _Objects, margin: torch.Tensor, s: int) -> None:
    """``overlap="avoid"``, in place: redraw an object's position (30 tries) while it touches an earlier one; drop
    it if it never finds a free spot."""
    pos, radius, active = objects.pos, objects.radius, objects.active
    for k in range(1, pos.shape[1]):
        for _ in range(30):
            dist = (pos[:, k, None] - pos[:, :k]).norm(dim=-1) * s
            clash = (dist < radius[:, k, None] + radius[:, :k] + 1) & active[:, :k]
            bad = clash.any(1) & active[:, k]
            if not bad.any():
                break
            fresh = torch.rand(int(bad.sum()), 2, generator=g)
            pos[bad, k] = torch.minimum(torch.maximum(fresh, margin[bad, k, None]), 1 - margin[bad, k, None])
        active[:, k] &= ~bad


def _pixel_centres(s: int) -> torch.Tensor:
    return torch.arange(s, dtype=torch.float32) + 0.5


def _rasterise(objects: _Objects, s: int) -> torch.Tensor:
    """Each present object's mask ``bool (n, K, s, s)``, in its own coordinates scaled by its radius."""
    n, k_max = objects.shape.shape
    pix, pos, radius = _pixel_centres(s), objects.pos, objects.radius
    layers = torch.zeros(n, k_max, s, s, dtype=torch.bool)
    for k in range(k_max):
        u = (pix[None, None, :] - pos[:, k, 0, None, None] * s) / radius[:, k, None, None]
        v = (pix[None, :, None] - pos[:, k, 1, None, None] * s) / radius[:, k, None, None]
        layers[:, k] = _object_mask(objects.shape[:, k], u, v) & objects.active[:, k, None, None]
    return layers


def _drop_hidden(objects: _Objects, layers: torch.Tensor, min_visible: float) -> None:
    """Later objects sit on top; drop, in place, objects whose visible share is below ``min_visible`` (which can
    uncover others), until none is dropped."""
    active, k_max = objects.active, layers.shape[1]
    for _ in range(k_max):
        top = _topmost(layers)
        # (n, s, s) -> (n, s²) -> (n,), stacked: (n, K)
        visible = torch.stack([(top == k + 1).flatten(1).sum(1) for k in range(k_max)], 1).float()
        area = layers.flatten(2).sum(2).float()  # (n, K, s, s) -> (n, K, s²) -> (n, K)
        drop = active & (visible < min_visible * area.clamp_min(1))
        if not drop.any():
            break
        active &= ~drop
        layers &= active[:, :, None, None]


def _visible_first(objects: _Objects, layers: torch.Tensor) -> tuple[_Objects, torch.Tensor]:
    """Move each scene's present objects to the front (stable), so object ``k`` has id ``k + 1`` in the mask."""
    order = torch.argsort((~objects.active).int(), dim=1, stable=True)
    # order (n, K) -> (n, K, 1, 1), broadcast over (n, K, s, s)
    layers = layers.gather(1, order.view(*order.shape, 1, 1).expand_as(layers))
    return objects.reorder(order), layers


def _paint(g: torch.Generator, objects: _Objects, instance: torch.Tensor, s: int) -> torch.Tensor:
    """A noisy floor lit from the top, then each object's colour, shaded across it, where it is on top."""
    n, k_max = objects.shape.shape
    pix = _pixel_centres(s)
    yy, xx = torch.meshgrid(pix / s, pix / s, indexing="ij")
    floor = 0.42 + 0.12 * (1 - yy) + 0.04 * torch.randn(n, 1, s, s, generator=g)
    images = floor.expand(n, 3, s, s).clone()
    for k in range(k_max):
        dx = xx[None] - objects.pos[:, k, 0, None, None]
        dy = yy[None] - objects.pos[:, k, 1, None, None]
        shade = 1.0 - 0.35 * ((dx + 0.5 * dy) * s / objects.radius[:, k, None, None]).clamp(-1, 1)
        paint = _RGB[objects.colour[:, k]][:, :, None, None] * shade[:, None]
        images = torch.where((instance == k + 1)[:, None], paint, images)
    return images.clamp(0, 1)


def _attributes(objects: _Objects) -> dict[str, torch.Tensor]:
    """The per-object attributes, ``-1``/``nan`` where no object is, and each scene's object count."""
    absent = ~objects.active
    return {
        "shape": objects.shape.masked_fill(absent, -1),
        "colour": objects.colour.masked_fill(absent, -1),
        "size": objects.size.masked_fill(absent, -1),
        "radius": objects.radius.masked_fill(absent, float("nan")),
        "position": objects.pos.masked_fill(absent[..., None], float("nan")),
        "count": objects.active.sum(1),
    }


def _topmost(layers: torch.Tensor) -> torch.Tensor:
    """Instance map from stacked object masks ``bool[n,K,H,W]``: the last object covering a pixel wins."""
    top = torch.zeros(layers.shape[0], *layers.shape[2:], dtype=torch.int64)
    for k in range(layers.shape[1]):
        top.masked_fill_(layers[:, k], k + 1)
    return top
