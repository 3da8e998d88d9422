"""The SAR training objective on a timm ViT (Peruzzo et al., 2022, §4.1–4.2).

* :func:`spatial_entropy_loss`: Eq. (9), the mean spatial entropy over heads and images of the
  last block's pre-softmax CLS scores.
* :func:`remove_last_skip`: Eq. (10)–(11), the last block computes ``z' = MSA(LN(z))`` and
  ``z = MLP(z') + z'``: no residual around the attention and no LayerNorm before the MLP (Tab. 1b, row C).
  ``keep_norm=True`` keeps that LayerNorm (row B).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from oaedu import validate
from oaedu.models import capture_attention
from oaedu.train import StepFn, StepOutput

from .entropy import spatial_entropy


def spatial_entropy_loss(model: torch.nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model(images)`` and return ``(logits, L_SE)``, Eq. (9) of SAR §4.1.

    ``L_SE`` is the spatial entropy of the last block's pre-softmax CLS scores
    (``record.cls_scores(-1)``), averaged over heads and batch; it is differentiable.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got {getattr(images, 'shape', type(images))}")
    validate.images(images, model=validate.module(model))
    with capture_attention(model) as record:
        logits = validate.overflow(model(images), "images", "the model's output")
        scores = record.cls_scores(-1)
    return logits, spatial_entropy(scores).mean()


class SkiplessBlock(nn.Module):
    """A ViT block without the residual around its attention, Eq. (10)–(11) of SAR §4.2.

    ``z' = MSA(LN₁(z))`` (Eq. 10), then ``z_out = MLP(z') + z'`` (Eq. 11) when the LayerNorm before the MLP is
    removed (the paper's SAR, Tab. 1b row C), or ``z_out = MLP(LN₂(z')) + z'`` with ``keep_norm=True`` (row B).
    Drop-path acts on the MLP branch only: ``z'`` is now the block's only path, so dropping it would zero the
    block's output for a sample. The submodules keep the names of the timm ``Block`` they come from.
    """

    def __init__(self, block: Block, keep_norm: bool = False) -> None:
        super().__init__()
        if not isinstance(block, Block):
            raise ValueError(f"SkiplessBlock wraps a timm vision_transformer.Block, got {type(block).__name__}")
        self.norm1, self.attn, self.ls1 = block.norm1, block.attn, block.ls1
        self.norm2 = block.norm2 if keep_norm else nn.Identity()
        self.mlp, self.ls2, self.drop_path2 = block.mlp, block.ls2, block.drop_path2
        self.keep_norm = keep_norm

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.ls1(self.attn(self.norm1(x), attn_mask=attn_mask))
        return z + self.drop_path2(self.ls2(self.mlp(self.norm2(z))))


def remove_last_skip(model: torch.nn.Module, keep_norm: bool = False) -> torch.nn.Module:
    """Replace the last block by a :class:`SkiplessBlock`, Eq. (10)–(11) of SAR §4.2 (in place; returns ``model``).

    By default the LayerNorm before the last MLP goes too, as in the paper (Tab. 1b row C: +1.5 points on
    IN-100, against +0.42 for removing the skip alone, row B, which ``keep_norm=True`` gives).
    """
    blocks = getattr(model, "blocks", None)
    if blocks is None or len(blocks) == 0 or not isinstance(blocks[-1], Block | SkiplessBlock):
        raise ValueError(f"remove_last_skip needs a timm ViT with Block layers, got {type(model).__name__}")
    if isinstance(blocks[-1], SkiplessBlock):
        raise ValueError("the last block's attention skip is already removed")
    blocks[-1] = SkiplessBlock(blocks[-1], keep_norm=keep_norm)
    return model


def sar_step(lambda_entropy: float, label_smoothing: float = 0.0) -> StepFn:
    """A :class:`~oaedu.train.StepFn`: ``L = CE + λ·L_SE`` (Eq. 9, SAR §4.1).

    Pair it with :func:`remove_last_skip` for full SAR; ``lambda_entropy = 0`` trains with plain cross-entropy.
    """
    validate.non_negative(lambda_entropy, "lambda_entropy")
    validate.probability(label_smoothing, "label_smoothing")

    def step(model, images, labels, masks):
        del masks
        logits, entropy = spatial_entropy_loss(model, images)
        ce = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        return StepOutput(
            ce + lambda_entropy * entropy, logits, {"cross_entropy": ce.item(), "spatial_entropy": entropy.item()}
        )

    return step
