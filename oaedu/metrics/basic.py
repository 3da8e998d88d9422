"""Accuracy, BG-Gap and IoU."""

from __future__ import annotations

import torch

from .. import validate


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in percent of ``logits (B, C)`` against ``labels (B,)``."""
    validate.tensor(logits, "logits", dtype="float", finite_values=True)
    validate.tensor(labels, "labels", dtype="integer")
    if logits.ndim != 2 or labels.ndim != 1 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"accuracy expects logits (B, C) and labels (B,), got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    if labels.numel() == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    validate.class_labels(labels, "labels", logits.shape[1])
    return (logits.argmax(1) == labels).double().mean().item() * 100.0


def bg_gap(mixed_same_acc: float, mixed_rand_acc: float) -> float:
    """BG-Gap = Mixed-Same − Mixed-Rand accuracy (Xiao et al., 2021; OAMixer Table 1).

    How much accuracy a model loses when the background stops agreeing with the object: 0 means the
    model ignores the background.
    """
    same = validate.number(mixed_same_acc, "mixed_same_acc", low=0.0, high=100.0, what="an accuracy in [0, 100] (%)")
    rand = validate.number(mixed_rand_acc, "mixed_rand_acc", low=0.0, high=100.0, what="an accuracy in [0, 100] (%)")
    return same - rand


def iou(pred: torch.Tensor, target: torch.Tensor, empty: float = 1.0) -> torch.Tensor:
    """Intersection over union of boolean masks, over the last two dimensions.

    ``pred`` and ``target`` are ``bool[..., H, W]`` of the same shape; returns ``float64[...]``. Where
    both masks are empty the IoU is ``empty`` (1 by default: nothing predicted, nothing there).
    """
    empty = validate.probability(empty, "empty")  # an IoU, in [0, 1]
    validate.binary_map(pred, "pred")
    validate.binary_map(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"iou: pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.dtype != torch.bool or target.dtype != torch.bool:
        raise ValueError(f"iou expects bool masks, got {pred.dtype} and {target.dtype}")
    if pred.ndim < 2:
        raise ValueError(f"iou expects masks of shape (..., H, W), got {tuple(pred.shape)}")
    inter = (pred & target).flatten(-2).sum(-1).double()  # (..., H, W) -> (..., H·W) -> (...)
    union = (pred | target).flatten(-2).sum(-1).double()  # (..., H, W) -> (..., H·W) -> (...)
    return torch.where(union > 0, inter / union.clamp_min(1), torch.full_like(union, empty))


def mass_on_object(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of a non-negative map's mass that falls on the object: ``Σ map·fg / Σ map``.

    ``maps`` is ``(B, h, w)`` on the patch grid (attention, relevance, CAM); ``masks`` is ``bool (B, H, W)``
    at pixel resolution and is area-pooled to the grid, so ``fg`` is each patch's object fraction. An
    all-zero map spreads no mass anywhere; it is scored as a uniform map (the object's area share), never NaN.
    Returns ``float64 (B,)``.
    """
    validate.tensor(maps, "maps", dtype="real", finite_values=True)
    validate.tensor(masks, "masks")
    if maps.ndim != 3 or masks.ndim != 3 or maps.shape[0] != masks.shape[0]:
        raise ValueError(f"expected maps (B, h, w) and masks (B, H, W), got {tuple(maps.shape)}, {tuple(masks.shape)}")
    if masks.dtype != torch.bool:
        raise ValueError(f"masks must be bool, got {masks.dtype}")
    if (maps < 0).any():
        raise ValueError("maps must be non-negative (clamp or min-max normalise them first)")
    from ..data.transforms import patch_fractions

    h, w = maps.shape[-2:]
    if not h or not w or masks.shape[1] % h or masks.shape[2] % w:
        raise ValueError(f"masks' (H, W) must be a multiple of the maps' grid, got {tuple(masks.shape)} and {(h, w)}")
    fg = patch_fractions(masks, (h, w)).double()
    m = maps.detach().double()
    total = m.flatten(1).sum(1)  # (B, h, w) -> (B, N) -> (B,)
    uniform = fg.flatten(1).mean(1)  # (B, h, w) -> (B, N) -> (B,)
    # (B, h, w) -> (B, N) -> (B,)
    return torch.where(total > 0, (m * fg).flatten(1).sum(1) / total.clamp_min(1e-300), uniform)
