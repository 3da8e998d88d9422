"""Paired transforms: the same random crop, flip or resize for a batch of images and their masks.

Images are ``float[B,3,H,W]`` (or one ``[3,H,W]``); masks are ``bool``/integer ``[B,H,W]`` (or one
``[H,W]``). Masks are resampled with nearest-neighbour so labels stay labels. Each op is batched:
one ``grid_sample`` moves a whole batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import validate


def _batchify(images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    validate.tensor(images, "images", ndim=(3, 4), dtype="float", finite_values=True)
    validate.tensor(masks, "masks", ndim=(2, 3))
    if masks.is_floating_point():  # nearest resampling keeps True/False and ids; a float map would be blurred or cut
        raise ValueError(f"masks must be a bool mask or an integer id map, got {validate.describe(masks)}")
    single = images.ndim == 3
    if single:
        images, masks = images[None], masks[None]
    if images.ndim != 4 or masks.ndim != 3:
        raise ValueError(
            f"expected images (B,3,H,W) and masks (B,H,W), got {tuple(images.shape)}, {tuple(masks.shape)}"
        )
    if images.shape[0] != masks.shape[0] or images.shape[2:] != masks.shape[1:]:
        raise ValueError(f"images {tuple(images.shape)} and masks {tuple(masks.shape)} do not match")
    return images, masks, single


def _output_size(size, images: torch.Tensor) -> tuple[int, int]:
    size = validate.size2(size, "size")
    validate.fits_memory(images.shape[0] * (images.shape[1] + 2) * size[0] * size[1], "size: the resized batch")
    return size


def _resample(images, masks, theta, size):
    grid = F.affine_grid(theta, (images.shape[0], 1, *size), align_corners=False)
    out = F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="border", align_corners=False)
    pick = lambda index: F.grid_sample(index, grid, mode="nearest", padding_mode="zeros", align_corners=False)  # noqa: E731
    return out, _nearest(masks, pick)


def _nearest(masks: torch.Tensor, pick) -> torch.Tensor:
    """Nearest resampling of masks or id maps of any dtype, exactly: ``pick`` resamples a float32 map of pixel
    numbers ``1 … H·W`` (0 outside the image), and the values are gathered from those pixels, so ids of 2**24 and
    above (which float32 would merge) stay what they are."""
    b, h, w = masks.shape
    if h * w >= 2**24:
        raise ValueError(f"masks of {h}×{w} pixels are too large to resample (at most 2**24 pixels)")
    # (h·w,) -> (1, 1, h, w): pixel numbers 1 … h·w
    number = torch.arange(1, h * w + 1, dtype=torch.float32, device=masks.device).view(1, 1, h, w)
    picked = pick(number.expand(b, 1, h, w))[:, 0].round().long()  # (B, h', w'), 0 outside
    # masks (B, h, w) -> (B, h·w), picked (B, h', w') -> (B, h'·w') -> (B, h', w')
    values = masks.flatten(1).gather(1, (picked - 1).clamp_min(0).flatten(1)).view_as(picked)
    return torch.where(picked > 0, values, torch.zeros((), dtype=masks.dtype, device=masks.device))


def paired_resize(images: torch.Tensor, masks: torch.Tensor, size: int | tuple[int, int]):
    """Resize images (bilinear) and masks (nearest) to ``size``."""
    images, masks, single = _batchify(images, masks)
    size = _output_size(size, images)
    out = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
    m = _nearest(masks, lambda index: F.interpolate(index, size=size, mode="nearest"))
    return (out[0], m[0]) if single else (out, m)


def paired_hflip(images: torch.Tensor, masks: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None):
    """Flip each image and its mask left-right with probability ``p``."""
    p = validate.probability(p, "p")
    images, masks, single = _batchify(images, masks)
    flip = (torch.rand(images.shape[0], generator=generator) < p).to(images.device)
    out = torch.where(flip[:, None, None, None], images.flip(-1), images)
    m = torch.where(flip[:, None, None], masks.flip(-1), masks)
    return (out[0], m[0]) if single else (out, m)


def paired_random_resized_crop(
    images: torch.Tensor,
    masks: torch.Tensor,
    size: int | tuple[int, int],
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
):
    """Crop a random area share in ``scale`` with aspect ratio in ``ratio``, resize to ``size``.

    Returns ``(images, masks, boxes)`` where ``boxes[b] = (x0, y0, x1, y1)`` in [0, 1] image fractions.
    """
    images, masks, single = _batchify(images, masks)
    scale = validate.crop_scale(scale, "scale")
    ratio = validate.interval(ratio, "ratio", low=0.0, low_open=True)
    size = _output_size(size, images)
    b = images.shape[0]
    area = scale[0] + (scale[1] - scale[0]) * torch.rand(b, generator=generator)
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * torch.rand(b, generator=generator)
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    # A crop that the image's border cut below scale[0] (an extreme ``ratio``) keeps its drawn area instead: its
    # aspect is clamped to [area, 1/area], where the crop fits; the aspect then leaves ``ratio``, never ``scale``.
    # Crops that respect ``scale`` are left as drawn.
    cut = w * h < scale[0]
    if cut.any():
        fit = torch.minimum(torch.maximum(aspect, area), 1 / area)
        w = torch.where(cut, torch.sqrt(area * fit).clamp(max=1.0), w)
        h = torch.where(cut, torch.sqrt(area / fit).clamp(max=1.0), h)
    x0 = (1 - w) * torch.rand(b, generator=generator)
    y0 = (1 - h) * torch.rand(b, generator=generator)
    boxes = torch.stack([x0, y0, x0 + w, y0 + h], 1)
    out, m = crop_boxes(images, masks, boxes, size)
    return (out[0], m[0], boxes[0]) if single else (out, m, boxes)


def crop_boxes(images: torch.Tensor, masks: torch.Tensor, boxes: torch.Tensor, size: int | tuple[int, int]):
    """Crop each image and mask to its box ``(x0, y0, x1, y1)`` in [0, 1] fractions and resize to ``size``.

    A box with ``x1 < x0`` (``y1 < y0``) is a crop mirrored left-right (top-bottom); a box of zero width or height,
    or outside [0, 1], is refused."""
    images, masks, single = _batchify(images, masks)
    validate.tensor(boxes, "boxes", ndim=(1, 2))
    validate.boxes(boxes, "boxes", mirrored_ok=True)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.shape != (images.shape[0], 4):
        raise ValueError(f"boxes must be (B, 4), got {tuple(boxes.shape)}")
    size = _output_size(size, images)
    x0, y0, x1, y1 = boxes.float().unbind(1)  # one sampling grid (float32) for every dtype of images
    theta = torch.zeros(images.shape[0], 2, 3)
    theta[:, 0, 0] = x1 - x0
    theta[:, 0, 2] = x0 + x1 - 1
    theta[:, 1, 1] = y1 - y0
    theta[:, 1, 2] = y0 + y1 - 1
    out, m = _resample(images, masks, theta.to(images.device), size)
    return (out[0], m[0]) if single else (out, m)


def patch_fractions(masks: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Area-pool pixel masks ``bool (B, H, W)`` to the patch grid: each patch's object fraction, ``float (B, h, w)``.

    ``H`` and ``W`` must be multiples of the grid (patches tile the image exactly, as in a ViT stem).
    """
    validate.binary_map(masks, "masks", ndim=3)  # a fraction of an int map of 3s would be 3
    h, w = validate.size2(grid, "grid", allow_int=False)
    if masks.shape[1] % h or masks.shape[2] % w:
        raise ValueError(f"mask size {tuple(masks.shape[1:])} is not a multiple of the patch grid {grid}")
    return F.adaptive_avg_pool2d(masks[:, None].float(), (h, w))[:, 0]
