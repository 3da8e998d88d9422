"""The object encoder of Paper 5 (Fig. 1, §2.1): ViT backbone without CLS → object function → heads.

* backbone: a tiny ViT (``oaedu.models.tiny_vit`` with ``class_token=False``) gives patch tokens ``h_n``;
* object function: :class:`~oaedu.slots.attention.SlotAttention` (softmax over slots) or the
  :class:`~oaedu.slots.attention.CrossAttentionDecoder` baseline (softmax over patches) turns K learned queries
  into K object tokens ``s_i``;
* per-slot projection head ``p_i = g_obj(s_i)``;
* global branch on the permutation-invariant mean of the slots: ``r = f_glob((1/K) Σ_i s_i)`` and
  ``p^G = g_glob(r)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .. import validate
from ..models import mlp, tiny_vit
from .attention import CrossAttentionDecoder, SlotAttention


class ObjectOutput(NamedTuple):
    """What :class:`ObjectEncoder` returns for a batch of ``B`` images, ``K`` slots, ``N`` patches."""

    slots: torch.Tensor  # (B, K, D)   object tokens s_i
    attn: torch.Tensor  # (B, K, h, w) attention of the first slot iteration / first cross layer (App. A.5),
    #                                  on the patch grid
    proj: torch.Tensor  # (B, K, D)    object projections p_i
    global_rep: torch.Tensor  # (B, D) global representation r
    global_proj: torch.Tensor  # (B, D) global projection p^G


class ObjectEncoder(nn.Module):
    """Backbone → object function → per-slot projections and a global branch (Paper 5, Fig. 1, §2.1).

    ``attention="slot"`` uses slot attention (competition over slots, ``iters`` GRU steps, the paper uses 1);
    ``attention="cross"`` the cross-attention baseline (each query normalises over the patches): ``cross_layers``
    pre-LN decoder layers of ``cross_heads`` heads (the paper: 2 layers of 4 heads). ``queries``: ``"learned"``
    (the paper's) or ``"sampled"`` from one learned Gaussian for every image (App. A.2.2).
    """

    def __init__(
        self,
        attention: str = "slot",
        num_slots: int = 5,
        image_size: int = 32,
        patch_size: int = 4,
        embed_dim: int = 64,
        depth: int = 2,
        num_heads: int = 2,
        iters: int = 1,
        cross_layers: int = 2,
        cross_heads: int = 4,
        queries: str = "learned",
    ) -> None:
        super().__init__()
        if attention not in ("slot", "cross"):
            raise ValueError(f"attention must be 'slot' or 'cross', got {attention!r}")
        validate.integer(image_size, "image_size", low=1)
        validate.integer(patch_size, "patch_size", low=1)
        validate.integer(num_slots, "num_slots", low=1)
        validate.steps(cross_layers, "cross_layers")
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} must be a multiple of patch_size {patch_size}")
        self.attention, self.num_slots = attention, num_slots
        self.grid = (image_size // patch_size, image_size // patch_size)
        self.backbone = tiny_vit(
            num_classes=0,
            image_size=image_size,
            patch_size=patch_size,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            class_token=False,
            global_pool="avg",
        )
        self.object_fn: nn.Module = (
            SlotAttention(embed_dim, num_slots, iters=iters, queries=queries)
            if attention == "slot"
            else CrossAttentionDecoder(
                embed_dim, num_slots, layers=cross_layers, num_heads=cross_heads, queries=queries
            )
        )
        self.obj_proj = mlp(embed_dim, 2 * embed_dim, embed_dim, activation="gelu", batch_norm=False, bias_out=False)
        # BatchNorm in the global heads (as in SimCLR's projection head): at initialisation the mean of the slots
        # is almost the same vector for every image (cosine ≈ 0.9995 here), so without it L^G starts collapsed.
        self.global_fn = mlp(embed_dim, 2 * embed_dim, embed_dim, activation="gelu")
        self.global_proj = mlp(embed_dim, 2 * embed_dim, embed_dim, activation="gelu", bias_out=False)

    def patch_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone patch tokens ``(B, N, D)`` (no CLS token)."""
        validate.images(images, model=self.backbone)
        return validate.overflow(self.backbone.forward_features(images), "images", "the backbone's tokens")

    def forward(self, images: torch.Tensor) -> ObjectOutput:
        slots, attn = self.object_fn(self.patch_tokens(images))
        r = self.global_fn(slots.mean(1))
        # attn (B, K, N) -> (B, K, h, w)
        return ObjectOutput(slots, attn.unflatten(2, self.grid), self.obj_proj(slots), r, self.global_proj(r))
