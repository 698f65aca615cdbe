"""The widgets of notebook 06 (shrinkage and random slopes).

Part of :mod:`lmmedu.teach.widgets`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
import io
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.ticker import FixedFormatter, FixedLocator

from ..studies.cache import load_study
from ..studies.pooling import SlopeView, slope_view
from ..studies.sd_intervals import sd_interval_summary, sd_interval_view
from .app import App, Frames, control_style, png

__all__ = ["SlopeView", "slope_view", "SlopeExplorer", "SdIntervalExplorer"]


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
        from ..plots import shrinkage_axes

        # One figure for the app's life, laid out once: every move redraws the picture on it
        # (shrinkage_plot replaces what it drew from the data), a fraction of the cost of a new figure.
        self._ax = shrinkage_axes(pyplot=False)
        self._ax.figure.set_dpi(72)  # the PNG's resolution, set once: no draw switches it
        # What a move seldom changes, drawn once and pasted while it stays the same: both axis labels
        # (outside the panel, clear of the tick labels) and the legend (right of the panel; redrawn
        # alone when the cells change the size of its no-pooling marker).
        self._frames = Frames(self._ax.figure, lambda: [self._ax.xaxis.label, self._ax.yaxis.label,
                                                        self._ax.get_legend()])
        super().__init__(views=[self.slope_sd, self.n_replicates, self.cells, self.readout, self.plot])

    def update(self, slope_sd, n_replicates, cells):
        """Simulate and fit for these settings; returns a :class:`SlopeView` (touches no widget)."""
        return slope_view(slope_sd=slope_sd, n_replicates=n_replicates, cells=cells, seed=self.seed)

    def show(self, result):
        """Write the readout and the shrinkage picture."""
        from ..plots import shrinkage_plot

        yes_no = {True: "yes", False: "no"}
        singular = ("<b style='color:#b35806'>yes</b>" if result.singular else "<b>no</b>")
        corr = "not defined" if not math.isfinite(result.correlation) else f"{result.correlation:+.2f}"
        self.readout.value = (f"<p>Estimated SD <b>{result.estimated_slope_sd:.3f}</b> (true "
                              f"{result.true_slope_sd:.3f}); intercept-slope correlation {corr}. "
                              f"Converged: <b>{yes_no[result.converged]}</b>. Singular: {singular}.</p>"
                              f"<p>{html.escape(result.message)}</p>")
        shrinkage_plot(result.table, result.cov.to_numpy(), ax=self._ax)
        self.plot.value = self._frames.png()


class SdIntervalExplorer(App):
    """How well do a few replicates estimate an SD? Intervals of simulated experiments against the truth.

    Sliders: the number of replicates and the true SD of the replicates' drug effects. Every move
    reads one setting of the cached study ``sd_interval_study`` (profile and bootstrap intervals of
    the random-slope SD in simulated experiments; nothing is fitted while the slider moves) and
    shows every experiment's intervals against the truth, how often each method covered it, and
    the share of singular fits.

    The picture of a setting is drawn on one figure, laid out once, whose lines and points take
    each setting's data (:func:`~lmmedu.teach.plots.sd_interval_plot` redraws in place); a setting
    seen before shows its PNG again.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The figure every setting is drawn on (not a pyplot figure: it never shows under the cell).

    Examples
    --------
    >>> app = SdIntervalExplorer()
    >>> app.n_replicates.value = 12
    >>> app.result.n_replicates, "singular" in app.readout.value
    (12, True)
    """

    title = ("<b>Intervals of an SD</b>: choose the replicates and the true SD of their drug effects, and see "
             "how often each simulated experiment's 95% interval contains the truth.")

    controls = ("n_replicates", "slope_sd")
    #: Resolution of the picture (PNG), as the other widgets of the notebook draw theirs.
    DPI = 72
    #: The widest x tick label of the study's settings: its axes run from 0 to between about 0.2 and 4,
    #: in steps that need at most three decimals (0.025 ... 0.5).
    WIDEST_TICK = "0.000"

    def __init__(self, n_replicates=4, slope_sd=0.2):
        self.study = load_study("sd_interval_study")
        # PNG of every setting seen; the one figure they are drawn on, its panels and the box saved, from the first show.
        self._pictures, self.figure, self._axes, self._bbox = {}, None, None, None
        self.summary = sd_interval_summary(self.study)
        style, width = control_style("replicates", "true SD of drug effects")
        layout = widgets.Layout(width=width)
        reps = tuple(sorted(int(k) for k in self.study["n_replicates"].unique()))
        sds = tuple(sorted(float(s) for s in self.study["slope_sd"].unique()))
        self.n_replicates = widgets.SelectionSlider(options=reps, value=n_replicates, description="replicates",
                                                    style=style, layout=layout, continuous_update=False)
        self.slope_sd = widgets.SelectionSlider(options=sds, value=slope_sd, description="true SD of drug effects",
                                                style=style, layout=layout, continuous_update=False)
        self.n_replicates.add_class("lmmedu-sd-replicates")  # hooks for the browser tests
        self.readout = widgets.HTML()
        self.readout.add_class("lmmedu-readout")
        self.readout.add_class("lmmedu-sd-readout")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        super().__init__(views=[self.n_replicates, self.slope_sd, self.readout, self.plot])

    def update(self, n_replicates, slope_sd):
        """One setting of the cached study; returns a :class:`~lmmedu.teach.studies.SdIntervalView`."""
        return sd_interval_view(self.study, n_replicates, slope_sd, summary=self.summary)

    def show(self, result):
        """Write the coverage table and the intervals' picture."""
        s = result.summary
        rows = "".join(
            f"<tr><td>{html.escape(m)}</td><td>{r['median_lower']:.3f} to {r['median_upper']:.3f}</td>"
            f"<td>{r['median_width']:.3f}</td><td><b>{int(r['covered'])} of {int(r['n_sims'])} "
            f"({r['coverage']:.0%})</b></td><td>{r['coverage_low']:.0%} to {r['coverage_high']:.0%}</td>"
            f"<td>{r['missed_low']:.0%}</td><td>{r['lower_at_zero']:.0%}</td></tr>" for m, r in s.iterrows())
        singular = float(s["singular_rate"].iloc[0])
        self.readout.value = (
            f"<p>{result.n_replicates} replicates, true SD {result.slope_sd:g}: "
            f"<b>{singular:.0%}</b> of the {int(s['n_sims'].iloc[0])} simulated fits were singular.</p>"
            "<div class='jp-RenderedHTMLCommon'><table><thead><tr><th>interval</th><th>typical limits</th>"
            "<th>typical width</th><th>covered the truth</th><th>95% CI of that share</th>"
            f"<th>wholly below truth</th><th>starts at 0</th></tr></thead><tbody>{rows}</tbody></table></div>"
            f"<p>Nominal level {result.level:.0%}: a method that keeps its promise covers the truth in about "
            f"{result.level:.0%} of experiments. 'Typical' means the median over the simulated experiments.</p>")
        # The picture of a setting never changes (the study is fixed): drawn once, a slider's way back is instant.
        key = (result.n_replicates, result.slope_sd)
        if key not in self._pictures:
            self._pictures[key] = self._picture(result)
        self.plot.value = self._pictures[key]

    def _picture(self, result):
        """PNG of the intervals' picture of ``result``, on the explorer's one figure."""
        from ..plots import sd_interval_plot

        if self.figure is None:
            self._axes = sd_interval_plot(result.intervals, result.slope_sd, level=result.level)
            self.figure = self._axes[0].figure
            self._bbox = self._freeze(self.figure)
        else:
            # The same figure and artists, given this setting's data: a new figure would cost about twice as much.
            sd_interval_plot(result.intervals, result.slope_sd, axes=self._axes, level=result.level)
        buffer = io.BytesIO()
        # The lightest zlib level: the same pixels, a few ms sooner.
        self.figure.savefig(buffer, format="png", dpi=self.DPI, bbox_inches=self._bbox,
                            pil_kwargs={"compress_level": 1})
        return buffer.getvalue()

    def _freeze(self, fig):
        """Lay ``fig`` out once for every setting; returns the box to save (``bbox_inches="tight"`` of that layout).

        A layout engine and a tight box per picture would cost two more passes over the text, most
        of a picture's time. The one layout leaves room for the widest tick label at both ends of
        the x axes (:attr:`WIDEST_TICK`), so that no setting's labels collide or leave the picture.
        """
        plt.close(fig)  # the explorer keeps the figure; it must not also appear under the cell
        canvas = FigureCanvasAgg(fig)
        fig.set_dpi(self.DPI)
        axis = self._axes[0].xaxis  # the panels share it
        locator, formatter = axis.get_major_locator(), axis.get_major_formatter()
        axis.set_major_locator(FixedLocator([0.0, self._axes[0].get_xlim()[1]]))
        axis.set_major_formatter(FixedFormatter([self.WIDEST_TICK] * 2))
        canvas.draw()  # the constrained layout, once
        # None, not "none": "none" leaves a placeholder engine, for which savefig lays out and draws twice.
        fig.set_layout_engine(None)
        bbox = fig.get_tightbbox(canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
        axis.set_major_locator(locator)
        axis.set_major_formatter(formatter)
        return bbox
