"""One benchmark, one budget: the object-aware ideas of notebooks 02–05 side by side (notebook 07).

None of the five papers compares its idea with the other four. Here every method trains on the same
synthetic Background Challenge, with the same tiny ViT (or, for the self-supervised BG-Mixup, the course's
small contrastive CNN read out by a linear probe), the same epochs and the same seeds, through exactly the
functions the paper notebooks use: ``oaedu.oamixer.oamixer_step``, ``oaedu.spatial_entropy.sar_step`` and
``remove_last_skip``, ``oaedu.relevance.robustvit_step``, ``oaedu.contracam.mixup_prepare``. Each entry holds the
eight variant accuracies, the BG-Gap and the training time per epoch. RobustViT is a finetuning method: it starts
from the trained baseline and adds a short finetuning on a few masked images, which its cost column includes.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from .data import VARIANTS, MaskedImageDataset, background_challenge, background_challenge_suite
from .models import patch_grid, tiny_vit
from .train import evaluate_background_challenge, fit
from .utils import get_device, seed_everything

METRICS: tuple[str, ...] = (*VARIANTS, "bg_gap")


@dataclass(frozen=True)
class Budget:
    """What every method gets: data, backbone size, epochs and optimiser settings."""

    n_train: int = 2000
    n_test: int = 400
    epochs: int = 3
    lr: float = 2e-3
    batch_size: int = 128
    image_size: int = 32
    patch_size: int = 4
    embed_dim: int = 64
    depth: int = 4
    num_classes: int = 9
    bg_correlation: float = 0.9
    kappa_scale: float = 20.0
    sar_lambda: float = 0.05
    p_mix: float = 0.4
    robustvit_images: int = 144
    robustvit_epochs: int = 10
    robustvit_lr: float = 1e-4

    def vit(self) -> torch.nn.Module:
        return tiny_vit(num_classes=self.num_classes, image_size=self.image_size, patch_size=self.patch_size,
                        embed_dim=self.embed_dim, depth=self.depth)


@dataclass
class Entry:
    """One method, one seed: accuracies (%) per variant plus ``bg_gap``, and seconds per training epoch."""

    accuracy: dict[str, float]
    seconds_per_epoch: float
    note: str = ""


@dataclass
class Context:
    train: MaskedImageDataset
    suite: dict[str, MaskedImageDataset]
    budget: Budget
    seed: int
    device: torch.device
    progress: bool
    cache: dict = field(default_factory=dict)


def _baseline(ctx: Context) -> Entry:
    seed_everything(ctx.seed)
    model = ctx.budget.vit()
    history = fit(model, ctx.train, ctx.budget.epochs, ctx.budget.batch_size, ctx.budget.lr, seed=ctx.seed,
                  device=ctx.device, progress=ctx.progress, desc="baseline")
    ctx.cache["baseline"], ctx.cache["baseline_seconds"] = model, history.seconds_per_epoch
    return Entry(evaluate_background_challenge(model, ctx.suite), history.seconds_per_epoch, "ViT, cross-entropy")


def _trained_baseline(ctx: Context) -> tuple[torch.nn.Module, float]:
    """The baseline of this seed (trained now unless the baseline row already did) and its seconds per epoch."""
    if "baseline" not in ctx.cache:
        _baseline(ctx)
    return ctx.cache["baseline"], ctx.cache["baseline_seconds"]


def _robustvit(ctx: Context) -> Entry:
    """Finetune the trained baseline with the exact RobustViT losses on a few masked training images; the cost
    counts the baseline's training plus the finetuning, spread over the budget's epochs."""
    from .relevance import robustvit_step

    baseline, seconds = _trained_baseline(ctx)
    b = ctx.budget
    seed_everything(ctx.seed)
    model = copy.deepcopy(baseline)
    few = ctx.train.subset(slice(0, min(b.robustvit_images, len(ctx.train))))
    start = time.perf_counter()
    fit(model, few, b.robustvit_epochs, 16, b.robustvit_lr, weight_decay=1e-4, seed=ctx.seed, device=ctx.device,
        progress=ctx.progress, desc="RobustViT", step=robustvit_step(create_graph=True))
    seconds += (time.perf_counter() - start) / b.epochs
    note = f"the baseline ViT finetuned {b.robustvit_epochs} epochs on {len(few)} masked images (exact relevance)"
    return Entry(evaluate_background_challenge(model, ctx.suite), seconds, note)


def _oamixer(ctx: Context) -> Entry:
    from .oamixer import GTLabeller, oamixer, oamixer_forward, oamixer_step

    seed_everything(ctx.seed)
    vit = ctx.budget.vit()
    labeller = GTLabeller(patch_grid(vit))
    model = oamixer(vit, "l1", kappa_scale=ctx.budget.kappa_scale)
    history = fit(model, ctx.train, ctx.budget.epochs, ctx.budget.batch_size, ctx.budget.lr, seed=ctx.seed,
                  device=ctx.device, progress=ctx.progress, desc="OAMixer", step=oamixer_step(labeller))
    accuracy = evaluate_background_challenge(model, ctx.suite, forward=oamixer_forward(labeller))
    return Entry(accuracy, history.seconds_per_epoch, "ViT + OAMixer, ground-truth mask labels (train and test)")


def _sar(ctx: Context) -> Entry:
    from .spatial_entropy import remove_last_skip, sar_step

    seed_everything(ctx.seed)
    model = remove_last_skip(ctx.budget.vit())
    history = fit(model, ctx.train, ctx.budget.epochs, ctx.budget.batch_size, ctx.budget.lr, seed=ctx.seed,
                  device=ctx.device, progress=ctx.progress, desc="SAR", step=sar_step(ctx.budget.sar_lambda))
    note = f"ViT, last skip removed, CE + {ctx.budget.sar_lambda}·spatial entropy"
    return Entry(evaluate_background_challenge(model, ctx.suite), history.seconds_per_epoch, note)


def _ssl(ctx: Context, mixup: bool) -> Entry:
    from .contracam import background_only, dataset_contracam, mixup_prepare
    from .contrastive import MoCo, probe_background_challenge, train_contrastive

    images = ctx.train.images
    if "moco" not in ctx.cache:
        torch.manual_seed(ctx.seed)
        vanilla = MoCo(queue_size=512).to(ctx.device)
        start = time.perf_counter()
        train_contrastive(vanilla, images, ctx.budget.epochs, ctx.budget.batch_size, seed=ctx.seed,
                          progress=ctx.progress, desc="MoCo")
        ctx.cache["moco"] = (vanilla, (time.perf_counter() - start) / ctx.budget.epochs)
    vanilla, seconds = ctx.cache["moco"]
    learner = vanilla
    if mixup:
        cams = dataset_contracam(vanilla, images)
        prepare = mixup_prepare(cams, background_only(images, cams, threshold=0.2), p=ctx.budget.p_mix)
        torch.manual_seed(ctx.seed)
        learner = MoCo(queue_size=512).to(ctx.device)
        start = time.perf_counter()
        train_contrastive(learner, images, ctx.budget.epochs, ctx.budget.batch_size, seed=ctx.seed,
                          prepare=prepare, progress=ctx.progress, desc="MoCo + BG-Mixup")
        seconds = (time.perf_counter() - start) / ctx.budget.epochs
    accuracy = probe_background_challenge(learner.encoder, ctx.train, ctx.suite)
    note = "small CNN, MoCo" + (" + BG-Mixup (ContraCAM of the vanilla MoCo)" if mixup else "") + ", linear probe"
    return Entry(accuracy, seconds, note)


METHODS: dict[str, Callable[[Context], Entry]] = {
    "baseline": _baseline,
    "OAMixer": _oamixer,
    "SAR": _sar,
    "RobustViT": _robustvit,
    "MoCo (probe)": lambda ctx: _ssl(ctx, mixup=False),
    "MoCo + BG-Mixup (probe)": lambda ctx: _ssl(ctx, mixup=True),
}


def run(
    budget: Budget,
    seeds: Sequence[int] = (0,),
    methods: Sequence[str] | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict[str, list[Entry]]:
    """Train and evaluate every method for every seed; returns ``{method: [Entry per seed]}``."""
    methods = list(methods or METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; expected some of {list(METHODS)}")
    if not seeds:
        raise ValueError("need at least one seed")
    device = torch.device(device) if device is not None else get_device()
    b = budget
    results: dict[str, list[Entry]] = {m: [] for m in methods}
    for seed in seeds:
        train = background_challenge("original", b.n_train, seed, b.image_size, b.num_classes, b.bg_correlation)
        suite = background_challenge_suite(b.n_test, seed + 1000, b.image_size, b.num_classes, b.bg_correlation)
        ctx = Context(train, suite, b, seed, device, progress)
        for m in methods:
            results[m].append(METHODS[m](ctx))
    return results


def summarise(results: Mapping[str, Sequence[Entry]], reference: str = "baseline") -> dict[str, dict[str, float]]:
    """Mean and sample std over seeds of every metric (``<metric>`` and ``<metric>_std``), plus ``cost``:
    training time per epoch relative to ``reference``."""
    if reference not in results:
        raise ValueError(f"the reference method {reference!r} is not among the results")
    ref_time = statistics.fmean(e.seconds_per_epoch for e in results[reference])
    table = {}
    for method, entries in results.items():
        row: dict[str, float] = {}
        for metric in METRICS:
            values = [e.accuracy[metric] for e in entries]
            row[metric] = statistics.fmean(values)
            row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        row["cost"] = statistics.fmean(e.seconds_per_epoch for e in entries) / ref_time
        table[method] = row
    return table


def format_leaderboard(table: Mapping[str, Mapping[str, float]], columns: Sequence[str] = METRICS) -> str:
    """Text table with ``mean ± std`` cells and the cost column."""
    width = max(len(m) for m in table) + 2
    head = "".ljust(width) + "".join(c.replace("_", "-").rjust(13) for c in columns) + "cost".rjust(8)
    lines = [head]
    for method, row in table.items():
        cells = "".join(f"{row[c]:6.1f} ±{row[c + '_std']:4.1f}".rjust(13) for c in columns)
        lines.append(method.ljust(width) + cells + f"{row['cost']:7.2f}×")
    return "\n".join(lines)
