"""The reference/fast twins of the shared metrics: the adjusted Rand index, per image vs one bincount for the batch
(collected by :mod:`oaedu.twins`)."""

from __future__ import annotations

import torch

from ..timing import Example, Twin, check_size, generator
from .ari import adjusted_rand_index, adjusted_rand_index_reference


def _ari_examples(size: str) -> list[Example]:
    batch, pixels = {"test": (6, 200), "quick": (8, 256), "full": (64, 64 * 64)}[check_size(size)]
    g = generator()
    true = torch.randint(0, 7, (batch, pixels), generator=g)
    pred = torch.randint(0, 7, (batch, pixels), generator=g)
    if size == "test":
        pred = torch.where(torch.rand(batch, pixels, generator=g) < 0.6, true, pred)  # a partial agreement
        return [Example((true, pred)), Example((true, pred), {"foreground_only": True}), Example((true[0], pred[0]))]
    peer = None
    try:
        from sklearn.metrics import adjusted_rand_score

        t_np, p_np = true.numpy(), pred.numpy()
        peer = lambda: [adjusted_rand_score(a, b) for a, b in zip(t_np, p_np, strict=True)]
    except ImportError:
        pass
    return [
        Example(
            (true, pred),
            label=f"{batch} maps × {pixels} px",
            peer=peer,
            peer_name="sklearn adjusted_rand_score (loop)" if peer else "",
        )
    ]


TWINS: tuple[Twin, ...] = (
    Twin(
        adjusted_rand_index_reference,
        adjusted_rand_index,
        _ari_examples,
        "ARI, {label}",
        min_vs_reference=10.0,
        min_vs_peer=10.0,
        note="one bincount for the batch",
        atol=1e-12,
        rtol=0,
    ),
)
