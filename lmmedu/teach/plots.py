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


# --- notebook 06: shrinkage and random slopes ---
__all__ += ["POOLING_COLOURS", "pooling_panels", "covariance_ellipse", "shrinkage_plot", "caterpillar_table",
            "caterpillar_plot", "pooling_error_plot", "singular_study_plot"]

#: Colours of complete, no and partial pooling (colour-blind palette, not the treatment colours).
POOLING_COLOURS = dict(zip(("complete pooling", "no pooling", "partial pooling"),
                           [sns.color_palette("colorblind")[i] for i in (7, 1, 2)]))


def _slope_term(table, func):
    _require_columns(table, ["term", "no pooling", "partial pooling", "complete pooling", "population"], func)
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

    _require_columns(ranef, ["group", "term", "level", "mode", "sd"], "caterpillar_table")
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

    _require_columns(table, ["term", "level", "mode", "ci_low", "ci_high"], "caterpillar_plot")
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
    _require_columns(summary, ["term", "method", "total_sq_error"], "pooling_error_plot")
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
    _require_columns(results, ["slope_sd", "estimated_sd", "singular", "converged"], "singular_study_plot")
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
