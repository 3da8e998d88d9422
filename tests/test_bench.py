import time

import pytest
import torch

from oaedu import bench


def test_time_fn_measures_milliseconds():
    assert bench.time_fn(lambda: time.sleep(0.01), repeats=3) >= 9.0


def test_time_together_keeps_each_callable_apart():
    fast, slow = bench.time_together([lambda: time.sleep(0.001), lambda: time.sleep(0.01)], repeats=3)
    assert slow >= 9.0 and fast < slow


def test_discovery_finds_subpackage_benchmarks_and_every_case_states_a_goal():
    cases = bench.discover(quick=True)
    assert any(c.name.startswith("ARI") for c in cases)
    no_goal = [c.name for c in cases if c.min_vs_reference is None and c.min_vs_peer is None]
    assert not no_goal, f"bench rows without a goal: {no_goal}"
    for c in cases:  # a goal needs the column it is about
        assert c.min_vs_reference is None or c.reference is not None, c.name
        assert c.min_vs_peer is None or c.peer is not None, c.name


def test_main_prints_ratios_and_writes_markdown(tmp_path, capsys):
    out = tmp_path / "bench.md"
    threads = torch.get_num_threads()
    rows = bench.main(["--quick", "--only", "ARI", "--markdown", str(out)])
    assert torch.get_num_threads() == threads  # restored
    assert rows and all(r.fast_ms > 0 for r in rows)
    assert rows[0].speedup_vs_reference == rows[0].reference_ms / rows[0].fast_ms
    printed = capsys.readouterr().out
    assert "ref/fast" in printed and "×" in printed and "1 threads" in printed and "CPU time" in printed
    text = out.read_text()
    assert text.count("| ARI") == 1 and "goal: ref/fast ≥" in text and "GPU column" in text


def _row(name="r", fast=1.0, ref=None, peer=None, min_ref=None, min_peer=None):
    return bench.Row(name, fast, ref, peer, "peer" if peer else "", "", min_ref, min_peer)


def test_row_goals_and_shortfalls():
    row = _row(fast=2.0, ref=30.0, peer=2.4, min_ref=10.0, min_peer=1 / 1.3)
    assert row.goal_text == "goal: ref/fast ≥ 10×, peer/fast ≥ 0.769×"
    assert row.shortfalls() == []
    slow = _row(fast=2.0, ref=19.0, peer=3.0, min_ref=10.0, min_peer=2.0)
    assert slow.shortfalls() == ["ref/fast = 9.5× < goal 10×", "peer/fast = 1.5× < goal 2×"]
    assert slow.shortfalls(noise=0.10) == ["peer/fast = 1.5× < goal 2×"]  # 9.5 is within 10 % of 10
    assert _row().goal_text == "" and _row().shortfalls() == []
    assert _row(min_peer=1.0).shortfalls() == ["peer/fast has no measurement (goal ≥ 1×)"]


def test_check_remeasures_a_miss_and_fails_only_when_it_persists():
    calls = []

    def remeasure_to(*speedups):
        values = iter(speedups)

        def remeasure(row):
            calls.append(row.name)
            return _row(row.name, fast=1.0, ref=next(values), min_ref=row.min_vs_reference)

        return remeasure

    good, noisy = _row("good", ref=5.0, min_ref=2.0), _row("noisy", ref=1.0, min_ref=2.0)
    bad = _row("bad", ref=1.0, min_ref=2.0)
    rows, failures = bench.check([good, noisy], remeasure_to(2.5), retries=2)
    assert failures == [] and calls == ["noisy"]  # the good row is not re-measured
    assert rows[0] is good and rows[1].speedup_vs_reference == 2.5 and rows[1].runs == 2
    calls.clear()
    rows, failures = bench.check([bad], remeasure_to(1.1, 1.2), retries=2)
    assert calls == ["bad", "bad"] and rows[0].runs == 3
    assert failures == ["bad (3 runs): ref/fast = 1.2× < goal 2×"]
    rows, failures = bench.check([bad], remeasure_to(1.85), retries=1)  # 1.85 is within 10 % noise of 2
    assert failures == [] and rows[0].runs == 2


def test_check_flag_exits_non_zero_when_a_goal_is_missed(monkeypatch, capsys):
    busy = lambda: sum(range(200_000))  # CPU time: one thread, so the bench times the process's CPU
    slow = bench.Case("always slow", fast=busy, reference=lambda: None, min_vs_reference=1.0)
    monkeypatch.setattr(bench, "_modules", lambda: [type("M", (), {"cases": staticmethod(lambda quick: [slow])})])
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", "--check", "--threads", "1"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "goals missed" in out and "always slow (3 runs)" in out
