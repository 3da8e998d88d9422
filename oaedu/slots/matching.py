"""Hungarian matching of slots between two views (Paper 5, object losses: slots of view 1 are paired with
slots of view 2 by the permutation that minimises the total matching cost, sum_k C[k, pi(k)])."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

_MAX_BRUTE_K = 7


def _check_cost(cost: torch.Tensor) -> None:
    if not isinstance(cost, torch.Tensor):
        raise ValueError(f"cost must be a torch.Tensor, got {type(cost).__name__}")
    if cost.ndim != 3 or cost.shape[1] != cost.shape[2] or cost.shape[1] == 0:
        raise ValueError(f"cost must have shape (B, K, K) with K >= 1, got {tuple(cost.shape)}")
    if not cost.is_floating_point():
        raise ValueError(f"cost must be floating point, got {cost.dtype}")
    if not torch.isfinite(cost).all():
        raise ValueError("cost contains NaN or inf")


@functools.lru_cache(maxsize=8)
def _perm_tables(k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All permutations of range(k) (P, k) and their (k*k, P) one-hot selector of entries (k, p(k))."""
    perms = torch.tensor(list(itertools.permutations(range(k))), dtype=torch.long)
    onehot = torch.zeros(k * k, perms.shape[0], dtype=torch.float64)
    flat = torch.arange(k)[None, :] * k + perms  # (P, k)
    onehot[flat.T, torch.arange(perms.shape[0])[None, :].expand(k, -1)] = 1.0  # flat.T: (k, P)
    return perms, onehot


BRUTE_FORCE_LIMIT = 10**6  # permutations the reference scores in about a second or two


def hungarian_match_reference(cost: torch.Tensor) -> torch.Tensor:
    """Brute force over all K! permutations, one batch item at a time.

    Returns ``perm`` (B, K) int64 with ``perm[b, k]`` the column matched to row ``k``; minimises
    ``sum_k cost[b, k, perm[b, k]]``. Exponential in K: use only for tiny K (oracle for tests).
    """
    _check_cost(cost)  # a finite float (B, K, K) cost C
    b, k, _ = cost.shape  # B matrices of K×K
    if math.factorial(k) * b > BRUTE_FORCE_LIMIT:  # K! permutations per matrix, each scored in Python
        raise ValueError(
            f"cost: the brute-force reference scores B·K! permutations and is limited to {BRUTE_FORCE_LIMIT:,} "
            f"(K <= 8 for one matrix), got B={b}, K={k}: use hungarian_match"
        )
    c = cost.detach().cpu().double().numpy()  # C as float64 numbers (no gradient through a matching)
    out = np.zeros((b, k), dtype=np.int64)  # π of each matrix
    for i in range(b):  # one matrix C_i at a time
        best, best_p = None, None  # the least total so far and its permutation
        for p in itertools.permutations(range(k)):  # every π among the K! permutations
            total = sum(c[i, r, p[r]] for r in range(k))  # Σ_k C[k, π(k)]
            if best is None or total < best:  # a smaller total (the first one wins ties)
                best, best_p = total, p  # π* so far
        out[i] = best_p  # π* = argmin_π Σ_k C[k, π(k)]
    return torch.from_numpy(out).to(cost.device)  # int64 (B, K) on C's device


def hungarian_match(cost: torch.Tensor) -> torch.Tensor:
    """Minimum-cost assignment for a batch of square cost matrices, (B, K, K) -> int64 (B, K).

    For K <= 7 all permutations are scored at once (one matmul with a cached one-hot table) (vectorised brute force);
    for larger K each item is solved with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``).
    """
    _check_cost(cost)
    b, k, _ = cost.shape
    if k <= _MAX_BRUTE_K:
        perms, onehot = _perm_tables(k)
        totals = cost.detach().double().reshape(b, k * k).cpu() @ onehot  # (B, K²) @ (K², P) -> (B, P): Σ_k C[k, p(k)]
        return perms[totals.argmin(dim=1)].to(cost.device)
    c = cost.detach().cpu().double().numpy()
    out = np.stack([linear_sum_assignment(c[i])[1] for i in range(b)]).astype(np.int64)
    return torch.from_numpy(out).to(cost.device)
