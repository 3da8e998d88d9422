"""The package as Colab gets it: a wheel (not an editable install), in a fresh virtual environment outside the
repository, running notebooks 04 and 05 (they load the shipped checkpoints) under `smoke` from a temporary
folder. Offline: the wheel is built without build isolation, and the fresh environment borrows the installed
dependencies (torch, ...) through a .pth line instead of downloading them."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = "0.1.0+wheeltest"  # a version only the wheel built here carries


def _run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_wheel_runs_notebooks_04_and_05_outside_the_repository(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "oaedu", src / "oaedu", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    init = src / "oaedu" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "0.1.0"', f'__version__ = "{MARK}"'))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path, src])
    wheel = next(tmp_path.glob("oaedu-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {"oaedu/checkpoints/contracam_moco.pt", "oaedu/checkpoints/robustvit_marker_vit.pt"} <= set(names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    # Dependencies from this environment; its own .pth files (the editable oaedu) are not read from there.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel])

    colab = tmp_path / "content"
    (colab / "notebooks").mkdir(parents=True)
    for name in ("04_contracam.ipynb", "05_robustvit.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, colab / "notebooks" / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # One thread: on a loaded CI machine two spinning threads per op slow these small models down many times.
    env.update(
        OAEDU_PROFILE="smoke",
        OAEDU_THREADS="1",
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter"),
        PATH=f"{venv / 'bin'}:{env['PATH']}",
    )
    where = _run(
        [python, "-c", "import oaedu, oaedu.checkpoints as c; print(oaedu.__file__, c.path(c.NAMES[0]))"],
        cwd=colab,
        env=env,
    )
    assert all(Path(p).is_relative_to(venv) for p in where.split()), where
    # a bound, so that a kernel that stops answering fails this test instead of hanging the run
    _run([python, "-m", "oaedu", "reproduce", "all", "--profile", "smoke", "--out", "runs"], cwd=colab, env=env,
         timeout=900)  # fmt: skip
    for name, notebook in (("contracam", "04_contracam.ipynb"), ("robustvit", "05_robustvit.ipynb")):
        assert json.loads((colab / "runs" / name / "results.json").read_text())["summary"]
        executed = (colab / "runs" / name / "seed0" / notebook).read_text()
        assert f"oaedu {MARK}" in executed, "the kernel did not import the installed wheel"
