"""Run profiles: one switch that sizes every experiment in the course.

``OAEDU_PROFILE`` picks one of three profiles:

* ``smoke``: seconds per notebook; what CI runs.
* ``cpu``: a few minutes per notebook on a laptop; the default without a GPU.
* ``gpu``: the real sizes, and the real datasets when they are present; the default with CUDA.

Each notebook keeps a small table ``{profile: {setting: value}}`` and calls :func:`select` on it in
its parameters cell, so every size in the notebook comes from one place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

PROFILES: tuple[str, ...] = ("smoke", "cpu", "gpu")
ENV_VAR = "OAEDU_PROFILE"
SEED_ENV_VAR = "OAEDU_SEED"


def default_profile() -> str:
    """``gpu`` when CUDA is available, otherwise ``cpu``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(profile: str | None = None) -> str:
    """Return the active profile: ``profile`` if given, else ``$OAEDU_PROFILE``, else the default.

    Raises:
        ValueError: the name is not one of :data:`PROFILES`.
    """
    if profile is not None and not isinstance(profile, str):
        raise TypeError(f"profile must be a profile name ({', '.join(PROFILES)}), got {type(profile).__name__}")
    name = profile if profile is not None else os.environ.get(ENV_VAR, "").strip()
    if not name:
        return default_profile()
    name = name.lower()
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from {'the argument' if profile else '$' + ENV_VAR}); "
            f"expected one of {', '.join(PROFILES)}"
        )
    return name


class Config(Mapping[str, Any]):
    """A read-only settings table that also allows attribute access: ``cfg.epochs``."""

    def __init__(self, profile: str, values: Mapping[str, Any]):
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a mapping of settings, got {type(values).__name__}")
        self.profile = profile
        self._values = MappingProxyType(dict(values))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"config for profile {self.profile!r} has no setting {key!r}") from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Config[{self.profile}]({body})"


def select(table: Mapping[str, Mapping[str, Any]], profile: str | None = None, **overrides: Any) -> Config:
    """Pick the settings for the active profile from ``{profile: {setting: value}}``.

    Every profile in the table must define the same settings, so switching profile can never leave a
    notebook with a missing variable. ``overrides`` replace single settings (handy in exercises).
    ``$OAEDU_SEED`` replaces a ``seed`` setting (how ``python -m oaedu reproduce --seeds N`` runs seeds).
    """
    name = get_profile(profile)
    if not isinstance(table, Mapping) or not all(isinstance(v, Mapping) for v in table.values()):
        raise TypeError(f"table must map each profile to a dict of settings, got {type(table).__name__}")
    missing = [p for p in PROFILES if p not in table]
    if missing:
        raise ValueError(f"config table lacks profile(s) {missing}; expected keys {list(PROFILES)}")
    keys = set(table[PROFILES[0]])
    for p in PROFILES[1:]:
        if set(table[p]) != keys:
            diff = sorted(keys.symmetric_difference(table[p]))
            raise ValueError(f"profile {p!r} defines different settings from {PROFILES[0]!r}: {diff}")
    unknown = sorted(set(overrides) - keys)
    if unknown:
        raise ValueError(f"unknown override(s) {unknown}; known settings: {sorted(keys)}")
    seed = os.environ.get(SEED_ENV_VAR, "").strip()
    if seed and "seed" in keys and "seed" not in overrides:
        if not seed.isdigit():
            raise ValueError(f"${SEED_ENV_VAR} must be a non-negative integer, got {seed!r}")
        overrides["seed"] = int(seed)
    return Config(name, {**table[name], **overrides})
