"""The small general plots that notebooks use instead of building figures by hand (oaedu.plotting)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from oaedu.notebook import show_source  # noqa: E402
from oaedu.plotting import PALETTE, plot_bars, plot_curves, plot_maps  # noqa: E402


def test_plot_maps_draws_one_panel_per_map_with_its_title_and_range():
    s, b = torch.arange(16.0).view(4, 4), torch.zeros(3, 5)
    fig = plot_maps({"scores": s, "blobs": b})
    assert [ax.get_title() for ax in fig.axes] == ["scores", "blobs"]
    assert fig.axes[0].get_images()[0].get_clim() == (0.0, 15.0) and not fig.axes[0].axison
    plt.close(fig)
    fig = plot_maps({"cos": s}, vmin=-1.0, vmax=1.0, xlabel="j", ylabel="i")  # a matrix keeps its axes
    ax = fig.axes[0]
    assert ax.axison and ax.get_xlabel() == "j" and ax.get_images()[0].get_clim() == (-1.0, 1.0)
    plt.close(fig)
    with pytest.raises(ValueError, match="maps"):
        plot_maps({})
    with pytest.raises(ValueError, match="scores"):
        plot_maps({"scores": torch.rand(2, 4, 4)})


def test_plot_bars_draws_values_errors_and_a_reference_line():
    fig = plot_bars(
        {"baseline": 1.0, "OAMixer with labels": 1.5},
        {"baseline": 0.0, "OAMixer with labels": 0.2},
        reference=1.0,
        label="cost",
        colors=[PALETTE[0], PALETTE[2]],
    )
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [1.0, 1.5] and ax.get_ylabel() == "cost"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", "OAMixer with labels"]
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in ax.get_lines())  # the reference
    plt.close(fig)
    fig = plot_bars({"co-occurrence 0.9\nMoCo": 1.0, "long name, one line": 2.0})  # tilted only when a line is long
    assert fig.axes[0].get_xticklabels()[0].get_rotation() == 20.0
    plt.close(fig)
    fig = plot_bars({"cooc 0.9\nMoCo": 1.0, "cooc 0.0\nMoCo": 2.0})
    assert fig.axes[0].get_xticklabels()[0].get_rotation() == 0.0
    plt.close(fig)
    fig = plot_bars({"a": 2.0, "b": 3.0}, horizontal=True)
    assert [p.get_width() for p in fig.axes[0].patches] == [2.0, 3.0]
    plt.close(fig)
    with pytest.raises(ValueError, match="errors"):
        plot_bars({"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError, match="colors"):
        plot_bars({"a": 1.0, "b": 2.0}, colors=["C0"])


def test_plot_curves_keeps_a_series_colour_across_panels_and_one_legend():
    fig = plot_curves(
        {"L^G": {"slot": [3.0, 2.0, 1.0], "cross": [3.0, 2.5, 2.0]}, "L^O": {"cross": [1.0, 0.5, 0.2]}},
        references={"L^O": 0.0},
        xlabel="step",
    )
    left, right = fig.axes
    assert left.get_title() == "L^G" and left.get_xlabel() == "step"
    cross_left = next(line for line in left.get_lines() if line.get_label() == "cross")
    cross_right = next(line for line in right.get_lines() if line.get_label() == "cross")
    assert cross_left.get_color() == cross_right.get_color() == PALETTE[1]
    assert len(fig.legends) == 1 and [t.get_text() for t in fig.legends[0].get_texts()] == ["slot", "cross"]
    plt.close(fig)
    fig = plot_curves({"κ": {"vit": [0.1, 0.3]}}, x=[1, 2], markers=True)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [1, 2]
    plt.close(fig)
    with pytest.raises(ValueError, match="one per x"):
        plot_curves({"κ": {"vit": [0.1, 0.3, 0.2]}}, x=[1, 2])
    with pytest.raises(ValueError, match="references"):
        plot_curves({"κ": {"vit": [0.1]}}, references={"other": 0.0})


def test_show_source_prints_the_code_outside_jupyter(capsys):
    show_source(plot_bars)
    out = capsys.readouterr().out
    assert out.startswith("def plot_bars(") and "ax.bar(" in out
    with pytest.raises(TypeError, match="obj"):
        show_source(42)
