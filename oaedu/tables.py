"""Plain-text tables: one layout for every table the course prints (results, leaderboard, reproduce summaries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import validate


def text_table(
    rows: Mapping[str, Sequence[str]],
    widths: Sequence[int],
    header: Sequence[str] | None = None,
    label_width: int | None = None,
    sep: str = " ",
    indent: str = "",
) -> str:
    """Lay out formatted cells: one line per row, ``indent``, the row's label left-aligned in ``label_width``
    characters (default: the longest label + 2), then its cells right-aligned in ``widths`` and joined by ``sep``.
    ``header`` (one name per cell) adds a first line with an empty label. A cell or label longer than its width
    is not cut."""
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError(f"rows must be a non-empty dict {{label: cells}}, got {validate.describe(rows)}")
    if isinstance(widths, str) or not isinstance(widths, Sequence):
        raise TypeError(f"widths must be a sequence of ints, one per cell, got {validate.describe(widths)}")
    widths = [validate.integer(w, f"widths[{i}]", low=0, high=10_000) for i, w in enumerate(widths)]
    if label_width is not None:
        label_width = validate.integer(label_width, "label_width", low=0, high=10_000)
    for name, value in (("sep", sep), ("indent", indent)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {validate.describe(value)}")
    bad = [k for k in rows if not isinstance(k, str)]
    if bad:
        raise TypeError(f"rows must be labelled by str, got labels {bad}")
    parts = [*(() if header is None else [("header", header)]), *((f"rows[{k!r}]", c) for k, c in rows.items())]
    for name, cells in parts:
        if isinstance(cells, str) or not all(isinstance(c, str) for c in cells):
            raise TypeError(f"{name} must be a sequence of formatted cells (str), got {validate.describe(cells)}")
        if len(cells) != len(widths):
            raise ValueError(f"{name} has {len(cells)} cells for {len(widths)} widths")
    width = label_width if label_width is not None else max(len(r) for r in rows) + 2
    lines = [] if header is None else [("", header)]
    lines += rows.items()
    return "\n".join(
        indent + label.ljust(width) + sep.join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
        for label, cells in lines
    )
