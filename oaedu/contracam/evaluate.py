"""Evaluation helpers for notebook 04: mask IoU / recall / precision of CAMs, GT instance boxes, Eq. (5)."""

from __future__ import annotations

import torch

from .. import validate
from ..metrics import iou
from .boxes import grown_box


def localisation_scores(cams: torch.Tensor, instance_masks: torch.Tensor, threshold: float = 0.5) -> dict[str, float]:
    """Binarise ``cams (B,H,W)`` at ``threshold`` and compare with GT (``instance_masks`` int, 0 = background).

    ``miou``: mean IoU with the union of objects (Tab. 1); ``recall``: share of objects with ≥ 50% of their pixels
    covered; ``precision``: share of predicted pixels on an object; ``area``: predicted share of the image.
    """
    validate.tensor(cams, "cams", dtype="float", finite_values=True, min_batch=1)
    validate.tensor(instance_masks, "instance_masks")
    if cams.shape != instance_masks.shape or cams.ndim != 3:
        raise ValueError(
            f"cams {tuple(cams.shape)} and instance_masks {tuple(instance_masks.shape)} must both be (B, H, W)"
        )
    validate.fraction(threshold, "threshold")
    ids = validate.label_ids(instance_masks, "instance_masks")  # ids are names: 0, 1, 2, … keeps one_hot small
    pred = cams >= threshold
    fg = ids > 0
    k = int(ids.max()) + 1
    onehot = torch.nn.functional.one_hot(ids, k).flatten(1, 2)[..., 1:].float()  # (B, HW, K-1)
    size = onehot.sum(1)
    covered = (onehot * pred.flatten(1)[..., None].float()).sum(1)  # pred (B, H, W) -> (B, HW, 1); covered (B, K-1)
    present = size > 0
    recall = ((covered >= 0.5 * size) & present).sum() / present.sum().clamp_min(1)
    precision = (pred & fg).sum() / pred.sum().clamp_min(1)
    return {
        "miou": iou(pred, fg).float().mean().item(),
        "recall": recall.item(),
        "precision": precision.item(),
        "area": pred.float().mean().item(),
    }


def instance_boxes(instance_masks: torch.Tensor, margin: float = 0.2) -> list[torch.Tensor]:
    """GT boxes ``(x0, y0, x1, y1)`` in [0,1] of every object of ``instance_masks (B,H,W)``, grown by ``margin``."""
    validate.tensor(instance_masks, "instance_masks", ndim=3, dtype="integer")
    validate.non_negative(margin, "margin")
    out = []
    for m in instance_masks:
        boxes = [grown_box(m == k, margin) for k in m.unique().tolist() if k != 0]
        # (n_i, 4), also (0, 4) for an image with no object
        out.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    return out


def cooccurrence_distance(fx: torch.Tensor, fy: torch.Tensor) -> float:
    """Eq. (5), App. D.2: ``mean_x min_y ‖x − y‖ + mean_y min_x ‖x − y‖`` between two sets of (L2-normalised)
    features; larger = the two classes are less entangled."""
    validate.tensor(fx, "fx", finite_values=True)
    validate.tensor(fy, "fy", finite_values=True)
    if fx.ndim != 2 or fy.ndim != 2 or fx.shape[1] != fy.shape[1] or not len(fx) or not len(fy):
        raise ValueError(f"fx and fy must be non-empty (N, D) features, got {tuple(fx.shape)} and {tuple(fy.shape)}")
    d = validate.overflow(torch.cdist(fx.double(), fy.double()), "fx, fy", "a distance")
    return (d.min(1).values.mean() + d.min(0).values.mean()).item()
