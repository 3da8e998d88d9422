"""The README's claims table and notebook times, from measured runs only.

``python -m oaedu reproduce NAME --profile cpu --seed-bases 0,100,200,300,400 --out runs/claims`` runs a notebook at
five base seeds with every check recorded (``$OAEDU_CHECKS=record``). This script keeps what the README needs from
those runs in ``docs/claims.json`` and writes the README from it:

* ``collect RUNS``: merge the ``RUNS/<experiment>/pass_rates.json`` files into ``docs/claims.json`` (a base run
  again replaces its old run, other bases of the same profile and thread count stay, so a batch can be split over
  several folders; a run at another profile or thread count replaces the experiment's entry);
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


def collect(runs: Path, into: Path = CLAIMS) -> dict:
    """Merge ``runs/<experiment>/pass_rates.json`` into ``into``; returns the merged document."""
    found = sorted(p for p in runs.glob("*/pass_rates.json") if p.parent.name in EXPERIMENTS)
    if not found:
        raise FileNotFoundError(f"no <experiment>/pass_rates.json under {runs}: run reproduce --seed-bases first")
    document = json.loads(into.read_text()) if into.is_file() else {}
    for path in found:
        saved = json.loads(path.read_text())
        runs = {
            base: {
                "passed": run["passed"],
                "error": run["error"],
                "seconds": run.get("seconds"),
                "checks": [{k: c[k] for k in KEEP if k in c} for c in run["checks"]],
            }
            for base, run in saved["runs"].items()
        }
        old = document.get(path.parent.name, {})
        same = (old.get("profile"), old.get("threads")) == (saved["profile"], saved.get("threads"))
        if same:  # more bases of the same setting (a batch split over several folders): keep the others
            runs = {**old["runs"], **runs}
        runs = dict(sorted(runs.items(), key=lambda item: int(item[0])))
        document[path.parent.name] = {"profile": saved["profile"], "threads": saved.get("threads"), "runs": runs}
    document = {name: document[name] for name in EXPERIMENTS if name in document}
    into.write_text(json.dumps(document, indent=1) + "\n")
    return document


def claims_block(document: dict) -> str:
    """The README's claims section body: per notebook the bases and pass rate, then every claim's chance."""
    report = {name: entry["runs"] for name, entry in document.items()}
    threads = sorted({str(entry["threads"]) for entry in document.values()})
    lines = [
        BEGIN,
        f"Measured under `cpu` at {', '.join(threads)} thread(s) per notebook by `reproduce --seed-bases`; "
        "the notebooks not listed have not been measured this way yet. *chance*: the estimated probability that the "
        "claim passes at a fresh base seed (below 0.95 is marked).",
        "",
        format_pass_rates(report),
        "",
        format_claims(report, lambda name: EXPERIMENTS[name][:2], "notebook", mark_below=0.95),
    ]
    return "\n".join([*lines, END])


def cpu_minutes(document: dict) -> dict[str, str]:
    """``{"01": "4.7 min", ...}``: the median wall time of a notebook's ``cpu`` runs that passed."""
    out = {}
    for name, entry in document.items():
        seconds = [run["seconds"] for run in entry["runs"].values() if run.get("seconds") and run["passed"]]
        if seconds:
            out[EXPERIMENTS[name][:2]] = f"{statistics.median(seconds) / 60:.1f} min"
    return out


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


UNMEASURED = "**Time:** `cpu` not yet measured at five base seeds (see the README's claims table)."


def time_line(minutes: str, threads: int) -> str:
    """A notebook's ``**Time:**`` line (the line of its first cell that starts so)."""
    return f"**Time:** `cpu` {minutes} at {threads} thread(s), the median of its runs in the README's claims table."


def notebook_headers(document: dict, folder: Path = NOTEBOOKS) -> dict[Path, str]:
    """``{notebook: its first cell's new source}`` for every measured notebook whose ``**Time:**`` line differs."""
    import nbformat

    out = {}
    threads = {EXPERIMENTS[name][:2]: entry["threads"] for name, entry in document.items()}
    for number, minutes in cpu_minutes(document).items():
        path = next(folder.glob(f"{number}_*.ipynb"))
        source = nbformat.read(path, as_version=4).cells[0].source
        if not TIME.search(source):
            raise ValueError(f"{path.name}: its first cell has no '**Time:** ...' line to write the time into")
        new = TIME.sub(time_line(minutes, threads[number]), source, count=1)
        if new != source:
            out[path] = new
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="merge RUNS/<experiment>/pass_rates.json into docs/claims.json")
    c.add_argument("runs", type=Path)
    r = sub.add_parser("readme", help="write the README's claims table and cpu times from docs/claims.json")
    r.add_argument("--check", action="store_true", help="only say whether the README is up to date")
    args = parser.parse_args(argv)
    if args.command == "collect":
        document = collect(args.runs)
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
