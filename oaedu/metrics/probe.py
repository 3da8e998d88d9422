"""Linear probes on frozen features: how much a representation says about a label, read by a linear map.

One implementation for every paper: ContraCAM's Background Challenge probe (§3, a multinomial logistic regression on
global-average-pooled features) and Paper 5's attribute probes (App. A.6: ``max_i (W s_i + b)`` over the slots, or a
linear map of the global vector ``r``).
"""

from __future__ import annotations

import torch
from torch import nn

from .. import validate


class LinearProbe(nn.Module):
    """Standardise → linear map, ``(x − mean) / std · Wᵀ + b``; features ``(N, D)`` give scores ``(N, C)``, slots
    ``(N, K, D)`` give ``max_i (W s_i + b)`` over the ``K`` slots (Paper 5, App. A.6)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, linear: nn.Linear) -> None:
        super().__init__()
        d = linear.in_features
        validate.tensor(mean, "mean", shape=(d,), finite_values=True)
        validate.tensor(std, "std", shape=(d,), finite_values=True)
        validate.values_in(std, "std", low=0.0, low_open=True)
        self.linear = linear
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        scores = self.linear((features - self.mean) / self.std)
        return scores.max(1).values if features.ndim == 3 else scores


def _check_targets(targets: torch.Tensor, n: int, multilabel: bool, num_classes: int | None) -> int:
    """Validate ``targets`` for ``n`` training items; returns the number of outputs of the probe."""
    validate.tensor(targets, "targets", min_batch=n)
    if len(targets) != n:
        raise ValueError(f"targets must have one row per training item ({n}), got {tuple(targets.shape)}")
    if multilabel:
        if targets.dtype != torch.bool or targets.ndim != 2:
            raise ValueError("multilabel targets must be bool (N, Q)")
        return targets.shape[1]
    validate.class_labels(targets, "targets", num_classes=num_classes, ndim=targets.ndim)
    if targets.dtype != torch.int64 or targets.ndim != 1:
        raise ValueError("class targets must be int64 (N,)")
    return num_classes if num_classes is not None else int(targets.max()) + 1


def _standardiser(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of every feature over all items (and slots); the std floored at 1e-6."""
    flat = features.reshape(-1, features.shape[-1])  # (N, D) or (N, K, D) -> (M, D): every item (and slot)
    mean, std = flat.mean(0), flat.std(0).clamp_min(1e-6)
    validate.overflow(torch.cat([mean, std]), "features", "their mean or std")
    return mean, std


def _loss_fn(targets: torch.Tensor, multilabel: bool, dtype: torch.dtype) -> nn.Module:
    """Cross-entropy for classes; for presence labels BCE with ``pos_weight = (1 − π)/π`` per label."""
    if not multilabel:
        return nn.CrossEntropyLoss()
    prior = targets.to(dtype).mean(0).clamp(1e-3, 1 - 1e-3)
    return nn.BCEWithLogitsLoss(pos_weight=(1 - prior) / prior)


def _fit(
    probe: LinearProbe,
    features: torch.Tensor,
    target: torch.Tensor,
    loss_fn: nn.Module,
    steps: int,
    weight_decay: float,
) -> None:
    """L-BFGS from zero weights on ``loss + weight_decay·‖W‖²`` (deterministic); should its line search diverge
    (it can overshoot on the non-smooth max over slots), the fit restarts from zero with Adam."""
    linear = probe.linear
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(probe(features), target) + weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
        if not all(torch.isfinite(p).all() for p in linear.parameters()):
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)
            adam = torch.optim.Adam(linear.parameters(), lr=0.05)
            for _ in range(steps):
                adam.zero_grad()
                closure()
                adam.step()


def linear_probe(
    features: torch.Tensor,
    targets: torch.Tensor,
    multilabel: bool = False,
    num_classes: int | None = None,
    steps: int = 200,
    weight_decay: float = 1e-3,
) -> LinearProbe:
    """Fit a :class:`LinearProbe` on frozen ``features`` ``(N, D)`` or slots ``(N, K, D)``, standardised with their
    own mean and std, in the features' dtype.

    ``multilabel``: ``targets`` is bool ``(N, Q)`` and the loss BCE with ``pos_weight = (1 − π)/π``; otherwise
    ``targets`` holds int64 classes in ``[0, num_classes)`` (default: ``max + 1``) and the loss is cross-entropy,
    a multinomial logistic regression. L-BFGS from zero weights, so the fit is deterministic."""
    validate.tensor(features, "features")
    features = features.detach()  # frozen features: a graph from the model must not reach the fit
    validate.tensor(features, "features", dtype="float", min_batch=1, finite_values=True)
    if features.ndim not in (2, 3):
        raise ValueError(f"features must be (N, D) or (N, K, D), got {tuple(features.shape)}")
    if num_classes is not None:
        validate.integer(num_classes, "num_classes", low=1)
        validate.fits_memory(num_classes * features.shape[-1], "num_classes: the probe's weights", itemsize=8)
    out = _check_targets(targets, len(features), multilabel, num_classes)
    validate.integer(steps, "steps", low=1)
    validate.non_negative(weight_decay, "weight_decay")
    mean, std = _standardiser(features)
    probe = LinearProbe(mean, std, nn.Linear(features.shape[-1], out).to(features.dtype))
    target = targets.to(features.dtype) if multilabel else targets
    _fit(probe, features, target, _loss_fn(targets, multilabel, features.dtype), steps, weight_decay)
    return probe.eval()
