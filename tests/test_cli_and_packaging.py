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
    assert {"jupyterlab", "tqdm"} <= names


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
