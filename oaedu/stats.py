"""Effects over seeds: means, spreads and the one rule the course uses to call a difference real.

An effect is a claim over seeds. With ``n`` paired runs (the method and its control trained on the same seed, so
they share data and initial weights), the difference ``d_s = treated_s − control_s`` has mean ``d̄`` and standard
error ``SE = std(d) / √n``. The course calls the effect *shown* when ``n ≥ 3`` and ``|d̄| > 2·SE`` in the claimed
direction (roughly a 95 % interval that excludes zero); :func:`oaedu.check.effect` asserts exactly that.
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch


def _values(name: str, values: Sequence[float]) -> list[float]:
    """Real numbers (not text, bytes, bools or complex numbers), at least one, all finite, and small enough that
    their sums and squared deviations stay finite."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise TypeError(f"{name}: values must be a sequence of numbers, got {values!r}")
    values = list(values)
    odd = [v for v in values if isinstance(v, bool) or not (isinstance(v, numbers.Real) or _real_scalar(v))]
    if odd:
        raise TypeError(f"{name}: values must be real numbers, got {odd[:3]!r}")
    out = [float(v) for v in values]
    if not out:
        raise ValueError(f"{name}: need at least one value")
    bad = [v for v in out if not math.isfinite(v)]
    if bad:
        raise ValueError(f"{name}: values must be finite, got {bad}")
    if max(abs(v) for v in out) > _LARGEST:
        raise ValueError(
            f"{name}: values must be at most {_LARGEST:g} in magnitude (their spread overflows), got {out}"
        )
    return out


_LARGEST = 1e150  # squared deviations of values up to this size stay finite in float64


def _real_scalar(v) -> bool:
    return isinstance(v, torch.Tensor) and v.numel() == 1 and not v.is_complex() and v.dtype != torch.bool


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    v = _values("mean_std", values)
    return statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0


@dataclass(frozen=True)
class Effect:
    """A paired difference over seeds: ``treated − control``."""

    treated: float
    control: float
    difference: float
    se: float
    n: int
    differences: tuple[float, ...] = ()  # d_s, one per seed

    def shown(self, direction: int = 1, k: float = 2.0, min_seeds: int = 3) -> bool:
        """``n ≥ min_seeds`` and ``direction·d̄ > k·SE`` (``direction`` +1: treated larger; −1: smaller)."""
        if direction not in (1, -1):
            raise ValueError(f"direction must be +1 or -1, got {direction}")
        return self.n >= min_seeds and direction * self.difference > k * self.se

    def record(self) -> dict[str, float | int | None]:
        """The effect as a JSON-ready dict for a notebook's ``RESULTS``; ``se`` is ``None`` for a single seed (where
        it is undefined, so that ``reproduce`` never stores an inf)."""
        return {"difference": self.difference, "se": self.se if self.n > 1 else None, "n": self.n}

    def __str__(self) -> str:
        return (
            f"{self.treated:.3g} vs {self.control:.3g}: Δ = {self.difference:+.3g} ± {self.se:.2g} (SE, "
            f"{self.n} seed{'s' if self.n != 1 else ''})"
        )


def effect(treated: Sequence[float], control: Sequence[float]) -> Effect:
    """The paired effect of ``treated`` over ``control``, one value per seed in the same order."""
    t, c = _values("treated", treated), _values("control", control)
    if len(t) != len(c):
        raise ValueError(f"treated and control need one value per seed each, got {len(t)} and {len(c)}")
    d = [a - b for a, b in zip(t, c, strict=True)]
    se = statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else math.inf
    return Effect(statistics.fmean(t), statistics.fmean(c), statistics.fmean(d), se, len(d), tuple(d))
