"""Spatial entropy (SAR, Peruzzo et al., NeurIPS 2022): an object-shaped inductive bias for ViT attention."""

# Connected components live in oaedu.maps (ContraCAM's boxes use them too); paper 2 introduces them, so they
# are re-exported here.
from ..maps.components import connected_components, connected_components_reference, num_components
from .entropy import EntropyAndBlobs, max_entropy, spatial_entropy, spatial_entropy_and_blobs, spatial_entropy_reference
from .sar import remove_last_skip, sar_step, spatial_entropy_loss

__all__ = [
    "EntropyAndBlobs",
    "connected_components",
    "connected_components_reference",
    "max_entropy",
    "num_components",
    "remove_last_skip",
    "sar_step",
    "spatial_entropy",
    "spatial_entropy_and_blobs",
    "spatial_entropy_loss",
    "spatial_entropy_reference",
]
