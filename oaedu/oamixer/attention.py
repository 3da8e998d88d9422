"""Object-aware self-attention, Eqs. (4)–(5) of OAMixer §3.2."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import validate
from .mask import as_log_mask, check_masks, row_shifted


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        validate.tensor(t, name, ndim=4, dtype="float", finite_values=True)
    validate.same_dtype(q=q, k=k, v=v)
    if q.shape[:3] != k.shape[:3] or k.shape[:3] != v.shape[:3] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q, k, v shapes disagree: {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")


def attention_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    log_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """Eq. (5) written out: ``Ã = softmax(QKᵀ/√d) ⊙ M``, rows renormalised, then ``Ã V`` (OAMixer §3.2).

    ``q, k, v``: ``(B, H, N, D)``. Give exactly one of ``mask`` ``(B, N, N)``, multiplicative, values in
    ``(0, 1]``, or ``log_mask = −κ·D`` (``M = exp(log_mask)``); either is shared over heads. ``dropout_p``
    drops attention weights after the renormalisation, as SDPA does. Returns ``(B, H, N, D)``.
    """
    # shapes and values of the Eq. (5) inputs: Q, K, V, exactly one of M and log M
    _check_qkv(q, k, v)
    validate.probability(dropout_p, "dropout_p")
    check_masks(mask, log_mask, (q.shape[0], q.shape[2], q.shape[2]), zero_ok=False, floating=True)
    m = torch.exp(
        row_shifted(as_log_mask(mask, log_mask)).to(q.dtype)
    )  # M = exp(−κ·D), Eq. (3), scaled per row (cancels)
    a = torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1)  # A = softmax(QKᵀ/√d), Eq. (4)
    a = a * m[:, None]  # A ⊙ M: one mask per image, shared by the H heads
    a = a / a.sum(-1, keepdim=True)  # Ã_ij = (A ⊙ M)_ij / Σ_l (A ⊙ M)_il, Eq. (5)
    if dropout_p:  # attention dropout on Ã, where SDPA applies it
        a = F.dropout(a, dropout_p)  # Ã ← dropout(Ã)
    return validate.overflow(a @ v, "q, k, v")  # Ã V


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    log_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """Fast Eq. (5) through the identity ``renorm(softmax(s) ⊙ M) = softmax(s + log M)`` (OAMixer §3.2).

    Same arguments as :func:`attention_reference`: exactly one of the multiplicative ``mask`` ``(B, N, N)`` in
    ``(0, 1]`` or, better, ``log_mask = −κ·D`` directly (no ``exp``/``log`` round trip); both broadcast over heads
    and are passed to ``F.scaled_dot_product_attention`` as an additive bias, so κ receives gradients.

    SDPA's fused kernel takes this broadcast ``(B, 1, N, N)`` bias as it is when the bias is in ``q``'s dtype
    (else a converted copy is made on every call) and needs no gradient. A bias that needs one (a learnable κ, in
    training) sends SDPA to its unfused path, which autograd differentiates, so no hand-written bias gradient is
    needed. ``python -m oaedu.bench`` times it against the reference and the unmasked call.
    """
    _check_qkv(q, k, v)
    validate.probability(dropout_p, "dropout_p")
    check_masks(mask, log_mask, (q.shape[0], q.shape[2], q.shape[2]), zero_ok=False, floating=True)
    log_m = row_shifted(as_log_mask(mask, log_mask))  # a constant per row: softmax is unchanged
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=log_m[:, None].to(q.dtype), dropout_p=dropout_p)
    return validate.overflow(out, "q, k, v")
