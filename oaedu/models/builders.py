"""Tiny patch-based models for 32–64 px images, built from timm's own classes (no weights)."""

from __future__ import annotations

import torch
from timm.models.convmixer import ConvMixer
from timm.models.mlp_mixer import MlpMixer
from timm.models.vision_transformer import VisionTransformer

from .. import validate


def _check_sizes(
    num_classes: int, image_size: int, patch_size: int, embed_dim: int, depth: int, square_patches: bool = True
) -> None:
    validate.integer(num_classes, "num_classes", low=0)
    validate.integer(image_size, "image_size", low=1)
    validate.integer(patch_size, "patch_size", low=1)
    validate.integer(embed_dim, "embed_dim", low=1)
    validate.steps(depth, "depth")
    if square_patches and image_size % patch_size:
        raise ValueError(f"image_size {image_size} must be a multiple of patch_size {patch_size}")
    n = (image_size // patch_size) ** 2  # tokens; every block holds about 12·D² weights (and a Mixer N² more)
    params = depth * (12 * embed_dim**2 + 2 * n**2) + embed_dim * (3 * patch_size**2 + num_classes + n)
    validate.fits_memory(params, "embed_dim, depth, image_size and patch_size: the model's weights")


def tiny_vit(
    num_classes: int = 9,
    image_size: int = 32,
    patch_size: int = 4,
    embed_dim: int = 64,
    depth: int = 4,
    num_heads: int = 2,
    mlp_ratio: float = 2.0,
    **kwargs,
) -> VisionTransformer:
    """A DeiT-style ViT with a CLS token: 4 blocks of width 64 on an 8×8 patch grid by default (~0.14M params)."""
    _check_sizes(num_classes, image_size, patch_size, embed_dim, depth)
    validate.integer(num_heads, "num_heads", low=1)
    if embed_dim % num_heads:
        raise ValueError(f"embed_dim {embed_dim} must be a multiple of num_heads {num_heads}")
    validate.positive(mlp_ratio, "mlp_ratio")
    return VisionTransformer(
        img_size=image_size,
        patch_size=patch_size,
        num_classes=num_classes,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        **kwargs,
    )


def tiny_mixer(
    num_classes: int = 9,
    image_size: int = 32,
    patch_size: int = 4,
    embed_dim: int = 64,
    depth: int = 4,
    **kwargs,
) -> MlpMixer:
    """An MLP-Mixer with token-mixing MLPs over the 8×8 patch grid (no CLS token)."""
    _check_sizes(num_classes, image_size, patch_size, embed_dim, depth)
    return MlpMixer(
        num_classes=num_classes,
        img_size=image_size,
        patch_size=patch_size,
        num_blocks=depth,
        embed_dim=embed_dim,
        **kwargs,
    )


def tiny_convmixer(
    num_classes: int = 9,
    image_size: int = 32,
    patch_size: int = 4,
    embed_dim: int = 64,
    depth: int = 4,
    kernel_size: int = 5,
    **kwargs,
) -> ConvMixer:
    """A ConvMixer: patch stem, then depthwise k×k convolutions over the patch grid."""
    del image_size  # ConvMixer is fully convolutional; the argument keeps the builders interchangeable.
    _check_sizes(num_classes, 1, patch_size, embed_dim, depth, square_patches=False)
    validate.integer(kernel_size, "kernel_size", low=1)
    validate.fits_memory(depth * embed_dim * kernel_size**2, "kernel_size, embed_dim and depth: the kernels")
    return ConvMixer(
        dim=embed_dim,
        depth=depth,
        kernel_size=kernel_size,
        patch_size=patch_size,
        num_classes=num_classes,
        **kwargs,
    )


BUILDERS = {"vit": tiny_vit, "mixer": tiny_mixer, "convmixer": tiny_convmixer}


def build_model(name: str, **kwargs) -> torch.nn.Module:
    """Build ``"vit"``, ``"mixer"`` or ``"convmixer"`` with the tiny defaults, overridden by ``kwargs``."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(BUILDERS)}")
    return BUILDERS[name](**kwargs)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    validate.module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def patch_grid(model: torch.nn.Module) -> tuple[int, int]:
    """The patch grid ``(h, w)`` of a timm ViT or Mixer; never hard-code 14×14."""
    validate.module(model)
    embed = getattr(model, "patch_embed", None) or getattr(model, "stem", None)
    grid = getattr(embed, "grid_size", None)
    if grid is None:
        raise ValueError(f"{type(model).__name__} has no patch_embed.grid_size; is it a timm ViT or Mixer?")
    return int(grid[0]), int(grid[1])


def num_prefix_tokens(model: torch.nn.Module) -> int:
    """Tokens before the patches (CLS, distillation, registers); 0 for models without them."""
    validate.module(model)
    return int(getattr(model, "num_prefix_tokens", 0))
