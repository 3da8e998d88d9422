"""The reference/fast twins of object-centric SSL: Hungarian matching, the four losses, Otsu's threshold and the
segmentation IoU, each with the inputs it is checked and timed on (collected by :mod:`oaedu.twins`)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from ..timing import Example, Twin, check_size, generator
from .evaluate import otsu_threshold, otsu_threshold_reference, segmentation_iou, segmentation_iou_reference
from .losses import (
    cossim_loss,
    cossim_loss_reference,
    ctr_all_loss,
    ctr_all_loss_reference,
    ctr_img_loss,
    ctr_img_loss_reference,
    match_slots,
    simclr_loss,
    simclr_loss_reference,
)
from .matching import hungarian_match, hungarian_match_reference


@functools.lru_cache(maxsize=3)
def _slots_data(size: str) -> dict[str, Any]:
    """The inputs of the slots twins, drawn in one order from one generator (as the slots benchmarks always were)."""
    g = generator()
    quick = size != "full"
    b = {"test": 5, "quick": 64, "full": 512}[size]
    cost = torch.rand(b, 4, 4, generator=g)
    bl, k, d = {"test": (3, 4, 8), "quick": (4, 5, 16), "full": (16, 5, 64)}[size]
    dtype = torch.float64 if size == "test" else torch.float32
    p0, p1 = torch.randn(bl, k, d, generator=g, dtype=dtype), torch.randn(bl, k, d, generator=g, dtype=dtype)
    s0, s1 = torch.randn(bl, k, d, generator=g, dtype=dtype), torch.randn(bl, k, d, generator=g, dtype=dtype)
    perm = match_slots(p0, p1)
    maps = torch.rand(bl * k, 64, generator=g)
    n_img = 4 if quick else 32
    side = 12 if size == "test" else 32
    inst = torch.randint(0, 4, (n_img, side, side), generator=g)
    inst[:, 0, 0] = 1
    masks = torch.rand(n_img, k, side, side, generator=g) < 0.3
    return {
        "b": b,
        "cost": cost,
        "bl": bl,
        "k": k,
        "p0": p0,
        "p1": p1,
        "s0": s0,
        "s1": s1,
        "perm": perm,
        "z0": p0[:, 0],
        "z1": p1[:, 0],
        "maps": maps,
        "n_img": n_img,
        "inst": inst,
        "masks": masks,
    }


def _scipy_loop(cost: torch.Tensor) -> torch.Tensor:
    from scipy.optimize import linear_sum_assignment

    return torch.from_numpy(np.stack([linear_sum_assignment(c)[1] for c in cost.numpy()]))


def _hungarian_examples(size: str) -> list[Example]:
    s = _slots_data(check_size(size))
    cost = s["cost"]
    return [Example((cost,), label=f"B={s['b']} K=4", peer=lambda: _scipy_loop(cost), peer_name="scipy loop")]


def _same_total_cost(got: torch.Tensor, want: torch.Tensor, example: Example) -> None:
    """Matchings agree when they cost the same (on ties each solver may pick its own optimum)."""
    cost = example.args[0]
    total = lambda perm: cost.gather(2, perm[:, :, None]).squeeze(-1).sum(-1)
    assert got.shape == want.shape and got.dtype == want.dtype == torch.int64
    torch.testing.assert_close(total(got), total(want))


def _simclr_examples(size: str) -> list[Example]:
    s = _slots_data(check_size(size))
    return [Example((s["z0"], s["z1"]), label=f"B={s['bl']}")] + (
        [Example((s["z0"], s["z1"], 0.3))] if size == "test" else []
    )


def _ctr_examples(size: str) -> list[Example]:
    s = _slots_data(check_size(size))
    return [Example((s["p0"], s["p1"], s["perm"]), label=f"B={s['bl']} K={s['k']}")] + (
        [Example((s["p0"], s["p1"], s["perm"], 0.5))] if size == "test" else []
    )


def _cossim_examples(size: str) -> list[Example]:
    s = _slots_data(check_size(size))
    return [Example((s["p0"], s["p1"], s["s0"], s["s1"], s["perm"]), label=f"B={s['bl']} K={s['k']}")]


def _otsu_examples(size: str) -> list[Example]:
    s = _slots_data(check_size(size))
    maps = s["maps"]
    examples = [Example((maps,), label=f"{maps.shape[0]} maps × {maps.shape[1]}")]
    if size == "test":
        examples += [Example((maps, None)), Example((maps.view(2, -1, 64), 16))]
    return examples


def _segmentation_iou_examples(size: str) -> list[Example]:
    s = _slots_data(check_size(size))
    return [Example((s["masks"], s["inst"]), label=f"{s['n_img']} images × {s['k']} masks")]


TWINS: tuple[Twin, ...] = (
    Twin(
        hungarian_match_reference,
        hungarian_match,
        _hungarian_examples,
        "slots.hungarian_match {label}",
        min_vs_reference=3.0,
        min_vs_peer=3.0,
        note="brute force over the K! permutations, batched",
        agree=_same_total_cost,
    ),
    Twin(
        simclr_loss_reference,
        simclr_loss,
        _simclr_examples,
        "slots.simclr_loss {label}",
        min_vs_reference=2.0,
    ),
    Twin(
        ctr_all_loss_reference,
        ctr_all_loss,
        _ctr_examples,
        "slots.ctr_all_loss {label}",
        min_vs_reference=50.0,
    ),
    Twin(
        ctr_img_loss_reference,
        ctr_img_loss,
        _ctr_examples,
        "slots.ctr_img_loss {label}",
        min_vs_reference=10.0,
    ),
    Twin(
        cossim_loss_reference,
        cossim_loss,
        _cossim_examples,
        "slots.cossim_loss {label}",
        min_vs_reference=2.0,
    ),
    Twin(
        otsu_threshold_reference,
        otsu_threshold,
        _otsu_examples,
        "slots.otsu_threshold {label}",
        min_vs_reference=2.0,
    ),
    Twin(
        segmentation_iou_reference,
        segmentation_iou,
        _segmentation_iou_examples,
        "slots.segmentation_iou {label}",
        min_vs_reference=4.0,
        note="reference: metrics.iou + scipy per image",
    ),
)
