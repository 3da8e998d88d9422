"""The reference/fast twins of RobustViT: the relevance map, rollout per image vs the CLS row in one grad call
(collected by :mod:`oaedu.twins`)."""

from __future__ import annotations

import torch

from ..models import tiny_vit
from ..timing import Example, Twin, check_size, generator
from .maps import relevance_map, relevance_map_reference


def _relevance_examples(size: str) -> list[Example]:
    batch, depth = {"test": (3, 3), "quick": (8, 2), "full": (64, 4)}[check_size(size)]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = tiny_vit(depth=depth).eval()
    dtype = torch.float64 if size == "test" else torch.float32
    model = model.to(dtype)
    images = torch.rand(batch, 3, 32, 32, generator=generator(), dtype=dtype)
    if size == "test":
        target = torch.arange(batch) % 9
        return [Example((model, images, target)), Example((model, images, target), {"create_graph": True})]
    return [Example((model, images), label=f"{batch} images, depth {depth}")]


TWINS: tuple[Twin, ...] = (
    Twin(
        relevance_map_reference,
        relevance_map,
        _relevance_examples,
        "relevance map, {label}",
        min_vs_reference=1.5,
        note="CLS row only, one grad call",
        atol=1e-10,
        rtol=1e-8,
    ),
)
