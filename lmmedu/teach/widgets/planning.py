"""The widgets of notebook 09 (planning an experiment).

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass as _dataclass

import ipywidgets as widgets
import pandas as pd

from .app import App, _labelled, control_style, error_html, png, widened

__all__ = ["plan_readout", "PlanResult", "PowerPlanner"]


def _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, residual_sd=0.5):
    from ..studies import effect_from_percent, planned_power, replicate_sd_for_icc

    return planned_power(int(n_replicates), int(cells_per_replicate), effect_from_percent(float(percent)),
                         design=design, replicate_sd=replicate_sd_for_icc(float(icc), residual_sd),
                         replicate_treatment_sd=float(replicate_treatment_sd), residual_sd=residual_sd)


def plan_readout(design="within", n_replicates=4, cells_per_replicate=2000, icc=0.14, replicate_treatment_sd=0.1,
                 percent=10.0, n_sims=200, residual_sd=0.5):
    """What a planned design implies before any simulation: design effect, closed-form power, smallest effect.

    Parameters
    ----------
    design : {"within", "between"}
    n_replicates, cells_per_replicate : int
    icc : float
        Share of the variance of a measurement that lies between replicates (sets the replicate SD).
    replicate_treatment_sd : float
        SD of the replicate-to-replicate variation of the drug effect (log scale).
    percent : float
        True drug effect as a percent change in length.
    n_sims : int
        Ignored here (the app's Run uses it); accepted so the app's settings can be passed as they are.
    residual_sd : float, default 0.5

    Returns
    -------
    str
        HTML, computed by :func:`lmmedu.teach.studies.planned_power` (milliseconds).

    Examples
    --------
    >>> "design effect" in plan_readout()
    True
    """
    plan = _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, residual_sd)
    parts = [f"{plan['n_cells']:,} cells in {plan['n_replicates']} replicates. The design effect of the drug "
             f"comparison is {plan['design_effect']:.2f}: the cells carry as much information about the drug as "
             f"{plan['n_effective']:,.0f} independent cells would."]
    if design == "within":
        parts.append("The ICC does not enter: every replicate has both arms, so its own level cancels from its "
                     "drug-minus-control difference. What is left is how much the drug effect itself varies "
                     "between replicates.")
    else:
        parts.append(f"Each replicate is one arm, so replicate levels (ICC {float(icc):.2f}) and the variation "
                     "of the drug effect both count against the drug.")
    if plan["problem"]:
        parts.append(f"<span style='color:#b35806'>{html.escape(plan['problem'])}</span>")
    else:
        parts.append(f"Closed-form power of the t-test on replicate means ({plan['df']:.0f} df) for a "
                     f"{float(percent):.0f}% change: <b>{plan['power']:.0%}</b>. The smallest change this design "
                     f"detects with 80% power: <b>{plan['mde_percent']:.0f}%</b>.")
    return "<br>".join(parts)


@_dataclass(frozen=True, eq=False)
class PlanResult:
    """What the :class:`PowerPlanner` shows after a run.

    Attributes
    ----------
    plan : pandas.Series
        The closed form (:func:`lmmedu.teach.studies.planned_power`).
    table : pandas.DataFrame
        False-positive rate and power of each analysis
        (:func:`lmmedu.teach.studies.power_and_false_positives`).
    rates : pandas.DataFrame
        The study's rates table.
    summary : str
        One sentence.
    """

    plan: pd.Series
    table: pd.DataFrame
    rates: pd.DataFrame
    summary: str


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
    rewrites the readout (:func:`plan_readout`, milliseconds); **Run** simulates the design
    with :func:`lmmedu.teach.studies.replicate_power_study` with and without the effect and
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
        from ..studies import effect_from_percent, power_and_false_positives, replicate_power_study, replicate_sd_for_icc

        plan = _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent)
        rates = replicate_power_study(effect_from_percent(float(percent)), design=design,
                                      n_replicates=int(n_replicates), cells_per_replicate=int(cells_per_replicate),
                                      replicate_sd=replicate_sd_for_icc(float(icc)),
                                      replicate_treatment_sd=float(replicate_treatment_sd), n_sims=int(n_sims),
                                      seed=self.seed, progress=self._tick)
        table = power_and_false_positives(rates)
        parts = []
        for r in table.itertuples():
            fp = f"{r.false_positive_rate:.0%} false positives" if pd.notna(r.false_positive_rate) else "not testable"
            pw = f", {r.power:.0%} power" if pd.notna(r.power) else ""
            parts.append(f"{r.analysis}: {fp}{pw}")
        summary = (f"Ran {int(n_sims)} experiments without and {int(n_sims)} with a {float(percent):.0f}% effect "
                   f"({design} design, {int(n_replicates)} replicates x {int(cells_per_replicate):,} cells). "
                   + "; ".join(parts) + ".")
        if float(percent) == 0:
            summary += " With no effect, only false positives are counted."
        if plan["problem"]:
            summary += " " + plan["problem"]
        return PlanResult(plan=plan, table=table, rates=rates, summary=summary)

    def show(self, result):
        from ..plots import power_rates_plot

        self.status.value = html.escape(result.summary)
        self.table.value = _plan_table_html(result.table)
        ax = power_rates_plot(result.table, expected=float(result.plan["power"]))
        self.plot.value = png(ax.figure)
