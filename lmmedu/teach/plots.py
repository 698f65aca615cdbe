"""Every figure of the notebooks, drawn with seaborn on matplotlib.

The contract (see :mod:`lmmedu.teach`): every function takes ``ax=None`` (a new figure when
None) and returns the :class:`matplotlib.axes.Axes` it drew on; a two-panel figure takes and
returns a pair. The numbers a figure shows come from plain functions that notebooks and
tests call too (:mod:`lmmedu.teach.cells`, :mod:`lmmedu.teach.studies`); nothing is hung on
a figure. Axes are labelled with units and scale, colours come from seaborn's colour-blind
palette, the simulated truth is drawn where it is known, and titles state what the figure
shows, computed from the data.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .cells import check_columns, check_level, length_skewness, levels, replicate_means

__all__ = [
    "PALETTE",
    "LOG_LABEL",
    "new_axes",
    "replicate_view",
    "replicate_means_plot",
    "length_scales",
    "rates_plot",
    "rate_curve_plot",
    "se_ratio_plot",
    "percent_change_plot",
    "weights_plot",
    "cell_means_plot",
    "interaction_plot",
]

_TREATMENTS = ("control", "drug")

#: Colours of control and drug in every figure (seaborn's colour-blind palette).
PALETTE = dict(zip(_TREATMENTS, sns.color_palette("colorblind", 2)))

#: Y-axis label for means of log(length); the data sets' lengths have arbitrary units.
LOG_LABEL = "mean log(length) (natural log, arbitrary length units)"


def _palette(n):
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


def _one_gene(df, gene, func):
    check_columns(df, ["replicate", "treatment", "length"], func)
    if "gene" not in df.columns:
        return df, None
    genes = levels(df["gene"])
    gene = genes[0] if gene is None else check_level("gene", gene, genes)
    return df[df["gene"] == gene], gene


# --------------------------------------------------------------------------------------
# Data: measurements, replicate means, scales
# --------------------------------------------------------------------------------------

def replicate_view(df, gene=None, ax=None, max_points=150, seed=0):
    """Log length per replicate and treatment of one gene: measurements, replicate means, truth.

    Small dots are (up to ``max_points`` per replicate and arm, drawn at random) single
    measurements; big diamonds are the replicate means of :func:`lmmedu.teach.cells.replicate_means`,
    the numbers a replicate-level analysis works with; dashed lines are the true population
    means of each arm when the data carry their simulated truth.

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
    matplotlib.axes.Axes

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = replicate_view(lmmedu.simulate_replicates(obs_per_replicate=20, seed=1), gene="A")
    >>> ax.get_ylabel()
    'log length (log µm)'
    """
    sub, gene = _one_gene(df, gene, "replicate_view")
    if not isinstance(max_points, (int, np.integer)) or isinstance(max_points, bool) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}.")
    means = replicate_means(sub, cells=("treatment",))
    sub = sub.assign(log_length=np.log(sub["length"].to_numpy(dtype=float)))
    shuffled = sub.sample(frac=1.0, random_state=seed)
    dots = shuffled[shuffled.groupby(["replicate", "treatment"], observed=True).cumcount() < max_points]
    ax = new_axes(ax, (7.5, 4.2))
    order = [r for r in levels(sub["replicate"]) if r in set(means["replicate"])]
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
    label = f"gene {gene}: " if gene is not None else ""
    ax.set_title(f"{label}{len(sub):,} measurements, but only {len(order)} replicates:\n"
                 "measurements of one replicate rise and fall together")
    ax.set_xlabel("replicate")
    ax.set_ylabel("log length (log µm)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    return ax


def replicate_means_plot(data: pd.DataFrame, response: str = "length", group: str = "replicate",
                         gene: str = "gene", treatment: str = "treatment", truth: pd.DataFrame | None = None,
                         ylabel: str = LOG_LABEL, title: str | None = None, ax=None):
    """Mean log(response) of every replicate in every cell, and the mean of each cell.

    Small dots: one replicate's mean in one cell (area proportional to its measurements).
    Large dots: the mean of all measurements of the cell. Crosses: the true cell mean.

    Parameters
    ----------
    data : pandas.DataFrame
        Measurements with ``response``, ``group``, ``gene`` and ``treatment`` columns.
    response : str, default "length"
        Positive column; its natural log is plotted.
    group, gene, treatment : str
        Column names.
    truth : pandas.DataFrame, optional
        Columns gene, treatment, ``mean_log`` (``lmmedu.truth(df).cell_means``).
    ylabel, title : str
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import lmmedu
    >>> ax = replicate_means_plot(lmmedu.simulate_replicates(obs_per_replicate=20))
    >>> ax.get_xlabel()
    'gene'
    """
    ax = new_axes(ax, (7, 4.2))
    genes = levels(data[gene])
    treatments = levels(data[treatment])
    colours = _palette(len(treatments))
    offsets = np.linspace(-0.2, 0.2, len(treatments)) if len(treatments) > 1 else [0.0]
    per_rep = replicate_means(data, response, cells=(gene, treatment), group=group)
    logs = data.assign(_y=np.log(data[response].to_numpy(dtype=float)))
    per_cell = logs.groupby([gene, treatment], observed=True)["_y"].mean().reset_index()
    biggest = float(per_rep["n"].max())
    for k, (t, colour) in enumerate(zip(treatments, colours)):
        sub = per_rep[per_rep[treatment].astype(str) == str(t)]
        x = np.array([genes.index(g) for g in sub[gene]], dtype=float) + offsets[k]
        ax.scatter(x, sub["mean_log"], s=15 + 85 * sub["n"] / biggest, color=colour, alpha=0.45,
                   edgecolor="none", label=f"{t}: one replicate's mean")
        cell = per_cell[per_cell[treatment].astype(str) == str(t)]
        xc = np.array([genes.index(g) for g in cell[gene]], dtype=float) + offsets[k]
        ax.scatter(xc, cell["_y"], s=120, color=colour, edgecolor="black", zorder=3,
                   label=f"{t}: mean of all its rows")
        if truth is not None:
            tr = truth[truth[treatment].astype(str) == str(t)]
            xt = np.array([genes.index(g) for g in tr[gene]], dtype=float) + offsets[k] + 0.09
            ax.scatter(xt, tr["mean_log"], marker="x", s=70, color="black", zorder=4,
                       label="true cell mean" if k == 0 else None)
    ax.set_xticks(range(len(genes)), [str(g) for g in genes])
    ax.set_xlabel("gene")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Each cell has its own mean; replicates scatter around it")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def length_scales(df, gene=None, ax=None):
    """Histograms of length and of log length per treatment: why the model uses ``log``.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``treatment``, ``length`` (and ``gene``, ``replicate``).
    gene : str, optional
        Gene to show; default the first.
    ax : pair of matplotlib.axes.Axes, optional
        Panels for length and log length; default a new figure with two.

    Returns
    -------
    numpy.ndarray of two matplotlib.axes.Axes
        Titles give the skewness of :func:`lmmedu.teach.cells.length_skewness`.

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> axes = length_scales(lmmedu.simulate_replicates(obs_per_replicate=50, seed=1))
    >>> [a.get_xlabel() for a in axes]
    ['length (µm)', 'log length (log µm)']
    """
    sub, gene = _one_gene(df, gene, "length_scales")
    skew = length_skewness(sub)
    sub = sub.assign(log_length=np.log(sub["length"].to_numpy(dtype=float)))
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    axes = np.asarray(ax, dtype=object).ravel()
    if len(axes) != 2:
        raise ValueError(f"length_scales draws two panels; pass ax as a pair of Axes, got {len(axes)}.")
    hue_order = [t for t in _TREATMENTS if t in set(sub["treatment"])]
    for a, col, label in ((axes[0], "length", "length (µm)"), (axes[1], "log_length", "log length (log µm)")):
        sns.histplot(data=sub, x=col, hue="treatment", hue_order=hue_order, palette=PALETTE, element="step",
                     stat="density", common_norm=False, bins=60, ax=a)
        a.set_xlabel(label)
        a.set_ylabel("density")
        a.set_title(f"skewness {skew[col]:.2f}", fontsize="medium")
    prefix = f"gene {gene}: " if gene is not None else ""
    axes[0].figure.suptitle(f"{prefix}lengths have a long right tail; on the log scale they are close to symmetric")
    return axes


# --------------------------------------------------------------------------------------
# Studies: the one rates plot and rate curves
# --------------------------------------------------------------------------------------

def rates_plot(rates, ax=None, title=None):
    """Rejection rate of each analysis with its 95% interval and the nominal level.

    Every simulated experiment has no true effect, so the rate is a false-positive rate.

    Parameters
    ----------
    rates : pandas.DataFrame
        A :func:`lmmedu.teach.studies.rates` table of one setting (e.g. from
        :func:`~lmmedu.teach.studies.false_positive_rates` or
        :func:`~lmmedu.teach.studies.random_slope_rates`).
    ax : matplotlib.axes.Axes, optional
    title : str, optional
        Default: the analysis with the highest rate, and the settings.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import false_positive_rates
    >>> rates_plot(false_positive_rates(n_sims=10, obs_per_replicate=10)).get_xlabel()
    'false-positive rate (share of experiments with p < 0.05)'
    """
    check_columns(rates, ["analysis", "rate", "ci_low", "ci_high", "n_sims", "n_missing"], "rates_plot")
    if len(rates["analysis"]) != rates["analysis"].nunique():
        raise ValueError("rates_plot shows one setting; for a table with several, use rate_curve_plot.")
    settings = rates.attrs.get("settings", {})
    alpha = float(rates.attrs.get("alpha", 0.05))
    ax = new_axes(ax, (7.5, 0.9 + 0.7 * len(rates)))
    colours = _palette(len(rates))
    for i, row in enumerate(rates.itertuples()):
        if row.n_sims == 0 or not np.isfinite(row.rate):
            ax.text(alpha, i, "  not testable in this design", va="center", ha="left", fontsize="small",
                    color="dimgray")
            continue
        ax.errorbar(row.rate, i, xerr=[[row.rate - row.ci_low], [row.ci_high - row.rate]], fmt="o",
                    color=colours[i], markersize=9, capsize=4, linewidth=2)
        ax.text(row.ci_high, i, f"  {row.rate:.0%}", va="center", ha="left", fontsize="small")
    ax.axvline(alpha, color="black", linestyle="--", linewidth=1.2, label=f"nominal {alpha:.0%}")
    ax.set_yticks(np.arange(len(rates)), rates["analysis"].tolist())
    ax.set_ylim(len(rates) - 0.5, -0.5)
    upper = np.nanmax(np.r_[rates["ci_high"].to_numpy(dtype=float), alpha * 2])
    ax.set_xlim(0, min(1.0, upper * 1.25 + 0.02))
    ax.set_xlabel(f"false-positive rate (share of experiments with p < {alpha:g})")
    if title is None:
        n = int((rates["n_sims"] + rates["n_missing"]).max())
        title = f"{n} simulated experiments with no true effect"
        if rates["rate"].notna().any():
            worst = rates.loc[rates["rate"].idxmax()]
            title = f"{worst['analysis']}: {worst['rate']:.0%} false positives ({n} experiments, no true effect)"
        if "design" in settings:
            title += (f"\n{settings.get('design')} design, {settings.get('n_replicates')} replicates, "
                      f"{settings.get('obs_per_replicate')} measurements per replicate")
    ax.set_title(title, fontsize="medium")
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    return ax


_AXIS_LABELS = {
    "obs_per_replicate": "measurements per replicate (log scale)",
    "n_replicates": "number of replicates",
    "replicate_sd": "replicate SD (log scale of length)",
}


_TITLE_UNITS = {"obs_per_replicate": "measurements per replicate", "n_replicates": "replicates",
                "replicate_sd": "as replicate SD"}


def rate_curve_plot(curve, ax=None):
    """False-positive rate of each analysis against the setting a :func:`rate_curve` varied.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`lmmedu.teach.studies.rate_curve`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.studies import rate_curve
    >>> rate_curve_plot(rate_curve("obs_per_replicate", [5, 50], n_sims=3)).get_xscale()
    'log'
    """
    columns = curve.attrs.get("setting_columns", []) if isinstance(curve, pd.DataFrame) else []
    if len(columns) != 1 or columns[0] not in curve.columns:
        raise ValueError("rate_curve_plot needs a rates table with one setting column, such as the output of "
                         "lmmedu.teach.studies.rate_curve.")
    vary = columns[0]
    settings = curve.attrs.get("settings", {})
    alpha = float(curve.attrs.get("alpha", 0.05))
    ax = new_axes(ax, (7.0, 3.8))
    methods = list(dict.fromkeys(curve["analysis"]))
    colours = _palette(len(methods))
    values = sorted(curve[vary].unique())
    log_x = vary == "obs_per_replicate" and min(values) > 0
    # Methods side by side around each value, so the intervals do not hide each other.
    spread = 0.04 if log_x else 0.02 * (max(values) - min(values) or 1)
    for i, method in enumerate(methods):
        sub = curve[curve["analysis"] == method].sort_values(vary)
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
    naive = curve[curve["analysis"] == "naive lm"].sort_values(vary)
    if len(naive) >= 2:
        first, last = naive.iloc[0], naive.iloc[-1]
        unit = _TITLE_UNITS.get(vary, vary)
        ax.set_title(f"naive lm: {first['rate']:.0%} false positives with {first[vary]:g} {unit}, "
                     f"{last['rate']:.0%} with {last[vary]:g}\n({settings.get('design')} design, no true effect)",
                     fontsize="medium")
    return ax


# --------------------------------------------------------------------------------------
# Models: standard errors, effects, weights, cells, interactions
# --------------------------------------------------------------------------------------

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
    >>> weights_plot(tab).get_ylabel()
    "weight of the replicate's mean (sums to 1)"
    """
    ax = new_axes(ax, (6, 3.6))
    colours = _palette(2)
    x = np.arange(len(table))
    ax.bar(x - 0.18, table["row_weight"], width=0.36, color=colours[0], label="lm: share of rows")
    ax.bar(x + 0.18, table["precision_weight"], width=0.36, color=colours[1],
           label="mixed model: precision weight")
    ax.axhline(float(table["equal_weight"].iloc[0]), color="0.3", linestyle="--", linewidth=1.2,
               label="equal weight")
    ax.set_xticks(x, [f"{r}\n(n = {n})" for r, n in zip(table[group], table["n"])])
    ax.set_xlabel(f"{group} (measurements in this cell)")
    ax.set_ylabel("weight of the replicate's mean (sums to 1)")
    ax.set_title(title or "lm weights replicates by rows, the mixed model by precision")
    ax.legend(fontsize="small")
    return ax


def cell_means_plot(cell_means: pd.DataFrame, value: str = "fitted_mean", intercept: float | None = None,
                    intercept_label: str = "intercept", gene: str = "gene", treatment: str = "treatment",
                    ylabel: str = LOG_LABEL, title: str | None = None, ax=None):
    """The cell means as points (gene on x, one colour per treatment), the intercept as a line.

    The y-limits depend only on the cell means, so when only the coding changes the points
    stay exactly where they are while the intercept line jumps between cells.

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
    >>> ax.get_ylabel().startswith("mean log(length)")
    True
    """
    ax = new_axes(ax)
    genes = levels(cell_means[gene])
    treatments = levels(cell_means[treatment])
    colours = _palette(len(treatments))
    width = 0.5
    offsets = np.linspace(-width / 2, width / 2, len(treatments)) if len(treatments) > 1 else [0.0]
    for k, (t, colour) in enumerate(zip(treatments, colours)):
        sub = cell_means[cell_means[treatment].astype(str) == str(t)]
        x = [genes.index(g) + offsets[k] for g in sub[gene]]
        ax.plot(x, sub[value], "o", color=colour, markersize=8, label=str(t))
    values = cell_means[value].to_numpy(dtype=float)
    span = max(float(np.ptp(values)), 1e-3)
    ax.set_ylim(values.min() - 0.25 * span, values.max() + 0.25 * span)
    if intercept is not None:
        ax.axhline(intercept, color="0.3", linestyle="--", linewidth=1.2, label=intercept_label)
    ax.set_xticks(range(len(genes)), [str(g) for g in genes])
    ax.set_xlabel("gene")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Cell means stay put; only the coefficients describing them change")
    ax.legend(fontsize="small", loc="best")
    return ax


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
    colours = _palette(len(genes))
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
    ax.set_title(title or "The drug effect differs between genes: the lines are not parallel")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


# --- notebook 05: why standard errors differ ---
__all__ += ["probeset_spread", "probeset_spread_plot", "design_effect_axes", "design_effect_plot"]


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
    colours = dict(zip(levels, _palette(len(levels))))
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
    ax.set_title(f"{len(chosen)} probesets: levels differ by SD {spread['between_sd']:.2f}, values within a "
                 f"probeset by SD {spread['within_sd']:.2f}", fontsize="medium")
    return ax


def design_effect_axes(pyplot=True):
    """The two Axes of :func:`design_effect_plot`, on a figure with fixed margins.

    Fixed margins instead of a layout engine keep a redraw cheap (the explorer redraws on
    every slider move). ``pyplot=False`` gives a figure that pyplot does not track, for
    widgets that turn it into PNG bytes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> len(design_effect_axes(pyplot=False))
    2
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = plt.figure(figsize=(11.0, 4.0)) if pyplot else Figure(figsize=(11.0, 4.0))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1.0], "wspace": 0.32})
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.27, top=0.92)
    return list(axes)


def design_effect_plot(view, axes=None):
    """Standard-error bars under lm and the mixed model, and the design-effect curve.

    Left: for the intercept and the drug effect, the SE the lm reports and the mixed model's
    SE, with a black dot at the true SD of each model's estimate. Right: the design effect
    ``1 + (m - 1) * ICC`` against group size ``m``, with the current design on it and the drug
    effect's own design effect next to it.

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
    """
    if axes is None:
        axes = design_effect_axes()
    ax_se, ax_curve = axes
    table, rho = view.table, view.settings["icc"]
    lm_colour, lmm_colour, curve_colour = _palette(3)
    y = np.arange(len(table))
    h = 0.36
    ax_se.barh(y - h / 2, table["se_lm"], height=h, color=lm_colour, label="lm: reported SE")
    ax_se.barh(y + h / 2, table["se_lmm"], height=h, color=lmm_colour, label="mixed model: SE")
    ax_se.plot(table["sd_lm"], y - h / 2, "o", color="black", markersize=5)
    ax_se.plot(table["se_lmm"], y + h / 2, "o", color="black", markersize=5, label="true SD of the estimate")
    ax_se.set_yticks(y, list(table.index))
    ax_se.set_ylim(len(table) - 0.5, -0.5)
    ax_se.set_xlim(0, 1.15 * float(np.nanmax(table[["se_lm", "sd_lm", "se_lmm"]].to_numpy())))
    ax_se.set_xlabel("standard error (units of one row's SD, linear scale)")
    ax_se.legend(frameon=False, fontsize="small", loc="upper center", bbox_to_anchor=(0.45, -0.2), ncol=3)
    ratio = float(table.loc["treatment[T.drug]", "se_ratio"])
    ax_se.set_title(f"drug effect: mixed-model SE is {ratio:.2f} x the lm's", fontsize="medium")

    top = max(10.0, 2.0 * view.kish_size)
    m = np.linspace(1.0, top, 200)
    ax_curve.plot(m, 1.0 + (m - 1.0) * rho, color=curve_colour, label=f"1 + (m - 1) x {rho:.2f}")
    ax_curve.axhline(1.0, color="gray", linewidth=1, linestyle=":")
    ax_curve.plot([view.kish_size], [view.deff], "o", color=curve_colour, markersize=12,
                  label=f"this design: {view.deff:.2f}")
    drug_deff = float(table.loc["treatment[T.drug]", "term_deff"])
    ax_curve.plot([view.kish_size], [drug_deff], "D", color=lmm_colour, markersize=6,
                  label=f"drug effect ({view.settings['varies']}): {drug_deff:.2f}")
    ax_curve.set_xlim(0, top)
    ax_curve.set_ylim(0, 1.1 * max(1.0 + (top - 1.0) * rho, drug_deff, 1.5))
    ax_curve.set_xlabel("rows per group m (size-weighted)")
    ax_curve.set_ylabel("design effect (variance ratio, linear)")
    ax_curve.legend(frameon=False, fontsize="small", loc="upper left")
    worth = f"{view.n_eff:,.0f}" if view.n_eff >= 10 else f"{view.n_eff:.1f}"
    ax_curve.set_title(f"{view.n:,} rows are worth about {worth} independent ones", fontsize="medium")
    return [ax_se, ax_curve]


# --- notebook 06: shrinkage and random slopes ---
__all__ += ["POOLING_COLOURS", "pooling_panels", "covariance_ellipse", "shrinkage_plot", "caterpillar_table",
            "caterpillar_plot", "pooling_error_plot", "singular_study_plot"]

#: Colours of complete, no and partial pooling (colour-blind palette, not the treatment colours).
POOLING_COLOURS = dict(zip(("complete pooling", "no pooling", "partial pooling"),
                           [sns.color_palette("colorblind")[i] for i in (7, 1, 2)]))


def _slope_term(table, func):
    check_columns(table, ["term", "no pooling", "partial pooling", "complete pooling", "population"], func)
    terms = list(dict.fromkeys(table["term"]))
    if len(terms) != 2 or terms[0] != "Intercept":
        raise ValueError(f"{func} needs the pooling table of a model with a random intercept and one random slope, "
                         f"such as (1 + treatment|replicate); got terms {terms}.")
    return terms[1]


def _wide(table, column):
    group = table.attrs.get("group", table.columns[0])
    return table.pivot(index=group, columns="term", values=column).reindex(list(dict.fromkeys(table[group])))


def _pull_text(table, group, level, slope):
    pull = table[table[group] == level].set_index("term")["pull"]
    return f"{pull[slope]:.0%} of the way for the drug effect, {pull['Intercept']:.0%} for the control level"


def pooling_panels(table, axes=None, ncols=5, reference="control"):
    """One panel per group: the complete-, no- and partial-pooling lines (and the truth).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.pooling_table` of a ``(1 + x|group)`` model with a
        two-level factor ``x``.
    axes : sequence of matplotlib.axes.Axes, optional
        One per group; a new figure when None.
    ncols : int, default 5
    reference : str, default "control"
        Label of the reference level (left end of every line).

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import lmmedu
    >>> from lmmedu.teach.comparison import pooling_table
    >>> from lmmedu.teach.studies import SLOPE_FORMULA, simulate_pooling
    >>> axes = pooling_panels(pooling_table(lmmedu.fit(SLOPE_FORMULA, simulate_pooling(4, n_replicates=4))))
    >>> len(axes)
    4
    """
    import matplotlib.pyplot as plt

    slope = _slope_term(table, "pooling_panels")
    group = table.attrs.get("group", table.columns[0])
    level = slope.split("[T.")[-1].rstrip("]") if "[T." in slope else slope
    levels = list(dict.fromkeys(table[group]))
    if axes is None:
        nrows = int(np.ceil(len(levels) / ncols))
        fig, grid = plt.subplots(nrows, min(ncols, len(levels)), figsize=(2.3 * min(ncols, len(levels)), 2.6 * nrows),
                                 sharex=True, sharey=True, layout="constrained", squeeze=False)
        for ax in grid.ravel()[len(levels):]:
            ax.set_visible(False)
        axes = grid.ravel()[:len(levels)]
    axes = np.asarray(axes, dtype=object).ravel()
    if len(axes) != len(levels):
        raise ValueError(f"pooling_panels needs one Axes per group ({len(levels)}), got {len(axes)}.")
    methods = list(POOLING_COLOURS)
    wide = {m: _wide(table, m) for m in methods}
    truth = _wide(table, "truth") if "truth" in table.columns else None
    n_obs = table.drop_duplicates(group).set_index(group)["n_obs"]
    pull = table.groupby(group, sort=False)["pull"].mean()
    hardest = pull.idxmax() if pull.notna().any() else None
    for ax, lev in zip(axes, levels):
        for m, style in zip(methods, ("-", "--", "-")):
            a, b = wide[m].loc[lev, "Intercept"], wide[m].loc[lev, slope]
            if np.isfinite(a) and np.isfinite(b):
                ax.plot([0, 1], [a, a + b], style, color=POOLING_COLOURS[m], linewidth=2 if m != "no pooling" else 1.5,
                        marker="o" if m == "no pooling" else None, markersize=4, label=m)
        if truth is not None:
            a, b = truth.loc[lev, "Intercept"], truth.loc[lev, slope]
            ax.plot([0, 1], [a, a + b], ":", color="black", marker="x", linewidth=1, label="truth")
        ax.set_title(f"{lev} ({int(n_obs[lev])} cells)", fontsize="small",
                     fontweight="bold" if lev == hardest else "normal")
        ax.set_xticks([0, 1], [reference, level])
        ax.set_xlim(-0.2, 1.2)
    for ax in axes[::ncols]:
        ax.set_ylabel("log length (log µm)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig = axes[0].figure
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False, fontsize="small")
    if hardest is not None:
        fig.suptitle(f"Partial pooling lies between each group's own line and the common line; {hardest} "
                     f"({int(n_obs[hardest])} cells) is pulled most:\n{_pull_text(table, group, hardest, slope)}",
                     fontsize="medium")
    return axes


def covariance_ellipse(center, cov, level=0.95, n=120):
    """Points on the ``level`` contour of a 2-D normal distribution (its probability ellipse).

    Parameters
    ----------
    center : array_like (2,)
    cov : array_like (2, 2)
        Covariance matrix (positive semi-definite; a singular one gives a line segment).
    level : float, default 0.95
        Share of the distribution inside the contour.
    n : int, default 120

    Returns
    -------
    ndarray (n, 2)

    Examples
    --------
    >>> pts = covariance_ellipse([0, 0], [[4, 0], [0, 1]], level=0.95)
    >>> round(float(pts[:, 0].max()), 2)  # 2 SD * sqrt(chi2_2(0.95)) = 2 * 2.45
    4.9
    """
    from scipy import stats as _stats

    cov = np.asarray(cov, dtype=float)
    if cov.shape != (2, 2) or not np.all(np.isfinite(cov)):
        raise ValueError(f"cov must be a finite 2 x 2 covariance matrix, got shape {cov.shape}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}.")
    evals, evecs = np.linalg.eigh((cov + cov.T) / 2)
    radius = np.sqrt(_stats.chi2.ppf(level, df=2))
    angle = np.linspace(0, 2 * np.pi, n)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    return np.asarray(center, dtype=float) + (evecs @ (np.sqrt(np.maximum(evals, 0))[:, None] * circle) * radius).T


def shrinkage_plot(table, cov, ax=None, level=0.95, show_truth=True):
    """Arrows from each group's no-pooling estimate to its partial-pooling estimate, with the ellipse.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.pooling_table` of a random intercept + one random slope model.
    cov : array_like (2, 2)
        Estimated random-effect covariance (:func:`lmmedu.teach.comparison.random_effect_cov`);
        its ``level`` ellipse is drawn around the population estimate.
    ax : matplotlib.axes.Axes, optional
    level : float, default 0.95
    show_truth : bool, default True
        Draw each group's true coefficients (when the table has them).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import lmmedu
    >>> from lmmedu.teach.comparison import pooling_table, random_effect_cov
    >>> from lmmedu.teach.studies import SLOPE_FORMULA, simulate_pooling
    >>> m = lmmedu.fit(SLOPE_FORMULA, simulate_pooling(4))
    >>> shrinkage_plot(pooling_table(m), random_effect_cov(m)).get_xlabel()
    'Intercept: mean log length of control cells (log µm)'
    """
    slope = _slope_term(table, "shrinkage_plot")
    group = table.attrs.get("group", table.columns[0])
    ax = new_axes(ax, (8.5, 5.5))
    none, partial = _wide(table, "no pooling"), _wide(table, "partial pooling")
    pop = table.drop_duplicates("term").set_index("term")["population"]
    center = [pop["Intercept"], pop[slope]]
    ell = covariance_ellipse(center, cov, level=level)
    ax.fill(ell[:, 0], ell[:, 1], color=POOLING_COLOURS["partial pooling"], alpha=0.12, linewidth=0)
    ax.plot(ell[:, 0], ell[:, 1], color=POOLING_COLOURS["partial pooling"], linewidth=1,
            label=f"{level:.0%} of replicates (estimated spread)")
    n_obs = table.drop_duplicates(group).set_index(group)["n_obs"]
    pull = table.groupby(group, sort=False)["pull"].mean()
    hardest = pull.idxmax() if pull.notna().any() else None
    ok = none.notna().all(axis=1)
    # One quiver for all arrows: a single artist draws fast enough for a slider.
    start = none.loc[ok, ["Intercept", slope]].to_numpy()
    step = partial.loc[ok, ["Intercept", slope]].to_numpy() - start
    ax.quiver(start[:, 0], start[:, 1], step[:, 0], step[:, 1], angles="xy", scale_units="xy", scale=1,
              color="dimgray", width=0.004, headwidth=4, headlength=5, zorder=2)
    ax.scatter(none.loc[ok, "Intercept"], none.loc[ok, slope], s=12 + 2 * n_obs[none.index[ok]].to_numpy(),
               color=POOLING_COLOURS["no pooling"], label="no pooling (size: cells)", zorder=3)
    ax.scatter(partial["Intercept"], partial[slope], s=25, color=POOLING_COLOURS["partial pooling"],
               label="partial pooling", zorder=4)
    ax.scatter(*center, marker="P", s=120, color="black", label="population estimate", zorder=5)
    if show_truth and "truth" in table.columns:
        truth = _wide(table, "truth")
        ax.scatter(truth["Intercept"], truth[slope], marker="x", s=25, color="black", linewidths=1,
                   label="truth", zorder=4)
    if hardest is not None and ok.get(hardest, False):
        ax.annotate(f"{hardest}: {int(n_obs[hardest])} cells", (none.loc[hardest, "Intercept"], none.loc[hardest, slope]),
                    xytext=(6, 6), textcoords="offset points", fontsize="small", fontweight="bold")
    ax.set_xlabel("Intercept: mean log length of control cells (log µm)")
    ax.set_ylabel(f"{slope}: drug effect (log scale)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    if hardest is not None:
        ax.set_title(f"Partial pooling pulls the groups toward the population estimate; {hardest} "
                     f"({int(n_obs[hardest])} cells)\nis pulled hardest: {_pull_text(table, group, hardest, slope)}",
                     fontsize="medium")
    return ax


def caterpillar_table(ranef, truth=None, level=0.95):
    """Conditional modes with their intervals (mode +/- z * conditional SD), and whether they cover the truth.

    Parameters
    ----------
    ranef : pandas.DataFrame
        ``fit.ranef_table()`` (columns ``group``, ``term``, ``level``, ``mode``, ``sd``).
    truth : pandas.DataFrame, optional
        True random effects (deviations from the population values): index levels, columns terms.
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``ranef`` plus ``ci_low``, ``ci_high`` and, with ``truth``, ``truth`` and ``covered``.

    Examples
    --------
    >>> r = pd.DataFrame({"group": "g", "term": "Intercept", "level": ["a", "b"], "mode": [0.1, -0.1], "sd": 0.05})
    >>> caterpillar_table(r)["ci_high"].round(3).tolist()
    [0.198, -0.002]
    """
    from scipy import stats as _stats

    check_columns(ranef, ["group", "term", "level", "mode", "sd"], "caterpillar_table")
    z = _stats.norm.ppf(0.5 + level / 2)
    out = ranef.copy()
    out["ci_low"] = out["mode"] - z * out["sd"]
    out["ci_high"] = out["mode"] + z * out["sd"]
    if truth is not None:
        true = pd.DataFrame(truth)
        out["truth"] = [float(true.loc[lev, term]) for lev, term in zip(out["level"], out["term"])]
        out["covered"] = (out["ci_low"] <= out["truth"]) & (out["truth"] <= out["ci_high"])
    out.attrs["level"] = level
    return out


def caterpillar_plot(table, axes=None):
    """Caterpillar plot: every group's conditional mode with its interval, sorted, one panel per term.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`caterpillar_table` (with or without the truth).
    axes : sequence of matplotlib.axes.Axes, optional
        One per term.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> r = pd.DataFrame({"group": "g", "term": "Intercept", "level": ["a", "b"], "mode": [0.1, -0.1], "sd": 0.05})
    >>> len(caterpillar_plot(caterpillar_table(r)))
    1
    """
    import matplotlib.pyplot as plt

    check_columns(table, ["term", "level", "mode", "ci_low", "ci_high"], "caterpillar_plot")
    terms = list(dict.fromkeys(table["term"]))
    if axes is None:
        _, axes = plt.subplots(1, len(terms), figsize=(5 * len(terms), 0.3 * table["level"].nunique() + 1.6),
                               layout="constrained", squeeze=False)
    axes = np.asarray(axes, dtype=object).ravel()
    level = table.attrs.get("level", 0.95)
    colour = POOLING_COLOURS["partial pooling"]
    for ax, term in zip(axes, terms):
        sub = table[table["term"] == term].sort_values("mode")
        y = np.arange(len(sub))
        ax.errorbar(sub["mode"], y, xerr=[sub["mode"] - sub["ci_low"], sub["ci_high"] - sub["mode"]], fmt="o",
                    color=colour, markersize=4, capsize=2, linewidth=1, label=f"mode, {level:.0%} interval")
        if "truth" in sub.columns:
            ax.scatter(sub["truth"], y, marker="x", color="black", s=25, label="truth", zorder=3)
        ax.axvline(0, color="dimgray", linewidth=1, linestyle="--")
        ax.set_yticks(y, sub["level"].tolist())
        ax.set_xlabel("deviation from the population value (log scale)")
        title = term
        if "covered" in sub.columns:
            title = f"{term}:\n{int(sub['covered'].sum())} of {len(sub)} intervals contain the truth"
        ax.set_title(title, fontsize="medium")
    axes[0].set_ylabel(str(table["group"].iloc[0]) if "group" in table.columns else "group")
    axes[0].legend(loc="lower right", frameon=False, fontsize="small")
    return axes


def pooling_error_plot(summary, ax=None):
    """Typical total squared error of the group estimates under each pooling, one bar group per term.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`lmmedu.teach.studies.shrinkage_error_summary`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> s = pd.DataFrame({"term": ["a"] * 3, "method": list(POOLING_COLOURS), "total_sq_error": [3.0, 2.0, 1.0]})
    >>> pooling_error_plot(s).get_ylabel()
    'total squared error over replicates (log scale units²)'
    """
    check_columns(summary, ["term", "method", "total_sq_error"], "pooling_error_plot")
    ax = new_axes(ax, (6.5, 3.8))
    sns.barplot(data=summary, x="term", y="total_sq_error", hue="method", hue_order=list(POOLING_COLOURS),
                palette=POOLING_COLOURS, ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("total squared error over replicates (log scale units²)")
    best = summary.loc[summary.groupby("term")["total_sq_error"].idxmin(), "method"].unique()
    ax.set_title(f"Smallest total error: {' and '.join(best)}", fontsize="medium")
    ax.legend(frameon=False, fontsize="small")
    return ax


def singular_study_plot(results, ax=None):
    """Estimated against true slope SD in simulated experiments; singular fits marked.

    Parameters
    ----------
    results : pandas.DataFrame
        :func:`lmmedu.teach.studies.singular_fit_study`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> r = pd.DataFrame({"slope_sd": [0.0, 0.1], "estimated_sd": [0.0, 0.08], "singular": [True, False],
    ...                   "converged": True})
    >>> singular_study_plot(r).get_xlabel()
    'true SD of the replicate drug effects (log scale)'
    """
    check_columns(results, ["slope_sd", "estimated_sd", "singular", "converged"], "singular_study_plot")
    ax = new_axes(ax, (6.5, 4))
    sds = sorted(results["slope_sd"].unique())
    pos = {s: i for i, s in enumerate(sds)}
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(results))
    x = results["slope_sd"].map(pos).to_numpy() + jitter
    colours = sns.color_palette("colorblind")
    for flag, colour, label in ((False, colours[0], "regular fit"), (True, colours[3], "singular fit")):
        mask = results["singular"].to_numpy() == flag
        ax.scatter(x[mask], results.loc[mask, "estimated_sd"], color=colour, s=25, label=label,
                   marker="o" if not flag else "D", zorder=3)
    for s in sds:
        ax.plot([pos[s] - 0.3, pos[s] + 0.3], [s, s], color="black", linewidth=2)
    ax.plot([], [], color="black", linewidth=2, label="true SD")
    ax.set_xticks(range(len(sds)), [f"{s:g}" for s in sds])
    ax.set_xlabel("true SD of the replicate drug effects (log scale)")
    ax.set_ylabel("estimated SD (log scale)")
    share = results["singular"].mean()
    real = results.loc[results["slope_sd"] > 0, "singular"]
    extra = (f",\n{real.mean():.0%} of them where the true SD is not 0" if len(real) and real.any()
             else "")
    ax.set_title(f"{results['converged'].mean():.0%} of fits converged, yet {share:.0%} are singular{extra}",
                 fontsize="medium")
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    return ax


# --- notebook 07: p-values and model comparison ---
# Rates with intervals from the one rates table (lmmedu.teach.studies.rates, rates_and_coverage),
# and residual diagnostics from lmmedu.teach.comparison.residual_table.

__all__ += ["rates_vs_setting_plot", "rates_at_setting_plot", "residuals_vs_fitted_plot", "qq_plot",
            "residuals_by_group_plot"]

_SETTING_LABELS = {"n_groups": "number of replicates (groups)", "group_size": "measurements per replicate",
                   "icc": "ICC (share of variance between replicates)", "slope_sd": "SD of the drug effect "
                   "between replicates (log scale)"}


def _analysis_colours(analyses):
    return dict(zip(analyses, _palette(max(len(analyses), 1))))


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
    import matplotlib.pyplot as plt

    check_columns(table, ["analysis", "rate", "ci_low", "ci_high", "coverage", "coverage_low", "coverage_high"],
                     "rates_vs_setting_plot")
    x = _varying_setting(table, x)
    alpha = float(table.attrs.get("alpha", 0.05))
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.0), layout="constrained")
    analyses = list(dict.fromkeys(table["analysis"]))
    colours = _analysis_colours(analyses)
    values = sorted(table[x].unique())
    log_x = min(values) > 0 and max(values) / min(values) >= 4
    for ax, (col, low, high, nominal, label) in zip(axes, [
            ("rate", "ci_low", "ci_high", alpha, f"false-positive rate (p < {alpha:g})"),
            ("coverage", "coverage_low", "coverage_high", 1 - alpha,
             f"share of {1 - alpha:.0%} intervals containing the truth")]):
        for i, name in enumerate(analyses):
            sub = table[table["analysis"] == name].sort_values(x)
            # The analyses side by side around each value, so their intervals do not hide each other.
            shift = (i - (len(analyses) - 1) / 2) * 0.03
            xs = sub[x].to_numpy(dtype=float) * (10**shift if log_x else 1.0) + (0 if log_x else shift)
            y = sub[col].to_numpy(dtype=float)
            ax.errorbar(xs, y, yerr=[y - sub[low].to_numpy(dtype=float), sub[high].to_numpy(dtype=float) - y],
                        fmt="-o", color=colours[name], capsize=3, label=name)
        ax.axhline(nominal, color="black", linestyle="--", linewidth=1.2, label=f"nominal {nominal:.0%}")
        if log_x:
            ax.set_xscale("log")
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.minorticks_off()
        ax.set_xlabel(_SETTING_LABELS.get(x, x))
        ax.set_ylabel(label)
    axes[0].set_ylim(0, min(1.0, max(3 * alpha, float(table["ci_high"].max()) * 1.1)))
    axes[1].set_ylim(max(0.0, min(1 - 3 * alpha, float(table["coverage_low"].min()) - 0.02)), 1.0)
    axes[1].legend(frameon=False, fontsize="small", loc="lower right")
    worst = table.loc[table["rate"].idxmax()]
    where = f"{worst[x]:g} {'replicates' if x == 'n_groups' else x}"
    axes[0].set_title(f"{worst['analysis'].split(' (')[0]}: {worst['rate']:.0%} false positives with {where}",
                      fontsize="medium")
    low_cov = table.loc[table["coverage"].idxmin()]
    axes[1].set_title(f"{low_cov['analysis'].split(' (')[0]}: {low_cov['coverage']:.0%} of intervals contain the "
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
    ax.axvline(nominal, color="black", linestyle="--", linewidth=1.2, label=f"nominal {nominal:.0%}")
    ax.set_yticks(range(len(sub)), list(sub["analysis"]))
    ax.set_ylim(len(sub) - 0.5, -0.5)
    if column == "rate":
        ax.set_xlim(0, min(1.0, max(3 * alpha, float(sub[high].max()) * 1.25)))
        ax.set_xlabel(f"false-positive rate (share of experiments with p < {alpha:g}), 95% interval")
    else:
        ax.set_xlim(max(0.0, float(sub[low].min()) - 0.08), 1.0)
        ax.set_xlabel(f"share of {nominal:.0%} intervals that contain the truth, 95% interval")
    ax.legend(frameon=False, fontsize="small", loc="lower right" if column == "rate" else "lower left")
    top = sub.loc[sub[column].idxmax()] if column == "rate" else sub.loc[sub[column].idxmin()]
    word = "false positives" if column == "rate" else "coverage"
    ax.set_title(title or f"{top['analysis']}: {top[column]:.0%} {word}", fontsize="medium")
    return ax


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
    ax.scatter(shown["fitted"], shown["residual"], s=6, alpha=0.3, color=_palette(1)[0], label="observations")
    # Means in bins of the fitted values (quantile bins, so each holds data).
    n_bins = int(min(12, max(2, table["fitted"].nunique())))
    bins = pd.qcut(table["fitted"], q=n_bins, duplicates="drop")
    binned = table.groupby(bins, observed=True)[["fitted", "residual"]].mean()
    ax.plot(binned["fitted"], binned["residual"], "-o", color=_palette(2)[1], linewidth=2, label="mean in bins")
    ax.axhline(0, color="black", linewidth=1)
    from .comparison import residual_spread_ratio

    response = table.attrs.get("response", "response")
    ax.set_xlabel(f"fitted {response} (units of {response})")
    ax.set_ylabel(f"residual (units of {response})")
    ax.legend(frameon=False, fontsize="small", loc="upper right")
    ratio = residual_spread_ratio(table)
    ax.set_title(table.attrs.get("model", "") + f"\nresiduals spread {ratio:.2g}x as wide at high fitted values "
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
    >>> qq_plot(residual_table(m)).get_xlabel()
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
    ax.scatter(q[keep], s[keep], s=8, color=_palette(1)[0], alpha=0.6)
    lim = float(np.nanmax(np.abs(np.r_[q, s])))
    ax.plot([-lim, lim], [-lim, lim], color="black", linewidth=1, label="normal residuals")
    ax.set_xlabel("normal quantile (standard normal units)")
    ax.set_ylabel("scaled residual (residual / residual SD)")
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    skew = float(stats.skew(table["scaled"]))
    ax.set_title(label or f"{table.attrs.get('model', '')}\nskewness of the residuals {skew:.2f}", fontsize="medium")
    return ax


def residuals_by_group_plot(table, axes=None, max_groups=6):
    """One panel per group: residuals against fitted values, with the mean residual of each ``by`` level.

    A group whose levels' mean residuals sit on opposite sides of 0 has an effect the model did
    not allow to differ between groups (a missing random slope).

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
    >>> len(residuals_by_group_plot(residual_table(m, by="treatment")))
    4
    """
    import matplotlib.pyplot as plt

    from .comparison import residual_means

    check_columns(table, ["fitted", "residual", "group"], "residuals_by_group_plot")
    groups = list(pd.unique(table["group"]))[:max_groups]
    if axes is None:
        _, axes = plt.subplots(1, len(groups), figsize=(2.3 * len(groups) + 0.8, 3.2), sharey=True,
                               layout="constrained", squeeze=False)
        axes = list(axes[0])
    if len(axes) < len(groups):
        raise ValueError(f"residuals_by_group_plot needs {len(groups)} Axes, got {len(axes)}.")
    means = residual_means(table)
    has_by = "by" in table.columns
    levels = list(pd.unique(table["by"])) if has_by else [None]
    colours = dict(zip(levels, _palette(max(len(levels), 1))))
    for ax, g in zip(axes, groups):
        sub = table[table["group"] == g]
        shown = sub.sample(n=min(len(sub), 400), random_state=0)
        for level in levels:
            pts = shown if level is None else shown[shown["by"] == level]
            ax.scatter(pts["fitted"], pts["residual"], s=5, alpha=0.25, color=colours[level])
            m = means[(means["group"] == g) & ((means["by"] == level) if has_by else True)]
            xs = sub["fitted"] if level is None else sub.loc[sub["by"] == level, "fitted"]
            ax.hlines(m["mean_residual"], xs.min() - 0.02, xs.max() + 0.02, color=colours[level], linewidth=3,
                      label=f"mean residual, {level}" if level is not None else "mean residual")
        ax.axhline(0, color="black", linewidth=1)
        ax.set_title(f"{g}", fontsize="medium")
        ax.set_xlabel(f"fitted {table.attrs.get('response', 'value')}")
    axes[0].set_ylabel(f"residual (units of {table.attrs.get('response', 'the response')})")
    axes[-1].legend(frameon=False, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    spread = means["mean_residual"].abs().max()
    axes[0].figure.suptitle(f"{table.attrs.get('model', '')}: mean residuals per group and level up to "
                            f"{spread:.2g} away from 0", fontsize="medium")
    return list(axes)


# --- notebook 08: case study gene expression ---

__all__ += ["residual_pattern_plot", "analysis_rates_plot"]


def residual_pattern_plot(cells, arrays=None, truth_cells=None, center=True, ax=None):
    """Average residual of each week x genotype cell over age, one line per genotype, arrays as dots.

    The figure a reply on the mailing list suggested (residuals of a probeset-only model,
    averaged by week x genotype), with each array's own average added as a dot, so that one can
    see how many arrays each cell average rests on, and how much they disagree.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`lmmedu.teach.studies.residual_means` by ``("genotype", "weeks")``.
    arrays : pandas.DataFrame, optional
        The same by ``("sample", "genotype", "weeks")``: one dot per array.
    truth_cells : pandas.DataFrame, optional
        Cell averages of a data set without array effects (a simulation's truth), drawn dashed.
    center : bool, default True
        Shift each genotype's curve (and its dots) to average 0 over its cells, so that parallel
        curves overlap and an interaction shows as curves that bend apart. False draws the
        averages as they are.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> cells = pd.DataFrame({"genotype": ["a", "a", "b", "b"], "weeks": [2, 4, 2, 4],
    ...                       "n_rows": 10, "mean_residual": [0.0, 0.1, 0.0, -0.1]})
    >>> residual_pattern_plot(cells).get_xlabel()
    'age (weeks)'
    """
    from .studies import array_spread

    check_columns(cells, ["genotype", "weeks", "mean_residual"], "residual_pattern_plot")
    ax = new_axes(ax, (7.5, 4.2))
    genotypes = list(dict.fromkeys(cells["genotype"].astype(str)))
    colours = dict(zip(genotypes, _palette(len(genotypes))))
    offsets = dict(zip(genotypes, np.linspace(-0.25, 0.25, len(genotypes))))

    def shift(table, g):
        sub = table[table["genotype"].astype(str) == g]
        return float(sub["mean_residual"].mean()) if center else 0.0

    for g in genotypes:
        sub = cells[cells["genotype"].astype(str) == g].sort_values("weeks")
        level = shift(cells, g)
        ax.plot(sub["weeks"], sub["mean_residual"] - level, marker="s", markersize=7, linewidth=2.2,
                color=colours[g], label=f"{g}: cell average")
        if arrays is not None:
            arr = arrays[arrays["genotype"].astype(str) == g]
            ax.scatter(arr["weeks"] + offsets[g], arr["mean_residual"] - level, s=30, color=colours[g], alpha=0.8,
                       edgecolor="white", linewidth=0.5, zorder=3, label=f"{g}: one array")
        if truth_cells is not None:
            tru = truth_cells[truth_cells["genotype"].astype(str) == g].sort_values("weeks")
            ax.plot(tru["weeks"], tru["mean_residual"] - shift(truth_cells, g), linestyle="--", linewidth=1.4,
                    color=colours[g], label=f"{g}: without array effects (truth)")
    ax.axhline(0, color="0.4", linewidth=0.8, linestyle=":")
    ax.set_xticks(sorted(cells["weeks"].unique()))
    ax.set_xlabel("age (weeks)")
    ax.set_ylabel("average residual" + (" minus its strain's mean" if center else "")
                  + "\n(expression units, linear)")
    title = "Residuals of the probeset-only model, averaged by age and strain"
    if arrays is not None:
        per_cell = arrays.groupby(["genotype", "weeks"], observed=True).size()
        title = (f"Each average rests on {per_cell.min()} to {per_cell.max()} arrays, and arrays of the same "
                 f"age and strain differ by SD {array_spread(arrays):.3f}")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax


def analysis_rates_plot(rates, ax=None):
    """Rejection rate of each analysis with its 95% interval and the nominal level, from :func:`rates`.

    Parameters
    ----------
    rates : pandas.DataFrame
        The rates table of :func:`lmmedu.teach.studies.rates` for one setting (columns
        ``analysis``, ``rate``, ``ci_low``, ``ci_high``, ``n_sims``; ``attrs["alpha"]``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> r = pd.DataFrame({"analysis": ["a", "b"], "rate": [0.4, 0.05], "ci_low": [0.3, 0.02],
    ...                   "ci_high": [0.5, 0.1], "n_sims": [50, 50]})
    >>> analysis_rates_plot(r).get_title()
    'a: 40% false positives in 50 experiments without a true effect'
    """
    check_columns(rates, ["analysis", "rate", "ci_low", "ci_high", "n_sims"], "analysis_rates_plot")
    if rates["analysis"].duplicated().any():
        raise ValueError("analysis_rates_plot draws one setting: give a rates table with each analysis once "
                         "(filter the setting columns first).")
    alpha = float(rates.attrs.get("alpha", 0.05))
    ax = new_axes(ax, (7.5, 0.9 + 0.6 * len(rates)))
    colours = _palette(len(rates))
    for i, row in enumerate(rates.itertuples()):
        if row.n_sims == 0 or not np.isfinite(row.rate):
            ax.text(alpha, i, "  no usable test", va="center", ha="left", fontsize="small", color="dimgray")
            continue
        ax.errorbar(row.rate, i, xerr=[[row.rate - row.ci_low], [row.ci_high - row.rate]], fmt="o",
                    color=colours[i], markersize=9, capsize=4, linewidth=2)
        ax.text(row.ci_high, i, f"  {row.rate:.0%}", va="center", ha="left", fontsize="small")
    ax.axvline(alpha, color="black", linestyle="--", linewidth=1.2, label=f"nominal {alpha:.0%}")
    ax.set_yticks(np.arange(len(rates)), rates["analysis"].tolist())
    ax.set_ylim(len(rates) - 0.5, -0.5)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel(f"false-positive rate (share of experiments with p < {alpha:g}, linear)")
    worst = rates.loc[rates["rate"].idxmax()] if rates["rate"].notna().any() else None
    n = int(rates["n_sims"].max())
    title = f"{n} experiments without a true effect"
    if worst is not None:
        title = f"{worst['analysis']}: {worst['rate']:.0%} false positives in {n} experiments without a true effect"
    ax.set_title(title, fontsize="medium")
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    return ax


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

    check_columns(wide, ["analysis", "false_positive_rate", "fp_low", "fp_high", "power", "power_low",
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
