"""Pytest hooks for the notebook run (``make notebooks``) and the unit tests' workers (``make unit``).

* Tests that start Jupyter kernels (``KERNEL_TESTS``) share one pytest-xdist group, so that no two kernels start at
  once: ``make unit`` runs ``--dist loadgroup``.

* Every ``notebooks/*.ipynb`` must be collected, and each must execute at least one code cell;
  otherwise the session fails, so a notebook can never silently drop out of CI.
* Cells tagged ``requires-gpu`` are skipped when torch sees no CUDA device.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).parent / "notebooks"


def _notebook_of(nodeid: str) -> str | None:
    return nodeid.split("::", 1)[0] if ".ipynb::" in nodeid else None


KERNEL_TESTS = {"test_wheel.py", "test_reproduce.py", "test_browser.py", "test_grading.py", "test_student.py"}


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        if item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1] in KERNEL_TESTS:
            item.add_marker(pytest.mark.xdist_group("kernels"))
    notebook_items = [i for i in items if _notebook_of(i.nodeid)]
    if not notebook_items:
        return
    import torch

    for item in notebook_items:
        tags = getattr(item, "cell", {}).get("metadata", {}).get("tags", [])
        if "requires-gpu" in tags and not torch.cuda.is_available():
            item.add_marker(pytest.mark.skip(reason="cell tagged requires-gpu; no CUDA device"))
    config._oaedu_collected = {Path(_notebook_of(i.nodeid)).name for i in notebook_items}
    config._oaedu_executed = Counter()


def pytest_runtest_logreport(report):
    name = _notebook_of(report.nodeid)
    if name and report.when == "call" and report.passed:
        _CONFIG.config._oaedu_executed[Path(name).name] += 1


class _ConfigHolder:
    config = None


_CONFIG = _ConfigHolder()


def pytest_configure(config):
    _CONFIG.config = config


def pytest_sessionfinish(session, exitstatus):
    collected = getattr(session.config, "_oaedu_collected", None)
    if collected is None:
        return
    problems = []
    everything = {p.name for p in NOTEBOOK_DIR.glob("*.ipynb")}
    ran_whole_folder = any(Path(a).resolve() == NOTEBOOK_DIR.resolve() for a in session.config.args)
    if ran_whole_folder:
        problems += [f"{nb} was not collected" for nb in sorted(everything - collected)]
    executed = session.config._oaedu_executed
    problems += [f"{nb} executed no code cell" for nb in sorted(collected) if executed[nb] == 0]
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for p in problems:
            reporter.write_line(f"NOTEBOOK CHECK FAILED: {p}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
