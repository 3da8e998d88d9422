"""The OAMixer experiment of notebook 02: arms that differ only in their patch labels, and paired effects.

Every arm is the *same* OAMixer model (κ = 0 at the start in every layer, Eq. 3), trained with the same
step, regularisers, budget and data; arms differ only in the labeller. The control is the uniform
labeller (``D = 0``, so the mask is 1 and the model is the vanilla one, §3.1), not a separately trained
baseline, so the comparison isolates the object labels. Effects are paired over seeds: the arm and its
control share the seed, the data and the initial weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ..data.datasets import MaskedImageDataset
from ..models import build_model
from ..stats import Effect, effect
from ..stats import mean_std as stats_mean_std
from ..train import evaluate_background_challenge, fit
from ..utils import seed_everything
from .wrap import Labeller, OAMixerModel, oamixer, oamixer_forward, oamixer_step


def train_arm(
    arch: str,
    labeller: Labeller,
    train: MaskedImageDataset,
    suite: Mapping[str, MaskedImageDataset],
    *,
    distance: str = "l1",
    seed: int = 0,
    epochs: int = 10,
    lr: float = 2e-3,
    kappa_scale: float = 1.0,
    label_smoothing: float = 0.1,
    device: torch.device | str | None = None,
    desc: str | None = None,
    progress: bool = True,
    **arch_kwargs,
) -> tuple[OAMixerModel, dict[str, float]]:
    """Train one OAMixer ``arch`` (``"vit"``, ``"mixer"``, ``"convmixer"``) with ``labeller``; evaluate it.

    The model is built and initialised from ``seed`` (so two arms with one seed start from the same
    weights), wrapped by :func:`~oaedu.oamixer.oamixer` (κ = 0 in every layer), trained by
    :func:`oaedu.train.fit` with :func:`~oaedu.oamixer.oamixer_step` (labels computed on every batch,
    after the paired flip) and evaluated on every variant of ``suite`` with labels of the test image.

    Returns:
        The trained model and its accuracies (%) on every variant plus ``bg_gap``.
    """
    if not callable(labeller):
        raise ValueError(f"labeller must be callable, got {type(labeller).__name__}")
    seed_everything(seed)
    model = build_model(arch, num_classes=train.num_classes, **arch_kwargs)
    model = oamixer(model, distance, kappa_scale=kappa_scale)
    fit(
        model,
        train,
        epochs=epochs,
        lr=lr,
        seed=seed,
        device=device,
        desc=desc or arch,
        progress=progress,
        step=oamixer_step(labeller, label_smoothing=label_smoothing),
    )
    results = evaluate_background_challenge(model, suite, forward=oamixer_forward(labeller))
    return model, results


def paired_effect(arm: Sequence[Mapping[str, float]], control: Sequence[Mapping[str, float]], metric: str) -> Effect:
    """``arm[s][metric] − control[s][metric]`` for every seed ``s`` (the runs are paired by position), as an
    :class:`oaedu.stats.Effect`."""
    if len(arm) != len(control) or not arm:
        raise ValueError(f"need the same positive number of arm and control runs, got {len(arm)} and {len(control)}")
    missing = [i for i, (a, c) in enumerate(zip(arm, control, strict=True)) if metric not in a or metric not in c]
    if missing:
        raise ValueError(f"metric {metric!r} is missing from run(s) {missing}")
    return effect([a[metric] for a in arm], [c[metric] for c in control])


def mean_std(runs: Sequence[Mapping[str, float]], metrics: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation over runs (seeds) of each metric."""
    if not runs:
        raise ValueError("need at least one run")
    return {m: stats_mean_std([r[m] for r in runs]) for m in metrics}
