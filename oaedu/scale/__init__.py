"""Paper scale: the notebooks' experiments as commands (``python -m oaedu train NAME``), on image folders, with mixed
precision, checkpoints and resume, on one process or many under ``torchrun`` (DistributedDataParallel)."""

from .engine import Options, Schedule, StageResult, StepModule, train_stage
from .recipes import RECIPES, Recipe
from .run import Run
from .runner import TRAIN_PROFILES, train

__all__ = [
    "Options",
    "RECIPES",
    "Recipe",
    "Run",
    "Schedule",
    "StageResult",
    "StepModule",
    "TRAIN_PROFILES",
    "train",
    "train_stage",
]
