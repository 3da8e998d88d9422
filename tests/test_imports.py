"""The package's imports run down its layers and never in a circle: a static analysis of every module's imports.

Each ``import``/``from … import`` statement of every module under ``oaedu/`` (read with :mod:`ast`, so imports
inside functions count too) is an edge from the importing module to the module it names: ``from .x import y``
points at the module ``x.y`` when there is one, else at ``x`` (its ``__init__`` for a package). A module belongs to
a *unit*, its top-level module or subpackage (``oaedu.slots.losses`` → ``slots``), and each unit to one layer of
:data:`LAYERS`. A unit may import units of lower layers, and units of its own layer unless the layer is
independent (the papers never import one another). No module may import itself back through others, and no
unit may.

The root ``oaedu/__init__.py`` stands outside the layers: it is the face of the package, importing the modules
every notebook uses, and it defines ``__version__`` before importing anything, so any module may read
:data:`ROOT_NAMES` from it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "oaedu"

# Lowest first. Read the code to place a new module: its layer must lie above everything it imports.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    # validation, profiles, threads, statistics and runs, tables, timers, notebook checks, shipped weights
    (
        "floor",
        frozenset({"validate", "config", "utils", "stats", "results", "tables", "timing", "check", "checkpoints"}),
    ),
    # the process group of data-parallel training (one process: a no-op), used by losses that span the global batch
    ("processes", frozenset({"distributed"})),
    # the shared building blocks: data, models, map operations, metrics
    ("blocks", frozenset({"data", "models", "maps", "metrics"})),
    # the one training loop and its steps
    ("training", frozenset({"train"})),
    # MoCo, BYOL and linear probes, shared by ContraCAM and the leaderboard
    ("learners", frozenset({"contrastive"})),
    # one subpackage per paper
    ("papers", frozenset({"oamixer", "spatial_entropy", "contracam", "relevance", "slots"})),
    # what runs the course: benchmarks and the twin collection, experiments across papers, notebooks, the CLI
    (
        "course",
        frozenset(
            {
                "bench",
                "twins",
                "leaderboard",
                "reproduce",
                "notebook",
                "plotting",
                "student",
                "exercises",
                "scale",
                "__main__",
            }
        ),
    ),
)
INDEPENDENT = frozenset({"papers"})  # the units of these layers never import one another
ROOT = "oaedu"
ROOT_NAMES = frozenset({"__version__"})  # what any module may import from the root package


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` (a module of the package) at ``line``; ``names`` are the names taken."""

    importer: str
    imported: str
    names: tuple[str, ...]
    line: int


def sources(package: Path) -> dict[str, tuple[str, bool]]:
    """``{dotted module name: (source, is_package)}`` for every ``.py`` file under ``package``."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path.read_text(), is_package)
    return out


def edges(modules: dict[str, tuple[str, bool]], root: str = ROOT) -> list[Edge]:
    """Every import of a module of ``root`` by a module of ``modules`` (see the module docstring)."""
    out = []
    for name, (source, is_package) in modules.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == root:
                        out.append(Edge(name, alias.name, (), node.lineno))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != root:
                    continue
                submodules = [a.name for a in node.names if f"{target}.{a.name}" in modules]
                others = tuple(a.name for a in node.names if f"{target}.{a.name}" not in modules)
                out += [Edge(name, f"{target}.{sub}", (), node.lineno) for sub in submodules]
                if others:
                    out.append(Edge(name, target, others, node.lineno))
    return out


def unit(module: str) -> str:
    """The top-level module or subpackage that ``module`` belongs to (``"slots"`` for ``oaedu.slots.losses``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _reads_root_names(edge: Edge, root: str = ROOT) -> bool:
    return edge.imported == root and bool(edge.names) and set(edge.names) <= ROOT_NAMES


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node, and the nodes that import themselves (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # recursive: the graph is a few hundred modules deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def module_graph(all_edges: list[Edge], root: str = ROOT) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for e in all_edges:
        if not _reads_root_names(e, root):
            graph.setdefault(e.importer, set()).add(e.imported)
    return graph


def unit_graph(all_edges: list[Edge], root: str = ROOT) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for e in all_edges:
        a, b = unit(e.importer), unit(e.imported)
        if a != b and root not in (e.importer, e.imported):
            graph.setdefault(a, set()).add(b)
    return graph


def layer_of(layers=LAYERS) -> dict[str, int]:
    return {u: i for i, (_, units) in enumerate(layers) for u in units}


def upward(all_edges: list[Edge], layers=LAYERS, independent=INDEPENDENT, root: str = ROOT) -> list[str]:
    """One message per import that runs up the layers (or across an independent layer, or into the root)."""
    level = layer_of(layers)
    names = [name for name, _ in layers]
    out = []
    for e in all_edges:
        if e.importer == root or _reads_root_names(e, root):
            continue
        a, b = unit(e.importer), unit(e.imported)
        where = f"{e.importer}:{e.line} imports {e.imported}"
        if e.imported == root:
            out.append(f"{where} {e.names}: only {sorted(ROOT_NAMES)} may come from the root package")
        elif a != b and level[b] > level[a]:
            out.append(f"{where}: {names[level[b]]} lies above {names[level[a]]}")
        elif a != b and level[a] == level[b] and names[level[a]] in independent:
            out.append(f"{where}: the {names[level[a]]} never import one another")
    return out


@pytest.fixture(scope="module")
def package_edges() -> list[Edge]:
    return edges(sources(PACKAGE))


def test_every_module_has_a_layer_and_every_layer_names_a_module():
    units = {unit(name) for name in sources(PACKAGE)} - {ROOT}
    placed = [u for _, members in LAYERS for u in members]
    assert len(placed) == len(set(placed)), "a unit in two layers"
    assert not units - set(placed), f"give these a layer in LAYERS: {sorted(units - set(placed))}"
    assert not set(placed) - units, f"LAYERS names modules that do not exist: {sorted(set(placed) - units)}"


def test_the_analysis_sees_the_imports_it_should(package_edges):
    found = {(e.importer, e.imported) for e in package_edges}
    assert ("oaedu.maps.components", "oaedu.validate") in found  # from .. import validate
    assert ("oaedu.bench", "oaedu.timing") in found  # from .timing import Case, ...
    assert ("oaedu.utils", "oaedu.config") in found  # inside a function
    assert ("oaedu.utils", "oaedu") in found  # from . import __version__


def test_no_import_runs_up_the_layers(package_edges):
    bad = upward(package_edges)
    assert not bad, "imports that run up the layers:\n" + "\n".join(bad)


def test_no_module_imports_itself_back(package_edges):
    assert cycles(module_graph(package_edges)) == []


def test_no_unit_imports_itself_back(package_edges):
    assert cycles(unit_graph(package_edges)) == []


SYNTHETIC = {
    "pkg": ("from . import low\n__version__ = '1'", True),
    "pkg.low": ("from . import __version__\n\ndef f():\n    from .high import thing\n", False),  # up, lazily
    "pkg.high": ("import pkg.low\n", False),
    "pkg.papers": ("from .a import f", True),
    "pkg.papers.a": ("from . import b\nfrom .. import low", False),  # a → b → a: a cycle inside a unit
    "pkg.papers.b": ("from .a import f\nfrom ..other import g", False),  # across an independent layer
    "pkg.other": ("from .low import x", False),
}
SYNTHETIC_LAYERS = (
    ("floor", frozenset({"low"})),
    ("papers", frozenset({"papers", "other"})),
    ("top", frozenset({"high"})),
)


def test_the_analysis_fails_on_an_upward_import_and_a_cycle():
    found = edges(SYNTHETIC, root="pkg")
    assert {(e.importer, e.imported) for e in found} == {
        ("pkg", "pkg.low"),
        ("pkg.low", "pkg"),
        ("pkg.low", "pkg.high"),
        ("pkg.high", "pkg.low"),
        ("pkg.papers", "pkg.papers.a"),
        ("pkg.papers.a", "pkg.papers.b"),
        ("pkg.papers.a", "pkg.low"),
        ("pkg.papers.b", "pkg.papers.a"),
        ("pkg.papers.b", "pkg.other"),
        ("pkg.other", "pkg.low"),
    }
    bad = upward(found, SYNTHETIC_LAYERS, frozenset({"papers"}), root="pkg")
    assert len(bad) == 2, bad
    assert bad[0].startswith("pkg.low:4 imports pkg.high: top lies above floor"), bad
    assert bad[1].startswith("pkg.papers.b:2 imports pkg.other: the papers never"), bad
    # the root reads __version__ from nowhere else, so reading it is no cycle; low ↔ high and a ↔ b are
    assert cycles(module_graph(found, root="pkg")) == [["pkg.high", "pkg.low"], ["pkg.papers.a", "pkg.papers.b"]]
    assert cycles(unit_graph(found, root="pkg")) == [["high", "low"]]
    assert cycles({"a": {"a"}}) == [["a"]]  # a module that imports itself
    bad_root = [Edge("pkg.low", "pkg", ("low",), 1)]
    assert "may come from the root" in upward(bad_root, SYNTHETIC_LAYERS, root="pkg")[0]
