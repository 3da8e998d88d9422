import json
import subprocess
import sys

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
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "99_toy.ipynb", body + "\nimport sys; print('KERNEL NOISE', file=sys.__stderr__)")
    _notebook(folder / "98_silent.ipynb", "x = 1")
    monkeypatch.setattr(rp, "EXPERIMENTS", {"toy": "99_toy.ipynb", "silent": "98_silent.ipynb", "absent": "97.ipynb"})
    monkeypatch.chdir(tmp_path)  # found as ./notebooks, as from a course folder
    return folder


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
    assert "KERNEL NOISE" in (out / "toy" / "seed0" / "kernel.log").read_text()
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
    with pytest.raises(FileNotFoundError, match="--notebooks"):
        rp.reproduce("toy", profile="smoke", notebooks=fake_experiments.parent / "elsewhere")


def test_notebooks_are_found_without_a_source_checkout(fake_experiments, monkeypatch, tmp_path):
    from oaedu import notebook

    assert notebook.find_notebooks() == fake_experiments.resolve()
    monkeypatch.chdir(fake_experiments)  # no ./notebooks here: the checkout's folder, when there is one
    assert notebook.find_notebooks() == notebook.CHECKOUT_NOTEBOOKS
    monkeypatch.setattr(notebook, "CHECKOUT_NOTEBOOKS", tmp_path / "wheel-install" / "notebooks")
    with pytest.raises(FileNotFoundError, match="pass --notebooks DIR"):
        notebook.find_notebooks()
    assert notebook.find_notebooks(fake_experiments) == fake_experiments


def test_cli_keeps_kernel_noise_out_of_the_progress_bar(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    _notebook(
        folder / rp.EXPERIMENTS["oamixer"],
        "import sys\nprint('KERNEL NOISE', file=sys.__stderr__)\nRESULTS = {'acc': 1.0}",
    )
    cmd = [
        sys.executable,
        "-m",
        "oaedu",
        "reproduce",
        "oamixer",
        "--profile",
        "smoke",
        "--notebooks",
        str(folder),
        "--out",
        "runs",
    ]  # relative to where the command runs, not to the notebook
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "KERNEL NOISE" not in out.stdout + out.stderr and "acc" in out.stdout
    assert "KERNEL NOISE" in (tmp_path / "runs" / "oamixer" / "seed0" / "kernel.log").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce", "oamixr"], "invalid choice: 'oamixr'"),
        (["reproduce", "oamixer", "--seeds", "0"], "expected a positive integer"),
        (["reproduce", "oamixer", "--profile", "tpu"], "invalid choice: 'tpu'"),
        (["reproduce", "oamixer", "--notebooks", "nowhere"], "no course notebooks"),
        (["student", "--notebooks", "nowhere"], "no course notebooks"),
        (["convert-clevr", "missing.tfrecords", "out"], "missing.tfrecords"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_user_mistakes_end_in_one_argparse_line(argv, message, tmp_path):
    out = subprocess.run([sys.executable, "-m", "oaedu", *argv], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("oaedu") and message in out.stderr


def test_bad_environment_variables_are_user_mistakes_too(tmp_path):
    import os

    for var, value, command in [("OAEDU_PROFILE", "tpu", "reproduce"), ("OAEDU_THREADS", "x", "env")]:
        argv = [command, "oamixer"] if command == "reproduce" else [command]
        env = {**os.environ, var: value}
        out = subprocess.run(
            [sys.executable, "-m", "oaedu", *argv], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert out.returncode == 2 and "Traceback" not in out.stderr and var in out.stderr


def test_reproduce_help_lists_the_experiments():
    out = subprocess.run([sys.executable, "-m", "oaedu", "reproduce", "--help"], capture_output=True, text=True)
    assert all(name in out.stdout for name in [*rp.EXPERIMENTS, "all"])


def test_seed_override_reaches_config(monkeypatch):
    from oaedu import config

    table = {p: {"seed": 0, "n": 1} for p in config.PROFILES}
    monkeypatch.setenv("OAEDU_SEED", "4")
    assert config.select(table, profile="smoke").seed == 4
    monkeypatch.setenv("OAEDU_SEED", "four")
    with pytest.raises(ValueError, match="OAEDU_SEED"):
        config.select(table, profile="smoke")


def test_reproduce_records_the_thread_count(fake_experiments, tmp_path, monkeypatch):
    """Results are bit-identical for a fixed seed *and* thread count: every kernel gets the same count, recorded."""
    body = "import os\nRESULTS = {'threads': int(os.environ['OAEDU_THREADS'])}"
    _notebook(fake_experiments / "96_threads.ipynb", body)
    monkeypatch.setitem(rp.EXPERIMENTS, "threads", "96_threads.ipynb")
    monkeypatch.setenv("OAEDU_THREADS", "3")
    report = rp.reproduce("threads", profile="smoke", out=tmp_path / "runs")
    assert report["threads"]["threads"] == 3 == report["threads"]["per_seed"][0]["threads"]
    assert json.loads((tmp_path / "runs" / "threads" / "results.json").read_text())["threads"] == 3
    assert "3 thread(s)" in rp.format_summary(report)


def test_seed_base_shifts_every_seed(fake_experiments, tmp_path):
    report = rp.reproduce("toy", profile="smoke", seeds=2, out=tmp_path / "o", seed_base=1000)
    assert report["toy"]["seeds"] == [1000, 1001]
    assert [r["acc"]["a"] for r in report["toy"]["per_seed"]] == [1050.0, 1051.0]


def test_pass_rates_count_the_bases_whose_assertions_hold(fake_experiments, tmp_path):
    body = "import os\nfrom oaedu import check\nseed = int(os.environ['OAEDU_SEED'])\n"
    body += "check.greater('even seed', 1 - seed % 2, 0.5)\nRESULTS = {'s': seed}\n"
    body += "assert seed != 10, 'ten'"
    _notebook(fake_experiments / "99_toy.ipynb", body)
    report = rp.pass_rates("toy", "smoke", [0, 3, 10], out=tmp_path / "o")
    assert [r["passed"] for r in report["toy"].values()] == [True, False, False]
    assert report["toy"][3]["error"] == "CheckFailed: even seed"
    assert report["toy"][3]["results"] == {"s": 3}  # a failed check is recorded; the notebook ran on
    assert report["toy"][3]["checks"][0]["margin"] == -0.5
    assert report["toy"][10]["error"] == "AssertionError: ten"  # any other error stops the notebook,
    assert report["toy"][10]["checks"][0]["passed"]  # and the checks made before it are kept
    saved = json.loads((tmp_path / "o" / "toy" / "pass_rates.json").read_text())
    assert list(saved["runs"]) == ["0", "3", "10"] and saved["runs"]["0"]["seconds"] > 0
    table = rp.format_pass_rates(report)
    assert "| toy | 0, 3, 10 | 1/3 | base 3:" in table
    assert "| toy | even seed | 2/3 | +0.167 | z: 0.3 | 0.61 |" in rp.format_claims(report)
    for bad in ([], [1, 1], "0,1", [-1]):
        with pytest.raises((ValueError, TypeError)):
            rp.pass_rates("toy", "smoke", bad, out=tmp_path / "o")


def test_pass_rates_run_a_kernel_that_died_once_more(fake_experiments, tmp_path):
    body = "import os, pathlib\nflag = pathlib.Path(os.environ['OAEDU_RESULTS_PATH']).parent / 'died'\n"
    body += "if not flag.exists():\n    flag.write_text('once')\n    os._exit(1)\nRESULTS = {'ok': 1}"
    _notebook(fake_experiments / "99_toy.ipynb", body)
    run = rp.pass_rates("toy", "smoke", [0], out=tmp_path / "o")["toy"][0]
    assert run["passed"] and run["results"] == {"ok": 1}
    _notebook(fake_experiments / "99_toy.ipynb", "import os\nos._exit(1)")
    run = rp.pass_rates("toy", "smoke", [1], out=tmp_path / "o")["toy"][1]
    assert not run["passed"] and run["error"] == "DeadKernelError: the kernel stopped (attempt 2 of 2)"


def test_pass_rates_kill_a_kernel_that_stopped_working(fake_experiments, tmp_path, monkeypatch):
    monkeypatch.setattr(rp, "STALL_SECONDS", 1.5)
    body = "import os, pathlib, time\nflag = pathlib.Path(os.environ['OAEDU_RESULTS_PATH']).parent / 'slept'\n"
    body += "if not flag.exists():\n    flag.write_text('once')\n    time.sleep(600)\nRESULTS = {'ok': 1}"
    _notebook(fake_experiments / "99_toy.ipynb", body)
    run = rp.pass_rates("toy", "smoke", [0], out=tmp_path / "o")["toy"][0]
    assert run["passed"] and run["results"] == {"ok": 1} and run["seconds"] < 120  # not the 600 s it slept
    _notebook(fake_experiments / "99_toy.ipynb", "import time\ntime.sleep(600)")
    run = rp.pass_rates("toy", "smoke", [1], out=tmp_path / "o")["toy"][1]
    assert not run["passed"] and run["error"] == "DeadKernelError: the kernel stopped (attempt 2 of 2)"
    assert "stopped working, so it is killed" in (tmp_path / "o" / "toy" / "base1" / "kernel.log").read_text()


def test_a_kernel_at_work_is_not_killed(fake_experiments, tmp_path, monkeypatch):
    monkeypatch.setattr(rp, "STALL_SECONDS", 1.0)
    body = "import time\nstart = time.perf_counter()\nwhile time.perf_counter() - start < 4:\n    pass\n"
    _notebook(fake_experiments / "99_toy.ipynb", body + "RESULTS = {'ok': 1}")
    run = rp.pass_rates("toy", "smoke", [0], out=tmp_path / "o")["toy"][0]
    assert run["passed"] and run["results"] == {"ok": 1}
