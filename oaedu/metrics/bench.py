"""Benchmarks of the shared metrics: the ARI twins of :mod:`oaedu.twins` (and scikit-learn)."""

from __future__ import annotations

from ..bench import Case
from ..twins import bench_cases

TWINS = ("metrics.adjusted_rand_index",)


def cases(quick: bool) -> list[Case]:
    return [case for name in TWINS for case in bench_cases(name, quick)]
