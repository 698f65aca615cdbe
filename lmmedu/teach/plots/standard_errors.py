"""The plots of notebook 05 (why standard errors differ).

Part of :mod:`lmmedu.teach.plots`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cells import check_columns
from .base import PAGE_WIDTH, palette, fit_title, new_axes, new_figure

__all__ = ["probeset_spread", "probeset_spread_plot", "design_effect_axes", "design_effect_plot"]


def probeset_spread(df):
    """How far probesets differ, against how far one probeset's values vary around its own mean.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``probeset``, ``genotype``, ``week`` and ``values``
        (:func:`lmmedu.simulate_expression`).

    Returns
    -------
    pandas.Series
        ``between_sd`` (SD of the probeset means), ``within_sd`` (pooled SD of the values
        around their probeset's own mean), and ``genotype_gap`` (difference of the two
        genotypes' means, for scale).

    Examples
    --------
    >>> import lmmedu
    >>> s = probeset_spread(lmmedu.simulate_expression(n_probesets=200))
    >>> bool(s["between_sd"] > 5 * s["within_sd"])
    True
    """
    check_columns(df, ["probeset", "genotype", "values"], "probeset_spread")
    values = df["values"].to_numpy(dtype=float)
    means = df.groupby("probeset", observed=True)["values"].transform("mean").to_numpy()
    by_geno = df.groupby("genotype", observed=True)["values"].mean()
    return pd.Series({
        "between_sd": float(df.groupby("probeset", observed=True)["values"].mean().std(ddof=1)),
        "within_sd": float(np.sqrt(np.mean((values - means) ** 2))),
        "genotype_gap": float(by_geno.iloc[-1] - by_geno.iloc[0]),
    })


def probeset_spread_plot(df, n_show=30, seed=0, ax=None):
    """A few probesets' expression over age: their levels differ far more than anything else.

    Each thin line is one probeset's mean per age in one genotype; the thick lines are the
    genotype means over all probesets.

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`lmmedu.simulate_expression`.
    n_show : int, default 30
        Probesets drawn (chosen at random with ``seed``).
    seed : int, default 0
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib, lmmedu
    >>> matplotlib.use("Agg")
    >>> ax = probeset_spread_plot(lmmedu.simulate_expression(n_probesets=50), n_show=5)
    >>> ax.get_xlabel()
    'age (weeks)'
    """
    check_columns(df, ["probeset", "genotype", "weeks", "values"], "probeset_spread_plot")
    ax = new_axes(ax, (7.0, 4.2))
    spread = probeset_spread(df)
    levels = list(df["genotype"].cat.categories) if hasattr(df["genotype"], "cat") else sorted(df["genotype"].unique())
    colours = dict(zip(levels, palette(len(levels))))
    probesets = pd.unique(df["probeset"])
    chosen = np.random.default_rng(seed).choice(probesets, size=min(int(n_show), len(probesets)), replace=False)
    some = df[df["probeset"].isin(chosen)]
    means = some.groupby(["probeset", "genotype", "weeks"], observed=True)["values"].mean().reset_index()
    for (_, geno), part in means.groupby(["probeset", "genotype"], observed=True):
        ax.plot(part["weeks"], part["values"], color=colours[geno], alpha=0.35, linewidth=0.8)
    overall = df.groupby(["genotype", "weeks"], observed=True)["values"].mean().reset_index()
    for geno, part in overall.groupby("genotype", observed=True):
        ax.plot(part["weeks"], part["values"], color=colours[geno], linewidth=3, label=f"{geno}: mean of all probesets")
    known = df.attrs.get("truth")
    if known is not None and hasattr(known, "week_scale"):
        # The true strain lines: the fixed part of the simulation, on the same age axis.
        ages = np.asarray(known.weeks, dtype=float)
        week = (ages - known.week_center) / known.week_scale
        fe = known.fixed_effects
        for i, geno in enumerate(levels):
            ax.plot(ages, fe["Intercept"] + fe["genotype"] * i + (fe["week"] + fe["week:genotype"] * i) * week,
                    color="black", linestyle="--", linewidth=1.2, label="truth (fixed part)" if i == 0 else None)
    ax.set(xlabel="age (weeks)", ylabel="expression value (array units, linear scale)")
    ax.legend(frameon=False, fontsize="small", loc="upper right")
    fit_title(ax, f"{len(chosen)} probesets: levels differ by SD {spread['between_sd']:.2f}, values within a "
              f"probeset by SD {spread['within_sd']:.2f}", fontsize="medium")
    return ax


def design_effect_axes(pyplot=True):
    """The two Axes of :func:`design_effect_plot`, on a figure with fixed margins.

    Fixed margins instead of a layout engine keep a redraw cheap (the explorer redraws on
    every slider move), and so do titles at a fixed height (matplotlib otherwise measures the
    tick labels on every draw to check that a title clears them; nothing is drawn above these
    panels). ``pyplot=False`` gives a figure that pyplot does not track, with its own Agg
    canvas, which keeps its font caches from one draw to the next: for widgets that draw it
    again on every move and turn it into PNG bytes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> axes = design_effect_axes(pyplot=False)
    >>> len(axes), type(axes[0].figure.canvas).__name__
    (2, 'FigureCanvasAgg')
    """
    import matplotlib

    # Margins in inches, measured on the longest labels the explorer draws (the term names on the
    # left, two-line titles, the legend under the left panel) with the notebooks' seaborn fonts.
    width, height = PAGE_WIDTH, 4.3
    fig = new_figure((width, height), pyplot=pyplot)
    with matplotlib.rc_context({"axes.titley": 1.0}):  # a fixed title height (see above)
        axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.0]})
    fig.subplots_adjust(left=1.75 / width, right=1 - 0.15 / width, bottom=1.05 / height, top=1 - 0.62 / height,
                        wspace=0.38)
    return list(axes)


_SE_LABELS = ("lm: reported SE", "mixed model: SE", "true SD of the estimate")
_CURVE_POINTS = 200


def _design_effect_artists(ax_se, ax_curve):
    """The artists that :func:`design_effect_plot` drew on these Axes, or None if it drew nothing there."""
    legend = ax_curve.get_legend()
    if (len(ax_se.containers) != 2 or len(ax_se.lines) != 2 or len(ax_curve.lines) != 4 or legend is None
            or [c.get_label() for c in ax_se.containers] != list(_SE_LABELS[:2])):
        return None
    curve, _one, point, diamond = ax_curve.lines
    return {"bars": ax_se.containers, "dots": ax_se.lines, "curve": curve, "point": point, "diamond": diamond,
            "legend": legend}


def _draw_design_effect(terms, ax_se, ax_curve):
    """The artists of :func:`design_effect_plot` and what no view changes (axis labels, the left
    panel's rows, one per term); :func:`_set_design_effect` puts a view's numbers on them."""
    lm_colour, lmm_colour, curve_colour = palette(3)
    y = np.arange(len(terms))
    h = 0.36
    zeros = np.zeros(len(terms))
    ax_se.barh(y - h / 2, zeros, height=h, color=lm_colour, label=_SE_LABELS[0])
    ax_se.barh(y + h / 2, zeros, height=h, color=lmm_colour, label=_SE_LABELS[1])
    ax_se.plot(zeros, y - h / 2, "o", color="black", markersize=5)
    ax_se.plot(zeros, y + h / 2, "o", color="black", markersize=5, label=_SE_LABELS[2])
    ax_se.set_yticks(y, list(terms))
    ax_se.set_ylim(len(terms) - 0.5, -0.5)
    ax_se.set_xlabel("standard error (units of one row's SD, linear scale)")
    ax_se.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(-0.05, -0.2), ncol=2)

    m = np.zeros(_CURVE_POINTS)
    ax_curve.plot(m, m, color=curve_colour, label="curve")
    ax_curve.axhline(1.0, color="gray", linewidth=1, linestyle=":")
    ax_curve.plot([0.0], [0.0], "o", color=curve_colour, markersize=12, label="this design")
    ax_curve.plot([0.0], [0.0], "D", color=lmm_colour, markersize=6, label="drug effect")
    ax_curve.set_xlabel("rows per group m (size-weighted)")
    ax_curve.set_ylabel("design effect\n(variance ratio, linear)")
    ax_curve.legend(frameon=False, fontsize="small", loc="upper left")
    return _design_effect_artists(ax_se, ax_curve)


def _set_design_effect(view, ax_se, ax_curve, artists):
    table, rho = view.table, view.settings["icc"]
    for bars, column in zip(artists["bars"], ("se_lm", "se_lmm")):
        for bar, width in zip(bars, table[column]):
            bar.set_width(width)
    for dots, column in zip(artists["dots"], ("sd_lm", "se_lmm")):
        dots.set_xdata(table[column].to_numpy())
    ax_se.set_xlim(0, 1.15 * float(np.nanmax(table[["se_lm", "sd_lm", "se_lmm"]].to_numpy())))
    ratio = float(table.loc["treatment[T.drug]", "se_ratio"])
    ax_se.set_title(f"drug effect: the mixed model's SE\nis {ratio:.2f} x the lm's", fontsize="medium")

    top = max(10.0, 2.0 * view.kish_size)
    m = np.linspace(1.0, top, _CURVE_POINTS)
    drug_deff = float(table.loc["treatment[T.drug]", "term_deff"])
    artists["curve"].set_data(m, 1.0 + (m - 1.0) * rho)
    artists["point"].set_data([view.kish_size], [view.deff])
    artists["diamond"].set_data([view.kish_size], [drug_deff])
    labels = (f"1 + (m - 1) x {rho:.2f}", f"this design: {view.deff:.2f}",
              f"drug effect ({view.settings['varies']}): {drug_deff:.2f}")
    for line, text, label in zip((artists["curve"], artists["point"], artists["diamond"]),
                                 artists["legend"].get_texts(), labels):
        line.set_label(label)
        text.set_text(label)
    ax_curve.set_xlim(0, top)
    y_top = 1.1 * max(1.0 + (top - 1.0) * rho, drug_deff, 1.5)
    ax_curve.set_ylim(-0.04 * y_top, y_top)  # a design effect near 0 drawn whole, not cut by the frame
    worth = f"{view.n_eff:,.0f}" if view.n_eff >= 10 else f"{view.n_eff:.1f}"
    ax_curve.set_title(f"{view.n:,} rows are worth about\n{worth} independent ones", fontsize="medium")


def design_effect_plot(view, axes=None):
    """Standard-error bars under lm and the mixed model, and the design-effect curve.

    Left: for the intercept and the drug effect, the SE the lm reports and the mixed model's
    SE, with a black dot at the true SD of each model's estimate. Right: the design effect
    ``1 + (m - 1) * ICC`` against group size ``m``, with the current design on it and the drug
    effect's own design effect next to it.

    Drawing again on Axes this function drew on moves the same bars, lines and labels to the
    new view instead of adding a second set: the picture is the one a fresh figure would show,
    at a fraction of the cost (the explorer redraws on every slider move).

    Parameters
    ----------
    view : lmmedu.teach.comparison.DesignEffectView
        From :func:`lmmedu.teach.comparison.design_effect_view`.
    axes : sequence of 2 matplotlib.axes.Axes, optional

    Returns
    -------
    list of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.comparison import design_effect_view
    >>> ax_se, ax_curve = design_effect_plot(design_effect_view())
    >>> ax_curve.get_xlabel()
    'rows per group m (size-weighted)'
    >>> _ = design_effect_plot(design_effect_view(icc=0.2), axes=[ax_se, ax_curve])  # moved, not added
    >>> len(ax_curve.lines), ax_curve.get_legend().get_texts()[0].get_text()
    (4, '1 + (m - 1) x 0.20')
    """
    if axes is None:
        axes = design_effect_axes()
    ax_se, ax_curve = axes
    artists = _design_effect_artists(ax_se, ax_curve) or _draw_design_effect(view.table.index, ax_se, ax_curve)
    _set_design_effect(view, ax_se, ax_curve, artists)
    return [ax_se, ax_curve]
