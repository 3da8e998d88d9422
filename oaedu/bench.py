"""Benchmarks: ``python -m oaedu.bench [--quick] [--only TEXT] [--markdown PATH]``.

Every subpackage may hold a ``bench`` module with ``cases(quick: bool) -> list[Case]``. For each case
this prints the median time of the fast implementation next to its reference and next to the peer a
user would otherwise call (scipy, scikit-learn, captum, timm, SDPA), and the ratios, all measured in
this one run on this machine.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class Case:
    """One benchmark row: a fast implementation and what it is compared with (all zero-argument callables)."""

    name: str
    fast: Callable[[], object]
    reference: Callable[[], object] | None = None
    peer: Callable[[], object] | None = None
    peer_name: str = ""
    note: str = ""


@dataclass
class Row:
    name: str
    fast_ms: float
    reference_ms: float | None
    peer_ms: float | None
    peer_name: str
    note: str

    @property
    def speedup_vs_reference(self) -> float | None:
        return None if self.reference_ms is None else self.reference_ms / self.fast_ms

    @property
    def speedup_vs_peer(self) -> float | None:
        return None if self.peer_ms is None else self.peer_ms / self.fast_ms


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def time_fn(fn: Callable[[], object], repeats: int = 7, warmup: int = 1, budget_s: float = 5.0) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` calls; stops early past ``budget_s``."""
    for _ in range(warmup):
        fn()
    _sync()
    times: list[float] = []
    start_all = time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync()
        times.append((time.perf_counter() - start) * 1e3)
        if time.perf_counter() - start_all > budget_s and len(times) >= 3:
            break
    return statistics.median(times)


def discover(quick: bool) -> list[Case]:
    """Collect the cases of every ``oaedu.<subpackage>.bench`` module."""
    import oaedu

    cases: list[Case] = []
    for info in sorted(pkgutil.iter_modules(oaedu.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"oaedu.{info.name}.bench")
        except ModuleNotFoundError as err:
            if err.name == f"oaedu.{info.name}.bench":
                continue
            raise
        cases.extend(module.cases(quick))
    return cases


def run(cases: Sequence[Case], quick: bool = False) -> list[Row]:
    """Time every case; fewer repeats with ``quick``."""
    repeats, budget = (3, 1.0) if quick else (9, 8.0)
    rows = []
    for case in cases:
        fast = time_fn(case.fast, repeats, budget_s=budget)
        ref = time_fn(case.reference, repeats, budget_s=budget) if case.reference else None
        peer = time_fn(case.peer, repeats, budget_s=budget) if case.peer else None
        rows.append(Row(case.name, fast, ref, peer, case.peer_name, case.note))
    return rows


def _fmt(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:.3g}{unit}"


def table(rows: Sequence[Row], markdown: bool = False) -> str:
    """The results as a text (or markdown) table."""
    head = ["benchmark", "fast ms", "reference ms", "ref/fast", "peer", "peer ms", "peer/fast", "note"]
    body = [
        [
            r.name,
            _fmt(r.fast_ms),
            _fmt(r.reference_ms),
            _fmt(r.speedup_vs_reference, "×"),
            r.peer_name or "—",
            _fmt(r.peer_ms),
            _fmt(r.speedup_vs_peer, "×"),
            r.note,
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


def main(argv: Sequence[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m oaedu.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (for tests)")
    parser.add_argument("--only", default="", help="run only benchmarks whose name contains this text")
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown to this file")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [c for c in discover(args.quick) if args.only.lower() in c.name.lower()]
    if not cases:
        raise SystemExit(f"no benchmark matches {args.only!r}")
    rows = run(cases, args.quick)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"oaedu benchmarks — torch {torch.__version__}, {device}, {torch.get_num_threads()} threads; median times")
    print(table(rows))
    if args.markdown:
        header = (
            f"Measured by `python -m oaedu.bench` with torch {torch.__version__} on {device} "
            f"({torch.get_num_threads()} threads). Ratios > 1 mean the fast implementation is faster.\n\n"
        )
        args.markdown.write_text(header + table(rows, markdown=True) + "\n")
        print(f"wrote {args.markdown}")
    return rows


if __name__ == "__main__":
    main()
