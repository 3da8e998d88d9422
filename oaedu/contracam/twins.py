"""The reference/fast twins of ContraCAM: contrastive and classifier Grad-CAM, batched vs per image, and the
largest empty rectangle of BG-Mixup, each with the inputs it is checked and timed on (collected by
:mod:`oaedu.twins`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..contrastive import MoCo, SmallEncoder
from ..timing import Example, Twin, check_size, generator
from .augment import largest_empty_rectangle, largest_empty_rectangle_reference
from .cam import ContrastiveScore, contracam, contracam_reference, gradcam, gradcam_reference


def _moco() -> MoCo:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MoCo(queue_size=0)
        model.train()
        with torch.no_grad():  # non-trivial BN statistics, so eval mode is not the identity
            model(torch.rand(64, 3, 32, 32, generator=generator(2)))
    return model.eval()


def _classifier() -> tuple[nn.Module, nn.Module]:
    with torch.random.fork_rng():
        torch.manual_seed(1)
        enc = SmallEncoder()
        clf = nn.Sequential(enc, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(enc.out_dim, 9)).eval()
    return clf, enc.layer


def _images(size: str) -> torch.Tensor:
    batch = {"test": 6, "quick": 8, "full": 64}[check_size(size)]
    return torch.rand(batch, 3, 32, 32, generator=generator(0 if size != "test" else 1))


def _contracam_examples(size: str) -> list[Example]:
    model, images = _moco(), _images(size)
    if size == "test":
        return [Example((model, model.encoder.layer, images), {"nsr": nsr}) for nsr in (True, False)]
    peer = None
    try:
        from captum.attr import LayerGradCam

        lgc = LayerGradCam(ContrastiveScore(model).eval(), model.encoder.layer)

        def peer():
            with torch.no_grad():
                keys = F.normalize(model(images), dim=1)
            return lgc.attribute(images, additional_forward_args=(keys,), attr_dim_summation=False)
    except ImportError:
        pass
    return [
        Example(
            (model, model.encoder.layer, images),
            {"upsample": False},
            f"{len(images)} images 32 px",
            peer=peer,
            peer_name="captum LayerGradCam (score model)" if peer else "",
        )
    ]


def _gradcam_examples(size: str) -> list[Example]:
    (clf, layer), images = _classifier(), _images(size)
    targets = torch.arange(len(images)) % 9
    if size == "test":
        return [Example((clf, layer, images, targets)), Example((clf, layer, images, targets), {"normalize": False})]
    peer = None
    try:
        from captum.attr import LayerGradCam

        lgc = LayerGradCam(clf, layer)

        def peer():
            return lgc.attribute(images, target=targets, relu_attributions=True)
    except ImportError:
        pass
    return [
        Example(
            (clf, layer, images, targets),
            {"normalize": False},
            f"{len(images)} images 32 px",
            peer=peer,
            peer_name="captum LayerGradCam" if peer else "",
        )
    ]


def _rectangle_examples(size: str) -> list[Example]:
    n, h, w = {"test": (12, 7, 9), "quick": (4, 10, 10), "full": (8, 12, 12)}[check_size(size)]
    masks = torch.rand(n, h, w, generator=generator(3)) < 0.25
    examples = [Example((masks,), label=f"{n} maps {h}×{w}")]
    if size == "test":
        examples += [Example((masks[0],)), Example((torch.ones(2, 4, 4, dtype=torch.bool),))]
    return examples


def _same_area_and_empty(got: torch.Tensor, want: torch.Tensor, example: Example) -> None:
    """Rectangles agree when they have the same area (ties may pick different ones) and hold no True pixel."""
    assert got.shape == want.shape and got.dtype == want.dtype == torch.int64, (got.shape, want.shape)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])
    assert torch.equal(area(got), area(want)), (got, want)
    masks = example.args[0]
    for m, (y0, x0, y1, x1) in zip(masks.reshape(-1, *masks.shape[-2:]), got.reshape(-1, 4).tolist(), strict=True):
        assert not m[y0:y1, x0:x1].any()


TWINS: tuple[Twin, ...] = (
    Twin(
        contracam_reference,
        contracam,
        _contracam_examples,
        "ContraCAM, {label}",
        min_vs_reference=3.0,
        min_vs_peer=1.0,
        note="one backward vs one per image; 8×8 maps, no upsampling",
        atol=1e-4,
        rtol=0,
    ),
    Twin(
        gradcam_reference,
        gradcam,
        _gradcam_examples,
        "Grad-CAM, {label}",
        min_vs_reference=2.0,
        min_vs_peer=0.8,
        note="classifier Grad-CAM, raw maps at the layer resolution; as fast as captum",
        atol=1e-5,
        rtol=0,
    ),
    Twin(
        largest_empty_rectangle_reference,
        largest_empty_rectangle,
        _rectangle_examples,
        "BG-Mixup largest empty rectangle, {label}",
        min_vs_reference=10.0,
        note="brute force over every rectangle vs run lengths, batched",
        agree=_same_area_and_empty,
    ),
)
