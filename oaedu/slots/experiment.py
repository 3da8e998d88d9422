"""The experiment of notebook 06: train object encoders for several seeds and score them (Paper 5, §3).

An :class:`Arm` is one training configuration (object function, queries, object loss, loss weights, matching);
:func:`train_arm` trains it with its step (:meth:`Arm.step`, a :func:`~oaedu.slots.train.ssl_step`) through
:func:`oaedu.train.fit`, and :func:`score` measures what the paper measures (Table 2: Otsu + Hungarian IoU; Table 3:
linear probes on the object tokens and on the global vector) plus FG-ARI, the mean cosine between the slots of one
image, and how often the Hungarian matching of two test views is the identity. ``oaedu.check.effect`` compares two
arms over seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import SCENE_COLOURS
from ..data.datasets import SceneDataset
from ..train import StepFn, fit
from .encoder import ObjectEncoder
from .evaluate import auroc, fg_ari, otsu_masks, presence_targets, segmentation_iou, slot_probe_scores
from .losses import MATCHINGS, OBJECT_LOSSES, match_slots
from .train import as_training_data, encode, ssl_step, two_views


@dataclass(frozen=True)
class Arm:
    """One training configuration: ``λ_G L^G + λ_O L^O`` (§2.2) on an encoder with ``attention`` and ``queries``."""

    attention: str = "slot"  # "slot" (softmax over slots) or "cross" (softmax over patches), §2.1
    queries: str = "learned"  # "learned" or "sampled" (App. A.2.2)
    object_kind: str = "ctrimg"  # "ctrall", "ctrimg" or "cossim" (Eq. 2, 3)
    lambda_global: float = 1.0
    lambda_object: float = 1.0
    matching: str = "hungarian"  # "identity": the control without matching
    shuffle: bool = False  # each view's slots in a random order before the object loss

    def __post_init__(self) -> None:
        if self.attention not in ("slot", "cross") or self.queries not in ("learned", "sampled"):
            raise ValueError(f"unknown attention {self.attention!r} or queries {self.queries!r}")
        if self.object_kind not in OBJECT_LOSSES or self.matching not in MATCHINGS:
            raise ValueError(f"unknown object loss {self.object_kind!r} or matching {self.matching!r}")

    def step(self, tau: float = 0.1, scale: tuple[float, float] = (0.3, 1.0), seed: int = 0) -> StepFn:
        """This arm's training step: :func:`~oaedu.slots.train.ssl_step` with its loss, weights and matching."""
        return ssl_step(
            object_kind=self.object_kind,
            lambda_global=self.lambda_global,
            lambda_object=self.lambda_object,
            tau=tau,
            scale=scale,
            seed=seed,
            matching=self.matching,
            shuffle=self.shuffle,
        )


def train_arm(
    arm: Arm,
    scenes: SceneDataset,
    seed: int,
    encoder: Mapping[str, int],
    epochs: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    tau: float = 0.1,
    scale: tuple[float, float] = (0.3, 1.0),
    device: torch.device | str | None = None,
    progress: bool = True,
) -> tuple[ObjectEncoder, list[dict[str, float]]]:
    """Train a fresh :class:`ObjectEncoder` (``encoder``: its size arguments) for ``arm``; returns the model and the
    per-step terms of :func:`ssl_step` (``History.terms``: ``L^G``, ``L^O`` and the identity share, logged even when
    a weight is 0). Initialisation, batches and views all follow ``seed``."""
    torch.manual_seed(seed)
    model = ObjectEncoder(arm.attention, queries=arm.queries, **encoder)
    desc = f"{arm.attention}/{arm.object_kind}/{arm.matching}{'/shuffled' if arm.shuffle else ''} seed {seed}"
    history = fit(
        model,
        as_training_data(scenes),
        epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=1e-4,
        step=arm.step(tau, scale, seed),
        seed=seed,
        device=device,
        progress=progress,
        desc=desc,
    )
    return model, history.terms


def slot_cosine(slots: torch.Tensor) -> float:
    """Mean cosine between two different slots of one image, over images ``(B, K, D)`` (1: all slots identical)."""
    s = F.normalize(slots, dim=-1)
    k = s.shape[1]
    return (((s @ s.transpose(1, 2)).sum((1, 2)) - k) / (k * k - k)).mean().item()


def identity_share(model: ObjectEncoder, scenes: SceneDataset, seed: int = 0, scale=(0.3, 1.0)) -> float:
    """Share of slots that Hungarian matching (on the projections, as the CTR losses do) pairs with the slot of the
    same index in a second view of the same scene: 1 means the matching never does anything."""
    gen = torch.Generator().manual_seed(seed)
    (v0, _), (v1, _) = two_views(scenes.images, scenes.instance_masks, scale, generator=gen)
    perm = match_slots(encode(model, v0, seed=seed).proj, encode(model, v1, seed=seed + 1).proj)
    return (perm == torch.arange(perm.shape[1])).double().mean().item()


def score(
    model: ObjectEncoder, test: SceneDataset, probe_train: SceneDataset, probes: Sequence[str] = ("colour",)
) -> dict[str, float]:
    """What notebook 06 reports for one trained encoder, in percent except ``slot cos``:

    ``IoU`` (App. A.5: 256-bin Otsu per map, Hungarian matching to the objects), ``FG-ARI``, for each attribute in
    ``probes`` the AUROC of a presence probe ("is there a <value>?", App. A.6) on the slots (max over slots) and on the
    global vector ``r``, ``slot cos`` (:func:`slot_cosine`) and ``identity %`` (:func:`identity_share`)."""
    size = tuple(test.images.shape[-2:])
    o_test, o_probe = encode(model, test.images), encode(model, probe_train.images)
    row = {
        "IoU": 100 * segmentation_iou(otsu_masks(o_test.attn, size), test.instance_masks).mean().item(),
        "FG-ARI": 100 * fg_ari(o_test.attn, test.instance_masks).mean().item(),
    }
    values = {"colour": len(SCENE_COLOURS)}
    for key in probes:
        n = values.get(key) or int(test.attributes[key].max()) + 1
        y_train, y_test = presence_targets(probe_train.attributes, key, n), presence_targets(test.attributes, key, n)
        for source, field in (("slots", "slots"), ("global", "global_rep")):
            scores = slot_probe_scores(getattr(o_probe, field), y_train, getattr(o_test, field), multilabel=True)
            row[f"{key} AUC ({source})"] = 100 * auroc(scores, y_test).item()
    row["slot cos"] = slot_cosine(o_test.slots)
    row["identity %"] = 100 * identity_share(model, test)
    return row
