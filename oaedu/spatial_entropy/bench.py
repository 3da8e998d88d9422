"""Benchmarks for spatial entropy: connected components and the entropy (the twins of :mod:`oaedu.maps.twins` and
:mod:`oaedu.spatial_entropy.twins`), the torch labeller on the CPU, and the SAR training-step overhead."""

from __future__ import annotations

import torch

from ..maps.components import connected_components, connected_components_reference
from ..maps.twins import TWINS as MAP_TWINS
from ..models import tiny_vit
from ..timing import Case
from ..train import StepFn, cross_entropy_step
from .sar import sar_step
from .twins import TWINS as ENTROPY_TWINS

(COMPONENTS,) = MAP_TWINS
(ENTROPY,) = ENTROPY_TWINS
TWINS = (COMPONENTS, ENTROPY)  # placed here, the torch labeller's row between them


def _torch_labeller_case(mask: torch.Tensor) -> Case:
    """The torch labeller (the GPU path) timed on the CPU, on the connected-components twin's mask."""
    size = "×".join(str(n) for n in mask.shape)
    return Case(
        name=f"connected components {size}, torch labeller (the GPU path) on CPU",
        fast=lambda: connected_components(mask, backend="torch"),
        reference=lambda: connected_components_reference(mask),
        peer=lambda: connected_components(mask),
        peer_name="connected_components on CPU (scipy)",
        note="min-label propagation in torch, no host copy, no loop over maps; timed here on the CPU",
        min_vs_reference=2.0,
    )


def _step_case(quick: bool) -> Case:
    torch.manual_seed(0)
    model = tiny_vit(num_classes=9, image_size=32, patch_size=4)
    x = torch.randn(32 if quick else 128, 3, 32, 32)
    y = torch.randint(0, 9, (x.shape[0],))

    def train_step(step: StepFn):
        def run():
            model.zero_grad(set_to_none=True)
            step(model, x, y, None).loss.backward()

        return run

    return Case(
        name=f"SAR train step (B={x.shape[0]}, 8×8 grid)",
        fast=train_step(sar_step(lambda_entropy=0.01)),
        peer=train_step(cross_entropy_step()),
        peer_name="plain cross-entropy step",
        note="peer/fast < 1 is the SAR overhead: at most 1.5× a cross-entropy step",
        min_vs_peer=1 / 1.5,
    )


def cases(quick: bool) -> list[Case]:
    """Rows: components and entropy of 256 maps of 8×8 and 1536 of 14×14 (the two twins, the torch labeller on the
    CPU between them); SAR step vs cross-entropy step."""
    masks = [ex.args[0] for ex in COMPONENTS.examples("quick" if quick else "full")]
    components = COMPONENTS.bench_cases(quick)
    entropies = ENTROPY.bench_cases(quick)
    out: list[Case] = []
    for comp, mask, ent in zip(components, masks, entropies, strict=True):
        out += [comp, _torch_labeller_case(mask), ent]
    out.append(_step_case(quick))
    return out
