"""Benchmarks for oaedu.slots: matching vs a Python loop over scipy; losses, Otsu and the segmentation IoU
(batched) vs their readable per-anchor / per-image references. ARI vs scikit-learn lives in oaedu.metrics.bench."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from oaedu.bench import Case
from oaedu.slots.evaluate import otsu_threshold, otsu_threshold_reference, segmentation_iou, segmentation_iou_reference
from oaedu.slots.losses import (
    cossim_loss,
    cossim_loss_reference,
    ctr_all_loss,
    ctr_all_loss_reference,
    ctr_img_loss,
    ctr_img_loss_reference,
    match_slots,
    simclr_loss,
    simclr_loss_reference,
)
from oaedu.slots.matching import hungarian_match


def _scipy_loop(cost: torch.Tensor) -> torch.Tensor:
    c = cost.numpy()
    return torch.from_numpy(np.stack([linear_sum_assignment(x)[1] for x in c]))


def cases(quick: bool) -> list[Case]:
    """Matching of (B, K, K) costs vs scipy in a loop; losses, Otsu and IoU vs their references."""
    g = torch.Generator().manual_seed(0)
    b = 64 if quick else 512
    cost = torch.rand(b, 4, 4, generator=g)
    bl, k, d = (4, 5, 16) if quick else (16, 5, 64)
    p0, p1 = torch.randn(bl, k, d, generator=g), torch.randn(bl, k, d, generator=g)
    s0, s1 = torch.randn(bl, k, d, generator=g), torch.randn(bl, k, d, generator=g)
    perm = match_slots(p0, p1)
    z0, z1 = p0[:, 0], p1[:, 0]
    maps = torch.rand(bl * k, 64, generator=g)
    n_img = 4 if quick else 32
    inst = torch.randint(0, 4, (n_img, 32, 32), generator=g)
    inst[:, 0, 0] = 1
    masks = torch.rand(n_img, k, 32, 32, generator=g) < 0.3
    return [
        Case(
            name=f"slots.hungarian_match B={b} K=4",
            fast=lambda: hungarian_match(cost),
            peer=lambda: _scipy_loop(cost),
            peer_name="scipy loop",
            note="brute force over the K! permutations, batched",
            min_vs_peer=3.0,
        ),
        Case(
            f"slots.simclr_loss B={bl}",
            fast=lambda: simclr_loss(z0, z1),
            reference=lambda: simclr_loss_reference(z0, z1),
            min_vs_reference=2.0,
        ),
        Case(
            f"slots.ctr_all_loss B={bl} K={k}",
            fast=lambda: ctr_all_loss(p0, p1, perm),
            reference=lambda: ctr_all_loss_reference(p0, p1, perm),
            min_vs_reference=50.0,
        ),
        Case(
            f"slots.ctr_img_loss B={bl} K={k}",
            fast=lambda: ctr_img_loss(p0, p1, perm),
            reference=lambda: ctr_img_loss_reference(p0, p1, perm),
            min_vs_reference=10.0,
        ),
        Case(
            f"slots.cossim_loss B={bl} K={k}",
            fast=lambda: cossim_loss(p0, p1, s0, s1, perm),
            reference=lambda: cossim_loss_reference(p0, p1, s0, s1, perm),
            min_vs_reference=2.0,
        ),
        Case(
            f"slots.otsu_threshold {bl * k} maps × 64",
            fast=lambda: otsu_threshold(maps),
            reference=lambda: otsu_threshold_reference(maps),
            min_vs_reference=2.0,
        ),
        Case(
            f"slots.segmentation_iou {n_img} images × {k} masks",
            fast=lambda: segmentation_iou(masks, inst),
            reference=lambda: segmentation_iou_reference(masks, inst),
            note="reference: metrics.iou + scipy per image",
            min_vs_reference=4.0,
        ),
    ]
