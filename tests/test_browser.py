"""The course in a real browser: JupyterLab on 127.0.0.1 driven by a headless Chromium (Debian's `chromium` and
`chromium-driver`, installed by .ci/run; skipped with a message where they are missing).

Notebook 00 runs in full under `smoke`, its figures render, and saved after the run it goes through git's filter
into exactly what git stores; notebook 02 runs up to its κ slider, which must
render as a slider widget (not as text), and pressing → on the slider must redraw the figure below it. Copies of
the notebooks are served from a temporary folder, so JupyterLab's autosave never touches the repository.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from oaedu.notebook import stored_in_git

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="the browser test needs Debian's chromium and chromium-driver: apt-get install -y chromium "
    "chromium-driver (.ci/run installs them)",
)
SLIDER_CELL = "widgets.interact(show_mask"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    for name in ("00_start_here.ipynb", "02_oamixer.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, root / name)
    port, token = _free_port(), secrets.token_hex(16)
    jupyter = tmp_path_factory.mktemp("jupyter")
    env = {
        **os.environ,
        "OAEDU_PROFILE": "smoke",
        "OAEDU_THREADS": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--expose-app-in-browser",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])
    log = open(jupyter / "lab.log", "w")  # closed below
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (jupyter / "lab.log").read_text()
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start in 2 minutes:\n" + (jupyter / "lab.log").read_text())
        yield url, token, root
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_script_timeout(150)
    yield driver
    driver.quit()


def _open(driver, lab, name):
    url, token, _ = lab
    driver.get(f"{url}/lab/tree/{name}?token={token}")
    ready = """
        const app = window.jupyterapp;
        const w = app && Array.from(app.shell.widgets('main')).find(x => x.context && x.context.path === arguments[0]);
        const kernel = w && w.sessionContext.session && w.sessionContext.session.kernel;
        return !!(kernel && kernel.status === 'idle' && w.context.isReady);
    """
    _wait(lambda: driver.execute_script(ready, name), 90, f"{name} did not open with an idle kernel")
    # A headless window has no focus until a click: JupyterLab's commands act on the focused notebook.
    driver.find_element("css selector", ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").click()
    current = "const w = window.jupyterapp.shell.currentWidget; return !!(w && w.context.path === arguments[0]);"
    _wait(lambda: driver.execute_script(current, name), 30, f"{name} did not become the current notebook")


def _wait(condition, seconds, message):
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except StaleElementReferenceException:  # the output redrew between finding an element and reading it
            value = None
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(message)


def _run(driver, command):
    """Run a JupyterLab notebook command and wait for its cells; True if every cell ran without an error."""
    script = """
        const done = arguments[arguments.length - 1];
        window.jupyterapp.commands.execute(arguments[0]).then(ok => done(ok), err => done('error: ' + err));
    """
    return driver.execute_async_script(script, command)


def test_notebook_00_runs_in_jupyterlab_and_shows_its_figures(lab, browser):
    _open(browser, lab, "00_start_here.ipynb")
    assert _run(browser, "notebook:run-all-cells") is True
    text = browser.find_element("css selector", ".jp-Notebook").text
    assert "✓ softmax rows sum to one" in text and "the object covers" in text
    assert len(browser.find_elements("css selector", ".jp-OutputArea-output img")) >= 3  # course map, 2 grids
    # Saved after the run, the notebook goes into git exactly as the course stores it: the filter that `make setup`
    # configures strips the outputs and the metadata the kernel wrote (opening or running never changes git).
    from test_notebooks import _filter_args  # tests/ is on the path, as pytest puts it there

    _run(browser, "docmanager:save")
    saved = lab[2] / "00_start_here.ipynb"
    _wait(lambda: '"output_type"' in saved.read_text(), 30, "JupyterLab did not save the notebook it ran")
    stripped = subprocess.run([sys.executable, *_filter_args(), "-t", str(saved)], capture_output=True, text=True)
    course = ROOT / "notebooks" / "00_start_here.ipynb"
    assert stripped.stdout == (stored_in_git(course) or course.read_text()), "running 00 changed what git stores"


def test_the_kappa_slider_renders_as_a_widget_and_redraws_its_figure(lab, browser):
    from selenium.webdriver.common.keys import Keys

    _open(browser, lab, "02_oamixer.ipynb")
    select_after_slider = """
        const w = window.jupyterapp.shell.currentWidget, cells = w.content.model.cells;
        for (let i = 0; i < cells.length; i++) {
            if (cells.get(i).sharedModel.getSource().includes(arguments[0])) {
                w.content.activeCellIndex = i + 1;
                return i;
            }
        }
        return -1;
    """
    index = browser.execute_script(select_after_slider, SLIDER_CELL)
    assert index > 0, "notebook 02 has no κ slider cell"
    assert _run(browser, "notebook:run-all-above") is True
    cell = browser.execute_script(
        "return window.jupyterapp.shell.currentWidget.content.widgets[arguments[0]].node;", index
    )
    assert not [e for e in cell.find_elements("css selector", ".jp-OutputArea-output") if "Error" in e.text]
    slider = cell.find_element("css selector", ".jupyter-widgets .widget-slider .noUi-handle")  # a widget, not text
    readout = cell.find_element("css selector", ".widget-readout")
    assert readout.text.startswith("2.0")

    def figure():
        images = cell.find_elements("css selector", ".jp-OutputArea-output img")
        return images[0].get_attribute("src") if images else None

    before = _wait(figure, 30, "the slider's figure did not render")
    slider.click()
    slider.send_keys(Keys.ARROW_RIGHT)
    _wait(lambda: readout.text.startswith("2.5"), 30, f"the slider did not move: readout {readout.text}")
    _wait(lambda: figure() not in (None, before), 60, "moving the slider did not redraw the figure")
