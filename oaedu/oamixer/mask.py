"""Object-aware reweighting masks, Eq. (3) of OAMixer (§3.1).

Patch labels ``y`` are ``(B, N, K)``: a saliency fraction (``K = 1``, L1 distance) or a class
distribution (``K`` classes, cosine distance). The mask is ``M_ij = exp(-κ · d(y_i, y_j))`` in
``(0, 1]``. Every mixing layer only needs ``log M = -κ·D``, so :func:`pairwise_distance` and
:func:`local_distance` return ``D`` and each layer multiplies by its own κ.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import validate

DISTANCES = ("l1", "cosine")
_EPS = 1e-8


def check_labels(labels: torch.Tensor, name: str = "labels") -> None:
    """Raise ``ValueError`` unless ``labels`` is a finite floating ``(B, N, K)`` tensor."""
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B, N, K), got {type(labels).__name__}")
    if labels.ndim != 3:
        raise ValueError(f"{name} must be (B, N, K) patch labels, got shape {tuple(labels.shape)}")
    if not labels.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor, got {labels.dtype}")
    if labels.shape[1] == 0 or labels.shape[2] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(labels.shape)}")
    if not torch.isfinite(labels).all():
        raise ValueError(f"{name} contains NaN or inf")


def _check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")


def _unit(labels: torch.Tensor) -> torch.Tensor:
    # A zero label vector (e.g. an erased patch) stays zero, so its cosine distance to anything is 1.
    return labels / labels.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def pairwise_distance(labels: torch.Tensor, distance: str = "l1") -> torch.Tensor:
    """``D_ij = d(y_i, y_j)`` for all patch pairs: ``(B, N, K) -> (B, N, N)`` (Eq. 3, OAMixer §3.1).

    ``"l1"``: ``Σ_k |y_ik − y_jk|`` (binary saliency, ``K = 1``); ``"cosine"``: ``1 − cos(y_i, y_j)``
    (multi-class maps). Both are 0 on the diagonal and non-negative.
    """
    check_labels(labels)
    _check_distance(distance)
    if distance == "l1":
        if labels.shape[-1] == 1:
            y = labels[..., 0]
            return validate.overflow((y[:, :, None] - y[:, None, :]).abs(), "labels", "a distance")
        return validate.overflow(torch.cdist(labels, labels, p=1), "labels", "a distance")
    u = _unit(labels)
    return (1.0 - u @ u.transpose(1, 2)).clamp_min(0.0)


def check_kappa(kappa) -> torch.Tensor:
    """Return κ as a tensor, raising ``ValueError`` if it is negative, non-finite or not a scalar."""
    if not isinstance(kappa, torch.Tensor):
        kappa = torch.as_tensor(validate.number(kappa, "kappa", allow_inf=True), dtype=torch.float64)
    if kappa.numel() != 1:
        raise ValueError(f"kappa must be a scalar, got shape {tuple(kappa.shape)}")
    if not torch.isfinite(kappa).all() or (kappa.detach() < 0).any():
        # κ (...) -> (1,): its one value, as a list
        raise ValueError(f"kappa must be finite and >= 0, got {kappa.detach().flatten().tolist()}")
    return kappa.reshape(())  # (...) -> (): a 0-d scalar


def reweight_mask(labels: torch.Tensor, kappa, distance: str = "l1") -> torch.Tensor:
    """The object-aware mask ``M_ij = exp(−κ · d(y_i, y_j))``, Eq. (3), OAMixer §3.1.

    Args:
        labels: ``(B, N, K)`` patch labels (non-negative for ``"cosine"``).
        kappa: non-negative scalar (tensor or float); gradients flow into a tensor κ.
        distance: ``"l1"`` for binary saliency, ``"cosine"`` for multi-class maps.

    Returns:
        ``(B, N, N)`` mask in ``(0, 1]``, one per image, 1 on the diagonal.
    """
    check_labels(labels)
    kappa = check_kappa(kappa).to(labels.dtype)
    return torch.exp(-kappa * pairwise_distance(labels, distance))


def local_distance(label_map: torch.Tensor, kernel_size: int, distance: str = "l1") -> torch.Tensor:
    """Distances from each patch to its ``S×S`` neighbours: ``(B, K, h, w) -> (B, S², h·w)``.

    Entry ``[b, s, i]`` is ``d(y_i, y_{i+δ_s})`` with ``δ_s`` the s-th offset of the kernel window in
    row-major order (as ``F.unfold``). Out-of-grid neighbours get distance 0; the convolution pads them
    with zeros, so their weight never matters. Used by the local ConvMixer (Eq. 11 without the N×N matrix).
    """
    validate.tensor(label_map, "label_map")
    if label_map.ndim != 4 or not label_map.is_floating_point():
        raise ValueError(
            f"label_map must be a floating (B, K, h, w) tensor, got {tuple(label_map.shape)} {label_map.dtype}"
        )
    validate.finite(label_map, "label_map")
    kernel_size = validate.integer(kernel_size, "kernel_size")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    _check_distance(distance)
    b, k, h, w = label_map.shape
    y = label_map if distance == "l1" else _unit(label_map.transpose(1, 3)).transpose(1, 3)  # (B, K, h, w)
    nb = F.unfold(y, kernel_size, padding=kernel_size // 2).view(b, k, kernel_size**2, h * w)  # (B, K, S², N)
    centre = y.reshape(b, k, 1, h * w)  # (B, K, 1, N)
    valid = F.unfold(torch.ones_like(label_map[:, :1]), kernel_size, padding=kernel_size // 2)  # (B, S², N)
    if distance == "l1":
        d = (nb - centre).abs().sum(1)
    else:
        d = (1.0 - (nb * centre).sum(1)).clamp_min(0.0)
    return validate.overflow(d * valid, "label_map", "a distance")


def check_masks(
    mask: torch.Tensor | None,
    log_mask: torch.Tensor | None,
    shape: tuple[int, ...],
    shape_name: str = "(B, N, N)",
    zero_ok: bool = True,
    floating: bool = False,
) -> None:
    """The one mask convention of attention, Mixer and ConvMixer (OAMixer §3.2): exactly one of ``mask``
    (multiplicative ``M``, in ``[0, 1]``, or ``(0, 1]`` where ``zero_ok=False``) and ``log_mask`` (additive
    ``log M = −κ·D ≤ 0``), a tensor of ``shape`` (floating where ``floating``); raise ``ValueError`` otherwise."""
    if (mask is None) == (log_mask is None):
        raise ValueError("pass exactly one of mask (M, Eq. 3) or log_mask (log M = −κ·D)")
    name, t = ("mask", mask) if mask is not None else ("log_mask", log_mask)
    if not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must be {shape_name} = {tuple(shape)}, got {getattr(t, 'shape', type(t))}")
    if floating and not t.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {t.dtype}")
    if mask is not None:  # M ∈ [0, 1]; a zero would empty an attention row, hence (0, 1] there
        validate.values_in(mask, "mask", 0.0, 1.0, low_open=not zero_ok)
    else:
        validate.values_in(log_mask, "log_mask", high=0.0)  # log M <= 0, as M <= 1
        if not zero_ok:  # log M = −κ·D with a finite κ: −inf would be a zero of M
            validate.finite(log_mask, "log_mask")


def as_mask(mask: torch.Tensor | None, log_mask: torch.Tensor | None) -> torch.Tensor:
    """``M`` from whichever of ``mask`` / ``log_mask`` was given (``M = exp(log M)``)."""
    return mask if mask is not None else torch.exp(log_mask)


def row_shifted(log_mask: torch.Tensor) -> torch.Tensor:
    """``log M − max_j log M_ij``: a constant per row cancels in the renormalisation of Eq. (5), and the shift keeps
    ``exp`` away from underflow (a row of −1e30 would give 0/0) and ``s + log M`` away from rounding ``s`` off."""
    return log_mask - log_mask.detach().amax(-1, keepdim=True)


def as_log_mask(mask: torch.Tensor | None, log_mask: torch.Tensor | None) -> torch.Tensor:
    """``log M`` from whichever of ``mask`` / ``log_mask`` was given."""
    return log_mask if log_mask is not None else torch.log(mask)
