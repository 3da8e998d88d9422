"""Every reshape of a tensor in ``oaedu/`` carries a shape comment (nanoGPT's habit, from the code review).

A line that calls ``.view(``, ``.reshape(``, ``.unflatten(``, ``.flatten(``, ``.view_as(`` or ``.reshape_as(`` must
have a comment on that line, or a comment-only line just above it, that gives a shape: a parenthesised tuple of
symbols such as ``(B, N, D)`` / ``(B·K,)`` / ``(...)``, or an arrow ``->``. Excluded, as in the review item:
``oaedu/scale/``, ``exercises.py``, ``bench.py``, every ``twins.py``, and the reshapes of non-tensor data listed in
``NOT_TENSORS`` (numpy buffers read from files).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "oaedu"
RESHAPES = frozenset({"view", "reshape", "unflatten", "flatten", "view_as", "reshape_as"})
EXCLUDED_DIRS = ("scale",)
EXCLUDED_FILES = ("exercises.py", "bench.py", "twins.py")
# (path relative to oaedu/, stripped source line): reshapes of numpy data, not tensors
NOT_TENSORS = {
    ("data/clevr_tfrecord.py", "triples = np.frombuffer(buf, np.uint8).reshape(-1, 3)"),
    ("data/clevr_tfrecord.py", "arrays[key] = value.reshape(shape)"),
}

# one tuple item: a symbol or product of symbols (B, K², 2BK, B·Kt·Kp, H-y0, (H-y0)·W), or an ellipsis
_ITEM = r"(?:[\w'²³·×*+\-/]|\([\w'²³·×*+\-/]+\))+|\.\.\.|…"
_TUPLE = re.compile(rf"(?<![\w\]])\(\s*(?:{_ITEM})\s*(?:,\s*(?:{_ITEM})\s*)*,?\s*\)")


def is_shape_comment(comment: str) -> bool:
    """Whether a comment gives a shape: an arrow, or a tuple of short symbols with a comma or an ellipsis."""
    if "->" in comment:
        return True
    for match in _TUPLE.finditer(comment):
        inner = match.group()[1:-1]
        items = [item.strip() for item in inner.split(",") if item.strip()]
        if ("," in inner or inner.strip() in ("...", "…")) and all(len(item) <= 12 for item in items):
            return True
    return False


def reshape_lines(source: str) -> list[int]:
    """Line numbers of the reshape calls in ``source``, f-string expressions included: the line of the method's name."""
    return sorted(
        {
            node.func.end_lineno
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RESHAPES
        }
    )


def missing_shape_comments(source: str) -> list[int]:
    """Lines of the reshape calls in ``source`` with no shape comment on their line or on a comment line above."""
    comments: dict[int, str] = {}
    code_lines: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string
        elif tok.type not in skip:
            code_lines.update(range(tok.start[0], tok.end[0] + 1))
    missing = []
    for line in reshape_lines(source):
        here = comments.get(line, "")
        above = comments.get(line - 1, "") if line - 1 not in code_lines else ""
        if not (is_shape_comment(here) or is_shape_comment(above)):
            missing.append(line)
    return missing


def _package_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in EXCLUDED_DIRS or rel.name in EXCLUDED_FILES:
            continue
        files.append(path)
    return files


def test_every_reshape_has_a_shape_comment():
    files = _package_files()
    assert len(files) > 20, f"found only {len(files)} files under {PACKAGE}"
    problems = []
    for path in files:
        rel = path.relative_to(PACKAGE).as_posix()
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for line in missing_shape_comments(source):
            if (rel, lines[line - 1].strip()) not in NOT_TENSORS:
                problems.append(f"oaedu/{rel}:{line}: {lines[line - 1].strip()}")
    assert not problems, "reshape without a shape comment:\n" + "\n".join(problems)


def test_not_tensors_entries_still_exist():
    """A stale exemption would hide nothing; keep the list honest."""
    for rel, text in NOT_TENSORS:
        lines = [line.strip() for line in (PACKAGE / rel).read_text(encoding="utf-8").splitlines()]
        assert text in lines, f"oaedu/{rel} no longer has: {text}"


@pytest.mark.parametrize(
    "snippet",
    [
        "y = x.view(b, n, d)\n",
        "y = x.reshape(-1, d)  # flatten the batch\n",
        "y = x.flatten(1)  # (see above)\n",
        "# (B, N, D)\nz = 1\ny = x.unflatten(1, grid)\n",  # the shape comment is not on the line just above
        "y = x.view_as(z)  # (B)\n",
        "y = (\n    x.reshape_as(z)\n)  # (B, N)\n",  # the comment is on another line of the statement
        "raise ValueError(f'got {x.flatten().tolist()}')\n",  # a reshape inside an f-string
        "y = torch.flatten(x, 1)  # GRU(u_i, s_i)\n",  # a call's arguments are not a shape
    ],
)
def test_checker_flags_missing_comments(snippet):
    assert missing_shape_comments(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "y = x.view(b, n, d)  # (B, N, D)\n",
        "y = x.reshape(-1, d)  # (B, N, D) -> (B·N, D)\n",
        "y = x.flatten(1)  # (B, h, w) -> (B, N)\n",
        "# (B, N, D) -> (B, h, w, D)\ny = x.unflatten(1, grid)\n",
        "y = x.view_as(z)  # (...)\n",
        "y = x.flatten()  # (B·K,)\n",
        "y = x.flatten(1)  # (B, (H-y0)·W)\n",
        "# (B, h', w') -> (B, h'·w')\ny = x.flatten(1)\n",
        "f(x.size(), 'a.view(b)')\n",  # no call: a string, and size() is not a reshape
        "y = np.frombuffer(b).reshape\n",  # an attribute, not a call
    ],
)
def test_checker_accepts_shape_comments(snippet):
    assert not missing_shape_comments(snippet), snippet


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("# (B, N, D)", True),
        ("# (M, N): every map", True),
        ("# (B,): left edge", True),
        ("# (B, N) -> (B, h, w)", True),
        ("# float64 (...)", True),
        ("# one map per row (P values)", False),
        ("# S / max|S|: H(c·S) = H(S)", False),
        ("# (conv)", False),
        ("# GRU(u_i, s_i)", False),
        ("", False),
    ],
)
def test_is_shape_comment(comment, expected):
    assert is_shape_comment(comment) is expected
