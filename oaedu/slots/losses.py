"""The losses of Paper 5 (§2.2): global SimCLR (Eq. 1) and the object losses CTRALL, CTRIMG (Eq. 2) and
COSSIM (Eq. 3), each as a readable per-anchor ``*_reference`` loop and a batched version.

Notation: two views ``a ∈ {0, 1}`` of ``B`` images ``b``, ``K`` slots ``i``; ``ā = 1 − a``. The matching
``perm[b, i] = σ(i)`` pairs slot ``i`` of view 0 with slot ``σ(i)`` of view 1; the reverse direction uses the
inverse permutation (``argsort(perm)``). All similarities are cosines; ``τ`` is the temperature.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import validate
from .matching import hungarian_match

OBJECT_LOSSES: tuple[str, ...] = ("ctrall", "ctrimg", "cossim")
MATCHINGS: tuple[str, ...] = ("hungarian", "identity")


def _check_pair(x0: torch.Tensor, x1: torch.Tensor, ndim: int, what: str) -> None:
    shape = "(B, D)" if ndim == 2 else "(B, K, D)"
    validate.tensor(x0, f"{what} of view 0")
    validate.tensor(x1, f"{what} of view 1")
    if x0.shape != x1.shape or x0.ndim != ndim or x0.shape[0] < 1:
        raise ValueError(
            f"{what} of view 0 {tuple(x0.shape)} and {what} of view 1 {tuple(x1.shape)} must have the same shape "
            f"{shape} with B >= 1"
        )
    for view, x in ((0, x0), (1, x1)):
        if not x.is_floating_point():
            raise ValueError(f"{what} of view {view} must be floating point, got {x.dtype}")
    if x0.dtype != x1.dtype:
        raise ValueError(
            f"{what} of view 0 and {what} of view 1 must have the same dtype, got {x0.dtype} and {x1.dtype}"
        )
    if x0.ndim == 3 and x0.shape[1] < 1:
        raise ValueError(f"{what} need at least one slot, got shape {tuple(x0.shape)}")
    validate.finite(x0, f"{what} of view 0")
    validate.finite(x1, f"{what} of view 1")


def _check_tau(tau: float) -> None:
    validate.positive(tau, "tau")


def _check_perm(perm: torch.Tensor, b: int, k: int) -> None:
    validate.tensor(perm, "perm")
    if perm.shape != (b, k) or perm.dtype != torch.int64:
        raise ValueError(f"perm must be int64 (B={b}, K={k}), got {perm.dtype} {tuple(perm.shape)}")
    if not torch.equal(perm.sort(1).values.cpu(), torch.arange(k).expand(b, k)):
        raise ValueError("every row of perm must be a permutation of 0..K-1")


def _check_objects(p0: torch.Tensor, p1: torch.Tensor, perm: torch.Tensor) -> tuple[int, int, int]:
    """Validate two views' object projections ``(B, K, D)`` and their matching; returns ``(B, K, D)``."""
    _check_pair(p0, p1, 3, "object projections")
    b, k, d = p0.shape
    _check_perm(perm, b, k)
    return b, k, d


def _check_cossim(
    p0: torch.Tensor, p1: torch.Tensor, s0: torch.Tensor, s1: torch.Tensor, perm: torch.Tensor
) -> tuple[int, int, int]:
    """As :func:`_check_objects`, plus the pre-projection slots of both views, of the projections' shape."""
    shape = _check_objects(p0, p1, perm)
    _check_pair(s0, s1, 3, "slots")
    if s0.shape != p0.shape:
        raise ValueError(f"slots {tuple(s0.shape)} and projections {tuple(p0.shape)} must have the same shape")
    return shape


def _cos(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(u, v, dim=-1, eps=1e-8)


# ----------------------------------------------------------------------------------------- global loss
def simclr_loss_reference(z0: torch.Tensor, z1: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Eq. (1), one anchor ``(a, b)`` at a time: ``−log exp(cos(p_ab, p_āb)/τ) / Σ_{(a',b')≠(a,b)} exp(cos/τ)``,
    averaged over the ``2B`` anchors (the other ``2B − 2`` views are the negatives)."""
    # the inputs: two views' global projections (B, D), τ > 0
    _check_pair(z0, z1, 2, "global projections")
    _check_tau(tau)
    views = (z0, z1)  # p^G_0b, p^G_1b
    b = z0.shape[0]  # B images
    total = z0.new_zeros(())  # Σ over anchors of the loss
    for a in range(2):  # view a; ā = 1 − a
        for i in range(b):  # image b
            anchor = views[a][i]  # p^G_ab
            pos = _cos(anchor, views[1 - a][i]) / tau  # cos(p^G_ab, p^G_āb) / τ
            # cos(p^G_ab, p^G_a'b') / τ for every (a', b') ≠ (a, b): the positive and the 2B − 2 negatives
            others = [_cos(anchor, views[a2][j]) / tau for a2 in range(2) for j in range(b) if (a2, j) != (a, i)]
            total = total - (pos - torch.logsumexp(torch.stack(others), 0))  # −log exp(pos) / Σ_(a',b')≠(a,b) exp(·)
    return total / (2 * b)  # mean over the 2B anchors


def simclr_loss(z0: torch.Tensor, z1: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Eq. (1) batched: one ``(2B, 2B)`` cosine matrix / τ, diagonal masked, cross-entropy to the other view."""
    _check_pair(z0, z1, 2, "global projections")
    _check_tau(tau)
    b = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1]), dim=1, eps=1e-8)  # (2B, D)
    logits = (z @ z.T / tau).masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), -math.inf)  # (2B, 2B)
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(logits, target)


# ----------------------------------------------------------------------------------------- matching
def match_slots(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """Hungarian matching (§2.2) of the slots of view 0 to those of view 1, maximising ``Σ_i cos(x0_i, x1_σ(i))``.

    ``x0, x1`` are ``(B, K, D)``; returns ``perm (B, K)`` int64 with ``perm[b, i] = σ(i)``. Detached (no gradient
    flows through the matching).
    """
    _check_pair(x0, x1, 3, "slots")
    with torch.no_grad():
        cos = F.normalize(x0.detach(), dim=-1, eps=1e-8) @ F.normalize(x1.detach(), dim=-1, eps=1e-8).transpose(1, 2)
        return hungarian_match(-cos)


def identity_pairing(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The control without matching: slot ``i`` of view 0 is paired with slot ``i`` of view 1 (``σ = id``), as if the
    slots' order meant the same thing in both views. Same signature and output as :func:`match_slots`."""
    _check_pair(x0, x1, 3, "slots")
    b, k = x0.shape[:2]
    return torch.arange(k, device=x0.device).expand(b, k).clone()


def _anchor_target(a: int, b: int, i: int, perm: torch.Tensor) -> int:
    """Slot of the other view that anchor (a, b, i) is matched to: σ(i) for a = 0, σ⁻¹(i) for a = 1."""
    row = perm[b].tolist()
    return row[i] if a == 0 else row.index(i)


# ----------------------------------------------------------------------------------------- CTR losses
def object_contrastive_loss_reference(
    p0: torch.Tensor, p1: torch.Tensor, perm: torch.Tensor, tau: float = 0.1, same_image: bool = True
) -> torch.Tensor:
    """Eq. (2): the contrastive object loss, one anchor ``(a, b, i)`` at a time, with the matched slot
    ``(ā, b, σ(i))`` as its positive and the negatives of ``𝒩^IMG`` (``same_image``: CTRIMG) or ``𝒩^ALL`` (CTRALL);
    the mean over the ``2BK`` anchors."""
    # the inputs: two views' object projections (B, K, D), the matching σ, τ > 0
    _check_tau(tau)
    b, k, _ = _check_objects(p0, p1, perm)
    views = (p0, p1)  # p_0bi, p_1bi
    total = p0.new_zeros(())  # Σ over anchors of the loss
    for a in range(2):  # view a of the anchor; ā = 1 − a
        for bb in range(b):  # image b
            for i in range(k):  # slot i
                anchor = views[a][bb, i]  # p_abi
                j = _anchor_target(a, bb, i, perm)  # σ(i) (σ⁻¹(i) for anchors of view 1)
                pos = _cos(anchor, views[1 - a][bb, j]) / tau  # cos(p_abi, p_ābσ(i)) / τ
                images = [bb] if same_image else range(b)  # 𝒩^IMG: image b only; 𝒩^ALL: every image
                cand = [  # the positive and every negative; the anchor itself is never a candidate
                    _cos(anchor, views[a2][b2, i2]) / tau
                    for a2 in range(2)
                    for b2 in images
                    for i2 in range(k)
                    if (a2, b2, i2) != (a, bb, i)
                ]
                total = total - (pos - torch.logsumexp(torch.stack(cand), 0))  # −log exp(pos) / Σ_cand exp(·)
    return total / (2 * b * k)  # mean over the 2BK anchors


def ctr_all_loss_reference(p0: torch.Tensor, p1: torch.Tensor, perm: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """CTRALL, Eq. (2) with ``𝒩^ALL``: the negatives of anchor ``(a, b, i)`` are all other tokens of all images
    and views except the positive ``(ā, b, σ(i))`` ⇒ a ``(2BK − 1)``-way classification. Loop over anchors."""
    return object_contrastive_loss_reference(p0, p1, perm, tau, same_image=False)  # Eq. (2), negatives 𝒩^ALL


def ctr_img_loss_reference(p0: torch.Tensor, p1: torch.Tensor, perm: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """CTRIMG, Eq. (2) with ``𝒩^IMG``: negatives are the other tokens of the *same image*, both views
    (``K − 1`` + ``K − 1``) ⇒ a ``(2K − 1)``-way classification. Loop over anchors."""
    return object_contrastive_loss_reference(p0, p1, perm, tau, same_image=True)  # Eq. (2), negatives 𝒩^IMG


def _ctr_targets(perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Matched slot in the other view for anchors of view 0 (σ) and view 1 (σ⁻¹), both (B, K)."""
    return perm, perm.argsort(1)


def ctr_all_loss(p0: torch.Tensor, p1: torch.Tensor, perm: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """CTRALL batched: one ``(2BK, 2BK)`` cosine matrix / τ with the diagonal at −∞; token order is
    ``(view, image, slot)``; the target of ``(0, b, i)`` is ``(1, b, σ(i))`` and of ``(1, b, j)`` is
    ``(0, b, σ⁻¹(j))``."""
    _check_tau(tau)
    b, k, d = _check_objects(p0, p1, perm)
    z = F.normalize(torch.cat([p0, p1]).reshape(2 * b * k, d), dim=1, eps=1e-8)  # (2BK, D): (view, image, slot)
    eye = torch.eye(2 * b * k, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / tau).masked_fill(eye, -math.inf)  # (2BK, 2BK)
    fwd, bwd = _ctr_targets(perm.to(z.device))
    base = torch.arange(b, device=z.device)[:, None] * k
    target = torch.cat([(b * k + base + fwd).flatten(), (base + bwd).flatten()])  # (2BK,) from two (B, K)
    return F.cross_entropy(logits, target)


def ctr_img_loss(p0: torch.Tensor, p1: torch.Tensor, perm: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """CTRIMG batched: per image a ``(2K, 2K)`` cosine matrix / τ (own-view block with −∞ diagonal and the
    other-view block), cross-entropy to the matched slot."""
    _check_tau(tau)
    b, k, _ = _check_objects(p0, p1, perm)
    z = F.normalize(torch.cat([p0, p1], 1), dim=-1, eps=1e-8)  # (B, 2K, D)
    eye = torch.eye(2 * k, dtype=torch.bool, device=z.device)
    logits = (z @ z.transpose(1, 2) / tau).masked_fill(eye, -math.inf)  # (B, 2K, 2K)
    fwd, bwd = _ctr_targets(perm.to(z.device))
    target = torch.cat([k + fwd, bwd], 1)  # (B, 2K)
    return F.cross_entropy(logits.reshape(2 * b * k, 2 * k), target.reshape(-1))  # (2BK, 2K) rows, (2BK,) targets


# ----------------------------------------------------------------------------------------- COSSIM
def cossim_loss_reference(
    p0: torch.Tensor, p1: torch.Tensor, s0: torch.Tensor, s1: torch.Tensor, perm: torch.Tensor
) -> torch.Tensor:
    """COSSIM, Eq. (3): ``−cos(p_abi, stopgrad(s_āb σ(i)))`` averaged over both views, images and slots.

    The target is the *pre-projection* slot of the other view (the projection head acts as SimSiam's
    predictor); ``perm`` should come from matching the pre-projection slots. No negatives. This is the scale of
    the paper's Eq. (3); the released code returns ``(1 − cos)/2``, half the gradient, so a λ_O taken from the
    released configuration means ``λ_O / 2`` here."""
    b, k, _ = _check_cossim(p0, p1, s0, s1, perm)  # projections p and slots s (B, K, D) of both views, σ
    proj, slots = (p0, p1), (s0.detach(), s1.detach())  # stopgrad on the target slots
    total = p0.new_zeros(())  # Σ over anchors of −cos
    for a in range(2):  # view a; ā = 1 − a
        for bb in range(b):  # image b
            for i in range(k):  # slot i
                target = slots[1 - a][bb, _anchor_target(a, bb, i, perm)]  # stopgrad(s_ābσ(i))
                total = total - _cos(proj[a][bb, i], target)  # −cos(p_abi, stopgrad(s_ābσ(i)))
    return total / (2 * b * k)  # mean over the 2BK anchors


def cossim_loss(
    p0: torch.Tensor, p1: torch.Tensor, s0: torch.Tensor, s1: torch.Tensor, perm: torch.Tensor
) -> torch.Tensor:
    """COSSIM batched: gather the matched (detached) target slots with ``perm`` and its inverse."""
    b, k, d = _check_cossim(p0, p1, s0, s1, perm)
    fwd, bwd = (t.to(p0.device)[..., None].expand(b, k, d) for t in _ctr_targets(perm))
    t0 = s1.detach().gather(1, fwd)  # target of view-0 anchors: s_{1 b σ(i)}
    t1 = s0.detach().gather(1, bwd)  # target of view-1 anchors: s_{0 b σ⁻¹(j)}
    return -0.5 * (_cos(p0, t0).mean() + _cos(p1, t1).mean())


# ----------------------------------------------------------------------------------------- dispatch
def object_loss(
    kind: str,
    p0: torch.Tensor,
    p1: torch.Tensor,
    s0: torch.Tensor,
    s1: torch.Tensor,
    tau: float = 0.1,
    matching: str = "hungarian",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Match and compute one object loss; returns ``(loss, perm)``.

    CTR losses match on the projections ``p``; COSSIM matches on the pre-projection slots ``s`` (§2.2, code).
    ``matching="identity"`` skips the matching (:func:`identity_pairing`), the control that shows what it does.
    """
    if kind not in OBJECT_LOSSES:
        raise ValueError(f"object loss must be one of {OBJECT_LOSSES}, got {kind!r}")
    _check_tau(tau)
    if matching not in MATCHINGS:
        raise ValueError(f"matching must be one of {MATCHINGS}, got {matching!r}")
    pair = match_slots if matching == "hungarian" else identity_pairing
    if kind == "cossim":
        perm = pair(s0, s1)
        return cossim_loss(p0, p1, s0, s1, perm), perm
    perm = pair(p0, p1)
    fn = ctr_all_loss if kind == "ctrall" else ctr_img_loss
    return fn(p0, p1, perm, tau), perm
