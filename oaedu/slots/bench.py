"""Benchmarks for oaedu.slots: batched matching vs a Python loop over scipy."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from oaedu.bench import Case
from oaedu.slots.matching import hungarian_match


def _scipy_loop(cost: torch.Tensor) -> torch.Tensor:
    c = cost.numpy()
    return torch.from_numpy(np.stack([linear_sum_assignment(x)[1] for x in c]))


def cases(quick: bool) -> list[Case]:
    """Matching of (B, K, K) costs: fast batched version vs scipy in a Python loop."""
    g = torch.Generator().manual_seed(0)
    b = 64 if quick else 512
    cost = torch.rand(b, 4, 4, generator=g)
    return [
        Case(
            name=f"slots.hungarian_match B={b} K=4",
            fast=lambda: hungarian_match(cost),
            peer=lambda: _scipy_loop(cost),
            peer_name="scipy loop",
        )
    ]
