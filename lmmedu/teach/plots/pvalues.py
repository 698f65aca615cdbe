"""The plots of notebook 07 (p-values and model comparison).

Part of :mod:`lmmedu.teach.plots`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cells import check_columns
from .base import (PAGE_WIDTH, dodged, interval_rows, legend_below, palette, rate_xlim, setting_axis, fit_title, fit_xlabel,
                   fit_ylabel, new_axes, new_panels, number)

# Rates with intervals from the one rates table (lmmedu.teach.studies.rates, rates_and_coverage),
# and residual diagnostics from lmmedu.teach.comparison.residual_table.

__all__ = ["rates_vs_setting_plot", "rates_at_setting_plot", "wald_vs_t_panels", "residuals_vs_fitted_plot", "qq_plot",
            "residuals_by_group_plot", "null_lrt_plot"]

_SETTING_LABELS = {"n_groups": "number of replicates (groups)", "group_size": "measurements per replicate",
                   "icc": "ICC (share of variance between replicates)", "slope_sd": "SD of the drug effect "
                   "between replicates (log-length units)"}


def _analysis_colours(analyses):
    return dict(zip(analyses, palette(max(len(analyses), 1))))


def _varying_setting(table, x):
    columns = list(table.attrs.get("setting_columns", []))
    if x is None:
        varying = [c for c in columns if table[c].nunique() > 1]
        if len(varying) != 1:
            raise ValueError(f"give x=..., the setting to draw along the x axis (varying settings: {varying}).")
        x = varying[0]
    if x not in table.columns:
        raise ValueError(f"x={x!r} is not a column of the table; use one of {columns}.")
    return x


def rates_vs_setting_plot(table, x=None, axes=None):
    """False-positive rate and interval coverage of every analysis as one setting changes.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.studies.rates_and_coverage` of a study with one varying setting.
    x : str, optional
        The setting on the x axis; default the only setting that varies.
    axes : sequence of two Axes, optional
        Left: false-positive rate; right: coverage. Default a new figure.

    Returns
    -------
    list of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import rates_and_coverage, wald_vs_t_study
    >>> table = rates_and_coverage(wald_vs_t_study(n_groups=[4, 8], group_size=5, n_sims=4))
    >>> [ax.get_xlabel() for ax in rates_vs_setting_plot(table)]
    ['number of replicates (groups)', 'number of replicates (groups)']
    """
    check_columns(table, ["analysis", "rate", "ci_low", "ci_high", "coverage", "coverage_low", "coverage_high"],
                     "rates_vs_setting_plot")
    x = _varying_setting(table, x)
    alpha = float(table.attrs.get("alpha", 0.05))
    axes = new_panels(axes, 2, (PAGE_WIDTH, 4.2), "rates_vs_setting_plot")
    analyses = list(dict.fromkeys(table["analysis"]))
    colours = _analysis_colours(analyses)
    values = sorted(table[x].unique())
    log_x = min(values) > 0 and max(values) / min(values) >= 4
    for ax, (col, low, high, nominal, label) in zip(axes, [
            ("rate", "ci_low", "ci_high", alpha, f"false-positive rate (p < {alpha:g})"),
            ("coverage", "coverage_low", "coverage_high", 1 - alpha,
             f"{1 - alpha:.0%} intervals containing the truth (share)")]):
        for i, name in enumerate(analyses):
            sub = table[table["analysis"] == name].sort_values(x)
            # The analyses side by side around each value, so their intervals do not hide each other.
            xs = dodged(sub[x].to_numpy(dtype=float), i, len(analyses), 0.03, log_x)
            y = sub[col].to_numpy(dtype=float)
            ax.errorbar(xs, y, yerr=[y - sub[low].to_numpy(dtype=float), sub[high].to_numpy(dtype=float) - y],
                        fmt="-o", color=colours[name], capsize=3, label=name)
        setting_axis(ax, values, log_x, nominal, "")
        fit_xlabel(ax, _SETTING_LABELS.get(x, x))
        fit_ylabel(ax, label)
    # A little room beyond 0 and 1, so a rate of 0 or a coverage of 100% is drawn whole.
    axes[0].set_ylim(-0.01, min(1.0, max(3 * alpha, float(table["ci_high"].max()) * 1.1)))
    axes[1].set_ylim(max(0.0, min(1 - 3 * alpha, float(table["coverage_low"].min()) - 0.02)), 1.015)
    handles, labels = axes[1].get_legend_handles_labels()
    # One legend for both panels, whose dashed lines mark different levels.
    labels = [f"nominal: {alpha:.0%} false positives, {1 - alpha:.0%} coverage" if lab.startswith("nominal") else lab
              for lab in labels]
    legend_below(axes, handles, labels)
    worst = table.loc[table["rate"].idxmax()]
    where = f"{worst[x]:g} {'replicates' if x == 'n_groups' else x}"
    # Broken to the panel's width: side by side, one-line titles would run into each other.
    fit_title(axes[0], f"{worst['analysis'].split(' (')[0]}: {worst['rate']:.0%} false positives with {where}",
              fontsize="medium")
    low_cov = table.loc[table["coverage"].idxmin()]
    fit_title(axes[1], f"{low_cov['analysis'].split(' (')[0]}: {low_cov['coverage']:.0%} of intervals contain the "
              f"truth with {low_cov[x]:g} {'replicates' if x == 'n_groups' else x}", fontsize="medium")
    return list(axes)


def rates_at_setting_plot(table, column="rate", analyses=None, ax=None, title=None):
    """One setting of a study: the rate (or coverage) of each analysis with its 95% interval.

    Parameters
    ----------
    table : pandas.DataFrame
        A rates table (:func:`lmmedu.teach.studies.rates` or ``rates_and_coverage``) of one setting.
    column : {"rate", "coverage"}, default "rate"
    analyses : sequence of str, optional
        Analyses to draw, top to bottom; default all.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
        Default: the analysis with the highest value and its value.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib, pandas as pd
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"analysis": ["a", "b"], "rate": [0.3, 0.05], "ci_low": [0.2, 0.02],
    ...                   "ci_high": [0.4, 0.1]})
    >>> rates_at_setting_plot(t).get_title()
    'a: 30% false positives'
    """
    bounds = {"rate": ("ci_low", "ci_high"), "coverage": ("coverage_low", "coverage_high")}
    if column not in bounds:
        raise ValueError(f"column must be 'rate' or 'coverage', got {column!r}.")
    low, high = bounds[column]
    check_columns(table, ["analysis", column, low, high], "rates_at_setting_plot")
    sub = table if analyses is None else table.set_index("analysis").loc[list(analyses)].reset_index()
    alpha = float(table.attrs.get("alpha", 0.05))
    nominal = alpha if column == "rate" else 1 - alpha
    ax = new_axes(ax, (7.5, 0.9 + 0.5 * len(sub)))
    colours = _analysis_colours(list(sub["analysis"]))
    for i, row in enumerate(sub.itertuples()):
        value, lo, hi = getattr(row, column), getattr(row, low), getattr(row, high)
        ax.errorbar(value, i, xerr=[[value - lo], [hi - value]], fmt="o", color=colours[row.analysis],
                    markersize=9, capsize=4, linewidth=2)
        if column == "rate":
            ax.text(hi, i, f"  {value:.0%}", va="center", ha="left", fontsize="small")
        else:  # coverage sits near the right edge: label on the left of the interval
            ax.text(lo, i, f"{value:.0%}  ", va="center", ha="right", fontsize="small")
    interval_rows(ax, sub["analysis"], nominal)
    if column == "rate":
        rate_xlim(ax, min(1.0, max(3 * alpha, float(sub[high].max()) * 1.25)))
        fit_xlabel(ax, f"false-positive rate (share of experiments with p < {alpha:g}), 95% interval")
    else:
        ax.set_xlim(max(0.0, float(sub[low].min()) - 0.08), 1.02)
        fit_xlabel(ax, f"share of {nominal:.0%} intervals that contain the truth, 95% interval")
    ax.legend(frameon=False, fontsize="small", loc="lower right" if column == "rate" else "lower left",
              borderaxespad=0.2)
    top = sub.loc[sub[column].idxmax()] if column == "rate" else sub.loc[sub[column].idxmin()]
    word = "false positives" if column == "rate" else "coverage"
    fit_title(ax, title or f"{top['analysis']}: {top[column]:.0%} {word}", fontsize="medium")
    return ax


def wald_vs_t_panels(table, axes=None):
    """False-positive rate and coverage of each analysis at one setting, side by side (notebook 07's app).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.studies.rates_and_coverage` of one setting; analyses without a usable
        experiment (``n_sims`` 0) are left out.
    axes : sequence of two Axes, optional
        Default a new figure.

    Returns
    -------
    list of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import rates_and_coverage, wald_vs_t_study
    >>> table = rates_and_coverage(wald_vs_t_study(n_groups=4, group_size=5, n_sims=4))
    >>> [ax.get_xlabel() for ax in wald_vs_t_panels(table)]
    ['false-positive rate (p < 0.05)', '95% CIs holding the truth']
    """
    check_columns(table, ["analysis", "rate", "ci_low", "ci_high", "coverage", "coverage_low", "coverage_high",
                          "n_sims"], "wald_vs_t_panels")
    # The left panel also carries the analyses' names: it gets the wider share.
    axes = new_panels(axes, 2, (PAGE_WIDTH, 3.2), "wald_vs_t_panels", width_ratios=[1.5, 1])
    usable = table[table["n_sims"] > 0]
    if len(usable):
        rates_at_setting_plot(usable, "rate", ax=axes[0])
        rates_at_setting_plot(usable, "coverage", ax=axes[1])
        axes[1].set_yticks([])  # the same rows as the left panel, named there
        alpha = float(table.attrs.get("alpha", 0.05))
        fit_xlabel(axes[0], f"false-positive rate (p < {alpha:g})")
        fit_xlabel(axes[1], f"{1 - alpha:.0%} CIs holding the truth")
    return list(axes)


def residuals_vs_fitted_plot(table, ax=None, max_points=3000, seed=0):
    """Residuals against fitted values, with a smooth of their mean: a trend means a missed pattern.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.residual_table`.
    ax : matplotlib.axes.Axes, optional
    max_points : int, default 3000
        Points drawn (a random subset; the binned means use all rows).
    seed : int, default 0

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.comparison import residual_table
    >>> m = lmmedu.fit_lm("log(length) ~ treatment", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> residuals_vs_fitted_plot(residual_table(m)).get_ylabel()
    'residual (units of log(length))'
    """
    check_columns(table, ["fitted", "residual"], "residuals_vs_fitted_plot")
    ax = new_axes(ax, (6, 4))
    shown = table.sample(n=min(len(table), max_points), random_state=seed)
    ax.scatter(shown["fitted"], shown["residual"], s=6, alpha=0.3, color=palette(1)[0], label="observations")
    # Means in bins of the fitted values (quantile bins, so each holds data).
    n_bins = int(min(12, max(2, table["fitted"].nunique())))
    bins = pd.qcut(table["fitted"], q=n_bins, duplicates="drop")
    binned = table.groupby(bins, observed=True)[["fitted", "residual"]].mean()
    ax.plot(binned["fitted"], binned["residual"], "-o", color=palette(2)[1], linewidth=2, label="mean in bins")
    ax.axhline(0, color="black", linewidth=1)
    from ..comparison import residual_spread_ratio

    response = table.attrs.get("response", "response")
    fit_xlabel(ax, f"fitted {response} (units of {response})")
    fit_ylabel(ax, f"residual (units of {response})")
    # Head room above the points for the legend, which would otherwise sit on them.
    low, high = float(table["residual"].min()), float(table["residual"].max())
    span = high - low or 1.0
    ax.set_ylim(low - 0.05 * span, high + 0.3 * span)
    ax.legend(frameon=False, fontsize="small", loc="upper right", ncol=2)
    ratio = residual_spread_ratio(table)
    fit_title(ax, table.attrs.get("model", "") + f"\nresiduals spread {ratio:.2f}x as wide at high fitted values "
              "as at low ones", fontsize="medium")
    return ax


def qq_plot(table, ax=None, label=None):
    """Normal QQ plot of the scaled residuals: points on the line mean normal residuals.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.residual_table`.
    ax : matplotlib.axes.Axes, optional
    label : str, optional
        Title; default the model formula and the skewness of the residuals.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.comparison import residual_table
    >>> m = lmmedu.fit_lm("log(length) ~ treatment", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> qq_plot(residual_table(m)).get_xlabel().replace("\\n", " ")  # broken into lines that fit the panel
    'normal quantile (standard normal units)'
    """
    from scipy import stats

    check_columns(table, ["scaled", "normal_quantile"], "qq_plot")
    ax = new_axes(ax, (4.5, 4.5))
    order = np.argsort(table["normal_quantile"].to_numpy())
    q = table["normal_quantile"].to_numpy()[order]
    s = np.sort(table["scaled"].to_numpy())
    step = max(1, len(q) // 2000)  # thin the middle; keep both tails where departures show
    keep = np.unique(np.r_[np.arange(0, len(q), step), np.arange(min(50, len(q))), np.arange(max(0, len(q) - 50), len(q))])
    ax.scatter(q[keep], s[keep], s=8, color=palette(1)[0], alpha=0.6)
    lim = float(np.nanmax(np.abs(np.r_[q, s])))
    ax.plot([-lim, lim], [-lim, lim], color="black", linewidth=1, label="normal residuals")
    fit_xlabel(ax, "normal quantile (standard normal units)")
    fit_ylabel(ax, "scaled residual (residual / its SD)")
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    skew = float(stats.skew(table["scaled"]))
    fit_title(ax, label or f"{table.attrs.get('model', '')}\nskewness of the residuals {number(skew)}",
              fontsize="medium")
    return ax


def residuals_by_group_plot(table, axes=None, max_groups=6):
    """One panel per group: its residuals, split by the ``by`` level, with the mean residual of each level.

    A group whose levels' mean residuals sit on opposite sides of 0 has an effect the model did
    not allow to differ between groups (a missing random slope). Within a group the levels are
    drawn side by side (a strip of residuals each, and a bar at their mean), not along the fitted
    values, which within one group take only a few close values.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.residual_table` with ``group`` (and ideally ``by``).
    axes : sequence of Axes, optional
        One per group drawn; default a new row of panels.
    max_groups : int, default 6
        Groups drawn (the first ones).

    Returns
    -------
    list of matplotlib.axes.Axes

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.comparison import residual_table
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> axes = residuals_by_group_plot(residual_table(m, by="treatment"))
    >>> len(axes), [t.get_text() for t in axes[0].get_xticklabels()]
    (4, ['control', 'drug'])
    """
    from ..comparison import residual_means

    check_columns(table, ["fitted", "residual", "group"], "residuals_by_group_plot")
    groups = list(pd.unique(table["group"]))[:max_groups]
    axes = new_panels(axes, len(groups), (min(1.3 * len(groups) + 1.6, PAGE_WIDTH), 3.6), "residuals_by_group_plot",
                      sharey=True)
    means = residual_means(table)
    has_by = "by" in table.columns
    levels = list(pd.unique(table["by"])) if has_by else [None]
    colours = dict(zip(levels, palette(max(len(levels), 1))))
    rng = np.random.default_rng(0)
    for ax, g in zip(axes, groups):
        sub = table[table["group"] == g]
        shown = sub.sample(n=min(len(sub), 400), random_state=0)
        for k, level in enumerate(levels):
            pts = shown if level is None else shown[shown["by"] == level]
            ax.scatter(k + rng.uniform(-0.18, 0.18, len(pts)), pts["residual"], s=5, alpha=0.25,
                       color=colours[level])
            m = means[(means["group"] == g) & ((means["by"] == level) if has_by else True)]
            ax.hlines(m["mean_residual"], k - 0.32, k + 0.32, color="black", linewidth=3,
                      label="mean residual" if k == 0 else None)
        ax.axhline(0, color="black", linewidth=0.8, linestyle=":")
        ax.set_xlim(-0.6, len(levels) - 0.4)
        ax.set_xticks(range(len(levels)), [str(v) if v is not None else "" for v in levels],
                      fontsize="small")
        ax.set_title(f"{g}", fontsize="medium")
    fig = axes[0].figure
    by_name = table.attrs.get("by") or "level"
    fig.supxlabel(f"{by_name}, within each {table.attrs.get('group') or 'group'}", fontsize="medium")
    fit_ylabel(axes[0], f"residual (units of {table.attrs.get('response', 'the response')})")
    axes[-1].legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    spread = means["mean_residual"].abs().max()
    fig.suptitle(f"{table.attrs.get('model', '')}:\nmean residuals per group and level up to "
                 f"{spread:.2g} away from 0", fontsize="medium")
    return list(axes)


def null_lrt_plot(table, ax=None):
    """The test of a variance: the null distribution of the LRT from the bootstrap against chi-square and the mixture.

    Each curve is P(LRT >= x) under one reference distribution (:func:`lmmedu.teach.comparison.lrt_tails`),
    on a log scale; the vertical line is the observed LRT, so the height of each curve there is that
    reference's p-value. The bootstrap curve drops at 0 by the share of simulated LRTs that are
    exactly 0 (the larger model's extra variance estimated at zero).

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`lmmedu.teach.comparison.variance_test_table`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"p": [0.1]})
    >>> t.attrs.update(lrt=2.0, df=1, null_lrt=np.r_[np.zeros(60), np.arange(1, 41) / 10], share_zero=0.6)
    >>> null_lrt_plot(t).get_yscale()
    'log'
    """
    from ..comparison.pvalues import lrt_tails

    tails = lrt_tails(table)
    ax = new_axes(ax, (PAGE_WIDTH, 4.2))
    colours = palette(3)
    n = len(table.attrs["null_lrt"])
    floor = 1.0 / n
    styles = {"chi-square": ("-", f"chi-square, {table.attrs['df']} df"),
              "50:50 mixture": ("--", "50:50 mixture (half at 0)"),
              "parametric bootstrap": ("-", f"bootstrap: {n} simulated LRTs")}
    for colour, (name, (style, label)) in zip(colours, styles.items()):
        y = tails[name].to_numpy(float)
        if name == "parametric bootstrap":
            keep = y >= floor  # beyond the largest simulated LRT the share is 0: nothing to draw on a log scale
            ax.step(tails["lrt"][keep], y[keep], where="post", color=colour, linewidth=2, label=label)
        else:
            ax.plot(tails["lrt"], y, style, color=colour, linewidth=2, label=label)
    lrt = float(table.attrs["lrt"])
    ax.axvline(lrt, color="0.3", linewidth=1, linestyle=":")
    ax.text(lrt, 1.0, f" observed LRT {number(lrt)}", va="top", ha="left", fontsize="small", color="0.3")
    alpha = float(table.attrs.get("alpha", 0.05))
    ax.axhline(alpha, color="0.6", linewidth=0.8, label=f"p = {alpha:g}")
    ax.set_yscale("log")
    ax.set_ylim(floor / 2, 1.6)
    ax.set_xlim(0, float(tails["lrt"].max()))
    fit_xlabel(ax, "likelihood-ratio statistic x (twice the gain in log-likelihood)")
    fit_ylabel(ax, "P(LRT ≥ x) if the variance is 0 (log scale)")
    ax.legend(frameon=False, fontsize="small", loc="lower left")
    share = float(table.attrs["share_zero"])
    fit_title(ax, f"{share:.0%} of the simulated LRTs are exactly 0: chi-square's tail is too heavy for a variance",
              fontsize="medium")
    return ax
