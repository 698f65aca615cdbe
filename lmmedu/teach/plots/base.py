"""The axes helpers every figure of :mod:`lmmedu.teach.plots` shares: new axes and panels, titles and labels that fit, the colour-blind-safe palette, the rows and dodging of rate figures.

The framework of the plots (contract in :mod:`lmmedu.teach`: ``ax`` in, ``Axes`` out); the figures of each lesson are in the modules named for it.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ..cells import check_columns, check_level, levels


__all__ = ["PAGE_WIDTH", "PALETTE", "LOG_LABEL", "new_axes", "new_figure", "new_panels", "wrap_text", "fit_title", "fit_xlabel", "fit_ylabel", "number"]


_TREATMENTS = ("control", "drug")


#: Colours of control and drug in every figure (seaborn's colour-blind palette).
PALETTE = dict(zip(_TREATMENTS, sns.color_palette("colorblind", 2)))


#: Widest figure (inches) JupyterLab shows unshrunk: its output area is 848 px in a 1,280-px window with the
#: file browser open, and the inline backend draws 100 px per inch plus 0.1 in of padding on each side
#: (a figure legend as wide as the figure adds a pixel or two more).
PAGE_WIDTH = 8.2

#: Y-axis label for means of log(length), in the style of the other notebooks' "log length (log µm)".
LOG_LABEL = "mean log length (log µm)"


def palette(n):
    return sns.color_palette("colorblind", n)


def new_axes(ax=None, figsize=(6, 4)):
    """``ax`` itself, or the Axes of a new constrained-layout figure of ``figsize`` when None.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> new_axes(None, (3, 2)).figure.get_size_inches().tolist()
    [3.0, 2.0]
    """
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def new_figure(figsize, pyplot=True, **kwargs):
    """A new figure of ``figsize`` inches: pyplot's, or with ``pyplot=False`` one pyplot does not track.

    The second has its own Agg canvas, which keeps its font caches from one draw to the next, and
    never appears under a cell by itself: for widgets that draw one figure again on every move and
    turn it into PNG bytes. ``kwargs`` go to the figure (e.g. ``layout="constrained"``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = new_figure((3, 2), pyplot=False)
    >>> fig.get_size_inches().tolist(), type(fig.canvas).__name__
    ([3.0, 2.0], 'FigureCanvasAgg')
    """
    if pyplot:
        return plt.figure(figsize=figsize, **kwargs)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def new_panels(axes, n, figsize, func, **subplots_kw):
    """``axes`` as a flat list (at least ``n`` of them), or one row of ``n`` new panels.

    The set-up every multi-panel figure shares: a constrained-layout figure of ``figsize``
    (``subplots_kw`` go to :func:`matplotlib.pyplot.subplots`, e.g. ``sharey=True``), or the
    caller's Axes, checked so that no panel is silently left out.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> len(new_panels(None, 3, (6, 2), "demo_plot"))
    3
    >>> new_panels([None], 2, (6, 2), "demo_plot")
    Traceback (most recent call last):
    ...
    ValueError: demo_plot needs 2 Axes, one per panel; got 1.
    """
    if axes is None:
        _, grid = plt.subplots(1, n, figsize=figsize, layout="constrained", squeeze=False, **subplots_kw)
        return list(grid[0])
    axes = list(np.asarray(axes, dtype=object).ravel())
    if len(axes) < n:
        raise ValueError(f"{func} needs {n} Axes, one per panel; got {len(axes)}.")
    return axes


def wrap_text(text, width_in, fontsize="medium"):
    r"""``text`` broken at spaces into lines no wider than ``width_in`` inches at ``fontsize``.

    Line breaks already in ``text`` are kept. Widths are measured with the font's own metrics
    (no figure is drawn), so computed titles and labels of any length can be fitted to their panel.

    Examples
    --------
    >>> wrap_text("a title that is far too long for one short line", 1.5, 10).count("\n")
    2
    >>> wrap_text("kept\nbreaks", 5.0)
    'kept\nbreaks'
    """
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(size=fontsize)
    limit = 72.0 * width_in

    def width(line):
        return _line_width(line, prop)

    out = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}" if line else word
            if line and width(trial) > limit:
                out.append(line)
                line = word
            else:
                line = trial
        out.append(line)
    return "\n".join(out)


@functools.lru_cache(maxsize=4096)
def _line_width(line, prop):
    """Width of one line of text in points. Remembered: a widget fits the same titles on every move, and
    measuring a line with the font's metrics costs about a millisecond."""
    from matplotlib.textpath import text_to_path

    return text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]


def _label_width(ax):
    """Inches taken left of ``ax`` by its y tick labels and y-label (numbers count as about half an inch)."""
    import matplotlib as mpl

    size = mpl.rcParams["ytick.labelsize"]
    widest = max([_text_width(t.get_text(), size) for t in ax.get_yticklabels()] + [0.45])
    return widest + (0.35 if ax.get_ylabel() else 0.0) + 0.15


def _text_width(text, fontsize):
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(size=fontsize)
    return max([text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0] / 72.0
                for line in str(text).split("\n")] + [0.0])


def _room(ax, along="x", margin=None):
    """Inches a title or label of ``ax`` may take along ``along``: its grid cell, less room for the other labels.

    The default margin along x is what the y tick labels and y-label take (measured when they are already
    set, as they are when a figure function sets its title last), plus room for the right edge.
    """
    fig = ax.figure
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    pos = spec.get_position(fig) if spec is not None else ax.get_position()
    if along == "x":
        gs = spec.get_gridspec() if spec is not None else None
        if gs is not None and gs.ncols > 1:
            # The panel's columns' share of the figure (width ratios counted): the cell plus its part of the gaps.
            ratios = list(gs.get_width_ratios() or [1] * gs.ncols)
            cols = spec.colspan
            cell = fig.get_figwidth() * sum(ratios[cols.start:cols.stop]) / sum(ratios)
        else:
            # One panel across: constrained layout gives it the figure's width, less its labels.
            cell = fig.get_figwidth() if spec is not None else pos.width * fig.get_figwidth()
        return max(1.6, cell - (_label_width(ax) + 0.2 if margin is None else margin))
    cell = pos.height * fig.get_figheight()
    return max(1.0, cell - (0.2 if margin is None else margin))


def fit_title(ax, text, fontsize=None, width=None, **kwargs):
    r"""Set ``text`` as the title of ``ax``, broken into lines that fit above its panel.

    ``width`` is in inches (default: the panel's share of the figure); ``fontsize`` None is matplotlib's title size.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    >>> fit_title(axes[0], "a computed title much longer than half of a six-inch figure").get_text().count("\n") > 0
    True
    """
    import matplotlib as mpl

    size = fontsize or mpl.rcParams["axes.titlesize"]
    return ax.set_title(wrap_text(text, width or _room(ax, "x"), size), fontsize=size, **kwargs)


def fit_xlabel(ax, text, fontsize=None, width=None):
    """Set ``text`` as the x-label of ``ax``, broken into lines no wider than its panel."""
    import matplotlib as mpl

    size = fontsize or mpl.rcParams["axes.labelsize"]
    return ax.set_xlabel(wrap_text(text, width or _room(ax, "x"), size), fontsize=size)


def fit_ylabel(ax, text, fontsize=None, height=None):
    """Set ``text`` as the y-label of ``ax``, broken into lines no taller than its panel."""
    import matplotlib as mpl

    size = fontsize or mpl.rcParams["axes.labelsize"]
    return ax.set_ylabel(wrap_text(text, height or _room(ax, "y"), size), fontsize=size)


def number(value, digits=2):
    """``value`` with ``digits`` decimals, never as "-0.00" (a negative number that rounds to zero prints as 0).

    Examples
    --------
    >>> number(-0.001), number(-0.5), number(0.004, 1)
    ('0.00', '-0.50', '0.0')
    """
    text = f"{value:.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text


def rate_xlim(ax, right):
    """x from 0 to ``right``, with a margin left of 0 so a rate of 0% is drawn whole, not cut by the frame."""
    ax.set_xlim(-0.025 * right, right)


def legend_below(axes, handles, labels):
    """One legend for a row of panels, under them (beside the last panel when the figure has no layout engine).

    Inside a panel a legend covers the points that happen to fall in its corner.
    """
    fig = axes[0].figure
    if fig.get_layout_engine() is not None:
        # As many columns as fit the figure's width (long labels in three columns would stick out of it).
        renderer = fig.canvas.get_renderer()
        for ncol in range(min(len(labels), 3), 0, -1):
            legend = fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False,
                                fontsize="small")
            if ncol == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
                return legend
            legend.remove()
    return axes[-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                           fontsize="small")


def _marker_path(marker):
    from matplotlib.markers import MarkerStyle

    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform())


def interval_rows(ax, labels, nominal, linewidth=1.2):
    """Rows labelled top to bottom and the nominal level dashed: the frame of every rates figure.

    An empty band under the last row holds the legend, where no interval or percentage is drawn.
    """
    ax.axvline(nominal, color="black", linestyle="--", linewidth=linewidth, label=f"nominal {nominal:.0%}")
    ax.set_yticks(np.arange(len(labels)), [str(v) for v in labels])
    ax.set_ylim(len(labels) - 0.5 + 0.6, -0.5)


def rate_rows(ax, rates, alpha, missing):
    """Each analysis's rejection rate with its interval, one row each; ``missing`` where none was usable."""
    colours = palette(len(rates))
    for i, row in enumerate(rates.itertuples()):
        if row.n_sims == 0 or not np.isfinite(row.rate):
            ax.text(alpha, i, f"  {missing}", va="center", ha="left", fontsize="small", color="dimgray")
            continue
        ax.errorbar(row.rate, i, xerr=[[row.rate - row.ci_low], [row.ci_high - row.rate]], fmt="o",
                    color=colours[i], markersize=9, capsize=4, linewidth=2)
        ax.text(row.ci_high, i, f"  {row.rate:.0%}", va="center", ha="left", fontsize="small")
    interval_rows(ax, rates["analysis"], alpha)


def dodged(x, i, n, spread, log_x):
    """x of the i-th of n curves, shifted so that curves at one setting do not hide each other's intervals."""
    shift = (i - (n - 1) / 2) * spread
    return x * 10**shift if log_x else x + shift


def setting_axis(ax, values, log_x, nominal, xlabel):
    """The x axis of a rates-against-a-setting figure (ticks at the settings run) and the nominal level."""
    ax.axhline(nominal, color="black", linestyle="--", linewidth=1.2, label=f"nominal {nominal:.0%}")
    if log_x:
        ax.set_xscale("log")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
    ax.set_xlabel(xlabel)


def _one_gene(df, gene, func):
    check_columns(df, ["replicate", "treatment", "length"], func)
    if "gene" not in df.columns:
        return df, None
    genes = levels(df["gene"])
    gene = genes[0] if gene is None else check_level("gene", gene, genes)
    return df[df["gene"] == gene], gene
