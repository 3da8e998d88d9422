"""Tiny ViT, MLP-Mixer and ConvMixer, the shared MLP head, and tools to look inside them."""

from .attention import AttentionRecord, attention_modules, capture_attention
from .builders import (
    build_model,
    count_parameters,
    num_prefix_tokens,
    patch_grid,
    tiny_convmixer,
    tiny_mixer,
    tiny_vit,
)
from .heads import mlp

__all__ = [
    "AttentionRecord",
    "attention_modules",
    "build_model",
    "capture_attention",
    "count_parameters",
    "mlp",
    "num_prefix_tokens",
    "patch_grid",
    "tiny_convmixer",
    "tiny_mixer",
    "tiny_vit",
]
