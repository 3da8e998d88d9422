"""The header and setup convention every notebook follows.

Cell 1 of each notebook is a markdown header whose first line is :func:`badges` for that notebook;
cell 2 installs the package on Colab (a no-op elsewhere); the parameters cell reads the profile;
then ``device = oaedu.notebook.setup(seed)`` seeds everything, sets threads and the figure style,
quiets known-harmless warnings and prints the environment.
"""

from __future__ import annotations

import warnings

import torch

from .plotting import use_style
from .utils import env_report, get_device, seed_everything, set_threads

REPOSITORY = "oaedu-course/oaedu"
BRANCH = "main"


def colab_url(notebook: str) -> str:
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{notebook}"


def binder_url(notebook: str) -> str:
    return f"https://mybinder.org/v2/gh/{REPOSITORY}/{BRANCH}?labpath=notebooks%2F{notebook}"


def badges(notebook: str) -> str:
    """The markdown badge line for ``notebook`` (a file name such as ``02_oamixer.ipynb``)."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(notebook)})"
    )


def setup(seed: int = 0, threads: int | None = None, verbose: bool = True) -> torch.device:
    """Seed, set threads and figure style, filter noisy warnings; return the device to use."""
    seed_everything(seed)
    set_threads(threads)
    use_style()
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.nn.modules.module")
    warnings.filterwarnings("ignore", message=".*upsample.*")
    device = get_device()
    if verbose:
        print(" | ".join(f"{k} {v}" for k, v in env_report().items()))
    return device
