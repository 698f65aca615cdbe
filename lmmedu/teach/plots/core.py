"""Core of :mod:`lmmedu.teach.plots`: the helpers every figure shares and the figures of notebooks 01-04.

The overview of the package is in :mod:`lmmedu.teach.plots`; the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..cells import check_columns, check_level, length_skewness, levels, replicate_means

__all__ = [
    "PALETTE",
    "LOG_LABEL",
    "new_axes",
    "new_panels",
    "wrap_text",
    "fit_title",
    "fit_xlabel",
    "fit_ylabel",
    "number",
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
    "drug_effects_plot",
]

_TREATMENTS = ("control", "drug")

#: Colours of control and drug in every figure (seaborn's colour-blind palette).
PALETTE = dict(zip(_TREATMENTS, sns.color_palette("colorblind", 2)))

#: Y-axis label for means of log(length), in the style of the other notebooks' "log length (log µm)".
LOG_LABEL = "mean log length (log µm)"


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
    from matplotlib.textpath import text_to_path

    prop = FontProperties(size=fontsize)
    limit = 72.0 * width_in

    def width(line):
        return text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]

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


def _rate_xlim(ax, right):
    """x from 0 to ``right``, with a margin left of 0 so a rate of 0% is drawn whole, not cut by the frame."""
    ax.set_xlim(-0.025 * right, right)


def _legend_below(axes, handles, labels):
    """One legend for a row of panels, under them (beside the last panel when the figure has no layout engine).

    Inside a panel a legend covers the points that happen to fall in its corner.
    """
    fig = axes[0].figure
    if fig.get_layout_engine() is not None:
        return fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3), frameon=False,
                          fontsize="small")
    return axes[-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                           fontsize="small")


def _marker_path(marker):
    from matplotlib.markers import MarkerStyle

    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform())


def _interval_rows(ax, labels, nominal, linewidth=1.2):
    """Rows labelled top to bottom and the nominal level dashed: the frame of every rates figure.

    An empty band under the last row holds the legend, where no interval or percentage is drawn.
    """
    ax.axvline(nominal, color="black", linestyle="--", linewidth=linewidth, label=f"nominal {nominal:.0%}")
    ax.set_yticks(np.arange(len(labels)), [str(v) for v in labels])
    ax.set_ylim(len(labels) - 0.5 + 0.6, -0.5)


def _rate_rows(ax, rates, alpha, missing):
    """Each analysis's rejection rate with its interval, one row each; ``missing`` where none was usable."""
    colours = _palette(len(rates))
    for i, row in enumerate(rates.itertuples()):
        if row.n_sims == 0 or not np.isfinite(row.rate):
            ax.text(alpha, i, f"  {missing}", va="center", ha="left", fontsize="small", color="dimgray")
            continue
        ax.errorbar(row.rate, i, xerr=[[row.rate - row.ci_low], [row.ci_high - row.rate]], fmt="o",
                    color=colours[i], markersize=9, capsize=4, linewidth=2)
        ax.text(row.ci_high, i, f"  {row.rate:.0%}", va="center", ha="left", fontsize="small")
    _interval_rows(ax, rates["analysis"], alpha)


def _dodged(x, i, n, spread, log_x):
    """x of the i-th of n curves, shifted so that curves at one setting do not hide each other's intervals."""
    shift = (i - (n - 1) / 2) * spread
    return x * 10**shift if log_x else x + shift


def _setting_axis(ax, values, log_x, nominal, xlabel):
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
        values = {t: float(cm.loc[cm["treatment"] == t, "mean_log"].iloc[0]) for t in hue_order}
        if len(values) > 1 and np.ptp(list(values.values())) < 1e-12:
            # Both arms share one true mean (no drug effect): one line, so no legend entry names a hidden line.
            ax.axhline(next(iter(values.values())), color="0.25", linestyle="--", linewidth=1.5,
                       label="true mean (both arms)")
        else:
            for t, value in values.items():
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

    def area(n):
        return 15 + 85 * np.asarray(n, dtype=float) / biggest

    # Replicate dots fan out to the left of the cell mean (in replicate order), so a replicate
    # whose mean equals the cell mean is not hidden behind it; each replicate has its own marker,
    # so one replicate can be followed from cell to cell.
    reps = levels(data[group])
    fan = np.linspace(-0.13, -0.04, len(reps)) if len(reps) > 1 else np.array([-0.08])
    markers = dict(zip(reps, itertools.cycle(["o", "s", "^", "v", "P", "X", "<", ">", "p", "h"])))
    for k, (t, colour) in enumerate(zip(treatments, colours)):
        sub = per_rep[per_rep[treatment].astype(str) == str(t)]
        x = (np.array([genes.index(g) for g in sub[gene]], dtype=float) + offsets[k]
             + fan[[reps.index(r) for r in sub[group]]])
        dots = ax.scatter(x, sub["mean_log"], s=area(sub["n"]), color=colour, alpha=0.6, edgecolor="white",
                          linewidth=0.5)
        # A line proxy, not a collection: the collections stay one per arm, dots then cell means.
        ax.plot([], [], linestyle="none", marker="o", markersize=7, color=colour, alpha=0.6,
                label=f"{t}: one replicate's mean")
        # One collection per arm, each point with its replicate's marker.
        dots.set_paths([_marker_path(markers[r]) for r in sub[group]])
        cell = per_cell[per_cell[treatment].astype(str) == str(t)]
        xc = np.array([genes.index(g) for g in cell[gene]], dtype=float) + offsets[k]
        ax.scatter(xc, cell["_y"], s=110, color=colour, edgecolor="black", zorder=3,
                   label=f"{t}: mean of all its rows")
        if truth is not None:
            tr = truth[truth[treatment].astype(str) == str(t)]
            xt = np.array([genes.index(g) for g in tr[gene]], dtype=float) + offsets[k] + 0.08
            ax.scatter(xt, tr["mean_log"], marker="x", s=70, color="black", zorder=4,
                       label="true cell mean" if k == 0 else None)
    # Legend entries for what is not in the data's colours: each replicate's marker, and what a dot's area means.
    for r in reps:
        ax.scatter([], [], s=50, marker=markers[r], color="0.5", label=f"{group} {r}")
    small, large = int(per_rep["n"].min()), int(per_rep["n"].max())
    for n in dict.fromkeys([small, large]):
        ax.scatter([], [], s=float(area(n)), color="0.5", alpha=0.6, label=f"area: {n:,} rows")
    ax.set_xticks(range(len(genes)), [str(g) for g in genes])
    ax.set_xlabel("gene")
    ax.set_ylabel(ylabel)
    fit_title(ax, title or "Each cell has its own mean; replicates scatter around it",
              width=0.62 * ax.figure.get_figwidth())
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
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
        fig, ax = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained")
    axes = np.asarray(ax, dtype=object).ravel()
    if len(axes) != 2:
        raise ValueError(f"length_scales draws two panels; pass ax as a pair of Axes, got {len(axes)}.")
    hue_order = [t for t in _TREATMENTS if t in set(sub["treatment"])]
    for a, col, label in ((axes[0], "length", "length (µm)"), (axes[1], "log_length", "log length (log µm)")):
        sns.histplot(data=sub, x=col, hue="treatment", hue_order=hue_order, palette=PALETTE, element="step",
                     stat="density", common_norm=False, bins=60, ax=a)
        a.set_xlabel(label)
        a.set_ylabel("density")
        a.set_title(f"skewness {number(skew[col])}", fontsize="medium")
    prefix = f"gene {gene}: " if gene is not None else ""
    axes[0].figure.suptitle(f"{prefix}lengths have a long right tail;\non the log scale they are close to symmetric")
    return axes


# --------------------------------------------------------------------------------------
# Studies: the one rates plot and rate curves
# --------------------------------------------------------------------------------------

def rates_plot(rates, ax=None, title=None):
    """Rejection rate of each analysis with its 95% interval and the nominal level.

    When the simulated experiments have no true effect (``attrs["settings"]["effect"]`` 0 or
    absent) the rate is a false-positive rate; otherwise it is the power, and the plot says so.

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
    _rate_rows(ax, rates, alpha, "not testable in this design")
    upper = np.nanmax(np.r_[rates["ci_high"].to_numpy(dtype=float), alpha * 2])
    _rate_xlim(ax, min(1.0, upper * 1.25 + 0.02))
    effect = float(settings.get("effect", 0.0) or 0.0)
    if effect:
        fit_xlabel(ax, f"power (share of experiments with p < {alpha:g}; true effect {effect:g} on the log scale)")
    else:
        fit_xlabel(ax, f"false-positive rate (share of experiments with p < {alpha:g})")
    if title is None:
        n = int((rates["n_sims"] + rates["n_missing"]).max())
        truth_text = f"true effect {effect:g}" if effect else "no true effect"
        title = f"{n} simulated experiments, {truth_text}"
        if rates["rate"].notna().any():
            if effect:
                best = rates.loc[rates["rate"].idxmax()]
                title = f"{best['analysis']} detects the effect in {best['rate']:.0%} ({n} experiments, {truth_text})"
            else:
                worst = rates.loc[rates["rate"].idxmax()]
                title = f"{worst['analysis']}: {worst['rate']:.0%} false positives ({n} experiments, no true effect)"
        if "design" in settings:
            title += (f"\n{settings.get('design')} design, {settings.get('n_replicates')} replicates, "
                      f"{settings.get('obs_per_replicate')} measurements per replicate")
            if settings.get("replicate_treatment_sd") is not None:
                title += f", drug-effect SD {settings['replicate_treatment_sd']:g}"
    fit_title(ax, title, fontsize="medium")
    ax.legend(loc="lower right", frameon=False, fontsize="small", borderaxespad=0.2)
    return ax


_AXIS_LABELS = {
    "obs_per_replicate": "measurements per replicate (log scale)",
    "n_replicates": "number of replicates",
    "replicate_sd": "replicate SD (log scale of length)",
    "replicate_treatment_sd": "SD of the drug effect between replicates (log scale of length)",
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
        x = _dodged(sub[vary].to_numpy(dtype=float), i, len(methods), spread, log_x)
        ok = sub["n_sims"].to_numpy() > 0
        ax.errorbar(x[ok], sub["rate"].to_numpy()[ok],
                    yerr=[(sub["rate"] - sub["ci_low"]).to_numpy()[ok], (sub["ci_high"] - sub["rate"]).to_numpy()[ok]],
                    fmt="-o", color=colours[i], capsize=3, label=method)
    _setting_axis(ax, values, log_x, alpha, _AXIS_LABELS.get(vary, vary))
    ax.set_ylabel(f"false-positive rate (p < {alpha:g})")
    top = min(1.0, max(alpha * 2, float(curve["ci_high"].max())) * 1.1)
    ax.set_ylim(-0.025 * top, top)  # a rate of 0 drawn whole, not cut by the frame
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    naive = curve[curve["analysis"] == "naive lm"].sort_values(vary)
    if len(naive) >= 2:
        first, last = naive.iloc[0], naive.iloc[-1]
        unit = _TITLE_UNITS.get(vary, vary)
        fit_title(ax, f"naive lm: {first['rate']:.0%} false positives with {first[vary]:g} {unit}, "
                      f"{last['rate']:.0%} with {last[vary]:g}\n({settings.get('design')} design, no true effect)",
                  fontsize="medium", width=0.55 * ax.figure.get_figwidth())
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
    >>> weights_plot(tab).get_ylabel().replace("\\n", " ")  # broken into lines that fit the panel
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
    fit_title(ax, title or "Cell means stay put; only the coefficients describing them change")
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
    colours = _palette(len(genes))
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
