"""Notebook 03's app: one data set under every coding of its factors."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from ..cells import CODINGS, coding_view, levels
from ..plots import cell_means_plot, new_figure
from .app import App, Frames, _table_html


__all__ = ["CodingExplorer"]


class CodingExplorer(App):
    """Refit one data set under different codings and compare what changes.

    Choose the reference gene, the reference treatment or sum coding: the coefficient table
    changes, the cell means and fitted values stay put (the largest change since the default
    coding is shown, at numerical zero). The numbers are those of
    :func:`lmmedu.teach.cells.coding_view`.

    Parameters
    ----------
    data : pandas.DataFrame
        Measurements with the response, ``gene`` and ``treatment`` columns (and the grouping
        column of ``random``).
    response : str, default "log(length)"
    random : str or None, default "(1|replicate)"
        Random-effects term(s) of the mixed model; None fits an ordinary linear model.
    gene, treatment : str
        Names of the two factor columns.

    Examples
    --------
    >>> import lmmedu
    >>> explorer = CodingExplorer(lmmedu.simulate_replicates(obs_per_replicate=20), random=None)
    >>> explorer.coding.value = "sum"
    >>> explorer.result.coding, explorer.result.reference_gene
    ('sum', None)
    """

    title = ("<b>One data set, many codings</b>: change the reference levels or the coding; coefficients "
             "change, cell means do not.")

    controls = ("reference_gene", "reference_treatment", "coding")
    failure = "Cannot fit this coding"

    def __init__(self, data, response="log(length)", random="(1|replicate)", gene="gene", treatment="treatment"):
        self.data, self.response, self.random = data, response, random
        self.gene, self.treatment = gene, treatment
        self._cache = {}
        self.default = self.update()  # also checks the arguments before any widget exists
        self.genes = levels(data[gene])
        self.treatments = levels(data[treatment])
        # Every coding the controls can choose, fitted now (a fit is about half of the 100 ms a
        # move may take, and there are only genes x treatments + 1 of them).
        for reference_gene in self.genes:
            for reference_treatment in self.treatments:
                self.update(reference_gene, reference_treatment)
        self.update(coding="sum")
        self._frames = None  # the figure, made on the first show
        style = {"description_width": "initial"}
        self.reference_gene = widgets.Dropdown(options=self.genes, value=self.genes[0],
                                               description="reference gene", style=style)
        self.reference_treatment = widgets.Dropdown(options=self.treatments, value=self.treatments[0],
                                                    description="reference treatment", style=style)
        self.coding = widgets.ToggleButtons(options=[(f"{c} coding", c) for c in CODINGS], value="treatment",
                                            description="coding")
        self.note = widgets.HTML()
        self.note.add_class("lmmedu-coding-note")  # a hook for the browser tests
        self.coefficients = widgets.HTML()
        self.cell_means = widgets.HTML(layout=widgets.Layout(margin="0 0 0 24px"))
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="560px"))
        super().__init__(views=[widgets.HBox([self.reference_gene, self.reference_treatment]), self.coding,
                                self.note, widgets.HBox([self.coefficients, self.cell_means]), self.plot])

    def formula(self, coding="treatment"):
        """The formula fitted under ``coding``."""
        return self.default.formula if coding == "treatment" else self._view(None, None, coding).formula

    def _view(self, reference_gene, reference_treatment, coding):
        if coding == "treatment":  # the default levels are the first ones: one fit, one key
            reference_gene = reference_gene or levels(self.data[self.gene])[0]
            reference_treatment = reference_treatment or levels(self.data[self.treatment])[0]
        key = (reference_gene, reference_treatment, coding)
        if key not in self._cache:
            self._cache[key] = coding_view(self.data, reference_gene, reference_treatment, coding,
                                           response=self.response, random=self.random, gene=self.gene,
                                           treatment=self.treatment)
        return self._cache[key]

    def update(self, reference_gene=None, reference_treatment=None, coding="treatment"):
        """:func:`lmmedu.teach.cells.coding_view` of the data (cached per coding).

        Returns
        -------
        CodingView
        """
        if coding == "sum":
            reference_gene = reference_treatment = None
        return self._view(reference_gene, reference_treatment, coding)

    def show(self, view):
        self.reference_gene.disabled = self.reference_treatment.disabled = view.coding == "sum"
        moved_fit = float(np.max(np.abs(view.fitted - self.default.fitted)))
        moved_cell = float(np.max(np.abs(view.cell_means["fitted_mean"].to_numpy()
                                          - self.default.cell_means["fitted_mean"].to_numpy())))
        verdict = "numerical zero: the same model" if max(moved_cell, moved_fit) < 1e-6 else "the model itself changed"
        self.note.value = (f"<p><code>{html.escape(view.formula)}</code><br>{html.escape(view.note)}<br>Largest change "
                           f"since the default coding: any cell mean {moved_cell:.1e}, any fitted value "
                           f"{moved_fit:.1e} ({verdict}).</p>")
        coefs = view.coefficients[["term", "estimate", "se"]].copy()
        coefs["in cell means (μ[treatment,gene])"] = view.meanings["cell_mean_formula"].to_numpy()
        self.coefficients.value = "<b>Coefficients (these change)</b>" + _table_html(coefs)
        # Only the model's means: next to the coefficients, the table must fit a 1,280 px JupyterLab.
        means = view.cell_means[[self.gene, self.treatment, "fitted_mean"]].rename(columns={"fitted_mean": "mean"})
        self.cell_means.value = "<b>Cell means (these stay put)</b>" + _table_html(means)
        label = (f"intercept = mean of the {len(view.cell_means)} cell means" if view.coding == "sum"
                 else f"intercept = cell ({view.reference_gene}, {view.reference_treatment})")
        intercept = float(view.coefficients["estimate"].iloc[0])
        if self._frames is None:
            self._frames = Frames(_frozen_figure(cell_means_plot(
                view.cell_means, intercept=intercept, intercept_label=label, gene=self.gene,
                treatment=self.treatment, ax=_figure().subplots())), [])
        else:  # the same figure, its intercept line and legend label moved
            cell_means_plot(view.cell_means, intercept=intercept, intercept_label=label, gene=self.gene,
                            treatment=self.treatment, ax=self._frames.fig.axes[0])
        self.plot.value = self._frames.png()


def _figure():
    """A figure like :func:`lmmedu.teach.plots.base.new_axes`'s (6 x 4 inches, constrained
    layout), outside pyplot, with its own Agg canvas, which keeps its caches between draws."""
    return new_figure((6, 4), pyplot=False, layout="constrained")


def _frozen_figure(ax):
    """The figure of ``ax`` as the explorer showed it (5.5 x 3.6 inches, laid out, cropped to
    its tight bounding box at 96 dpi), with that layout and crop fixed once for all.

    Laying out and measuring the crop on every draw was most of a move's cost, and no move
    changes them: only the intercept line and a label inside the Axes move.
    """
    import matplotlib as mpl

    fig = ax.figure
    fig.set_size_inches(5.5, 3.6)
    fig.set_dpi(96)
    fig.canvas.draw()  # lays the figure out, as savefig(bbox_inches="tight") does first
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(mpl.rcParams["savefig.pad_inches"])
    width, height = fig.get_size_inches()
    pos = ax.get_position()
    fig.set_layout_engine("none")
    fig.set_size_inches(box.width, box.height)
    ax.set_position([(pos.x0 * width - box.x0) / box.width, (pos.y0 * height - box.y0) / box.height,
                     pos.width * width / box.width, pos.height * height / box.height])
    return fig
