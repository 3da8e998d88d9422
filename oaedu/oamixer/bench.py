"""Benchmarks for OAMixer: masked attention and the local ConvMixer (discovered by ``python -m oaedu.bench``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..bench import Case
from .attention import attention, attention_reference
from .mask import local_distance, pairwise_distance
from .mixing import conv_mixing, conv_mixing_reference


def _attention_case(batch: int, heads: int, n: int, d: int) -> list[Case]:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(batch, heads, n, d, generator=g) for _ in range(3))
    labels = torch.rand(batch, n, 1, generator=g)
    dist = pairwise_distance(labels)
    kappa = torch.tensor(1.5)
    mask = torch.exp(-kappa * dist)

    def fast():
        return attention(q, k, v, log_mask=-kappa * dist)

    return [
        Case(
            f"oamixer attention B={batch} H={heads} N={n} D={d}: fast vs Eq.5 reference",
            fast=fast,
            reference=lambda: attention_reference(q, k, v, mask),
            peer=lambda: F.scaled_dot_product_attention(q, k, v),
            peer_name="SDPA, no mask",
            note="goal: fast ≤ 1.3× unmasked SDPA (peer column)",
        )
    ]


def _conv_case(batch: int, channels: int, side: int, kernel: int) -> Case:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, side, side, generator=g)
    w = torch.randn(kernel, kernel, generator=g)
    labels = torch.rand(batch, side * side, 1, generator=g)
    kappa = 1.5
    mask = torch.exp(-kappa * pairwise_distance(labels))
    log_local = -kappa * local_distance(labels.transpose(1, 2).reshape(batch, 1, side, side), kernel)
    return Case(
        f"oamixer ConvMixer {side}×{side} C={channels} S={kernel}: local vs Toeplitz",
        fast=lambda: conv_mixing(x, w, 0.0, log_local),
        reference=lambda: conv_mixing_reference(x, w, 0.0, mask, (side, side)),
        peer=lambda: F.conv2d(x, w.expand(channels, 1, kernel, kernel), padding=kernel // 2, groups=channels),
        peer_name="conv2d, no mask",
    )


def cases(quick: bool) -> list[Case]:
    """Fast vs reference OAMixer attention (N = 197, D = 64) and local vs Toeplitz ConvMixer (14×14, 28×28)."""
    batch = 2 if quick else 8
    out = _attention_case(batch, 3, 197, 64)
    out.append(_conv_case(batch, 32 if quick else 64, 14, 9))
    out.append(_conv_case(batch, 32 if quick else 64, 28, 9))
    return out
