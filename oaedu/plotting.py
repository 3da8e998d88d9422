"""One figure style for the whole course, and the plots every notebook needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from . import validate
from .data.background_challenge import VARIANTS
from .stats import mean_std
from .tables import text_table

STYLE = {
    "figure.dpi": 100,
    "figure.figsize": (6.4, 4.0),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "font.size": 10,
}
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def use_style() -> None:
    """Apply the course's matplotlib style."""
    plt.rcParams.update(STYLE)
    plt.rcParams["axes.prop_cycle"] = plt.cycler(color=PALETTE)


def _to_hwc(image: torch.Tensor):
    image = image.detach().cpu().float()
    return image.permute(1, 2, 0).clamp(0, 1).numpy() if image.ndim == 3 else image.numpy()


def _outline(ax, mask: torch.Tensor) -> None:
    ax.contour(mask.detach().cpu().float().numpy(), levels=[0.5], colors="white", linewidths=0.8)


def _upsample(heatmap: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    heat = heatmap.detach().cpu().float()[None, None]
    return torch.nn.functional.interpolate(heat, size=tuple(size), mode="nearest")[0, 0]


def _check_batch(images: torch.Tensor, titles: Sequence[str] | None = None, **per_image: torch.Tensor | None) -> int:
    """``images`` is a non-empty batch; every other tensor and the titles have one entry per image."""
    validate.tensor(images, "images", ndim=(3, 4), min_batch=1)
    b = images.shape[0]
    for name, t in per_image.items():
        if t is not None:
            validate.tensor(t, name, ndim=3)
            validate.same_batch(images=images, **{name: t})
    if titles is not None and len(titles) != b:
        raise ValueError(f"titles must hold one title per image ({b}), got {len(titles)}")
    return b


def _check_map(m: torch.Tensor, name: str) -> None:
    if not validate.tensor(m, name, ndim=2).numel():
        raise ValueError(f"{name} must be a non-empty (h, w) map, got shape {tuple(m.shape)}")


def show_images(
    images: torch.Tensor,
    masks: torch.Tensor | None = None,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.4,
):
    """Show a batch ``(B,3,H,W)``; with ``masks (B,H,W)``, outline each mask in white. Returns the figure."""
    b = _check_batch(images, titles, masks=masks)
    if masks is not None:
        validate.binary_map(masks, "masks")
        if masks.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"masks must be (B, H, W) with the images' H, W, got {tuple(masks.shape)}")
    ncols = min(validate.integer(ncols, "ncols", low=1), b)
    validate.positive(size, "size")
    nrows = -(-b // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.2 * bool(titles)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= b:
            continue
        ax.imshow(_to_hwc(images[i]))
        if masks is not None:
            _outline(ax, masks[i])
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def overlay(ax, image: torch.Tensor, heatmap: torch.Tensor, alpha: float = 0.45, title: str | None = None) -> None:
    """Draw ``heatmap (h,w)`` upsampled over ``image (3,H,W)`` on ``ax``."""
    validate.tensor(image, "image", ndim=(2, 3))
    _check_map(heatmap, "heatmap")
    validate.probability(alpha, "alpha")
    ax.imshow(_to_hwc(image))
    ax.imshow(_upsample(heatmap, image.shape[-2:]).numpy(), alpha=alpha, cmap="inferno")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)


def show_heatmaps(
    images: torch.Tensor, heatmaps: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 8, size: float = 1.4
):
    """Overlay one heatmap ``(B,h,w)`` on each image ``(B,3,H,W)``. Returns the figure."""
    b = _check_batch(images, titles, heatmaps=heatmaps)
    ncols = min(validate.integer(ncols, "ncols", low=1), b)
    nrows = -(-b // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < b:
            overlay(ax, images[i], heatmaps[i], title=titles[i] if titles else None)
    fig.tight_layout()
    return fig


def _check_range(vmin: float | None, vmax: float | None) -> None:
    lo = None if vmin is None else validate.number(vmin, "vmin")
    hi = None if vmax is None else validate.number(vmax, "vmax")
    if lo is not None and hi is not None and not lo < hi:
        raise ValueError(f"vmin must be below vmax, got vmin={lo:g}, vmax={hi:g}")


def heatmap(
    ax,
    heatmap: torch.Tensor,
    outline: torch.Tensor | None = None,
    title: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> None:
    """Draw ``heatmap (h,w)`` on its own (inferno, colours scaled to this map's range unless ``vmin``/``vmax`` fix
    them); with a mask ``outline (H,W)``, upsampled to the mask's size with the mask outlined in white. Easier to
    read than :func:`overlay` on busy images."""
    _check_map(heatmap, "heatmap")
    if outline is not None:
        _check_map(outline, "outline")
        validate.binary_map(outline, "outline")
    _check_range(vmin, vmax)
    heat = heatmap if outline is None else _upsample(heatmap, outline.shape[-2:])
    ax.imshow(heat.detach().cpu().float().numpy(), cmap="inferno", vmin=vmin, vmax=vmax)
    if outline is not None:
        _outline(ax, outline)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)


def show_maps(
    images: torch.Tensor,
    masks: torch.Tensor,
    maps: Mapping[str, torch.Tensor],
    titles: Sequence[str] | None = None,
    size: float = 1.4,
    vmin: float | None = None,
    vmax: float | None = None,
):
    """Images ``(B,3,H,W)`` with their masks ``(B,H,W)`` outlined in the top row, then one row of heatmaps per
    entry of ``maps`` (name → ``(B,h,w)``), each with the same outline (colour range: see :func:`heatmap`).
    Returns the figure."""
    b = _check_batch(images, titles)
    validate.binary_map(masks, "masks")
    validate.positive(size, "size")
    _check_range(vmin, vmax)
    if masks.shape != (b, *images.shape[-2:]):
        raise ValueError(f"masks must be (B, H, W) = {(b, *images.shape[-2:])}, got {tuple(masks.shape)}")
    bad = {name: tuple(m.shape) for name, m in maps.items() if m.ndim != 3 or m.shape[0] != b}
    if bad:
        raise ValueError(f"every map must be (B={b}, h, w); got {bad}")
    fig, axes = plt.subplots(1 + len(maps), b, figsize=(size * b, size * (1 + len(maps)) + 0.2), squeeze=False)
    for i in range(b):
        axes[0, i].imshow(_to_hwc(images[i]))
        _outline(axes[0, i], masks[i])
        axes[0, i].axis("off")
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=8)
        for row, (name, m) in enumerate(maps.items(), start=1):
            heatmap(axes[row, i], m[i], masks[i], title=name if i == 0 else None, vmin=vmin, vmax=vmax)
    fig.tight_layout()
    return fig


def show_slot_maps(
    rows: Mapping[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    titles: Mapping[str, Sequence[str]] | None = None,
    size: float = 1.3,
):
    """One row per entry ``name → (image (3,H,W), mask (H,W), maps (K,h,w))``: the image with its mask outlined, then
    each of the K maps (e.g. one per slot) as a heatmap beside it, upsampled, with the same outline and one colour
    scale per row (0 to the row's largest value). ``titles[name]`` labels that row's maps (default ``slot k``).
    Returns the figure."""
    for name, (image, mask, maps) in rows.items():
        if image.ndim != 3 or mask.shape != image.shape[-2:] or maps.ndim != 3:
            raise ValueError(
                f"row {name!r} must be (image (3,H,W), mask (H,W), maps (K,h,w)), got "
                f"{tuple(image.shape)}, {tuple(mask.shape)}, {tuple(maps.shape)}"
            )
    ncols = 1 + max(maps.shape[0] for _, _, maps in rows.values())
    fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols, size * len(rows) + 0.3), squeeze=False)
    for ax_row, (name, (image, mask, maps)) in zip(axes, rows.items(), strict=True):
        ax_row[0].imshow(_to_hwc(image))
        _outline(ax_row[0], mask)
        ax_row[0].set_title(name, fontsize=8)
        top = float(maps.max()) or 1.0
        labels = titles.get(name) if titles else None
        for k, ax in enumerate(ax_row[1:]):
            ax.axis("off")
            if k >= maps.shape[0]:
                continue
            ax.imshow(_upsample(maps[k], image.shape[-2:]).numpy(), cmap="inferno", vmin=0.0, vmax=top)
            _outline(ax, mask)
            ax.set_title(labels[k] if labels else f"slot {k}", fontsize=8)
        ax_row[0].axis("off")
    fig.tight_layout()
    return fig


def format_table(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str] | None = None, digits: int = 1) -> str:
    """A plain-text table of ``{row: {column: value}}``; columns default to the first row's keys. A NaN value marks a
    cell that does not apply (it prints as ``nan``)."""
    if not rows:
        raise ValueError("format_table needs at least one row (rows is empty)")
    validate.integer(digits, "digits", low=0, high=20)
    columns = list(columns or next(iter(rows.values())).keys())
    for name, values in rows.items():
        missing = [c for c in columns if c not in values]
        if missing:
            raise ValueError(f"rows[{name!r}] lacks columns {missing}")
        for c in columns:
            validate.number(values[c], f"rows[{name!r}][{c!r}]", allow_inf=True, allow_nan=True)  # NaN: n/a
    cells = {name: [f"{values[c]:.{digits}f}" for c in columns] for name, values in rows.items()}
    return text_table(cells, [max(len(c), digits + 5) for c in columns], header=columns)


def plot_sweep(
    runs: Mapping[object, Sequence[Mapping[str, float]]], keys: Sequence[str], xlabel: str = "", size: float = 3.0
):
    """One panel per metric in ``keys``: mean ± one standard deviation over seeds for each setting of a sweep
    (``{setting: [result of each seed]}``), the settings in order along the x axis. Returns the figure."""
    if not runs or any(len(r) == 0 for r in runs.values()):
        raise ValueError("plot_sweep needs at least one result for every setting")
    if isinstance(keys, str) or not keys:
        raise ValueError(f"keys must be a non-empty sequence of metric names, got {keys!r}")
    missing = sorted({str(k) for r in runs.values() for result in r for k in keys if k not in result})
    if missing:
        raise ValueError(f"plot_sweep: metric(s) {missing} missing from some results")
    settings = list(runs)
    fig, axes = plt.subplots(1, len(keys), figsize=(size * len(keys), size * 0.85), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        means, stds = zip(*(mean_std([r[key] for r in runs[s]]) for s in settings), strict=True)
        ax.errorbar(range(len(settings)), means, yerr=stds, marker="o", capsize=3)
        ax.set_xticks(range(len(settings)), [str(s) for s in settings])
        ax.set_xlabel(xlabel)
        ax.set_title(key)
    fig.tight_layout()
    return fig


def plot_background_challenge(results: Mapping[str, Mapping[str, float]], title: str = "Background Challenge"):
    """Grouped bars of the eight variant accuracies, one colour per model. Returns the figure."""
    if not results:
        raise ValueError("results is empty: pass {model name: evaluate_background_challenge(...)}")
    for name, row in results.items():
        validate.accuracy_row(row, f"results[{name!r}]", (*VARIANTS, "bg_gap"))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    names = list(results)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(VARIANTS))]
        ax.bar(xs, [results[name][v] for v in VARIANTS], width, label=f"{name} (BG-Gap {results[name]['bg_gap']:.1f})")
    ax.set_xticks(range(len(VARIANTS)), [v.replace("_", "-") for v in VARIANTS], rotation=20)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    # below the axes: the bars reach 100%, a legend inside would cover them
    ax.legend(fontsize=8, ncols=min(len(names), 3), loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    return fig


def _bar_ticks(ax, where: Sequence[float], names: Sequence[str]) -> None:
    """Bar names under the bars, tilted when one is long enough to run into its neighbour."""
    long = max(len(line) for n in names for line in n.splitlines() or [""]) > 10
    ax.set_xticks(where, names, rotation=20 if long else 0, ha="right" if long else "center")


def plot_changes(
    changes: Mapping[str, Mapping[str, Sequence[float]]],
    title: str | None = None,
    ylabel: str = "change (points)",
    size: tuple[float, float] = (3.2, 3.0),
):
    """Paired changes over seeds: one panel per metric, one bar per group (mean ± one standard error) and a
    dot per seed, with a line at zero. ``changes`` is ``{metric: {group: [change of each seed]}}``, e.g.
    ``{"Δ Mixed-Rand": {"vit": [+11, +7, +14], ...}}``. Group names label the x-axis, so no legend is needed.
    Returns the figure."""
    if not changes or any(not groups for groups in changes.values()):
        raise ValueError("changes must map each metric to a non-empty {group: values}")
    fig, axes = plt.subplots(1, len(changes), figsize=(size[0] * len(changes), size[1]), squeeze=False)
    for ax, (metric, groups) in zip(axes[0], changes.items(), strict=True):
        for i, (name, values) in enumerate(groups.items()):
            vals = [float(v) for v in values]
            if not vals:
                raise ValueError(f"{metric} / {name}: no values")
            mean, std = mean_std(vals)
            se = std / len(vals) ** 0.5
            colour = PALETTE[i % len(PALETTE)]
            ax.bar(i, mean, 0.6, color=colour, alpha=0.35, yerr=se, capsize=4, ecolor=colour)
            offsets = [(j - (len(vals) - 1) / 2) * 0.08 for j in range(len(vals))]
            ax.plot([i + o for o in offsets], vals, "o", color=colour, markersize=4)
        ax.axhline(0.0, color="black", linewidth=0.8)
        _bar_ticks(ax, range(len(groups)), list(groups))
        ax.set_title(metric)
        ax.set_ylabel(ylabel)
        ax.margins(y=0.15)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


COURSE = (
    ("02", "OAMixer", "mask token mixing\nby object labels\n(every block)", 2),
    ("03", "Spatial entropy", "CLS attention forms\nfew blobs\n(last block)", 3),
    ("04", "ContraCAM", "CAM → object crop\nand BG mixup\n(data pipeline)", 0),
    ("05", "RobustViT", "relevance lies\non the object\n(finetuning loss)", 4),
    ("06", "Object-centric SSL", "slots compete\nfor patches\n(after the backbone)", 5),
)


def course_map():
    """The five papers in one picture: where each one acts on a patch-based model. Returns the figure."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.set_xlim(0, 6.2)
    ax.set_ylim(0, 3.4)
    ax.axis("off")
    stages = [
        "images\n+ augment",
        "patch\nembedding",
        "mixing blocks\n(attention / MLP / conv)",
        "last block",
        "CLS / pooled\nfeature",
        "slots /\nobjects",
    ]
    for i, label in enumerate(stages):
        ax.add_patch(FancyBboxPatch((i + 0.08, 2.3), 0.84, 0.8, boxstyle="round,pad=0.02", fc="#EEF2F7", ec="#4C72B0"))
        ax.text(i + 0.5, 2.7, label, ha="center", va="center", fontsize=8)
        if i < len(stages) - 1:
            ax.add_patch(FancyArrowPatch((i + 0.92, 2.7), (i + 1.08, 2.7), arrowstyle="->", mutation_scale=10))
    for k, (num, name, what, stage) in enumerate(COURSE):
        colour = PALETTE[k]
        x = stage + 0.5
        y = 1.05 if k % 2 == 0 else 0.35
        ax.text(
            x,
            y,
            f"{num} {name}\n{what}",
            ha="center",
            va="center",
            fontsize=7.5,
            color="black",
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": colour, "lw": 1.5},
        )
        arrow = FancyArrowPatch((x, y + 0.35), (x, 2.28), arrowstyle="->", color=colour, mutation_scale=10, lw=1.5)
        ax.add_patch(arrow)
    ax.set_title("Five object-aware inductive biases, and where each acts on a patch-based model")
    fig.tight_layout()
    return fig


def _check_size(size: tuple[float, float]) -> tuple[float, float]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"size must be (width, height) in inches, got {size!r}")
    return validate.positive(size[0], "size"), validate.positive(size[1], "size")


def plot_maps(
    maps: Mapping[str, torch.Tensor],
    vmin: float | None = None,
    vmax: float | None = None,
    size: float = 3.0,
    xlabel: str = "",
    ylabel: str = "",
):
    """One panel per 2-D map (``{title: (h, w) tensor}``), side by side, each drawn by :func:`heatmap` (inferno,
    scaled to its own range unless ``vmin``/``vmax`` fix one range for all). With ``xlabel`` or ``ylabel`` the axes
    stay visible with their row and column indices, for matrices such as a K×K similarity. Returns the figure.

    Example: ``plot_maps({"scores S": S, "B = ReLU(S − mean)": B})`` shows a map and its thresholded version.
    """
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError(f"maps must be a non-empty {{title: (h, w) tensor}}, got {maps!r}")
    for title, m in maps.items():
        _check_map(m, f"maps[{title!r}]")
    validate.positive(size, "size")
    _check_range(vmin, vmax)
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps), size), squeeze=False)
    for ax, (title, m) in zip(axes[0], maps.items(), strict=True):
        heatmap(ax, m, title=title, vmin=vmin, vmax=vmax)
        if xlabel or ylabel:
            ax.axis("on")
            ax.grid(False)
            ax.set_xticks(range(m.shape[1]))
            ax.set_yticks(range(m.shape[0]))
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def plot_bars(
    values: Mapping[str, float],
    errors: Mapping[str, float] | None = None,
    title: str = "",
    label: str = "",
    reference: float | None = None,
    horizontal: bool = False,
    colors: Sequence[str] | None = None,
    size: tuple[float, float] = (6.0, 3.0),
):
    """One bar per entry of ``values`` (``{name: value}``), in order. ``errors`` (name → half-length, e.g. a standard
    deviation) draws error bars; ``reference`` a line at that value (1 for a ratio, chance for an accuracy);
    ``label`` names the value axis; ``horizontal`` lists the names down the y-axis, first on top (for long names;
    a name may also break its line with ``\\n``);
    ``colors`` gives one colour per bar (default: the course's first colour). Returns the figure.

    Example: ``plot_bars({"baseline": 1.0, "SAR": 1.3}, reference=1.0, label="time per epoch / baseline")``.
    """
    if not isinstance(values, Mapping) or not values:
        raise ValueError(f"values must be a non-empty {{name: number}}, got {values!r}")
    names = [str(n) for n in values]
    heights = [validate.number(v, f"values[{n!r}]") for n, v in values.items()]
    err = None
    if errors is not None:
        missing = [n for n in values if n not in errors]
        if missing:
            raise ValueError(f"errors lacks an entry for {missing}")
        err = [validate.number(errors[n], f"errors[{n!r}]", low=0.0) for n in values]
    if reference is not None:
        validate.number(reference, "reference")
    if colors is not None and (isinstance(colors, str) or len(colors) != len(values)):
        raise ValueError(f"colors must hold one colour per bar ({len(values)}), got {colors!r}")
    fig, ax = plt.subplots(figsize=_check_size(size))
    where = range(len(names))
    color = list(colors) if colors is not None else PALETTE[0]
    if horizontal:
        ax.barh(where, heights, xerr=err, capsize=3, color=color)
        ax.set_yticks(where, names)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        if reference is not None:
            ax.axvline(reference, color="black", linewidth=0.8, linestyle="--")
    else:
        ax.bar(where, heights, yerr=err, capsize=3, color=color)
        _bar_ticks(ax, where, names)
        ax.set_ylabel(label)
        if reference is not None:
            ax.axhline(reference, color="black", linewidth=0.8, linestyle="--")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_curves(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    x: Sequence[float] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    references: Mapping[str, float] | None = None,
    markers: bool = False,
    size: tuple[float, float] = (4.0, 3.0),
):
    """Curves in panels: ``{panel title: {series name: values}}``, one line per series, and a series keeps its colour
    in every panel. ``x`` is shared by every series (default 0, 1, 2, … per series; integer ticks when the x values
    are integers); ``references`` draws a dotted line per panel (title → y, e.g. a loss at chance); ``markers`` marks
    each point (for short curves). One legend, beside the panels, so that it never covers a point. Returns the figure.

    Example: ``plot_curves({"loss": {"slot": [2.1, 1.4, 0.9], "cross": [2.1, 1.8, 1.6]}}, xlabel="step")``.
    """
    if (
        not isinstance(panels, Mapping)
        or not panels
        or any(not isinstance(s, Mapping) or not s for s in panels.values())
    ):
        raise ValueError("panels must map each panel title to a non-empty {series name: values}")
    xs = None if x is None else [validate.number(v, "x") for v in x]
    for title, series in panels.items():
        for name, ys in series.items():
            if len(ys) == 0 or (xs is not None and len(ys) != len(xs)):
                want = f"{len(xs)} values (one per x)" if xs is not None else "at least one value"
                raise ValueError(f"panels[{title!r}][{name!r}] must hold {want}, got {len(ys)}")
    refs = dict(references or {})
    unknown = [t for t in refs if t not in panels]
    if unknown:
        raise ValueError(f"references names panels that do not exist: {unknown}")
    for title, y in refs.items():
        validate.number(y, f"references[{title!r}]")
    width, height = _check_size(size)
    order = list(dict.fromkeys(name for series in panels.values() for name in series))
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(order)}
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items(), strict=True):
        for name, ys in series.items():
            ys = [float(v) for v in ys]
            ax.plot(
                xs if xs is not None else range(len(ys)),
                ys,
                marker="o" if markers else None,
                color=colour[name],
                label=name,
                linewidth=1.2,
            )
        if title in refs:
            ax.axhline(refs[title], color="black", linewidth=0.8, linestyle=":")
        if xs is None or all(float(v).is_integer() for v in xs):
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    handles = {name: h for ax in axes[0] for h, name in zip(*ax.get_legend_handles_labels(), strict=True)}
    fig.tight_layout()
    fig.legend(handles.values(), handles.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    return fig
