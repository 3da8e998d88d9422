"""Two-view training of the object encoder (Paper 5, §2.2–2.3) through ``oaedu.train.fit``'s pluggable step.

Each step draws two random views of the batch (random resized crop with area share in ``scale``, flip,
brightness jitter, §2.3), runs the encoder on both and minimises ``λ_G L^G + λ_O L^O``.
"""

from __future__ import annotations

import torch

from .. import validate
from ..data.datasets import MaskedImageDataset, SceneDataset
from ..data.transforms import paired_hflip, paired_random_resized_crop
from ..distributed import gather_for_loss
from ..train import StepFn, StepOutput
from ..utils import map_batches
from .encoder import ObjectEncoder, ObjectOutput
from .losses import MATCHINGS, OBJECT_LOSSES, object_loss, simclr_loss


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
    return one_view(images, masks, scale, brightness, generator), one_view(images, masks, scale, brightness, generator)


def one_view(
    images: torch.Tensor,
    masks: torch.Tensor,
    scale: tuple[float, float] = (0.3, 1.0),
    brightness: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One random view ``(images, masks)`` of a batch (§2.3): a random resized crop with area share in ``scale``,
    a flip and a brightness shift in ``[−brightness, brightness]``; masks are warped with the images."""
    x, m, _ = paired_random_resized_crop(images, masks, tuple(images.shape[-2:]), scale=scale, generator=generator)
    x, m = paired_hflip(x, m, generator=generator)
    shift = brightness * (2 * torch.rand(x.shape[0], 1, 1, 1, generator=generator) - 1)
    return (x + shift.to(x.device)).clamp(0, 1), m


def shuffle_slots(out: ObjectOutput, generator: torch.Generator | None = None) -> ObjectOutput:
    """The object tokens of ``out`` in a random order, one order per image (slots, projections and attention maps
    permuted together; the global branch is untouched). After it, a slot's index says nothing about what it holds,
    as with sampled queries (App. A.2.2). Losses paired by Hungarian matching do not change (they are invariant to
    the slots' order); the identity pairing does."""
    b, k = out.slots.shape[:2]
    order = torch.rand(b, k, generator=generator).argsort(1).to(out.slots.device)

    def take(t: torch.Tensor) -> torch.Tensor:
        # order (B, K) -> (B, K, 1, ...), broadcast over t (B, K, ...)
        return t.gather(1, order.view(b, k, *[1] * (t.ndim - 2)).expand_as(t))

    return out._replace(slots=take(out.slots), proj=take(out.proj), attn=take(out.attn))


def ssl_losses(
    model: ObjectEncoder,
    view0: torch.Tensor,
    view1: torch.Tensor,
    object_kind: str = "ctrimg",
    tau: float = 0.1,
    matching: str = "hungarian",
    shuffle: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, ObjectOutput, ObjectOutput]:
    """``(L^G, L^O, perm, out0, out1)`` for two views: SimCLR on ``p^G`` (Eq. 1; under data parallelism over the global
    batch, every rank computing the whole loss) and the object loss (each rank's own images), its pairs
    ``perm`` from Hungarian matching (``matching="identity"``: slot ``i`` with slot ``i``, the control). With a
    ``shuffle`` generator, each view's slots are put in a random order first (:func:`shuffle_slots`)."""
    validate.choice(object_kind, "object_kind", OBJECT_LOSSES)
    validate.choice(matching, "matching", MATCHINGS)
    validate.positive(tau, "tau")
    validate.images(view0, "view0", model=model.backbone)
    validate.images(view1, "view1", model=model.backbone)
    if view0.shape != view1.shape:
        raise ValueError(f"view0 and view1 must have the same shape, got {tuple(view0.shape)} and {tuple(view1.shape)}")
    out0, out1 = model(view0), model(view1)
    if shuffle is not None:
        out0, out1 = shuffle_slots(out0, shuffle), shuffle_slots(out1, shuffle)
    # under DDP the negatives are the whole global batch, as in one process (gather_for_loss)
    lg = simclr_loss(gather_for_loss(out0.global_proj), gather_for_loss(out1.global_proj), tau)
    lo, perm = object_loss(object_kind, out0.proj, out1.proj, out0.slots, out1.slots, tau, matching)
    return lg, lo, perm, out0, out1


def ssl_step(
    object_kind: str = "ctrimg",
    lambda_global: float = 1.0,
    lambda_object: float = 1.0,
    tau: float = 0.1,
    scale: tuple[float, float] = (0.3, 1.0),
    seed: int = 0,
    matching: str = "hungarian",
    shuffle: bool = False,
) -> StepFn:
    """A :class:`~oaedu.train.StepFn`: ``λ_G L^G + λ_O L^O`` (§2.2) on two fresh views of the batch.

    Self-supervised: the step returns no logits (``fit`` then records no training accuracy). Its terms,
    ``{"global": L^G, "object": L^O, "identity": share}``, land in ``History.terms`` step by step (both losses are
    computed whatever the weights, so a loss with weight 0 is still logged; ``share`` is the fraction of slots that
    the pairing sends to the slot of the same index). ``matching``: see :func:`~oaedu.slots.losses.object_loss`;
    ``shuffle``: each view's slots in a random order before the object loss (:func:`shuffle_slots`), drawn from
    their own generator so that the views are those of the run without it."""
    _check_loss(object_kind, lambda_global, lambda_object, tau, matching)
    validate.interval(scale, "scale", low=0.0, high=1.0, low_open=True)
    seed = validate.seed(seed)
    gen = torch.Generator().manual_seed(seed)
    order_gen = torch.Generator().manual_seed(seed + 1) if shuffle else None

    def step(model, images, labels, masks):
        if len(images) < 2:
            raise ValueError("the SimCLR loss needs at least 2 images per batch (avoid n_train % batch_size == 1)")
        (v0, _), (v1, _) = two_views(images, masks, scale=scale, generator=gen)
        return _ssl_output(model, v0, v1, object_kind, lambda_global, lambda_object, tau, matching, order_gen)

    return step


def _check_loss(object_kind: str, lambda_global: float, lambda_object: float, tau: float, matching: str) -> None:
    """The arguments of ``λ_G L^G + λ_O L^O`` that both SSL steps take."""
    if object_kind not in OBJECT_LOSSES:
        raise ValueError(f"object_kind must be one of {OBJECT_LOSSES}, got {object_kind!r}")
    validate.non_negative(lambda_global, "lambda_global")
    validate.non_negative(lambda_object, "lambda_object")
    if lambda_global + lambda_object == 0:
        raise ValueError("loss weights lambda_global and lambda_object must not both be zero")
    validate.choice(matching, "matching", MATCHINGS)
    validate.positive(tau, "tau")


def _ssl_output(model, v0, v1, object_kind, lambda_global, lambda_object, tau, matching, order_gen) -> StepOutput:
    """The step's loss and terms on two views."""
    lg, lo, perm, _, _ = ssl_losses(model, v0, v1, object_kind, tau, matching, order_gen)
    same = (perm == torch.arange(perm.shape[1], device=perm.device)).double().mean().item()
    terms = {"global": lg.item(), "object": lo.item(), "identity": same}
    return StepOutput(lambda_global * lg + lambda_object * lo, None, terms)


def ssl_views_step(
    object_kind: str = "ctrimg",
    lambda_global: float = 1.0,
    lambda_object: float = 1.0,
    tau: float = 0.1,
    matching: str = "hungarian",
) -> StepFn:
    """:func:`ssl_step` for batches that hold their two views already, ``images (B, 2, 3, H, W)`` (made per image by
    the data pipeline, :class:`oaedu.scale.data.Augmented`, as paper-scale runs do)."""
    _check_loss(object_kind, lambda_global, lambda_object, tau, matching)

    def step(model, images, labels, masks):
        validate.tensor(images, "images (two views: B, 2, 3, H, W)", ndim=5)
        if images.shape[1] != 2 or images.shape[0] < 1:
            raise ValueError(f"images must hold two views per image, (B, 2, 3, H, W), got {tuple(images.shape)}")
        return _ssl_output(
            model, images[:, 0], images[:, 1], object_kind, lambda_global, lambda_object, tau, matching, None
        )

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
def encode(model: ObjectEncoder, images: torch.Tensor, batch_size: int = 256, seed: int = 0) -> ObjectOutput:
    """Run the encoder (eval mode) over ``images`` in batches; outputs on the CPU.

    Sampled queries (App. A.2.2) draw their noise from a generator seeded with ``seed``, so encoding the same
    images twice gives the same slots; the global random state is left as it was."""
    validate.images(images, model=model.backbone)
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    seed = validate.seed(seed)
    model.eval()
    dev = next(model.parameters()).device
    cuda = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        return map_batches(model, images, batch_size, dev)
