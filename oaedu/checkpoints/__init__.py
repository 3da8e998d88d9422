"""Small pretrained weights shipped inside the package.

They are read through :mod:`importlib.resources`, so they load the same way from a source checkout, an
installed wheel or Colab. The scripts that make them live in the repository's ``data/`` folder
(``python data/make_contracam_moco.py``, ``python data/make_robustvit_marker_vit.py``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

NAMES: tuple[str, ...] = ("contracam_moco.pt", "robustvit_marker_vit.pt")


def path(name: str) -> Path:
    """The file of the shipped checkpoint ``name`` (one of :data:`NAMES`), for ``torch.load``.

    Raises:
        FileNotFoundError: ``name`` is not a shipped checkpoint, or the installed package lacks its file.
    """
    if name not in NAMES:
        raise FileNotFoundError(f"no shipped checkpoint {name!r}; expected one of {', '.join(NAMES)}")
    resource = resources.files(__name__) / name
    if not resource.is_file():
        raise FileNotFoundError(f"checkpoint {name} is missing from the package ({resource}): reinstall oaedu")
    return Path(str(resource))
