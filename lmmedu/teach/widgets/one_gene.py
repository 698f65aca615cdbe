"""Notebook 02's app: lm and mixed-model standard errors of one gene as the replicate SD moves."""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..comparison import se_table
from .app import App, _labelled, control_style


__all__ = ["StandardErrorExplorer"]


def _se_html(table, message):
    rows = []
    for term, r in table.iterrows():
        arrow = "up" if r["se_ratio"] > 1.05 else ("down" if r["se_ratio"] < 0.95 else "about the same")
        rows.append(
            f"<tr><td><code>{html.escape(term)}</code></td><td>{html.escape(r['varies'])}</td>"
            f"<td>{r['se_lm']:.4f}</td><td>{r['se_lmm']:.4f}</td><td>{r['se_ratio']:.2f} ({arrow})</td>"
            f"<td>{r['df_lm']:,.0f}</td><td>{r['df_lmm']:,.1f}</td></tr>"
        )
    head = ("<tr><th>term</th><th>varies (replicates)</th><th>SE lm</th><th>SE mixed</th>"
            "<th>ratio</th><th>df lm</th><th>df mixed</th></tr>")
    return (f"<div class='jp-RenderedHTMLCommon'><table>{head}{''.join(rows)}</table>"
            f"<p>{html.escape(message)}</p></div>")


class StandardErrorExplorer(App):
    """Move the replicate SD and watch the lm and mixed-model SEs and df of each term.

    One data set per slider value (same seed), both models fitted on every move (tens of
    milliseconds); the numbers are those of :func:`lmmedu.teach.comparison.se_table`.

    Examples
    --------
    >>> app = StandardErrorExplorer()
    >>> app.replicate_sd.value = 0.0
    >>> list(app.result.table.columns)
    ['varies', 'se_lm', 'se_lmm', 'se_ratio', 'df_lm', 'df_lmm']
    """

    title = "<b>Standard errors, lm vs mixed model</b>: move the replicate SD and watch each term's SE and df."

    controls = ("replicate_sd", "design")
    failure = "Could not fit"

    def __init__(self, replicate_sd=0.2, design="within", seed=2023):
        style, width = control_style("replicate SD (log scale)")
        self.replicate_sd = widgets.FloatSlider(value=replicate_sd, min=0.0, max=0.8, step=0.05,
                                                description="replicate SD (log scale)", style=style,
                                                layout=widgets.Layout(width=width), continuous_update=False)
        self.design = widgets.ToggleButtons(options=["within", "between"], value=design)
        self.table = widgets.HTML()
        self.table.add_class("lmmedu-se-table")
        self.seed = seed
        super().__init__(views=[self.replicate_sd, _labelled("design", self.design, style["description_width"]),
                                self.table])

    def update(self, replicate_sd, design):
        """:func:`lmmedu.teach.comparison.se_table` for these settings."""
        return se_table(replicate_sd, design, seed=self.seed)

    def show(self, result):
        self.table.value = _se_html(result.table, result.message)
