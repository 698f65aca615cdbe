"""The widgets of notebook 06 (shrinkage and random slopes).

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
import math

import ipywidgets as widgets

from ..studies.pooling import SlopeView, slope_view
from .app import App, control_style, png

__all__ = ["SlopeView", "slope_view", "SlopeExplorer"]


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
