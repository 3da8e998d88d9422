"""Benchmarks for OAMixer: masked attention and the local ConvMixer (discovered by ``python -m oaedu.bench``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..bench import Case, clock, time_fn
from .attention import attention, attention_reference
from .mask import local_distance, pairwise_distance
from .mixing import conv_mixing, conv_mixing_method, conv_mixing_reference


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
            note="fast = the −κ·D product + one masked SDPA call. Load hurt it with 2 threads and wall time: each "
            "OpenMP parallel region may wait a scheduler tick (4 ms) for a descheduled worker, and fast has two "
            "regions (the product, SDPA) to the plain call's one; the masked kernel itself costs what the plain "
            "one does. Timed in CPU time on 1 thread, the ratio holds under load",
            min_vs_reference=1.0,
            min_vs_peer=1 / 1.3,
        )
    ]


def _conv_case(batch: int, channels: int, side: int, kernel: int) -> Case:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, side, side, generator=g)
    w = torch.randn(kernel, kernel, generator=g)
    labels = torch.rand(batch, side * side, 1, generator=g)
    kappa = torch.tensor(1.5)
    # what a layer receives: the label distances of this forward (shared by all layers) and its own κ
    dist = pairwise_distance(labels)
    dist_local = local_distance(labels.transpose(1, 2).reshape(batch, 1, side, side), kernel)
    method = conv_mixing_method(side * side, kernel)
    other = "local" if method == "dense" else "dense"
    return Case(
        f"oamixer ConvMixer {side}×{side} C={channels} S={kernel}: fast ({method}) vs Toeplitz",
        fast=lambda: conv_mixing(x, w, 0.0, -kappa * dist_local),
        reference=lambda: conv_mixing_reference(x, w, 0.0, torch.exp(-kappa * dist), (side, side)),
        peer=lambda: conv_mixing(x, w, 0.0, -kappa * dist_local, method=other),
        peer_name=f"conv_mixing, {other} branch",
        note="all three from the layer's label distances and κ (the reference builds its N×N mask); "
        f"unmasked conv2d would take {_conv2d_ms(x, w):.2g} ms",
        min_vs_reference=1.0,
        min_vs_peer=1.0,
    )


def _conv2d_ms(x: torch.Tensor, w: torch.Tensor) -> float:
    s, c = w.shape[0], x.shape[1]
    return time_fn(lambda: F.conv2d(x, w.expand(c, 1, s, s), padding=s // 2, groups=c), timer=clock()[0])


def cases(quick: bool) -> list[Case]:
    """Fast vs reference OAMixer attention (N = 197, D = 64); ConvMixer (Eq. 11) at 14×14, 28×28 and 56×56."""
    batch = 2 if quick else 8
    out = _attention_case(batch, 3, 197, 64)
    for side in (14, 28) if quick else (14, 28, 56):
        out.append(_conv_case(batch, 32 if quick else 64, side, 9))
    return out
