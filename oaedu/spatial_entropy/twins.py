"""The reference/fast twins of spatial entropy (Eq. 2–4, SAR §3), on the score maps of the connected-components
twin of :mod:`oaedu.maps.twins` (collected by :mod:`oaedu.twins`)."""

from __future__ import annotations

import torch

from ..maps.twins import component_sizes, random_scores
from ..timing import Example, Twin, check_size, generator
from .entropy import spatial_entropy, spatial_entropy_reference


def _entropy_examples(size: str) -> list[Example]:
    if check_size(size) == "test":
        s = torch.randn(3, 4, 8, 8, generator=generator(), dtype=torch.float64)
        s[0, 0] = 2.5  # a constant map: entropy 0
        return [Example((s,))]
    out = []
    for num_maps, k in component_sizes(size):
        scores = random_scores(num_maps, k)
        out.append(Example((scores,), label=f"{num_maps}×{k}×{k}", reference_args=(scores[: max(1, num_maps // 8)],)))
    return out


TWINS: tuple[Twin, ...] = (
    Twin(
        spatial_entropy_reference,
        spatial_entropy,
        _entropy_examples,
        "spatial entropy {label}",
        min_vs_reference=1.5,
        note="reference on 1/8 of the maps",
    ),
)
