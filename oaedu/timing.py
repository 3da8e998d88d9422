"""Timing, and the reference/fast twins: what a benchmark row and a twin are, and how callables are timed.

A floor module (it imports only :mod:`oaedu.validate`), so that each paper declares its twins beside its code
(``oaedu/<subpackage>/twins.py``) and its benchmark rows (``oaedu/<subpackage>/bench.py``) without importing
:mod:`oaedu.bench` or :mod:`oaedu.twins`, which collect them.

Both twins of a pair take the same arguments and return the same type. A :class:`Twin` holds them and builds
deterministic inputs at three sizes (:data:`SIZES`): ``"test"`` (tiny; ``tests/test_twins.py`` checks on them that
the twins agree), ``"quick"`` and ``"full"`` (the benchmark rows of ``python -m oaedu.bench [--quick]``, built by
:meth:`Twin.bench_cases`). A twin's name is its package and its fast function's name (``"oamixer.attention"``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from . import validate

SIZES = ("test", "quick", "full")


@dataclass
class Case:
    """One benchmark row: a fast implementation and what it is compared with (all zero-argument callables).

    ``min_vs_reference`` and ``min_vs_peer`` are the row's goals: the least ``reference/fast`` and ``peer/fast``
    it must reach (``1/1.3`` for "at most 1.3× the peer"). ``twin`` names the :class:`Twin` the row was built
    from, if any.
    """

    name: str
    fast: Callable[[], object]
    reference: Callable[[], object] | None = None
    peer: Callable[[], object] | None = None
    peer_name: str = ""
    note: str = ""
    min_vs_reference: float | None = None
    min_vs_peer: float | None = None
    twin: str = ""


@dataclass
class Example:
    """One set of inputs for both twins: ``twin(*args, **kwargs)``.

    The rest only matters to the benchmark row: ``label`` completes the row's name (:attr:`Twin.title`),
    ``reference_args`` (if given) are what the reference is timed on instead (a slow reference on fewer items),
    and ``peer`` is the zero-argument callable a user would otherwise call, named ``peer_name``.
    """

    args: tuple
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    reference_args: tuple | None = None
    peer: Callable[[], object] | None = None
    peer_name: str = ""
    note: str = ""


@dataclass(frozen=True)
class Twin:
    """A readable ``reference`` and its ``fast`` twin (same arguments, same return type) and how to check and time them.

    ``examples(size)`` builds the inputs for ``size`` in :data:`SIZES`. The twins agree on an example when
    ``agree(fast_out, reference_out, example)`` passes (default: ``torch.testing.assert_close``, ``atol``, ``rtol``).
    ``title`` (formatted with the example's ``label``) names the benchmark row; ``min_vs_reference`` and
    ``min_vs_peer`` are its goals (see :class:`Case`). ``fast_only`` names the fast twin's extra arguments, knobs
    of its algorithm with defaults (e.g. which branch), which the reference has no use for.
    """

    reference: Callable[..., Any]
    fast: Callable[..., Any]
    examples: Callable[[str], list[Example]]
    title: str
    min_vs_reference: float
    min_vs_peer: float | None = None
    note: str = ""
    atol: float = 1e-6
    rtol: float = 1e-5
    agree: Callable[[Any, Any, Example], None] | None = None
    fast_only: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        """The subpackage that defines the fast twin (``"oamixer"`` for ``oaedu.oamixer.attention.attention``)."""
        return self.fast.__module__.split(".")[1]

    @property
    def name(self) -> str:
        """``<package>.<fast function>``, e.g. ``"oamixer.attention"``."""
        return f"{self.package}.{self.fast.__name__}"

    def check(self, example: Example) -> None:
        """Raise ``AssertionError`` unless both twins give the same result on ``example``."""
        got = self.fast(*example.args, **example.kwargs)
        want = self.reference(*example.args, **example.kwargs)
        if self.agree is not None:
            self.agree(got, want, example)
        else:
            torch.testing.assert_close(got, want, atol=self.atol, rtol=self.rtol)

    def bench_cases(self, quick: bool) -> list[Case]:
        """The benchmark rows of this twin, one per example of size ``"quick"`` or ``"full"``."""
        out = []
        for ex in self.examples("quick" if quick else "full"):
            ref_args = ex.args if ex.reference_args is None else ex.reference_args
            out.append(
                Case(
                    self.title.format(label=ex.label),
                    fast=lambda ex=ex: self.fast(*ex.args, **ex.kwargs),
                    reference=lambda ex=ex, ref_args=ref_args: self.reference(*ref_args, **ex.kwargs),
                    peer=ex.peer,
                    peer_name=ex.peer_name,
                    note="; ".join(part for part in (self.note, ex.note) if part),
                    min_vs_reference=self.min_vs_reference,
                    min_vs_peer=self.min_vs_peer if ex.peer is not None else None,
                    twin=self.name,
                )
            )
        return out


def check_size(size: str) -> str:
    """``size`` if it is one of :data:`SIZES`, else ``ValueError`` (what a twin's ``examples`` calls first)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return size


def generator(seed: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed``: twins draw their inputs from it, never from the global state."""
    return torch.Generator().manual_seed(validate.integer(seed, "seed", low=0))


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def clock() -> tuple[Callable[[], float], str]:
    """The timer for this process and its name: CPU time with one thread on a CPU, else wall time."""
    if not torch.cuda.is_available() and torch.get_num_threads() == 1:
        return time.process_time, "CPU time of the process"
    return time.perf_counter, "wall time" + (", CUDA synchronised" if torch.cuda.is_available() else "")


def time_fn(
    fn: Callable[[], object],
    repeats: int = 7,
    warmup: int = 1,
    budget_s: float = 5.0,
    timer: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time of ``fn()`` in milliseconds by ``timer``, after ``warmup`` calls; stops early past ``budget_s``."""
    validate.is_callable(fn, "fn")
    return time_together([fn], repeats, warmup, budget_s, timer)[0]


def time_together(
    fns: Sequence[Callable[[], object]],
    repeats: int = 7,
    warmup: int = 1,
    budget_s: float = 5.0,
    timer: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Median times (ms) of several callables timed in turns, so that a change of load hits each of them.

    At least 3 rounds, at most ``repeats``; no new round starts once ``budget_s`` of wall time has passed.
    """
    for i, fn in enumerate(fns):
        validate.is_callable(fn, f"fns[{i}]")
    validate.steps(repeats, "repeats")
    validate.steps(warmup, "warmup", low=0)
    validate.number(budget_s, "budget_s", low=0.0, low_open=True, allow_inf=True)
    validate.is_callable(timer, "timer")
    for fn in fns:
        for _ in range(warmup):
            fn()
    _sync()
    times: list[list[float]] = [[] for _ in fns]
    start_all = time.perf_counter()
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = timer()
            fn()
            _sync()
            out.append((timer() - start) * 1e3)
        if time.perf_counter() - start_all > budget_s and len(times[0]) >= 3:
            break
    return [statistics.median(t) for t in times]
