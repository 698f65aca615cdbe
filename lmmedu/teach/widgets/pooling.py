"""The widgets of notebook 06 (shrinkage and random slopes).

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass as _dataclass

import ipywidgets as widgets
import pandas as pd

from .app import App, control_style, png

__all__ = ["SlopeView", "slope_view", "SlopeExplorer"]


@_dataclass(frozen=True, eq=False)
class SlopeView:
    """What the :class:`SlopeExplorer` shows for one setting.

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.pooling_table` with the truth.
    cov : pandas.DataFrame
        Estimated random-effect covariance (2 x 2).
    true_slope_sd, estimated_slope_sd : float
        SD of the replicates' drug effects in the simulation and in the fit.
    correlation : float
        Estimated intercept-slope correlation (NaN when a variance is 0).
    converged, singular : bool
    message : str
        Plain sentences about the fit that the numbers above do not say: its size and, for a
        singular fit, what that means (HTML-safe text).
    seconds : float
        Time to simulate and fit.
    """

    table: pd.DataFrame
    cov: pd.DataFrame
    true_slope_sd: float
    estimated_slope_sd: float
    correlation: float
    converged: bool
    singular: bool
    message: str
    seconds: float


def slope_view(slope_sd=0.15, n_replicates=10, cells=40, seed=33):
    """Simulate the pooling example, fit ``(1 + treatment|replicate)`` and describe the fit.

    Parameters
    ----------
    slope_sd : float, default 0.15
        True SD of the replicates' drug effects (log scale).
    n_replicates : int, default 10
    cells : int, default 40
        Typical cells per replicate (R3 always has 4).
    seed : int, default 33

    Returns
    -------
    SlopeView

    Examples
    --------
    >>> v = slope_view(slope_sd=0.0)
    >>> v.converged, v.true_slope_sd
    (True, 0.0)
    """
    import time
    import warnings

    from ...data.simulate import truth as _truth
    from ...stats.fit import fit
    from ..comparison import pooling_table, random_effect_cov, true_group_coefficients
    from ..studies import SLOPE_FORMULA, estimated_slope_sd, simulate_pooling

    start = time.perf_counter()
    data = simulate_pooling(seed, n_replicates=int(n_replicates), cells=int(cells), slope_sd=float(slope_sd))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit(SLOPE_FORMULA, data)
    table = pooling_table(model, truth=true_group_coefficients(_truth(data)))
    seconds = time.perf_counter() - start
    vc = model.varcomp
    corr = vc.loc[vc["term2"].notna(), "corr"]
    corr = float(corr.iloc[0]) if len(corr) else math.nan
    est = estimated_slope_sd(model)
    # The numbers (SDs, correlation, flags) are in the other fields; the message adds only what they do
    # not say, so a readout that shows both never repeats itself.
    parts = [f"{len(data):,} cells in {n_replicates} replicates."]
    if model.singular:
        parts.append("The fit sits on the boundary of what a covariance can be: the ellipse has collapsed to a "
                     "line (a slope SD of 0, or a correlation of +1 or -1), and every replicate's partial-pooling "
                     "estimate lies on that line, although the optimizer converged.")
    return SlopeView(table=table, cov=random_effect_cov(model), true_slope_sd=float(slope_sd),
                     estimated_slope_sd=est, correlation=corr, converged=bool(model.converged),
                     singular=bool(model.singular), message=" ".join(parts), seconds=seconds)


class SlopeExplorer(App):
    """Drive the SD of the replicate drug effects to 0 and watch the fit become singular.

    Sliders: the true SD of the replicates' drug effects, the number of replicates and the
    typical cells per replicate (replicate R3 always has 4). Every move simulates with the same
    seed, fits ``(1 + treatment|replicate)`` and redraws the shrinkage arrows with the
    estimated covariance ellipse; the readout gives the estimated vs true SD and the
    converged and singular flags.

    Examples
    --------
    >>> app = SlopeExplorer()
    >>> app.slope_sd.value = 0.0
    >>> app.result.true_slope_sd, "Singular" in app.readout.value
    (0.0, True)
    """

    title = ("<b>Random slope SD</b>: drive the true SD of the replicates' drug effects toward 0 and watch "
             "the fit become singular.")

    controls = ("slope_sd", "n_replicates", "cells")
    CELL_OPTIONS = (8, 16, 40, 100, 250)

    def __init__(self, slope_sd=0.15, n_replicates=10, cells=40, seed=33):
        style, width = control_style("SD of replicate drug effects", "cells per replicate")
        layout = widgets.Layout(width=width)
        self.seed = seed
        self.slope_sd = widgets.FloatSlider(value=slope_sd, min=0.0, max=0.4, step=0.025, readout_format=".3f",
                                            description="SD of replicate drug effects", style=style, layout=layout,
                                            continuous_update=False)
        self.n_replicates = widgets.IntSlider(value=n_replicates, min=3, max=20, description="replicates",
                                              style=style, layout=layout, continuous_update=False)
        self.cells = widgets.SelectionSlider(options=self.CELL_OPTIONS, value=cells, description="cells per replicate",
                                             style=style, layout=layout, continuous_update=False)
        self.readout = widgets.HTML()
        self.readout.add_class("lmmedu-readout")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        super().__init__(views=[self.slope_sd, self.n_replicates, self.cells, self.readout, self.plot])

    def update(self, slope_sd, n_replicates, cells):
        """Simulate and fit for these settings; returns a :class:`SlopeView` (touches no widget)."""
        return slope_view(slope_sd=slope_sd, n_replicates=n_replicates, cells=cells, seed=self.seed)

    def show(self, result):
        """Write the readout and the shrinkage picture."""
        from ..plots import new_axes, shrinkage_plot

        yes_no = {True: "yes", False: "no"}
        singular = ("<b style='color:#b35806'>yes</b>" if result.singular else "<b>no</b>")
        corr = "not defined" if not math.isfinite(result.correlation) else f"{result.correlation:+.2f}"
        self.readout.value = (f"<p>Estimated SD <b>{result.estimated_slope_sd:.3f}</b> (true "
                              f"{result.true_slope_sd:.3f}); intercept-slope correlation {corr}. "
                              f"Converged: <b>{yes_no[result.converged]}</b>. Singular: {singular}.</p>"
                              f"<p>{html.escape(result.message)}</p>")
        ax = new_axes(None, (7.5, 4.6))
        shrinkage_plot(result.table, result.cov.to_numpy(), ax=ax)
        self.plot.value = png(ax.figure, dpi=72)
