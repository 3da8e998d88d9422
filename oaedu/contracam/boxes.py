"""The bounding box of a region grown by a margin, shared by OA-Crop's ContraCAM boxes and the ground-truth boxes."""

from __future__ import annotations

import torch


def grown_box(region: torch.Tensor, margin: float) -> list[float]:
    """``[x0, y0, x1, y1]`` in [0, 1] image fractions (pixel edges) of the bounding box of the non-empty bool
    ``region (H, W)``, grown by ``margin`` × its width (height) on each side and clipped to the image (ContraCAM
    App. B.2: a 20% margin)."""
    h, w = region.shape
    ys, xs = torch.nonzero(region, as_tuple=True)
    y0, y1, x0, x1 = ys.min().item(), ys.max().item() + 1, xs.min().item(), xs.max().item() + 1
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    return [max(0.0, (x0 - dx) / w), max(0.0, (y0 - dy) / h), min(1.0, (x1 + dx) / w), min(1.0, (y1 + dy) / h)]
