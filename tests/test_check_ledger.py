"""The checks' ledger: every comparison's margin, and the record mode that measures without stopping."""

import json
import math

import pytest
from scipy import stats

from oaedu import check, reproduce


@pytest.fixture
def ledger(monkeypatch):
    monkeypatch.setattr(check, "LEDGER", [])
    monkeypatch.delenv(check.RECORD_ENV_VAR, raising=False)
    return check.LEDGER


def test_margins_are_in_the_quantitys_units(ledger):
    check.greater("g", 7.0, 5.0, margin=1.0, quiet=True)
    check.less("l", 2.0, 5.0, quiet=True)
    check.between("b", 0.3, 0.0, 1.0, quiet=True)
    check.ratio_at_least("r", 6.0, 2.0, factor=2.0, quiet=True)
    e = check.effect("e", [3.0, 4.0, 5.0], [1.0, 1.0, 1.0], quiet=True)
    assert [(c["name"], c["kind"]) for c in ledger] == [
        ("g", "greater"),
        ("l", "less"),
        ("b", "between"),
        ("r", "ratio_at_least"),
        ("e", "effect"),
    ]
    assert [c["margin"] for c in ledger[:4]] == pytest.approx([1.0, 3.0, 0.3, 1.0])
    assert ledger[4]["margin"] == pytest.approx(e.difference / e.se - 2.0)  # Δ/SE − k
    assert ledger[4]["difference"] == 3.0 and all(c["passed"] for c in ledger)


def test_a_failure_raises_by_default_and_is_recorded_in_record_mode(ledger, monkeypatch, capsys):
    with pytest.raises(check.CheckFailed, match="expected 1 > 2"):
        check.greater("g", 1.0, 2.0)
    assert ledger[-1]["passed"] is False and ledger[-1]["margin"] == -1.0
    monkeypatch.setenv(check.RECORD_ENV_VAR, "record")
    check.less("l", 3.0, 2.0)
    check.effect("down", [1.0, 2.0, 3.0], [1.0, 1.0, 1.0], direction=-1)  # goes up: fails
    check.true("t", False)
    assert "✗ l: expected 3 < 2" in capsys.readouterr().out
    assert [c["passed"] for c in ledger] == [False] * 4
    assert ledger[2]["margin"] < -2.0  # Δ/SE is negative in the claimed direction
    with pytest.raises(check.CheckFailed, match="seeds"):  # too few seeds is never just recorded
        check.effect("two seeds", [1.0, 2.0], [0.0, 0.0])


def test_an_effect_without_spread_has_an_infinite_or_zero_room(ledger):
    check.effect("same gain every seed", [2.0, 2.0, 2.0], [1.0, 1.0, 1.0], quiet=True)
    assert ledger[-1]["margin"] == math.inf
    with pytest.raises(check.CheckFailed):
        check.effect("no gain", [1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert ledger[-1]["margin"] == -2.0


def test_claims_summarise_each_check_over_bases():
    def run(margin, difference, se=1.0, n=4):
        z = difference / se
        return {
            "passed": margin > 0 and z > 2,
            "checks": [
                {"name": "acc", "kind": "greater", "margin": margin, "passed": margin > 0},
                {"name": "acc", "kind": "greater", "margin": 10.0, "passed": True},  # same name, second check
                {"name": "gain", "kind": "effect", "margin": z - 2, "passed": z > 2, "difference": difference,
                 "se": se, "n": n, "k": 2.0, "direction": 1},
                {"name": "ok", "kind": "true", "margin": 1.0, "passed": True},
            ],
        }  # fmt: skip

    rows = reproduce.claims({"toy": {0: run(1.0, 5.0), 100: run(3.0, 3.0), 200: run(-1.0, 1.0)}})
    assert [(r["claim"], r["passed"], r["bases"]) for r in rows] == [("acc", 2, 3), ("acc", 3, 3), ("gain", 2, 3)]
    assert rows[0]["mean"] == pytest.approx(1.0) and rows[0]["room"] == pytest.approx(1.0 / 2.0)  # mean / std
    assert rows[0]["chance"] == pytest.approx(stats.norm.cdf(0.5))
    assert rows[1]["room"] == math.inf and rows[1]["chance"] == 1.0  # a margin that never moved
    # the effect: δ = 3 (mean over bases), σ = SE·√n = 2 per seed, so δ√n/σ = 3 and Δ/SE ~ t(3 df, noncentrality 3)
    assert rows[2]["mean"] == pytest.approx(3.0) and rows[2]["room"] == pytest.approx(3.0)
    assert rows[2]["chance"] == pytest.approx(stats.nct.sf(2.0, 3, 3.0))
    table = reproduce.format_claims({"toy": {0: run(1.0, 5.0)}})
    assert "| toy | gain | 1/1 | +5 | δ√n/σ (n = 4): 5.0 |" in table


def test_a_base_that_stopped_before_a_claim_counts_against_it():
    passed = {"checks": [{"name": "acc", "kind": "greater", "margin": 1.0, "passed": True}]}
    stopped = {"checks": []}
    rows = reproduce.claims(
        {"toy": {0: passed, 100: {"checks": [{**passed["checks"][0], "margin": 3.0}]}, 200: stopped}}
    )
    assert rows[0]["passed"] == 2 and rows[0]["bases"] == 3
    assert rows[0]["chance"] == pytest.approx(stats.norm.cdf(2.0 / math.sqrt(2.0)) * 2 / 3)


def test_the_ledger_file_keeps_each_check_as_it_is_made(ledger, monkeypatch, tmp_path):
    path = tmp_path / "ledger.jsonl"
    monkeypatch.setenv(check.LEDGER_ENV_VAR, str(path))
    check.greater("first", 2.0, 1.0, quiet=True)
    with pytest.raises(check.CheckFailed):
        check.less("second", 2.0, 1.0, quiet=True)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["name"], e["passed"]) for e in lines] == [("first", True), ("second", False)]
