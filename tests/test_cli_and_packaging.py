import subprocess
import sys
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]


def test_env_command_prints_the_report():
    out = subprocess.run([sys.executable, "-m", "oaedu", "env"], capture_output=True, text=True, check=True).stdout
    assert "torch" in out and "profile" in out


def test_dependencies_use_floor_pins_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    for dep in deps:
        assert "==" not in dep and "<" not in dep, f"{dep}: use a floor pin (>=), not an exact or upper pin"
    names = {d.split(">=")[0] for d in project["dependencies"]}
    assert {"torch", "torchvision", "timm", "captum", "numpy", "scipy", "matplotlib", "ipywidgets"} <= names
    assert "tqdm" in names
    # JupyterLab is an extra (make lab and make exercises install it): Colab must not get a server.
    lab = project["optional-dependencies"]["lab"]
    assert "jupyterlab" not in names and any(d.startswith("jupyterlab") for d in lab)


def test_binder_and_conda_environments_install_the_package():
    for path in (ROOT / "environment.yml", ROOT / "binder" / "environment.yml"):
        env = yaml.safe_load(path.read_text())
        assert "pip" in env["dependencies"]
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_the_readme_package_map_lists_every_module():
    readme = (ROOT / "README.md").read_text()
    tree = readme[readme.index("## The package") :].split("```")[1]
    package = ROOT / "oaedu"
    subpackages = [p.name + "/" for p in package.iterdir() if (p / "__init__.py").is_file()]
    modules = [p.name for p in package.glob("*.py") if not p.name.startswith("_")]
    missing = [name for name in subpackages + modules if name not in tree]
    assert not missing, f"the package map in README.md does not mention {missing}"


def test_install_line_keeps_a_clone_named_oaedu_from_shadowing_the_package():
    # setuptools' default editable install resolves `oaedu` through an import hook that runs after the folders of
    # sys.path, so a folder named oaedu in the current directory (the clone, seen from its parent) wins as a
    # namespace package. In compat mode the clone's folder is on sys.path and the real package wins.
    install = [line for line in (ROOT / "Makefile").read_text().splitlines() if "pip install --quiet -e" in line]
    assert install and all("editable_mode=compat" in line for line in install)


def _editable_import_hook() -> bool:
    """Whether the installed oaedu is an editable install resolved by setuptools' import hook (not compat mode)."""
    import site

    dirs = site.getsitepackages() + [site.getusersitepackages()]
    return any(any(Path(d).glob("__editable___oaedu_*_finder.py")) for d in dirs)


def test_python_m_oaedu_works_from_the_parent_of_a_clone_named_oaedu(tmp_path):
    if _editable_import_hook():
        pytest.skip("oaedu is installed editable through setuptools' import hook: `make setup` reinstalls it")
    clone = tmp_path / "oaedu"  # a folder named like the package, without an __init__.py: a clone of the course
    (clone / "notebooks").mkdir(parents=True)
    (clone / "README.md").write_text("a clone\n")
    out = subprocess.run([sys.executable, "-m", "oaedu", "env"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0 and "torch" in out.stdout, out.stderr
