"""The result tables of the Run-button apps keep every column header and cell on one line.

Seen in a notebook column of about 950 px: after **Run**, the rates table of an app squeezed its
columns until "95% CI" broke into "95%" over "CI", "50.7% to 74.4%" over two lines and "typical SE"
over two. Here each app whose results appear after Run is built in one notebook (written into the
server's folder), shown with a result (a cheap run, or the cached study its notebook shows), and
measured in Voila in a 950-px-wide window and in JupyterLab in the suite's 1,280-px window with the
file browser open (a notebook column of about 950 px, an output area of about 848 px):

- no header (``th``) and no cell (``td``) of an app's table takes more than one line;
- no table is wider than the app's output area.

With ``LMMEDU_SCREENSHOTS=DIR`` a PNG of every app's table is written, for a person to look at.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import nbformat
from conftest import WINDOW as LAB_WINDOW
from nbformat.v4 import new_code_cell, new_notebook

NAME = "run_app_tables.ipynb"
VOILA_WINDOW = {"width": 950, "height": 900}
# Every Run-button app with a result: the cheapest run the app allows, or the cached study its notebook shows.
APPS = """
from lmmedu.teach.studies import load_study
from lmmedu.teach.widgets import PowerPlanner, PseudoReplicationMachine, RandomSlopeMachine, WaldVsTMachine
machine = PseudoReplicationMachine()
machine.show_study(load_study("pseudoreplication_machine_study"))
slopes = RandomSlopeMachine(n_sims=10, obs_per_replicate=20)
slopes.run(n_sims=2)
wald = WaldVsTMachine(n_sims=4)
wald.run()
planner = PowerPlanner()
planner.run(n_sims=20, cells_per_replicate=50)
for app in (machine, slopes, wald, planner):
    display(app)
"""
N_APPS = 4

# Per app: its title, the header and data cells on more than one line, tables wider than the app's area.
MEASURE_JS = """() => {
  const lines = el => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top))).size;
  };
  const apps = [...document.querySelectorAll('.widget-vbox')].filter(b => b.querySelector(':scope > .lmmedu-title'));
  return apps.map(app => {
    const title = app.querySelector('.lmmedu-title').textContent.split(':')[0].trim();
    const tables = [...app.querySelectorAll('table')];
    const area = (app.closest('.jp-OutputArea-output') || app).clientWidth;
    return {title, tables: tables.length, area,
            widest: Math.max(0, ...tables.map(t => t.scrollWidth)),
            headers: [...app.querySelectorAll('th')].filter(c => lines(c) > 1).map(c => c.innerText),
            cells: [...app.querySelectorAll('td')].filter(c => lines(c) > 1).map(c => c.innerText)};
  });
}"""


def _write_notebook(root):
    nb = new_notebook(metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                               "name": "python3"}})
    nb.cells = [new_code_cell(APPS, id="apps")]
    nbformat.write(nb, Path(root) / NAME)


def _screenshots(page, where):
    folder = os.environ.get("LMMEDU_SCREENSHOTS")
    if not folder:
        return
    out = Path(folder) / "run_app_tables"
    out.mkdir(parents=True, exist_ok=True)
    for i, table in enumerate(page.locator(".lmmedu-title ~ * table").all()):
        table.screenshot(path=str(out / f"{where}-{i}.png"))


def _check(page, where, window):
    page.wait_for_function(f"() => ({MEASURE_JS})().filter(a => a.tables > 0).length >= {N_APPS}",
                           timeout=240_000, polling=1000)
    measured = page.evaluate(MEASURE_JS)
    print(f"\nRun-app tables in {where} at {window['width']} px:", measured)
    _screenshots(page, where)
    problems = [f"{a['title']}: headers on more than one line: {a['headers']}" for a in measured if a["headers"]]
    problems += [f"{a['title']}: cells on more than one line: {a['cells']}" for a in measured if a["cells"]]
    problems += [f"{a['title']}: a table {a['widest']} px wide in {a['area']} px" for a in measured
                 if a["widest"] > a["area"] + 2]
    assert not problems, f"in {where}:\n" + "\n".join(problems)


def test_run_app_tables_stay_on_one_line_in_voila(browser, lab):
    base, token, root = lab
    _write_notebook(root)
    context = browser.new_context(viewport=VOILA_WINDOW)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{base}/voila/render/{NAME}?token={token}", wait_until="commit", timeout=90_000)
        _check(page, "voila", VOILA_WINDOW)
    finally:
        context.close()


def test_run_app_tables_stay_on_one_line_in_jupyterlab(browser, lab):
    base, token, root = lab
    _write_notebook(root)
    context = browser.new_context(viewport=LAB_WINDOW)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        workspace = "t" + uuid.uuid4().hex[:12]
        page.goto(f"{base}/lab/workspaces/{workspace}/tree/{NAME}?reset&token={token}", wait_until="commit")
        page.wait_for_function("""(name) => {
          const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
          const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
          return !!w && w.context && w.context.path === name && !!k && k.status === 'idle';
        }""", arg=NAME, timeout=180_000)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        _check(page, "jupyterlab", LAB_WINDOW)
    finally:
        context.close()
