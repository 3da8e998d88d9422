"""Benchmarks: batched vs per-image ContraCAM (and captum with the same score model); Grad-CAM vs captum."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..bench import Case
from ..contrastive import MoCo, SmallEncoder
from .cam import ContrastiveScore, contracam, contracam_reference, gradcam, gradcam_reference


def cases(quick: bool) -> list[Case]:
    batch = 8 if quick else 64
    torch.manual_seed(0)
    model = MoCo(queue_size=0).eval()
    images = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    layer = model.encoder.layer
    enc = SmallEncoder()
    clf = nn.Sequential(enc, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(enc.out_dim, 9)).eval()
    targets = torch.arange(batch) % 9
    cc_peer = gc_peer = None
    try:
        from captum.attr import LayerGradCam

        score = ContrastiveScore(model).eval()
        lgc_score, lgc_clf = LayerGradCam(score, layer), LayerGradCam(clf, enc.layer)

        def cc_peer():
            with torch.no_grad():
                keys = F.normalize(model(images), dim=1)
            return lgc_score.attribute(images, additional_forward_args=(keys,), attr_dim_summation=False)

        def gc_peer():
            return lgc_clf.attribute(images, target=targets, relu_attributions=True)
    except ImportError:
        pass
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
        Case(
            f"ContraCAM, {batch} images 32 px",
            fast=lambda: contracam(model, layer, images, upsample=False),
            reference=lambda: contracam_reference(model, layer, images, upsample=False),
            peer=cc_peer,
            peer_name="captum LayerGradCam (score model)" if cc_peer else "",
            note="one backward vs one per image; 8×8 maps, no upsampling",
            min_vs_reference=3.0,
            min_vs_peer=1.0 if cc_peer else None,
        ),
        Case(
            f"Grad-CAM, {batch} images 32 px",
            fast=lambda: gradcam(clf, enc.layer, images, targets, normalize=False),
            reference=lambda: gradcam_reference(clf, enc.layer, images, targets, normalize=False),
            peer=gc_peer,
            peer_name="captum LayerGradCam" if gc_peer else "",
            note="classifier Grad-CAM, raw maps at the layer resolution; as fast as captum",
            min_vs_reference=2.0,
            min_vs_peer=0.8 if gc_peer else None,
        ),
    ]
