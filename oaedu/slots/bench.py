"""Benchmarks for oaedu.slots: matching vs a Python loop over scipy; losses, Otsu and the segmentation IoU
(batched) vs their readable per-anchor / per-image references, all twins of :mod:`oaedu.twins`. ARI vs
scikit-learn lives in oaedu.metrics.bench."""

from __future__ import annotations

from oaedu.bench import Case
from oaedu.twins import bench_cases

TWINS = (
    "slots.hungarian_match",
    "slots.simclr_loss",
    "slots.ctr_all_loss",
    "slots.ctr_img_loss",
    "slots.cossim_loss",
    "slots.otsu_threshold",
    "slots.segmentation_iou",
)


def cases(quick: bool) -> list[Case]:
    """Matching of (B, K, K) costs vs scipy in a loop and vs brute force; losses, Otsu and IoU vs their references."""
    return [case for name in TWINS for case in bench_cases(name, quick)]
