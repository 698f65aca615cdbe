"""The notebook widgets work in a real JupyterLab in a real browser.

Each test opens a notebook, runs all its cells through JupyterLab's own command, waits for a
widget to render, operates it like a learner (keyboard on a slider, a click on a button) and
checks that the text the widget shows changes accordingly. The Python-side logic is tested
without a browser in tests/test_widgets.py; these tests catch what only a frontend shows (a
missing widget extension, a callback that never fires, a view that does not update).
"""

from __future__ import annotations

import re
import uuid

from lmmedu.teach.comparison import design_effect_view
from lmmedu.teach.plots import design_effect_axes, shrinkage_axes


# True once the notebook `name` is the current tab and its kernel is idle.
READY_JS = """(name) => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== name) return false;
  const k = w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""


def open_and_run(page, lab, name):
    """Open `name` in a fresh workspace (no tabs restored from other tests) and run all cells."""
    base, token, _ = lab
    workspace = "t" + uuid.uuid4().hex[:12]
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", state="attached", timeout=60_000)
    page.wait_for_function(READY_JS, arg=name, timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def test_start_here_environment_check_reacts_to_the_slider(page, lab):
    open_and_run(page, lab, "00_start_here.ipynb")
    label = page.locator(".lmmedu-check-label")
    label.wait_for(state="attached", timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-check-label').textContent.includes('4 independent units')")
    label.scroll_into_view_if_needed()
    before = label.text_content()

    handle = page.locator(".lmmedu-check-slider .noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-check-label').textContent.includes('6 independent units')",
        timeout=15_000)
    after = label.text_content()
    assert after != before
    assert "6 replicate cultures" in after


def test_pseudo_replication_machine_runs_from_the_button(page, lab):
    open_and_run(page, lab, "01_replicates_and_pseudoreplication.ipynb")
    status = page.locator(".lmmedu-status")
    status.wait_for(state="attached", timeout=60_000)
    # The notebook runs the machine once from code (60 experiments, between design).
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-status').textContent.startsWith('Ran 60 experiments (between')",
        timeout=90_000)
    readout = page.locator(".lmmedu-readout")
    readout.scroll_into_view_if_needed()
    assert "design effect" in readout.text_content()

    # Switch the design: the readout changes at once, without a simulation.
    machine = page.locator(".widget-vbox", has=page.locator(".lmmedu-run")).last
    machine.get_by_role("button", name="within", exact=True).click()
    # The replicates' drug effects differ (SD 0.1 by default), and the readout says they do not cancel.
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-readout').textContent.includes('does not cancel')", timeout=15_000)
    assert "Settings changed" in status.text_content()

    # Run: 200 experiments of the within design.
    machine.locator(".lmmedu-run").click()
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-status').textContent.startsWith('Ran 200 experiments (within')",
        timeout=90_000)
    text = status.text_content()
    rates = dict(re.findall(r"(naive lm|t-test on replicate means|mixed model) (\d+)%", text))
    assert set(rates) == {"naive lm", "t-test on replicate means", "mixed model"}
    # Within design, no true effect, replicates that respond to the drug differently: the paired t-test
    # on replicate means stays near 5%, while (1|replicate) counts rows and is fooled more often.
    assert int(rates["t-test on replicate means"]) <= 12, text
    assert int(rates["mixed model"]) > int(rates["t-test on replicate means"]), text
    assert page.locator(".lmmedu-rates table").count() >= 1


def test_design_effect_explorer_redraws_on_a_slider_move(page, lab):
    open_and_run(page, lab, "05_why_standard_errors_differ.ipynb")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lmmedu-readout')].some(r => r.textContent.includes('ICC 0.05'))",
        timeout=120_000)
    app = page.locator(".widget-vbox", has=page.locator(".lmmedu-se-table")).last
    image = app.locator("img").first
    image.scroll_into_view_if_needed()
    before = image.get_attribute("src")

    # Two steps of the ICC slider: the readout, the table and the figure (a PNG the explorer
    # encodes itself, RGB) all follow, and the browser decodes the new figure.
    handle = app.locator(".widget-slider", has_text="ICC").first.locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lmmedu-readout')].some(r => r.textContent.includes('ICC 0.07'))",
        timeout=15_000)
    page.wait_for_function("([img, old]) => img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0",
                           arg=[image.element_handle(), before], timeout=15_000)
    size = design_effect_axes(pyplot=False)[0].figure.get_size_inches() * 96  # the explorer's PNG: 96 dpi
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [int(v) for v in size]
    # The table's update arrives on its own message, after the readout's and the figure's.
    moved = design_effect_view(icc=0.07)  # the notebook's explorer starts at the defaults
    page.wait_for_function("(se) => [...document.querySelectorAll('.lmmedu-se-table')].some(t => t.textContent.includes(se))",
                           arg=f"{moved.table.loc['treatment[T.drug]', 'se_lmm']:.4f}", timeout=15_000)


def test_coding_explorer_redraws_on_a_coding_change(page, lab):
    open_and_run(page, lab, "03_reading_coefficients.ipynb")
    notes_say = ("(text) => [...document.querySelectorAll('.lmmedu-coding-note')]"
                 ".some(n => n.textContent.includes(text))")
    page.wait_for_function(notes_say, arg="Largest change", timeout=120_000)
    app = page.locator(".widget-vbox", has=page.locator(".lmmedu-coding-note")).last
    image = app.locator("img").first
    image.scroll_into_view_if_needed()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=15_000)
    before, size = image.get_attribute("src"), image.evaluate("img => [img.naturalWidth, img.naturalHeight]")

    # Sum coding: the note, the coefficients and the figure (one figure redrawn in place, a PNG
    # the explorer encodes itself) all follow, and the browser decodes the new figure, of the same size.
    app.get_by_role("button", name="sum coding", exact=True).click()
    page.wait_for_function(notes_say, arg="no reference cell", timeout=15_000)
    page.wait_for_function("([img, old]) => img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0",
                           arg=[image.element_handle(), before], timeout=15_000)
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == size
    assert "numerical zero" in app.locator(".lmmedu-coding-note").text_content()


def test_slope_explorer_redraws_on_a_slider_move(page, lab):
    open_and_run(page, lab, "06_shrinkage_and_random_slopes.ipynb")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lmmedu-readout')].some(r => r.textContent.includes('(true 0.150)'))",
        timeout=120_000)
    app = page.locator(".widget-vbox", has=page.locator(".lmmedu-readout", has_text="Estimated SD")).last
    image = app.locator("img").first
    image.scroll_into_view_if_needed()
    before = image.get_attribute("src")

    # One step of the SD slider: a new fit, and the picture redrawn on the explorer's one figure
    # (a PNG it encodes itself), which the browser decodes.
    handle = app.locator(".widget-slider", has_text="SD of replicate drug effects").first.locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lmmedu-readout')].some(r => r.textContent.includes('(true 0.175)'))",
        timeout=15_000)
    page.wait_for_function("([img, old]) => img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0",
                           arg=[image.element_handle(), before], timeout=15_000)
    size = shrinkage_axes(pyplot=False).figure.get_size_inches() * 72  # the explorer's PNG: 72 dpi
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [int(v) for v in size]


def test_own_data_app_writes_the_report_from_its_button(page, lab):
    open_and_run(page, lab, "10_your_own_data.ipynb")
    # The notebook fits the first app from code: its status says so once the kernel has run that cell.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lmmedu-status')].some(s => s.textContent.startsWith('Fitted'))",
        timeout=120_000)
    app = page.locator(".widget-vbox", has=page.locator(".lmmedu-report-button")).first
    app.get_by_role("tab", name="report").click()
    report = app.locator(".lmmedu-report")
    assert "Write the report" in report.text_content()  # the prompt, before the button is pressed
    button = app.locator(".lmmedu-report-button")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-report').textContent.includes('Software.')", timeout=60_000)
    text = report.text_content()
    assert "Experimental units." in text and "profile intervals" in text and "df" in text


def test_sd_interval_explorer_reads_another_setting_when_a_slider_moves(page, lab):
    open_and_run(page, lab, "06_shrinkage_and_random_slopes.ipynb")
    readout = page.locator(".lmmedu-sd-readout")
    readout.wait_for(state="attached", timeout=120_000)
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-sd-readout').textContent.startsWith('4 replicates, true SD 0.2')",
        timeout=120_000)
    readout.scroll_into_view_if_needed()
    before = readout.text_content()
    assert "covered the truth" in before and "were singular" in before
    # The app's picture: the image among the readout's sibling views (the explorer redraws one figure in place).
    picture = "() => (document.querySelector('.lmmedu-sd-readout').parentElement.querySelector('img') || {}).src || ''"
    page.wait_for_function(f"() => ({picture})().startsWith('blob:') || ({picture})().startsWith('data:')")
    drawn = page.evaluate(picture)

    # One step right on the replicates slider: the cached study's next setting, no fit.
    handle = page.locator(".lmmedu-sd-replicates .noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-sd-readout').textContent.startsWith('6 replicates, true SD 0.2')",
        timeout=15_000)
    assert readout.text_content() != before
    page.wait_for_function(f"(drawn) => ({picture})() !== drawn", arg=drawn, timeout=15_000)
