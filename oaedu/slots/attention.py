"""Slot attention vs cross-attention as the object function of Paper 5 (§2.1, App. A.2.3).

Slot attention (Locatello et al., 2020) normalises ``φ(q_i, h_n) = q(s_i)·k(h_n)/√D`` over the K slots,
``α_in = exp φ_in / Σ_i' exp φ_i'n``, so slots compete for each patch; each slot then takes the weighted mean of
the values with weights ``(α_in + ε) / Σ_n' (α_in' + ε)`` and updates with a GRU and a residual MLP, for
``iters`` iterations (the paper uses one). The cross-attention baseline normalises over the N patches
(``α_in = exp φ_in / Σ_n' exp φ_in'``): no competition between the queries.

Both start from K query tokens (App. A.2.2): ``"learned"`` (K learned embeddings, the paper's choice; slot ``i``
always starts from query ``i``) or ``"sampled"`` (K independent draws from one learned Gaussian, fresh for every
image, so a slot's index says nothing about what it will hold).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import validate


def _check_tokens(x: torch.Tensor, dim: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != dim or x.shape[1] == 0 or x.shape[0] == 0:
        raise ValueError(f"tokens must have shape (B>=1, N>=1, {dim}), got {getattr(x, 'shape', None)}")
    if not x.is_floating_point():
        raise ValueError(f"tokens must be floating point, got {x.dtype}")
    validate.finite(x, "tokens")


def _check_sizes(dim: int, num_slots: int, **counts: int) -> None:
    for name, value in {"dim": dim, "num_slots": num_slots, **counts}.items():
        (validate.steps if name in ("iters", "layers") else validate.integer)(value, name, low=1)
    validate.fits_memory(12 * dim * dim + num_slots * dim, "dim and num_slots: the weights")


QUERIES: tuple[str, ...] = ("learned", "sampled")


class SlotQueries(nn.Module):
    """Where the K queries start (Paper 5, App. A.2.2), shared by both object functions.

    ``"learned"``: K embeddings ``slots (1, K, D)``, initialised ``N(0, 1/D)``. ``"sampled"``: the single-Gaussian
    queries, ``q_i = μ + σ ⊙ ε_i`` with ``ε_i ~ N(0, I)`` drawn for every image and slot (reparameterised, so ``μ``
    and ``log σ`` learn); ``μ ~ N(0, 1/D)`` and ``σ = 1/√D`` at initialisation, the scale of a learned query."""

    def _init_queries(self, num_slots: int, dim: int, queries: str) -> None:
        if queries not in QUERIES:
            raise ValueError(f"queries must be one of {QUERIES}, got {queries!r}")
        self.queries = queries
        if queries == "learned":
            self.slots = nn.Parameter(torch.randn(1, num_slots, dim) * dim**-0.5)
        else:
            self.slots_mu = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
            self.slots_log_sigma = nn.Parameter(torch.full((1, 1, dim), -0.5 * math.log(dim)))

    def initial_queries(self, batch: int) -> torch.Tensor:
        """The K starting queries of each of ``batch`` images, ``(batch, K, D)``."""
        if self.queries == "learned":
            return self.slots.expand(batch, -1, -1)
        eps = torch.randn(batch, self.num_slots, self.dim, device=self.slots_mu.device, dtype=self.slots_mu.dtype)
        return self.slots_mu + self.slots_log_sigma.exp() * eps


class SlotAttention(SlotQueries):
    """K learned slots, softmax over the slots (competition), ``iters`` GRU refinement steps (Paper 5, §2.1).

    ``forward(x (B, N, D)) -> (slots (B, K, D), attn (B, K, N))``. ``attn`` is the softmax over the slots of the
    **first** iteration, the one the paper evaluates (App. A.5); it sums to 1 over K for every patch. The weighted
    mean adds ``ε`` before normalising over the patches, as slot attention defines it, so a slot that wins no
    patch takes the mean of the values instead of a zero update. The residual MLP has hidden width 2D and GELU,
    like the backbone's MLP (App. A.2.1). ``queries``: ``"learned"`` or ``"sampled"`` starting slots (App. A.2.2).
    """

    def __init__(self, dim: int, num_slots: int, iters: int = 1, eps: float = 1e-8, queries: str = "learned") -> None:
        super().__init__()
        _check_sizes(dim, num_slots, iters=iters)
        validate.positive(eps, "eps")
        self.dim, self.num_slots, self.iters, self.eps = dim, num_slots, iters, eps
        self._init_queries(num_slots, dim, queries)
        self.norm_x, self.norm_s, self.norm_m = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.k, self.v = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.gru = nn.GRUCell(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_tokens(x, self.dim)
        b = x.shape[0]
        x = self.norm_x(x)  # LN(h_n), the patch tokens (B, N, D)
        k, v = self.k(x), self.v(x)  # k_n = W_k LN(h_n), v_n = W_v LN(h_n)
        s = self.initial_queries(b)  # s_i^(0): learned or sampled queries (B, K, D)
        first = None
        for _ in range(self.iters):
            logits = self.q(self.norm_s(s)) @ k.transpose(1, 2) * self.dim**-0.5  # φ_in = q(s_i)·k_n / √D (B, K, N)
            attn = logits.softmax(dim=1)  # α_in = exp φ_in / Σ_i' exp φ_i'n: softmax over the SLOTS (competition)
            w = (attn + self.eps) / (attn + self.eps).sum(dim=-1, keepdim=True)  # (α_in + ε) / Σ_n' (α_in' + ε)
            u = w @ v  # u_i = Σ_n w_in v_n, the weighted mean of the values (B, K, D)
            # u, s (B, K, D) -> (B·K, D), one GRU step per slot -> (B, K, D)
            s = self.gru(u.reshape(-1, self.dim), s.reshape(-1, self.dim)).reshape(b, -1, self.dim)  # GRU(u_i, s_i)
            s = s + self.mlp(self.norm_m(s))  # s_i ← s_i + MLP(LN(s_i))
            first = attn if first is None else first  # the first iteration's α is the one evaluated (App. A.5)
        return s, first


class _DecoderLayer(nn.Module):
    """Pre-LN transformer decoder layer: query self-attention, cross-attention to the patches, MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm_self, self.norm_q, self.norm_x, self.norm_mlp = (nn.LayerNorm(dim) for _ in range(4))
        self.self_attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, q: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.norm_self(q)
        q = q + self.self_attn(h, h, h, need_weights=False)[0]
        x = self.norm_x(x)
        out, attn = self.cross_attn(self.norm_q(q), x, x, need_weights=True, average_attn_weights=True)
        q = q + out
        return q + self.mlp(self.norm_mlp(q)), attn


class CrossAttentionDecoder(SlotQueries):
    """Baseline object function: K learned queries through ``layers`` pre-LN decoder layers (Paper 5, App. A.2.3).

    Each layer has its own weights and runs query self-attention, multi-head cross-attention to the patches
    (softmax over the N keys: no competition between the queries) with its output projection, and an MLP of
    hidden width ``mlp_ratio·D`` with GELU, each behind a LayerNorm and a residual. The paper uses 2 layers of
    4 heads. ``forward(x (B, N, D)) -> (queries (B, K, D), attn (B, K, N))``: ``attn`` is the **first** layer's
    cross-attention averaged over its heads, the map the paper evaluates (App. A.5); it sums to 1 over N.
    ``queries``: ``"learned"`` or ``"sampled"`` starting queries (App. A.2.2).
    """

    def __init__(
        self,
        dim: int,
        num_slots: int,
        layers: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        queries: str = "learned",
    ) -> None:
        super().__init__()
        _check_sizes(dim, num_slots, layers=layers, num_heads=num_heads)
        if dim % num_heads:
            raise ValueError(f"dim {dim} must be a multiple of num_heads {num_heads}")
        validate.positive(mlp_ratio, "mlp_ratio")
        self.dim, self.num_slots = dim, num_slots
        self._init_queries(num_slots, dim, queries)
        self.layers = nn.ModuleList(_DecoderLayer(dim, num_heads, mlp_ratio) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_tokens(x, self.dim)
        q = self.initial_queries(x.shape[0])
        first = None
        for layer in self.layers:
            q, attn = layer(q, x)
            first = attn if first is None else first
        return q, first
