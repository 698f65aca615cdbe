"""The widgets of notebook 07 (p-values and model comparison).

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass as _dataclass

import ipywidgets as widgets
import pandas as pd

from ..studies.pvalues import wald_vs_t_preview, wald_vs_t_run
from .app import App, _table_html, control_style, error_html, png

# wald_vs_t_preview is computed in lmmedu.teach.studies and kept importable here, where the app uses it.
__all__ = ["wald_vs_t_preview", "WaldVsTResult", "WaldVsTMachine"]


@_dataclass(frozen=True)
class WaldVsTResult:
    """What :class:`WaldVsTMachine` shows after a run."""

    #: The :func:`lmmedu.teach.studies.rates_and_coverage` table of the run (one setting).
    table: pd.DataFrame
    #: One sentence with the two rates and coverages.
    summary: str
    #: PNG of the rates and coverage plot.
    figure: bytes


class WaldVsTMachine(App):
    """Wald z against Satterthwaite t: false-positive rate and interval coverage for one design.

    Sliders set the number of replicates, the measurements per replicate and the ICC; the drug
    is given to whole replicates and has no effect. A control change rewrites the preview
    (:func:`lmmedu.teach.studies.wald_vs_t_preview`); **Run** simulates ``n_sims`` experiments
    (:func:`lmmedu.teach.studies.wald_vs_t_run`), fits each once and tests the drug both ways.

    Parameters
    ----------
    n_groups, group_size, icc
        Starting values of the controls.
    n_sims : int, default 200
        Experiments per run.
    seed : int, default 7

    Examples
    --------
    >>> app = WaldVsTMachine(n_sims=4)
    >>> result = app.run(n_groups=4, group_size=5)
    >>> result.table["analysis"].tolist()
    ['Wald z (statsmodels)', 't, Satterthwaite df (lmerTest)']
    """

    title = ("<b>Wald z vs t with Satterthwaite df</b>: choose the number and size of groups and the ICC, "
             "press <b>Run</b> to count false positives of each test.")

    controls = ("n_groups", "group_size", "icc")
    live = False
    SIZE_OPTIONS = (2, 5, 10, 20, 50, 100, 200)

    def __init__(self, n_groups=4, group_size=20, icc=0.2, n_sims=200, seed=7):
        style, width = control_style("replicates (groups)", "measurements per replicate")
        layout = widgets.Layout(width=width)
        self.n_groups = widgets.IntSlider(value=n_groups, min=2, max=40, description="replicates (groups)",
                                          style=style, layout=layout, continuous_update=False)
        self.group_size = widgets.SelectionSlider(options=self.SIZE_OPTIONS, value=group_size,
                                                  description="measurements per replicate", style=style,
                                                  layout=layout, continuous_update=False)
        self.icc = widgets.FloatSlider(value=icc, min=0.0, max=0.9, step=0.05, description="ICC", style=style,
                                       layout=layout, continuous_update=False)
        (self.button, self.progress, self.readout, self.status, self.plot,
         self.table) = self.study_views(n_sims, button=f"Run {n_sims} experiments", plot_width="900px", style=style)
        self.button.layout.width = "220px"
        self.n_sims, self.seed = int(n_sims), seed
        super().__init__(views=[self.n_groups, self.group_size, self.icc, self.button, self.progress,
                                self.readout, self.status, self.plot, self.table])

    def preview(self):
        """Cheap text for the current sliders (no simulation)."""
        try:
            self.readout.value = wald_vs_t_preview(**self.settings())
            self.message.value = ""
        except Exception as exc:  # never raise from a slider
            self.message.value = error_html("Cannot simulate this setting", exc)

    def _tick(self, done, total):
        self.progress.max = total
        self.progress.value = done

    def update(self, n_groups, group_size, icc):
        """Simulate ``n_sims`` experiments at this setting; return a :class:`WaldVsTResult`."""
        from ..plots import wald_vs_t_panels

        run = wald_vs_t_run(n_groups, group_size, icc, n_sims=self.n_sims, seed=self.seed, progress=self._tick)
        return WaldVsTResult(table=run.table, summary=run.summary, figure=png(wald_vs_t_panels(run.table)[0].figure))

    def show(self, result):
        self.status.value = html.escape(result.summary)
        self.plot.value = result.figure
        t = result.table

        def pct(v):
            return "-" if pd.isna(v) else f"{v:.1%}"

        shown = pd.DataFrame({
            "test": t["analysis"], "experiments": t["n_sims"], "false positives": t["rate"].map(pct),
            "95% interval": [f"{pct(a)} to {pct(b)}" for a, b in zip(t["ci_low"], t["ci_high"])],
            "CI coverage": t["coverage"].map(pct),
            "typical df": t["median_df"].map(lambda v: "-" if pd.isna(v) else ("∞" if math.isinf(v) else f"{v:.1f}")),
            "singular fits": t["n_singular"],
        })
        self.table.value = _table_html(shown)
