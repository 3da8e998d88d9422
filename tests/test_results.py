"""oaedu.results.Runs: the tidy table, mean ± SE, paired effects and RESULTS, against numbers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from oaedu.results import Runs

TREATED = [71.0, 74.0, 70.0]
CONTROL = [69.0, 70.0, 70.0]


def _runs() -> Runs:
    runs = Runs()
    for seed, (t, c) in enumerate(zip(TREATED, CONTROL, strict=True)):
        runs.add("OAMixer", seed, {"accuracy": t, "bg_gap": 10.0 + seed})
        runs.add("uniform", seed, {"accuracy": c, "bg_gap": 12.0})
    return runs


def test_the_frame_is_tidy_and_the_table_has_one_row_per_run():
    runs = _runs()
    frame = runs.frame
    assert list(frame.columns) == ["arm", "seed", "metric", "value"] and len(frame) == 12 == len(runs)
    table = runs.table()
    assert list(table.columns) == ["accuracy", "bg_gap"]
    assert table.loc[("OAMixer", 1), "accuracy"] == 74.0 and table.loc[("uniform", 2), "bg_gap"] == 12.0
    assert table.shape == (6, 2) and runs.arms == ["OAMixer", "uniform"]
    assert "<table" in runs._repr_html_()


def test_mean_and_se_match_numpy():
    runs = _runs()
    mean, se = runs.mean_spread("OAMixer", "accuracy")
    assert mean == pytest.approx(np.mean(TREATED)) and se == pytest.approx(np.std(TREATED, ddof=1) / math.sqrt(3))
    assert runs.mean_spread("OAMixer", "accuracy", "std")[1] == pytest.approx(np.std(TREATED, ddof=1))
    summary = runs.summary()
    assert summary.loc["uniform", ("accuracy", "mean")] == pytest.approx(np.mean(CONTROL))
    assert summary.loc["uniform", ("bg_gap", "se")] == 0.0 and summary.loc["OAMixer", ("accuracy", "n")] == 3
    one = Runs().add("a", 0, {"x": 1.0})
    assert one.mean_spread("a", "x") == (1.0, math.inf) and one.mean_spread("a", "x", "std") == (1.0, 0.0)


def test_the_effect_is_paired_by_seed():
    runs = _runs()
    d = np.subtract(TREATED, CONTROL)  # 2, 4, 0
    e = runs.effect("OAMixer", "uniform", "accuracy")
    assert e.difference == pytest.approx(2.0) and e.se == pytest.approx(np.std(d, ddof=1) / math.sqrt(3))
    assert e.n == 3 and e.differences == pytest.approx(tuple(d))
    # seeds added out of order are still paired by seed, not by insertion order
    shuffled = Runs()
    for seed in (2, 0, 1):
        shuffled.add("OAMixer", seed, {"accuracy": TREATED[seed]})
    for seed in (0, 1, 2):
        shuffled.add("uniform", seed, {"accuracy": CONTROL[seed]})
    assert shuffled.effect("OAMixer", "uniform", "accuracy").differences == pytest.approx(tuple(d))
    assert set(runs.effects("uniform", "accuracy")) == {"OAMixer"}


def test_record_fills_results_with_finite_leaves():
    results = _runs().record({}, control="uniform")
    acc = results["OAMixer"]["accuracy"]
    assert acc["n"] == 3 and acc["mean"] == pytest.approx(np.mean(TREATED))
    assert results["OAMixer"]["vs uniform"]["accuracy"]["difference"] == pytest.approx(2.0)
    assert "vs uniform" not in results["uniform"]
    single = Runs().add("a", 0, {"x": 1.0}).record({})
    assert single == {"a": {"x": {"mean": 1.0, "se": None, "n": 1}}}


def test_means_are_plain_floats_in_the_layout_of_results():
    from oaedu.stats import mean_std

    runs = _runs()
    means = runs.means()
    assert means == {
        "OAMixer": {"accuracy": mean_std(TREATED)[0], "bg_gap": 11.0},
        "uniform": {"accuracy": mean_std(CONTROL)[0], "bg_gap": 12.0},
    }
    assert all(type(v) is float for row in means.values() for v in row.values())
    std = runs.means("std", metrics=["accuracy"])
    assert list(std["OAMixer"]) == ["accuracy", "accuracy ±"] and std["OAMixer"]["accuracy ±"] == mean_std(TREATED)[1]
    se = runs.means("se", spread_keys={"bg_gap": "± gap"})
    assert list(se["uniform"]) == ["accuracy", "bg_gap", "± gap"] and se["uniform"]["± gap"] == 0.0
    assert se["OAMixer"]["± gap"] == runs.mean_spread("OAMixer", "bg_gap")[1]
    partial = Runs().add("a", 0, {"x": 1.0, "y": 2.0}).add("b", 0, {"x": 3.0})
    assert partial.means() == {"a": {"x": 1.0, "y": 2.0}, "b": {"x": 3.0}}  # an arm without a metric leaves it out


def test_per_seed_and_from_per_seed_are_inverse_and_keep_every_float():
    rng = np.random.default_rng(1)
    per_seed = {arm: [{"a": float(rng.normal()), "b": float(rng.normal())} for _ in range(3)] for arm in ("x", "y")}
    runs = Runs.from_per_seed(per_seed, seeds=range(5, 8))
    assert runs.seeds("y", "b") == [5, 6, 7] and runs.per_seed() == per_seed
    assert [list(r) for r in runs.per_seed()["x"]] == [["a", "b"]] * 3  # metrics in the order they were added
    shuffled = Runs()
    for seed in (2, 0, 1):
        shuffled.add("arm", seed, {"v": float(seed)})
    assert shuffled.per_seed() == {"arm": [{"v": 0.0}, {"v": 1.0}, {"v": 2.0}]}  # ascending seeds


def test_scaled_runs_give_the_statistics_of_the_scaled_numbers_bit_for_bit():
    from oaedu.stats import mean_std

    rng = np.random.default_rng(2)
    values = [float(v) for v in rng.uniform(0, 1, 7)]
    runs = Runs()
    for seed, v in enumerate(values):
        runs.add("arm", seed, {"miou": v})
    pct = runs.scaled(100.0)
    assert pct.means("std")["arm"] == dict(zip(["miou", "miou ±"], mean_std([100.0 * v for v in values]), strict=True))
    assert runs.values("arm", "miou") == values  # the original is unchanged


def test_new_methods_name_bad_input():
    runs = _runs()
    with pytest.raises(ValueError, match="never added"):
        runs.means(metrics=["loss"])
    with pytest.raises(TypeError, match="metrics"):
        runs.means(metrics="accuracy")
    with pytest.raises(ValueError, match="spread"):
        runs.means("var")
    with pytest.raises(ValueError, match="needs a spread"):
        runs.means(spread_keys={"accuracy": "±"})
    with pytest.raises(ValueError, match="spread_keys"):
        runs.means("se", spread_keys={"loss": "±"})
    with pytest.raises(TypeError, match="spread_keys"):
        runs.means("se", spread_keys={"accuracy": 1})
    with pytest.raises(ValueError, match="2 results for 3 seeds"):
        Runs.from_per_seed({"a": [{"x": 1.0}, {"x": 2.0}]}, seeds=[0, 1, 2])
    with pytest.raises(TypeError, match="per_seed"):
        Runs.from_per_seed({}, seeds=[0])
    with pytest.raises(TypeError, match="list of"):
        Runs.from_per_seed({"a": {"x": 1.0}}, seeds=[0])
    with pytest.raises(TypeError, match="seeds"):
        Runs.from_per_seed({"a": [{"x": 1.0}]}, seeds=0)
    with pytest.raises(ValueError, match="factor"):
        runs.scaled(float("inf"))


def test_summarise_of_the_leaderboard_is_unchanged_by_runs():
    from oaedu.leaderboard import METRICS, Entry, summarise
    from oaedu.stats import mean_std

    rng = np.random.default_rng(0)
    results = {
        m: [Entry({k: float(rng.uniform(0, 100)) for k in METRICS}, float(rng.uniform(1, 2))) for _ in range(3)]
        for m in ("baseline", "SAR")
    }
    table = summarise(results)
    for method, entries in results.items():  # the old computation, inline
        for metric in METRICS:
            assert (table[method][metric], table[method][f"{metric}_std"]) == mean_std(
                [e.accuracy[metric] for e in entries]
            )
        cost = float(np.mean([e.seconds_per_epoch for e in entries])) / float(
            np.mean([e.seconds_per_epoch for e in results["baseline"]])
        )
        assert table[method]["cost"] == pytest.approx(cost, rel=1e-15)


def test_bad_input_is_named():
    runs = _runs()
    with pytest.raises(ValueError, match="already has a value"):
        runs.add("OAMixer", 0, {"accuracy": 1.0})
    with pytest.raises(ValueError, match="accuracy"):
        Runs().add("a", 0, {"accuracy": float("nan")})
    with pytest.raises(TypeError, match="arm"):
        Runs().add("", 0, {"x": 1.0})
    with pytest.raises(TypeError, match="seed"):
        Runs().add("a", 1.5, {"x": 1.0})
    with pytest.raises(TypeError, match="values"):
        Runs().add("a", 0, {})
    with pytest.raises(ValueError, match="no values"):
        runs.values("nobody", "accuracy")
    with pytest.raises(ValueError, match="spread"):
        runs.summary("var")
    partial = Runs().add("a", 0, {"x": 1.0}).add("a", 1, {"x": 2.0}).add("b", 0, {"x": 1.0})
    with pytest.raises(ValueError, match="same seeds"):
        partial.effect("a", "b", "x")
    with pytest.raises(ValueError, match="control"):
        runs.record({}, control="nobody")
    with pytest.raises(ValueError, match="never added"):
        runs.record({}, metrics=["loss"])
    with pytest.raises(TypeError, match="results"):
        runs.record([])
    assert isinstance(runs.summary("std"), pd.DataFrame)
