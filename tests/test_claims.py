"""The README's claims table and ``cpu`` times come from measured runs (docs/claims.json), never by hand."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("claims_script", ROOT / "scripts" / "claims.py")
claims = importlib.util.module_from_spec(spec)
spec.loader.exec_module(claims)


def test_the_readme_and_the_notebooks_times_are_what_the_measured_runs_say():
    document = json.loads(claims.CLAIMS.read_text())
    text = claims.README.read_text()
    assert claims.readme(text, document) == text, "run: python scripts/claims.py readme"
    assert not claims.notebook_headers(document), "run: python scripts/claims.py readme"


def test_every_measured_notebook_passed_at_every_base():
    document = json.loads(claims.CLAIMS.read_text())
    assert document, "docs/claims.json holds no runs"
    for name, entry in document.items():
        assert entry["profile"] == "cpu" and len(entry["runs"]) >= 3, name  # a spread over bases; five is the aim
        assert all(run["threads"] and isinstance(run["alone"], bool) for run in entry["runs"].values()), name
        failed = {base: run["error"] for base, run in entry["runs"].items() if not run["passed"]}
        assert not failed, f"{name}: {failed}"


def _pass_rates(folder: Path, name: str, margins: list[float], seconds: float, first: int = 0) -> None:
    runs = {
        str(100 * (first + i)): {
            "passed": m > 0,
            "error": "" if m > 0 else "CheckFailed: acc",
            "seconds": seconds,
            "checks": [{"name": "acc", "kind": "greater", "margin": m, "passed": m > 0, "extra": 1}],
            "results": {"big": list(range(10))},
        }
        for i, m in enumerate(margins)
    }
    (folder / name).mkdir(parents=True)
    (folder / name / "pass_rates.json").write_text(json.dumps({"profile": "cpu", "threads": 1, "runs": runs}))


def test_collect_merges_runs_and_readme_writes_tables_and_times(tmp_path):
    _pass_rates(tmp_path / "a", "oamixer", [2.0, 4.0, 3.0], 120.0)
    _pass_rates(tmp_path / "a", "not_an_experiment", [1.0], 1.0)
    into = tmp_path / "claims.json"
    document = claims.collect(tmp_path / "a", into)
    assert list(document) == ["oamixer"] and "results" not in document["oamixer"]["runs"]["0"]
    assert document["oamixer"]["runs"]["0"]["checks"] == [{"name": "acc", "kind": "greater", "margin": 2.0,
                                                           "passed": True}]  # fmt: skip
    _pass_rates(tmp_path / "b", "background_bias", [1.0, -1.0], 300.0)
    document = claims.collect(tmp_path / "b", into)
    assert list(document) == ["background_bias", "oamixer"]  # merged, in course order
    split = tmp_path / "split.json"  # a batch split over two folders: bases 0–200, then 300–400
    claims.collect(tmp_path / "a", split)
    _pass_rates(tmp_path / "c", "oamixer", [5.0, 6.0], 120.0, first=3)
    assert list(claims.collect(tmp_path / "c", split)["oamixer"]["runs"]) == ["0", "100", "200", "300", "400"]
    alone = claims.collect(tmp_path / "c", split, alone=True)["oamixer"]["runs"]  # 300, 400 timed alone
    assert [run["alone"] for run in alone.values()] == [False, False, False, True, True]
    assert claims.cpu_time({"runs": alone}) == "2.0 min, 1 thread(s)"  # the alone runs' median, not the batch's
    assert claims.cpu_time(document["oamixer"]) == "2.0 min, 1 thread(s), batch"
    assert list(claims.collect(tmp_path / "c", split, replace=True)["oamixer"]["runs"]) == ["300", "400"]
    retired = claims.collect(tmp_path / "b", split, retire=["acc"])["background_bias"]["runs"]  # printed since
    assert all(run["passed"] and not run["checks"] for run in retired.values())  # base 100 failed only on it
    assert [c["margin"] for run in retired.values() for c in run["retired"]] == [1.0, -1.0]
    assert "Claims measured while asserted, and printed since" in claims.claims_block(
        {"background_bias": {"runs": retired}}
    )
    with pytest.raises(ValueError, match=f"no run under {tmp_path / 'b'} checked"):
        claims.collect(tmp_path / "b", split, retire=["acc", "a typo"])
    text = "\n".join([
        "| [02 · OAMixer](notebooks/02_oamixer.ipynb) | paper | story | 9 min |",
        "| [03 · SAR](notebooks/03.ipynb) | paper | story | 2 min |",
        claims.BEGIN, "old table", claims.END, "after",
    ])  # fmt: skip
    new = claims.readme(text, document)
    assert "| [02 · OAMixer](notebooks/02_oamixer.ipynb) | paper | story | 2.0 min, 1 thread(s), batch |" in new
    assert "| oamixer | 0: 1, 100: 1, 200: 1 | 2.0 min, 1 thread(s), batch |" in new
    assert "| 3 min |" not in new and "| 2 min |" in new  # 03 was not measured: left alone
    assert "old table" not in new and new.endswith(claims.END + "\nafter")
    assert "| 02 | acc | 3/3 | +3 | z: 3.0 | 1.00 |" in new and "| 01 | acc | 1/2 | +0 | z: 0.0 | 0.50 (below) |" in new
    assert "| background_bias | 0, 100 | 1/2 | base 100: CheckFailed: acc |" in new
    assert claims.readme(new, document) == new
    with pytest.raises(ValueError, match="needs one"):
        claims.readme("no markers", document)
    with pytest.raises(FileNotFoundError, match="seed-bases"):
        claims.collect(tmp_path / "empty", into)


def test_a_notebooks_time_line_is_written_from_its_runs(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 02 · OAMixer\n\n**Time:** a guess\nmore")])
    nbformat.write(nb, tmp_path / "02_oamixer.ipynb")
    runs = {"0": {"seconds": 600.0, "passed": True, "threads": 2, "alone": True},
            "100": {"seconds": 660.0, "passed": True, "threads": 2, "alone": True},
            "300": {"seconds": 900.0, "passed": True, "threads": 1, "alone": False}}  # fmt: skip
    document = {"oamixer": {"runs": runs | {"200": {"seconds": 9.0, "passed": False, "threads": 2, "alone": True}}}}
    ((path, source),) = claims.notebook_headers(document, tmp_path).items()
    assert path.name == "02_oamixer.ipynb" and source.endswith(claims.time_line("10.5 min, 2 thread(s)") + "\nmore")
    nb.cells[0].source = "# 02 · OAMixer, no time line"
    nbformat.write(nb, tmp_path / "02_oamixer.ipynb")
    with pytest.raises(ValueError, match="Time"):
        claims.notebook_headers(document, tmp_path)
