"""``python -m oaedu train NAME``: a paper's experiment headless at any profile, in one process or under torchrun.

A :class:`Run` carries what every recipe needs (the profile's settings, the options of the command, the stages done so
far) and :func:`train` runs one recipe of :mod:`oaedu.scale.recipes` and writes ``OUT/results.json`` (rank 0 only):
the metrics, every stage's steps, losses and seconds, the peak memory, the profile and the data it used.

A dry run (``--dry-run`` or ``$OAEDU_DRYRUN=1``) keeps the profile's models, resolution and data pipeline but runs 2
steps per stage in global batches of 4 and evaluates 8 images per set: it proves the path, not the numbers.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from .. import validate
from ..config import Config
from ..distributed import Context, init, shutdown
from .data import limited
from .engine import Options, Schedule, StageResult, peak_memory, train_stage

DRY_RUN_ENV_VAR = "OAEDU_DRYRUN"
DRY_RUN_STEPS, DRY_RUN_BATCH, DRY_RUN_EVAL = 2, 4, 8
TRAIN_PROFILES = ("smoke", "cpu", "gpu", "paper")


def dry_run_requested(flag: bool = False) -> bool:
    """``flag`` or ``$OAEDU_DRYRUN`` set to 1/true/yes."""
    text = os.environ.get(DRY_RUN_ENV_VAR, "").strip().lower()
    if text not in ("", "0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"${DRY_RUN_ENV_VAR} must be 1 or 0, got {text!r}")
    return flag or text in ("1", "true", "yes")


@dataclass
class Run:
    """One ``oaedu train`` invocation as the recipes see it."""

    name: str
    profile: str
    cfg: Config
    opts: Options
    dry_run: bool = False
    weights: str | None = None
    download: bool = False
    stages: dict[str, StageResult] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)

    @property
    def ctx(self) -> Context:
        return self.opts.ctx

    @property
    def data_profile(self) -> str:
        """The profile that decides between real and synthetic data (``paper`` reads real data as ``gpu`` does)."""
        return "gpu" if self.profile == "paper" else self.profile

    def size(self, n: int) -> int:
        """A synthetic dataset's size: ``n``, or a few batches' worth in a dry run."""
        return min(n, 4 * DRY_RUN_BATCH) if self.dry_run else n

    def evaluation_set(self, dataset: Dataset) -> Dataset:
        """``dataset``, or its first few items in a dry run."""
        return limited(dataset, DRY_RUN_EVAL if self.dry_run else None)

    def schedule(self, epochs: int, global_batch: int, lr: float, **kw: Any) -> Schedule:
        """A :class:`Schedule`, cut to :data:`DRY_RUN_STEPS` steps of :data:`DRY_RUN_BATCH` images in a dry run."""
        if self.dry_run:
            return Schedule(1, DRY_RUN_BATCH, lr, max_steps=DRY_RUN_STEPS, **kw)
        return Schedule(epochs, global_batch, lr, **kw)

    def stage(self, name: str, model: torch.nn.Module, data: Dataset, step, schedule: Schedule, **kw) -> StageResult:
        """Train one stage (:func:`oaedu.scale.engine.train_stage`) and remember it for ``results.json``."""
        if name in self.stages:
            raise ValueError(f"stage {name!r} ran twice in one recipe")
        self.stages[name] = result = train_stage(name, model, data, step, schedule, self.opts, **kw)
        return result


def train(
    name: str,
    profile: str,
    out: str | Path,
    resume: bool = False,
    dry_run: bool = False,
    amp: str = "off",
    workers: int = 0,
    checkpoint_every: int = 500,
    seed: int = 0,
    weights: str | None = None,
    download: bool = False,
    progress: bool = True,
) -> dict:
    """Run recipe ``name`` under ``profile`` and write ``out/results.json`` on rank 0; return what it holds.

    Under ``torchrun`` every process calls this; they join the process group here and leave it at the end.
    """
    from .recipes import RECIPES

    if name not in RECIPES:
        raise ValueError(f"unknown experiment {name!r}; expected one of {', '.join(RECIPES)}")
    validate.choice(profile, "profile", TRAIN_PROFILES)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give a folder for results.json and the checkpoints")
    recipe = RECIPES[name]
    ctx = init()
    try:
        torch.manual_seed(seed + ctx.rank)  # per-rank draws differ; data augmentation is keyed by item instead
        opts = Options(out, ctx, resume, amp, workers, checkpoint_every, seed, progress)
        run = Run(name, profile, Config(profile, recipe.profiles[profile]), opts, dry_run_requested(dry_run))
        run.weights, run.download = weights, download
        began = time.perf_counter()
        results = recipe.run(run)
        report = _report(run, recipe, results, time.perf_counter() - began)
        if ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "results.json").write_text(json.dumps(report, indent=1, default=_jsonable))
        return report
    finally:
        shutdown()


def _report(run: Run, recipe, results: Mapping, seconds: float) -> dict:
    return {
        "experiment": run.name,
        "notebook": recipe.notebook,
        "profile": run.profile,
        "matches": recipe.matches[run.profile],
        "dry_run": run.dry_run,
        "world_size": run.ctx.world_size,
        "device": str(run.ctx.device),
        "amp": run.opts.amp,
        "seed": run.opts.seed,
        "data": run.data,
        "config": dict(run.cfg),
        "results": results,
        "stages": {
            k: {"steps": s.steps, "seconds": round(s.seconds, 2), "losses": s.losses} for k, s in run.stages.items()
        },
        "seconds": round(seconds, 2),
        "memory": peak_memory(run.ctx.device),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)
