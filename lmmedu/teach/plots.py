"""The figures the notebooks show, drawn with seaborn on matplotlib.

Every function returns the :class:`matplotlib.figure.Figure` it drew (call ``plt.show()`` or
``plt.close(fig)`` afterwards), labels its axes with units and scale, uses the colour-blind-safe
palette and draws the simulated truth where it is known. Titles state what the figure shows and
are computed from the data, never typed in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

__all__ = [
    "new_axes",
    "PALETTE",
    "replicate_view",
    "false_positive_plot",
    "rate_curve_plot",
    "length_scales",
    "se_ratio_plot",
    "percent_change_plot",
]

_TREATMENTS = ("control", "drug")


def _palette(n):
    return sns.color_palette("colorblind", n)


#: Colours of control and drug in every figure (seaborn's colour-blind palette).
PALETTE = dict(zip(_TREATMENTS, sns.color_palette("colorblind", 2)))


def new_axes(ax=None, figsize=(6, 4)):
    """``ax`` itself, or the Axes of a new constrained-layout figure of ``figsize`` when None.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> new_axes(None, (3, 2)).figure.get_size_inches().tolist()
    [3.0, 2.0]
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _new_axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        fig = ax.figure
    return fig, ax


def _require_columns(df, columns, func):
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{func} needs a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{func} needs the column(s) {missing}; pass a data set from lmmedu.simulate_replicates "
                         "or lmmedu.load_replicates.")


def _one_gene(df, gene, func):
    _require_columns(df, ["replicate", "treatment", "length"], func)
    if "gene" not in df.columns:
        return df, None
    genes = list(pd.unique(df["gene"]))
    if gene is None:
        gene = genes[0]
    if gene not in genes:
        raise ValueError(f"gene must be one of {genes}, got {gene!r}.")
    return df[df["gene"] == gene], gene


def replicate_view(df, gene=None, ax=None, max_points=150, seed=0):
    """Log length per replicate and treatment: measurements, replicate means and the truth.

    Small dots are (up to ``max_points`` per replicate and arm, drawn at random) single
    measurements; big diamonds are the means of each replicate and arm, the numbers a
    replicate-level analysis works with; dashed lines are the true population means of each
    arm when the data carry their simulated truth.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``replicate``, ``treatment``, ``length`` (and ``gene``), e.g. from
        :func:`lmmedu.load_replicates`.
    gene : str, optional
        Gene to show; default the first.
    ax : matplotlib.axes.Axes, optional
    max_points : int, default 150
        Measurements drawn per replicate and arm (all are used for the means).
    seed : int, default 0
        Seed of the random subsample of dots.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.lmmedu_means`` holds the plotted replicate means (columns ``replicate``,
        ``treatment``, ``mean_log``, ``n``).

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = replicate_view(lmmedu.simulate_replicates(obs_per_replicate=20, seed=1), gene="A")
    >>> fig.axes[0].get_ylabel()
    'log length (log µm)'
    """
    sub, gene = _one_gene(df, gene, "replicate_view")
    if not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}.")
    sub = sub.assign(log_length=np.log(sub["length"].to_numpy(dtype=float)))
    means = (sub.groupby(["replicate", "treatment"], observed=True)["log_length"]
             .agg(mean_log="mean", n="size").reset_index())
    shuffled = sub.sample(frac=1.0, random_state=seed)
    dots = shuffled[shuffled.groupby(["replicate", "treatment"], observed=True).cumcount() < max_points]
    fig, ax = _new_axes(ax, (7.5, 4.2))
    order = list(sub["replicate"].cat.categories) if hasattr(sub["replicate"], "cat") else sorted(
        sub["replicate"].unique())
    order = [r for r in order if r in set(means["replicate"])]
    hue_order = [t for t in _TREATMENTS if t in set(sub["treatment"])]
    sns.stripplot(data=dots, x="replicate", y="log_length", hue="treatment", order=order,
                  hue_order=hue_order, palette=PALETTE, dodge=True, size=2, alpha=0.3, jitter=0.15,
                  legend=False, ax=ax)
    # Means drawn by hand at the same dodged positions as the dots (0.8 wide, split per arm).
    width = 0.8 / len(hue_order)
    for j, t in enumerate(hue_order):
        m = means[means["treatment"] == t]
        x = np.array([order.index(r) for r in m["replicate"]]) - 0.4 + width * (j + 0.5)
        ax.scatter(x, m["mean_log"], s=110, marker="D", color=PALETTE[t], edgecolor="black",
                   linewidth=1.0, zorder=5, label=f"{t}: replicate mean")
    truth = df.attrs.get("truth")
    if truth is not None and hasattr(truth, "cell_means"):
        cm = truth.cell_means
        if gene is not None:
            cm = cm[cm["gene"] == gene]
        for t in hue_order:
            value = float(cm.loc[cm["treatment"] == t, "mean_log"].iloc[0])
            ax.axhline(value, color=PALETTE[t], linestyle="--", linewidth=1.5, label=f"{t}: true mean")
    n_rows = len(sub)
    label = f"gene {gene}: " if gene is not None else ""
    ax.set_title(f"{label}{n_rows:,} measurements, but only {len(order)} replicates:\n"
                 "measurements of one replicate rise and fall together")
    ax.set_xlabel("replicate")
    ax.set_ylabel("log length (log µm)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    fig.lmmedu_means = means
    return fig


def false_positive_plot(rates, ax=None):
    """False-positive rate of each method with its 95% interval and the nominal level.

    Parameters
    ----------
    rates : pandas.DataFrame
        Output of :func:`lmmedu.teach.studies.false_positive_rates`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import false_positive_rates
    >>> fig = false_positive_plot(false_positive_rates(n_sims=10, obs_per_replicate=10))
    >>> fig.axes[0].get_xlabel()
    'false-positive rate (share of experiments with p < 0.05)'
    """
    _require_columns(rates, ["method", "rate", "ci_low", "ci_high", "n_sims"], "false_positive_plot")
    settings = rates.attrs.get("settings", {})
    alpha = float(settings.get("alpha", 0.05))
    fig, ax = _new_axes(ax, (7.5, 3.0))
    colours = _palette(len(rates))
    y = np.arange(len(rates))
    for i, row in enumerate(rates.itertuples()):
        if row.n_sims == 0 or not np.isfinite(row.rate):
            ax.text(alpha, i, "  not testable in this design", va="center", ha="left", fontsize="small",
                    color="dimgray")
            continue
        ax.errorbar(row.rate, i, xerr=[[row.rate - row.ci_low], [row.ci_high - row.rate]], fmt="o",
                    color=colours[i], markersize=9, capsize=4, linewidth=2)
        ax.text(row.ci_high, i, f"  {row.rate:.0%}", va="center", ha="left", fontsize="small")
    ax.axvline(alpha, color="black", linestyle="--", linewidth=1.2, label=f"nominal {alpha:.0%}")
    ax.set_yticks(y, rates["method"].tolist())
    ax.set_ylim(len(rates) - 0.5, -0.5)
    upper = np.nanmax(np.r_[rates["ci_high"].to_numpy(dtype=float), alpha * 2])
    ax.set_xlim(0, min(1.0, upper * 1.25 + 0.02))
    ax.set_xlabel(f"false-positive rate (share of experiments with p < {alpha:g})")
    n = int(rates[["n_sims", "n_missing"]].sum(axis=1).max()) if "n_missing" in rates else int(rates["n_sims"].max())
    worst = rates.loc[rates["rate"].idxmax()] if rates["rate"].notna().any() else None
    title = f"{n} simulated experiments with no true effect"
    if worst is not None:
        title = f"{worst['method']}: {worst['rate']:.0%} false positives ({n} experiments, no true effect)"
    if settings:
        title += (f"\n{settings.get('design')} design, {settings.get('n_replicates')} replicates, "
                  f"{settings.get('obs_per_replicate')} measurements per replicate")
    ax.set_title(title, fontsize="medium")
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    return fig


_AXIS_LABELS = {
    "obs_per_replicate": "measurements per replicate (log scale)",
    "n_replicates": "number of replicates",
    "replicate_sd": "replicate SD (log scale of length)",
}


_TITLE_UNITS = {"obs_per_replicate": "measurements per replicate", "n_replicates": "replicates",
                "replicate_sd": "as replicate SD"}


def rate_curve_plot(curve, ax=None):
    """False-positive rate of each method against the setting a :func:`rate_curve` varied.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`lmmedu.teach.studies.rate_curve`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import rate_curve
    >>> fig = rate_curve_plot(rate_curve("obs_per_replicate", [5, 50], n_sims=3))
    >>> fig.axes[0].get_xscale()
    'log'
    """
    vary = curve.attrs.get("vary")
    if vary is None or vary not in curve.columns:
        raise ValueError("rate_curve_plot needs the output of lmmedu.teach.studies.rate_curve.")
    settings = curve.attrs.get("settings", {})
    alpha = float(settings.get("alpha", 0.05))
    fig, ax = _new_axes(ax, (7.0, 3.8))
    methods = list(dict.fromkeys(curve["method"]))
    colours = _palette(len(methods))
    values = sorted(curve[vary].unique())
    log_x = vary == "obs_per_replicate" and min(values) > 0
    # Methods side by side around each value, so the intervals do not hide each other.
    spread = 0.04 if log_x else 0.02 * (max(values) - min(values) or 1)
    for i, method in enumerate(methods):
        sub = curve[curve["method"] == method].sort_values(vary)
        x = sub[vary].to_numpy(dtype=float)
        shift = (i - (len(methods) - 1) / 2) * spread
        x = x * 10**shift if log_x else x + shift
        ok = sub["n_sims"].to_numpy() > 0
        ax.errorbar(x[ok], sub["rate"].to_numpy()[ok],
                    yerr=[(sub["rate"] - sub["ci_low"]).to_numpy()[ok], (sub["ci_high"] - sub["rate"]).to_numpy()[ok]],
                    fmt="-o", color=colours[i], capsize=3, label=method)
    ax.axhline(alpha, color="black", linestyle="--", linewidth=1.2, label=f"nominal {alpha:.0%}")
    if log_x:
        ax.set_xscale("log")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
    ax.set_xlabel(_AXIS_LABELS.get(vary, vary))
    ax.set_ylabel(f"false-positive rate (p < {alpha:g})")
    ax.set_ylim(0, min(1.0, max(alpha * 2, float(curve["ci_high"].max())) * 1.1))
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    naive = curve[curve["method"] == "naive lm"].sort_values(vary)
    if len(naive) >= 2:
        first, last = naive.iloc[0], naive.iloc[-1]
        unit = _TITLE_UNITS.get(vary, vary)
        ax.set_title(f"naive lm: {first['rate']:.0%} false positives with {first[vary]:g} {unit}, "
                     f"{last['rate']:.0%} with {last[vary]:g}\n({settings.get('design')} design, no true effect)",
                     fontsize="medium")
    return fig


def length_scales(df, gene=None):
    """Histograms of length and of log length per treatment: why the model uses ``log``.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``treatment``, ``length`` (and ``gene``, ``replicate``).
    gene : str, optional
        Gene to show; default the first.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: length (µm) and log length (log µm); ``fig.lmmedu_skewness`` holds the
        sample skewness of both scales.

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = length_scales(lmmedu.simulate_replicates(obs_per_replicate=50, seed=1))
    >>> [a.get_xlabel() for a in fig.axes]
    ['length (µm)', 'log length (log µm)']
    """
    import matplotlib.pyplot as plt
    from scipy import stats

    sub, gene = _one_gene(df, gene, "length_scales")
    sub = sub.assign(log_length=np.log(sub["length"].to_numpy(dtype=float)))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    hue_order = [t for t in _TREATMENTS if t in set(sub["treatment"])]
    skew = {"length": float(stats.skew(sub["length"])), "log_length": float(stats.skew(sub["log_length"]))}
    for ax, col, label in ((axes[0], "length", "length (µm)"), (axes[1], "log_length", "log length (log µm)")):
        sns.histplot(data=sub, x=col, hue="treatment", hue_order=hue_order, palette=PALETTE, element="step",
                     stat="density", common_norm=False, bins=60, ax=ax)
        ax.set_xlabel(label)
        ax.set_ylabel("density")
        ax.set_title(f"skewness {skew[col]:.2f}", fontsize="medium")
    prefix = f"gene {gene}: " if gene is not None else ""
    fig.suptitle(f"{prefix}lengths have a long right tail; on the log scale they are close to symmetric")
    fig.lmmedu_skewness = skew
    return fig


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
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib, pandas as pd
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"se_lm": [1.0, 1.0], "se_lmm": [3.0, 0.5]}, index=["Intercept", "x"])
    >>> fig = se_ratio_plot(t)
    >>> fig.axes[0].get_xscale()
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
    fig, ax = _new_axes(ax, (7.0, 0.9 + 0.45 * len(table)))
    colours = dict(zip(["between", "within", "term"], _palette(3)))
    y = np.arange(len(table))
    # Bars start at a ratio of 1 on a log axis, so halving and doubling look equally long.
    ax.set_xscale("log")
    for i, (term, r) in enumerate(ratio.items()):
        kind = kinds.loc[term]
        ax.barh(i, r - 1.0, left=1.0, color=colours.get(kind, "gray"), height=0.6,
                label=f"varies {kind} {group}s" if kind != "term" else None)
        ax.text(r, i, f" {r:.2g}x ", va="center", ha="left" if r >= 1 else "right", fontsize="small")
    span = max(2.0, float(np.nanmax(np.maximum(ratio, 1 / ratio))) * 2.0)
    ax.set_xlim(1 / span, span)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(y, list(table.index))
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlabel("SE(mixed model) / SE(lm), log scale")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), frameon=False, fontsize="small", loc="lower right")
    up, down = int((ratio > 1).sum()), int((ratio < 1).sum())
    ax.set_title(f"the mixed model raised {up} and lowered {down} of {len(ratio)} standard errors",
                 fontsize="medium")
    fig.lmmedu_ratio = ratio
    return fig


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
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib, pandas as pd
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"percent": [24.0], "percent_low": [20.0], "percent_high": [28.0]},
    ...                  index=pd.Index(["A"], name="gene"))
    >>> fig = percent_change_plot(t, truth={"A": 24.6})
    >>> fig.axes[0].get_xlabel()
    'drug effect: change in median length (%)'
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"percent_change_plot needs a pandas DataFrame, got {type(table).__name__}.")
    tab = table.set_index("gene") if "gene" in table.columns else table
    missing = [c for c in ("percent", "percent_low", "percent_high") if c not in tab.columns]
    if missing:
        raise ValueError(f"percent_change_plot needs the column(s) {missing}.")
    fig, ax = _new_axes(ax, (6.5, 0.9 + 0.55 * len(tab)))
    colours = _palette(2)
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
    return fig


# --- notebook 09: planning an experiment ---
__all__ += ["power_curve_plot", "power_rates_plot"]

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

    from .studies import power_curve_summary

    summary = power_curve_summary(curve, at=at, x=x, hue=hue, target=target, compare=compare)
    ax = new_axes(ax, (7.5, 4.2))
    hues = sorted(v.item() if hasattr(v, "item") else v for v in curve[hue].unique())
    colours = _palette(len(hues))
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
    # The verdict follows the numbers: "barely" only when the extremes differ by under 10 points.
    gain = summary["power_high"] - summary["power_low"]
    verdict = f"More {hue_label} barely help" if gain < 0.10 else f"More {hue_label} help"
    ax.set_title(f"{verdict}: with {at} {x_short}, power is {summary['power_low']:.0%} with "
                 f"{_plan_count_text(summary['low'])}\nand {summary['power_high']:.0%} with "
                 f"{_plan_count_text(summary['high'])} {hue_label}", fontsize="medium")
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

    _require_columns(wide, ["analysis", "false_positive_rate", "fp_low", "fp_high", "power", "power_low",
                            "power_high"], "power_rates_plot")
    alpha = float(wide.attrs.get("alpha", 0.05))
    ax = new_axes(ax, (7.5, 0.9 + 0.75 * len(wide)))
    fp_colour, power_colour = _palette(2)
    y = np.arange(len(wide))
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
    ax.axvline(alpha, color="black", linestyle="--", linewidth=1, label=f"nominal {alpha:.0%}")
    ax.axvline(target, color="grey", linestyle=":", linewidth=1.2, label=f"{target:.0%} power")
    ax.set_yticks(y, wide["analysis"].tolist())
    ax.set_ylim(len(wide) - 0.5, -0.5)
    ax.set_xlim(0, 1.02)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(f"share of experiments with p < {alpha:g}")
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
    ax.set_title(title or "false positives and power", fontsize="medium")
    return ax
