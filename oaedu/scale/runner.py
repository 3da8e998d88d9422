"""``python -m oaedu train NAME``: a paper's experiment headless at any profile, in one process or under torchrun.

A :class:`Run` carries what every recipe needs (the profile's settings, the options of the command, the stages done so
far) and :func:`train` runs one recipe of :mod:`oaedu.scale.recipes` and writes ``OUT/results.json`` (rank 0 only):
the metrics, every stage's steps, losses and seconds, the peak memory, the profile and the data it used.

A dry run (:mod:`oaedu.scale.run`) keeps the profile's models, resolution and data pipeline and runs 2 steps per stage.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .. import validate
from ..config import Config
from ..distributed import init, rank_seed, shutdown
from .engine import Options, peak_memory
from .recipes import RECIPES
from .run import Run, dry_run_requested

TRAIN_PROFILES = ("smoke", "cpu", "gpu", "paper")


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

    Under ``torchrun`` every process calls this; they join the process group here and leave it at the end (unless
    the caller joined it first, e.g. to run several experiments in one launch).
    """
    if name not in RECIPES:
        raise ValueError(f"unknown experiment {name!r}; expected one of {', '.join(RECIPES)}")
    validate.choice(profile, "profile", TRAIN_PROFILES)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give a folder for results.json and the checkpoints")
    recipe = RECIPES[name]
    joined = torch.distributed.is_available() and torch.distributed.is_initialized()
    ctx = init()
    try:
        torch.manual_seed(rank_seed(seed, ctx))  # per-rank draws differ; data augmentation is keyed by item instead
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
        if not joined:  # leave a group that the caller set up to the caller
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
