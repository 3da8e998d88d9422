"""Relevance maps of a ViT: gradient-weighted attention rollout (Chefer et al., ICCV 2021, Eq. 5–6),
the map RobustViT (Chefer et al., NeurIPS 2022, §3) finetunes onto the foreground.

For every block ``l`` with attention probabilities ``A_l (B,H,N,N)`` and the gradient of the target logit
``∇A_l = ∂y_t/∂A_l``::

    Ā_l = mean_h[(∇A_l ⊙ A_l)⁺]          positive part per head, then the head mean
    R   = (I + Ā_L)(I + Ā_{L-1})···(I + Ā_1)
    r   = R[CLS, patches]                  laid out on the patch grid (B, h, w), prefix tokens excluded

``create_graph=False`` treats the gradients as constants, as the official code does; the loss then reaches
the parameters only through ``A_l``. ``create_graph=True`` keeps the graph of the gradients, so the map is
exactly (second-order) differentiable.
"""

from __future__ import annotations

import torch

from .. import validate
from ..models import capture_attention, patch_grid


def _forward(model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor | None):
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got {getattr(images, 'shape', type(images))}")
    validate.images(images, model=validate.module(model))
    if not torch.is_grad_enabled():
        raise ValueError("relevance maps need gradients: do not call them under torch.no_grad()")
    with capture_attention(model) as record:
        logits = validate.overflow(model(images), "images", "the model's output")
    if record.num_prefix_tokens < 1:
        raise ValueError("relevance maps are the CLS row of the rollout: the model needs a CLS token")
    if target is None:
        target = logits.argmax(1)
    target = torch.as_tensor(target, device=logits.device)
    if target.is_floating_point() or target.is_complex():
        raise ValueError(f"target must hold integer class indices, got dtype {target.dtype}")
    target = target.long()
    if target.shape != (logits.shape[0],):
        raise ValueError(f"target must hold one class per image, shape ({logits.shape[0]},), got {tuple(target.shape)}")
    if ((target < 0) | (target >= logits.shape[1])).any():
        raise ValueError(f"target classes must lie in [0, {logits.shape[1]}), got {target.tolist()}")
    score = logits.gather(1, target[:, None]).sum()
    return record, score, logits


def _weighted(attn: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    return (grad * attn).clamp(min=0).mean(1)


def relevance_map_reference(
    model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor | None = None, create_graph: bool = False
) -> torch.Tensor:
    """Eq. (5)–(6) image by image: one gradient call per block and the full ``N×N`` rollout ``R ← R + Ā_l·R``.

    ``target``: the class to explain per image (default: the predicted one). Returns ``(B, h, w)`` on the patch grid.
    """
    record, score, _ = _forward(model, images, target)  # A_l for every block, y_t
    grads = [  # ∇A_l = ∂y_t/∂A_l, one call per block
        torch.autograd.grad(score, a, retain_graph=True, create_graph=create_graph)[0] for a in record.probs
    ]
    n = record.probs[0].shape[-1]  # N tokens
    rel = []
    for b in range(images.shape[0]):  # image by image
        r = torch.eye(n, dtype=record.probs[0].dtype, device=images.device)  # R = I
        for attn, grad in zip(record.probs, grads, strict=True):  # l = 1 … L
            a_bar = _weighted(attn[b : b + 1], grad[b : b + 1])[0]  # Ā_l = mean_h[(∇A_l ⊙ A_l)⁺]
            r = r + a_bar @ r  # R ← R + Ā_l·R = (I + Ā_l)·R
        rel.append(r[0, record.num_prefix_tokens :])  # r = R[CLS, patches]
    return torch.stack(rel).unflatten(1, patch_grid(model))  # (B, h, w)


def relevance_map(
    model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor | None = None, create_graph: bool = False
) -> torch.Tensor:
    """Batched: one gradient call for all blocks, and only the CLS row ``v ← v + v·Ā_l`` (l = L…1), O(N²).

    The first step starts from ``v = e_CLS``, so it needs only the CLS row of ``Ā_L``: ``v = e_CLS + Ā_L[CLS]``.
    Same arguments and result as :func:`relevance_map_reference`: ``(B, h, w)`` on the patch grid.
    """
    record, score, _ = _forward(model, images, target)
    grads = torch.autograd.grad(score, record.probs, retain_graph=True, create_graph=create_graph)
    probs = record.probs
    v = _weighted(probs[-1][:, :, :1], grads[-1][:, :, :1])  # (B, 1, N): the CLS row of Ā_L
    v = v + torch.eye(1, v.shape[-1], dtype=v.dtype, device=v.device)  # + e_CLS
    for attn, grad in zip(reversed(probs[:-1]), reversed(grads[:-1]), strict=True):
        v = torch.baddbmm(v, v, _weighted(attn, grad))  # v + v·Ā_l
    return v[:, 0, record.num_prefix_tokens :].unflatten(1, patch_grid(model))  # (B, N) -> (B, h, w)
