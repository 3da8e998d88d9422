"""Spatial entropy of attention maps and the SAR regulariser (Peruzzo et al., 2022, §4.1).

For one head's pre-softmax CLS scores ``S`` on the ``k×k`` patch grid:

* Eq. (5): ``B = ReLU(S − mean(S))`` (the map is thresholded at its own mean);
* Eq. (6): ``C_1..C_n`` are the 8-connected components of ``B > 0``;
* Eq. (8): ``P(C_j) = Σ_{(x,y)∈C_j} B(x,y) / Σ_{x,y} B(x,y)``;
* Eq. (7): ``H(S) = −Σ_j P(C_j) log P(C_j)``.

The labelling is piecewise constant and carries no gradient; the gradient flows through ``B``. A
constant map has ``B ≡ 0``: its entropy is defined as 0 (no blob) with a zero gradient, never NaN.

Eq. (7)–(8) are invariant to the scale of ``S``: ``H(c·S) = H(S)`` for every ``c > 0``. Both implementations
therefore first divide each map by its largest magnitude (a constant for autograd, which leaves the gradient
of the scale-free ``H`` unchanged) and compute in at least float32. Tiny, huge and half-precision maps then
give the same entropy as the map at unit scale, and a constant map becomes exactly ``±1``, so ``B ≡ 0``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .. import validate
from ..maps.components import connected_components, connected_components_reference


def _check_scores(scores: torch.Tensor) -> None:
    validate.tensor(scores, "scores", dtype="float")
    if scores.ndim < 2 or scores.shape[-1] == 0 or scores.shape[-2] == 0:
        raise ValueError(f"spatial entropy needs scores of shape (..., k, k), got {tuple(scores.shape)}")
    if not torch.isfinite(scores.detach()).all():
        raise ValueError("spatial entropy got non-finite scores")


def _unit_scale(maps: torch.Tensor) -> torch.Tensor:
    """``maps (M, n)`` divided row-wise by their largest magnitude (detached; 1 for an all-zero row), ≥ float32."""
    if maps.dtype in (torch.float16, torch.bfloat16):
        maps = maps.float()
    scale = maps.detach().abs().amax(-1, keepdim=True)
    return maps / torch.where(scale > 0, scale, torch.ones_like(scale))


def spatial_entropy_reference(scores: torch.Tensor) -> torch.Tensor:
    """Eq. (5)–(8) one map and one component at a time (loops, BFS labelling). Returns ``[...]``."""
    _check_scores(scores)  # finite float scores S of shape (..., k, k)
    if not scores.numel():  # no map at all
        return scores.new_zeros(scores.shape[:-2])  # an empty result of the batch shape
    h, w = scores.shape[-2:]  # the k×k patch grid
    # (..., h, w) -> (M, N) -> (M, h, w)
    maps = _unit_scale(scores.reshape(-1, h * w)).view(-1, h, w)  # S / max|S|: H(c·S) = H(S), module docstring
    out = []  # H(S) of each map
    for s in maps:  # one map S at a time
        b = torch.relu(s - s.mean())  # Eq. (5): B = ReLU(S − m), m the mean of S
        labels = connected_components_reference((b > 0).detach().cpu()).to(s.device)  # Eq. (6): C_1..C_n of B > 0
        total = b.sum()  # |B| = Σ B(x, y)
        value = s.new_zeros(())  # H = 0 so far (and for B ≡ 0: no blob)
        if total.item() > 0:  # some blob exists
            for j in range(1, int(labels.max().item()) + 1):  # each component C_j, j = 1..n
                p = b[labels == j].sum() / total  # Eq. (8): P(C_j) = Σ_{C_j} B / |B|
                if p.item() > 0:  # 0 · log 0 = 0
                    value = value - p * torch.log(p)  # Eq. (7): H = −Σ_j P(C_j) log P(C_j)
        out.append(value)  # H(S)
    # (M,) -> (...)
    return torch.stack(out).reshape(scores.shape[:-2]).to(scores.dtype)  # back to the batch shape and dtype


class EntropyAndBlobs(NamedTuple):
    """What :func:`spatial_entropy_and_blobs` returns: ``H(S)`` (Eq. 7) and ``n``, the number of blobs (Eq. 6)."""

    entropy: torch.Tensor
    blobs: torch.Tensor


def spatial_entropy(scores: torch.Tensor) -> torch.Tensor:
    """Batched spatial entropy, Eq. (5)–(8) of SAR §4.1, for scores ``[..., k, k]`` → ``[...]``.

    Component masses are a ``scatter_add`` of ``B`` into per-map label bins; ``0·log 0`` and the
    all-zero map are guarded so that neither the value nor the gradient is ever NaN. The number of
    blobs comes with the entropy from :func:`spatial_entropy_and_blobs`.
    """
    return spatial_entropy_and_blobs(scores).entropy


def spatial_entropy_and_blobs(scores: torch.Tensor) -> EntropyAndBlobs:
    """:func:`spatial_entropy` and, from the same labelling, the number of blobs ``n`` per map (``int64[...]``)."""
    _check_scores(scores)
    h, w = scores.shape[-2:]
    n = h * w
    flat = _unit_scale(scores.reshape(-1, n))  # (M, N): every map of the batch
    b = torch.relu(flat - flat.mean(-1, keepdim=True))
    with torch.no_grad():
        labels = connected_components((b > 0).view(-1, h, w)).view(-1, n)  # (M, h, w) -> (M, N)
    mass = b.new_zeros(flat.shape[0], n + 1).scatter_add(1, labels, b)[:, 1:]
    total = mass.sum(-1, keepdim=True)
    p = mass / torch.where(total > 0, total, torch.ones_like(total))
    safe = torch.where(p > 0, p, torch.ones_like(p))
    entropy = -(p * torch.log(safe)).sum(-1).reshape(scores.shape[:-2]).to(scores.dtype)  # (M,) -> (...)
    return EntropyAndBlobs(entropy, labels.amax(-1).reshape(scores.shape[:-2]))  # (...)


def max_entropy(num_components: int) -> float:
    """Upper bound ``log n`` of Eq. (7) for ``n`` equally heavy blobs."""
    validate.integer(num_components, "num_components", low=0)
    return math.log(num_components) if num_components > 0 else 0.0
