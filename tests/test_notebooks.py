"""The notebooks follow the course convention and stay executable in CI.

Execution itself is `make notebooks` (nbval under OAEDU_PROFILE=smoke); the root conftest.py fails that
session if a notebook in notebooks/ is not collected or executes no cell.
"""

import json
import re
from pathlib import Path

import pytest

from oaedu.notebook import badges

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _load(path):
    return json.loads(path.read_text())


def _source(cell):
    return "".join(cell["source"])


def test_the_course_has_its_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert "00_start_here.ipynb" in names and "01_background_bias.ipynb" in names


def test_notebook_folder_holds_only_numbered_notebooks():
    # Anything else in notebooks/ would not be executed by the suite.
    for path in NOTEBOOK_DIR.iterdir():
        if path.name.startswith("."):
            continue
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name} is not an executed notebook"


def test_make_runs_every_notebook():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pytest notebooks .*--nbval-lax", makefile)
    assert "OAEDU_PROFILE=smoke" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a code cell has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_header_and_setup_convention(path):
    cells = _load(path)["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    header = _source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and header.splitlines()[0] == badges(path.name)
    assert re.search(rf"^# {path.name[:2]} · ", header, re.M), "title must read '# NN · Title'"
    assert "google.colab" in _source(code[0]) and "%pip install" in _source(code[0])
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "config.select(" in _source(params[0])
    assert any("oaedu.notebook.setup(" in _source(c) for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_asserts_its_point_and_ends_with_an_exercise(path):
    cells = _load(path)["cells"]
    code = "\n".join(_source(c) for c in cells if c["cell_type"] == "code")
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert re.search(r"\bcheck\.\w+\(", code), f"{path.name} checks nothing"
    assert "## Exercise" in markdown
    assert any("solution" in c.get("metadata", {}).get("tags", []) for c in cells)
    assert "## What you learned" in markdown
