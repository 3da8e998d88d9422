"""Benchmarks: ``python -m oaedu.bench [--quick] [--only TEXT] [--markdown PATH] [--threads N] [--check]``.

Every subpackage may hold a ``bench`` module with ``cases(quick: bool) -> list[Case]`` and, optionally,
``profiles(quick: bool) -> list[str]`` (markdown sections appended to the report). The rows of the reference/fast
twins come from one registry, :mod:`oaedu.twins`: a bench module places a twin's rows among its own with
:func:`oaedu.twins.bench_cases` (and names it in its ``TWINS``); the rows of a twin no module places come last.

For each case this prints the median time of the fast implementation next to its reference and next to the peer a
user would otherwise call (scipy, scikit-learn, captum, timm, SDPA), and the ratios, all measured in this one run on
this machine. The three callables are timed in turns (fast, reference, peer, fast, …), so a change of load hits all
of them.

Threads and clock: one torch thread unless ``--threads`` or ``$OAEDU_THREADS`` say otherwise. With one thread on
a CPU the clock is the CPU time of the process, which other processes on a shared machine do not inflate; with
more threads (or CUDA) it is wall time (synchronised). On a loaded 2-core machine with two threads, every OpenMP
parallel region can wait a scheduler tick (~4 ms) for a descheduled worker: wall-time medians then count ticks,
and a callable with more parallel regions looks slower than it is.

Goals: each case states the ratios it must reach (``min_vs_reference``: reference/fast, ``min_vs_peer``:
peer/fast); the note shows them. ``--check`` re-measures a row that misses a goal (up to ``RETRIES`` more times)
and exits non-zero when it still misses by more than ``NOISE``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import torch

from . import validate
from .utils import set_threads

NOISE = 0.10  # a ratio this far (relative) below its goal counts as noise, not as a miss
RETRIES = 2  # re-measurements of a row that misses a goal before --check fails it


@dataclass
class Case:
    """One benchmark row: a fast implementation and what it is compared with (all zero-argument callables).

    ``min_vs_reference`` and ``min_vs_peer`` are the row's goals: the least ``reference/fast`` and ``peer/fast``
    it must reach (``1/1.3`` for "at most 1.3× the peer"). ``twin`` names the :mod:`oaedu.twins` entry the row
    was built from, if any.
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
class Row:
    name: str
    fast_ms: float
    reference_ms: float | None
    peer_ms: float | None
    peer_name: str
    note: str
    min_vs_reference: float | None = None
    min_vs_peer: float | None = None
    runs: int = 1

    @property
    def speedup_vs_reference(self) -> float | None:
        return None if self.reference_ms is None else self.reference_ms / self.fast_ms

    @property
    def speedup_vs_peer(self) -> float | None:
        return None if self.peer_ms is None else self.peer_ms / self.fast_ms

    def _goals(self) -> list[tuple[str, float, float | None]]:
        goals = [
            ("ref/fast", self.min_vs_reference, self.speedup_vs_reference),
            ("peer/fast", self.min_vs_peer, self.speedup_vs_peer),
        ]
        return [(label, goal, got) for label, goal, got in goals if goal is not None]

    @property
    def goal_text(self) -> str:
        """``goal: ref/fast ≥ 10×, peer/fast ≥ 0.77×`` (empty without goals)."""
        goals = ", ".join(f"{label} ≥ {goal:.3g}×" for label, goal, _ in self._goals())
        return f"goal: {goals}" if goals else ""

    def shortfalls(self, noise: float = 0.0) -> list[str]:
        """The goals this row misses by more than ``noise`` (relative), as readable sentences."""
        out = []
        for label, goal, got in self._goals():
            if got is None:
                out.append(f"{label} has no measurement (goal ≥ {goal:.3g}×)")
            elif got < goal * (1.0 - noise):
                out.append(f"{label} = {got:.3g}× < goal {goal:.3g}×")
        return out


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


def _modules() -> list[ModuleType]:
    """Every ``oaedu.<subpackage>.bench`` module, then :mod:`oaedu.twins` (the rows of the twins none places)."""
    import oaedu

    from . import twins

    modules = []
    for info in sorted(pkgutil.iter_modules(oaedu.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        try:
            modules.append(importlib.import_module(f"oaedu.{info.name}.bench"))
        except ModuleNotFoundError as err:
            if err.name != f"oaedu.{info.name}.bench":
                raise
    return [*modules, twins]


def discover(quick: bool) -> list[Case]:
    """Collect the cases of every ``oaedu.<subpackage>.bench`` module, then those of any twin no module places."""
    return [case for module in _modules() for case in module.cases(quick)]


def run(cases: Sequence[Case], quick: bool = False) -> list[Row]:
    """Time every case (fast, reference and peer in turns); fewer repeats with ``quick``."""
    repeats, budget = (3, 1.0) if quick else (9, 8.0)
    timer, _ = clock()
    rows = []
    for case in cases:
        fns = [fn for fn in (case.fast, case.reference, case.peer) if fn is not None]
        medians = iter(time_together(fns, repeats, budget_s=budget, timer=timer))
        fast = next(medians)
        ref = next(medians) if case.reference else None
        peer = next(medians) if case.peer else None
        rows.append(Row(case.name, fast, ref, peer, case.peer_name, case.note, case.min_vs_reference, case.min_vs_peer))
    return rows


def check(
    rows: Sequence[Row], remeasure: Callable[[Row], Row], retries: int = RETRIES, noise: float = NOISE
) -> tuple[list[Row], list[str]]:
    """Re-measure every row that misses a goal by more than ``noise``, up to ``retries`` times.

    Returns the rows as finally measured (``runs`` counts the measurements) and one message per row that
    still misses after its last run.
    """
    final, failures = [], []
    for row in rows:
        current = row
        while current.shortfalls(noise) and current.runs <= retries:
            current = replace(remeasure(row), runs=current.runs + 1)
        final.append(current)
        if current.shortfalls(noise):
            failures.append(f"{row.name} ({current.runs} runs): " + "; ".join(current.shortfalls(noise)))
    return final, failures


def _fmt(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:.3g}{unit}"


def _met(row: Row) -> str:
    if not row.goal_text:
        return "—"
    verdict = "yes" if not row.shortfalls() else "within noise" if not row.shortfalls(NOISE) else "NO"
    return verdict if row.runs == 1 else f"{verdict} ({row.runs} runs)"


def table(rows: Sequence[Row], markdown: bool = False) -> str:
    """The results as a text (or markdown) table."""
    head = ["benchmark", "fast ms", "reference ms", "ref/fast", "peer", "peer ms", "peer/fast", "goal met", "note"]
    body = [
        [
            r.name,
            _fmt(r.fast_ms),
            _fmt(r.reference_ms),
            _fmt(r.speedup_vs_reference, "×"),
            r.peer_name or "—",
            _fmt(r.peer_ms),
            _fmt(r.speedup_vs_peer, "×"),
            _met(r),
            "; ".join(part for part in (r.goal_text, r.note) if part),
        ]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    fmt = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body])


def _header(device: str, clock_name: str, quick: bool) -> str:
    threads = torch.get_num_threads()
    gpu = (
        "CUDA was available to this run (the cases build CPU tensors unless they say otherwise)."
        if device == "cuda"
        else "GPU column: none — no GPU machine was lent to this run, so every figure here is from the CPU."
    )
    return (
        f"Measured by `python -m oaedu.bench{' --quick' if quick else ''}` with torch {torch.__version__} on "
        f"{device}, {threads} thread{'s' if threads > 1 else ''}; times are medians of the {clock_name}, the "
        "fast, reference and peer callables timed in turns. Ratios > 1 mean the fast implementation is faster. "
        f"Each note states the row's goal; `--check` re-measures a row that misses it (up to {RETRIES} more runs) "
        f"and fails only past {NOISE:.0%} noise.\n\n{gpu}\n\n"
    )


def main(argv: Sequence[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m oaedu.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (for tests)")
    parser.add_argument("--only", default="", help="run only benchmarks whose name contains this text")
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown to this file")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: $OAEDU_THREADS, else 1)")
    parser.add_argument("--check", action="store_true", help="exit non-zero when a row misses its goal")
    args = parser.parse_args(argv)
    threads_before = torch.get_num_threads()
    set_threads(args.threads or (None if os.environ.get("OAEDU_THREADS", "").strip() else 1))
    try:
        return _main(args)
    finally:
        torch.set_num_threads(threads_before)


def _main(args: argparse.Namespace) -> list[Row]:
    selected = [(m, [c for c in m.cases(args.quick) if args.only.lower() in c.name.lower()]) for m in _modules()]
    cases = [c for _, module_cases in selected for c in module_cases]
    if not cases:
        raise SystemExit(f"no benchmark matches {args.only!r}")
    rows = run(cases, args.quick)
    failures: list[str] = []
    if args.check:
        by_name = {c.name: c for c in cases}
        rows, failures = check(rows, lambda row: run([by_name[row.name]], args.quick)[0])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    _, clock_name = clock()
    print(
        f"oaedu benchmarks — torch {torch.__version__}, {device}, {torch.get_num_threads()} threads; "
        f"medians of the {clock_name}"
    )
    print(table(rows))
    if args.markdown:
        profiled = [m for m, module_cases in selected if module_cases and hasattr(m, "profiles")]
        sections = [section for m in profiled for section in m.profiles(args.quick)]
        text = _header(device, clock_name, args.quick) + table(rows, markdown=True) + "\n"
        args.markdown.write_text(text + "".join(f"\n{section.rstrip()}\n" for section in sections))
        print(f"wrote {args.markdown}")
    if failures:
        print("goals missed:\n  " + "\n  ".join(failures))
        raise SystemExit(1)
    return rows


if __name__ == "__main__":
    main()
