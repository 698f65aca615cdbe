"""Every notebook with a widget app, run in a real browser: in JupyterLab and in app mode (Voila).

For each notebook that builds an :class:`lmmedu.teach.widgets.App` (found in its code, so a new
notebook is picked up when it arrives), in a 1,280-px-wide window:

- all cells run, and no cell ends in an error (read from the notebook model in JupyterLab, from
  the page in Voila), and no widget shows "Error displaying widget";
- every app on the page is operated once through a control (a slider key press, a toggle
  button, a dropdown) and what it displays (its text and figures) must change, without an error
  message from the app; an app whose controls only take effect on **Run** gets its cheapest
  setting and one Run;
- no output, table or figure, is wider than the notebook's output area;
- in Voila, the cells tagged ``app-hide`` (exercises, solutions, instructor notes) are absent.

To stay within CI's time, all notebooks are opened at once in separate tabs (one JupyterLab
server for the session; the kernels run in parallel), then checked one by one.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import nbformat
import pytest
from conftest import WINDOW

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_MS = 240_000
CHANGE_TIMEOUT_MS = 60_000


def _app_names():
    import inspect

    from lmmedu.teach import widgets
    return {name for name, obj in inspect.getmembers(widgets, inspect.isclass)
            if issubclass(obj, widgets.App) and obj is not widgets.App}


def _app_count(path, names):
    # Apps the notebook shows: a cell that builds one and ends with its name (apps built only to read their
    # messages, e.g. in a loop over bad files, are never displayed).
    shown = 0
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        last = cell.source.strip().splitlines()[-1].strip()
        built = {m.group(1) for name in names
                 for m in re.finditer(rf"^(\w+)\s*=\s*{name}\(", cell.source, flags=re.M)}
        shown += sum(last in (v, f"display({v})") for v in built)
        shown += sum(len(re.findall(rf"^\s*(?:display\()?{name}\(", cell.source, flags=re.M)) for name in names)
    return shown


def widget_notebooks():
    names = _app_names()
    found = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        n = _app_count(path, names)
        if n:
            found.append((path.name, n))
    return found


WIDGET_NOTEBOOKS = widget_notebooks()
IDS = [name[:2] for name, _ in WIDGET_NOTEBOOKS]

# ---------------------------------------------------------------------------------------------
# Page-side helpers
# ---------------------------------------------------------------------------------------------
# State of "Run all" in the current JupyterLab notebook: error (with the cell), done, or running.
LAB_STATE_JS = """(name) => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== name || !w.content) return {state: 'loading'};
  const k = w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  for (const [i, c] of cells.entries()) {
    const outs = c.model.outputs.toJSON();
    const err = outs.find(o => o.output_type === 'error');
    if (err) return {state: 'error', cell: c.model.id, error: err.ename + ': ' + err.evalue};
  }
  const pending = cells.filter(c => c.model.executionCount === null || c.promptNode?.textContent?.includes('*'));
  if (pending.length || !k || k.status !== 'idle') return {state: 'running', pending: pending.length};
  return {state: 'done'};
}"""

# Every app root (the VBox whose first child is the title line) gets an index attribute.
MARK_APPS_JS = """() => {
  const titles = Array.from(document.querySelectorAll('.lmmedu-title'));
  titles.forEach((t, i) => t.parentElement.setAttribute('data-lmmedu-app', String(i)));
  return titles.length;
}"""

# What an app displays: its text views and figures (controls' own readouts excluded).
SIGNATURE_JS = """(i) => {
  const root = document.querySelector(`[data-lmmedu-app="${i}"]`);
  if (!root) return null;
  const parts = [];
  root.querySelectorAll('.widget-html-content, .widget-output').forEach(el => {
    if (!el.closest('.lmmedu-title')) parts.push(el.innerText);
  });
  root.querySelectorAll('img').forEach(img => parts.push(img.src.length + ':' + img.src.slice(-200)));
  return parts.join('\\n');
}"""

MESSAGE_JS = """(i) => {
  const m = document.querySelector(`[data-lmmedu-app="${i}"] .lmmedu-message`);
  return m ? m.innerText.trim() : '';
}"""

# Outputs (and the tables and figures inside them) wider than the output area.
OVERFLOW_JS = """() => {
  const bad = [];
  const areas = document.querySelectorAll('.jp-OutputArea-output');
  areas.forEach((area, k) => {
    const width = area.clientWidth;
    if (!width) return;
    const cell = area.closest('[data-lmmedu-cell]') || area.closest('.jp-Cell');
    const where = (cell && (cell.getAttribute('data-lmmedu-cell') || cell.id)) || ('output ' + k);
    if (area.scrollWidth > width + 2) bad.push(`${where}: output ${area.scrollWidth} px wide in ${width} px`);
    area.querySelectorAll('table').forEach(t => {
      if (t.scrollWidth > width + 2) bad.push(`${where}: table ${t.scrollWidth} px wide in ${width} px`);
    });
    area.querySelectorAll('img').forEach(img => {
      // A figure wider than the area is shrunk by the browser: its text becomes too small to read.
      const natural = img.naturalWidth / (window.devicePixelRatio || 1);
      if (natural > width + 2) bad.push(`${where}: figure ${Math.round(natural)} px wide in ${width} px (shrunk)`);
    });
  });
  return bad;
}"""

# Label JupyterLab cells with their notebook cell id, so a failure names the cell.
LABEL_LAB_CELLS_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  w.content.widgets.forEach(c => c.node.setAttribute('data-lmmedu-cell', c.model.id));
}"""


def _load_lab(browser, lab, name):
    base, token, _ = lab
    context = browser.new_context(viewport=WINDOW)
    page = context.new_page()
    page.set_default_timeout(60_000)
    workspace = "t" + uuid.uuid4().hex[:12]
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}", wait_until="commit")
    return page


def _run_all(page, name):
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", state="attached", timeout=180_000)
    page.wait_for_function("""(name) => {
      const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      return !!w && w.context && w.context.path === name && !!k && k.status === 'idle';
    }""", arg=name, timeout=180_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def _open_lab(browser, lab, name):
    page = _load_lab(browser, lab, name)
    _run_all(page, name)
    return page


def _open_voila(browser, lab, name):
    base, token, _ = lab
    context = browser.new_context(viewport=WINDOW)
    page = context.new_page()
    page.set_default_timeout(60_000)
    # Voila streams the page while it runs the cells; do not wait for the load event.
    page.goto(f"{base}/voila/render/{name}?token={token}", wait_until="commit", timeout=90_000)
    return page


def _selected(request, test_name):
    """The notebooks of the selected tests named `test_name` (all of them, without ``-k``)."""
    return [item.callspec.params["name"] for item in request.session.items
            if getattr(item, "originalname", None) == test_name and hasattr(item, "callspec")]


@pytest.fixture(scope="session")
def lab_pages(browser, lab, request):
    """Every widget notebook opened in its own JupyterLab tab, all running at once."""
    names = _selected(request, "test_notebook_runs_and_its_apps_answer_in_jupyterlab")
    # Load every tab first, then start each once its kernel is up: kernels start in parallel.
    pages = {name: _load_lab(browser, lab, name) for name in names}
    for name, page in pages.items():
        _run_all(page, name)
    yield pages
    for page in pages.values():
        page.context.close()


@pytest.fixture(scope="session")
def voila_pages(browser, lab, request):
    """Every widget notebook in app mode (Voila), all running at once."""
    pages = {name: _open_voila(browser, lab, name)
             for name in _selected(request, "test_notebook_runs_and_its_apps_answer_in_voila")}
    yield pages
    for page in pages.values():
        page.context.close()


def _screenshots(page, name):
    """With ``LMMEDU_SCREENSHOTS=DIR``, one PNG per cell output, for a person to look at."""
    folder = os.environ.get("LMMEDU_SCREENSHOTS")
    if not folder:
        return
    out = Path(folder) / name.removesuffix(".ipynb")
    out.mkdir(parents=True, exist_ok=True)
    for cell in page.locator("[data-lmmedu-cell]").all():
        outputs = cell.locator(".jp-OutputArea-output")
        if outputs.count():
            cell.locator(".jp-Cell-outputWrapper").first.screenshot(
                path=str(out / f"{cell.get_attribute('data-lmmedu-cell')}.png"))


def _no_widget_errors(page):
    text = page.evaluate("() => document.body.innerText")
    assert "Error displaying widget" not in text


def _operate(page, i):
    """Operate one control of app `i`; return (what was done, the display before, after)."""
    root = page.locator(f'[data-lmmedu-app="{i}"]')
    root.scroll_into_view_if_needed()
    page.wait_for_function(f"() => ({SIGNATURE_JS})({i}) !== null")
    before = page.evaluate(SIGNATURE_JS, i)
    done = None
    handles = root.locator(".noUi-handle")
    toggles = root.locator(".widget-toggle-button:not(.mod-active)")
    if handles.count():
        handle = handles.first
        readout = root.locator(".widget-readout").first
        old = readout.inner_text()
        handle.focus()
        page.keyboard.press("ArrowRight")
        if readout.inner_text() == old:  # at the right end: move left instead
            page.keyboard.press("ArrowLeft")
            page.keyboard.press("ArrowLeft")
        done = f"slider {old} -> {readout.inner_text()}"
    elif toggles.count():
        label = toggles.first.inner_text()
        toggles.first.click()
        done = f"toggle {label}"
    else:
        select = root.locator("select").first
        options = select.locator("option").all_inner_texts()
        select.select_option(index=1 if len(options) > 1 else 0)
        done = "dropdown"
    try:
        page.wait_for_function(f"(b) => ({SIGNATURE_JS})({i}) !== b", arg=before, timeout=10_000)
    except Exception:
        # Controls of a Run-button app may only take effect on Run: fewest experiments, one Run.
        run = root.locator(".lmmedu-run")
        if not run.count():
            raise AssertionError(f"app {i}: {done} changed nothing it displays within 10 s") from None
        if handles.count():
            handles.first.focus()
            page.keyboard.press("Home")
        run.first.click()
        done += ", then Run"
        page.wait_for_function(f"(b) => ({SIGNATURE_JS})({i}) !== b", arg=before, timeout=CHANGE_TIMEOUT_MS)
    # Wait until the app has settled (a Run may still be counting).
    page.wait_for_function("(i) => !document.querySelector(`[data-lmmedu-app=\"${i}\"] .lmmedu-run:disabled`)",
                           arg=i, timeout=CHANGE_TIMEOUT_MS)
    return done, before, page.evaluate(SIGNATURE_JS, i)


def _operate_every_app(page, expected):
    # Widget views render after the cells' outputs arrive (in Voila, after the page shows).
    try:
        page.wait_for_function("(n) => document.querySelectorAll('.lmmedu-title').length >= n", arg=expected,
                               timeout=CHANGE_TIMEOUT_MS)
    except Exception:
        pass  # the assertion below says how many rendered
    n = page.evaluate(MARK_APPS_JS)
    assert n == expected, f"{n} widget apps rendered, the notebook builds {expected}"
    for i in range(n):
        done, before, after = _operate(page, i)
        assert after != before, f"app {i}: {done} changed nothing it displays"
        message = page.evaluate(MESSAGE_JS, i)
        assert not message, f"app {i}: {done} -> {message}"
    _no_widget_errors(page)


@pytest.mark.parametrize(("name", "n_apps"), WIDGET_NOTEBOOKS, ids=IDS)
def test_notebook_runs_and_its_apps_answer_in_jupyterlab(lab_pages, name, n_apps):
    page = lab_pages[name]
    page.bring_to_front()
    state = {}
    page.wait_for_function(f"(n) => ['done', 'error'].includes(({LAB_STATE_JS})(n).state)", arg=name,
                           timeout=RUN_TIMEOUT_MS, polling=500)
    state = page.evaluate(LAB_STATE_JS, name)
    assert state["state"] == "done", f"cell {state.get('cell')}: {state.get('error')}"
    page.evaluate(LABEL_LAB_CELLS_JS)
    _no_widget_errors(page)
    _operate_every_app(page, n_apps)
    _screenshots(page, name)
    overflow = page.evaluate(OVERFLOW_JS)
    assert not overflow, "outputs wider than the output area at 1,280 px:\n" + "\n".join(overflow)


VOILA_DONE_JS = """() => {
  const cells = document.getElementById('rendered_cells');
  return !!cells && cells.style.display !== 'none' && !document.getElementById('loading');
}"""


@pytest.mark.parametrize(("name", "n_apps"), WIDGET_NOTEBOOKS, ids=IDS)
def test_notebook_runs_and_its_apps_answer_in_voila(voila_pages, name, n_apps):
    page = voila_pages[name]
    page.bring_to_front()
    page.wait_for_function(VOILA_DONE_JS, timeout=RUN_TIMEOUT_MS, polling=500)
    text = page.evaluate("() => document.body.innerText")
    for sign in ("There was an error when executing cell", "An exception occurred at the server", "Traceback"):
        assert sign not in text, f"app mode shows an error: {text[text.find(sign):][:300]}"
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0 \
        or "Error" not in " ".join(page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts())
    # The cells tagged app-hide (exercises, solutions, instructor notes) are left out.
    cells = nbformat.read(ROOT / "notebooks" / name, as_version=4).cells
    kept = sum("app-hide" not in c.metadata.get("tags", []) for c in cells)
    shown = page.locator("#rendered_cells .jp-Cell").count()
    assert shown == kept, f"app mode shows {shown} cells, the notebook has {kept} without the app-hide tag"
    assert "Instructor note" not in text
    _operate_every_app(page, n_apps)
    overflow = page.evaluate(OVERFLOW_JS)
    assert not overflow, "outputs wider than the output area at 1,280 px (app mode):\n" + "\n".join(overflow)
