"""Every app's controls fit a notebook column: no label cut off, no slider squeezed, nothing wider.

Seen in JupyterLab with the file browser open (a 1,280 px window leaves the notebook about 950 px):
a label cut to "experime...", a slider 25 px wide, a syntax table whose code broke into fragments.
Here every app is built in one notebook (``all_apps.ipynb``, written into the server's folder),
shown in JupyterLab with the file browser open and in Voila, and measured at the sliders' default
values and at both ends:

- a control's label (``.widget-label``) and a slider's readout show their whole text
  (``scrollWidth <= clientWidth``);
- every slider track is at least :data:`MIN_TRACK_PX` wide;
- no app is wider than the output area.

With ``LMMEDU_SCREENSHOTS=DIR`` a PNG of every app is written, for a person to look at.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
MIN_TRACK_PX = 150
NAME = "all_apps.ipynb"
MICE = ROOT / "tests" / "fixtures" / "own_data" / "r_write_csv_mice.csv"

# Every app at its defaults (the Run-button apps are not run: their controls are what is measured).
APPS = f"""
import lmmedu
from lmmedu.teach.widgets import (CodingExplorer, DesignEffectExplorer, EnvironmentCheck, InteractionExplorer,
                                  OwnDataApp, PowerPlanner, PseudoReplicationMachine, RandomSlopeMachine,
                                  SdIntervalExplorer, SlopeExplorer, StandardErrorExplorer, WaldVsTMachine)
apps = [EnvironmentCheck(), PseudoReplicationMachine(), StandardErrorExplorer(),
        CodingExplorer(lmmedu.simulate_replicates(obs_per_replicate=20), random=None),
        InteractionExplorer(obs_per_replicate=40), RandomSlopeMachine(), DesignEffectExplorer(), SlopeExplorer(),
        SdIntervalExplorer(),
        WaldVsTMachine(), PowerPlanner(), OwnDataApp({str(MICE)!r})]
for app in apps:
    display(app)
"""

N_APPS = 12

# Labels and readouts that do not show their whole text, sliders too short, apps too wide.
MEASURE_JS = """(minTrack) => {
  const problems = [];
  const apps = [...document.querySelectorAll('.widget-vbox')].filter(
      b => b.querySelector(':scope > .lmmedu-title'));
  apps.forEach((app, i) => {
    const title = app.querySelector('.lmmedu-title').textContent.split(':')[0].trim();
    for (const el of app.querySelectorAll('.widget-label, .widget-readout')) {
      if (el.offsetParent === null || !el.textContent.trim()) continue;
      if (el.scrollWidth > el.clientWidth + 1)
        problems.push(`${title}: "${el.textContent.trim()}" cut (${el.clientWidth} of ${el.scrollWidth} px)`);
    }
    for (const track of app.querySelectorAll('.widget-slider .noUi-target, .widget-slider .slider')) {
      const w = track.getBoundingClientRect().width;
      if (track.offsetParent !== null && w < minTrack)
        problems.push(`${title}: a slider track is ${Math.round(w)} px wide`);
    }
    // A dropdown or progress bar whose label takes all its width shows no control at all.
    for (const el of app.querySelectorAll('.widget-dropdown select, .widget-progress .progress')) {
      const w = el.getBoundingClientRect().width;
      if (el.offsetParent !== null && w < 60)
        problems.push(`${title}: a dropdown or progress bar is ${Math.round(w)} px wide`);
    }
    const area = app.closest('.jp-OutputArea-output') || app.closest('.jp-OutputArea') || document.body;
    if (app.scrollWidth > area.clientWidth + 1)
      problems.push(`${title}: ${app.scrollWidth} px wide in a ${area.clientWidth} px output area`);
  });
  return {n: apps.length, problems};
}"""

# Readouts at both ends of every slider (End, then Home), each measured.
ENDS = ("End", "Home")


def _notebook(root):
    nbformat.write(new_notebook(cells=[new_code_cell(APPS)], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), root / NAME)


def _measure_at_every_setting(page, label):
    n_expected = N_APPS
    page.wait_for_function("(n) => document.querySelectorAll('.lmmedu-title').length >= n", arg=n_expected,
                           timeout=240_000)
    found = page.evaluate(MEASURE_JS, MIN_TRACK_PX)
    assert found["n"] == n_expected, f"{found['n']} apps rendered, {n_expected} built"
    problems = [f"{label}, defaults: {p}" for p in found["problems"]]
    _screenshots(page, f"{label}-defaults")
    handles = page.locator(".noUi-handle")
    for key in ENDS:
        for i in range(handles.count()):
            handle = handles.nth(i)
            handle.scroll_into_view_if_needed()
            handle.focus()
            page.keyboard.press(key)
        page.wait_for_timeout(1500)  # live apps redraw; the measurement is of the controls
        problems += [f"{label}, sliders at {key}: {p}" for p in page.evaluate(MEASURE_JS, MIN_TRACK_PX)["problems"]]
        _screenshots(page, f"{label}-{key.lower()}")
    return problems


def _screenshots(page, label):
    folder = os.environ.get("LMMEDU_SCREENSHOTS")
    if not folder:
        return
    out = Path(folder) / "widget_labels"
    out.mkdir(parents=True, exist_ok=True)
    apps = page.locator(".widget-vbox:has(> .lmmedu-title)")
    for i in range(apps.count()):
        apps.nth(i).scroll_into_view_if_needed()
        apps.nth(i).screenshot(path=str(out / f"{label}-{i:02d}.png"))
    page.screenshot(path=str(out / f"{label}-window.png"))


def test_controls_fit_in_jupyterlab_with_the_file_browser_open(page, lab):
    base, token, root = lab
    _notebook(root)
    page.goto(f"{base}/lab/workspaces/t{uuid.uuid4().hex[:12]}/tree/{NAME}?reset&token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", state="attached", timeout=60_000)
    page.evaluate("window.jupyterapp.shell.activateById('filebrowser')")
    page.wait_for_function("""(name) => {
      const w = window.jupyterapp.shell.currentWidget;
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      return w && w.context && w.context.path === name && !!k && k.status === 'idle';
    }""", arg=NAME, timeout=120_000)
    browser_width = page.evaluate("document.querySelector('#filebrowser').getBoundingClientRect().width")
    assert browser_width > 150, "the file browser is not open"
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    problems = _measure_at_every_setting(page, "JupyterLab")
    assert not problems, "\n".join(problems)


def test_controls_fit_in_voila(browser, lab):
    from conftest import WINDOW

    base, token, root = lab
    _notebook(root)
    context = browser.new_context(viewport=WINDOW)
    page = context.new_page()
    try:
        page.goto(f"{base}/voila/render/{NAME}?token={token}", wait_until="commit", timeout=120_000)
        problems = _measure_at_every_setting(page, "Voila")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["02_one_gene_lm_vs_lmer.ipynb"])
def test_code_in_markdown_tables_is_not_broken_into_fragments(page, lab, name):
    # A code span in a table cell that wraps onto two lines reads as two fragments of a formula.
    base, token, _ = lab
    page.goto(f"{base}/lab/workspaces/t{uuid.uuid4().hex[:12]}/tree/{name}?reset&token={token}")
    page.wait_for_selector(".jp-RenderedMarkdown table code", state="attached", timeout=60_000)
    page.evaluate("window.jupyterapp.shell.activateById('filebrowser')")
    page.wait_for_timeout(500)
    broken = page.evaluate("""() => [...document.querySelectorAll('.jp-RenderedMarkdown td code')]
        .filter(c => c.getClientRects().length > 1).map(c => c.textContent)""")
    assert not broken, f"code spans wrapped in {name}'s tables: {broken}"
