"""The plots of notebook 09 (planning an experiment).

Part of :mod:`lmmedu.teach.plots`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import numpy as np

from ..cells import check_columns
from .base import PAGE_WIDTH, interval_rows, palette, fit_title, fit_xlabel, new_axes

__all__ = ["power_curve_plot", "power_rates_plot"]

_PLAN_LABELS = {
    "n_replicates": ("number of replicates (experimental units)", "replicates"),
    "cells_per_replicate": ("cells per replicate", "cells per replicate"),
    "n_mice": ("mice (arrays) per week × genotype", "mice per group"),
    "n_probesets": ("probesets per array", "probesets"),
}


def _plan_count_text(value):
    return f"{value:,}" if isinstance(value, (int, np.integer)) else str(value)


def power_curve_plot(curve, *, x="n_replicates", hue="cells_per_replicate", at=4, target=0.8, simulated=None,
                     compare=None, ax=None):
    """Power against the number of units, one line per measurements-per-unit: the curves collapse.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`lmmedu.teach.studies.power_curve` (or ``array_power`` with
        ``x="n_mice", hue="n_probesets"``).
    x, hue : str
        Columns of the horizontal axis and of the lines.
    at : int, default 4
        The number of units marked (a dotted line) and quoted in the title.
    target : float, default 0.8
        Power drawn as a dashed line.
    simulated : pandas.DataFrame, optional
        Output of :func:`lmmedu.teach.studies.power_and_false_positives` at some points of the
        curve; the rows of the analysis on unit means are drawn as dots with their 95% intervals.
    compare : pair of hue values, optional
        The two lines the title compares at ``at`` (default the smallest and largest).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import power_curve
    >>> ax = power_curve_plot(power_curve([3, 4, 6], [100, 1000]))
    >>> ax.get_xlabel()
    'number of replicates (experimental units)'
    """
    from matplotlib.ticker import PercentFormatter

    from ..studies import power_curve_summary

    summary = power_curve_summary(curve, at=at, x=x, hue=hue, target=target, compare=compare)
    ax = new_axes(ax, (PAGE_WIDTH, 4.4))
    hues = sorted(v.item() if hasattr(v, "item") else v for v in curve[hue].unique())
    colours = palette(len(hues))
    styles = ["-", "--", "-.", ":"]
    x_label, x_short = _PLAN_LABELS.get(x, (x, x))
    hue_label = _PLAN_LABELS.get(hue, (hue, hue))[1]
    for i, (h, colour) in enumerate(zip(hues, colours)):
        sub = curve[curve[hue] == h].sort_values(x)
        ax.plot(sub[x], sub["power"], linestyle=styles[i % len(styles)], marker="o", markersize=3, color=colour,
                linewidth=2, label=f"{_plan_count_text(h)} {hue_label} (closed form)")
    if simulated is not None:
        sim = simulated[simulated["analysis"].str.contains("means")]
        for _, row in sim.iterrows():
            if row[hue] not in hues:
                continue
            colour = colours[hues.index(row[hue])]
            ax.errorbar(row[x], row["power"], yerr=[[row["power"] - row["power_low"]], [row["power_high"] - row["power"]]],
                        fmt="D", color=colour, markeredgecolor="black", capsize=4, markersize=7, zorder=5)
        if len(sim):
            ax.errorbar([], [], yerr=[], fmt="D", color="grey", markeredgecolor="black",
                        label="simulated (95% interval)")
    ax.axhline(target, color="black", linestyle="--", linewidth=1, label=f"{target:.0%} power")
    ax.axvline(at, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(x_label)
    ax.set_ylabel("power (share with p < 0.05)")
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    # The title gives the lines' power at `at`, so it can be checked against the picture (lines that
    # share a percentage lie on top of each other there); the verdict follows the numbers: "barely"
    # only when the compared lines differ by under 10 points.
    gain = summary["power_high"] - summary["power_low"]
    verdict = f"More {hue_label} barely help" if gain < 0.10 else f"More {hue_label} help"
    at_rows = curve[curve[x] == at]
    # Every line is listed only when the verdict compares the extremes; with `compare` the two compared.
    if compare is None and len(at_rows) == len(hues):
        powers = at_rows.set_index(hue)["power"]
        listed = [f"{powers[h]:.0%} with {_plan_count_text(h)}" for h in hues]
        listed = ", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else listed[0]
        title = f"{verdict}: with {at} {x_short}, power is {listed} {hue_label}"
    else:
        title = (f"{verdict}: with {at} {x_short}, power is {summary['power_low']:.0%} with "
                 f"{_plan_count_text(summary['low'])} and {summary['power_high']:.0%} with "
                 f"{_plan_count_text(summary['high'])} {hue_label}")
    fit_title(ax, title, fontsize="medium", width=0.62 * ax.figure.get_figwidth())
    return ax


def power_rates_plot(wide, *, expected=None, target=0.8, ax=None):
    """False-positive rate and power of each analysis with 95% intervals, against 5% and 80%.

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`lmmedu.teach.studies.power_and_false_positives` for one design point.
    expected : float, optional
        Closed-form power of the analysis on unit means (:func:`~lmmedu.teach.studies.planned_power`),
        drawn as a cross on its row.
    target : float, default 0.8
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import power_and_false_positives, replicate_power_study
    >>> ax = power_rates_plot(power_and_false_positives(replicate_power_study(0.2, cells_per_replicate=20, n_sims=5)))
    >>> ax.get_xlabel()
    'share of experiments with p < 0.05'
    """
    from matplotlib.ticker import PercentFormatter

    check_columns(wide, ["analysis", "false_positive_rate", "fp_low", "fp_high", "power", "power_low",
                            "power_high"], "power_rates_plot")
    alpha = float(wide.attrs.get("alpha", 0.05))
    ax = new_axes(ax, (7.5, 0.9 + 0.75 * len(wide)))
    fp_colour, power_colour = palette(2)
    for i, row in enumerate(wide.itertuples()):
        if np.isfinite(row.false_positive_rate):
            ax.errorbar(row.false_positive_rate, i - 0.12, xerr=[[row.false_positive_rate - row.fp_low],
                                                                 [row.fp_high - row.false_positive_rate]],
                        fmt="o", color=fp_colour, capsize=4, markersize=8, label="no effect: false positives"
                        if i == 0 else None)
        else:
            ax.text(alpha, i, "  not testable in this design", va="center", fontsize="small", color="dimgray")
        if np.isfinite(row.power):
            ax.errorbar(row.power, i + 0.12, xerr=[[row.power - row.power_low], [row.power_high - row.power]],
                        fmt="s", color=power_colour, capsize=4, markersize=8,
                        label="with the effect: power" if i == 0 else None)
    if expected is not None and np.isfinite(expected):
        rows = [i for i, a in enumerate(wide["analysis"]) if "means" in a]
        if rows:
            ax.plot([expected], [rows[0] + 0.12], marker="x", color="black", markersize=11, mew=2, linestyle="none",
                    label="closed-form power")
    interval_rows(ax, wide["analysis"], alpha, linewidth=1)
    ax.axvline(target, color="grey", linestyle=":", linewidth=1.2, label=f"{target:.0%} power")
    ax.set_xlim(-0.025, 1.02)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    fit_xlabel(ax, f"share of experiments with p < {alpha:g}")
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    means = wide[wide["analysis"].str.contains("means")]
    others = wide[~wide["analysis"].str.contains("means")]
    title = ""
    if len(means) and np.isfinite(means["power"].iloc[0]):
        m = means.iloc[0]
        title = f"{m['analysis']}: {m['power']:.0%} power at {m['false_positive_rate']:.0%} false positives"
    if len(others) and others["false_positive_rate"].notna().any():
        worst = others.loc[others["false_positive_rate"].idxmax()]
        title += ("\n" if title else "") + (f"{worst['analysis']}: {worst['false_positive_rate']:.0%} false "
                                            "positives, so its power means little")
    fit_title(ax, title or "false positives and power", fontsize="medium", width=0.62 * ax.figure.get_figwidth())
    return ax
