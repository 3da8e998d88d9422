"""Spatial entropy (SAR, Peruzzo et al., NeurIPS 2022): an object-shaped inductive bias for ViT attention."""

from .components import connected_components, connected_components_reference, num_components

__all__ = ["connected_components", "connected_components_reference", "num_components"]
