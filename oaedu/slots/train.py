"""Two-view training of the object encoder (Paper 5, §2.2–2.3) through ``oaedu.train.fit``'s pluggable step.

Each step draws two random views of the batch (random resized crop with area share in ``scale``, flip,
brightness jitter, §2.3), runs the encoder on both and minimises ``λ_G L^G + λ_O L^O``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import validate
from ..data.datasets import MaskedImageDataset, SceneDataset
from ..data.transforms import paired_hflip, paired_random_resized_crop
from .encoder import ObjectEncoder, ObjectOutput
from .losses import OBJECT_LOSSES, object_loss, simclr_loss


def two_views(
    images: torch.Tensor,
    masks: torch.Tensor,
    scale: tuple[float, float] = (0.3, 1.0),
    brightness: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Two independent views ``((img0, mask0), (img1, mask1))`` of a batch; masks are warped with the images."""
    validate.non_negative(brightness, "brightness")
    validate.tensor(images, "images", min_ndim=2)
    size = tuple(images.shape[-2:])
    views = []
    for _ in range(2):
        x, m, _ = paired_random_resized_crop(images, masks, size, scale=scale, generator=generator)
        x, m = paired_hflip(x, m, generator=generator)
        shift = brightness * (2 * torch.rand(x.shape[0], 1, 1, 1, generator=generator) - 1)
        views.append(((x + shift.to(x.device)).clamp(0, 1), m))
    return views[0], views[1]


def ssl_losses(
    model: ObjectEncoder,
    view0: torch.Tensor,
    view1: torch.Tensor,
    object_kind: str = "ctrimg",
    tau: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, ObjectOutput, ObjectOutput]:
    """``(L^G, L^O, out0, out1)`` for two views: SimCLR on ``p^G`` (Eq. 1) and the matched object loss."""
    validate.choice(object_kind, "object_kind", OBJECT_LOSSES)
    validate.positive(tau, "tau")
    validate.images(view0, "view0", model=model.backbone)
    validate.images(view1, "view1", model=model.backbone)
    if view0.shape != view1.shape:
        raise ValueError(f"view0 and view1 must have the same shape, got {tuple(view0.shape)} and {tuple(view1.shape)}")
    out0, out1 = model(view0), model(view1)
    lg = simclr_loss(out0.global_proj, out1.global_proj, tau)
    lo, _ = object_loss(object_kind, out0.proj, out1.proj, out0.slots, out1.slots, tau)
    return lg, lo, out0, out1


def ssl_step(
    object_kind: str = "ctrimg",
    lambda_global: float = 1.0,
    lambda_object: float = 1.0,
    tau: float = 0.1,
    scale: tuple[float, float] = (0.3, 1.0),
    seed: int = 0,
    log: list[dict[str, float]] | None = None,
) -> Callable:
    """A step for :func:`oaedu.train.fit`: ``λ_G L^G + λ_O L^O`` on two fresh views of the batch.

    The returned "logits" are zeros (self-supervised: ``fit``'s accuracy column is meaningless here). When
    ``log`` is a list, each step appends ``{"global": L^G, "object": L^O}``."""
    if object_kind not in OBJECT_LOSSES:
        raise ValueError(f"object_kind must be one of {OBJECT_LOSSES}, got {object_kind!r}")
    validate.non_negative(lambda_global, "lambda_global")
    validate.non_negative(lambda_object, "lambda_object")
    if lambda_global + lambda_object == 0:
        raise ValueError("loss weights lambda_global and lambda_object must not both be zero")
    validate.positive(tau, "tau")
    validate.interval(scale, "scale", low=0.0, high=1.0, low_open=True)
    seed = validate.integer(seed, "seed", low=0)
    gen = torch.Generator().manual_seed(seed)

    def step(model, images, labels, masks):
        if len(images) < 2:
            raise ValueError("the SimCLR loss needs at least 2 images per batch (avoid n_train % batch_size == 1)")
        (v0, _), (v1, _) = two_views(images, masks, scale=scale, generator=gen)
        lg, lo, _, _ = ssl_losses(model, v0, v1, object_kind, tau)
        if log is not None:
            log.append({"global": lg.item(), "object": lo.item()})
        return lambda_global * lg + lambda_object * lo, torch.zeros(len(images), 1, device=images.device)

    return step


def as_training_data(scenes: SceneDataset) -> MaskedImageDataset:
    """Scenes as the ``MaskedImageDataset`` that ``fit`` iterates (labels unused, mask = foreground)."""
    if not isinstance(scenes, SceneDataset):
        raise TypeError(f"scenes must be a SceneDataset (from multi_object_scenes), got {type(scenes).__name__}")
    n = len(scenes)
    return MaskedImageDataset(
        scenes.images, torch.zeros(n, dtype=torch.int64), scenes.instance_masks > 0, num_classes=1
    )


@torch.no_grad()
def encode(model: ObjectEncoder, images: torch.Tensor, batch_size: int = 256) -> ObjectOutput:
    """Run the encoder (eval mode) over ``images`` in batches; outputs on the CPU."""
    validate.images(images, model=model.backbone)
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    model.eval()
    dev = next(model.parameters()).device
    parts = [model(images[i : i + batch_size].to(dev)) for i in range(0, len(images), batch_size)]
    return ObjectOutput(*(torch.cat([getattr(p, f).cpu() for p in parts]) for f in ObjectOutput._fields))
