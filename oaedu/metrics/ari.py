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

from .. import validate


def _check(true: torch.Tensor, pred: torch.Tensor) -> None:
    validate.tensor(true, "true", ndim=(1, 2), dtype="integer")
    validate.tensor(pred, "pred", ndim=(1, 2), dtype="integer")
    if true.shape != pred.shape:
        raise ValueError(f"adjusted_rand_index: shapes differ, true {tuple(true.shape)} vs pred {tuple(pred.shape)}")
    for name, t in (("true", true), ("pred", pred)):
        if t.numel() and t.min() < 0:
            raise ValueError(f"adjusted_rand_index expects non-negative labels, {name} has {int(t.min())}")


def _comb2(x: torch.Tensor) -> torch.Tensor:
    return x * (x - 1) / 2


def _ari_from_counts(index: torch.Tensor, sum_a: torch.Tensor, sum_b: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    expected = sum_a * sum_b / _comb2(n).clamp_min(1)
    maximum = (sum_a + sum_b) / 2
    denom = maximum - expected
    trivial = denom.abs() < 1e-12
    return torch.where(trivial, torch.ones_like(index), (index - expected) / torch.where(trivial, 1.0, denom))


def adjusted_rand_index_reference(
    true: torch.Tensor, pred: torch.Tensor, foreground_only: bool = False
) -> torch.Tensor:
    """Loop over the pairs of labels and count, one sample at a time. Slow; for teaching and tests."""
    _check(true, pred)  # two integer partitions of the same points, labels >= 0
    single = true.ndim == 1  # one sample (P,) or a batch (B, P)
    true2, pred2 = (true[None], pred[None]) if single else (true, pred)  # always (B, P)
    out: list[torch.Tensor] = []  # the ARI of each sample
    for t, p in zip(true2.tolist(), pred2.tolist(), strict=True):  # one sample at a time
        pairs = [(a, b) for a, b in zip(t, p, strict=True) if not (foreground_only and a == 0)]  # FG-ARI: drop true 0
        if not pairs:  # P = 0 points: the ARI is undefined
            raise ValueError("adjusted_rand_index: no points left (is every true label 0 with foreground_only?)")
        table: dict[tuple[int, int], int] = {}  # contingency table n_ij
        rows: dict[int, int] = {}  # a_i = Σ_j n_ij
        cols: dict[int, int] = {}  # b_j = Σ_i n_ij
        for a, b in pairs:  # each point: true cluster i = a, predicted cluster j = b
            table[(a, b)] = table.get((a, b), 0) + 1  # n_ij += 1
            rows[a] = rows.get(a, 0) + 1  # a_i += 1
            cols[b] = cols.get(b, 0) + 1  # b_j += 1
        c2 = lambda v: v * (v - 1) / 2  # C(v, 2), the number of pairs among v points
        index = torch.tensor(sum(c2(v) for v in table.values()), dtype=torch.float64)  # index = Σ_ij C(n_ij, 2)
        sum_a = torch.tensor(sum(c2(v) for v in rows.values()), dtype=torch.float64)  # Σ_i C(a_i, 2)
        sum_b = torch.tensor(sum(c2(v) for v in cols.values()), dtype=torch.float64)  # Σ_j C(b_j, 2)
        n = torch.tensor(float(len(pairs)), dtype=torch.float64)  # P
        out.append(_ari_from_counts(index, sum_a, sum_b, n))  # (index − expected) / (max − expected)
    result = torch.stack(out) if out else torch.zeros(0, dtype=torch.float64)  # (B,) float64
    return result[0] if single else result  # () for one sample


def _table_ids(true: torch.Tensor, pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The labels as indices of the contingency table: kept as they are when the table of one sample is no larger
    than the sample (the usual few labels), else renumbered ``0, 1, 2, …`` (:func:`oaedu.validate.label_ids`; the
    sort costs most of the call). The ARI does not see the difference: an unused id is an empty row or column."""
    if true.numel() and int(true.min()) >= 0 and int(pred.min()) >= 0:
        if (int(true.max()) + 1) * (int(pred.max()) + 1) <= true.shape[-1]:
            return true.long(), pred.long()
    return validate.label_ids(true, "true"), validate.label_ids(pred, "pred")


def adjusted_rand_index(true: torch.Tensor, pred: torch.Tensor, foreground_only: bool = False) -> torch.Tensor:
    """Batched ARI of integer labels ``(P,)`` or ``(B, P)``; returns float64 ``()`` or ``(B,)``.

    One contingency table per sample, built with a single ``bincount`` over ``(sample, true, pred)``
    codes. Labels are names, not sizes: they are renumbered ``0, 1, 2, …`` first (0 stays 0), so ids such
    as ``1_000_000`` cost nothing. Matches ``sklearn.metrics.adjusted_rand_score``.
    """
    _check(true, pred)
    single = true.ndim == 1
    t, p = _table_ids(true[None] if single else true, pred[None] if single else pred)
    batch, _ = t.shape
    if batch == 0:
        return torch.zeros(0, dtype=torch.float64, device=t.device)
    weight = (t != 0).double() if foreground_only else torch.ones_like(t, dtype=torch.float64)
    n = weight.sum(1)
    if (n == 0).any():
        raise ValueError("adjusted_rand_index: no points left (is every true label 0 with foreground_only?)")
    kt, kp = int(t.max()) + 1, int(p.max()) + 1
    codes = (torch.arange(batch, device=t.device)[:, None] * kt + t) * kp + p
    table = torch.bincount(codes.flatten(), weights=weight.flatten(), minlength=batch * kt * kp)  # (B·Kt·Kp,)
    table = table.view(batch, kt, kp)  # (B, Kt, Kp): one contingency table per sample
    index = _comb2(table).sum((1, 2))
    sum_a = _comb2(table.sum(2)).sum(1)
    sum_b = _comb2(table.sum(1)).sum(1)
    result = _ari_from_counts(index, sum_a, sum_b, n)
    return result[0] if single else result
