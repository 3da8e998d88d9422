"""The SAR training objective on a timm ViT (Peruzzo et al., NeurIPS 2022, §3.2–3.3).

* :func:`spatial_entropy_loss`: Eq. (9), the mean spatial entropy over heads and images of the
  last block's pre-softmax CLS scores.
* :func:`remove_last_skip`: Eq. (10)–(11), the last block computes ``z' = MSA(LN(z))`` and
  ``z = MLP(LN(z')) + z'`` (no residual around the attention), so the CLS output must go through it.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block

from oaedu.models import capture_attention

from .entropy import spatial_entropy


def spatial_entropy_loss(model: torch.nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model(images)`` and return ``(logits, L_SE)``, Eq. (9) of SAR §3.2.

    ``L_SE`` is the spatial entropy of the last block's pre-softmax CLS scores
    (``record.cls_scores(-1)``), averaged over heads and batch; it is differentiable.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got {getattr(images, 'shape', type(images))}")
    with capture_attention(model) as record:
        logits = model(images)
        scores = record.cls_scores(-1)
    return logits, spatial_entropy(scores).mean()


def _forward_without_attention_skip(self: Block, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    z = self.ls1(self.attn(self.norm1(x), *args, **kwargs))
    z = self.drop_path1(z)
    return z + self.drop_path2(self.ls2(self.mlp(self.norm2(z))))


def remove_last_skip(model: torch.nn.Module) -> torch.nn.Module:
    """Drop the residual around the last block's attention, Eq. (10)–(11) (in place; returns ``model``).

    The last timm ``Block`` gets a bound forward that computes ``z' = MSA(LN(z))``,
    ``z = MLP(LN(z')) + z'`` and passes any extra forward kwargs (e.g. ``attn_mask``) to ``attn``.
    """
    blocks = getattr(model, "blocks", None)
    if blocks is None or len(blocks) == 0 or not isinstance(blocks[-1], Block):
        raise ValueError(f"remove_last_skip needs a timm ViT with Block layers, got {type(model).__name__}")
    last = blocks[-1]
    last.forward = types.MethodType(_forward_without_attention_skip, last)
    last.sar_skip_removed = True
    return model


def sar_step(lam: float, label_smoothing: float = 0.0):
    """A ``step`` for :func:`oaedu.train.fit`: ``L = CE + λ·L_SE`` (Eq. 9, SAR §3.2).

    Pair it with :func:`remove_last_skip` for full SAR; ``lam = 0`` trains with plain cross-entropy.
    """
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")

    def step(model, images, labels, masks):
        del masks
        logits, entropy = spatial_entropy_loss(model, images)
        loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        return loss + lam * entropy, logits

    return step
