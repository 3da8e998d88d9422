"""What a recipe sees of one ``oaedu train`` invocation: :class:`Run` (the profile's settings, the command's options,
the stages done so far) and the sizes of a dry run.

A dry run (``--dry-run`` or ``$OAEDU_DRYRUN=1``) keeps the profile's models, resolution and data pipeline but runs 2
steps per stage in global batches of 4 and evaluates 2 images per set: it proves the path, not the numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset

from ..config import Config
from ..distributed import Context
from .data import limited
from .engine import Options, Schedule, StageResult, train_stage

DRY_RUN_ENV_VAR = "OAEDU_DRYRUN"
DRY_RUN_STEPS, DRY_RUN_BATCH, DRY_RUN_EVAL = 2, 4, 2


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
