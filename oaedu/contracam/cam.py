"""ContraCAM (Eq. 2 and 3, ContraCAM §2.2) and classifier Grad-CAM.

``encoder`` is any module mapping images ``(B,3,H,W)`` to embeddings ``(B,D)`` (it is L2-normalised here);
``layer`` is one of its submodules whose output is the spatial activation ``A (B,K,h,w)`` to explain.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from ..maps import minmax
from ..utils import map_batches


def _check_images(images: torch.Tensor, model: nn.Module) -> None:
    validate.images(images, channels=None)
    validate.like_model(images, "images", validate.module(model, "the model"))


def _finish(raw: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """``raw (B,h,w)`` → optional bicubic upsampling → ReLU → min–max, in the order of Alg. 3 (App. A).

    Bicubic is the released code's mode (Alg. 3 names none); its undershoot below 0 near sharp edges is cut by the
    ReLU, where the released code upsamples after the ReLU and lets min–max shift the whole map instead."""
    if size is not None and tuple(raw.shape[-2:]) != tuple(size):
        raw = F.interpolate(raw[:, None], size=size, mode="bicubic", align_corners=False)[:, 0].clamp_min(0)
    return minmax(raw, dims=2)


class _Capture:
    """Forward hook that stores the layer output (and optionally makes it a leaf that requires grad)."""

    def __init__(self, layer: nn.Module) -> None:
        self.value: torch.Tensor | None = None
        self.handle = layer.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.value = output
        return output

    def close(self) -> None:
        self.handle.remove()


def _check_layer(encoder: nn.Module, layer: nn.Module) -> None:
    if not any(m is layer for m in encoder.modules()):
        raise ValueError("layer must be a submodule of encoder")


class ContrastiveScore(nn.Module):
    """``s_con`` of Eq. (1) per image: the query ``normalize(encoder(x))_i`` against ``keys``.

    The positive of image ``i`` is ``positives[i]`` (by default ``keys[i]``); the negatives are every row of
    ``keys`` except row ``i`` plus every row of ``extra`` except rows ``i, i+B, i+2B, …`` (the image's own masked
    copies, Eq. 3). Returns ``(B,)``. Used as the score model for captum in the tests.
    """

    def __init__(self, encoder: nn.Module, tau: float = 1.0) -> None:
        super().__init__()
        validate.module(encoder, "encoder")
        validate.positive(tau, "tau")
        self.encoder, self.tau = encoder, tau

    def forward(
        self,
        x: torch.Tensor,
        keys: torch.Tensor,
        positives: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
        offset: int = 0,
    ) -> torch.Tensor:
        q = F.normalize(self.encoder(x), dim=1)
        return score_from_embeddings(q, keys, positives, extra, self.tau, offset)


def score_from_embeddings(
    q: torch.Tensor,
    keys: torch.Tensor,
    positives: torch.Tensor | None,
    extra: torch.Tensor | None,
    tau: float,
    offset: int = 0,
) -> torch.Tensor:
    """Eq. (1)/(3) for queries ``q (b,D)`` that are images ``offset … offset+b−1`` of a batch of keys ``(B,D)``."""
    validate.positive(tau, "tau")
    if q.ndim != 2:
        raise ValueError(f"the encoder must return one embedding per image, q (B, D), got shape {tuple(q.shape)}")
    for name, t in (("keys", keys), ("positives", positives), ("extra", extra)):
        if t is not None and (t.ndim != 2 or t.shape[1] != q.shape[1]):
            raise ValueError(f"{name} must be (N, D) embeddings with D = {q.shape[1]} like q, got {tuple(t.shape)}")
    b, big_b = q.shape[0], keys.shape[0]
    if big_b < 2 and (extra is None or extra.shape[0] < 2):
        raise ValueError("ContraCAM needs at least two images: the rest of the batch are the negatives")
    rows = torch.arange(offset, offset + b, device=q.device)
    pos_keys = keys[rows] if positives is None else positives
    pos = (q * pos_keys).sum(1, keepdim=True) / tau
    neg = q @ keys.t() / tau
    neg = neg.masked_fill(torch.arange(big_b, device=q.device)[None] == rows[:, None], float("-inf"))
    parts = [pos, neg]
    if extra is not None:
        e = q @ extra.t() / tau
        own = (torch.arange(extra.shape[0], device=q.device)[None] % big_b) == rows[:, None]
        parts.append(e.masked_fill(own, float("-inf")))
    return pos[:, 0] - torch.logsumexp(torch.cat(parts, 1), 1)


def _cam_from(acts: torch.Tensor, grads: torch.Tensor, nsr: bool) -> torch.Tensor:
    """Eq. (2): ``α_k = [ReLU](mean_ij ∂s/∂A^k_ij)``, ``ReLU(Σ_k α_k A^k)`` (un-normalised, ``(B,h,w)``)."""
    alpha = grads.mean((2, 3), keepdim=True)
    if nsr:
        alpha = alpha.clamp_min(0)
    return (alpha * acts).sum(1).clamp_min(0).detach()


def _in_eval(encoder: nn.Module):
    was = encoder.training
    encoder.eval()
    return was


@torch.no_grad()
def _embed(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return F.normalize(encoder(images), dim=1)


def contracam_reference(
    encoder: nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    tau: float = 1.0,
    nsr: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    """ContraCAM, Eq. (2) §2.2, one image at a time (B backward passes); returns ``(B,H,W)`` in [0,1]
    (``(B,h,w)`` at the layer's resolution when ``upsample=False``).

    The score of image ``i`` is Eq. (1) with its own detached embedding as the positive and the other images
    of the batch as negatives; ``nsr`` switches the negative-signal removal (ReLU on the channel weights).
    """
    # the inputs: images, a layer of the encoder, τ > 0
    _check_images(images, encoder)
    _check_layer(encoder, layer)
    validate.positive(tau, "tau")
    was = _in_eval(encoder)  # eval mode: fixed BN statistics, so the images of 𝓑 do not interact
    cap = _Capture(layer)  # a hook that keeps A, the layer's output
    try:  # (the hook is removed and the mode restored whatever happens)
        keys = _embed(encoder, images)  # z̄(x_n) for every image of the batch 𝓑
        maps = []  # CAM(x_i), one per image
        for i in range(images.shape[0]):  # image x_i: one forward and one backward
            with torch.enable_grad():  # (∂s/∂A even when called under no_grad)
                q = F.normalize(encoder(images[i : i + 1]), dim=1)  # z(x_i)
                acts = cap.value  # A, the activation to explain
                s = score_from_embeddings(q, keys, None, None, tau, offset=i)  # s_con(x_i; x_i, 𝓑 ∖ x_i), Eq. (1)
                (grad,) = torch.autograd.grad(s.sum(), acts)  # ∂s_con/∂A
            maps.append(_cam_from(acts, grad, nsr))  # ReLU(Σ_k α_k A^k), α_k from Eq. (2)
        raw = torch.cat(maps)  # the B un-normalised maps (B, h, w)
    finally:  # (clean up)
        cap.close()  # remove the hook
        encoder.train(was)  # restore the encoder's mode
    return _finish(raw, images.shape[-2:] if upsample else None)  # Normalize(·) of Eq. (2)


def _query(encoder: nn.Module, cap: _Capture, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass with gradients: the normalised embeddings ``z(x)`` and the captured activation ``A``."""
    with torch.enable_grad():
        q = F.normalize(encoder(x), dim=1)
    return q, cap.value


def _cam_of_score(score: torch.Tensor, acts: torch.Tensor, nsr: bool) -> torch.Tensor:
    (grad,) = torch.autograd.grad(score.sum(), acts)
    return _cam_from(acts, grad, nsr)


def contracam(
    encoder: nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    tau: float = 1.0,
    nsr: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    """ContraCAM, Eq. (2) §2.2, for the whole batch with **one** forward and **one** backward pass.

    The keys are the detached queries of the same forward pass (Alg. 1: ``key = output.detach()``). This is exact
    because the encoder runs in eval mode and the keys carry no gradient, so score ``s_i`` depends on image ``i``'s
    activations only and ``∂(Σ_j s_j)/∂A_i = ∂s_i/∂A_i``. Same output as :func:`contracam_reference`.
    """
    _check_images(images, encoder)
    _check_layer(encoder, layer)
    validate.positive(tau, "tau")
    was = _in_eval(encoder)
    cap = _Capture(layer)
    try:
        q, acts = _query(encoder, cap, images)
        keys = q.detach()
        with torch.enable_grad():
            raw = _cam_of_score(score_from_embeddings(q, keys, None, None, tau), acts, nsr)
    finally:
        cap.close()
        encoder.train(was)
    return _finish(raw, images.shape[-2:] if upsample else None)


def iterative_contracam(
    encoder: nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    iterations: int = 3,
    tau: float = 1.0,
    nsr: bool = True,
    fill: str = "mean",
) -> torch.Tensor:
    """Iterative ContraCAM, Eq. (3) §2.2: ``C̄AMᵀ (B,H,W)``, the last map of :func:`iterative_contracam_history`.

    ``iterations=1`` equals :func:`contracam`.
    """
    return iterative_contracam_history(encoder, layer, images, iterations, tau, nsr, fill)[-1]


def iterative_contracam_history(
    encoder: nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    iterations: int = 3,
    tau: float = 1.0,
    nsr: bool = True,
    fill: str = "mean",
) -> list[torch.Tensor]:
    """Iterative ContraCAM, Eq. (3) §2.2 and Alg. 1 (App. A), one forward and one backward per iteration.

    ``x¹ = x`` and ``xᵗ = (1 − C̄AMᵗ⁻¹)⊙x + C̄AMᵗ⁻¹⊙c`` with ``c`` the batch-mean colour (``fill="mean"``, Alg. 1's
    ``mask_color``) or 0 (``fill="zero"``, Eq. 3's text). The score of iteration ``t`` is
    ``s_con(xᵗ; x, ⋃_{l≤t} 𝓑ˡ ∖ xˡ)``: the query is the masked image, the positive the **original** ``x``, and the
    negatives the other images of every masked batch so far, the current one included, where ``𝓑¹`` is the
    original batch (counted once). ``C̄AMᵗ = max_{l≤t} CAMˡ``. Returns the running maxima ``[C̄AM¹, …, C̄AMᵀ]``,
    each ``(B,H,W)``; :func:`iterative_contracam` returns the last.
    """
    _check_images(images, encoder)
    _check_layer(encoder, layer)
    validate.steps(iterations, "iterations")
    validate.positive(tau, "tau")
    if fill not in ("mean", "zero"):
        raise ValueError(f"fill must be 'mean' (Alg. 1) or 'zero' (Eq. 3), got {fill!r}")
    was = _in_eval(encoder)
    cap = _Capture(layer)
    size = images.shape[-2:]
    colour = images.mean((0, 2, 3), keepdim=True) if fill == "mean" else torch.zeros((), device=images.device)
    try:
        running = torch.zeros(images.shape[0], *size, device=images.device)
        history, masked_batches = [], []
        x = images
        for t in range(iterations):
            q, acts = _query(encoder, cap, x)
            if t == 0:
                keys = q.detach()  # z̄(x): the positives and 𝓑¹ ∖ x¹
            else:
                masked_batches.append(q.detach())  # 𝓑ᵗ, appended before its own score (Alg. 1)
            extra = torch.cat(masked_batches) if masked_batches else None
            with torch.enable_grad():
                raw = _cam_of_score(score_from_embeddings(q, keys, keys, extra, tau), acts, nsr)
            running = torch.maximum(running, _finish(raw, size))
            history.append(running)
            m = running[:, None]
            x = images * (1 - m) + colour * m
    finally:
        cap.close()
        encoder.train(was)
    return history


def _check_targets(targets: torch.Tensor, b: int) -> torch.Tensor:
    targets = torch.as_tensor(targets)
    if targets.shape != (b,) or targets.dtype != torch.int64:
        raise ValueError(f"targets must be int64 ({b},), got {targets.dtype} {tuple(targets.shape)}")
    return validate.class_labels(targets, "targets")


def gradcam_reference(
    model: nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    normalize: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    """Classifier Grad-CAM (Selvaraju et al. 2017): ``ReLU(Σ_k mean_ij(∂y^c/∂A^k_ij) A^k)``, one image at a time."""
    # the inputs: images, a layer of the model, one class c per image
    _check_images(images, model)
    _check_layer(model, layer)
    targets = _check_targets(targets, images.shape[0])
    was = _in_eval(model)  # eval mode: fixed BN statistics, so the images do not interact
    cap = _Capture(layer)  # a hook that keeps A, the layer's output
    try:  # (the hook is removed and the mode restored whatever happens)
        maps = []  # one CAM per image
        for i in range(images.shape[0]):  # image x_i: one forward and one backward
            with torch.enable_grad():  # (∂y^c/∂A even when called under no_grad)
                logits = model(images[i : i + 1])  # the class scores y of x_i
                validate.class_labels(targets[i : i + 1], "targets", logits.shape[1])  # c is one of its classes
                y = logits[0, targets[i]]  # y^c
                (g,) = torch.autograd.grad(y, cap.value)  # ∂y^c/∂A
            maps.append(_cam_from(cap.value, g, nsr=False))  # ReLU(Σ_k α_k A^k), α_k = mean_ij ∂y^c/∂A^k_ij
        raw = torch.cat(maps)  # the B un-normalised maps (B, h, w)
    finally:  # (clean up)
        cap.close()  # remove the hook
        model.train(was)  # restore the model's mode
    if not normalize:  # the raw map, as captum returns it
        return raw  # ReLU(Σ_k α_k A^k)
    return _finish(raw, images.shape[-2:] if upsample else None)  # upsample, min–max to [0, 1]


def gradcam(
    model: nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    normalize: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    """Classifier Grad-CAM for the batch with one backward (eval mode: samples are independent).

    With ``normalize=False`` the raw map equals captum's ``LayerGradCam(..., relu_attributions=True)``.
    """
    _check_images(images, model)
    _check_layer(model, layer)
    targets = _check_targets(targets, images.shape[0])
    was = _in_eval(model)
    cap = _Capture(layer)
    try:
        with torch.enable_grad():
            logits = model(images)
            validate.class_labels(targets, "targets", logits.shape[1])
            y = logits.gather(1, targets.to(logits.device)[:, None]).sum()
            (g,) = torch.autograd.grad(y, cap.value)
        raw = _cam_from(cap.value, g, nsr=False)
    finally:
        cap.close()
        model.train(was)
    if not normalize:
        return raw
    return _finish(raw, images.shape[-2:] if upsample else None)


def centre_prior(n: int, size: tuple[int, int], sigma: float = 0.25) -> torch.Tensor:
    """A centred isotropic Gaussian map in [0,1] (std ``sigma`` × side): the no-model baseline of Tab. 1."""
    n = validate.integer(n, "n", low=0)
    h, w = validate.size2(size, "size", allow_int=False)
    validate.fits_memory(n * h * w, "n and size: the maps")
    validate.positive(sigma, "sigma")
    ys = (torch.arange(h) + 0.5) / h - 0.5
    xs = (torch.arange(w) + 0.5) / w - 0.5
    g = torch.exp(-(ys[:, None] ** 2 + xs[None] ** 2) / (2 * sigma**2))
    return minmax(g, dims=2).expand(n, h, w).clone()


def dataset_contracam(learner: torch.nn.Module, images: torch.Tensor, batch_size: int = 128, **kwargs) -> torch.Tensor:
    """ContraCAM of every image, computed in batches of ``batch_size`` on the learner's device; returns CPU maps.

    The other images of each batch are the negatives of Eq. (2).
    """
    validate.integer(batch_size, "batch_size", low=2)
    validate.images(images, channels=None)
    validate.like_model(images, "images", validate.module(learner, "learner"))
    if not isinstance(getattr(getattr(learner, "encoder", None), "layer", None), nn.Module):
        raise TypeError(f"learner must have an encoder.layer to explain (a MoCo or BYOL), got {type(learner).__name__}")
    device = next(learner.parameters()).device
    return map_batches(
        lambda batch: contracam(learner, learner.encoder.layer, batch, **kwargs), images, batch_size, device
    )
