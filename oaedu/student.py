"""Classroom copies: ``student/`` notebooks made by nbgrader from the course notebooks.

The course notebooks are nbgrader source notebooks. Each exercise is a code cell tagged ``solution`` whose
answer sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (cell metadata ``nbgrader.solution``),
followed by a check cell that is an nbgrader grade cell with points (``oaedu.exercises.check``, the
autograder test). :func:`generate` runs ``nbgrader generate_assignment`` on a temporary course folder: every
solution region becomes ``# YOUR CODE HERE`` and a ``raise NotImplementedError``, grade cells are locked and
checksummed, so an instructor can ``nbgrader autograde`` what students hand back. The copy's badges open the
copy itself on Colab and Binder, and its ``solution`` tags read ``exercise``.

A student's work is never overwritten. Each copy records a fingerprint of its cells (types, sources and
tags, not outputs) in its metadata; a copy whose cells no longer match it has been edited by a person, and
``python -m oaedu student`` (``make student``) leaves it alone and says so. Outputs do not count as edits.
``python -m oaedu student --check`` (run by the tests) fails if a copy is missing or stale; for a copy a
person has edited it checks the version that git stores instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .notebook import NOTEBOOK_GLOB, find_notebooks, read_notebook, stored_in_git, sync_header, write_notebook

STUB = '# YOUR CODE HERE\nraise NotImplementedError("Exercise: write this code, then run the check below.")'
FOLDER = "student"
ASSIGNMENT = "course"
# nbgrader's configuration for the course: the stub that replaces a solution region.
NBGRADER_CONFIG = f"c = get_config()\nc.ClearSolutions.code_stub = {{'python': {STUB!r}}}\n"


def _check_notebook(notebook: dict) -> None:
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError(f"notebook must be notebook JSON (a dict with a 'cells' list), got {type(notebook).__name__}")


def fingerprint(notebook: dict) -> str:
    """SHA-256 of what a person can change in a notebook: each cell's type, source and tags (not outputs)."""
    _check_notebook(notebook)
    cells = [
        (c["cell_type"], "".join(c["source"]), sorted(c.get("metadata", {}).get("tags", []))) for c in notebook["cells"]
    ]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def recorded_fingerprint(notebook: dict) -> str | None:
    """The fingerprint a student copy was written with, or ``None`` for any other notebook."""
    return notebook.get("metadata", {}).get("oaedu", {}).get("fingerprint")


def is_untouched_copy(notebook: dict) -> bool:
    """A student copy exactly as :func:`build` wrote it (outputs aside)."""
    return recorded_fingerprint(notebook) == fingerprint(notebook)


def _require_nbgrader() -> None:
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        raise RuntimeError("student copies are made by nbgrader: pip install nbgrader (make setup does)") from None


def nbgrader(*args: str, root: str | Path) -> subprocess.CompletedProcess:
    """Run the command line ``nbgrader ARGS`` with the course's configuration in the course folder ``root``
    (what an instructor runs: ``nbgrader autograde course``, ...).

    Raises:
        RuntimeError: nbgrader is not installed (``make setup`` installs it), or it failed (its log attached).
    """
    root = Path(root)
    _require_nbgrader()
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
    # nbgrader calls the tools installed beside it (alembic) by name: put them on the PATH of an unactivated venv
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    out = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out


def _generate_assignment(root: Path) -> None:
    """``nbgrader generate_assignment course --no-db --force`` in this process (no interpreter to start)."""
    _require_nbgrader()
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.assignment_id = ASSIGNMENT
    config.ClearSolutions.code_stub = {"python": STUB}
    config.GenerateAssignment.no_database = True
    config.SaveCells.enabled = False
    config.BaseConverter.force = True
    GenerateAssignment(coursedir=CourseDirectory(config=config), config=config).start()


def generate(src: str | Path | None = None) -> dict[str, dict]:
    """The student copy of every course notebook in ``src`` (default: :func:`find_notebooks`), by file name:
    nbgrader's release version, with the badges of ``student/`` and ``exercise`` for the ``solution`` tags.

    Raises:
        ValueError: a notebook has no exercise (no cell tagged ``solution``).
    """
    src = find_notebooks(src)
    paths = sorted(src.glob(NOTEBOOK_GLOB))
    for path in paths:
        cells = read_notebook(path)["cells"]
        if not any("solution" in c.get("metadata", {}).get("tags", []) for c in cells):
            raise ValueError(f"{path.name} has no cell tagged 'solution': every notebook holds an exercise")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "source" / ASSIGNMENT).mkdir(parents=True)
        for path in paths:
            shutil.copy(path, root / "source" / ASSIGNMENT / path.name)
        _generate_assignment(root)
        copies = {path.name: read_notebook(root / "release" / ASSIGNMENT / path.name) for path in paths}
    for name, copy in copies.items():
        for cell in copy["cells"]:
            tags = cell.get("metadata", {}).get("tags")
            if tags and "solution" in tags:
                cell["metadata"]["tags"] = [t for t in tags if t != "solution"] + ["exercise"]
        sync_header(copy, name, FOLDER)
        copy.setdefault("metadata", {})["oaedu"] = {"student_copy_of": name, "fingerprint": fingerprint(copy)}
    return copies


def _copy_to_check(target: Path) -> dict | None:
    """The copy that ``--check`` judges: the file if untouched, else what git stores for it (a person's
    edits are theirs, not the course's), else the file."""
    if not target.is_file():
        return None
    current = read_notebook(target)
    if is_untouched_copy(current):
        return current
    stored = stored_in_git(target)
    return json.loads(stored) if stored is not None else current


def build(src: str | Path | None = None, dst: str | Path | None = None, check: bool = False) -> list[str]:
    """Write (or, with ``check``, compare) the student copy of every notebook (:func:`generate`); return the
    problems found: with ``check``, the copies that are missing or stale; without, the copies left alone because
    a person edited them (a message for that person, not an error).

    ``src`` defaults to the course notebooks (:func:`oaedu.notebook.find_notebooks`), ``dst`` to the
    ``student/`` folder beside them. Writing never replaces a copy a person has edited, nor deletes one.
    """
    src = find_notebooks(src)
    dst = Path(dst) if dst is not None else src.parent / FOLDER
    problems, expected = [], set()
    for name, new in generate(src).items():
        wanted = recorded_fingerprint(new)
        target = dst / name
        expected.add(name)
        if check:
            current = _copy_to_check(target)
            if current is None or not fingerprint(current) == recorded_fingerprint(current) == wanted:
                problems.append(f"{target} is missing or stale: run `make student`")
            continue
        if target.is_file():
            current = read_notebook(target)
            if fingerprint(current) == wanted:  # up to date: keep the outputs it may hold
                if recorded_fingerprint(current) != wanted:  # e.g. after a merge of two generated versions
                    current.setdefault("metadata", {})["oaedu"] = new["metadata"]["oaedu"]
                    write_notebook(current, target)
                continue
            if not is_untouched_copy(current):
                problems.append(
                    f"{target} holds your changes, so it was left as it is; to get the new copy, move it aside "
                    f"(e.g. to {target.with_suffix('.mine.ipynb').name}) and run this again"
                )
                continue
        dst.mkdir(parents=True, exist_ok=True)
        write_notebook(new, target)
    if dst.is_dir():
        for path in sorted(dst.glob(NOTEBOOK_GLOB)):
            if path.name in expected or not is_untouched_copy(read_notebook(path)):
                continue  # a person's own notebook is not a stray copy
            if check:
                problems.append(f"{path} has no source notebook: run `make student`")
            else:
                path.unlink()
    return problems
