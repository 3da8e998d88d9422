"""Classroom copies: ``student/`` notebooks with the solution cells replaced by a stub.

A solution cell is a code cell tagged ``solution``. In the student copy its code becomes ``# YOUR CODE
HERE`` followed by a ``raise NotImplementedError``, so the check cell that follows fails until the
student writes a solution. ``python -m oaedu student`` (``make student``) writes the copies;
``python -m oaedu student --check`` (run by the tests) fails if a copy is missing or stale.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUB = (
    "# YOUR CODE HERE\n"
    'raise NotImplementedError("Exercise: replace this cell with your solution, then run the check below.")'
)


def student_copy(notebook: dict) -> dict:
    """Return a copy of a notebook (as JSON) with every ``solution`` cell stubbed out."""
    out = json.loads(json.dumps(notebook))
    found = False
    for cell in out["cells"]:
        if cell["cell_type"] == "code" and "solution" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = STUB
            cell["metadata"]["tags"] = [t for t in cell["metadata"]["tags"] if t != "solution"] + ["exercise"]
            found = True
    if not found:
        raise ValueError("the notebook has no cell tagged 'solution'")
    return out


def _render(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def build(src: Path = ROOT / "notebooks", dst: Path = ROOT / "student", check: bool = False) -> list[str]:
    """Write (or, with ``check``, compare) the student copy of every notebook; return the problems found."""
    if not src.is_dir():
        raise FileNotFoundError(f"notebook folder {src} not found")
    problems = []
    expected = set()
    for path in sorted(src.glob("*.ipynb")):
        text = _render(student_copy(json.loads(path.read_text())))
        target = dst / path.name
        expected.add(path.name)
        if check:
            if not target.is_file() or target.read_text() != text:
                problems.append(f"{target} is missing or stale: run `make student`")
        else:
            dst.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if dst.is_dir():
        stray = sorted(p.name for p in dst.glob("*.ipynb") if p.name not in expected)
        problems += [f"{dst / name} has no source notebook" for name in stray]
        if not check:
            for name in stray:
                (dst / name).unlink()
    return problems
