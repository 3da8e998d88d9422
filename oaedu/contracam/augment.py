"""Object-aware augmentations from ContraCAM maps (ContraCAM §2.3): boxes and OA-Crop; background mixup, Eq. (4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .. import validate
from ..data.transforms import crop_boxes
from ..maps import connected_components
from .boxes import grown_box


def _check_cam(cam: torch.Tensor, name: str = "cam") -> torch.Tensor:
    if not isinstance(cam, torch.Tensor) or not cam.dtype.is_floating_point or cam.ndim not in (2, 3):
        raise ValueError(f"{name} must be a float tensor (B, H, W) or (H, W), got {getattr(cam, 'shape', type(cam))}")
    if cam.numel() == 0:
        raise ValueError(f"{name} is empty")
    if not torch.isfinite(cam).all():
        raise ValueError(f"{name} holds NaN or inf")
    return cam if cam.ndim == 3 else cam[None]


def _check_backgrounds(backgrounds, n: int) -> None:
    """``(images (n, C, H, W), valid bool (n,))`` as :func:`background_only` returns them."""
    ok = isinstance(backgrounds, (tuple, list)) and len(backgrounds) == 2
    if not ok or not all(isinstance(t, torch.Tensor) for t in backgrounds):
        got = validate.describe(backgrounds)
        raise TypeError(f"backgrounds must be the pair (images, valid) from background_only, got {got}")
    validate.tensor(backgrounds[0], "backgrounds[0]", ndim=4, dtype="float")
    validate.tensor(backgrounds[1], "backgrounds[1]", shape=(backgrounds[0].shape[0],), dtype=torch.bool)
    if backgrounds[0].shape[0] != n:
        raise ValueError(f"backgrounds must hold one background per image ({n}), got {backgrounds[0].shape[0]}")


def boxes_from_cam(
    cam: torch.Tensor, threshold: float = 0.5, min_area: float = 0.01, margin: float = 0.2
) -> list[torch.Tensor]:
    """Boxes of the 8-connected components of ``cam ≥ threshold`` (App. B.2): each component's bounding box,
    dropped below ``min_area`` of the image, grown by ``margin`` × its width (height) on each side, clipped.

    Returns one ``float (n_i, 4)`` tensor per map of ``(x0, y0, x1, y1)`` in [0, 1] image fractions (pixel edges).
    Labelling is :func:`oaedu.maps.connected_components`.
    """
    maps = _check_cam(cam)
    validate.fraction(threshold, "threshold")
    validate.fraction(min_area, "min_area")
    validate.non_negative(margin, "margin")
    _, h, w = maps.shape
    labels = connected_components(maps >= threshold).cpu()
    out = []
    for lab in labels:
        regions = (lab == k for k in range(1, int(lab.max()) + 1))
        boxes = [grown_box(on, margin) for on in regions if on.sum().item() >= min_area * h * w]
        out.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))  # (n_i, 4), also (0, 4) when no box is kept
    return out


def _check_boxes(boxes: Sequence[torch.Tensor]) -> None:
    if not isinstance(boxes, (list, tuple)) or not boxes:
        raise ValueError(f"boxes must be a non-empty list of (n, 4) tensors, one per image, got {type(boxes).__name__}")
    for i, b in enumerate(boxes):
        validate.tensor(b, f"boxes[{i}]", shape=(None, 4))
        validate.boxes(b, f"boxes[{i}]")


def object_aware_crop(
    images: torch.Tensor, boxes: list[torch.Tensor], size: int | None = None, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """OA-Crop (§2.3): crop each image to one of its boxes chosen uniformly at random (the full image when it has
    none) and resize to ``size`` (default: the input size). Both contrastive views are then drawn from this crop.

    Returns ``(crops (B,3,size,size), chosen boxes (B,4))``.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    validate.images(images, channels=None)
    if size is not None:
        validate.integer(size, "size", low=1)
        validate.fits_memory(images.shape[0] * (images.shape[1] + 2) * size * size, "size: the crops")
    if len(boxes) != images.shape[0]:
        raise ValueError(f"boxes must hold one box list per image: {len(boxes)} lists for {images.shape[0]} images")
    _check_boxes(boxes)
    chosen = torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(images.shape[0], 1)
    for i, b in enumerate(boxes):
        if len(b):
            chosen[i] = b[torch.randint(len(b), (1,), generator=generator).item()]
    size = size or images.shape[-1]
    dummy = torch.zeros(images.shape[0], *images.shape[-2:], dtype=torch.bool, device=images.device)
    crops, _ = crop_boxes(images, dummy, chosen, size)
    return crops, chosen


BRUTE_FORCE_LIMIT = 300_000  # rectangles the reference visits in a few seconds (one 32×32 map: 278,784)


def largest_empty_rectangle_reference(mask: torch.Tensor) -> torch.Tensor:
    """Brute force over all rectangles (summed-area table), one map at a time: the largest all-False rectangle of
    each ``bool (B,H,W)`` (or ``(H,W)``) map, as :func:`largest_empty_rectangle` returns it: ``int64 (B, 4)`` (or
    ``(4,)``) rows ``(y0, x0, y1, x1)``, end-exclusive, zeros where every pixel is True. Of rectangles with the same
    area the first in ``(y0, y1, x0, x1)`` order wins; the fast version may pick another one of that area."""
    # shape and dtype of the input maps
    validate.tensor(mask, "mask")
    if mask.dtype != torch.bool or mask.ndim not in (2, 3):
        raise ValueError(f"mask must be bool (B, H, W) or (H, W), got {mask.dtype} {tuple(mask.shape)}")
    maps = mask.cpu() if mask.ndim == 3 else mask.cpu()[None]  # a stack of B maps
    h, w = maps.shape[1:]  # H, W
    rectangles = maps.shape[0] * (h * (h + 1) // 2) * (w * (w + 1) // 2)  # every [y0, y1) × [x0, x1) of B maps
    if rectangles > BRUTE_FORCE_LIMIT:
        raise ValueError(
            f"mask: the brute-force reference visits B·H(H+1)/2·W(W+1)/2 rectangles and is limited to "
            f"{BRUTE_FORCE_LIMIT:,}, got {rectangles:,} for shape {tuple(mask.shape)}: use largest_empty_rectangle"
        )
    out = torch.zeros(maps.shape[0], 4, dtype=torch.long)  # one (y0, x0, y1, x1) per map, 0s when none is free
    for i, m in enumerate(maps):  # one map at a time
        sat = torch.zeros(h + 1, w + 1, dtype=torch.long)  # summed-area table S, zero first row and column
        sat[1:, 1:] = m.long().cumsum(0).cumsum(1)  # S[y, x] = number of True pixels in [0, y) × [0, x)
        best = 0  # the largest free area so far
        for y0 in range(h):  # top row
            for y1 in range(y0 + 1, h + 1):  # bottom row (exclusive)
                for x0 in range(w):  # left column
                    for x1 in range(x0 + 1, w + 1):  # right column (exclusive)
                        area = (y1 - y0) * (x1 - x0)  # |R| of R = [y0, y1) × [x0, x1)
                        # larger than the best, and free: Σ_R mask = S[y1,x1] − S[y0,x1] − S[y1,x0] + S[y0,x0] = 0
                        if area > best and sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0] == 0:
                            best = area  # the new largest area
                            out[i] = torch.tensor([y0, x0, y1, x1])  # and its rectangle
    return out if mask.ndim == 3 else out[0]  # (B, 4), or (4,) for one (H, W) map


def largest_empty_rectangle(mask: torch.Tensor) -> torch.Tensor:
    """Largest all-False axis-aligned rectangle of each ``bool (B,H,W)`` map, batched: for every top row ``y0`` a
    cumulative AND down the rows gives the columns free from ``y0`` to ``y1``, and a running run-length along the
    columns gives the widest free span ending at each column (``O(H·W)`` tensor ops for the whole batch).
    Returns ``int64 (B, 4)`` rows ``(y0, x0, y1, x1)``, end-exclusive, zeros where every pixel is True."""
    validate.tensor(mask, "mask")
    if mask.dtype != torch.bool or mask.ndim not in (2, 3):
        raise ValueError(f"mask must be bool (B, H, W) or (H, W), got {mask.dtype} {tuple(mask.shape)}")
    maps = mask if mask.ndim == 3 else mask[None]
    b, h, w = maps.shape
    free = (~maps).long()
    best = torch.zeros(b, dtype=torch.long)
    out = torch.zeros(b, 4, dtype=torch.long)
    for y0 in range(h):
        down = free[:, y0:].cumprod(1)  # (B, H-y0, W): column free on rows y0..y
        run = torch.zeros_like(down[:, :, 0])
        runs = []
        for x in range(w):
            run = (run + 1) * down[:, :, x]
            runs.append(run)
        widths = torch.stack(runs, 2)  # (B, H-y0, W): free span ending at column x
        heights = torch.arange(1, h - y0 + 1)[None, :, None]
        area = (widths * heights).flatten(1)  # (B, (H-y0)·W)
        val, idx = area.max(1)
        better = val > best
        if better.any():
            dy, x1 = idx // w, idx % w
            rect = torch.stack(
                [
                    torch.full_like(dy, y0),
                    x1 + 1 - widths.flatten(1).gather(1, idx[:, None])[:, 0],  # (B,): left edge x0
                    y0 + dy + 1,
                    x1 + 1,
                ],
                1,
            )
            out[better] = rect[better]
            best = torch.where(better, val, best)
    return out if mask.ndim == 3 else out[0]


def background_only(
    images: torch.Tensor, cams: torch.Tensor, threshold: float = 0.2, min_area: float = 1 / 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Background-only images for BG-Mixup (§2.3, App. B.3): binarise each CAM at ``threshold``, take the largest
    rectangle of background (zeros) and tile it over the whole image.

    Returns ``(backgrounds (B,3,H,W), valid bool (B,))``. An image is valid only when its CAM found an object (some
    pixel ≥ ``threshold``: an all-zero CAM says nothing about where the background is) and its rectangle covers at
    least ``min_area`` of the image (a sliver tiled over the image is a flat colour, not a background); invalid
    images are returned unchanged. The paper names no minimum; its released code takes the largest strip outside
    the foreground's bounding box, of any size.
    """
    maps = _check_cam(cams, "cams")
    if images.ndim != 4 or images.shape[0] != maps.shape[0] or images.shape[-2:] != maps.shape[-2:]:
        raise ValueError(f"images {tuple(images.shape)} and cams {tuple(maps.shape)} do not match")
    validate.images(images, channels=None)
    validate.fraction(threshold, "threshold")
    validate.fraction(min_area, "min_area")
    fg = (maps >= threshold).cpu()
    rects = largest_empty_rectangle(fg)
    _, _, h, w = images.shape
    found = fg.flatten(1).any(1)  # (B, H, W) -> (B, H·W) -> (B,)
    out = images.clone()
    valid = torch.zeros(images.shape[0], dtype=torch.bool)
    for i, (y0, x0, y1, x1) in enumerate(rects.tolist()):
        if found[i] and y1 > y0 and x1 > x0 and (y1 - y0) * (x1 - x0) >= min_area * h * w:
            rows = y0 + torch.arange(h) % (y1 - y0)
            cols = x0 + torch.arange(w) % (x1 - x0)
            out[i] = images[i][:, rows][:, :, cols]
            valid[i] = True
    return out, valid


def background_mixup(images: torch.Tensor, cams: torch.Tensor, backgrounds: torch.Tensor) -> torch.Tensor:
    """Eq. (4): ``x^{bg-mix} = CAM(x)⊙x + (1 − CAM(x))⊙x^{bg}``; the soft CAM in [0,1] is the per-pixel weight
    (the two weights sum to 1), no sampled λ. As in Eq. (4), the background replaces the whole image outside the
    object (the released code pastes it only inside the object's bounding box)."""
    maps = _check_cam(cams, "cams")
    validate.images(images, channels=None)
    validate.images(backgrounds, "backgrounds", channels=None)
    if images.shape != backgrounds.shape or images.shape[0] != maps.shape[0] or images.shape[-2:] != maps.shape[-2:]:
        raise ValueError(
            f"images {tuple(images.shape)}, cams {tuple(maps.shape)} and backgrounds "
            f"{tuple(backgrounds.shape)} do not match"
        )
    if maps.min() < 0 or maps.max() > 1:
        raise ValueError("cams must lie in [0, 1]: they are the mixing weights")
    wgt = maps[:, None].to(images.dtype)
    return wgt * images + (1 - wgt) * backgrounds


def mix_batch(
    images: torch.Tensor,
    cams: torch.Tensor,
    p: float = 0.4,
    threshold: float = 0.2,
    generator: torch.Generator | None = None,
    backgrounds: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BG-Mixup on a batch: each image is selected with probability ``p`` and takes the tiled background of a random
    image of the batch that has one (``valid`` in :func:`background_only`; possibly itself). Where the batch has no
    valid background nothing is mixed. (The released code draws a donor from the whole batch and, when that donor
    has no background, falls back to a queue of recent backgrounds; drawing among the valid donors keeps the same
    mixing rate without a queue.) Returns ``(mixed, selected bool (B,))``. Pass
    ``backgrounds=background_only(images, cams, threshold)`` when the same images are mixed many times (the masks are
    fixed during training, §3)."""
    validate.probability(p, "p")
    if backgrounds is not None:
        _check_backgrounds(backgrounds, images.shape[0])
    b = images.shape[0]
    bgs, valid = backgrounds if backgrounds is not None else background_only(images, cams, threshold)
    donors = valid.nonzero()[:, 0]
    selected = torch.rand(b, generator=generator) < p
    if not len(donors) or not selected.any():
        return images, torch.zeros(b, dtype=torch.bool)
    donor = donors[torch.randint(len(donors), (b,), generator=generator)]
    mixed = background_mixup(images, cams, bgs[donor.to(images.device)])
    return torch.where(selected.to(images.device)[:, None, None, None], mixed, images), selected


def oa_crop_prepare(
    boxes: list[torch.Tensor],
) -> Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]:
    """A ``prepare`` hook for :func:`oaedu.contrastive.train_contrastive` that applies OA-Crop (§2.3): each image is
    cropped to one of its ``boxes`` (one ``(n_i, 4)`` tensor per training image, chosen at random each time), and both
    views are then augmented from that same crop."""
    _check_boxes(boxes)

    def prepare(batch: torch.Tensor, index: torch.Tensor, generator: torch.Generator):
        crops, _ = object_aware_crop(batch, [boxes[i] for i in index.tolist()], generator=generator)
        return crops, crops

    return prepare


def mixup_prepare(
    cams: torch.Tensor, backgrounds: tuple[torch.Tensor, torch.Tensor], p: float = 0.4
) -> Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]:
    """A ``prepare`` hook for :func:`oaedu.contrastive.train_contrastive` that applies BG-Mixup (Eq. 4, §2.3).

    ``cams`` are the training images' fixed ContraCAMs and ``backgrounds = background_only(images, cams)``.
    The mixup hits view 1 only, as in the official code; view 2 keeps its own background.
    """
    _check_cam(cams, "cams")
    _check_backgrounds(backgrounds, cams.shape[0])
    validate.probability(p, "p")

    def prepare(batch: torch.Tensor, index: torch.Tensor, generator: torch.Generator):
        bg = (backgrounds[0][index], backgrounds[1][index])
        mixed, _ = mix_batch(batch, cams[index], p=p, generator=generator, backgrounds=bg)
        return mixed, batch

    return prepare
