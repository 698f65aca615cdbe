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
    _require_columns(df, ["probeset", "genotype", "values"], "probeset_spread")
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
    _require_columns(df, ["probeset", "genotype", "weeks", "values"], "probeset_spread_plot")
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
