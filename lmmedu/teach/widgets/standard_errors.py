"""The widgets of notebook 05 (why standard errors differ).

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd

from .app import App, Frames, _labelled, control_style

__all__ = ["DesignEffectExplorer"]


class DesignEffectExplorer(App):
    """ICC, groups, group size, imbalance and where the drug varies -> lm and mixed-model SEs.

    Everything is computed exactly from the design (generalised least squares with the true
    variances, :func:`lmmedu.teach.comparison.design_effect_view`), so every move answers at
    once; the notebook checks the formulas against real fits.

    Attributes
    ----------
    icc, n_groups, group_size, imbalance, varies : ipywidgets widgets
        The controls.
    readout : ipywidgets.HTML
        Design effect, effective sample size and the lm's false-positive rate, in words.
    table : ipywidgets.HTML
        The SEs (``result.table``).
    plot : ipywidgets.Image
        :func:`lmmedu.teach.plots.design_effect_plot` as PNG.

    Examples
    --------
    >>> app = DesignEffectExplorer()
    >>> app.varies.value = "within"
    >>> bool(app.result.table.loc["treatment[T.drug]", "se_ratio"] < 1)
    True
    """

    title = ("<b>Design effect explorer</b>: change the clustering (ICC), the groups and their sizes; see how"
             " the lm's and the mixed model's SEs compare with the true spread.")

    controls = ("icc", "n_groups", "group_size", "imbalance", "varies")
    SIZE_OPTIONS = (2, 5, 10, 20, 50, 100, 200, 500, 1000)

    def __init__(self, icc=0.05, n_groups=10, group_size=50, imbalance=0.0, varies="between"):
        style, width = control_style("imbalance of sizes", "rows per group", "drug varies")
        layout = widgets.Layout(width=width)
        common = {"style": style, "layout": layout, "continuous_update": False}
        self.icc = widgets.FloatSlider(value=icc, min=0.0, max=0.8, step=0.01, readout_format=".2f",
                                       description="ICC", **common)
        self.n_groups = widgets.IntSlider(value=n_groups, min=2, max=100, description="groups", **common)
        self.group_size = widgets.SelectionSlider(options=self.SIZE_OPTIONS, value=group_size,
                                                  description="rows per group", **common)
        self.imbalance = widgets.FloatSlider(value=imbalance, min=0.0, max=0.9, step=0.1, readout_format=".1f",
                                             description="imbalance of sizes", **common)
        self.varies = widgets.ToggleButtons(options=[("within groups", "within"), ("between groups", "between"),
                                                     ("both", "both")], value=varies)
        self.readout = widgets.HTML()
        self.readout.add_class("lmmedu-readout")
        self.table = widgets.HTML()
        self.table.add_class("lmmedu-se-table")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="960px"))
        from ..plots import design_effect_axes

        # One figure for the app's life: every move updates its artists in place (design_effect_plot),
        # which costs a fraction of building and laying out a new figure.
        self._axes = design_effect_axes(pyplot=False)
        self._axes[0].figure.set_dpi(96)  # the PNG's resolution, set once: no draw switches it
        self._frames = None  # made on the first show, once the legend exists
        super().__init__(views=[self.icc, self.n_groups, self.group_size, self.imbalance,
                                _labelled("drug varies", self.varies, style["description_width"]), self.readout, self.plot,
                                self.table])

    def update(self, icc, n_groups, group_size, imbalance, varies):
        """The :class:`~lmmedu.teach.comparison.DesignEffectView` of these settings (no widget touched)."""
        from ..comparison import design_effect_view

        return design_effect_view(icc=icc, n_groups=n_groups, group_size=group_size, imbalance=imbalance,
                                  varies=varies)

    def show(self, result):
        from ..plots import design_effect_plot

        self.readout.value = "<br>".join(html.escape(line) for line in result.text.splitlines())
        design_effect_plot(result, axes=self._axes)
        if self._frames is None:
            # What no setting changes: the left panel's legend and both x-axis labels (below the
            # tick labels, whose height does not depend on the numbers).
            ax_se, ax_curve = self._axes
            self._frames = Frames(ax_se.figure, [ax_se.get_legend(), ax_se.xaxis.label, ax_curve.xaxis.label])
        self.plot.value = self._frames.png()
        shown = pd.DataFrame({
            "SE lm (reported)": result.table["se_lm"].map("{:.4f}".format),
            "true SD of lm estimate": result.table["sd_lm"].map("{:.4f}".format),
            "SE mixed model": result.table["se_lmm"].map("{:.4f}".format),
            "ratio": result.table["se_ratio"].map("{:.2f}".format),
            "term design effect": result.table["term_deff"].map("{:.2f}".format),
        })
        self.table.value = f"<div class='jp-RenderedHTMLCommon'>{shown.to_html(border=0)}</div>"
