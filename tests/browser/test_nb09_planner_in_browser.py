"""Notebook 09's planner in a real JupyterLab: the preview follows a slider, Run simulates.

Uses the fixtures of tests/browser/conftest.py (Debian's chromium, a temporary JupyterLab).
"""

from __future__ import annotations

import re

from test_widgets_in_browser import open_and_run


def test_planner_previews_on_a_slider_and_runs_from_the_button(page, lab):
    open_and_run(page, lab, "09_planning_an_experiment.ipynb")
    readout = page.locator(".lmmedu-readout")
    readout.wait_for(state="attached", timeout=120_000)
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-readout').textContent.includes('(3 df)')", timeout=120_000)
    readout.scroll_into_view_if_needed()

    # One replicate more: the closed form answers at once, no simulation.
    handle = page.locator(".lmmedu-plan-replicates .noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-readout').textContent.includes('(4 df)')", timeout=15_000)
    assert re.search(r"10,000 cells in 5 replicates", readout.text_content())

    page.locator(".lmmedu-run").click()
    page.wait_for_function(
        "() => document.querySelector('.lmmedu-status').textContent.startsWith('Ran 200 experiments without')",
        timeout=120_000)
    status = page.locator(".lmmedu-status").text_content()
    assert "5 replicates" in status and "t-test on replicate means" in status
    # The status and the table are separate widget updates: wait for the table rather than race it.
    page.wait_for_selector(".lmmedu-rates table", timeout=30_000)
    assert page.locator(".lmmedu-rates table").count() >= 1
