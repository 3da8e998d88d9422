"""Metrics shared by every notebook: accuracy, BG-Gap, IoU and the adjusted Rand index."""

from .ari import adjusted_rand_index, adjusted_rand_index_reference
from .basic import accuracy, bg_gap, iou, mass_on_object

__all__ = [
    "accuracy",
    "adjusted_rand_index",
    "adjusted_rand_index_reference",
    "bg_gap",
    "iou",
    "mass_on_object",
]
