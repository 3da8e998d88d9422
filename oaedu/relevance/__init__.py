"""RobustViT (Chefer et al., NeurIPS 2022): relevance maps of a ViT, and losses that move them onto the object."""

from .data import SPLITS, marker_dataset, marker_patches, marker_vit
from .losses import RESOLUTIONS, relevance_at, relevance_losses, robustvit_step
from .maps import relevance_map, relevance_map_reference
from .ncut import normalized_cut_mask, tokencut_masks

__all__ = [
    "RESOLUTIONS",
    "SPLITS",
    "marker_dataset",
    "marker_patches",
    "marker_vit",
    "normalized_cut_mask",
    "relevance_at",
    "relevance_losses",
    "relevance_map",
    "relevance_map_reference",
    "robustvit_step",
    "tokencut_masks",
]
