"""Object-centric self-supervised learning (Paper 5): slot matching utilities."""

from oaedu.slots.attention import CrossAttentionPool, SlotAttention
from oaedu.slots.matching import hungarian_match, hungarian_match_reference

__all__ = ["SlotAttention", "CrossAttentionPool", "hungarian_match", "hungarian_match_reference"]
