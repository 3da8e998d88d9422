"""Linear probe on frozen features and Background Challenge evaluation of those features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from ..data.datasets import MaskedImageDataset
from ..train import evaluate_background_challenge


@torch.no_grad()
def extract_features(encoder: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Global-average-pooled encoder features ``(N, D)`` (encoder in eval mode)."""
    validate.images(images)
    batch_size = validate.integer(batch_size, "batch_size", low=1)
    encoder.eval()
    dev = next(encoder.parameters()).device
    features = []
    for i in range(0, len(images), batch_size):
        maps = encoder(images[i : i + batch_size].to(dev))
        if maps.ndim != 4:
            raise ValueError(f"encoder must return spatial maps (B, C, h, w) to pool, got shape {tuple(maps.shape)}")
        features.append(maps.mean((2, 3)).cpu())
    return torch.cat(features)


class FrozenClassifier(nn.Module):
    """Frozen encoder → GAP → standardise → linear layer; a classifier for ``oaedu.train`` evaluation."""

    def __init__(self, encoder: nn.Module, mean: torch.Tensor, std: torch.Tensor, linear: nn.Linear) -> None:
        super().__init__()
        d = linear.in_features
        validate.tensor(mean, "mean", shape=(d,), finite_values=True)
        validate.tensor(std, "std", shape=(d,), finite_values=True)
        validate.values_in(std, "std", low=0.0, low_open=True)
        self.encoder, self.linear = encoder, linear
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((self.encoder(x).mean((2, 3)) - self.mean) / self.std)


def linear_probe(
    encoder: nn.Module, data: MaskedImageDataset, weight_decay: float = 1e-3, steps: int = 100
) -> FrozenClassifier:
    """Fit a multinomial logistic regression on standardised frozen features with L-BFGS (deterministic)."""
    if len(data) < 2:
        raise ValueError(f"the probe needs at least two training images, data has {len(data)}")
    validate.integer(steps, "steps", low=1)
    validate.non_negative(weight_decay, "weight_decay")
    feats = extract_features(encoder, data.images)
    mean, std = feats.mean(0), feats.std(0).clamp_min(1e-6)
    z = (feats - mean) / std
    linear = nn.Linear(z.shape[1], data.num_classes)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(z), data.labels) + weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    dev = next(encoder.parameters()).device
    return FrozenClassifier(encoder, mean, std, linear).to(dev).eval()


def probe_background_challenge(
    encoder: nn.Module, train: MaskedImageDataset, suite: dict[str, MaskedImageDataset]
) -> dict[str, float]:
    """Linear-probe ``encoder`` on ``train`` and report all eight variants plus ``bg_gap`` (in %)."""
    return evaluate_background_challenge(linear_probe(encoder, train), suite=suite)
