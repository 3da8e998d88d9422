"""Linear probe of an encoder's frozen features and Background Challenge evaluation of those features."""

from __future__ import annotations

import torch
from torch import nn

from .. import validate
from ..data.datasets import MaskedImageDataset
from ..metrics import LinearProbe, linear_probe
from ..train import evaluate_background_challenge
from ..utils import map_batches


def extract_features(encoder: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Global-average-pooled encoder features ``(N, D)`` (encoder in eval mode)."""
    validate.images(images)
    validate.like_model(images, "images", validate.module(encoder, "encoder"))
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    encoder.eval()

    def pooled(batch: torch.Tensor) -> torch.Tensor:
        maps = encoder(batch)
        if maps.ndim != 4:
            raise ValueError(f"encoder must return spatial maps (B, C, h, w) to pool, got shape {tuple(maps.shape)}")
        return maps.mean((2, 3))

    return map_batches(pooled, images, batch_size, next(encoder.parameters()).device)


class FrozenClassifier(nn.Module):
    """Frozen encoder → GAP → a :class:`~oaedu.metrics.LinearProbe` (standardise, linear layer); a classifier for
    ``oaedu.train`` evaluation."""

    def __init__(self, encoder: nn.Module, probe: LinearProbe) -> None:
        super().__init__()
        if not isinstance(probe, LinearProbe):
            raise TypeError(f"probe must be an oaedu.metrics.LinearProbe, got {validate.describe(probe)}")
        self.encoder, self.probe = encoder, probe

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.probe(self.encoder(x).mean((2, 3)))


def probe_encoder(
    encoder: nn.Module, data: MaskedImageDataset, weight_decay: float = 1e-3, steps: int = 100
) -> FrozenClassifier:
    """A multinomial logistic regression on the standardised frozen GAP features of ``encoder``
    (:func:`oaedu.metrics.linear_probe`, L-BFGS, deterministic), on top of the encoder."""
    if len(data) < 2:
        raise ValueError(f"the probe needs at least two training images, data has {len(data)}")
    validate.integer(steps, "steps", low=1)
    validate.non_negative(weight_decay, "weight_decay")
    feats = extract_features(encoder, data.images)
    probe = linear_probe(feats, data.labels, num_classes=data.num_classes, steps=steps, weight_decay=weight_decay)
    dev = next(encoder.parameters()).device
    return FrozenClassifier(encoder, probe).to(dev).eval()


def probe_background_challenge(
    encoder: nn.Module, train: MaskedImageDataset, suite: dict[str, MaskedImageDataset]
) -> dict[str, float]:
    """Linear-probe ``encoder`` on ``train`` and report all eight variants plus ``bg_gap`` (in %)."""
    return evaluate_background_challenge(probe_encoder(encoder, train), suite=suite)
