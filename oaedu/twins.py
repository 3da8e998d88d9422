"""Every reference/fast twin of the course, collected from the subpackages that declare them.

Each subpackage that owns twins declares them beside its code, in ``oaedu/<subpackage>/twins.py``: a tuple
``TWINS`` of :class:`oaedu.timing.Twin`. :func:`all_twins` imports every such module; nothing here names a paper,
so adding a pair touches only its paper's folder. ``tests/test_twins.py`` checks every pair on its test inputs, and
``python -m oaedu.bench`` shows its rows: where a subpackage's ``bench`` module places them among its own rows (its
``TWINS``), else after that subpackage's rows (:func:`cases`).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from .timing import Case, Twin


def _optional(name: str) -> ModuleType | None:
    """The module ``name``, or ``None`` when it does not exist (an error inside it still raises)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise
        return None


def subpackages() -> list[str]:
    """The names of oaedu's subpackages, sorted."""
    here = str(Path(__file__).resolve().parent)
    return sorted(info.name for info in pkgutil.iter_modules([here]) if info.ispkg)


def all_twins() -> tuple[Twin, ...]:
    """The ``TWINS`` of every ``oaedu.<subpackage>.twins`` module, by subpackage name.

    Raises ``ValueError`` when a module declares a twin whose fast function lives in another subpackage (a twin
    lives with its code) or when two twins share a name.
    """
    out: list[Twin] = []
    for package in subpackages():
        module = _optional(f"oaedu.{package}.twins")
        for t in getattr(module, "TWINS", ()):
            if t.package != package:
                raise ValueError(f"oaedu.{package}.twins declares {t.name}, whose fast function lives in {t.package}")
            out.append(t)
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ValueError(f"twin names must be unique, got {sorted(names)}")
    return tuple(out)


TWINS: tuple[Twin, ...] = all_twins()


def twin(name: str) -> Twin:
    """The twin called ``name`` (e.g. ``"metrics.adjusted_rand_index"``)."""
    for t in TWINS:
        if t.name == name:
            return t
    raise ValueError(f"no twin {name!r}; known: {[t.name for t in TWINS]}")


def placed() -> set[str]:
    """The twins that some ``oaedu.<subpackage>.bench`` module places among its rows (its ``TWINS``)."""
    names: set[str] = set()
    for package in subpackages():
        module = _optional(f"oaedu.{package}.bench")
        names.update(t.name for t in getattr(module, "TWINS", ()))
    return names


def cases(quick: bool, package: str | None = None) -> list[Case]:
    """The benchmark rows of every twin (of ``package``, if given) that no bench module places."""
    done = placed()
    return [case for t in TWINS if t.name not in done and package in (None, t.package) for case in t.bench_cases(quick)]
