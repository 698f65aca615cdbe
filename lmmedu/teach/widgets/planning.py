"""The widgets of notebook 09 (planning an experiment).

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd

from ..studies.planner import PlanResult, plan_readout, plan_run
from .app import App, _labelled, control_style, error_html, png, widened

# plan_readout and PlanResult are computed in lmmedu.teach.studies and kept importable here, where the app uses them.
__all__ = ["plan_readout", "PlanResult", "PowerPlanner"]


def _plan_pct(value):
    return "-" if pd.isna(value) else f"{value:.0%}"


def _plan_table_html(table):
    rows = []
    for r in table.itertuples():
        fp = (f"{_plan_pct(r.false_positive_rate)} ({_plan_pct(r.fp_low)} to {_plan_pct(r.fp_high)})"
              if pd.notna(r.false_positive_rate) else "not testable")
        pw = f"{_plan_pct(r.power)} ({_plan_pct(r.power_low)} to {_plan_pct(r.power_high)})" if pd.notna(r.power) else "-"
        df = "-" if pd.isna(r.median_df) or r.median_df == 0 else f"{r.median_df:,.0f}"
        rows.append(f"<tr><td>{html.escape(r.analysis)}</td><td>{fp}</td><td>{pw}</td><td>{df}</td></tr>")
    head = "<tr><th>analysis</th><th>false positives (95% CI)</th><th>power (95% CI)</th><th>df</th></tr>"
    return f"<div class='jp-RenderedHTMLCommon'><table>{head}{''.join(rows)}</table></div>"


class PowerPlanner(App):
    """More cells or more replicates? Closed-form preview on every move, simulation on **Run**.

    Controls: design, replicates, cells per replicate, ICC, SD of the replicate drug effects,
    true effect (percent change) and number of simulated experiments. A control change
    rewrites the readout (:func:`lmmedu.teach.studies.plan_readout`, milliseconds); **Run** simulates the
    design (:func:`lmmedu.teach.studies.plan_run`) with and without the effect and
    shows the false-positive rate and power of the naive lm and the t-test on replicate means,
    with 95% intervals and the closed-form power.

    Examples
    --------
    >>> app = PowerPlanner()
    >>> "closed-form power" in app.readout.value.lower()
    True
    >>> result = app.run(n_sims=20, cells_per_replicate=50)
    >>> result.table["analysis"].tolist()
    ['naive lm', 't-test on replicate means']
    """

    title = ("<b>Experiment planner</b>: more cells or more replicates? Move the sliders for the power at "
             "once; press <b>Run</b> to check it by simulation.")

    controls = ("design", "n_replicates", "cells_per_replicate", "icc", "replicate_treatment_sd", "percent", "n_sims")
    live = False
    CELL_OPTIONS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
    SIM_OPTIONS = (100, 200, 400)

    def __init__(self, design="within", n_replicates=4, cells_per_replicate=2000, icc=0.14,
                 replicate_treatment_sd=0.1, percent=10.0, n_sims=200, seed=9):
        style, width = control_style("SD of the drug effect between replicates", "true drug effect (% change)")
        layout = widgets.Layout(width=width)
        self.design = widgets.ToggleButtons(options=["within", "between"], value=design)
        self.n_replicates = widgets.IntSlider(value=n_replicates, min=2, max=16, description="replicates",
                                              style=style, layout=layout, continuous_update=False)
        self.n_replicates.add_class("lmmedu-plan-replicates")
        self.cells_per_replicate = widgets.SelectionSlider(options=self.CELL_OPTIONS, value=cells_per_replicate,
                                                           description="cells per replicate", style=style,
                                                           layout=layout, continuous_update=False)
        self.icc = widgets.FloatSlider(value=icc, min=0.0, max=0.5, step=0.01, description="ICC (replicate levels)",
                                       style=style, layout=layout, continuous_update=False)
        self.replicate_treatment_sd = widgets.FloatSlider(value=replicate_treatment_sd, min=0.0, max=0.3, step=0.01,
                                                          description="SD of the drug effect between replicates",
                                                          style=style, layout=layout, continuous_update=False)
        self.percent = widgets.FloatSlider(value=percent, min=0.0, max=50.0, step=1.0,
                                           description="true drug effect (% change)", style=style, layout=layout,
                                           continuous_update=False)
        self.n_sims = widgets.Dropdown(options=self.SIM_OPTIONS, value=n_sims, description="experiments",
                                       layout=widened(style, 110),
                                       style=style)
        (self.button, self.progress, self.readout, self.status, self.plot,
         self.table) = self.study_views(1, status="Press <b>Run</b> to simulate this design.", style=style)
        self.seed = seed
        super().__init__(views=[
            _labelled("design", self.design, style["description_width"]), self.n_replicates, self.cells_per_replicate, self.icc,
            self.replicate_treatment_sd, self.percent, widgets.HBox([self.n_sims, self.button]), self.progress,
            self.readout, self.status, self.plot, self.table,
        ])

    def _tick(self, done, total):
        self.progress.max = total
        self.progress.value = done

    def preview(self):
        """Rewrite the closed-form readout for the current controls (no simulation)."""
        try:
            self.readout.value = plan_readout(**self.settings())
            self.message.value = ""
        except Exception as exc:  # show, never raise, from a slider callback
            self.readout.value = ""
            self.message.value = error_html("Could not compute this setting", exc)

    def update(self, design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, n_sims):
        """Simulate the design with and without the effect; return a :class:`PlanResult` (touches only the progress bar)."""
        return plan_run(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, n_sims,
                        seed=self.seed, progress=self._tick)

    def show(self, result):
        from ..plots import power_rates_plot

        self.status.value = html.escape(result.summary)
        self.table.value = _plan_table_html(result.table)
        ax = power_rates_plot(result.table, expected=float(result.plan["power"]))
        self.plot.value = png(ax.figure)
