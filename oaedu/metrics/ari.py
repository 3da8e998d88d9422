"""Adjusted Rand index (Hubert & Arabie, 1985), the segmentation score of paper 5 and slot attention.

With the contingency table ``n_ij`` between a true and a predicted partition of the same ``P`` points,
``a_i = Σ_j n_ij`` and ``b_j = Σ_i n_ij``::

    index    = Σ_ij C(n_ij, 2)
    expected = Σ_i C(a_i, 2) · Σ_j C(b_j, 2) / C(P, 2)
    max      = (Σ_i C(a_i, 2) + Σ_j C(b_j, 2)) / 2
    ARI      = (index − expected) / (max − expected)

When ``max == expected`` (both partitions trivial, e.g. one cluster each) the ARI is 1, as in
scikit-learn. ``foreground_only=True`` drops the points whose true label is 0 first (FG-ARI).
"""

from __future__ import annotations

import torch


def _check(true: torch.Tensor, pred: torch.Tensor) -> None:
    if true.shape != pred.shape:
        raise ValueError(f"adjusted_rand_index: shapes differ, {tuple(true.shape)} vs {tuple(pred.shape)}")
    if true.ndim not in (1, 2):
        raise ValueError(f"adjusted_rand_index expects (P,) or (B, P) labels, got shape {tuple(true.shape)}")
    for name, t in (("true", true), ("pred", pred)):
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
            raise ValueError(f"adjusted_rand_index expects integer labels, {name} has dtype {t.dtype}")
        if t.numel() and t.min() < 0:
            raise ValueError(f"adjusted_rand_index expects non-negative labels, {name} has {int(t.min())}")


def _comb2(x: torch.Tensor) -> torch.Tensor:
    return x * (x - 1) / 2


def _ari_from_counts(
    index: torch.Tensor, sum_a: torch.Tensor, sum_b: torch.Tensor, n: torch.Tensor
) -> torch.Tensor:
    expected = sum_a * sum_b / _comb2(n).clamp_min(1)
    maximum = (sum_a + sum_b) / 2
    denom = maximum - expected
    trivial = denom.abs() < 1e-12
    return torch.where(trivial, torch.ones_like(index), (index - expected) / torch.where(trivial, 1.0, denom))


def adjusted_rand_index_reference(true: torch.Tensor, pred: torch.Tensor, foreground_only: bool = False):
    """Loop over the pairs of labels and count, one sample at a time. Slow; for teaching and tests."""
    _check(true, pred)
    single = true.ndim == 1
    true2, pred2 = (true[None], pred[None]) if single else (true, pred)
    out = []
    for t, p in zip(true2.tolist(), pred2.tolist(), strict=True):
        pairs = [(a, b) for a, b in zip(t, p, strict=True) if not (foreground_only and a == 0)]
        if not pairs:
            raise ValueError("adjusted_rand_index: no points left (is every true label 0 with foreground_only?)")
        table: dict[tuple[int, int], int] = {}
        rows: dict[int, int] = {}
        cols: dict[int, int] = {}
        for a, b in pairs:
            table[(a, b)] = table.get((a, b), 0) + 1
            rows[a] = rows.get(a, 0) + 1
            cols[b] = cols.get(b, 0) + 1
        c2 = lambda v: v * (v - 1) / 2
        index = torch.tensor(sum(c2(v) for v in table.values()), dtype=torch.float64)
        sum_a = torch.tensor(sum(c2(v) for v in rows.values()), dtype=torch.float64)
        sum_b = torch.tensor(sum(c2(v) for v in cols.values()), dtype=torch.float64)
        out.append(_ari_from_counts(index, sum_a, sum_b, torch.tensor(float(len(pairs)), dtype=torch.float64)))
    result = torch.stack(out)
    return result[0] if single else result


def adjusted_rand_index(true: torch.Tensor, pred: torch.Tensor, foreground_only: bool = False) -> torch.Tensor:
    """Batched ARI of integer labels ``(P,)`` or ``(B, P)``; returns float64 ``()`` or ``(B,)``.

    One contingency table per sample, built with a single ``bincount`` over ``(sample, true, pred)``
    codes. Matches ``sklearn.metrics.adjusted_rand_score``.
    """
    _check(true, pred)
    single = true.ndim == 1
    t = (true[None] if single else true).long()
    p = (pred[None] if single else pred).long()
    batch, _ = t.shape
    weight = (t != 0).double() if foreground_only else torch.ones_like(t, dtype=torch.float64)
    n = weight.sum(1)
    if (n == 0).any():
        raise ValueError("adjusted_rand_index: no points left (is every true label 0 with foreground_only?)")
    kt, kp = int(t.max()) + 1, int(p.max()) + 1
    codes = (torch.arange(batch, device=t.device)[:, None] * kt + t) * kp + p
    table = torch.bincount(codes.flatten(), weights=weight.flatten(), minlength=batch * kt * kp)
    table = table.view(batch, kt, kp)
    index = _comb2(table).sum((1, 2))
    sum_a = _comb2(table.sum(2)).sum(1)
    sum_b = _comb2(table.sum(1)).sum(1)
    result = _ari_from_counts(index, sum_a, sum_b, n)
    return result[0] if single else result
