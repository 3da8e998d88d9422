"""What a notebook shows of its paper-scale run: the plan under ``smoke`` and ``cpu``, the run itself under ``gpu``."""

from __future__ import annotations

from pathlib import Path

from ..config import get_profile
from ..tables import text_table
from .recipes import RECIPES
from .runner import train

SHOWN = ("models", "model", "encoder", "data", "image_size", "epochs", "global_batch", "lr")


def describe(name: str) -> str:
    """The ``gpu`` and ``paper`` settings of experiment ``name``, what each matches in the paper, and the commands."""
    if name not in RECIPES:
        raise ValueError(f"unknown experiment {name!r}; expected one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    rows = {}
    for key in SHOWN:
        values = [recipe.profiles[p].get(key) for p in ("gpu", "paper")]
        if any(v is not None for v in values):
            rows[key] = [", ".join(v) if isinstance(v, list) else str(v) for v in values]
    widths = [max(len(r[i]) for r in rows.values()) + 2 for i in (0, 1)]
    table = text_table(rows, widths, header=["gpu", "paper"], indent="  ")
    lines = [f"{name}: {recipe.notebook} at paper scale", table]
    lines += [f"  gpu:   {recipe.matches['gpu']}", f"  paper: {recipe.matches['paper']}", ""]
    lines += [
        f"  python -m oaedu train {name} --profile gpu            # one GPU",
        f"  torchrun --nproc_per_node 8 -m oaedu train {name} --profile paper   # the paper's schedule",
        f"  python -m oaedu train {name} --profile gpu --dry-run  # 2 steps per stage, any machine",
    ]
    return "\n".join(lines)


def at_paper_scale(name: str, profile: str | None = None, out: str | Path | None = None) -> dict | None:
    """Under the ``gpu`` profile, run experiment ``name`` in its paper's setting (what ``python -m oaedu train NAME
    --profile gpu`` runs) and return its ``results.json``; under ``smoke`` and ``cpu``, print the plan and return
    ``None``."""
    profile = get_profile(profile)
    print(describe(name))
    if profile != "gpu":
        print(f"\n(profile {profile!r}: nothing runs here; with OAEDU_PROFILE=gpu this cell runs the gpu row)")
        return None
    return train(name, "gpu", out or Path("runs") / "train" / f"{name}-gpu", resume=True, amp="auto", workers=4)
