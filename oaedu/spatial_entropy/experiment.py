"""The experiment of notebook 03: toy data built for SAR's premise, the rows of its Table 1b, and the attention
measurements of its §5.3 (Peruzzo et al., 2022).

* :func:`fragment_scenes`: one object (a connected region) among small look-alike fragments of the same colour, so
  that attention which follows the colour scatters over several blobs: the situation SAR's spatial-entropy prior is
  meant for (§1, §4.1: "an object usually corresponds to one or very few connected regions").
* :data:`ROWS` and :func:`sar_vit`: a tiny ViT as in Table 1b, row A (baseline), B (no attention skip in the last
  block), C (B without the LayerNorm before the MLP, Eq. 10–11); SAR adds ``λ·L_SE`` (Eq. 9) to row C (row F).
* :func:`attention_jaccard`: §5.3 / Table 6, the DINO protocol: keep the patches holding 60% of each head's CLS
  attention mass and take the best head's Jaccard index with the object mask.
* :func:`attention_report`: entropy, blobs, Jaccard, the same Jaccard against *another* image's mask (what a map
  that knows only where objects tend to be would score), and the share of attention on the object.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from oaedu import validate
from oaedu.data.background_challenge import MAX_CLASSES, _hsv_to_rgb, _shape_mask
from oaedu.data.datasets import MaskedImageDataset
from oaedu.metrics import iou, mass_on_object
from oaedu.models import capture_attention, tiny_vit

from .entropy import spatial_entropy_and_blobs
from .sar import remove_last_skip

ROWS: dict[str, dict[str, bool]] = {
    "A: skip kept": {"remove_skip": False, "keep_norm": True, "entropy_loss": False},
    "B: no attention skip": {"remove_skip": True, "keep_norm": True, "entropy_loss": False},
    "C: no skip, no LN": {"remove_skip": True, "keep_norm": False, "entropy_loss": False},
    "SAR: C + λ·L_SE": {"remove_skip": True, "keep_norm": False, "entropy_loss": True},
}
"""Table 1b's rows A, B, C and F (full SAR); ``entropy_loss`` says whether the row trains with ``λ·L_SE``."""


def _place(shape: torch.Tensor, radius: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    """Masks ``bool (n, size, size)`` of shapes ``shape (n,)`` (indices into the Background Challenge's shapes)
    of ``radius (n,)`` pixels, centred uniformly where they fit."""
    n = shape.shape[0]
    centre = radius[:, None] + 0.5 + torch.rand(n, 2, generator=g) * (size - 2 * radius[:, None] - 1)
    pix = torch.arange(size, dtype=torch.float32) + 0.5
    u = (pix[None, None, :] - centre[:, 0, None, None]) / radius[:, None, None]
    v = (pix[None, :, None] - centre[:, 1, None, None]) / radius[:, None, None]
    masks = torch.zeros(n, size, size, dtype=torch.bool)
    for s in shape.unique().tolist():
        idx = shape == s
        masks[idx] = _shape_mask(s, u[idx], v[idx])
    return masks


def fragment_scenes(
    n: int,
    seed: int = 0,
    image_size: int = 32,
    num_classes: int = 9,
    fragments: int = 8,
    hue_jitter: float = 0.06,
    noise: float = 0.06,
) -> MaskedImageDataset:
    """``n`` images of one object among ``fragments`` small look-alike pieces of the same colour.

    The object's class sets its hue (``class / num_classes``, jittered by ``hue_jitter``, so neighbouring classes
    overlap and accuracy stays far from the ceiling) and its shape (that of the Background Challenge's class); its
    radius is 16–22% of the image, about 2–3 patches of 4 px. Each fragment is a random shape of radius 1.5–2.5 px
    (under one patch) in the object's own colour, drawn under the object, on a neutral noisy background.
    ``fragments=0`` gives the same objects on a clean background. The mask marks the object only.
    """
    validate.integer(n, "n", low=1)
    if not 2 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be in [2, {MAX_CLASSES}], got {num_classes}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}")
    validate.integer(fragments, "fragments", low=0)
    if not (math.isfinite(hue_jitter) and hue_jitter >= 0 and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"hue_jitter and noise must be finite and non-negative, got {hue_jitter}, {noise}")
    g = torch.Generator().manual_seed(seed)
    s = image_size
    labels = torch.randint(num_classes, (n,), generator=g)
    hue = (labels.float() / num_classes + hue_jitter * torch.randn(n, generator=g)) % 1.0
    colour = _hsv_to_rgb(hue, 0.6 + 0.4 * torch.rand(n, generator=g), 0.7 + 0.3 * torch.rand(n, generator=g))
    paint = colour[:, :, None, None].expand(n, 3, s, s)
    grey = 0.3 + 0.2 * torch.rand(n, 1, 1, 1, generator=g)
    blotches = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(s, s), mode="bilinear", align_corners=False)
    images = (grey + 0.15 * (blotches - 0.5)).expand(n, 3, s, s)
    for _ in range(fragments):
        radius = 1.5 + torch.rand(n, generator=g)
        piece = _place(torch.randint(MAX_CLASSES, (n,), generator=g), radius, s, g)
        images = torch.where(piece[:, None], paint, images)
    masks = _place(labels, s * (0.16 + 0.06 * torch.rand(n, generator=g)), s, g)
    images = torch.where(masks[:, None], paint, images)
    images = (images + noise * torch.randn(n, 3, s, s, generator=g)).clamp(0, 1)
    return MaskedImageDataset(images.contiguous(), labels, masks, num_classes=num_classes)


def sar_vit(row: str, **vit_kwargs) -> torch.nn.Module:
    """A :func:`oaedu.models.tiny_vit` whose last block is that of Table 1b's ``row`` (a key of :data:`ROWS`)."""
    if row not in ROWS:
        raise ValueError(f"unknown row {row!r}; expected one of {', '.join(ROWS)}")
    model = tiny_vit(**vit_kwargs)
    spec = ROWS[row]
    return remove_last_skip(model, keep_norm=spec["keep_norm"]) if spec["remove_skip"] else model


def top_mass_masks(attention: torch.Tensor, mass: float = 0.6) -> torch.Tensor:
    """The patches that hold the top ``mass`` of each map ``(..., h, w)`` (non-negative): the largest entries
    in decreasing order until their share of the map's total reaches ``mass`` (SAR §5.3, the DINO protocol)."""
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass}")
    if attention.ndim < 2 or (attention < 0).any():
        raise ValueError(f"attention must be a non-negative (..., h, w) map, got {tuple(attention.shape)}")
    flat = attention.detach().flatten(-2).double()  # (..., h, w) -> (..., N)
    total = flat.sum(-1, keepdim=True)
    share = flat / torch.where(total > 0, total, torch.ones_like(total))
    ordered, order = share.sort(-1, descending=True)
    before = ordered.cumsum(-1) - ordered  # mass of the larger entries
    keep = torch.zeros_like(flat, dtype=torch.bool).scatter(-1, order, before < mass)
    return keep.view(attention.shape)  # (..., N) -> (..., h, w)


def attention_jaccard(attention: torch.Tensor, masks: torch.Tensor, mass: float = 0.6) -> torch.Tensor:
    """Jaccard index of SAR Table 6 per image: each head's CLS attention ``(B, H, h, w)`` keeps its top ``mass``
    (:func:`top_mass_masks`), is upsampled (nearest) to the object masks ``bool (B, H_img, W_img)``, and the best
    head's Jaccard index is returned, ``float64 (B,)``."""
    if attention.ndim != 4 or masks.ndim != 3 or attention.shape[0] != masks.shape[0]:
        raise ValueError(
            f"expected attention (B, H, h, w) and masks (B, H, W), got {tuple(attention.shape)}, {tuple(masks.shape)}"
        )
    keep = top_mass_masks(attention, mass).float()
    up = F.interpolate(keep, size=tuple(masks.shape[-2:]), mode="nearest").bool()
    return iou(up, masks[:, None].expand_as(up)).amax(1)


@torch.no_grad()
def attention_report(model: torch.nn.Module, data: MaskedImageDataset, batch_size: int = 500) -> dict[str, float]:
    """The last block's CLS attention on ``data``, averaged over images (``Eq.`` numbers of SAR):

    * ``entropy``: spatial entropy of the pre-softmax scores (Eq. 7), mean over heads; ``blobs``: components per
      head (Eq. 6);
    * ``jaccard``: :func:`attention_jaccard` in %; ``jaccard_position``: the same maps scored against the mask
      of the *next* image, i.e. what knowing only where objects tend to be gives;
    * ``object_mass``: share (%) of the head-averaged attention that falls on the object.
    """
    device = next(model.parameters()).device
    model.eval()
    sums: dict[str, float] = {}
    masks_all = data.masks
    for start in range(0, len(data), batch_size):
        images = data.images[start : start + batch_size].to(device)
        masks = masks_all[start : start + batch_size]
        other = masks_all.roll(-1, 0)[start : start + batch_size]
        with capture_attention(model) as record:
            model(images)
            scores, attention = record.cls_scores(-1).cpu(), record.cls_attention(-1).float().cpu()
        entropy, blobs = spatial_entropy_and_blobs(scores)
        batch = {
            "entropy": entropy.mean(1),
            "blobs": blobs.double().mean(1),
            "jaccard": 100 * attention_jaccard(attention, masks),
            "jaccard_position": 100 * attention_jaccard(attention, other),
            "object_mass": 100 * mass_on_object(attention.mean(1), masks),
        }
        for key, values in batch.items():
            sums[key] = sums.get(key, 0.0) + values.double().sum().item()
    return {key: value / len(data) for key, value in sums.items()}
