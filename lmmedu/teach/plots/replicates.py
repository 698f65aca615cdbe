"""Notebook 01's figures: measurements and replicate means of one gene, and the length scales."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..cells import length_skewness, levels, replicate_means
from .base import LOG_LABEL, PALETTE, _TREATMENTS, _marker_path, _one_gene, palette, fit_title, new_axes, number


__all__ = ["replicate_view", "replicate_means_plot", "length_scales"]


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
    colours = palette(len(treatments))
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
