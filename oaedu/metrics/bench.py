"""Benchmarks of the shared metrics."""

from __future__ import annotations

import torch

from ..bench import Case
from .ari import adjusted_rand_index, adjusted_rand_index_reference


def cases(quick: bool) -> list[Case]:
    batch, pixels = (8, 256) if quick else (64, 64 * 64)
    g = torch.Generator().manual_seed(0)
    true = torch.randint(0, 7, (batch, pixels), generator=g)
    pred = torch.randint(0, 7, (batch, pixels), generator=g)
    peer, peer_name = None, ""
    try:
        from sklearn.metrics import adjusted_rand_score

        t_np, p_np = true.numpy(), pred.numpy()
        peer = lambda: [adjusted_rand_score(a, b) for a, b in zip(t_np, p_np, strict=True)]
        peer_name = "sklearn adjusted_rand_score (loop)"
    except ImportError:
        pass
    return [
        Case(
            f"ARI, {batch} maps × {pixels} px",
            fast=lambda: adjusted_rand_index(true, pred),
            reference=lambda: adjusted_rand_index_reference(true, pred),
            peer=peer,
            peer_name=peer_name,
            note="one bincount for the batch",
            min_vs_reference=10.0,
            min_vs_peer=10.0 if peer else None,
        )
    ]
