"""The header and setup convention every notebook follows, and the notebook files themselves.

Cell 1 of each notebook is a markdown header whose first line is :func:`badges` for that notebook;
cell 2 is :func:`colab_cell` (installs the package on Colab, a no-op elsewhere); the parameters cell reads
the profile; then ``device = oaedu.notebook.setup(seed)`` seeds everything, sets threads and the figure
style, quiets known-harmless warnings and prints the environment. Where a notebook introduces a ``*_reference``
implementation, :func:`show_source` shows its code.

The repository's address lives in one place, ``[project.urls] Repository`` in ``pyproject.toml``; badges
and the install line are generated from it (``python -m oaedu headers`` rewrites them in every notebook).
"""

from __future__ import annotations

import functools
import inspect
import re
import subprocess
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from . import validate
from .plotting import use_style
from .utils import MAX_THREADS, env_report, get_device, seed_everything, set_threads

BRANCH = "main"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
# The notebooks/ folder of a source checkout (an editable install); absent in an installed wheel.
CHECKOUT_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
COLAB_COMMENT = "# On Colab, install the course package; anywhere else this cell does nothing."


@functools.cache
def repository_url() -> str:
    """The course repository, ``https://github.com/OWNER/NAME``: ``[project.urls] Repository`` of the package."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        entries = metadata("oaedu").get_all("Project-URL") or []
    except PackageNotFoundError:
        raise RuntimeError("the oaedu package is not installed: run `make setup` or `pip install -e .`") from None
    for entry in entries:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            url = url.strip().removesuffix("/").removesuffix(".git")
            if not url.startswith("https://github.com/") or url.count("/") != 4:
                raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/NAME, got {url!r}")
            return url
    raise RuntimeError("pyproject.toml has no [project.urls] Repository entry (reinstall after adding it)")


def repository() -> str:
    """``OWNER/NAME`` of :func:`repository_url`."""
    return repository_url().removeprefix("https://github.com/")


def _check_name(notebook: str) -> str:
    if not isinstance(notebook, str) or not notebook.endswith(".ipynb") or "/" in notebook or "\\" in notebook:
        raise ValueError(f"notebook must be a notebook's file name such as '02_oamixer.ipynb', got {notebook!r}")
    return notebook


def colab_url(notebook: str, folder: str = "notebooks") -> str:
    _check_name(notebook)
    return f"https://colab.research.google.com/github/{repository()}/blob/{BRANCH}/{folder}/{notebook}"


def binder_url(notebook: str, folder: str = "notebooks") -> str:
    _check_name(notebook)
    return f"https://mybinder.org/v2/gh/{repository()}/{BRANCH}?labpath={folder}%2F{notebook}"


def badges(notebook: str, folder: str = "notebooks") -> str:
    """The markdown badge line for ``folder/notebook`` (e.g. ``02_oamixer.ipynb``; students' copies: ``student``)."""
    _check_name(notebook)
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook, folder)}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(notebook, folder)})"
    )


def doc_url(path: str) -> str:
    """The address of a file of the repository on GitHub, e.g. ``doc_url("docs/deviations.md")``: notebooks link
    there rather than to a relative path, which would break in a notebook opened from Colab or an installed wheel."""
    if not isinstance(path, str) or not path or path.startswith(("/", ".")) or "\\" in path:
        raise ValueError(f"path must be a path inside the repository such as 'docs/deviations.md', got {path!r}")
    return f"{repository_url()}/blob/{BRANCH}/{path}"


# A markdown link to a file of the repository: relative (``../docs/x.md``) or already absolute on GitHub.
REPO_LINK = re.compile(
    r"\]\((?:\.\./|https://github\.com/[\w.-]+/[\w.-]+/blob/[\w.-]+/)((?:docs|notebooks|student)/[^)\s]+)\)"
)


def sync_links(source: str) -> str:
    """``source`` (markdown) with every link to a file of the repository made absolute by :func:`doc_url`."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a markdown cell's text (a str), got {type(source).__name__}")
    return REPO_LINK.sub(lambda m: f"]({doc_url(m.group(1))})", source)


def colab_cell() -> str:
    """The source of every notebook's first code cell: install the package from the repository, on Colab only."""
    return (
        f"{COLAB_COMMENT}\nimport sys\n\n"
        f'if "google.colab" in sys.modules:\n    %pip install -q "oaedu @ git+{repository_url()}"'
    )


def find_notebooks(folder: str | Path | None = None) -> Path:
    """The folder of course notebooks (``NN_slug.ipynb``): ``folder`` if given, else ``./notebooks``, else the
    ``notebooks/`` of the source checkout the package was installed from.

    Raises:
        FileNotFoundError: no such folder holds a course notebook.
    """
    candidates = [Path(folder)] if folder is not None else [Path.cwd() / "notebooks", CHECKOUT_NOTEBOOKS]
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob(NOTEBOOK_GLOB)):
            return candidate
    where = " or ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"no course notebooks (NN_slug.ipynb) in {where}; pass --notebooks DIR, e.g. the notebooks/ folder of "
        f"a clone of {repository_url()}"
    )


def read_notebook(path: str | Path) -> dict:
    """A notebook file as nbformat's dict, in the version it was saved in.

    Raises:
        ValueError: the file is not a valid notebook (not JSON, or without ``cells``), naming the file.
    """
    import nbformat

    try:
        return nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except nbformat.ValidationError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is not a valid notebook: {first}") from None


def write_notebook(notebook: dict, path: str | Path) -> None:
    """Write ``notebook`` the way nbformat (and so JupyterLab and the nbstripout git filter) writes it."""
    import nbformat

    nbformat.write(nbformat.from_dict(notebook), str(path), version=nbformat.NO_CONVERT)


def stored_in_git(path: str | Path) -> str | None:
    """The text git stores for ``path`` (its index entry, which is what a commit takes), or ``None`` where
    ``path`` is not tracked in a git work tree (or git is missing)."""
    path = Path(path).resolve()
    try:
        out = subprocess.run(["git", "show", f":./{path.name}"], cwd=path.parent, capture_output=True, check=False)
    except OSError:
        return None
    return out.stdout.decode() if out.returncode == 0 else None


def sync_header(notebook: dict, name: str, folder: str = "notebooks") -> bool:
    """Set the badge line, the Colab cell and the links to the repository's files (:func:`sync_links`) of
    ``notebook`` (file ``folder/name``) from the repository address; return whether anything changed."""
    header = notebook["cells"][0]
    code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    old = ("".join(header["source"]), "".join(code["source"]))
    lines = old[0].split("\n")
    lines[0] = badges(name, folder)
    header["source"], code["source"] = "\n".join(lines), colab_cell()
    changed = (header["source"], code["source"]) != old
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            if sync_links(source) != source:
                cell["source"], changed = sync_links(source), True
    return changed


def sync_headers(folder: str | Path | None = None, check: bool = False) -> list[str]:
    """Rewrite (or, with ``check``, compare) the header line and the Colab cell of every course notebook;
    return the notebooks that were (or would be) changed."""
    folder = find_notebooks(folder)
    changed = []
    for path in sorted(folder.glob(NOTEBOOK_GLOB)):
        notebook = read_notebook(path)
        if sync_header(notebook, path.name, folder.name):
            changed.append(str(path))
            if not check:
                write_notebook(notebook, path)
    return changed


def setup(seed: int = 0, threads: int | None = None, verbose: bool = True) -> torch.device:
    """Seed, set threads and figure style, filter noisy warnings; return the device to use."""
    if threads is not None:
        validate.integer(threads, "threads", low=1, high=MAX_THREADS)
    seed_everything(seed)
    set_threads(threads)
    use_style()
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.nn.modules.module")
    warnings.filterwarnings("ignore", message=".*upsample.*")
    device = get_device()
    if verbose:
        print(" | ".join(f"{k} {v}" for k, v in env_report().items()))
    return device


def _in_jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (a notebook, nbval, ``reproduce``), where rich output is rendered."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def show_source(obj: Callable) -> None:
    """Show the source code of a function, method or class, as a notebook introduces a ``*_reference``
    implementation: syntax-highlighted in Jupyter, plain text anywhere else (a terminal, a script).

    Raises:
        TypeError: ``obj`` is not a function, method or class written in Python (a built-in, a number, ...).
    """
    try:
        source = textwrap.dedent(inspect.getsource(obj)).rstrip("\n")
    except (TypeError, OSError):
        raise TypeError(
            f"obj must be a function, method or class written in Python, got {validate.describe(obj)}"
        ) from None
    if _in_jupyter():
        from IPython.display import Code, display

        display(Code(source, language="python"))
    else:
        print(source)
