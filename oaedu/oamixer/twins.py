"""The reference/fast twins of OAMixer: masked attention (Eq. 5), the Mixer's token mixing (Eq. 7) and the local
ConvMixer (Eq. 11), each with the inputs it is checked and timed on (collected by :mod:`oaedu.twins`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..timing import Example, Twin, check_size, clock, generator, time_fn
from .attention import attention, attention_reference
from .mask import local_distance, pairwise_distance
from .mixing import (
    conv_mixing,
    conv_mixing_method,
    conv_mixing_reference,
    mixer_linearisation,
    mixer_mixing,
    mixer_mixing_reference,
)


def _attention_examples(size: str) -> list[Example]:
    if check_size(size) == "test":
        g = generator(1)
        q, k, v = (torch.randn(3, 2, 10, 8, generator=g, dtype=torch.float64) for _ in range(3))
        labels = torch.rand(3, 10, 1, generator=g, dtype=torch.float64)
        mask = torch.exp(-2.3 * pairwise_distance(labels))
        return [Example((q, k, v), {"mask": mask}), Example((q, k, v), {"log_mask": mask.log()})]
    batch, heads, n, d = (2 if size == "quick" else 8), 3, 197, 64
    g = generator()
    q, k, v = (torch.randn(batch, heads, n, d, generator=g) for _ in range(3))
    log_mask = -1.5 * pairwise_distance(torch.rand(batch, n, 1, generator=g))
    return [
        Example(
            (q, k, v),
            {"log_mask": log_mask},
            f"B={batch} H={heads} N={n} D={d}",
            peer=lambda: F.scaled_dot_product_attention(q, k, v),
            peer_name="SDPA, no mask",
        )
    ]


def _mixer_examples(size: str) -> list[Example]:
    batch, channels, n, hidden = (3, 8, 16, 12) if check_size(size) == "test" else (8, 64, 64, 256)
    if size == "quick":
        batch = 2
    dtype = torch.float64 if size == "test" else torch.float32
    g = generator(2)
    x = torch.randn(batch, channels, n, generator=g, dtype=dtype)
    lin = mixer_linearisation(
        torch.randn(hidden, n, generator=g, dtype=dtype) / n**0.5,
        torch.randn(n, hidden, generator=g, dtype=dtype) / hidden**0.5,
    )
    f_x = x @ lin.T + torch.randn(batch, channels, n, generator=g, dtype=dtype)  # a linear part plus a residual
    log_mask = -1.3 * pairwise_distance(torch.rand(batch, n, 1, generator=g, dtype=dtype))
    label = f"B={batch} C={channels} N={n}"
    if size == "test":
        return [Example((f_x, x, lin), {"mask": log_mask.exp()}), Example((f_x, x, lin), {"log_mask": log_mask})]
    return [Example((f_x, x, lin), {"log_mask": log_mask}, label)]


def _conv_example(
    batch: int, channels: int, side: tuple[int, int], kernel: int, dtype: torch.dtype, bench: bool
) -> Example:
    g = generator(3 if not bench else 0)
    h, w = side
    x = torch.randn(batch, channels, h, w, generator=g, dtype=dtype)
    weight = torch.randn(kernel, kernel, generator=g, dtype=dtype)
    labels = torch.rand(batch, h * w, 1, generator=g, dtype=dtype)
    # what a layer receives: its κ times the local label distances of this forward
    log_mask = -1.5 * local_distance(labels.transpose(1, 2).reshape(batch, 1, h, w), kernel)
    if not bench:
        return Example((x, weight, 0.25), {"log_mask": log_mask})
    method = conv_mixing_method(h * w, kernel)
    other = "local" if method == "dense" else "dense"
    conv2d_ms = time_fn(
        lambda: F.conv2d(x, weight.expand(channels, 1, kernel, kernel), padding=kernel // 2, groups=channels),
        timer=clock()[0],
    )
    return Example(
        (x, weight, 0.0),
        {"log_mask": log_mask},
        f"{h}×{w} C={channels} S={kernel}: fast ({method})",
        peer=lambda: conv_mixing(x, weight, 0.0, log_mask=log_mask, method=other),
        peer_name=f"conv_mixing, {other} branch",
        note=f"unmasked conv2d would take {conv2d_ms:.2g} ms",
    )


def _conv_examples(size: str) -> list[Example]:
    if check_size(size) == "test":  # 7×9 with S = 5 takes the dense branch, 11×11 with S = 3 the local one
        return [
            _conv_example(2, 4, (7, 9), 5, torch.float64, False),
            _conv_example(2, 3, (11, 11), 3, torch.float64, False),
        ]
    channels = 32 if size == "quick" else 64
    sides = (14, 28) if size == "quick" else (14, 28, 56)
    return [_conv_example(2 if size == "quick" else 8, channels, (s, s), 9, torch.float32, True) for s in sides]


TWINS: tuple[Twin, ...] = (
    Twin(
        attention_reference,
        attention,
        _attention_examples,
        "oamixer attention {label}: fast vs Eq.5 reference",
        min_vs_reference=1.0,
        min_vs_peer=1 / 1.3,
        note="both from the layer's log M = −κ·D; fast = one masked SDPA call, the reference exponentiates log M. "
        "Timed in CPU time on 1 thread, the ratio holds under load (with 2 threads and wall time each OpenMP "
        "region may wait a scheduler tick for a descheduled worker)",
        atol=1e-12,
        rtol=0,
    ),
    Twin(
        mixer_mixing_reference,
        mixer_mixing,
        _mixer_examples,
        "oamixer Mixer token mixing {label}: fast vs Eq.7 reference",
        min_vs_reference=1.0,
        note="both from the layer's log M = −κ·D; the reference loops over images",
        atol=1e-10,
        rtol=0,
    ),
    Twin(
        conv_mixing_reference,
        conv_mixing,
        _conv_examples,
        "oamixer ConvMixer {label} vs Toeplitz",
        min_vs_reference=1.0,
        min_vs_peer=1.0,
        note="all three from the layer's local log M = −κ·D (the reference gathers its N×N mask from it)",
        atol=1e-10,
        rtol=0,
        fast_only=("method",),
    ),
)
