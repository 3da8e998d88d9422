"""The experiments of notebook 04: one MoCo trained with and without an object-aware augmentation (ContraCAM §2.3,
§3), and the measurements that say whether each augmentation's premise holds.

* :func:`train_moco`: the small MoCo-v2 of :mod:`oaedu.contrastive`, built and trained from one seed, so that a method
  arm and its control differ only in the ``prepare`` hook (the augmentation).
* :func:`cam_on_object`, :func:`map_on_and_off_object`: does a CAM separate the object from its background (the
  premise of BG-Mixup, Eq. 4)?
* :func:`object_crops`, :func:`pair_distances`: single-object crops of test scenes and the Eq. (5) distance
  (App. D.2) between the features of two shape classes (the contextual-bias metric of OA-Crop).
* :func:`objects_per_box`: how many objects each OA-Crop box holds (OA-Crop's premise: one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..contrastive import MoCo, SmallEncoder, extract_features, train_contrastive
from ..data.datasets import SceneDataset
from .augment import object_aware_crop
from .evaluate import cooccurrence_distance, instance_boxes

Prepare = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def train_moco(
    images: torch.Tensor,
    epochs: int,
    seed: int,
    widths: Sequence[int] = (24, 48, 64),
    strides: Sequence[int] = (1, 1, 2),
    queue_size: int = 512,
    batch_size: int = 128,
    prepare: Prepare | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "MoCo",
) -> tuple[MoCo, list[float]]:
    """A MoCo-v2 (§2.1, §3) on a :class:`SmallEncoder` of ``widths``/``strides``, initialised from ``seed`` and trained
    on ``images`` for ``epochs`` with the batch order and augmentations of ``seed``; ``prepare`` is the augmentation
    under test (OA-Crop or BG-Mixup, §2.3). Two calls that differ only in ``prepare`` start from the same weights and
    see the same batches. Returns the learner (eval mode) and its mean loss per epoch."""
    torch.manual_seed(seed)
    learner = MoCo(SmallEncoder(tuple(widths), tuple(strides)), queue_size=queue_size).to(device)
    losses = train_contrastive(
        learner, images, epochs, batch_size, seed=seed, prepare=prepare, progress=progress, desc=desc
    )
    return learner, losses


def map_on_and_off_object(cams: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the mean of ``cams (B,H,W)`` on the object pixels of ``masks (B,H,W)`` and on the other pixels
    (NaN where an image has no object pixel, or no background pixel)."""
    if cams.ndim != 3 or cams.shape != masks.shape:
        raise ValueError(f"cams {tuple(cams.shape)} and masks {tuple(masks.shape)} must both be (B, H, W)")
    fg = (masks > 0).to(cams.dtype)
    n_fg, n_bg = fg.sum((1, 2)), (1 - fg).sum((1, 2))
    on = torch.where(n_fg > 0, (cams * fg).sum((1, 2)) / n_fg.clamp_min(1), torch.nan)
    off = torch.where(n_bg > 0, (cams * (1 - fg)).sum((1, 2)) / n_bg.clamp_min(1), torch.nan)
    return on, off


def cam_on_object(cams: torch.Tensor, masks: torch.Tensor) -> dict[str, float]:
    """How well maps ``cams (B,H,W)`` in [0, 1] separate the objects ``masks (B,H,W)`` from their backgrounds.

    ``on_object`` / ``off_object``: the mean map value on object and on background pixels (averaged over images);
    ``separated``: the share of images whose map is larger on average on the object than off it. Images without
    object or without background pixels are skipped.
    """
    on, off = map_on_and_off_object(cams, masks)
    keep = ~(on.isnan() | off.isnan())
    if not keep.any():
        raise ValueError("no image has both object and background pixels")
    on, off = on[keep], off[keep]
    return {
        "on_object": on.mean().item(),
        "off_object": off.mean().item(),
        "separated": (on > off).float().mean().item(),
    }


def object_crops(
    scenes: SceneDataset, margin: float = 0.2, size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every object of every scene cropped to its ground-truth box (grown by ``margin``, App. B.2) and resized to the
    image size: ``(crops (N,3,S,S), shape class of each crop (N,))``, the test set of the Eq. (5) metric."""
    boxes = instance_boxes(scenes.instance_masks, margin=margin)
    crops, shapes = [], []
    for i, b in enumerate(boxes):
        ids = [k for k in scenes.instance_masks[i].unique().tolist() if k > 0]
        if not ids:
            continue
        c, _ = object_aware_crop(
            scenes.images[i : i + 1].expand(len(ids), -1, -1, -1), [box[None] for box in b], size=size
        )
        crops.append(c)
        shapes += [int(scenes.attributes["shape"][i, k - 1]) for k in ids]
    if not crops:
        raise ValueError("the scenes hold no object")
    return torch.cat(crops), torch.tensor(shapes)


def pair_distances(
    encoder: nn.Module, crops: torch.Tensor, shapes: torch.Tensor, pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], float]:
    """Eq. (5) (App. D.2) between the L2-normalised pooled features of the crops of two shape classes, per pair."""
    feats = F.normalize(extract_features(encoder, crops), dim=1)
    return {(a, b): cooccurrence_distance(feats[shapes == a], feats[shapes == b]) for a, b in pairs}


def objects_per_box(boxes: Sequence[torch.Tensor], instance_masks: torch.Tensor, share: float = 0.5) -> torch.Tensor:
    """How many objects each box holds: the objects of ``instance_masks (B,H,W)`` with at least ``share`` of their
    pixels inside the box. ``boxes[i]`` are image ``i``'s ``(x0, y0, x1, y1)`` boxes in [0, 1] (pixel edges, as
    :func:`~oaedu.contracam.boxes_from_cam` returns them). Returns one count per box, all images concatenated; OA-Crop
    separates co-occurring objects only where the count is 1."""
    if instance_masks.ndim != 3 or len(boxes) != instance_masks.shape[0]:
        raise ValueError(f"need one box list per mask: {len(boxes)} lists, masks {tuple(instance_masks.shape)}")
    _, h, w = instance_masks.shape
    counts = []
    for b, m in zip(boxes, instance_masks, strict=True):
        ids = [k for k in m.unique().tolist() if k > 0]
        for x0, y0, x1, y1 in b.tolist():
            inside = torch.zeros(h, w, dtype=torch.bool)
            inside[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)] = True
            counts.append(sum(int((inside & (m == k)).sum() >= share * (m == k).sum()) for k in ids))
    return torch.tensor(counts, dtype=torch.long)
