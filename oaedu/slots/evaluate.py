"""Evaluation of object tokens (Paper 5, §3 and App. A.5–A.6).

* Segmentation IoU (the paper's Table 2 metric): every slot's attention map is binarised with its own Otsu
  threshold, the binary masks are Hungarian-matched to the ground-truth masks (background included in the
  assignment, as in the official code) maximising the total IoU, and the matched IoU is averaged over the
  visible foreground objects of each image.
* FG-ARI (the Slot Attention literature's metric): the argmax over slots of the attention is a partition of
  the pixels; :func:`oaedu.metrics.adjusted_rand_index` scores it on the foreground pixels.
* Linear probes for object attributes: "is there a <colour>/<shape>?" and the object count, read from the slots
  with a max over slots of a linear score (App. A.6: ``max_i (W s_i + b)``) or from the global vector ``r``
  (:func:`slot_probe_scores`, on :func:`oaedu.metrics.linear_probe`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from .. import validate
from ..metrics import adjusted_rand_index, iou, linear_probe
from .matching import hungarian_match


# ----------------------------------------------------------------------------------------- Otsu
def _check_maps(maps: torch.Tensor) -> None:
    if not isinstance(maps, torch.Tensor) or maps.ndim < 1 or maps.shape[-1] == 0 or not maps.is_floating_point():
        raise ValueError(f"maps must be a float tensor (..., P) with P >= 1, got {getattr(maps, 'shape', maps)}")
    if not torch.isfinite(maps).all():
        raise ValueError("maps contain NaN or inf")


OTSU_BINS = 256


def _check_bins(bins: int | None) -> None:
    if bins is not None and (not isinstance(bins, int) or bins < 2):
        raise ValueError(f"bins must be None (exact Otsu) or an int >= 2, got {bins!r}")


def otsu_threshold_reference(maps: torch.Tensor, bins: int | None = OTSU_BINS) -> torch.Tensor:
    """Otsu (1979) per map ``(..., P)``, one map at a time: the threshold ``t`` (mask = ``x > t``) that maximises
    the between-class variance ``w0 w1 (μ0 − μ1)²``.

    ``bins=256`` (the default) is the paper's threshold, scikit-image's ``threshold_otsu``: a histogram of ``bins``
    equal bins over ``[min, max]``, and ``t`` is the centre of the best bin to split after. ``bins=None`` tries every
    distinct value as ``t`` (exact Otsu). A constant map has no split: its threshold is its value, so its mask is
    empty (never NaN). Returns float64 ``(...)``."""
    _check_maps(maps)
    _check_bins(bins)
    flat = maps.detach().cpu().reshape(-1, maps.shape[-1])  # (..., P) -> (M, P): one map's P values per row
    flat = flat.float() if flat.dtype == torch.bfloat16 else flat  # (NumPy has no bfloat16)
    out = []  # t per map
    for row in flat.numpy():
        half = not np.isfinite(row.astype(np.float64).max() - row.astype(np.float64).min())  # span > float64
        if not np.isfinite(row.max() - row.min()):  # a span that overflows the dtype: bin in float64 (halved if
            row = row.astype(np.float64) * (0.5 if half else 1.0)  # even float64 overflows; t is doubled back)
        if bins is None:
            values, counts = np.unique(row.astype(np.float64), return_counts=True)  # every distinct value a bin
            centres = values  # c_j = the value itself
        else:
            counts, edges = np.histogram(row, bins=bins)  # n_j: equal bins over [min, max]
            centres = (edges[:-1] + edges[1:]) / 2  # c_j = centre of bin j
        if row.min() == row.max():
            out.append(float(row[0]) * (2.0 if half else 1.0))  # constant map: no split, t = its value
            continue
        w0, w1 = np.cumsum(counts)[:-1], np.cumsum(counts[::-1])[::-1][1:]  # w0 = Σ_{i≤j} n_i, w1 = Σ_{i>j} n_i
        mu0 = np.cumsum(counts * centres)[:-1] / w0  # μ0 = Σ_{i≤j} n_i c_i / w0, mean of the low class
        mu1 = np.cumsum((counts * centres)[::-1])[::-1][1:] / w1  # μ1 = Σ_{i>j} n_i c_i / w1, the high class
        t = float(centres[np.argmax(w0 * w1 * (mu0 - mu1) ** 2)])  # t = c_j*, j* = argmax w0 w1 (μ0 − μ1)²
        out.append(t * (2.0 if half else 1.0))
    return torch.tensor(out, dtype=torch.float64).reshape(maps.shape[:-1]).to(maps.device)  # float64 (...)


def _histogram(flat: torch.Tensor, bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Counts ``(M, bins)`` and bin centres of equal bins over each row's ``[min, max]``, binned as NumPy does."""
    lo, hi = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    edges = lo + torch.arange(bins + 1, dtype=flat.dtype, device=flat.device) * (span / bins)
    edges[:, -1:] = torch.where(hi > lo, hi, lo + 1)
    index = ((flat - lo) / span * bins).long().clamp_(0, bins - 1)
    index -= (flat < edges.gather(1, index)).long()
    index += ((flat >= edges.gather(1, index + 1)) & (index != bins - 1)).long()
    counts = torch.zeros(flat.shape[0], bins, dtype=torch.float64, device=flat.device)
    counts.scatter_add_(1, index, torch.ones_like(flat, dtype=torch.float64))
    return counts, ((edges[:, :-1] + edges[:, 1:]) / 2).double()


def otsu_threshold(maps: torch.Tensor, bins: int | None = OTSU_BINS) -> torch.Tensor:
    """Batched Otsu, the same thresholds as :func:`otsu_threshold_reference` (``bins=256``: scikit-image's
    ``threshold_otsu``, the paper's; ``bins=None``: exact, every split between two sorted values scored with
    cumulative sums). Float64 ``(...)``."""
    _check_maps(maps)
    _check_bins(bins)
    flat = maps.detach().reshape(-1, maps.shape[-1])  # (M, P): every map of the batch
    scale = 1.0
    if not torch.isfinite(flat.amax(1) - flat.amin(1)).all():  # a span that overflows the dtype: bin in float64,
        flat = flat.double()  # halved where even float64 overflows (thresholds scale with the values)
        if not torch.isfinite(flat.amax(1) - flat.amin(1)).all():
            flat, scale = flat * 0.5, 2.0
    constant = flat.amin(1) == flat.amax(1)
    if bins is None:
        counts, centres = torch.ones_like(flat, dtype=torch.float64), flat.double().sort(1).values
    else:
        counts, centres = _histogram(flat, bins)
    if counts.shape[1] == 1:
        return flat[:, 0].double().reshape(maps.shape[:-1]) * scale  # (...)
    w0 = counts.cumsum(1)[:, :-1]
    w1 = counts.sum(1, keepdim=True) - w0
    c = (counts * centres).cumsum(1)
    mu0 = c[:, :-1] / w0.clamp_min(1)
    mu1 = (c[:, -1:] - c[:, :-1]) / w1.clamp_min(1)
    var = w0 * w1 * (mu0 - mu1) ** 2
    if bins is None:  # split only between distinct values
        var = torch.where(centres[:, 1:] > centres[:, :-1], var, torch.full_like(var, -1.0))
    t = centres.gather(1, var.argmax(1, keepdim=True))[:, 0]
    return torch.where(constant, flat[:, 0].double(), t).reshape(maps.shape[:-1]) * scale  # (M,) -> (...)


def _check_attn(attn: torch.Tensor) -> None:
    validate.tensor(attn, "attn (slot maps on the patch grid)", dtype="float", ndim=4, finite_values=True)


def otsu_masks(attn: torch.Tensor, size: tuple[int, int], bins: int | None = OTSU_BINS) -> torch.Tensor:
    """Binarise each slot's map ``attn (B, K, h, w)`` with its own Otsu threshold (:func:`otsu_threshold`; 256 bins,
    the paper's, by default), upsample (nearest) to ``size``.

    When ``size`` is a whole multiple of the grid, nearest upsampling repeats every patch equally often, so it
    scales every histogram count by the same factor, and thresholding on the patch grid first gives the same masks
    as thresholding the upsampled map. Returns ``bool (B, K, H, W)``."""
    _check_attn(attn)
    size = validate.size2(size, "size")
    attn = attn if attn.dtype in (torch.float32, torch.float64) else attn.float()  # thresholds in ≥ float32
    # (B, K, h, w) -> (B, K, P); thresholds (B, K, 1, 1)
    masks = attn.double() > otsu_threshold(attn.flatten(2), bins)[..., None, None]
    return F.interpolate(masks.float(), size=size, mode="nearest") > 0.5


# ----------------------------------------------------------------------------------------- segmentation IoU
def _check_seg(masks: torch.Tensor, instance: torch.Tensor) -> None:
    validate.tensor(masks, "masks")
    validate.tensor(instance, "instance")
    if masks.ndim != 4 or masks.dtype != torch.bool:
        raise ValueError(f"masks must be bool (B, K, H, W), got {masks.dtype} {tuple(masks.shape)}")
    if instance.ndim != 3 or instance.dtype != torch.int64 or instance.shape != (masks.shape[0], *masks.shape[2:]):
        raise ValueError(
            f"instance must be int64 (B, H, W) matching masks, got {instance.dtype} {tuple(instance.shape)}"
        )
    if instance.numel() and int(instance.min()) < 0:
        raise ValueError(f"instance must hold ids >= 0 (0 = background), got {int(instance.min())}")
    if not instance.shape[0] or (instance.flatten(1).max(1).values <= 0).any():  # (B, P)
        raise ValueError("every image needs at least one foreground object (instance id > 0)")


# Ties between assignments with the same total IoU are broken towards the objects: the background row's IoU
# counts (1 − BG_TIE) in the assignment. Two solvers (scipy's and the batched brute force) break exact ties
# differently, so without a rule the two versions would disagree on a few images; this rule makes them agree.
# It departs from the paper's solver (scipy, no rule) only on exact ties, and then only upwards: the object gets the
# mask the background would have taken. docs/deviations.md gives its measured effect.
BG_TIE = 1e-9


def _check_tie(bg_tie: float) -> None:
    if not 0 <= bg_tie < 1:
        raise ValueError(f"bg_tie must lie in [0, 1), got {bg_tie!r}")


def segmentation_iou_reference(masks: torch.Tensor, instance: torch.Tensor, bg_tie: float = BG_TIE) -> torch.Tensor:
    """Mean best-match IoU per image (Paper 5, App. A.5), one image at a time with scipy's Hungarian.

    ``masks`` bool ``(B, K, H, W)`` predicted masks, ``instance`` int64 ``(B, H, W)`` with 0 = background.
    The IoU matrix between GT masks (background and every visible object) and predictions is assigned to
    maximise the total IoU; the result averages the matched IoU of the visible *foreground* objects (an object
    left without a prediction scores 0). The background's IoU counts ``1 − bg_tie`` in the assignment
    (:data:`BG_TIE`); ``bg_tie=0`` is the paper's solver without the rule. Returns float64 ``(B,)``."""
    _check_seg(masks, instance)
    _check_tie(bg_tie)
    out = []  # one mean IoU per image
    for m, inst in zip(masks, instance, strict=True):  # predicted masks M_k and GT ids of one image
        ids = [int(x) for x in torch.unique(inst).tolist()]  # the visible GT objects G_r
        if 0 not in ids:
            ids = [0, *ids]  # the background G_0 always takes part in the assignment
        table = np.zeros((len(ids), m.shape[0]))  # IoU matrix, GT rows × predicted columns
        for r, obj in enumerate(ids):
            for c in range(m.shape[0]):
                table[r, c] = iou(m[c], inst == obj, empty=0.0).item()  # IoU(G_r, M_c) = |G ∩ M| / |G ∪ M|
        weight = np.where(np.array(ids)[:, None] == 0, 1 - bg_tie, 1.0)  # the background row counts 1 − bg_tie
        rows, cols = linear_sum_assignment(table * weight, maximize=True)  # π = argmax_π Σ_r w_r IoU(G_r, M_π(r))
        got = dict(zip(rows.tolist(), table[rows, cols].tolist(), strict=True))  # IoU(G_r, M_π(r)) per matched r
        fg = [got.get(r, 0.0) for r, obj in enumerate(ids) if obj != 0]  # foreground objects; unmatched score 0
        out.append(sum(fg) / len(fg))  # mean over the visible foreground objects
    return torch.tensor(out, dtype=torch.float64)  # float64 (B,)


def segmentation_iou(masks: torch.Tensor, instance: torch.Tensor, bg_tie: float = BG_TIE) -> torch.Tensor:
    """Batched mean best-match IoU: IoU matrices from one ``einsum`` of one-hot GT and masks, padded to square
    and solved with :func:`~oaedu.slots.matching.hungarian_match`. Same values as the reference, ``(B,)`` (with
    ``bg_tie=0`` the two solvers may break exact ties differently)."""
    _check_seg(masks, instance)
    instance = validate.label_ids(instance, "instance")  # ids are names: 0, 1, 2, … keeps the one-hot small
    _check_tie(bg_tie)
    b, k = masks.shape[:2]
    m = int(instance.max()) + 1
    gt = F.one_hot(instance.flatten(1), m).double()  # (B, P, M) incl. background column 0
    pred = masks.flatten(2).double()  # (B, K, P)
    inter = torch.einsum("bkp,bpm->bmk", pred, gt)
    union = gt.sum(1)[:, :, None] + pred.sum(2)[:, None, :] - inter
    table = torch.where(union > 0, inter / union.clamp_min(1), torch.zeros_like(inter))  # (B, M, K)
    present = gt.sum(1) > 0  # (B, M) objects visible in each image
    table = table * present[..., None]
    s = max(m, k)
    square = F.pad(table, (0, s - k, 0, s - m))
    weight = torch.ones(s, 1, dtype=square.dtype, device=square.device)
    weight[0] = 1 - bg_tie
    perm = hungarian_match(-square * weight)  # (B, S): row r -> column
    matched = square.gather(2, perm[..., None])[..., 0][:, :m]  # (B, M)
    fg = present[:, 1:].double()
    return (matched[:, 1:] * fg).sum(1) / fg.sum(1)


# ----------------------------------------------------------------------------------------- FG-ARI
def slot_partition(attn: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Owner of every pixel: argmax over slots of ``attn (B, K, h, w)`` (use α, before any renormalisation over
    patches), upsampled (nearest) to ``size``. Returns int64 ``(B, H, W)``."""
    _check_attn(attn)
    size = validate.size2(size, "size")
    owner = attn.argmax(1, keepdim=True).float()
    return F.interpolate(owner, size=size, mode="nearest")[:, 0].long()


def fg_ari(attn: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
    """Foreground ARI of the slot partition of ``attn (B, K, h, w)`` against the instance masks (background pixels
    ignored), ``(B,)``."""
    validate.tensor(instance, "instance", ndim=3, dtype="integer")
    _check_attn(attn)
    validate.same_batch(attn=attn, instance=instance)
    if (instance.flatten(1) <= 0).all(1).any():  # (B, H, W) -> (B, P) -> (B,)
        raise ValueError("instance: every image needs a foreground pixel (id > 0) for the foreground ARI")
    part = slot_partition(attn, tuple(instance.shape[-2:]))
    return adjusted_rand_index(instance.flatten(1), part.flatten(1), foreground_only=True)  # (B, H, W) -> (B, P), both


# ----------------------------------------------------------------------------------------- probes
def auroc(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Area under the ROC curve per column of ``scores (N, Q)`` against bool ``labels (N, Q)`` (Mann–Whitney U,
    ties count ½). Columns with only one class are skipped: returns the mean over the others (float)."""
    validate.tensor(scores, "scores")
    validate.tensor(labels, "labels")
    if scores.shape != labels.shape or scores.ndim != 2 or labels.dtype != torch.bool:
        raise ValueError(
            f"scores (N, Q) float and labels (N, Q) bool expected, got {tuple(scores.shape)}, {labels.dtype}"
        )
    validate.finite(scores, "scores")
    s = scores.double()
    less = (s[:, None, :] < s[None, :, :]).double() + 0.5 * (s[:, None, :] == s[None, :, :]).double()  # (N, N, Q)
    neg, pos = (~labels).double(), labels.double()
    pairs = neg.sum(0) * pos.sum(0)
    wins = torch.einsum("iq,ijq,jq->q", neg, less, pos)
    ok = pairs > 0
    if not ok.any():
        raise ValueError("auroc needs at least one column of labels with both classes")
    return (wins[ok] / pairs[ok]).mean()


def presence_targets(attributes: dict[str, torch.Tensor], key: str, num_values: int) -> torch.Tensor:
    """``bool (N, num_values)``: is there at least one object whose ``attributes[key]`` equals each value?"""
    if key not in attributes:
        raise ValueError(f"key {key!r} is not an attribute; expected one of {sorted(attributes)}")
    validate.integer(num_values, "num_values", low=1)
    vals = validate.tensor(attributes[key], f"attributes[{key!r}]", dtype="integer")
    validate.fits_memory(num_values * vals.numel(), "num_values: the targets", itemsize=1)
    if vals.ndim != 2:
        raise ValueError(f"attributes[{key!r}] must be (N, max_objects), got {tuple(vals.shape)}")
    return (vals[:, :, None] == torch.arange(num_values)).any(1)


def slot_probe_scores(
    train: torch.Tensor,
    y_train: torch.Tensor,
    test: torch.Tensor,
    multilabel: bool,
    steps: int = 200,
    weight_decay: float = 1e-3,
) -> torch.Tensor:
    """Fit :func:`oaedu.metrics.linear_probe` on frozen features (standardised, in float64) and return its test
    scores.

    ``train``/``test`` are slots ``(N, K, D)`` (score ``max_i (W s_i + b)``, App. A.6) or global vectors
    ``(N, D)``. ``multilabel``: ``y`` is bool ``(N, Q)`` and the loss BCE with ``pos_weight = (1 − π)/π``;
    otherwise ``y`` holds int64 classes and the loss is cross-entropy. L-BFGS, deterministic (zero init); should its
    line search diverge, the fit restarts with Adam."""
    validate.tensor(train, "train")
    validate.tensor(test, "test")
    train, test = train.detach(), test.detach()  # frozen features: a graph from the model must not reach the fit
    validate.tensor(train, "train", min_batch=1, finite_values=True)
    validate.tensor(test, "test", finite_values=True)
    validate.tensor(y_train, "y_train", min_batch=len(train))
    if len(y_train) != len(train):
        raise ValueError(f"y_train must have one row per training item ({len(train)}), got {tuple(y_train.shape)}")
    if not multilabel:
        validate.class_labels(y_train, "y_train", ndim=y_train.ndim)
    validate.integer(steps, "steps", low=1)
    validate.non_negative(weight_decay, "weight_decay")
    if train.ndim not in (2, 3) or test.ndim != train.ndim or train.shape[-1] != test.shape[-1]:
        raise ValueError(f"train and test must be (N, D) or (N, K, D), got {tuple(train.shape)}, {tuple(test.shape)}")
    if multilabel and (y_train.dtype != torch.bool or y_train.ndim != 2):
        raise ValueError(f"y_train: multilabel targets must be bool (N, Q), got {validate.describe(y_train)}")
    if not multilabel and (y_train.dtype != torch.int64 or y_train.ndim != 1):
        raise ValueError(f"y_train: class targets must be int64 (N,), got {validate.describe(y_train)}")
    # (N, D) or (N, K, D) -> (M, D); std (D,)
    validate.overflow(train.double().flatten(0, -2).std(0), "train", "its std")
    probe = linear_probe(train.double(), y_train, multilabel=multilabel, steps=steps, weight_decay=weight_decay)
    with torch.no_grad():
        out_scores = probe(test.double())
    if not torch.isfinite(out_scores).all():
        raise FloatingPointError("linear probe diverged (non-finite scores)")
    return out_scores
