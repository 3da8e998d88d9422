"""Shared operations on maps (saliency, attention, relevance, CAMs) that several papers use.

* :func:`minmax`: per-map min–max to [0, 1] (ContraCAM's ``Normalize`` of Eq. 2, RobustViT §3's normalised
  relevance, OAMixer's CAM saliency labeller).
* :func:`connected_components` / :func:`connected_components_reference`, :func:`num_components`: 8-connected
  components of binary maps (SAR Eq. 6; ContraCAM's boxes, App. B.2). :mod:`oaedu.spatial_entropy` re-exports
  them, since paper 2 introduces them.
"""

from .components import connected_components, connected_components_reference, num_components
from .normalise import minmax

__all__ = ["connected_components", "connected_components_reference", "minmax", "num_components"]
