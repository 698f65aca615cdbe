"""App start-up: how long a learner waits in Voila before a notebook's widgets appear.

Run from the repository root::

    python benchmarks/bench_voila_startup.py                      # 01 and 05, in Voila and in a kernel
    python benchmarks/bench_voila_startup.py --kernel-only 01 05 09
    python benchmarks/bench_voila_startup.py --repeat 3 01 05

Two measurements per notebook, one after the other (never two notebooks at once, so they do not
compete for the CPU):

- ``voila s``: a ``voila`` server (this checkout's ``voila.json``, so the cells tagged ``app-hide``
  are left out, as on Binder) serves the notebook; headless chromium (``/usr/bin/chromium`` or
  ``$LMMEDU_CHROMIUM``, driven by playwright as in tests/browser) requests it, and the clock stops
  when Voila has run every cell and the first app's title (``.lmmedu-title``) is rendered. This is
  what the learner sees, kernel start-up and widget rendering included.
- ``kernel s``: the same cells (``app-hide`` dropped) run in a fresh kernel with nbclient, from the
  kernel's start to the last cell's end, with the slowest cells by id: where the time goes.

The ratio of each notebook to 05 (the DesignEffectExplorer, which shows its widget at once) is
printed from the same run, so a loaded machine inflates numerator and denominator alike. The load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TAG = "app-hide"
CHROMIUM = Path(os.environ.get("LMMEDU_CHROMIUM", "/usr/bin/chromium"))
REFERENCE = "05"

# Voila has run every cell (the loading spinner is gone) and at least one app title is drawn.
READY_JS = """() => {
  const cells = document.getElementById('rendered_cells');
  const done = !!cells && cells.style.display !== 'none' && !document.getElementById('loading');
  return done && document.querySelectorAll('.lmmedu-title').length > 0;
}"""


def notebook(number):
    matches = sorted(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    if not matches:
        raise SystemExit(f"no notebook notebooks/{number}_*.ipynb")
    return matches[0]


def _env():
    pythonpath = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, "PYTHONPATH": pythonpath, "JUPYTER_PREFER_ENV_PATH": "1",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def kernel_time(path):
    """Seconds from kernel start to the last cell's end, and the slowest cells, app-hide cells dropped."""
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if TAG not in c.metadata.get("tags", [])]
    saved = dict(os.environ)
    os.environ.update(_env())
    try:
        client = NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=True,
                                resources={"metadata": {"path": str(NOTEBOOKS)}})
        start = time.perf_counter()
        client.execute()
        total = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)
    cells = []
    for cell in nb.cells:
        timing = cell.metadata.get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            from datetime import datetime
            a = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            b = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            cells.append(((b - a).total_seconds(), cell.id))
    return total, sorted(cells, reverse=True)[:3]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Voila:
    """A voila server over a copy of the notebooks, configured by this checkout's voila.json."""

    def __enter__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="bench_voila_"))
        root, config = self.tmp / "nb", self.tmp / "config"
        shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns("exercises"))
        config.mkdir()
        shutil.copy(ROOT / "voila.json", config / "voila.json")
        self.port = _free_port()
        env = {**_env(), "JUPYTER_CONFIG_PATH": str(config)}
        self.log = open(self.tmp / "voila.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voila", "--no-browser", f"--port={self.port}", "--Voila.ip=127.0.0.1",
             "--show_tracebacks=True", str(root)],
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2)
                return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"voila did not start: {(self.tmp / 'voila.log').read_text()[-2000:]}")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/voila/render/{path.name}"

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def voila_times(paths, repeat):
    from playwright.sync_api import sync_playwright

    times = {p: [] for p in paths}
    with Voila() as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            for _ in range(repeat):
                for path in paths:
                    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                    start = time.perf_counter()
                    page.goto(server.url(path), wait_until="commit", timeout=300_000)
                    page.wait_for_function(READY_JS, timeout=300_000, polling=100)
                    times[path].append(time.perf_counter() - start)
                    page.context.close()
        finally:
            browser.close()
    return {p: min(t) for p, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("numbers", nargs="*", default=["01", REFERENCE], help="notebook numbers (default: 01 05)")
    parser.add_argument("--repeat", type=int, default=1, help="Voila runs per notebook; the fastest is reported")
    parser.add_argument("--kernel-only", action="store_true", help="skip the Voila/chromium measurement")
    args = parser.parse_args(argv)
    numbers = list(dict.fromkeys([*args.numbers, REFERENCE]))
    paths = [notebook(n) for n in numbers]
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    voila = {} if args.kernel_only else voila_times(paths, args.repeat)
    kernel = {p: kernel_time(p) for p in paths}
    ref = paths[numbers.index(REFERENCE)]
    print(f"{'notebook':<45} {'voila s':>8} {'/05':>6} {'kernel s':>9} {'/05':>6}  slowest cells (s)")
    for p in paths:
        v = voila.get(p)
        k, slow = kernel[p]
        vs = f"{v:8.1f} {v / voila[ref]:6.2f}" if v is not None else f"{'-':>8} {'-':>6}"
        print(f"{p.name[:45]:<45} {vs} {k:9.1f} {k / kernel[ref][0]:6.2f}  "
              + ", ".join(f"{cid} {s:.1f}" for s, cid in slow))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
