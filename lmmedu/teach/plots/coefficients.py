"""Notebooks 02-04's figures of a fitted model: SE ratios, percent changes, replicate weights, cell means, interactions and per-gene drug effects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cells import check_columns, levels
from .base import LOG_LABEL, palette, fit_title, fit_ylabel, new_axes


__all__ = ["se_ratio_plot", "percent_change_plot", "weights_plot", "cell_means_plot", "interaction_plot", "drug_effects_plot"]


def se_ratio_plot(table, ax=None, group="replicate"):
    """How much the mixed model changed each term's standard error, coloured by within/between.

    Parameters
    ----------
    table : pandas.DataFrame
        ``Comparison.table`` from :func:`lmmedu.teach.comparison.compare` (columns ``se_ratio`` and
        ``varies_<group>``), or any frame with ``se_lm`` and ``se_lmm``.
    ax : matplotlib.axes.Axes, optional
    group : str, default "replicate"
        Grouping factor whose ``varies_<group>`` column colours the bars.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib, pandas as pd
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"se_lm": [1.0, 1.0], "se_lmm": [3.0, 0.5]}, index=["Intercept", "x"])
    >>> se_ratio_plot(t).get_xscale()
    'log'
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"se_ratio_plot needs a pandas DataFrame, got {type(table).__name__}.")
    if "se_ratio" in table.columns:
        ratio = table["se_ratio"].astype(float)
    elif {"se_lm", "se_lmm"} <= set(table.columns):
        ratio = table["se_lmm"].astype(float) / table["se_lm"].astype(float)
    else:
        raise ValueError("se_ratio_plot needs the column 'se_ratio' or both 'se_lm' and 'se_lmm'.")
    kind_col = f"varies_{group}"
    kinds = table[kind_col] if kind_col in table.columns else pd.Series("term", index=table.index)
    ax = new_axes(ax, (7.0, 0.9 + 0.45 * len(table)))
    colours = dict(zip(["between", "within", "term"], palette(3)))
    y = np.arange(len(table))
    # Bars start at a ratio of 1 on a log axis, so halving and doubling look equally long.
    ax.set_xscale("log")
    for i, (term, r) in enumerate(ratio.items()):
        kind = kinds.loc[term]
        ax.barh(i, r - 1.0, left=1.0, color=colours.get(kind, "gray"), height=0.6,
                label=f"varies {kind} {group}s" if kind != "term" else None)
        ax.text(r, i, f" {r:.2g}x ", va="center", ha="left" if r >= 1 else "right", fontsize="small")
    # Room beyond the longest bar on each side for its " 0.097x " label (five times the ratio on a log axis).
    ax.set_xlim(min(0.5, float(np.nanmin(ratio)) / 5), max(2.0, float(np.nanmax(ratio)) * 5))
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(y, list(table.index))
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlabel("SE(mixed model) / SE(lm), log scale")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        # Beside the panel: inside it, the legend would sit on a bar whichever corner it takes.
        ax.legend(unique.values(), unique.keys(), frameon=False, fontsize="small", loc="upper left",
                  bbox_to_anchor=(1.01, 1.0))
    up, down = int((ratio > 1).sum()), int((ratio < 1).sum())
    fit_title(ax, f"the mixed model raised {up} and lowered {down} of {len(ratio)} standard errors",
              fontsize="medium", width=ax.figure.get_figwidth() - 0.4)
    return ax


def percent_change_plot(table, truth=None, ax=None):
    """Drug effect per gene as a percent change of length, with 95% CIs and the truth.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per gene (index or column ``gene``) with columns ``percent``, ``percent_low``,
        ``percent_high``.
    truth : dict, optional
        Gene -> true percent change (e.g. ``lmmedu.truth(df).percent_change``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib, pandas as pd
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"percent": [24.0], "percent_low": [20.0], "percent_high": [28.0]},
    ...                  index=pd.Index(["A"], name="gene"))
    >>> percent_change_plot(t, truth={"A": 24.6}).get_xlabel()
    'drug effect: change in median length (%)'
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"percent_change_plot needs a pandas DataFrame, got {type(table).__name__}.")
    tab = table.set_index("gene") if "gene" in table.columns else table
    missing = [c for c in ("percent", "percent_low", "percent_high") if c not in tab.columns]
    if missing:
        raise ValueError(f"percent_change_plot needs the column(s) {missing}.")
    ax = new_axes(ax, (6.5, 0.9 + 0.55 * len(tab)))
    colours = palette(2)
    y = np.arange(len(tab))
    ax.errorbar(tab["percent"], y, xerr=[tab["percent"] - tab["percent_low"], tab["percent_high"] - tab["percent"]],
                fmt="o", color=colours[0], capsize=4, markersize=8, label="estimate, 95% CI")
    if truth is not None:
        true = [truth.get(g, np.nan) for g in tab.index]
        ax.scatter(true, y, marker="x", s=80, color=colours[1], zorder=5, label="truth (simulation)")
    ax.axvline(0, color="black", linewidth=1, linestyle=":")
    ax.set_yticks(y, [f"gene {g}" for g in tab.index])
    ax.set_ylim(len(tab) - 0.5, -0.5)
    ax.set_xlabel("drug effect: change in median length (%)")
    ax.legend(frameon=False, fontsize="small", loc="best")
    covered = None
    if truth is not None:
        covered = sum(lo <= truth.get(g, np.nan) <= hi for g, lo, hi in
                      zip(tab.index, tab["percent_low"], tab["percent_high"]))
        ax.set_title(f"{covered} of {len(tab)} intervals contain the true effect", fontsize="medium")
    else:
        ax.set_title("drug effect per gene", fontsize="medium")
    return ax


def weights_plot(table: pd.DataFrame, group: str = "replicate", title: str | None = None, ax=None):
    """How lm (row counts) and the mixed model (precision) weight each replicate's mean.

    Parameters
    ----------
    table : pandas.DataFrame
        ``ReplicateWeighting.table``: ``group``, ``n``, ``row_weight``, ``precision_weight``,
        ``equal_weight``.
    group : str, default "replicate"
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> tab = pd.DataFrame({"replicate": ["R1", "R2"], "n": [10, 30], "row_weight": [0.25, 0.75],
    ...                     "precision_weight": [0.45, 0.55], "equal_weight": [0.5, 0.5]})
    >>> weights_plot(tab).get_ylabel().replace("\\n", " ")  # broken into lines that fit the panel
    "weight of the replicate's mean (sums to 1)"
    """
    ax = new_axes(ax, (6, 3.6))
    colours = palette(2)
    x = np.arange(len(table))
    ax.bar(x - 0.18, table["row_weight"], width=0.36, color=colours[0], label="lm: share of rows")
    ax.bar(x + 0.18, table["precision_weight"], width=0.36, color=colours[1],
           label="mixed model: precision weight")
    ax.axhline(float(table["equal_weight"].iloc[0]), color="0.3", linestyle="--", linewidth=1.2,
               label="equal weight")
    ax.set_xticks(x, [f"{r}\n(n = {n})" for r, n in zip(table[group], table["n"])])
    ax.set_xlabel(f"{group} (measurements in this cell)")
    fit_ylabel(ax, "weight of the replicate's mean (sums to 1)")
    fit_title(ax, title or "lm weights replicates by rows, the mixed model by precision")
    ax.legend(fontsize="small")
    return ax


def cell_means_plot(cell_means: pd.DataFrame, value: str = "fitted_mean", intercept: float | None = None,
                    intercept_label: str = "intercept", gene: str = "gene", treatment: str = "treatment",
                    ylabel: str = LOG_LABEL, title: str | None = None, ax=None):
    """The cell means as points (gene on x, one colour per treatment), the intercept as a line.

    The y-limits depend only on the cell means, so when only the coding changes the points
    stay exactly where they are while the intercept line jumps between cells.

    Drawing again on Axes this function drew on (the same genes and treatments) moves the
    points, the intercept line and its legend label instead of adding a second set: the
    picture is the one a fresh figure would show, at a fraction of the cost (notebook 03's
    explorer redraws on every move). The title is wrapped once, when first drawn.

    Parameters
    ----------
    cell_means : pandas.DataFrame
        Columns ``gene``, ``treatment`` and ``value`` (e.g. from :func:`lmmedu.teach.cells.cell_table`).
    value : str, default "fitted_mean"
    intercept : float, optional
        Drawn as a dashed horizontal line.
    intercept_label : str
    gene, treatment : str
        Column names.
    ylabel, title : str
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> cells = pd.DataFrame({"gene": ["A", "A"], "treatment": ["control", "drug"], "fitted_mean": [4.3, 4.5]})
    >>> ax = cell_means_plot(cells, intercept=4.3)
    >>> ax.get_ylabel().startswith("mean log length")
    True
    >>> ax = cell_means_plot(cells, intercept=4.5, intercept_label="drug", ax=ax)  # moved, not added
    >>> len(ax.get_lines()), ax.get_legend().get_texts()[-1].get_text()
    (3, 'drug')
    """
    genes = levels(cell_means[gene])
    treatments = levels(cell_means[treatment])
    width = 0.5
    offsets = np.linspace(-width / 2, width / 2, len(treatments)) if len(treatments) > 1 else [0.0]
    points = []
    for k, t in enumerate(treatments):
        sub = cell_means[cell_means[treatment].astype(str) == str(t)]
        points.append(([genes.index(g) + offsets[k] for g in sub[gene]], sub[value].to_numpy(dtype=float)))
    title = title or "Cell means stay put; only the coefficients describing them change"
    artists = _cell_means_artists(ax, treatments, [x for x, _ in points], intercept is not None)
    fresh = artists is None
    if fresh:
        ax = new_axes(ax)
        artists = {"points": [ax.plot(x, y, "o", color=colour, markersize=8, label=str(t))[0]
                              for (x, y), t, colour in zip(points, treatments, palette(len(treatments)))]}
    values = cell_means[value].to_numpy(dtype=float)
    span = max(float(np.ptp(values)), 1e-3)
    ax.set_ylim(values.min() - 0.25 * span, values.max() + 0.25 * span)
    for line, (_, y) in zip(artists["points"], points):
        line.set_ydata(y)
    if intercept is not None and fresh:
        ax.axhline(intercept, color="0.3", linestyle="--", linewidth=1.2, label=intercept_label,
                   gid=_CELL_MEANS_INTERCEPT)
    elif intercept is not None:
        artists["intercept"].set_ydata([intercept, intercept])
        artists["intercept"].set_label(intercept_label)
        artists["legend"].get_texts()[-1].set_text(intercept_label)
    if fresh:
        ax.set_xticks(range(len(genes)), [str(g) for g in genes])
        ax.set_xlabel("gene")
        ax.set_ylabel(ylabel)
        fit_title(ax, title)
        ax.legend(fontsize="small", loc="best")
        return ax
    # Kept as first wrapped when unchanged: wrapping again on a resized figure could break it elsewhere.
    if " ".join(ax.get_title().split()) != " ".join(title.split()):
        fit_title(ax, title)
    if ax.get_ylabel() != ylabel:
        ax.set_ylabel(ylabel)
    return ax


_CELL_MEANS_INTERCEPT = "cell_means_plot intercept"


def _cell_means_artists(ax, treatments, xs, with_intercept):
    """The artists that :func:`cell_means_plot` drew on ``ax`` for these cells, or None if it drew none there."""
    if ax is None or ax.get_legend() is None:
        return None
    lines = ax.get_lines()
    intercepts = [line for line in lines if line.get_gid() == _CELL_MEANS_INTERCEPT]
    points = [line for line in lines if line.get_gid() != _CELL_MEANS_INTERCEPT]
    if (len(intercepts) != int(with_intercept) or [line.get_label() for line in points] != [str(t) for t in treatments]
            or any(list(line.get_xdata()) != list(x) for line, x in zip(points, xs))):
        return None
    return {"points": points, "intercept": intercepts[0] if intercepts else None, "legend": ax.get_legend()}


def interaction_plot(table: pd.DataFrame, truth: pd.DataFrame | None = None, value: str = "emmean",
                     low: str = "ci_low", high: str = "ci_high", truth_value: str = "mean_log",
                     gene: str = "gene", treatment: str = "treatment", ylabel: str = LOG_LABEL,
                     title: str | None = None, ax=None):
    """Cell means with 95% CIs, one line per gene from control to drug; truth dashed.

    Parallel lines would mean no interaction: the drug effect is the slope of each line, and
    an interaction coefficient is the difference between two slopes.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``gene``, ``treatment``, ``value``, ``low``, ``high`` (e.g. the ``.table`` of
        ``lmmedu.emmeans(fit, ["treatment", "gene"])``).
    truth : pandas.DataFrame, optional
        Columns ``gene``, ``treatment``, ``truth_value`` (``lmmedu.truth(df).cell_means``).
    value, low, high, truth_value, gene, treatment : str
        Column names.
    ylabel, title : str
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> tab = pd.DataFrame({"gene": ["A", "A"], "treatment": ["control", "drug"], "emmean": [4.3, 4.5],
    ...                     "ci_low": [4.1, 4.3], "ci_high": [4.5, 4.7]})
    >>> ax = interaction_plot(tab)
    >>> len(ax.get_lines()) > 0
    True
    """
    ax = new_axes(ax)
    genes = levels(table[gene])
    treatments = levels(table[treatment])
    colours = palette(len(genes))
    shift = np.linspace(-0.06, 0.06, len(genes)) if len(genes) > 1 else [0.0]
    for k, (g, colour) in enumerate(zip(genes, colours)):
        sub = table[table[gene].astype(str) == str(g)]
        sub = sub.set_index(sub[treatment].astype(str)).reindex([str(t) for t in treatments])
        x = np.arange(len(treatments)) + shift[k]
        y = sub[value].to_numpy(dtype=float)
        err = np.vstack([y - sub[low].to_numpy(dtype=float), sub[high].to_numpy(dtype=float) - y])
        ax.errorbar(x, y, yerr=err, color=colour, marker="o", capsize=4, linewidth=2, label=f"gene {g} (estimate)")
        if truth is not None:
            tsub = truth[truth[gene].astype(str) == str(g)]
            tsub = tsub.set_index(tsub[treatment].astype(str)).reindex([str(t) for t in treatments])
            ax.plot(x, tsub[truth_value].to_numpy(dtype=float), color=colour, linestyle=":", marker="x",
                    markersize=8, linewidth=1.5, label=f"gene {g} (truth)")
    ax.set_xticks(range(len(treatments)), [str(t) for t in treatments])
    ax.set_xlim(-0.4, len(treatments) - 0.6)
    ax.set_xlabel("treatment")
    ax.set_ylabel(ylabel)
    fit_title(ax, title or "The drug effect differs between genes: the lines are not parallel",
              width=0.62 * ax.figure.get_figwidth())
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def drug_effects_plot(table: pd.DataFrame, truth=None, estimate: str = "estimate", low: str = "ci_low",
                      high: str = "ci_high", gene: str = "gene", title: str | None = None, ax=None):
    """Each gene's drug effect (drug minus control, log scale) with its own 95% CI, and the truth.

    The interaction plot shows cell means, whose intervals carry the replicate-to-replicate
    variation of a *level*; a drug effect is a difference with its own, usually much smaller,
    interval. Drawn next to the interaction plot, it shows what the cell-mean intervals hide.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per gene with columns ``gene``, ``estimate``, ``ci_low``, ``ci_high`` (e.g. the
        table of ``lmmedu.contrasts(lmmedu.emmeans(fit, "treatment", by="gene"), "revpairwise")``).
    truth : dict, optional
        Gene -> true drug effect on the log scale (``lmmedu.truth(df).treatment_effects``).
    estimate, low, high, gene : str
        Column names.
    title : str, optional
        Default: how many intervals exclude 0.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"gene": ["A", "C"], "estimate": [0.2, 0.0], "ci_low": [0.1, -0.1], "ci_high": [0.3, 0.1]})
    >>> drug_effects_plot(t, truth={"A": 0.22, "C": 0.0}).get_title()
    '1 of 2 intervals exclude 0'
    """
    check_columns(table, [gene, estimate, low, high], "drug_effects_plot")
    ax = new_axes(ax, (4.5, 4))
    genes = [str(g) for g in table[gene]]
    colours = palette(len(genes))
    y = table[estimate].to_numpy(dtype=float)
    lo, hi = table[low].to_numpy(dtype=float), table[high].to_numpy(dtype=float)
    for i, colour in enumerate(colours):
        ax.errorbar(i, y[i], yerr=[[y[i] - lo[i]], [hi[i] - y[i]]], fmt="o", color=colour, capsize=5,
                    markersize=8, linewidth=2, label="estimate, 95% CI" if i == 0 else None)
    if truth is not None:
        ax.scatter(range(len(genes)), [truth.get(g, np.nan) for g in genes], marker="x", s=70, color="black",
                   zorder=4, label="truth (simulation)")
    ax.axhline(0, color="black", linewidth=1, linestyle=":")
    ax.set_xticks(range(len(genes)), [f"gene {g}" for g in genes])
    ax.set_xlim(-0.6, len(genes) - 0.4)
    # A difference of logs is the log of a ratio: it has no unit (0.1 is about 10% longer).
    ax.set_ylabel("drug effect (log ratio, no unit):\nmean log length, drug − control")
    excluded = int(np.sum((lo > 0) | (hi < 0)))
    ax.set_title(title or f"{excluded} of {len(genes)} intervals exclude 0", fontsize="medium")
    ax.legend(fontsize="small", loc="best", frameon=False)
    return ax
