"""Record what a timm ViT attends to: ``capture_attention``.

timm computes attention with fused ``scaled_dot_product_attention`` by default, which never
materialises the attention matrix. Inside ``capture_attention`` every block runs the explicit path, and
forward hooks record, for each block ``l`` (all in the autograd graph, so losses can use them):

* ``probs[l]``: the attention probabilities ``softmax(q·kᵀ/√d)`` of shape ``(B, H, N, N)``, exactly
  the tensor multiplied with ``v`` (after attention dropout);
* ``q[l]``, ``k[l]``: queries and keys ``(B, H, N, d)``, from which :meth:`AttentionRecord.cls_scores`
  gives the pre-softmax CLS scores over the patches, reshaped to the patch grid ``(B, H, h, w)``.

On exit the hooks are removed and the fused setting is restored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from timm.layers import Attention

from .. import validate
from .builders import num_prefix_tokens, patch_grid


@dataclass
class AttentionRecord:
    """Per-block attention tensors from the last forward pass (cleared by :meth:`clear`)."""

    grid: tuple[int, int]
    num_prefix_tokens: int
    scales: list[float]
    probs: list[torch.Tensor] = field(default_factory=list)
    q: list[torch.Tensor] = field(default_factory=list)
    k: list[torch.Tensor] = field(default_factory=list)

    def clear(self) -> None:
        self.probs.clear()
        self.q.clear()
        self.k.clear()

    def _require(self, block: int) -> None:
        validate.integer(block, "block")
        if not self.probs:
            raise ValueError("no attention recorded yet: run a forward pass inside capture_attention first")
        if not -len(self.probs) <= block < len(self.probs):
            raise ValueError(f"block {block} out of range for {len(self.probs)} recorded blocks")

    def cls_scores(self, block: int = -1) -> torch.Tensor:
        """Pre-softmax scores of the CLS query against each patch key: ``(B, H, h, w)``, float32.

        ``S = q_cls · k_patchᵀ / √d`` (SAR Eq. 4); prefix tokens are excluded.
        """
        self._require(block)
        if self.num_prefix_tokens < 1:
            raise ValueError("the model has no CLS token, so there are no CLS scores")
        q, k = self.q[block].float(), self.k[block].float()
        p = self.num_prefix_tokens
        scores = (q[:, :, :1] @ k[:, :, p:].transpose(-2, -1)).squeeze(2) * self.scales[block]
        return scores.reshape(*scores.shape[:2], *self.grid)  # (B, H, N) -> (B, H, h, w)

    def cls_attention(self, block: int = -1) -> torch.Tensor:
        """Attention probabilities of the CLS query over the patches, ``(B, H, h, w)`` (prefix columns dropped)."""
        self._require(block)
        if self.num_prefix_tokens < 1:
            raise ValueError("the model has no CLS token, so there is no CLS attention")
        row = self.probs[block][:, :, 0, self.num_prefix_tokens :]
        return row.reshape(*row.shape[:2], *self.grid)  # (B, H, N) -> (B, H, h, w)


def attention_modules(model: torch.nn.Module) -> list[Attention]:
    """The timm ``Attention`` modules of ``model`` in forward order."""
    validate.module(model)
    return [m for m in model.modules() if isinstance(m, Attention)]


@contextmanager
def capture_attention(model: torch.nn.Module) -> Iterator[AttentionRecord]:
    """Context manager that records per-block attention; see the module docstring.

    Raises:
        ValueError: the model has no timm attention blocks (e.g. an MLP-Mixer).
    """
    modules = attention_modules(model)
    if not modules:
        raise ValueError(f"{type(model).__name__} has no timm Attention blocks; capture_attention needs a timm ViT")
    record = AttentionRecord(patch_grid(model), num_prefix_tokens(model), [float(m.scale) for m in modules])
    fused = [m.fused_attn for m in modules]
    handles = []
    for m in modules:
        m.fused_attn = False
        handles.append(m.q_norm.register_forward_hook(lambda _m, _i, out: record.q.append(out)))
        handles.append(m.k_norm.register_forward_hook(lambda _m, _i, out: record.k.append(out)))
        handles.append(m.attn_drop.register_forward_hook(lambda _m, _i, out: record.probs.append(out)))
    try:
        yield record
    finally:
        for h in handles:
            h.remove()
        for m, f in zip(modules, fused, strict=True):
            m.fused_attn = f
