"""Metrics shared by every notebook: accuracy, BG-Gap, IoU, the adjusted Rand index and linear probes."""

from .ari import adjusted_rand_index, adjusted_rand_index_reference
from .basic import accuracy, bg_gap, iou, mass_on_object
from .probe import LinearProbe, linear_probe

__all__ = [
    "LinearProbe",
    "accuracy",
    "adjusted_rand_index",
    "adjusted_rand_index_reference",
    "bg_gap",
    "iou",
    "linear_probe",
    "mass_on_object",
]
