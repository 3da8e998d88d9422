"""One benchmark, one budget: the object-aware ideas of notebooks 02–05 side by side (notebook 07).

None of the five papers compares its idea with the other four. Here every method trains on the same
synthetic Background Challenge, with the same tiny ViT (or, for the self-supervised BG-Mixup, the course's
small contrastive CNN read out by a linear probe), the same epochs and the same seeds, through exactly the
functions the paper notebooks use: ``oaedu.oamixer.oamixer_step``, ``oaedu.spatial_entropy.sar_step`` and
``remove_last_skip``, ``oaedu.relevance.robustvit_step``, ``oaedu.contracam.mixup_prepare``.

**A fair comparison.** Each method's own knob (OAMixer's κ scale, SAR's λ, RobustViT's finetuning learning rate,
BG-Mixup's probability) is chosen by the same small search: every value of its grid (:data:`SEARCH`, the same number
of values for every method) is trained on the first seed's training set and scored on a held-out **validation**
split drawn from the training distribution (Original images, background correlated as in training). The test
suite is never used to choose. The chosen value then runs on every seed. Each :class:`Entry` holds the eight
variant accuracies, the BG-Gap, the validation accuracy and the training time per epoch. A method that needs
another model first pays for it: RobustViT's cost adds the baseline's training to its short finetuning on a few
masked images, BG-Mixup's adds the vanilla MoCo and the ContraCAM pass that give it its maps.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from . import validate
from .data import VARIANTS, MaskedImageDataset, background_challenge, background_challenge_suite
from .models import patch_grid, tiny_vit
from .results import Runs
from .stats import Effect, effect
from .tables import text_table
from .train import ForwardFn, evaluate, evaluate_background_challenge, fit, plain_forward
from .utils import get_device, parse_device, seed_everything

METRICS: tuple[str, ...] = (*VARIANTS, "bg_gap")


@dataclass(frozen=True)
class Budget:
    """What every method gets: data, backbone size, epochs and optimiser settings."""

    n_train: int = 2000
    n_val: int = 500
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
    robustvit_images: int = 144
    robustvit_epochs: int = 10

    def __post_init__(self) -> None:
        for name in (
            "n_train",
            "n_val",
            "n_test",
            "epochs",
            "batch_size",
            "image_size",
            "patch_size",
            "embed_dim",
            "depth",
            "robustvit_images",
            "robustvit_epochs",
        ):
            validate.integer(getattr(self, name), name, low=1)
        validate.integer(self.num_classes, "num_classes", low=2)
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        validate.positive(self.lr, "lr")
        validate.probability(self.bg_correlation, "bg_correlation")

    def vit(self) -> torch.nn.Module:
        return tiny_vit(
            num_classes=self.num_classes,
            image_size=self.image_size,
            patch_size=self.patch_size,
            embed_dim=self.embed_dim,
            depth=self.depth,
        )


# name: (knob, values searched on the validation split); three values per method, so every search costs the same.
SEARCH: dict[str, tuple[str, tuple[float, ...]]] = {
    "OAMixer": ("kappa_scale", (5.0, 20.0, 80.0)),
    "SAR": ("lambda", (0.01, 0.05, 0.2)),
    "RobustViT": ("lr", (3e-5, 1e-4, 3e-4)),
    "MoCo + BG-Mixup (probe)": ("p_mix", (0.2, 0.4, 0.6)),
}


@dataclass
class Entry:
    """One method, one seed: accuracies (%) per variant plus ``bg_gap``, validation accuracy (%), seconds per epoch."""

    accuracy: dict[str, float]
    seconds_per_epoch: float
    note: str = ""
    validation: float = float("nan")


@dataclass(frozen=True)
class Choice:
    """The knob value a method's search chose, and the validation accuracy (%) of every value tried."""

    knob: str
    value: float
    validation: dict[float, float]


@dataclass
class Leaderboard:
    """``entries``: ``{method: [Entry per seed]}``; ``choices``: ``{method: Choice}`` for methods with a knob."""

    entries: dict[str, list[Entry]]
    choices: dict[str, Choice]


@dataclass
class _Trained:
    model: torch.nn.Module
    forward: ForwardFn
    seconds_per_epoch: float
    note: str


@dataclass
class _Context:
    train: MaskedImageDataset
    val: MaskedImageDataset
    suite: dict[str, MaskedImageDataset]
    budget: Budget
    seed: int
    device: torch.device
    progress: bool
    cache: dict = field(default_factory=dict)


def _fit_vit(ctx: _Context, model: torch.nn.Module, desc: str, **kwargs) -> float:
    b = ctx.budget
    history = fit(
        model,
        ctx.train,
        b.epochs,
        b.batch_size,
        b.lr,
        seed=ctx.seed,
        device=ctx.device,
        progress=ctx.progress,
        desc=desc,
        **kwargs,
    )
    return history.seconds_per_epoch


def _baseline(ctx: _Context) -> _Trained:
    if "baseline" not in ctx.cache:
        seed_everything(ctx.seed)
        model = ctx.budget.vit()
        seconds = _fit_vit(ctx, model, "baseline")
        ctx.cache["baseline"] = _Trained(model, plain_forward, seconds, "ViT, cross-entropy")
    return ctx.cache["baseline"]


def _oamixer(ctx: _Context, kappa_scale: float) -> _Trained:
    from .oamixer import GTLabeller, oamixer, oamixer_forward, oamixer_step

    seed_everything(ctx.seed)
    vit = ctx.budget.vit()
    labeller = GTLabeller(patch_grid(vit))
    model = oamixer(vit, "l1", kappa_scale=kappa_scale)
    seconds = _fit_vit(ctx, model, "OAMixer", step=oamixer_step(labeller))
    return _Trained(
        model,
        oamixer_forward(labeller),
        seconds,
        f"ViT + OAMixer, ground-truth mask labels (train and test), κ scale {kappa_scale:g}",
    )


def _sar(ctx: _Context, lambda_entropy: float) -> _Trained:
    from .spatial_entropy import remove_last_skip, sar_step

    seed_everything(ctx.seed)
    model = remove_last_skip(ctx.budget.vit())
    seconds = _fit_vit(ctx, model, "SAR", step=sar_step(lambda_entropy))
    recipe = f"ViT, last skip and LN removed, CE + {lambda_entropy:g}·spatial entropy"
    return _Trained(model, plain_forward, seconds, recipe)


def _robustvit(ctx: _Context, lr: float) -> _Trained:
    """Finetune the trained baseline with the exact RobustViT losses on a few masked training images; the cost
    counts the baseline's training plus the finetuning, spread over the budget's epochs."""
    from .relevance import robustvit_step

    baseline = _baseline(ctx)
    b = ctx.budget
    seed_everything(ctx.seed)
    model = copy.deepcopy(baseline.model)
    few = ctx.train.subset(slice(0, min(b.robustvit_images, len(ctx.train))))
    start = time.perf_counter()
    fit(
        model,
        few,
        b.robustvit_epochs,
        16,
        lr,
        weight_decay=1e-4,
        seed=ctx.seed,
        device=ctx.device,
        progress=ctx.progress,
        desc="RobustViT",
        step=robustvit_step(create_graph=True),
    )
    seconds = baseline.seconds_per_epoch + (time.perf_counter() - start) / b.epochs
    note = f"the baseline ViT finetuned {b.robustvit_epochs} epochs on {len(few)} masked images, lr {lr:g}"
    return _Trained(model, plain_forward, seconds, note)


def _train_moco(ctx: _Context, desc: str, prepare=None) -> tuple[torch.nn.Module, float]:
    """Notebook 04's MoCo (:func:`oaedu.contracam.experiment.train_moco`) on this seed's training images; returns it
    and its training seconds per epoch."""
    from .contracam.experiment import train_moco

    start = time.perf_counter()
    learner, _ = train_moco(
        ctx.train.images,
        ctx.budget.epochs,
        ctx.seed,
        batch_size=ctx.budget.batch_size,
        prepare=prepare,
        device=ctx.device,
        progress=ctx.progress,
        desc=desc,
    )
    return learner, (time.perf_counter() - start) / ctx.budget.epochs


def _moco(ctx: _Context) -> tuple[torch.nn.Module, float]:
    if "moco" not in ctx.cache:
        ctx.cache["moco"] = _train_moco(ctx, "MoCo")
    return ctx.cache["moco"]


def _probe(ctx: _Context, encoder: torch.nn.Module, seconds: float, note: str) -> _Trained:
    from .contrastive import probe_encoder

    return _Trained(probe_encoder(encoder, ctx.train), plain_forward, seconds, note)


def _ssl(ctx: _Context) -> _Trained:
    vanilla, seconds = _moco(ctx)
    return _probe(ctx, vanilla.encoder, seconds, "small CNN, MoCo, linear probe")


def _bg_mixup(ctx: _Context, p_mix: float) -> _Trained:
    """MoCo pretrained with BG-Mixup on the ContraCAMs of the vanilla MoCo; the cost counts the vanilla pretraining,
    the ContraCAM pass and the BG-Mixup pretraining, spread over the budget's epochs."""
    from .contracam import background_only, dataset_contracam, mixup_prepare

    vanilla, vanilla_seconds = _moco(ctx)
    images = ctx.train.images
    if "cams" not in ctx.cache:
        start = time.perf_counter()
        cams = dataset_contracam(vanilla, images)
        ctx.cache["cams"] = (cams, background_only(images, cams, threshold=0.2), time.perf_counter() - start)
    cams, backgrounds, cam_seconds = ctx.cache["cams"]
    learner, own_seconds = _train_moco(ctx, "MoCo + BG-Mixup", mixup_prepare(cams, backgrounds, p=p_mix))
    seconds = vanilla_seconds + own_seconds + cam_seconds / ctx.budget.epochs
    note = f"small CNN, MoCo + BG-Mixup (ContraCAM of the vanilla MoCo, p = {p_mix:g}), linear probe"
    return _probe(ctx, learner.encoder, seconds, note)


METHODS: dict[str, Callable[..., _Trained]] = {
    "baseline": _baseline,
    "OAMixer": _oamixer,
    "SAR": _sar,
    "RobustViT": _robustvit,
    "MoCo (probe)": _ssl,
    "MoCo + BG-Mixup (probe)": _bg_mixup,
}
# The row each method is compared with: the same pipeline without the idea.
CONTROLS: dict[str, str] = {
    "OAMixer": "baseline",
    "SAR": "baseline",
    "RobustViT": "baseline",
    "MoCo + BG-Mixup (probe)": "MoCo (probe)",
}
# What each idea asks for beyond its control (from the papers): the price that no accuracy column shows.
NEEDS: dict[str, str] = {
    "OAMixer": "object labels for every training and test image (here ground-truth masks: an upper bound)",
    "SAR": "nothing: no labels, no masks",
    "RobustViT": "a trained model and foreground masks for a few training images",
    "MoCo + BG-Mixup (probe)": "a self-supervised pipeline, a vanilla pretraining for the CAMs, a ContraCAM pass",
}


def _context(budget: Budget, seed: int, device: torch.device, progress: bool) -> _Context:
    b = budget
    train = background_challenge("original", b.n_train, seed, b.image_size, b.num_classes, b.bg_correlation)
    val = background_challenge("original", b.n_val, seed + 500, b.image_size, b.num_classes, b.bg_correlation)
    suite = background_challenge_suite(b.n_test, seed + 1000, b.image_size, b.num_classes, b.bg_correlation)
    return _Context(train, val, suite, b, seed, device, progress)


def _entry(ctx: _Context, trained: _Trained) -> Entry:
    accuracy = evaluate_background_challenge(trained.model, ctx.suite, forward=trained.forward)
    validation = evaluate(trained.model, ctx.val, trained.forward)
    return Entry(accuracy, trained.seconds_per_epoch, trained.note, validation)


def run(
    budget: Budget,
    seeds: Sequence[int] = (0,),
    methods: Sequence[str] | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    search: Mapping[str, tuple[str, Sequence[float]]] | None = None,
) -> Leaderboard:
    """Choose every method's knob on the first seed's validation split, then train and evaluate every method for
    every seed with its chosen knob. ``search`` replaces :data:`SEARCH` (the grids); ``methods=None`` runs all."""
    if not isinstance(budget, Budget):
        raise TypeError(f"budget must be a Budget, got {type(budget).__name__}")
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of method names, got the string {methods!r}; write [{methods!r}]")
    methods = list(METHODS) if methods is None else list(methods)
    if not methods:
        raise ValueError("methods is empty; pass None for every method")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; expected some of {list(METHODS)}")
    if isinstance(seeds, int) or not seeds:
        raise ValueError(f"seeds must be a non-empty list of seeds, got {seeds!r}")
    seeds = [validate.seed(seed, "seeds[i]") for seed in seeds]
    grids = dict(SEARCH if search is None else search)
    knobless = [m for m in grids if m not in SEARCH]
    if knobless:
        raise ValueError(f"{knobless} have no knob to search; methods with one: {list(SEARCH)}")
    missing = [m for m in methods if m in SEARCH and not grids.get(m, ("", ()))[1]]
    if missing:
        raise ValueError(f"the search grid of {missing} is missing or empty")
    device = parse_device(device) if device is not None else get_device()
    contexts = {seed: _context(budget, seed, device, progress) for seed in seeds}
    first = contexts[seeds[0]]
    choices: dict[str, Choice] = {}
    chosen_runs: dict[str, Entry] = {}
    for m in methods:
        if m not in grids:
            continue
        knob, values = grids[m]
        tried = {float(v): _entry(first, METHODS[m](first, v)) for v in values}
        best = max(tried, key=lambda v: tried[v].validation)  # first of equals: the grid's order breaks ties
        choices[m] = Choice(knob, best, {v: e.validation for v, e in tried.items()})
        chosen_runs[m] = tried[best]
    entries: dict[str, list[Entry]] = {m: [] for m in methods}
    for seed, ctx in contexts.items():
        for m in methods:
            if seed == seeds[0] and m in chosen_runs:
                entries[m].append(chosen_runs[m])
            else:
                entries[m].append(_entry(ctx, METHODS[m](ctx, *([choices[m].value] if m in choices else []))))
    return Leaderboard(entries, choices)


def summarise(results: Mapping[str, Sequence[Entry]], reference: str = "baseline") -> dict[str, dict[str, float]]:
    """Mean and sample std over seeds of every metric (``<metric>`` and ``<metric>_std``), plus ``cost``:
    training time per epoch relative to ``reference``."""
    if reference not in results:
        raise ValueError(f"the reference method {reference!r} is not among the results")
    for method, entries in results.items():
        if not entries:
            raise ValueError(f"results[{method!r}] holds no entries (no seed was run)")
        for e in entries:
            missing = [m for m in METRICS if m not in e.accuracy]
            if missing:
                raise ValueError(f"results[{method!r}]: an entry's accuracy lacks {missing}")
            validate.accuracy_row(e.accuracy, f"results[{method!r}] accuracy", METRICS)
            validate.non_negative(e.seconds_per_epoch, f"results[{method!r}] seconds_per_epoch")
    runs = Runs()
    for method, entries in results.items():
        for seed, e in enumerate(entries):
            runs.add(method, seed, {**{m: e.accuracy[m] for m in METRICS}, "seconds_per_epoch": e.seconds_per_epoch})
    ref_time = statistics.fmean(runs.values(reference, "seconds_per_epoch"))
    if ref_time <= 0:
        raise ValueError(f"the reference method {reference!r} has seconds_per_epoch 0: the cost ratio is undefined")
    table = {}
    for method in runs.arms:
        row: dict[str, float] = {}
        for metric in METRICS:
            row[metric], row[f"{metric}_std"] = runs.mean_spread(method, metric, "std")
        row["cost"] = statistics.fmean(runs.values(method, "seconds_per_epoch")) / ref_time
        table[method] = row
    return table


def effects(results: Mapping[str, Sequence[Entry]], metric: str) -> dict[str, Effect]:
    """The paired effect (:func:`oaedu.stats.effect`, seed by seed) of every method on ``metric`` over its control
    (:data:`CONTROLS`), for the methods whose control is among the results."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    for method, entries in results.items():
        for e in entries:
            validate.accuracy_row(e.accuracy, f"results[{method!r}] accuracy", (metric,))
    return {
        m: effect([e.accuracy[metric] for e in results[m]], [e.accuracy[metric] for e in results[c]])
        for m, c in CONTROLS.items()
        if m in results and c in results
    }


def format_effects(
    results: Mapping[str, Sequence[Entry]],
    table: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = ("original", "mixed_rand", "bg_gap"),
    k: float = 2.0,
    min_seeds: int = 3,
) -> str:
    """One line per method with a control: ``Δ metric ± SE`` against the control, paired by seed (:func:`effects`),
    marked ``✓`` where the effect is shown (``n ≥ min_seeds`` and ``|Δ| > k·SE``, :meth:`oaedu.stats.Effect.shown`),
    then the cost ratio of the two rows and what the idea needs (:data:`NEEDS`)."""
    validate.positive(k, "k")
    validate.integer(min_seeds, "min_seeds", low=1)
    per_metric = {metric: effects(results, metric) for metric in metrics}
    lines = []
    for method, control in CONTROLS.items():
        if method not in per_metric[metrics[0]]:
            continue
        cells = []
        for metric in metrics:
            e = per_metric[metric][method]
            mark = "✓" if e.shown(1, k, min_seeds) or e.shown(-1, k, min_seeds) else "·"
            cells.append(f"{metric.replace('_', '-')} {e.difference:+5.1f} ± {e.se:4.1f} {mark}")
        cost = table[method]["cost"] / table[control]["cost"]
        lines.append(f"{method} − {control}: " + "   ".join(cells) + f"   cost {cost:.2f}×; needs {NEEDS[method]}")
    if not lines:
        raise ValueError(f"no method in results has its control among them; pairs: {CONTROLS}")
    return "\n".join(lines)


def format_leaderboard(table: Mapping[str, Mapping[str, float]], columns: Sequence[str] = METRICS) -> str:
    """Text table with ``mean ± std`` cells and the cost column."""
    if not table:
        raise ValueError("table is empty: pass summarise(run(...))")
    for method, row in table.items():
        missing = [c for c in (*columns, *(f"{c}_std" for c in columns), "cost") if c not in row]
        if missing:
            raise ValueError(f"table[{method!r}] lacks columns {missing}; pass summarise(run(...))")
    cells = {
        method: [*(f"{row[c]:6.1f} ±{row[c + '_std']:4.1f}" for c in columns), f"{row['cost']:7.2f}×"]
        for method, row in table.items()
    }
    header = [*(c.replace("_", "-") for c in columns), "cost"]
    return text_table(cells, [13] * len(columns) + [8], header=header, sep="")
