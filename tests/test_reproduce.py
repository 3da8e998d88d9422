import json

import nbformat
import pytest

from oaedu import reproduce as rp


def _notebook(path, body):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def fake_experiments(tmp_path, monkeypatch):
    body = (
        "import os, matplotlib.pyplot as plt\n"
        "seed = int(os.environ['OAEDU_SEED'])\n"
        "plt.plot([0, seed]); plt.show()\n"
        "RESULTS = {'acc': {'a': 50.0 + seed}, 'profile': os.environ['OAEDU_PROFILE'], 'flag': True}"
    )
    _notebook(tmp_path / "99_toy.ipynb", body)
    _notebook(tmp_path / "98_silent.ipynb", "x = 1")
    monkeypatch.setattr(rp, "NOTEBOOK_DIR", tmp_path)
    monkeypatch.setattr(rp, "EXPERIMENTS", {"toy": "99_toy.ipynb", "silent": "98_silent.ipynb", "absent": "97.ipynb"})
    return tmp_path


def test_reproduce_runs_seeds_and_summarises(fake_experiments, tmp_path):
    out = tmp_path / "runs"
    report = rp.reproduce("toy", profile="smoke", seeds=2, out=out)
    entry = report["toy"]
    assert [r["acc"]["a"] for r in entry["per_seed"]] == [50.0, 51.0]
    assert entry["summary"]["acc/a"] == {"mean": 50.5, "std": pytest.approx(0.7071, abs=1e-4), "n": 2}
    assert "flag" not in entry["summary"] and entry["per_seed"][0]["profile"] == "smoke"
    assert json.loads((out / "toy" / "results.json").read_text())["seeds"] == [0, 1]
    assert (out / "toy" / "seed1" / "figure_01.png").stat().st_size > 0
    assert (out / "toy" / "seed0" / "99_toy.ipynb").is_file()
    assert "acc/a" in rp.format_summary(report)


def test_reproduce_explains_bad_requests(fake_experiments):
    with pytest.raises(ValueError, match="unknown experiment"):
        rp.reproduce("nope")
    with pytest.raises(FileNotFoundError, match="not in"):
        rp.reproduce("absent")
    with pytest.raises(ValueError, match="unknown profile"):
        rp.reproduce("toy", profile="tpu")
    with pytest.raises(ValueError, match="seeds"):
        rp.reproduce("toy", seeds=0)
    with pytest.raises(Exception, match="defines no RESULTS"):
        rp.reproduce("silent", profile="smoke")


def test_seed_override_reaches_config(monkeypatch):
    from oaedu import config

    table = {p: {"seed": 0, "n": 1} for p in config.PROFILES}
    monkeypatch.setenv("OAEDU_SEED", "4")
    assert config.select(table, profile="smoke").seed == 4
    monkeypatch.setenv("OAEDU_SEED", "four")
    with pytest.raises(ValueError, match="OAEDU_SEED"):
        config.select(table, profile="smoke")


@pytest.mark.slow
def test_reproduce_background_bias_under_smoke(tmp_path):
    report = rp.reproduce("background_bias", profile="smoke", seeds=1, out=tmp_path)
    summary = report["background_bias"]["summary"]
    assert summary["accuracy/vit/bg_gap"]["mean"] > 20
    assert len(list((tmp_path / "background_bias" / "seed0").glob("figure_*.png"))) >= 3
