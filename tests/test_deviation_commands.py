"""Every *measured* figure in docs/deviations.md names a command that exists, and every script command runs.

A table row that says *measured* must name its command itself (a backticked ``python …`` call) or sit in a section
whose introduction names one. Named commands must exist: ``python -m oaedu reproduce NAME`` an experiment with a
notebook, ``python scripts/deviations/FILE.py SUB`` a sub-command of that script. Each script sub-command runs at
its ``--small`` size and must print its figures, finite, in the form the page quotes.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import re
from pathlib import Path

import pytest

from oaedu.reproduce import available

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deviations.md"
SCRIPTS = ROOT / "scripts" / "deviations"

MEASURED = re.compile(r"\*measured\*", re.IGNORECASE)
COMMAND = re.compile(r"`([^`]*\bpython\b[^`]*)`")
REPRODUCE = re.compile(r"python -m oaedu reproduce (\w+)")
SCRIPT = re.compile(r"python scripts/deviations/([\w-]+)\.py ([\w-]+)")
NUMBER = r"([+-]?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|nan|inf))"

# (script, sub-command) → the lines it must print (a regex whose groups are numbers) and how many at least
EXPECTED: dict[tuple[str, str], list[tuple[str, int]]] = {
    ("contracam", "self-term"): [(rf"^batch \d+ T = \d+: max \|Δmap\| {NUMBER}, mean \|Δmap\| {NUMBER}$", 4)],
    ("contracam", "negatives"): [
        (rf"^negatives T = \d+: max \|Δmap\| {NUMBER}, mean \|Δmap\| {NUMBER}$", 2),
        (rf"^negatives T = \d+: mIoU {NUMBER} \(Alg\. 1\) vs {NUMBER} \(earlier\)$", 2),
    ],
    ("contracam", "tau"): [(rf"^tau = {NUMBER}: mIoU {NUMBER} \(mean over \d+ sets of \d+ scenes\)$", 2)],
    ("contracam", "upsampling"): [(rf"^upsampling [^:]+: mIoU {NUMBER} \(\d+ scenes, T = 1\)$", 3)],
    ("relevance", "gradient"): [
        (
            rf"^(?:detached|exact) over \d+ sets: norm {NUMBER} % \(median; range {NUMBER} to {NUMBER} %\), "
            rf"cosine {NUMBER} \(median; range {NUMBER} to {NUMBER}\)$",
            2,
        )
    ],
    ("relevance", "lr"): [(rf"^(?:exact|detached) at {NUMBER}: id {NUMBER} % \(mean over seeds 0–\d+\)$", 2)],
    ("slots", "matching"): [
        (
            rf"^(?:learned|sampled) queries: tokens and projections matched alike for {NUMBER} % of the slots "
            rf"\(range {NUMBER}–{NUMBER} over \d+ untrained encoders\); slot i with slot i: {NUMBER} % on tokens, "
            rf"{NUMBER} % on projections$",
            2,
        )
    ],
    ("entropy", "eps"): [
        (
            rf"^scale {NUMBER}: max \|H\(c·S\) − H\(S\)\| course {NUMBER}, fig5 {NUMBER} \(mean {NUMBER}\), "
            rf"release {NUMBER} \(mean {NUMBER}\)$",
            4,
        )
    ],
    ("entropy", "schedule"): [
        (
            rf"^seed \d+, (?:SAR, λ schedule|row C), \d+ epochs: entropy {NUMBER} nats, share on the object "
            rf"{NUMBER} %, accuracy {NUMBER} %$",
            2,
        )
    ],
    ("entropy", "depth"): [
        (
            rf"^\d+ blocks, (?:row A|SAR): Jaccard above its position control {NUMBER} points, share on the "
            rf"object {NUMBER} % \(mean over \d+ seeds\)$",
            4,
        )
    ],
}


@functools.cache
def _script(name: str):
    path = SCRIPTS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"deviations_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _subcommands(name: str) -> set[str]:
    """The sub-commands of ``scripts/deviations/NAME.py`` (empty when there is no such script)."""
    if not (SCRIPTS / f"{name}.py").is_file():
        return set()
    for action in _script(name).parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def command_problems(command: str, experiments: set[str]) -> list[str]:
    """What is wrong with one backticked command of the page (nothing for a command that exists)."""
    if m := REPRODUCE.search(command):
        return [] if m.group(1) in experiments else [f"`{command}`: no experiment {m.group(1)!r}"]
    if m := SCRIPT.search(command):
        subs = _subcommands(m.group(1))
        if not subs:
            return [f"`{command}`: no script scripts/deviations/{m.group(1)}.py"]
        return [] if m.group(2) in subs else [f"`{command}`: {m.group(1)}.py has no sub-command {m.group(2)!r}"]
    return [f"`{command}`: neither a reproduce call nor a scripts/deviations command"]


def problems(text: str, experiments: set[str]) -> list[str]:
    """Every measured row without a command, and every named command that does not exist."""
    found, section, default, in_intro = [], "(top)", [], True
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            section, default, in_intro = line.lstrip("# ").strip(), [], True
            continue
        commands = COMMAND.findall(line)
        for command in commands:
            found += [f"line {number}: {p}" for p in command_problems(command, experiments)]
        if not line.startswith("|"):
            if in_intro:
                default += commands
            continue
        in_intro = False
        is_figure = MEASURED.search(line) and re.search(r"\d", line)
        if is_figure and not commands and not default:
            what = line.strip("|").split("|")[0].strip()
            found.append(f"line {number}: {section}, row {what!r}: a measured figure without a command")
    return found


@pytest.fixture(scope="module")
def experiments() -> set[str]:
    return set(available(ROOT / "notebooks"))


def test_every_measured_figure_names_a_command_that_exists(experiments):
    assert problems(DOC.read_text(encoding="utf-8"), experiments) == []


def test_the_check_catches_figures_without_commands_and_missing_commands(experiments):
    head = "| what | paper | course | why | effect |\n|---|---|---|---|---|\n"
    good = (
        "## A\n\n*Measured*: `python -m oaedu reproduce contracam --profile cpu`.\n\n"
        + head
        + "| x | a | b | c | *measured*: 1.5 |\n"
    )
    assert problems(good, experiments) == []
    no_command = "## B\n\nNo command here.\n\n" + head + "| y | a | b | c | *measured*: 2.5 |\n"
    assert [p for p in problems(no_command, experiments) if "row 'y'" in p]
    # a command in the row itself is enough, but it must exist
    in_row = "## C\n\n" + head + "| z | a | b | c | *measured*: 3 (`python scripts/deviations/slots.py matching`) |\n"
    assert problems(in_row, experiments) == []
    for missing in (
        "`python scripts/deviations/nope.py x`",
        "`python scripts/deviations/slots.py nope`",
        "`python -m oaedu reproduce nope`",
        "`python other.py`",
    ):
        bad = "## D\n\n" + head + f"| w | a | b | c | *measured*: 4 ({missing}) |\n"
        assert len(problems(bad, experiments)) == 1, missing
    # a section's default covers its table, not the next section's
    two = good + "\n## E\n\n" + head + "| v | a | b | c | *measured*: 5 |\n"
    assert [p for p in problems(two, experiments) if "row 'v'" in p]
    # the real page without §2's notebook command: its rows that name no command of their own are caught
    page = DOC.read_text(encoding="utf-8")
    broken = page.replace("`python -m oaedu reproduce spatial_entropy --profile cpu`", "notebook 03", 1)
    assert broken != page
    caught = problems(broken, experiments)
    assert caught and all("2 · Spatial entropy" in p for p in caught), caught


def test_every_script_command_is_named_on_the_page_and_expected():
    page = DOC.read_text(encoding="utf-8")
    named = set(SCRIPT.findall(page))
    scripts = {(p.stem, sub) for p in SCRIPTS.glob("*.py") for sub in _subcommands(p.stem)}
    assert scripts == set(EXPECTED), "every sub-command needs its expected output form here"
    assert scripts == named, "a script command that the page does not quote, or the reverse"


@pytest.mark.parametrize("name,sub", sorted(EXPECTED))
def test_script_command_prints_finite_figures(name, sub, capsys, monkeypatch):
    monkeypatch.setenv("OAEDU_THREADS", "1")
    _script(name).main([sub, "--small"])
    lines = capsys.readouterr().out.splitlines()
    for pattern, at_least in EXPECTED[name, sub]:
        matches = [m for m in map(re.compile(pattern).match, lines) if m]
        assert len(matches) >= at_least, f"{name} {sub}: fewer than {at_least} lines like {pattern!r} in {lines}"
        for m in matches:
            assert all(math.isfinite(float(g)) for g in m.groups()), m.group(0)
    for line in lines:  # what the equations say, whatever the sizes
        if name == "contracam" and sub in ("self-term", "negatives") and " T = 1: max" in line:
            # T = 1: neither the self-term nor the bank of masked batches exists yet, or it only rescales the map
            assert float(re.search(r"max \|Δmap\| (\S+),", line).group(1)) == 0.0, line
        if name == "entropy" and sub == "eps" and line.startswith("scale"):
            # Eq. (7)–(8) are scale-free: the course's entropy must not move with c
            assert float(re.search(r"course (\S+),", line).group(1)) < 1e-5, line
