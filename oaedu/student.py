"""Classroom copies: ``student/`` notebooks with the solution cells replaced by a stub.

A solution cell is a code cell tagged ``solution``. In the student copy its code becomes ``# YOUR CODE
HERE`` followed by a ``raise NotImplementedError``, so the check cell that follows fails until the
student writes a solution; the copy's badges open the copy itself on Colab and Binder.

A student's work is never overwritten. Each copy records a fingerprint of its cells (types, sources and
tags, not outputs) in its metadata; a copy whose cells no longer match it has been edited by a person, and
``python -m oaedu student`` (``make student``) leaves it alone and says so. Outputs do not count as edits.
``python -m oaedu student --check`` (run by the tests) fails if a copy is missing or stale; for a copy a
person has edited it checks the version that git stores instead.
"""

from __future__ import annotations

import copy as _copy
import hashlib
import json
from pathlib import Path

from .notebook import NOTEBOOK_GLOB, find_notebooks, read_notebook, stored_in_git, sync_header, write_notebook

STUB = (
    "# YOUR CODE HERE\n"
    'raise NotImplementedError("Exercise: replace this cell with your solution, then run the check below.")'
)
FOLDER = "student"


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


def student_copy(notebook: dict, name: str | None = None) -> dict:
    """Return a copy of a notebook with every ``solution`` cell stubbed out.

    With ``name`` (the notebook's file name) the header's badges point at ``student/name``.
    """
    _check_notebook(notebook)
    out = _copy.deepcopy(notebook)
    found = False
    for cell in out["cells"]:
        if cell["cell_type"] == "code" and "solution" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = STUB
            cell["metadata"]["tags"] = [t for t in cell["metadata"]["tags"] if t != "solution"] + ["exercise"]
            cell["outputs"], cell["execution_count"] = [], None
            found = True
    if not found:
        raise ValueError("the notebook has no cell tagged 'solution'")
    if name is not None:
        sync_header(out, name, FOLDER)
        out.setdefault("metadata", {})["oaedu"] = {"student_copy_of": name, "fingerprint": fingerprint(out)}
    return out


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
    """Write (or, with ``check``, compare) the student copy of every notebook; return the problems found.

    ``src`` defaults to the course notebooks (:func:`oaedu.notebook.find_notebooks`), ``dst`` to the
    ``student/`` folder beside them. Writing never replaces a copy a person has edited, nor deletes one.
    """
    src = find_notebooks(src)
    dst = Path(dst) if dst is not None else src.parent / FOLDER
    problems, expected = [], set()
    for path in sorted(src.glob(NOTEBOOK_GLOB)):
        new = student_copy(read_notebook(path), path.name)
        wanted = recorded_fingerprint(new)
        target = dst / path.name
        expected.add(path.name)
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
