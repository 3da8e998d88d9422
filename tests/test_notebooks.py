"""The notebooks follow the course convention and stay executable in CI.

Execution itself is `make notebooks` (nbval under OAEDU_PROFILE=smoke); the root conftest.py fails that
session if a notebook in notebooks/ is not collected or executes no cell. Outputs are checked in what git
stores, not in the working file: running the course (JupyterLab autosaves) must keep `make test` green.
"""

import ast
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from oaedu.notebook import (
    REPO_LINK,
    badges,
    binder_url,
    colab_cell,
    colab_url,
    doc_url,
    repository,
    repository_url,
    stored_in_git,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
STUDENT_COPIES = sorted((ROOT / "student").glob("[0-9][0-9]_*.ipynb"))


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


RECOVER = "git stores outputs: run `make setup`, then `git add --renormalize notebooks student` (see the README)"


@pytest.mark.parametrize("path", NOTEBOOKS + STUDENT_COPIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_git_stores_notebooks_without_outputs(path):
    stored = stored_in_git(path)
    for cell in json.loads(stored if stored is not None else path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a code cell has outputs; {RECOVER}"
            assert cell.get("execution_count") is None, f"{path.name}: a code cell has an execution count; {RECOVER}"


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _filter_args() -> list[str]:
    """The nbstripout arguments of the git filter that `make setup` configures (the Makefile's NBSTRIPOUT)."""
    makefile = (ROOT / "Makefile").read_text()
    assert "filter.nbstripout.clean '$(BIN)/python $(NBSTRIPOUT)'" in makefile
    line = re.search(r"^NBSTRIPOUT :?= (.*)$", makefile, re.M).group(1)
    return shlex.split(line)


def _as_run_in_jupyterlab(notebook: dict) -> dict:
    """``notebook`` as JupyterLab autosaves it after a run: outputs, execution counts, and the metadata that the
    kernel writes (its kernelspec, the language_info with the Python version)."""
    from jupyter_client.kernelspec import KernelSpecManager

    run = json.loads(json.dumps(notebook))
    for n, cell in enumerate(c for c in run["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = n + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "autosaved\n"}]
    spec = KernelSpecManager().get_kernel_spec("python3")
    run["metadata"]["kernelspec"] = {"display_name": spec.display_name, "language": spec.language, "name": "python3"}
    run["metadata"]["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": sys.version.split()[0],
    }
    return run


@pytest.mark.parametrize("name", ["02_oamixer.ipynb", "00_start_here.ipynb"])
def test_running_a_notebook_never_changes_what_git_stores(tmp_path, name):
    """The filter that `make setup` configures, on a throwaway repository: a notebook saved after a run in
    JupyterLab (outputs, counts, the kernel's metadata) is stored exactly as the course stores it."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert "*.ipynb filter=nbstripout" in (ROOT / ".gitattributes").read_text()
    _git("init", "-q", cwd=tmp_path)
    command = shlex.join([sys.executable, *_filter_args()])
    _git("config", "filter.nbstripout.clean", command, cwd=tmp_path)
    shutil.copy(ROOT / ".gitattributes", tmp_path)
    clean = stored_in_git(NOTEBOOK_DIR / name) or (NOTEBOOK_DIR / name).read_text()
    (tmp_path / name).write_text(json.dumps(_as_run_in_jupyterlab(json.loads(clean)), indent=1))
    _git("add", ".", cwd=tmp_path)
    assert _git("show", f":{name}", cwd=tmp_path) == clean


def test_notebooks_are_in_the_format_jupyterlab_saves():
    # JupyterLab 4 saves nbformat 4.5 with a cell id on every cell: a notebook stored in an older form would gain
    # ids (which the filter keeps) the first time a student opens and saves it.
    for path in NOTEBOOKS + STUDENT_COPIES:
        notebook = json.loads(stored_in_git(path) or path.read_text())
        assert (notebook["nbformat"], notebook["nbformat_minor"]) >= (4, 5), f"{path.name}: nbformat 4.5 or later"
        ids = [c.get("id") for c in notebook["cells"]]
        assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: every cell needs its own id"


def test_notebooks_name_the_kernel_that_jupyterlab_writes():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    for path in NOTEBOOKS + STUDENT_COPIES:
        meta = json.loads(stored_in_git(path) or path.read_text())["metadata"]
        assert meta["kernelspec"] == {"display_name": spec.display_name, "language": "python", "name": "python3"}
        assert "language_info" not in meta, f"{path.name}: {RECOVER}"


def test_the_filter_leaves_every_course_notebook_as_it_is(tmp_path):
    # What git stores must be what the filter stores, or a fresh clone lists the notebook as modified after
    # `make setup`. (A working file in another form is fine: `git add` stores it through the filter.)
    texts = [stored_in_git(p) or p.read_text() for p in NOTEBOOKS + STUDENT_COPIES]
    paths = [tmp_path / f"{i:02d}.ipynb" for i in range(len(texts))]
    for path, text in zip(paths, texts, strict=True):
        path.write_text(text)
    cmd = [sys.executable, *_filter_args(), "-t", *map(str, paths)]
    stripped = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert stripped == "".join(texts), "a notebook is not in nbstripout's form: `git add` it through the filter"


def test_this_clone_has_the_filter_configured():
    if stored_in_git(ROOT / "Makefile") is None:
        pytest.skip("not a git work tree")
    out = subprocess.run(["git", "config", "filter.nbstripout.clean"], cwd=ROOT, capture_output=True, text=True)
    assert "nbstripout" in out.stdout, "git's nbstripout filter is not configured: run `make setup`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_header_and_setup_convention(path):
    cells = _load(path)["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    header = _source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and header.splitlines()[0] == badges(path.name), "run `make headers`"
    assert re.search(rf"^# {path.name[:2]} · ", header, re.M), "title must read '# NN · Title'"
    assert _source(code[0]) == colab_cell(), "the Colab cell differs from pyproject's address: run `make headers`"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "config.select(" in _source(params[0])
    assert any("oaedu.notebook.setup(" in _source(c) for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_asserts_its_point_and_has_graded_exercises(path):
    cells = _load(path)["cells"]
    code = "\n".join(_source(c) for c in cells if c["cell_type"] == "code")
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert re.search(r"\bcheck\.\w+\(", code), f"{path.name} checks nothing"
    assert "## Exercise" in markdown and "## What you learned" in markdown
    solutions = [i for i, c in enumerate(cells) if "solution" in c.get("metadata", {}).get("tags", [])]
    assert solutions
    for i in solutions:  # nbgrader source: a solution region, then a grade cell with points that runs the check
        meta, grade = cells[i]["metadata"].get("nbgrader", {}), cells[i + 1]["metadata"].get("nbgrader", {})
        assert meta.get("solution") and "### BEGIN SOLUTION" in _source(cells[i]), f"{path.name}: cell {i}"
        assert "### END SOLUTION" in _source(cells[i])
        assert grade.get("grade") and grade.get("points", 0) > 0 and "exercises.check(" in _source(cells[i + 1])


def test_notebook_00_shows_how_to_switch_profile_inside_jupyterlab():
    markdown = "\n".join(_source(c) for c in _load(NOTEBOOK_DIR / "00_start_here.ipynb")["cells"])
    assert "%env OAEDU_PROFILE=cpu" in markdown and "make exercises OAEDU_PROFILE=cpu" in markdown


def _make_dry_run(target, *args, env=None):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    environ = {k: v for k, v in os.environ.items() if k != "OAEDU_PROFILE"} | (env or {})
    cmd = ["make", "-n", "-s", "-C", str(ROOT), target, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=environ, check=True).stdout.splitlines()[-1]


def test_make_exercises_runs_smoke_unless_asked():
    assert "OAEDU_PROFILE=smoke" in _make_dry_run("exercises") and "student/" in _make_dry_run("exercises")
    assert "OAEDU_PROFILE=cpu" in _make_dry_run("exercises", env={"OAEDU_PROFILE": "cpu"})
    assert "OAEDU_PROFILE=gpu" in _make_dry_run("exercises", "OAEDU_PROFILE=gpu")
    assert "OAEDU_PROFILE" not in _make_dry_run("lab")  # the course itself keeps the machine's default


def test_links_in_notebooks_work_from_colab_and_the_wheel():
    """A relative link (../docs/x.md) breaks in a notebook opened on Colab or from an installed wheel: links to
    the repository's files are absolute, built from pyproject's address (`make headers` rewrites them)."""
    for path in NOTEBOOKS + STUDENT_COPIES:
        for cell in _load(path)["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            for target in re.findall(r"\]\(([^)\s]+)\)", _source(cell)):
                assert re.match(r"https?://", target), f"{path.name}: relative link {target}"
            for match in REPO_LINK.finditer(_source(cell)):
                assert match.group(0) == f"]({doc_url(match.group(1))})", f"{path.name}: {match.group(0)}"
                assert (ROOT / match.group(1).split("#")[0]).exists(), f"{path.name}: no file {match.group(1)}"


def test_readme_first_lines_tell_students_their_command():
    first = "\n".join((ROOT / "README.md").read_text().splitlines()[:12])
    assert "make exercises" in first and "student" in first.lower()


def test_one_repository_address_everywhere():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    assert repository_url() == url, "the installed metadata is stale: run `make setup`"
    readme, contributing = (ROOT / "README.md").read_text(), (ROOT / "CONTRIBUTING.md").read_text()
    assert colab_url("00_start_here.ipynb") in readme and binder_url("00_start_here.ipynb") in readme
    assert colab_cell().splitlines()[-1].strip() in contributing
    # Any other mention of a GitHub address of the course must be this one.
    texts = [readme, contributing] + [p.read_text() for p in NOTEBOOKS + STUDENT_COPIES]
    for text in texts:
        for owner_name in re.findall(r"(?:github\.com/|/gh/|/github/)([\w.-]+/[\w.-]+)", text):
            if owner_name.split("/")[1].lower() == "oaedu":
                assert owner_name == repository(), f"{owner_name} is not {repository()}"


def test_headers_command_writes_badges_and_colab_cell_from_the_address(tmp_path):
    from oaedu.notebook import read_notebook, sync_headers, write_notebook

    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = read_notebook(NOTEBOOK_DIR / "00_start_here.ipynb")
    nb["cells"][0]["source"] = nb["cells"][0]["source"].replace(repository(), "someone/oaedu")
    nb["cells"][1]["source"] = nb["cells"][1]["source"].replace(repository(), "someone/oaedu")
    write_notebook(nb, folder / "00_start_here.ipynb")
    cmd = [sys.executable, "-m", "oaedu", "headers", "--notebooks", str(folder), "--check"]
    assert subprocess.run(cmd, capture_output=True).returncode == 1
    assert sync_headers(folder) == [str(folder / "00_start_here.ipynb")] and sync_headers(folder, check=True) == []
    assert (folder / "00_start_here.ipynb").read_text() == (NOTEBOOK_DIR / "00_start_here.ipynb").read_text()


# ------------------------------------------------------------------------------------------------ writing rules
# CONTRIBUTING.md, "Notebook convention": show each reference's code with oaedu.notebook.show_source, time with
# oaedu.bench, plot with oaedu.plotting, import every name, no hand-typed results, comment the CONFIGS.


def _code_cells(path):
    return [_source(c) for c in _load(path)["cells"] if c["cell_type"] == "code"]


def _python(cell):
    """A code cell as plain Python: IPython magics (``%pip …``) become ``pass``."""
    return "\n".join(re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in cell.splitlines())


HAND_TIMING = re.compile(r"\btime\.(?:perf_counter|time|monotonic|process_time)(?:_ns)?\b|\btimeit\b")
HAND_FIGURE = re.compile(r"\bplt\.(?:subplots|subplot|figure|subplot_mosaic)\(|\.add_subplot\(")
REFERENCE_CALL = re.compile(r"(?<!def )(?<![\w.])([A-Za-z]\w*_reference)\s*\(")
SHOWN = re.compile(r"\bshow_source\(\s*([\w.]+)")
LAB_LOG = re.compile(
    r"measured on (?:the course|(?:a|my|our|this) (?:\d|machine|laptop|[cg]pu))|course machine|"
    r"(?:our|my) machine|runs? we made|seeds? we ran|so did we|we measured",
    re.I,
)


def check_timing(path):
    hits = sorted({m.group(0) for cell in _code_cells(path) for m in HAND_TIMING.finditer(cell)})
    assert not hits, f"{path.name}: time with oaedu.bench.time_fn or time_together, not by hand ({hits})"


def check_figures(path):
    hits = [m.group(0) for cell in _code_cells(path) for m in HAND_FIGURE.finditer(cell)]
    assert not hits, f"{path.name}: build figures with a helper of oaedu.plotting (add a general one there): {hits}"


def check_references_shown(path):
    cells = _code_cells(path)
    assert not any("getsource(" in c for c in cells), f"{path.name}: show code with oaedu.notebook.show_source"
    first_call, first_shown = {}, {}
    for i, cell in enumerate(cells):
        for name in REFERENCE_CALL.findall(cell):
            first_call.setdefault(name, i)
        for shown in SHOWN.findall(cell):
            first_shown.setdefault(shown.rsplit(".", 1)[-1], i)
    late = sorted(n for n, i in first_call.items() if first_shown.get(n, len(cells)) > i)
    assert not late, f"{path.name}: show_source(...) each reference where it is introduced (before it is used): {late}"


def check_imports(path):
    import oaedu

    code = "\n\n".join(_python(c) for c in _code_cells(path))
    tree = ast.parse(code)
    imported = {
        a.name.split(".")[1]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for a in n.names
        if a.name.startswith("oaedu.")
    }
    imported |= {
        a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "oaedu" for a in n.names
    }
    reached = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "oaedu"
    }
    side = sorted(reached - imported - set(oaedu.__all__) - {"__version__"})
    assert not side, f"{path.name}: import these modules explicitly (they work only through a side import): {side}"
    ruff = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    if ruff.returncode:
        pytest.skip("ruff (a dev dependency) is not installed")
    cmd = [
        sys.executable,
        "-m",
        "ruff",
        "check",
        "--isolated",
        "--no-cache",
        "--select",
        "F821",
        "--output-format",
        "concise",
        "--stdin-filename",
        f"{path.stem}.py",
        "-",
    ]
    out = subprocess.run(cmd, input=code, capture_output=True, text=True)
    assert out.returncode == 0, f"{path.name}: every name a notebook uses is defined or imported in it:\n{out.stdout}"


def check_configs_commented(path):
    params = next(c for c in _load(path)["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    source = _source(params)
    tree = ast.parse(source)
    assigns = {
        t.id: node
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    configs = assigns["CONFIGS"]
    # CONFIGS and the dicts its profiles spread (SHARED = {...}; "cpu": {**SHARED, ...})
    spread = {
        v.id
        for d in ast.walk(configs)
        if isinstance(d, ast.Dict)
        for k, v in zip(d.keys, d.values, strict=True)
        if k is None and isinstance(v, ast.Name)
    }
    lines = {
        line
        for node in [configs, *(assigns[n] for n in spread if n in assigns)]
        for line in range(node.lineno, node.end_lineno + 1)
    }
    comments = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    assert any(t.start[0] in lines for t in comments), (
        f"{path.name}: comment the CONFIGS values that are not obvious (why this size, rate, number of seeds)"
    )


def check_no_lab_log(path):
    cells = _load(path)["cells"]
    hits = sorted({m.group(0) for c in cells for m in LAB_LOG.finditer(_source(c))})
    assert not hits, (
        f"{path.name}: numbers come from the run (printed) or are labelled as the paper's; no lab-log prose: {hits}"
    )


STATIC_CHECKS = (
    check_timing,
    check_figures,
    check_references_shown,
    check_imports,
    check_configs_commented,
    check_no_lab_log,
)


@pytest.mark.parametrize("check_fn", STATIC_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_writing_rules(path, check_fn):
    check_fn(path)


BREAKAGES = {  # one way to break each rule, added to a copy of notebook 02
    check_timing: ("import time\nstart = time.perf_counter()\nattention(q, k, v)\nprint(time.perf_counter() - start)",),
    check_figures: ("fig, ax = plt.subplots(1, 2)\nplt.show()",),
    check_references_shown: (
        "conv_mixing_reference(x, w, 0.1, M, GRID)",
        "import inspect\nprint(inspect.getsource(fit))",
    ),
    check_imports: ('print(oaedu.plotting.format_table({"a": {"x": 1.0}}))', "print(format_tabel({}))"),
    check_no_lab_log: ("# Measured on the course machine: 81.2 %",),
}


@pytest.mark.parametrize("check_fn", list(BREAKAGES) + [check_configs_commented], ids=lambda f: f.__name__)
def test_each_writing_rule_catches_a_broken_copy(tmp_path, check_fn):
    for n, bad in enumerate(BREAKAGES.get(check_fn, ("",))):
        nb = _load(NOTEBOOK_DIR / "02_oamixer.ipynb")
        if check_fn is check_configs_commented:
            params = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
            params["source"] = "\n".join(
                line.split("  #")[0] for line in _source(params).splitlines() if not line.lstrip().startswith("#")
            )
        elif check_fn is check_references_shown and n == 0:  # called before the cell that shows it
            cells = nb["cells"]
            first = next(i for i, c in enumerate(cells) if "show_source(conv_mixing_reference)" in _source(c))
            cells.insert(
                first - 1, {"cell_type": "code", "metadata": {}, "source": bad, "outputs": [], "execution_count": None}
            )
        else:
            nb["cells"].append(
                {"cell_type": "code", "metadata": {}, "source": bad, "outputs": [], "execution_count": None}
            )
        broken = tmp_path / f"02_oamixer_{n}.ipynb"
        broken.write_text(json.dumps(nb))
        check_fn(NOTEBOOK_DIR / "02_oamixer.ipynb")  # the notebook itself passes
        with pytest.raises(AssertionError):
            check_fn(broken)
