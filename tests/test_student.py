import json
from pathlib import Path

import pytest

from oaedu.student import STUB, build, student_copy

ROOT = Path(__file__).resolve().parents[1]


def test_student_copies_are_up_to_date():
    assert build(check=True) == []


def test_student_copy_hides_every_solution_and_keeps_the_checks():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        solved = json.loads(path.read_text())
        copy = json.loads((ROOT / "student" / path.name).read_text())
        assert len(copy["cells"]) == len(solved["cells"])
        for a, b in zip(solved["cells"], copy["cells"], strict=True):
            if "solution" in a.get("metadata", {}).get("tags", []):
                assert "".join(b["source"]) == STUB and "exercise" in b["metadata"]["tags"]
            else:
                assert a["source"] == b["source"]


def test_student_copy_needs_a_solution_cell():
    with pytest.raises(ValueError, match="solution"):
        student_copy({"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1"}]})


def test_build_reports_stale_and_stray_copies(tmp_path):
    src, dst = tmp_path / "nb", tmp_path / "student"
    src.mkdir()
    cell = {"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": "x = 1", "outputs": [],
            "execution_count": None}
    (src / "01_a.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}))
    assert build(src, dst, check=True) == [f"{dst / '01_a.ipynb'} is missing or stale: run `make student`"]
    assert build(src, dst) == []
    assert build(src, dst, check=True) == []
    (dst / "99_old.ipynb").write_text("{}")
    assert "has no source notebook" in build(src, dst, check=True)[0]
