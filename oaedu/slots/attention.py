"""Slot attention vs plain cross-attention pooling (Paper 5, object encoder).

Slot attention (Locatello et al., used by the paper's object encoder) normalises the logits
``A = softmax_over_slots(q(S) k(X)^T / sqrt(d))`` across the K slots, so slots compete for each patch;
each slot then takes the weighted mean of values, ``U = (A / sum_n A) v(X)``, and updates with a GRU + MLP
for T iterations. The cross-attention baseline uses the usual softmax over the N keys (no competition).
"""

from __future__ import annotations

import torch
from torch import nn


def _check_tokens(x: torch.Tensor, dim: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != dim or x.shape[1] == 0:
        raise ValueError(f"tokens must have shape (B, N>=1, {dim}), got {getattr(x, 'shape', None)}")
    if not x.is_floating_point():
        raise ValueError(f"tokens must be floating point, got {x.dtype}")


class SlotAttention(nn.Module):
    """K learned query slots, softmax over the slots (competition), ``iters`` GRU refinement steps.

    ``forward(x (B, N, D)) -> (slots (B, K, D), attn (B, K, N))``; ``attn`` sums to 1 over K per patch.
    The residual MLP has hidden width D and GELU (the notes' slot-attention MLP uses 2D and ReLU); the narrower
    MLP keeps the CPU toy small, and notebook 06's measured numbers use it.
    """

    def __init__(self, dim: int, num_slots: int, iters: int = 3, eps: float = 1e-8) -> None:
        super().__init__()
        if num_slots < 1 or iters < 1:
            raise ValueError("num_slots and iters must be >= 1")
        self.dim, self.num_slots, self.iters, self.eps = dim, num_slots, iters, eps
        self.slots = nn.Parameter(torch.randn(1, num_slots, dim) * dim**-0.5)
        self.norm_x, self.norm_s, self.norm_m = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.k, self.v = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.gru = nn.GRUCell(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_tokens(x, self.dim)
        b = x.shape[0]
        x = self.norm_x(x)
        k, v = self.k(x), self.v(x)
        s = self.slots.expand(b, -1, -1)
        attn = x.new_zeros(b, self.num_slots, x.shape[1])
        for _ in range(self.iters):
            logits = self.q(self.norm_s(s)) @ k.transpose(1, 2) * self.dim**-0.5  # (B, K, N)
            attn = logits.softmax(dim=1)  # competition: normalise over slots
            w = attn / (attn.sum(dim=-1, keepdim=True) + self.eps)  # weighted mean over patches
            upd = w @ v
            s = self.gru(upd.reshape(-1, self.dim), s.reshape(-1, self.dim)).reshape(b, -1, self.dim)
            s = s + self.mlp(self.norm_m(s))
        return s, attn


class CrossAttentionPool(nn.Module):
    """Baseline: K learned queries with the usual softmax over the N keys (no competition between queries).

    ``forward(x (B, N, D)) -> (slots (B, K, D), attn (B, K, N))``; ``attn`` sums to 1 over N per query.
    """

    def __init__(self, dim: int, num_slots: int) -> None:
        super().__init__()
        self.dim, self.num_slots = dim, num_slots
        self.slots = nn.Parameter(torch.randn(1, num_slots, dim) * dim**-0.5)
        self.norm_x = nn.LayerNorm(dim)
        self.q, self.k, self.v = (nn.Linear(dim, dim, bias=False) for _ in range(3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_tokens(x, self.dim)
        x = self.norm_x(x)
        logits = self.q(self.slots) @ self.k(x).transpose(1, 2) * self.dim**-0.5
        attn = logits.softmax(dim=-1)
        return attn @ self.v(x), attn
