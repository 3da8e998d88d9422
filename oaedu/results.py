"""Runs by arm and seed: one place for an experiment's numbers, their mean ± SE and the paired effects.

An experiment trains several *arms* (a method and its controls) on the same seeds. :class:`Runs` holds one value
per arm, seed and metric as a tidy :class:`pandas.DataFrame` (columns ``arm``, ``seed``, ``metric``, ``value``),
which Jupyter renders as a table and which is what a researcher reaches for next. From it come the table of every
run, the mean ± SE of every arm (``SE = std / √n``), the paired effect of an arm over its control seed by seed
(:func:`oaedu.stats.effect`), and :meth:`Runs.record`, which writes all of it into a notebook's ``RESULTS``.

Statistics are computed with :mod:`oaedu.stats` on the values in seed order, so they are the same floats as
``stats.mean_std`` and ``stats.effect`` give on the same lists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from . import validate
from .stats import Effect, effect, mean_std

COLUMNS = ("arm", "seed", "metric", "value")
SPREADS = ("se", "std")


class Runs:
    """The values of an experiment, one per arm, seed and metric.

    Example::

        runs = Runs()
        for seed in range(3):
            runs.add("OAMixer", seed, {"accuracy": 71.0 + seed})
            runs.add("uniform labels", seed, {"accuracy": 69.5})
        runs.summary()  # mean ± SE per arm
        runs.effect("OAMixer", "uniform labels", "accuracy")  # paired by seed
        runs.record(RESULTS, control="uniform labels")
    """

    def __init__(self) -> None:
        self._rows: list[tuple[str, int, str, float]] = []
        self._keys: set[tuple[str, int, str]] = set()

    def add(self, arm: str, seed: int, values: Mapping[str, float]) -> Runs:
        """Record the ``values`` (``{metric: number}``, finite) of ``arm`` trained with ``seed``; returns ``self``."""
        if not isinstance(arm, str) or not arm:
            raise TypeError(f"arm must be a non-empty string, got {arm!r}")
        seed = validate.integer(seed, "seed", low=0)
        if not isinstance(values, Mapping) or not values:
            raise TypeError(f"values must be a non-empty dict {{metric: number}}, got {values!r}")
        rows = []
        for metric, value in values.items():
            if not isinstance(metric, str) or not metric:
                raise TypeError(f"values: metric names must be non-empty strings, got {metric!r}")
            value = validate.number(value, f"values[{metric!r}]")
            if (arm, seed, metric) in self._keys:
                raise ValueError(f"values[{metric!r}]: arm {arm!r} seed {seed} already has a value")
            rows.append((arm, seed, metric, float(value)))
        self._rows += rows
        self._keys.update(row[:3] for row in rows)
        return self

    @property
    def frame(self) -> pd.DataFrame:
        """The tidy table: one row per arm, seed and metric, in the order they were added."""
        return pd.DataFrame(self._rows, columns=list(COLUMNS))

    @property
    def arms(self) -> list[str]:
        """The arms, in the order they first appeared."""
        return list(dict.fromkeys(row[0] for row in self._rows))

    @property
    def metrics(self) -> list[str]:
        """The metrics, in the order they first appeared."""
        return list(dict.fromkeys(row[2] for row in self._rows))

    def seeds(self, arm: str, metric: str) -> list[int]:
        """The seeds of ``arm`` that have a value of ``metric``, ascending."""
        return sorted(seed for a, seed, m, _ in self._rows if a == arm and m == metric)

    def values(self, arm: str, metric: str) -> list[float]:
        """The values of ``metric`` for ``arm``, one per seed in ascending seed order."""
        got = sorted((seed, value) for a, seed, m, value in self._rows if a == arm and m == metric)
        if not got:
            raise ValueError(
                f"no values of metric {metric!r} for arm {arm!r}; arms: {self.arms}, metrics: {self.metrics}"
            )
        return [value for _, value in got]

    def table(self) -> pd.DataFrame:
        """Every run: one row per arm and seed, one column per metric (empty where a run lacks the metric)."""
        frame = self.frame
        wide = frame.pivot_table(index=["arm", "seed"], columns="metric", values="value", aggfunc="first", sort=False)
        return wide.reindex(columns=self.metrics).rename_axis(columns=None)

    def mean_spread(self, arm: str, metric: str, spread: str = "se") -> tuple[float, float]:
        """``(mean, SE)`` (``spread="se"``, ``inf`` for one seed) or ``(mean, std)`` (``"std"``, 0 for one seed)."""
        validate.choice(spread, "spread", SPREADS)
        values = self.values(arm, metric)
        mean, std = mean_std(values)
        if spread == "std":
            return mean, std
        return mean, std / math.sqrt(len(values)) if len(values) > 1 else math.inf

    def summary(self, spread: str = "se") -> pd.DataFrame:
        """Mean and spread (``"se"`` or ``"std"``) of every metric per arm, and the number of seeds ``n``."""
        validate.choice(spread, "spread", SPREADS)
        rows = {}
        for arm in self.arms:
            row = {}
            for metric in self.metrics:
                if not self.seeds(arm, metric):
                    continue
                mean, s = self.mean_spread(arm, metric, spread)
                row[(metric, "mean")], row[(metric, spread)] = mean, s
                row[(metric, "n")] = len(self.seeds(arm, metric))
            rows[arm] = row
        return pd.DataFrame.from_dict(rows, orient="index")

    def effect(self, arm: str, control: str, metric: str) -> Effect:
        """The paired effect of ``arm`` over ``control`` on ``metric`` (:func:`oaedu.stats.effect`), seed by seed.

        Both arms need the same seeds: a paired difference has one treated and one control value per seed.
        """
        seeds, control_seeds = self.seeds(arm, metric), self.seeds(control, metric)
        if seeds != control_seeds:
            raise ValueError(
                f"arm {arm!r} and control {control!r} need the same seeds for {metric!r}, got {seeds} and "
                f"{control_seeds}"
            )
        return effect(self.values(arm, metric), self.values(control, metric))

    def effects(self, control: str, metric: str) -> dict[str, Effect]:
        """The paired effect on ``metric`` of every other arm that has it, over ``control``."""
        return {
            arm: self.effect(arm, control, metric) for arm in self.arms if arm != control and self.seeds(arm, metric)
        }

    def record(self, results: dict, control: str | None = None, metrics: Sequence[str] | None = None) -> dict:
        """Write the runs into a notebook's ``RESULTS`` (and return it): ``results[arm][metric]`` is
        ``{"mean", "se", "n"}`` (``se`` ``None`` for one seed), and with a ``control``,
        ``results[arm]["vs " + control][metric]`` is the paired effect's :meth:`~oaedu.stats.Effect.record`."""
        if not isinstance(results, dict):
            raise TypeError(f"results must be a dict (a notebook's RESULTS), got {type(results).__name__}")
        metrics = list(self.metrics if metrics is None else metrics)
        unknown = [m for m in metrics if m not in self.metrics]
        if unknown:
            raise ValueError(f"metrics {unknown} were never added; known: {self.metrics}")
        if control is not None and control not in self.arms:
            raise ValueError(f"control {control!r} is not an arm; arms: {self.arms}")
        for arm in self.arms:
            entry = results.setdefault(arm, {})
            for metric in metrics:
                if not self.seeds(arm, metric):
                    continue
                mean, se = self.mean_spread(arm, metric)
                n = len(self.seeds(arm, metric))
                entry[metric] = {"mean": mean, "se": se if n > 1 else None, "n": n}
                if control is not None and arm != control and self.seeds(control, metric):
                    entry.setdefault(f"vs {control}", {})[metric] = self.effect(arm, control, metric).record()
        return results

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"Runs({len(self.arms)} arms, {len(self.metrics)} metrics, {len(self._rows)} values)"

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()
