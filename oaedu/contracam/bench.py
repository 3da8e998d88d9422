"""Benchmarks: the cost of ContraCAM against one forward + backward. The rows of the twins of
:mod:`oaedu.contracam.twins` (batched vs per-image ContraCAM and Grad-CAM, and captum; the largest empty rectangle
of BG-Mixup) follow it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..contrastive import MoCo
from ..timing import Case
from .cam import contracam


def cases(quick: bool) -> list[Case]:
    batch = 8 if quick else 64
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MoCo(queue_size=0).eval()
    images = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    layer = model.encoder.layer

    def forward_backward():
        with torch.enable_grad():
            F.normalize(model(images), dim=1).sum().backward()

    return [
        Case(
            f"ContraCAM T=1, {batch} images 32 px: cost vs one forward + one backward",
            fast=lambda: contracam(model, layer, images, upsample=False),
            peer=forward_backward,
            peer_name="encoder forward + backward",
            note="one forward and one backward: the keys are the detached queries",
            min_vs_peer=0.8,
        ),
    ]
