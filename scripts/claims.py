"""The README's claims table and notebook times, from measured runs only.

``python -m oaedu reproduce NAME --profile cpu --seed-bases 0,100,200,300,400 --out runs/claims`` runs a notebook at
five base seeds with every check recorded (``$OAEDU_CHECKS=record``). This script keeps what the README needs from
those runs in ``docs/claims.json`` and writes the README from it:

* ``collect RUNS [--alone] [--replace]``: merge the ``RUNS/<experiment>/pass_rates.json`` files into
  ``docs/claims.json``. A base run again replaces its old run; other bases of the same profile stay, so a batch can
  be split over several folders and thread counts (each run keeps its own). ``--alone`` marks the runs as timed
  alone (a fresh clone, nothing else running): only such runs give a notebook's time. ``--replace`` drops the
  experiment's earlier runs first (after the notebook changed); a run at another profile always replaces them.
  ``--retire NAME`` (repeatable): a claim the notebook now prints instead of asserting, after these runs measured
  it; the runs keep it under ``retired`` (the README lists it with its chance) and no longer fail on it. Only a
  change from asserting to printing may be collected so: it leaves every computed number as it was;
* ``readme [--check]``: write the claims table between the README's ``claims`` markers, the ``cpu`` time of every
  measured notebook in the README's course table and in the notebook's own ``**Time:**`` line; ``--check`` only
  says whether they are up to date (``tests/test_claims.py``).

Usage: ``python scripts/claims.py collect runs/claims`` then ``python scripts/claims.py readme``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from oaedu.reproduce import EXPERIMENTS, format_claims, format_pass_rates

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "docs" / "claims.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- claims: written by python scripts/claims.py readme -->", "<!-- /claims -->"
KEEP = ("name", "kind", "margin", "passed", "difference", "se", "n", "k", "direction")  # of each check in the ledger
NOTEBOOKS = ROOT / "notebooks"
TIME = re.compile(r"^\*\*Time:\*\* .*$", re.MULTILINE)
ROW = re.compile(r"^(\| \[(\d\d) · [^|]*\]\([^)]*\) \|.*\| )([^|]*)( \|)$")


def collect(
    runs: Path, into: Path = CLAIMS, *, alone: bool = False, replace: bool = False, retire: Sequence[str] = ()
) -> dict:
    """Merge ``runs/<experiment>/pass_rates.json`` into ``into``; returns the merged document.

    ``alone``: these runs were timed alone (their seconds are the notebook's time). ``replace``: forget the
    experiment's earlier runs (its notebook changed since). ``retire``: names of claims the notebook now prints
    instead of asserting; they move to the run's ``retired`` list, and a run that failed only on them passes."""
    found = sorted(p for p in runs.glob("*/pass_rates.json") if p.parent.name in EXPERIMENTS)
    if not found:
        raise FileNotFoundError(f"no <experiment>/pass_rates.json under {runs}: run reproduce --seed-bases first")
    document = json.loads(into.read_text()) if into.is_file() else {}
    checked = set()  # every claim name these runs checked, to catch a --retire name that none did
    for path in found:
        saved = json.loads(path.read_text())
        checked |= {c["name"] for run in saved["runs"].values() for c in run["checks"]}
        merged = {base: _kept(run, saved.get("threads"), alone, set(retire)) for base, run in saved["runs"].items()}
        old = document.get(path.parent.name, {})
        if old.get("profile") == saved["profile"] and not replace:  # more bases of the same profile: keep the others
            merged = {**old["runs"], **merged}
        merged = dict(sorted(merged.items(), key=lambda item: int(item[0])))
        document[path.parent.name] = {"profile": saved["profile"], "runs": merged}
    unknown = set(retire) - checked
    if unknown:
        raise ValueError(f"--retire {sorted(unknown)}: no run under {runs} checked a claim of that name")
    document = {name: document[name] for name in EXPERIMENTS if name in document}
    into.write_text(json.dumps(document, indent=1) + "\n")
    return document


def _kept(run: dict, threads: int | None, alone: bool, retire: set[str]) -> dict:
    """What ``docs/claims.json`` keeps of one run; the checks named in ``retire`` go to ``retired``."""
    checks = [{k: c[k] for k in KEEP if k in c} for c in run["checks"]]
    kept = [c for c in checks if c["name"] not in retire]
    retired = [c for c in checks if c["name"] in retire]
    passed, error = run["passed"], run["error"]
    if retired and not passed and error.startswith("CheckFailed") and all(c["passed"] for c in kept):
        passed, error = True, ""  # it failed only on claims that are printed now
    out = {"passed": passed, "error": error, "seconds": run.get("seconds"), "threads": threads, "alone": alone}
    return out | {"checks": kept} | ({"retired": retired} if retired else {})


def claims_block(document: dict) -> str:
    """The README's claims section body: per notebook the bases, pass rate and time, then every claim's chance."""
    report = {name: entry["runs"] for name, entry in document.items()}
    lines = [
        BEGIN,
        "Measured under `cpu` by `reproduce --seed-bases`; the notebooks not listed have not been measured this way "
        "yet. *time*: the median wall time of the runs timed alone (a fresh clone, nothing else running, the "
        "machine's default thread count); a notebook not yet timed alone shows its batch runs' median (one thread, "
        "two notebooks side by side), marked *batch*. *chance*: the estimated probability that the claim passes at a "
        "fresh base seed (below 0.95 is marked).",
        "",
        format_pass_rates(report),
        "",
        "| experiment | base seeds: threads | time |",
        "|---|---|---|",
        *(f"| {name} | {_threads(runs)} | {cpu_time(document[name]) or '—'} |" for name, runs in report.items()),
        "",
        format_claims(report, lambda name: EXPERIMENTS[name][:2], "notebook", mark_below=0.95),
    ]
    retired = {
        name: {base: {"checks": run["retired"]} for base, run in runs.items() if run.get("retired")}
        for name, runs in report.items()
    }
    retired = {name: runs for name, runs in retired.items() if runs}
    if retired:
        lines += [
            "",
            "Claims measured while asserted, and printed since (a base seed failed, their chance was below 0.95, or "
            "the budget could not buy it):",
            "",
            format_claims(retired, lambda name: EXPERIMENTS[name][:2], "notebook", mark_below=0.95),
        ]
    return "\n".join([*lines, END])


def _threads(runs: dict) -> str:
    """``"0: 2 alone, 100: 1"``: each base's thread count, and which runs were timed alone."""
    return ", ".join(f"{base}: {run.get('threads')}" + " alone" * bool(run.get("alone")) for base, run in runs.items())


def cpu_time(entry: dict) -> str | None:
    """``"4.7 min, 2 thread(s)"``: the median wall time of an experiment's passed runs timed alone, else of its
    passed batch runs (``"…, batch"``); ``None`` without any."""
    passed = [run for run in entry["runs"].values() if run.get("seconds") and run["passed"]]
    alone = [run for run in passed if run.get("alone")]
    chosen = alone or passed
    if not chosen:
        return None
    threads = "/".join(sorted({str(run.get("threads")) for run in chosen}))
    minutes = statistics.median(run["seconds"] for run in chosen) / 60
    return f"{minutes:.1f} min, {threads} thread(s)" + ("" if alone else ", batch")


def cpu_minutes(document: dict) -> dict[str, str]:
    """``{"01": "4.7 min, 2 thread(s)", ...}``: :func:`cpu_time` of every measured notebook."""
    times = {EXPERIMENTS[name][:2]: cpu_time(entry) for name, entry in document.items()}
    return {number: time for number, time in times.items() if time}


def readme(text: str, document: dict) -> str:
    """``text`` (the README) with its claims block and its course table's ``cpu`` times written from ``document``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"the README needs one {BEGIN!r} and one {END!r} line")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    text = head + claims_block(document) + tail
    minutes = cpu_minutes(document)
    lines = []
    for line in text.split("\n"):
        m = ROW.match(line)
        if m and m.group(2) in minutes:
            line = f"{m.group(1)}{minutes[m.group(2)]}{m.group(4)}"
        lines.append(line)
    return "\n".join(lines)


def time_line(time: str) -> str:
    """A notebook's ``**Time:**`` line (the line of its first cell that starts so), from :func:`cpu_time`."""
    return f"**Time:** `cpu` {time} (measured, see the README's claims table)."


def notebook_headers(document: dict, folder: Path = NOTEBOOKS) -> dict[Path, str]:
    """``{notebook: its first cell's new source}`` for every measured notebook whose ``**Time:**`` line differs."""
    import nbformat

    out = {}
    for number, time in cpu_minutes(document).items():
        path = next(folder.glob(f"{number}_*.ipynb"))
        source = nbformat.read(path, as_version=4).cells[0].source
        if not TIME.search(source):
            raise ValueError(f"{path.name}: its first cell has no '**Time:** ...' line to write the time into")
        new = TIME.sub(time_line(time), source, count=1)
        if new != source:
            out[path] = new
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="merge RUNS/<experiment>/pass_rates.json into docs/claims.json")
    c.add_argument("runs", type=Path)
    c.add_argument("--alone", action="store_true", help="these runs were timed alone: their seconds are the time")
    c.add_argument("--replace", action="store_true", help="drop the experiments' earlier runs (the notebook changed)")
    c.add_argument(
        "--retire",
        action="append",
        default=[],
        metavar="NAME",
        help="a claim the notebook prints now instead of asserting (repeatable)",
    )
    r = sub.add_parser("readme", help="write the README's claims table and cpu times from docs/claims.json")
    r.add_argument("--check", action="store_true", help="only say whether the README is up to date")
    args = parser.parse_args(argv)
    if args.command == "collect":
        document = collect(args.runs, alone=args.alone, replace=args.replace, retire=args.retire)
        print(f"{CLAIMS.relative_to(ROOT)}: {', '.join(document)}")
        return 0
    import nbformat

    document = json.loads(CLAIMS.read_text())
    text = README.read_text()
    new, headers = readme(text, document), notebook_headers(document)
    if args.check:
        stale = ["README.md"] * (new != text) + [p.name for p in headers]
        if stale:
            print(f"{', '.join(stale)}: not what docs/claims.json says; run python scripts/claims.py readme")
            return 1
        return 0
    README.write_text(new)
    for path, source in headers.items():
        nb = nbformat.read(path, as_version=4)
        nb.cells[0].source = source
        nbformat.write(nb, path)
    if headers:  # the student copies follow their notebooks (never over a copy a person edited)
        from oaedu.student import build

        for problem in build(NOTEBOOKS, ROOT / "student"):
            print(problem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
