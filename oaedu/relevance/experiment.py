"""The finetuning experiment of notebook 05: RobustViT (Chefer et al., NeurIPS 2022, §3–4) at toy scale.

A pretrained ViT is finetuned for a few epochs on a few masked images (§4, "Models and Training": AdamW, weight
decay 1e-4, a small batch), with RobustViT's step or a control step; :func:`object_share` measures where its
relevance lies, and :func:`misplaced_masks` breaks the premise that the masks mark the object.
"""

from __future__ import annotations

import copy
import dataclasses

import torch

from .. import validate
from ..data import MaskedImageDataset
from ..metrics import mass_on_object
from ..train import History, StepFn, fit
from ..utils import map_batches, seed_everything
from .maps import relevance_map


def detached_relevance(
    model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor | None = None
) -> torch.Tensor:
    """:func:`relevance_map` computed on the model's device, detached on the CPU: ``float (B, h, w)``, for pictures
    and measurements."""
    device = next(model.parameters()).device
    maps = relevance_map(model, images.to(device), None if target is None else target.to(device))
    return maps.detach().cpu()


def object_share(model: torch.nn.Module, data: MaskedImageDataset, n: int = 256, batch_size: int = 256) -> float:
    """Share (%) of the relevance that falls on the object, ``Σ r·S / Σ r``, averaged over the first ``n`` images.

    The relevance is taken for the predicted class, as in the paper's segmentation test (§4, Table 3); the mask is
    area-pooled to the patch grid (:func:`oaedu.metrics.mass_on_object`).
    """
    validate.integer(n, "n", low=1)
    validate.integer(batch_size, "batch_size", low=1)
    n = min(n, len(data))

    def relevance(batch: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():  # map_batches runs under no_grad; the map is a gradient of the logit
            return relevance_map(model, batch).detach()

    maps = map_batches(relevance, data.images[:n], batch_size, next(model.parameters()).device)
    return 100.0 * mass_on_object(maps, data.masks[:n]).mean().item()


def finetune(
    pretrained: torch.nn.Module,
    data: MaskedImageDataset,
    step: StepFn,
    lr: float,
    epochs: int,
    seed: int,
    batch_size: int = 16,
    device: torch.device | str | None = None,
) -> tuple[torch.nn.Module, History]:
    """Finetune a copy of ``pretrained`` on ``data`` with ``step``; return ``(model, history)``.

    AdamW with weight decay 1e-4, as RobustViT's released training script (§4); no flips (a mirrored diagonal
    stripe of the marker toy is a texture of no class). ``pretrained`` is left untouched, and every arm with the
    same ``seed`` sees the same batches in the same order.
    """
    seed_everything(seed)
    model = copy.deepcopy(pretrained)
    history = fit(
        model,
        data,
        epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=1e-4,
        step=step,
        flip=False,
        seed=seed,
        device=device,
        progress=False,
    )
    return model, history


def misplaced_masks(data: MaskedImageDataset, shift: int = 1) -> MaskedImageDataset:
    """A copy of ``data`` where image ``i`` carries the mask of image ``i − shift``: masks of the right size and
    shape that do not mark the image's own object (the control in which RobustViT's premise fails)."""
    if not isinstance(shift, int) or len(data) < 2 or shift % len(data) == 0:
        raise ValueError(f"shift must be an int that moves every mask to another image, got {shift!r} for {len(data)}")
    return dataclasses.replace(data, masks=data.masks.roll(shift, 0))
