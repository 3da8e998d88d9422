"""Runs by arm and seed: one place for an experiment's numbers, their mean ± SE and the paired effects.

An experiment trains several *arms* (a method and its controls) on the same seeds. :class:`Runs` holds one value
per arm, seed and metric as a tidy :class:`pandas.DataFrame` (columns ``arm``, ``seed``, ``metric``, ``value``),
which Jupyter renders as a table and which is what a researcher reaches for next. From it come the table of every
run, the mean ± SE of every arm (``SE = std / √n``), the paired effect of an arm over its control seed by seed
(:func:`oaedu.stats.effect`), and :meth:`Runs.record`, which writes all of it into a notebook's ``RESULTS``.
:meth:`Runs.means` gives the means (and spreads) as plain ``{arm: {metric: number}}`` dicts for ``RESULTS`` and
checks, and :meth:`Runs.per_seed` / :meth:`Runs.from_per_seed` convert to and from ``{arm: [values of each seed]}``.

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

    @classmethod
    def from_per_seed(cls, per_seed: Mapping[str, Sequence[Mapping[str, float]]], seeds: Sequence[int]) -> Runs:
        """The runs of ``{arm: [values of each seed]}``, one ``{metric: number}`` dict per seed in the order of
        ``seeds`` (the layout of :func:`oaedu.plotting.plot_sweep`); the inverse of :meth:`per_seed`.

        Example: ``Runs.from_per_seed({"λ = 0.1": [{"accuracy": 70.0}, {"accuracy": 72.0}]}, seeds=[0, 1])``.
        """
        if not isinstance(per_seed, Mapping) or not per_seed:
            raise TypeError(f"per_seed must be a non-empty dict {{arm: [values of each seed]}}, got {per_seed!r}")
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
            raise TypeError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
        runs = cls()
        for arm, results in per_seed.items():
            if isinstance(results, (str, bytes, Mapping)) or not isinstance(results, Sequence):
                raise TypeError(f"per_seed[{arm!r}] must be a list of {{metric: number}} dicts, got {results!r}")
            if len(results) != len(seeds):
                raise ValueError(f"per_seed[{arm!r}] has {len(results)} results for {len(seeds)} seeds {list(seeds)}")
            for seed, values in zip(seeds, results, strict=True):
                runs.add(arm, seed, values)
        return runs

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

    def per_seed(self) -> dict[str, list[dict[str, float]]]:
        """``{arm: [values of each seed]}``: one ``{metric: value}`` dict per seed of each arm, in ascending seed order
        and with the metrics in the order they were added (the layout of a notebook's per-seed lists and of
        :func:`oaedu.plotting.plot_sweep`); the inverse of :meth:`from_per_seed`."""
        out: dict[str, dict[int, dict[str, float]]] = {arm: {} for arm in self.arms}
        for arm, seed, metric, value in self._rows:
            out[arm].setdefault(seed, {})[metric] = value
        return {arm: [by_seed[seed] for seed in sorted(by_seed)] for arm, by_seed in out.items()}

    def scaled(self, factor: float) -> Runs:
        """A copy with every value multiplied by ``factor`` (100 shows fractions in %). The values are scaled before
        any statistic, so the means and spreads are those of the scaled numbers, as a notebook that multiplies each
        run by 100 computes them."""
        factor = validate.number(factor, "factor")
        out = Runs()
        for arm, seed, metric, value in self._rows:
            out.add(arm, seed, {metric: factor * value})
        return out

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

    def means(
        self,
        spread: str | None = None,
        metrics: Sequence[str] | None = None,
        spread_keys: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, float]]:
        """The mean of every metric per arm as plain floats, ``{arm: {metric: mean}}``: the numbers to store in
        ``RESULTS`` or to compare in a check. ``metrics`` picks and orders the metrics (an arm without one leaves it
        out). With ``spread`` (``"se"`` or ``"std"``, as in :meth:`mean_spread`) each metric is followed by its spread
        under the key ``"<metric> ±"``; ``spread_keys`` (``{metric: key}``) gives the spread only of the metrics it
        names, under its keys.

        Example: ``runs.means("std")`` is ``{"OAMixer": {"accuracy": 71.7, "accuracy ±": 2.1}, ...}``.
        """
        if spread is not None:
            validate.choice(spread, "spread", SPREADS)
        metrics = self._known(self.metrics if metrics is None else metrics, "metrics")
        if spread_keys is not None:
            if spread is None:
                raise ValueError(f"spread_keys {dict(spread_keys)!r} needs a spread ('se' or 'std'), got None")
            if not isinstance(spread_keys, Mapping) or not all(isinstance(k, str) for k in spread_keys.values()):
                raise TypeError(f"spread_keys must be a dict {{metric: key (str)}}, got {spread_keys!r}")
            self._known(list(spread_keys), "spread_keys")
        keys = {m: f"{m} ±" for m in metrics} if spread_keys is None else dict(spread_keys)
        out: dict[str, dict[str, float]] = {}
        for arm in self.arms:
            row = out[arm] = {}
            for metric in metrics:
                if not self.seeds(arm, metric):
                    continue
                mean, s = self.mean_spread(arm, metric, spread or "std")
                row[metric] = mean
                if spread is not None and metric in keys:
                    row[keys[metric]] = s
        return out

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
        metrics = self._known(self.metrics if metrics is None else metrics, "metrics")
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

    def _known(self, metrics: Sequence[str], name: str) -> list[str]:
        """``metrics`` as a list, each of them added to these runs."""
        if isinstance(metrics, str) or not isinstance(metrics, Sequence):
            raise TypeError(f"{name} must be a sequence of metric names, got {metrics!r}")
        metrics = list(metrics)
        unknown = [m for m in metrics if m not in self.metrics]
        if unknown:
            raise ValueError(f"{name}: {unknown} were never added; known metrics: {self.metrics}")
        return metrics

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"Runs({len(self.arms)} arms, {len(self.metrics)} metrics, {len(self._rows)} values)"

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()
