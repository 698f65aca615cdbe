"""Fixtures for the browser tests: Debian's chromium driven by playwright, and a JupyterLab server.

The browser is the system chromium (``/usr/bin/chromium``, or ``$LMMEDU_CHROMIUM``); playwright's
own browser download is never used. Without chromium (or playwright) the tests are skipped with
the reason, except in CI (``CI=true``), where a missing browser is a failure: CI must run them.

JupyterLab runs from this environment on 127.0.0.1, on a free port, with a random token, serving a
temporary copy of the notebooks, so running cells in the browser never writes outputs into the
repository. Its kernels import this repository's lmmedu (``PYTHONPATH``), and its Voila server
extension (app mode, ``/voila/render/...``) uses the repository's ``voila.json``. It is stopped
(with its kernels) when the session ends.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("LMMEDU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
SERVER_START_TIMEOUT = 90


def _unavailable(reason):
    if IN_CI:
        pytest.fail(f"{reason}; CI must run the browser tests (make test installs chromium with apt-get as root)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """A headless chromium, shared by all browser tests."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (install Debian's chromium: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (it is in the test extra: make test installs it)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url, proc, log):
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A running JupyterLab: yields ``(base_url, token, root_dir)``."""
    root = tmp_path_factory.mktemp("lab_root")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, root / nb.name)
    settings = tmp_path_factory.mktemp("lab_settings")
    # No news or update pop-ups over the notebook (and no network).
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                       "checkForUpdates": False}))
    # Render every cell: with windowing, cells outside the viewport are not in the page at all.
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    runtime = tmp_path_factory.mktemp("lab_runtime")
    # App mode at /voila/render/...: the server reads the repository's voila.json as its
    # jupyter_server_config.json, as postBuild installs it on Binder.
    config = tmp_path_factory.mktemp("lab_config")
    shutil.copy(ROOT / "voila.json", config / "jupyter_server_config.json")
    port, token = _free_port(), secrets.token_hex(16)
    # Kernels import the lmmedu of the repository these tests belong to, not an installed copy.
    pythonpath = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    config_path = os.pathsep.join([str(config), *filter(None, [os.environ.get("JUPYTER_CONFIG_PATH")])])
    env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1", "JUPYTER_RUNTIME_DIR": str(runtime),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONPATH": pythonpath,
           "JUPYTER_CONFIG_PATH": config_path}
    log = tmp_path_factory.mktemp("lab_log") / "jupyterlab.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings / 'workspaces'}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/api/status?token={token}", proc, log)
        yield base, token, root
    finally:
        # The server's process group holds its kernels too.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


#: The window width at which every output must fit (a laptop or a projector).
WINDOW = {"width": 1280, "height": 900}


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=WINDOW)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()
