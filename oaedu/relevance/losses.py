"""RobustViT's finetuning losses (Chefer et al., NeurIPS 2022, §3, Eq. 1–5)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from .. import validate
from ..maps import minmax
from ..train import StepFn, StepOutput
from .maps import relevance_map, relevance_map_reference


def relevance_losses(
    relevance: torch.Tensor, fg_mask: torch.Tensor, lambda_bg: float = 2.0, lambda_fg: float = 0.3
) -> dict[str, torch.Tensor]:
    """``L_bg = MSE(R⊙(1−S), 0)`` (Eq. 1), ``L_fg = MSE(R⊙S, S)`` (Eq. 2 in the released code's form) and
    ``L_relevance = λ_bg·L_bg + λ_fg·L_fg`` (Eq. 3), RobustViT §3, on per-image min–max normalised maps.

    Eq. (2) as printed is ``MSE(R⊙S, 1)``; on background pixels both ``R⊙S`` and the target ``S`` are 0, so the
    released form differs from it by the constant ``mean(1 − S)`` only and has the same gradient.
    ``relevance`` and ``fg_mask`` have the same shape ``(B, ...)``; the mask is bool or a fraction in [0, 1].
    """
    validate.tensor(relevance, "relevance", dtype="float", min_batch=1, finite_values=True)
    validate.tensor(fg_mask, "fg_mask", finite_values=True)
    validate.non_negative(lambda_bg, "lambda_bg")
    validate.non_negative(lambda_fg, "lambda_fg")
    if relevance.shape != fg_mask.shape:
        raise ValueError(f"relevance {tuple(relevance.shape)} and fg_mask {tuple(fg_mask.shape)} must match")
    if relevance.ndim < 2:
        raise ValueError(f"relevance must be a batch of maps (B, ...), got shape {tuple(relevance.shape)}")
    s = fg_mask.to(relevance.dtype)
    if (s < 0).any() or (s > 1).any():
        raise ValueError("fg_mask must lie in [0, 1]")
    r = minmax(relevance)
    bg = (r * (1 - s)).square().mean()
    fg = (r * s - s).square().mean()
    return {"bg": bg, "fg": fg, "relevance": lambda_bg * bg + lambda_fg * fg}


RESOLUTIONS = ("pixel", "patch")


def relevance_at(relevance: torch.Tensor, masks: torch.Tensor, resolution: str = "pixel"):
    """The map and the mask that RobustViT's losses compare, at ``resolution``; returns ``(map, mask)``.

    ``relevance``: ``(B, h, w)`` maps on the patch grid (as :func:`relevance_map` returns them); ``masks``: the
    ``(B, H, W)`` pixel masks. ``"pixel"`` (the paper, §3, and its released code): the map is upsampled bilinearly
    to ``(H, W)`` and the bool masks stay binary. ``"patch"`` (a cheaper variant): the map stays on the ``h×w`` grid
    and each patch's target is its object fraction (area pooling). The patch form weighs a boundary patch covered by
    a fraction ``f`` by ``f²`` in ``L_fg`` where the pixel form weighs it about ``f``, so it under-weights object
    boundaries.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    validate.tensor(
        relevance, "relevance (maps on the patch grid, as relevance_map returns them)", ndim=3, finite_values=True
    )
    validate.binary_map(masks, "masks", ndim=3)
    validate.tensor(masks, "masks", ndim=3, min_batch=1)
    validate.same_batch(relevance=relevance, masks=masks)
    if resolution == "patch":
        return relevance, F.adaptive_avg_pool2d(masks[:, None].float(), relevance.shape[-2:])[:, 0]
    up = F.interpolate(relevance[:, None], size=masks.shape[-2:], mode="bilinear", align_corners=False)
    return up[:, 0], masks


def robustvit_step(
    lambda_rel: float = 0.8,
    lambda_cls: float = 0.2,
    lambda_bg: float = 2.0,
    lambda_fg: float = 0.3,
    create_graph: bool = False,
    reference: bool = False,
    resolution: str = "pixel",
) -> StepFn:
    """A :class:`~oaedu.train.StepFn`: ``λ_rel·L_relevance + λ_cls·CE(logits, argmax logits)`` (Eq. 4–5).

    The relevance target is the ground-truth label (as in the released code). The losses compare the map and the
    mask at ``resolution`` (:func:`relevance_at`: ``"pixel"``, the paper's, by default). ``lambda_rel = 0`` gives
    the confidence-only control; ``reference=True`` computes the map with :func:`relevance_map_reference` (same
    values, slower: for benchmarks and teaching). The logits are those of the forward pass the map explains.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    for name, value in (
        ("lambda_rel", lambda_rel),
        ("lambda_cls", lambda_cls),
        ("lambda_bg", lambda_bg),
        ("lambda_fg", lambda_fg),
    ):
        validate.non_negative(value, name)
    relevance = relevance_map_reference if reference else relevance_map

    def step(model, images, labels, masks):
        validate.same_batch(images=images, labels=labels, masks=masks)
        if lambda_rel == 0:
            logits = model(images)
            confidence = _confidence(logits)
            return StepOutput(lambda_cls * confidence, logits, {"confidence": confidence.item()})
        with _outputs(model) as outputs:
            rel = relevance(model, images, labels, create_graph=create_graph)
        logits = outputs[-1]
        losses = relevance_losses(*relevance_at(rel, masks, resolution), lambda_bg, lambda_fg)
        confidence = _confidence(logits)
        terms = {**{name: value.item() for name, value in losses.items()}, "confidence": confidence.item()}
        return StepOutput(lambda_rel * losses["relevance"] + lambda_cls * confidence, logits, terms)

    return step


def _confidence(logits: torch.Tensor) -> torch.Tensor:
    """``CE(logits, argmax logits)``: RobustViT's classification term, which keeps the model's own predictions."""
    return F.cross_entropy(logits, logits.detach().argmax(1))


@contextmanager
def _outputs(model: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collects what ``model`` returns while the block runs (the logits the relevance map explains, graph kept)."""
    outputs: list[torch.Tensor] = []
    handle = model.register_forward_hook(lambda module, args, output: outputs.append(output))
    try:
        yield outputs
    finally:
        handle.remove()
