import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oaedu.notebook import badges, stored_in_git
from oaedu.student import STUB, build, fingerprint, generate, is_untouched_copy

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("nbgrader", reason="nbgrader (a dev dependency) makes the student copies")


def test_student_copies_are_up_to_date():
    assert build(ROOT / "notebooks", ROOT / "student", check=True) == []


def _stored(path: Path) -> dict:
    """What git stores for ``path`` (a student who solved an exercise changed only the working file)."""
    return json.loads(stored_in_git(path) or path.read_text())


def student_copy_problems(root: Path) -> list[str]:
    """Every solution region of ``root/notebooks`` is a stub in the copy that git stores in ``root/student``, and
    every other cell is the same; the copies' badges open the copies."""
    problems = []
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        solved, copy = _stored(path), _stored(root / "student" / path.name)
        if len(copy["cells"]) != len(solved["cells"]):
            problems.append(f"{path.name}: another number of cells")
            continue
        header = "".join(copy["cells"][0]["source"]).splitlines()[0]
        if header != badges(path.name, "student"):
            problems.append(f"{path.name}: the badges do not open the student copy")
        for a, b in zip(solved["cells"][1:], copy["cells"][1:], strict=True):
            source, stub = "".join(a["source"]), "".join(b["source"])
            if "solution" in a.get("metadata", {}).get("tags", []):
                before = source.split("### BEGIN SOLUTION")[0].rstrip(" ")
                ok = stub.startswith(before) and STUB.splitlines()[-1] in stub and "BEGIN SOLUTION" not in stub
                if not ok or "exercise" not in b["metadata"]["tags"]:
                    problems.append(f"{path.name}: a solution is not stubbed out:\n{stub}")
            elif source != stub:
                problems.append(f"{path.name}: a cell differs from the course notebook:\n{stub}")
    return problems


def test_student_copy_hides_every_solution_and_keeps_the_checks():
    assert student_copy_problems(ROOT) == []


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_solving_an_exercise_keeps_the_student_tests_green(tmp_path):
    """A student who solves an exercise in student/ (and runs `make test`) changed the working file, not what
    git stores: the checks of the copies read what git stores."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for folder in ("notebooks", "student"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    _git("init", "-q", cwd=tmp_path)
    _git("add", ".", cwd=tmp_path)
    assert student_copy_problems(tmp_path) == []
    copy = tmp_path / "student" / "02_oamixer.ipynb"
    notebook = json.loads(copy.read_text())
    cell = next(c for c in notebook["cells"] if "exercise" in c["metadata"].get("tags", []))
    cell["source"] = "".join(cell["source"]).replace(STUB.splitlines()[-1], "return 1  # my solution")
    copy.write_text(json.dumps(notebook, indent=1))
    assert student_copy_problems(tmp_path) == []
    assert build(tmp_path / "notebooks", tmp_path / "student", check=True) == []


def test_student_copy_needs_a_solution_cell(tmp_path):
    (tmp_path / "01_a.ipynb").write_text(json.dumps(_notebook("x = 1", solution=False)))
    with pytest.raises(ValueError, match="solution"):
        generate(tmp_path)


def test_nbgrader_stubs_the_solution_region_only(tmp_path):
    source = 'def f():\n    """Doc."""\n    return 1'
    (tmp_path / "01_a.ipynb").write_text(json.dumps(_notebook(source, "assert f() == 1")))
    copy = generate(tmp_path)["01_a.ipynb"]
    cell = copy["cells"][2]
    expected = 'def f():\n    """Doc."""\n' + "\n".join("    " + line for line in STUB.splitlines())
    assert "".join(cell["source"]) == expected and cell["metadata"]["tags"] == ["exercise"]
    assert cell["metadata"]["nbgrader"]["solution"] and cell["metadata"]["nbgrader"]["checksum"]
    check = copy["cells"][3]
    assert check["metadata"]["nbgrader"]["grade"] and check["metadata"]["editable"] is False  # a locked grade cell


def _notebook(*sources, solution=True):
    """A course notebook: header, Colab cell, an exercise (nbgrader solution region) and its check (grade cell)."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "[badges]\n\n# 01 · A"}]
    cells.append({"cell_type": "code", "metadata": {}, "source": "# colab", "outputs": [], "execution_count": None})
    for i, source in enumerate(sources):
        meta = {}
        if i == 0 and solution:
            *head, last = source.splitlines()
            indent = last[: len(last) - len(last.lstrip())]
            source = "\n".join([*head, f"{indent}### BEGIN SOLUTION", last, f"{indent}### END SOLUTION"])
            meta = {
                "tags": ["solution"],
                "nbgrader": {
                    "grade": False,
                    "grade_id": "a",
                    "locked": False,
                    "schema_version": 3,
                    "solution": True,
                    "task": False,
                },
            }
        elif i == 1 and solution:
            meta = {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "a_check",
                    "locked": True,
                    "points": 1,
                    "schema_version": 3,
                    "solution": False,
                    "task": False,
                }
            }
        cells.append({"cell_type": "code", "metadata": meta, "source": source, "outputs": [], "execution_count": None})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}


def _write(path, notebook):
    path.write_text(json.dumps(notebook, indent=1))


def _load(path):
    return json.loads(path.read_text())


@pytest.fixture
def course(tmp_path):
    src, dst = tmp_path / "notebooks", tmp_path / "student"
    src.mkdir()
    _write(src / "01_a.ipynb", _notebook("x = 1", "assert x == 1"))
    return src, dst


def test_build_writes_copies_and_reports_stale_and_stray_ones(course):
    src, dst = course
    assert build(src, dst, check=True) == [f"{dst / '01_a.ipynb'} is missing or stale: run `make student`"]
    assert build(src, dst) == []
    assert build(src, dst, check=True) == []
    copy = _load(dst / "01_a.ipynb")
    assert is_untouched_copy(copy) and copy["metadata"]["oaedu"]["student_copy_of"] == "01_a.ipynb"
    _write(src / "01_a.ipynb", _notebook("x = 1", "assert x == 1, 'changed check'"))
    assert "stale" in build(src, dst, check=True)[0]
    shutil.copy(dst / "01_a.ipynb", dst / "02_gone.ipynb")  # a generated copy whose source was removed
    problems = build(src, dst, check=True)
    assert any("02_gone.ipynb has no source notebook" in p for p in problems)
    assert build(src, dst) == [] and not (dst / "02_gone.ipynb").exists()
    assert "changed check" in "".join(_load(dst / "01_a.ipynb")["cells"][3]["source"])
    merged = _load(dst / "01_a.ipynb")  # the right cells with an old fingerprint, as a git merge can leave it
    merged["metadata"]["oaedu"]["fingerprint"] = "0" * 64
    _write(dst / "01_a.ipynb", merged)
    assert "stale" in build(src, dst, check=True)[0]
    assert build(src, dst) == [] and build(src, dst, check=True) == []


def test_build_never_overwrites_or_deletes_a_persons_work(course):
    src, dst = course
    build(src, dst)
    solved = _load(dst / "01_a.ipynb")
    solved["cells"][2]["source"] = "x = 1  # my solution"
    _write(dst / "01_a.ipynb", solved)
    mine = _notebook("y = 2")
    _write(dst / "03_my_notes.ipynb", mine)
    _write(src / "01_a.ipynb", _notebook("x = 1", "assert x == 1, 'new version'"))
    before = (dst / "01_a.ipynb").read_text()
    problems = build(src, dst)
    assert len(problems) == 1 and "holds your changes" in problems[0] and "01_a.mine.ipynb" in problems[0]
    assert (dst / "01_a.ipynb").read_text() == before
    assert _load(dst / "03_my_notes.ipynb") == mine  # a person's own notebook is neither stray nor deleted
    (dst / "01_a.ipynb").rename(dst / "01_a.mine.ipynb")
    assert build(src, dst) == [] and is_untouched_copy(_load(dst / "01_a.ipynb"))
    assert "my solution" in (dst / "01_a.mine.ipynb").read_text()


def test_outputs_are_not_edits(course):
    src, dst = course
    build(src, dst)
    ran = _load(dst / "01_a.ipynb")
    ran["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ok\n"}]
    ran["cells"][3]["execution_count"] = 1
    _write(dst / "01_a.ipynb", ran)
    assert is_untouched_copy(ran) and fingerprint(ran) == fingerprint(_load(dst / "01_a.ipynb"))
    assert build(src, dst) == [] and _load(dst / "01_a.ipynb")["cells"][3]["outputs"]  # up to date: kept as is
    _write(src / "01_a.ipynb", _notebook("x = 1", "assert x == 1, 'v2'"))
    assert build(src, dst) == [] and "v2" in (dst / "01_a.ipynb").read_text()  # stale and untouched: replaced


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_check_judges_a_solved_copy_by_what_git_stores(course):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    src, dst = course
    build(src, dst)
    solved = _load(dst / "01_a.ipynb")
    solved["cells"][2]["source"] = "x = 1  # my solution"
    _write(dst / "01_a.ipynb", solved)
    assert "stale" in build(src, dst, check=True)[0]  # outside git nothing else can be judged
    root = src.parent
    _git("init", "-q", cwd=root)
    _git("add", ".", cwd=root)
    assert "stale" in build(src, dst, check=True)[0]  # the solution itself was staged: git would commit it
    _git("rm", "-q", "--cached", "student/01_a.ipynb", cwd=root)
    (dst / "01_a.ipynb").rename(root / "solved.ipynb")
    build(src, dst)
    _git("add", ".", cwd=root)
    (root / "solved.ipynb").replace(dst / "01_a.ipynb")
    assert build(src, dst, check=True) == []  # the student's solution is theirs; git stores the clean copy


def test_student_command_takes_folders_and_runs_from_anywhere(course, tmp_path):
    src, dst = course
    out = subprocess.run(
        [sys.executable, "-m", "oaedu", "student", "--notebooks", str(src), "--out", str(dst)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and (dst / "01_a.ipynb").is_file(), out.stderr
    edited = _load(dst / "01_a.ipynb")  # a student's solution, then a new version of the course notebook
    edited["cells"][2]["source"] = "x = 1  # mine"
    _write(dst / "01_a.ipynb", edited)
    _write(src / "01_a.ipynb", _notebook("x = 1", "assert x == 1, 'v2'"))
    out = subprocess.run(
        [sys.executable, "-m", "oaedu", "student", "--notebooks", str(src), "--out", str(dst)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr  # leaving a person's copy alone is not an error, but it is said
    assert "holds your changes, so it was left as it is" in out.stdout and "# mine" in (dst / "01_a.ipynb").read_text()
    out = subprocess.run(
        [sys.executable, "-m", "oaedu", "student", "--notebooks", str(tmp_path / "nowhere")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("oaedu student: error: no course notebooks")
