"""The app of notebook 10 (your own data): load a CSV, pick a model, read everything about it.

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.

:class:`OwnDataApp` shows the formula and its R line at once (from
:func:`lmmedu.teach.comparison.check_choices`, which fits nothing), and on **Fit** what
:func:`lmmedu.teach.comparison.analyse_own_data` computes: the lm-vs-mixed-model comparison
with reasons, what each coefficient means, the per-group contrasts, residual diagnostics,
conditional modes and the design checklist, its rows labelled by the steps of the
model-building path. The **report** tab fills the reporting template
(:func:`lmmedu.teach.comparison.write_report`) for the fitted choices on its own button: its
profile intervals take about a second, so they are computed once per fit, when asked for.
"""

from __future__ import annotations

import html
import os
import re
import warnings
from dataclasses import dataclass, field, fields

import ipywidgets as widgets
import matplotlib.text
import matplotlib.pyplot as plt
import pandas as pd

from ...data.read import read_table
from ..comparison import (OwnDataAnalysis, analyse_own_data, check_choices, default_response, is_text_column,
                          plain_names, r_formula, write_report)
from ..comparison.layout import comparison_tables_html
from ..plots import PAGE_WIDTH, modes_panels, residual_panels
from .app import App, _table_html, control_style, error_html, png

__all__ = ["OwnDataResult", "OwnDataApp"]


def _describe(series):
    """A column's label in the dropdowns: its name and what it holds."""
    if is_text_column(series) or pd.api.types.is_bool_dtype(series):
        return f"{series.name} (text, {series.nunique()} levels)"
    return f"{series.name} (numbers)"


@dataclass(frozen=True, eq=False)
class OwnDataResult(OwnDataAnalysis):
    """What :meth:`OwnDataApp.update` computes for one set of choices: the analysis and its two figures."""

    #: PNG: residuals against fitted values and the QQ plot.
    residual_figure: bytes = field(default=b"", repr=False)
    #: PNG: conditional modes with their intervals.
    modes_figure: bytes = field(default=b"", repr=False)


def _modes_axes(model, max_levels=20):
    """Axes for the conditional modes: two columns of panels wide enough for their labels, so
    any number of grouping factors and slopes fits the output area without overprinting."""
    ranef = model.ranef_table()
    n = len(ranef[["group", "term"]].drop_duplicates())
    levels = min(int(ranef.groupby("group", observed=True)["level"].nunique().max()), max_levels)
    ncols = 1 if n == 1 else 2
    nrows = -(-n // ncols)
    fig = plt.figure(figsize=(min(4.4 * ncols, PAGE_WIDTH), nrows * (0.24 * levels + 2.2)), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.remove()
    return axes[:n]


def _plain_figure(fig):
    """The figure with every ``Q("cell area")`` in its titles and labels written as the learner's ``cell area``."""
    for text in fig.findobj(matplotlib.text.Text):
        shown = text.get_text()
        if "Q(" in shown:
            text.set_text(plain_names(shown))
    return fig


def _markdown_html(text):
    """The report's Markdown as HTML: paragraphs, a list, **bold** and `code` (all the report uses)."""
    out, items = [], []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        head = [ln for ln in lines if not ln.startswith("- ")]
        items = [ln[2:] for ln in lines if ln.startswith("- ")]
        para = html.escape(" ".join(head))
        para = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", para)
        para = re.sub(r"`(.+?)`", r"<code>\1</code>", para)
        out.append(f"<p>{para}</p>" + (_list_html(items) if items else ""))
    return "".join(out)


def _list_html(items):
    return "<ol>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ol>"


class OwnDataApp(App):
    """Your CSV, your model: comparison, meanings, contrasts, diagnostics and the checklist.

    Load a file with the path box and **Load**, or the upload button; pick the response (and
    whether to take its log), the fixed terms, the grouping factor(s) and any random slopes.
    Every change shows the formula and the R line at once; **Fit** fits the lm and the mixed
    model and fills the tabs.

    Parameters
    ----------
    source : str, path or bytes, optional
        A CSV file to load at once (see :func:`lmmedu.read_table`).
    response, log, fixed, interactions, groups, slopes
        Choices to start from (ignored when they are not columns of the file).

    Attributes
    ----------
    data : pandas.DataFrame or None
        The loaded table.
    path, load_button, upload
        How a file is loaded; ``source`` says what was read.
    response, log, fixed, interactions, groups, slopes
        The controls (values are the keyword arguments of :meth:`update`).
    formula_view : ipywidgets.HTML
        The formula and R line (the preview).
    comparison_view, meanings_view, contrasts_view, checklist_view : ipywidgets.HTML
    residual_plot, modes_plot : ipywidgets.Image
    report_button : ipywidgets.Button
        Writes the report of the fitted model (:meth:`write_report`).
    report_view : ipywidgets.HTML
        The filled report.
    report : ModelReport or None
        The last report written (None until the button is pressed after a fit).

    Examples
    --------
    >>> from lmmedu.data.datasets import data_dir
    >>> app = OwnDataApp(data_dir() / "replicates_between.csv", response="length", log=True, fixed=["treatment"],
    ...                  groups=["replicate"])
    >>> app.formula
    'log(length) ~ treatment + (1 | replicate)'
    >>> result = app.run()
    >>> result.comparison.table.loc["treatment[T.drug]", "varies_replicate"]
    'between'
    """

    title = ("<b>Your own data</b>: load a CSV, choose the response, the fixed terms and the grouping factors; "
             "the formula shows at once, <b>Fit</b> compares lm and mixed model and checks your design.")
    controls = ("response", "log", "fixed", "interactions", "groups", "slopes")
    live = False
    failure = "Could not fit this model"
    action = "fit"
    changed = "Choices changed: press <b>{button}</b> to {action} them."
    running = "Fitting the lm and the mixed model: the tabs fill in when it is done."
    #: The report tab before its button is pressed.
    report_prompt = ("<p>Press <b>Write the report</b> to fill the reporting template for the fitted model: units, "
                     "formula, variance components with profile intervals (about a second), df method, F tests, "
                     "effects with CIs, software versions.</p>")
    #: Status after a failed fit (the message under the button says why).
    not_fitted = "<b>Not fitted.</b> The line below says why; the tabs stay empty until a fit succeeds."

    def __init__(self, source=None, response=None, log=False, fixed=(), interactions=False, groups=(), slopes=()):
        style = control_style("grouping factor(s)", "random slopes for")[0]
        self.data = None
        self.formula = None
        self._loading = False
        shown = os.fspath(source) if isinstance(source, (str, os.PathLike)) else ""
        self.path = widgets.Text(value=shown, description="CSV file",
                                 placeholder="path, e.g. ../data/replicates_within.csv", style=style,
                                 layout=widgets.Layout(width="480px"))
        self.load_button = widgets.Button(description="Load", icon="folder-open", layout=widgets.Layout(width="90px"))
        self.upload = widgets.FileUpload(accept=".csv,.tsv,.txt", multiple=False, description="or upload")
        self.source = widgets.HTML()
        self.source.add_class("lmmedu-source")
        self.response = widgets.Dropdown(description="response", style=style, layout=widgets.Layout(width="420px"))
        self.log = widgets.ToggleButtons(options=[("log of the response", True), ("as measured", False)],
                                          value=bool(log), style={"button_width": "150px"})
        self.fixed = widgets.SelectMultiple(description="fixed terms", rows=5, style=style,
                                            layout=widgets.Layout(width="420px"))
        self.interactions = widgets.Checkbox(value=bool(interactions), description="all interactions (a*b)",
                                             indent=False)
        self.groups = widgets.SelectMultiple(description="grouping factor(s)", rows=5, style=style,
                                             layout=widgets.Layout(width="420px"))
        self.slopes = widgets.SelectMultiple(description="random slopes for", rows=5, style=style,
                                             layout=widgets.Layout(width="420px"))
        self.button = widgets.Button(description="Fit", button_style="primary", icon="play")
        self.button.add_class("lmmedu-run")
        self.formula_view = widgets.HTML()
        self.formula_view.add_class("lmmedu-readout")
        self.status = widgets.HTML("Choose, then press <b>Fit</b>.")
        self.status.add_class("lmmedu-status")
        # Right under the button, above the tabs: where the learner looks after pressing Fit.
        self.message = self.message_view()
        self.comparison_view = widgets.HTML()
        self.meanings_view = widgets.HTML()
        self.contrasts_view = widgets.HTML()
        self.checklist_view = widgets.HTML()
        self.residual_plot = widgets.Image(format="png", layout=widgets.Layout(max_width="900px"))
        self.modes_plot = widgets.Image(format="png", layout=widgets.Layout(max_width="900px"))
        self.report = None
        self.report_button = widgets.Button(description="Write the report", icon="file-text",
                                            layout=widgets.Layout(width="180px"))
        self.report_button.add_class("lmmedu-report-button")
        self.report_view = widgets.HTML(self.report_prompt)
        self.report_view.add_class("lmmedu-report")
        self.report_button.on_click(lambda _b: self.write_report())
        self.tabs = widgets.Tab(children=[self.comparison_view, self.meanings_view, self.contrasts_view,
                                          widgets.VBox([self.residual_plot, self.modes_plot]), self.checklist_view,
                                          widgets.VBox([self.report_button, self.report_view])])
        for i, title in enumerate(["lm vs mixed model", "coefficients", "contrasts", "diagnostics", "checklist",
                                   "report"]):
            self.tabs.set_title(i, title)
        self.load_button.on_click(lambda _b: self.load(self.path.value.strip()))
        self.upload.observe(self._uploaded, names="value")
        super().__init__(views=[
            widgets.HBox([self.path, self.load_button, self.upload]), self.source,
            widgets.HBox([widgets.VBox([self.response, self.fixed, self.groups, self.slopes]),
                          widgets.VBox([self.log, self.interactions])]),
            self.formula_view, widgets.HBox([self.button, self.status]), self.message, self.tabs])
        if source is not None:
            self.load(source, response=response, fixed=fixed, groups=groups, slopes=slopes)

    # -- loading --------------------------------------------------------------------------
    def load(self, source, name=None, response=None, fixed=None, groups=None, slopes=None):
        """Read a CSV (path or bytes), fill the dropdowns, and preview; returns the data or None.

        Choices not given keep their current values where the new file has those columns.
        """
        response = self.response.value if response is None else response
        fixed = self.fixed.value if fixed is None else fixed
        groups = self.groups.value if groups is None else groups
        slopes = self.slopes.value if slopes is None else slopes
        if isinstance(source, str) and not source:
            self.message.value = error_html("File not loaded", "type a path first, then press Load")
            return None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                data = read_table(source, name=name)
        except (ValueError, TypeError) as exc:
            self.message.value = error_html("File not loaded", exc)
            return None
        columns = [str(c) for c in data.columns]
        if len(columns) < 2:
            self.message.value = error_html(
                "File not loaded", f"it has one column only ({columns[0][:40]!r}), so its separator was not "
                "recognised; save it as a comma-separated CSV file")
            return None
        self.data = data
        options = [(_describe(data[c]), c) for c in columns]
        self._loading = True
        try:
            self.response.options = options
            self.response.value = response if response in columns else default_response(data)
            for control, chosen in ((self.fixed, fixed), (self.groups, groups), (self.slopes, slopes)):
                control.options = options
                control.value = tuple(c for c in chosen if c in columns)
        finally:
            self._loading = False
        info = data.attrs.get("lmmedu_source", {})
        sep = {",": "commas", ";": "semicolons (decimal commas read as points)", "\t": "tabs", "|": "'|'"}.get(
            info.get("sep"), "spaces")
        extra = "".join(f" {html.escape(str(w.message))}" for w in caught if issubclass(w.category, UserWarning))
        self.source.value = (f"Read {html.escape(info.get('name', 'the file'))}: {len(data):,} rows, {len(columns)} "
                             f"columns, separated by {sep}.{extra}")
        self.result = None
        # The tabs of the previous file would describe data that are no longer loaded.
        self._clear_views()
        self.status.value = "Choose, then press <b>Fit</b>."
        self.preview()
        return data

    def _clear_views(self):
        for view in (self.comparison_view, self.meanings_view, self.contrasts_view, self.checklist_view):
            view.value = ""
        self.residual_plot.value = self.modes_plot.value = b""
        self.report = None
        self.report_view.value = self.report_prompt

    def write_report(self):
        """Fill the reporting template for the model on screen (once per fit) and show it; returns the report.

        Without a fit, or when the choices changed since, says so in ``app.message`` and returns None.
        """
        if self.result is None or self.formula != self.result.formula:
            self.message.value = error_html("No report yet", "press Fit first: the report describes the fitted model")
            return None
        if self.report is None:
            model = self.result.comparison.lmm
            try:
                self.report = write_report(model, log=model.transform == "log", checklist=self.result.checklist)
            except ValueError as exc:
                self.message.value = error_html("Could not write the report", exc)
                return None
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.report.notes)
        self.report_view.value = (_markdown_html(self.report.markdown)
                                  + (f"<b>Notes on the intervals</b><ol>{notes}</ol>" if notes else ""))
        return self.report

    def failed(self, exc):
        """A fit that failed: clear the tabs (they showed other choices) and say so next to the button."""
        self._clear_views()
        self.status.value = self.not_fitted
        return True

    def _uploaded(self, change):
        files = change["new"]
        if files:
            f = files[0]
            self.load(bytes(f["content"]), name=f"'{f['name']}'")

    # -- the contract ---------------------------------------------------------------------
    def preview(self):
        """The formula and its R line for the current choices (no fit), or why there is none."""
        if self._loading:
            return
        try:
            formula, notes = check_choices(self.data, **self.settings())
        except ValueError as exc:
            self.formula = None
            self.formula_view.value = ""
            self.message.value = error_html("Cannot fit these choices", exc)
            return
        self.formula = formula
        self.message.value = ""
        self.formula_view.value = (
            f"<b>Python:</b> <code>lmmedu.compare({html.escape(repr(formula))}, data)</code><br>"
            f"<b>R:</b> <code>lmerTest::lmer({html.escape(r_formula(formula))}, data = d)</code>"
            + "".join(f"<br><i>{html.escape(n)}</i>" for n in notes))
        if self.result is not None:
            self.status.value = "Choices changed: press <b>Fit</b> to fit them."

    def update(self, response, log=False, fixed=(), interactions=False, groups=(), slopes=()):
        """Fit the lm and the mixed model of the choices and compute every tab; returns an :class:`OwnDataResult`."""
        a = analyse_own_data(self.data, response, log, fixed, interactions, groups, slopes)
        model = a.comparison.lmm
        # One panel above the other: each title (the formula and a finding) gets the whole width.
        residual_fig = plt.figure(figsize=(6.8, 7.0), layout="constrained")
        residual_panels(a.residuals, axes=residual_fig.subplots(2, 1))
        modes_fig = modes_panels(model, axes=_modes_axes(model))[0].figure
        return OwnDataResult(**{f.name: getattr(a, f.name) for f in fields(a)},
                             residual_figure=png(_plain_figure(residual_fig)),
                             modes_figure=png(_plain_figure(modes_fig)))

    def show(self, result):
        # A new fit: the report of the previous one no longer describes what is on screen.
        self.report = None
        self.report_view.value = self.report_prompt
        cmp = result.comparison
        t = cmp.table
        # The comparison's own layout: it fits the output area however many grouping factors a learner picks.
        self.comparison_view.value = (
            f"<p><code>{html.escape(result.formula)}</code></p>" + comparison_tables_html(cmp)
            + "<b>Why the standard errors differ</b> (one per row)" + _list_html(t["reason"])
            + "<b>In short</b>" + _list_html(cmp.interpretation())
            + (f"<b>Notes</b>{_list_html(result.notes)}" if result.notes else ""))
        m = result.meanings
        self.meanings_view.value = (
            _table_html(pd.DataFrame({"term": m["term"], "estimate": m["estimate"],
                                      "in cell means": m["cell_mean_formula"]}), 3)
            + "<b>What each coefficient means</b> (one per row)" + _list_html(m["meaning"]))
        c = result.contrasts
        if c is None:
            self.contrasts_view.value = "<p>No factor among the fixed terms: nothing to contrast.</p>"
        else:
            cols = [col for col in c.columns if col not in ("sentence", "t")]
            text = _list_html(c["sentence"]) if "sentence" in c.columns else ""
            self.contrasts_view.value = (
                "<p>Each level against the first, within every level of the other factors; p_adj: Holm over the "
                "whole table.</p>" + _table_html(pd.DataFrame(c[cols]), 3) + text)
        k = result.checklist
        self.checklist_view.value = (_table_html(k.drop(columns="detail"), 3)
                                     + "<b>Details</b> (one per row)" + _list_html(k["detail"]))
        self.residual_plot.value = result.residual_figure
        self.modes_plot.value = result.modes_figure
        self.status.value = (f"Fitted <code>{html.escape(result.formula)}</code> to {cmp.lmm.nobs:,} rows. "
                             f"<pre>{html.escape(result.r_code)}</pre>")
