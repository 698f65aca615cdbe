"""The widgets of notebook 05 (why standard errors differ).

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .app import App, _labelled, control_style

__all__ = ["DesignEffectExplorer"]


def _where(artist):
    """What a pasted artist shows and where: its texts and position on the canvas (after a draw)."""
    if hasattr(artist, "get_texts"):  # a legend: its labels, anchored to its Axes
        return tuple(t.get_text() for t in artist.get_texts()), tuple(artist.get_bbox_to_anchor().bounds)
    return artist.get_text(), artist.get_fontsize(), tuple(artist.get_transform().transform(artist.get_position()))


class _Frames:
    """One figure drawn again and again as PNG bytes, the pixels of its unchanging parts pasted.

    Text is most of the cost of a draw (FreeType renders it glyph by glyph), and some of a
    figure's text never changes: ``static`` artists (a legend, an axis label) are drawn once;
    later frames draw everything else and paste their pixels back. If one of them shows other
    text or sits elsewhere than when its pixels were kept, the frame is drawn whole and the
    pixels kept again, so a frame is always the figure as it is. The static artists must lie
    apart from everything that changes (outside the Axes, clear of the tick labels).

    The PNG has the pixels of ``fig.savefig(buffer, format="png")`` on an opaque figure,
    encoded cheaper: RGB (the alpha channel of an opaque figure is 255 everywhere) at zlib level
    3, which on these flat-coloured figures gives a file no larger than savefig's and takes
    about a third less time. No tight bounding box: fixed margins already fit, and a tight box
    would draw the figure twice.
    """

    def __init__(self, fig, static):
        self.fig, self.static, self._kept = fig, list(static), None

    def png(self):
        canvas = self.fig.canvas
        if self._kept is not None:
            places, regions = self._kept
            for artist in self.static:
                artist.set_visible(False)
            try:
                canvas.draw()
            finally:
                for artist in self.static:
                    artist.set_visible(True)
            if [_where(artist) for artist in self.static] == places:
                for region in regions:
                    canvas.restore_region(region)
                return self._encode()
        canvas.draw()
        renderer = canvas.get_renderer()
        # Two pixels around each box: antialiased edges of glyphs reach just past it.
        self._kept = ([_where(artist) for artist in self.static],
                      [canvas.copy_from_bbox(artist.get_window_extent(renderer).padded(2)) for artist in self.static])
        return self._encode()

    def _encode(self):
        from PIL import Image

        buffer = io.BytesIO()
        rgb = np.asarray(self.fig.canvas.buffer_rgba())[..., :3]
        Image.fromarray(rgb).save(buffer, format="png", compress_level=3)
        return buffer.getvalue()


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
            self._frames = _Frames(ax_se.figure, [ax_se.get_legend(), ax_se.xaxis.label, ax_curve.xaxis.label])
        self.plot.value = self._frames.png()
        shown = pd.DataFrame({
            "SE lm (reported)": result.table["se_lm"].map("{:.4f}".format),
            "true SD of lm estimate": result.table["sd_lm"].map("{:.4f}".format),
            "SE mixed model": result.table["se_lmm"].map("{:.4f}".format),
            "ratio": result.table["se_ratio"].map("{:.2f}".format),
            "term design effect": result.table["term_deff"].map("{:.2f}".format),
        })
        self.table.value = f"<div class='jp-RenderedHTMLCommon'>{shown.to_html(border=0)}</div>"
