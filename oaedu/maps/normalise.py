"""Per-map min–max normalisation, the one rule every paper's maps share."""

from __future__ import annotations

import torch

from .. import validate

CONSTANT_SPAN = 1e-12


def minmax(maps: torch.Tensor, dims: int | None = None, eps: float = CONSTANT_SPAN) -> torch.Tensor:
    """Min–max normalise each map to [0, 1]: ``(x − min) / (max − min)`` (``Normalize`` of Eq. 2, ContraCAM §2.2;
    RobustViT §3's normalised relevance).

    ``dims``: a map is the last ``dims`` dimensions (``dims=2`` for ``(..., h, w)`` maps, a single ``(h, w)`` map
    included); ``None`` (the default) takes everything after the first dimension, one map per item of a batch
    ``(B, ...)``. A map whose range ``max − min`` is at most ``eps`` counts as constant and becomes all zeros, so an
    all-zero or constant map never gives NaN.
    """
    if dims is None:
        validate.tensor(maps, "maps", dtype="float", min_ndim=2, finite_values=True)
        dims = maps.ndim - 1
    else:
        validate.integer(dims, "dims", low=1, high=max(maps.ndim, 1) if isinstance(maps, torch.Tensor) else None)
        validate.tensor(maps, "maps", dtype="float", min_ndim=dims, finite_values=True)
    validate.non_negative(eps, "eps")
    if not maps.shape[maps.ndim - dims :].numel():
        raise ValueError(f"maps must hold non-empty maps over their last {dims} dims, got {tuple(maps.shape)}")
    flat = maps.flatten(maps.ndim - dims)  # (..., <map dims>) -> (..., P): each map's P values on one row
    out = _normalise(flat, eps)
    if not torch.isfinite(out).all():  # finite values whose span overflows the dtype (±3e38 float32, ±6e4 float16)
        # in float64, halved: (x/2 − min/2) / (span/2) is the same ratio, and a span of ±1e308 values fits too
        out = _normalise(flat.double() * 0.5, eps * 0.5).to(flat.dtype)
    return out.view_as(maps)  # (..., P) -> (..., <map dims>)


def _normalise(flat: torch.Tensor, eps: float) -> torch.Tensor:
    # min/max (not amin/amax): their gradient goes to one extreme entry even among ties, as RobustViT's loss had it
    low = flat.min(-1, keepdim=True).values
    span = flat.max(-1, keepdim=True).values - low
    # a product with the mask rather than torch.where: a constant map gets a zero gradient, never 0/0 (also for
    # eps = 0, or an eps below what the dtype can hold: the span is floored at its smallest normal number)
    floor = max(eps, torch.finfo(flat.dtype).tiny)
    return (flat - low) / span.clamp_min(floor) * (span > eps)
