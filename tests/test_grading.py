"""An instructor's round trip with nbgrader itself, on a temporary course folder.

The course notebooks are nbgrader source notebooks: solution regions in the cells tagged ``solution`` and the
``exercises.check`` cells as grade cells with points. To keep the test short, the graded notebook is a trimmed
copy of notebook 02: its header, one cell with its imports, and its exercises (statement, solution, check), so
that each autograde runs the exercises and nothing else (no data, no training). nbgrader then generates the
student version, and autogrades three submissions: the solved copy (full marks), the untouched stubs (zero) and
one with a wrong answer (partial marks).
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from oaedu.notebook import read_notebook, write_notebook
from oaedu.student import ASSIGNMENT, STUB, nbgrader

pytest.importorskip("nbgrader", reason="nbgrader (a dev dependency) is not installed")

ROOT = Path(__file__).resolve().parents[1]
NAME = "02_oamixer.ipynb"
from test_exercises import WRONG, _imports  # noqa: E402  (tests/ is on the path, as pytest puts it there)


def _source(cell):
    return "".join(cell["source"])


def _trimmed(notebook: dict) -> dict:
    """The header, the notebook's imports in one code cell, and every exercise's three cells."""
    cells = notebook["cells"]
    keep = [cells[0], {"cell_type": "code", "metadata": {}, "source": _imports(cells), "outputs": []}]
    for i, cell in enumerate(cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            keep += cells[i - 1 : i + 2]
    for n, cell in enumerate(keep):
        cell["id"] = f"cell-{n}"
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
    return {**notebook, "cells": keep}


def _answer(cell: dict) -> str:
    """A solution cell with its answer, without nbgrader's markers (what a student who solved it writes)."""
    return "\n".join(
        line for line in _source(cell).splitlines() if "### BEGIN SOLUTION" not in line and "### END" not in line
    )


def _submit(root: Path, student: str, notebook: dict) -> None:
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    write_notebook(notebook, folder / NAME)


def test_nbgrader_generates_the_student_version_and_grades_solved_stub_and_wrong_copies(tmp_path):
    source = _trimmed(read_notebook(ROOT / "notebooks" / NAME))
    solutions = {
        c["metadata"]["nbgrader"]["grade_id"]: _answer(c)
        for c in source["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    points = sum(c["metadata"]["nbgrader"].get("points", 0) for c in source["cells"] if "nbgrader" in c["metadata"])
    assert len(solutions) >= 3 and points == len(solutions)
    (tmp_path / "source" / ASSIGNMENT).mkdir(parents=True)
    write_notebook(source, tmp_path / "source" / ASSIGNMENT / NAME)

    # 1. the student version: every solution region is the stub, nothing else changed
    nbgrader("generate_assignment", ASSIGNMENT, "--force", root=tmp_path)
    release = read_notebook(tmp_path / "release" / ASSIGNMENT / NAME)
    assert len(release["cells"]) == len(source["cells"])
    for ours, theirs in zip(source["cells"], release["cells"], strict=True):
        if ours.get("metadata", {}).get("nbgrader", {}).get("solution"):
            assert STUB.splitlines()[-1] in _source(theirs) and "BEGIN SOLUTION" not in _source(theirs)
        else:
            assert _source(ours) == _source(theirs)

    # 2. three submissions: solved, the stubs as handed out, and one wrong answer among right ones
    def handed_in(answers: dict[str, str]) -> dict:
        copy = json.loads(json.dumps(release))
        for cell in copy["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell["source"] = answers[grade_id]
        return copy

    wrong = dict(solutions, oamixer_mask=WRONG["oamixer_mask"])
    _submit(tmp_path, "solved", handed_in(solutions))
    _submit(tmp_path, "stubs", handed_in({}))
    _submit(tmp_path, "wrong", handed_in(wrong))
    nbgrader("autograde", ASSIGNMENT, "--force", "--ExecutePreprocessor.timeout=120", root=tmp_path)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission(ASSIGNMENT, s).score for s in ("solved", "stubs", "wrong")}
    assert scores == {"solved": points, "stubs": 0, "wrong": points - 1}, scores
    graded = (tmp_path / "autograded" / "wrong" / ASSIGNMENT / NAME).read_text()
    assert re.search(r"oamixer_mask \(the object-aware mask M, Eq\. \(3\)\): \d of \d inputs disagree", graded)
    shutil.rmtree(tmp_path / "submitted")
