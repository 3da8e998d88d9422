"""Small self-supervised learners for ContraCAM (paper 3): MoCo-v2-style and BYOL, a tiny CNN encoder,
batched two-view augmentation, a linear probe and Background Challenge evaluation of frozen features.

The contrastive score is Eq. (1), ContraCAM §2.1: ``log exp(sim(z, z̄⁺)/τ) / (exp(sim(z, z̄⁺)/τ) + Σ exp(sim(z, z̄⁻)/τ))``.
(The package is not called ``ssl``: that name would shadow the standard library.)
"""

from .learners import (
    BYOL,
    MoCo,
    SmallEncoder,
    TwoViewData,
    augment,
    info_nce,
    load_online,
    save_online,
    train_contrastive,
    two_view_step,
)
from .probe import FrozenClassifier, extract_features, probe_background_challenge, probe_encoder

__all__ = [
    "BYOL",
    "FrozenClassifier",
    "MoCo",
    "SmallEncoder",
    "TwoViewData",
    "augment",
    "extract_features",
    "info_nce",
    "load_online",
    "save_online",
    "probe_background_challenge",
    "probe_encoder",
    "train_contrastive",
    "two_view_step",
]
