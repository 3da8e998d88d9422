import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oaedu.notebook import badges
from oaedu.student import STUB, build, fingerprint, is_untouched_copy, student_copy

ROOT = Path(__file__).resolve().parents[1]


def test_student_copies_are_up_to_date():
    assert build(ROOT / "notebooks", ROOT / "student", check=True) == []


def test_student_copy_hides_every_solution_and_keeps_the_checks():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        solved = json.loads(path.read_text())
        copy = json.loads((ROOT / "student" / path.name).read_text())
        assert len(copy["cells"]) == len(solved["cells"])
        for a, b in zip(solved["cells"][1:], copy["cells"][1:], strict=True):
            if "solution" in a.get("metadata", {}).get("tags", []):
                assert "".join(b["source"]) == STUB and "exercise" in b["metadata"]["tags"]
            else:
                assert "".join(a["source"]) == "".join(b["source"])


def test_student_copies_badges_open_the_student_copy():
    for path in sorted((ROOT / "student").glob("*.ipynb")):
        header = "".join(json.loads(path.read_text())["cells"][0]["source"])
        assert header.splitlines()[0] == badges(path.name, "student")
        assert "student/" in header.splitlines()[0] and "notebooks/" not in header.splitlines()[0]


def test_student_copy_needs_a_solution_cell():
    with pytest.raises(ValueError, match="solution"):
        student_copy({"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1"}]})


def _notebook(*sources):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "[badges]\n\n# 01 · A"}]
    cells.append({"cell_type": "code", "metadata": {}, "source": "# colab", "outputs": [], "execution_count": None})
    for i, source in enumerate(sources):
        tags = ["solution"] if i == 0 else []
        cells.append(
            {"cell_type": "code", "metadata": {"tags": tags}, "source": source, "outputs": [], "execution_count": None}
        )
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
    out = subprocess.run(
        [sys.executable, "-m", "oaedu", "student", "--notebooks", str(tmp_path / "nowhere")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("oaedu student: error: no course notebooks")
