"""Figures of notebooks 03 and 04: cell means, interaction plots, false-positive rates.

Each function draws on a matplotlib ``Axes`` (a new one if ``ax`` is None) and returns it, so
widgets and notebooks can place, title and close the figure themselves.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from .plots import _palette

__all__ = ["LOG_LABEL", "replicate_means_plot", "cell_means_plot", "interaction_plot", "weights_plot",
           "rates_plot"]

#: Y-axis label for means of log(length); the data set's lengths have arbitrary units.
LOG_LABEL = "mean log(length) (natural log, arbitrary length units)"


def _axes(ax, figsize=(6, 4)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def _levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.unique())
        return [c for c in series.cat.categories if c in present]
    return list(dict.fromkeys(series))


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
    ax = _axes(ax, figsize=(7, 4.2))
    logs = data.assign(_y=np.log(data[response].to_numpy(dtype=float)))
    genes = _levels(data[gene])
    treatments = _levels(data[treatment])
    colours = _palette(len(treatments))
    offsets = np.linspace(-0.2, 0.2, len(treatments)) if len(treatments) > 1 else [0.0]
    per_rep = logs.groupby([gene, treatment, group], observed=True)["_y"].agg(["mean", "size"]).reset_index()
    per_cell = logs.groupby([gene, treatment], observed=True)["_y"].mean().reset_index()
    biggest = float(per_rep["size"].max())
    for k, (t, colour) in enumerate(zip(treatments, colours)):
        sub = per_rep[per_rep[treatment].astype(str) == str(t)]
        x = np.array([genes.index(g) for g in sub[gene]], dtype=float) + offsets[k]
        ax.scatter(x, sub["mean"], s=15 + 85 * sub["size"] / biggest, color=colour, alpha=0.45,
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
    ax = _axes(ax, figsize=(6, 3.6))
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
        Columns ``gene``, ``treatment`` and ``value`` (e.g. from :func:`lmmedu.teach.coding.cell_table`).
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
    ax = _axes(ax)
    genes = _levels(cell_means[gene])
    treatments = _levels(cell_means[treatment])
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
    ax = _axes(ax)
    genes = _levels(table[gene])
    treatments = _levels(table[treatment])
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


def rates_plot(rates: pd.DataFrame, alpha: float = 0.05, title: str | None = None, ax=None):
    """False-positive rate of each model with its 95% interval, and the nominal ``alpha``.

    Parameters
    ----------
    rates : pandas.DataFrame
        Columns ``model``, ``rate``, ``ci_low``, ``ci_high`` (``RandomSlopeStudy.rates``).
    alpha : float, default 0.05
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> r = pd.DataFrame({"model": ["a", "b"], "rate": [0.4, 0.05], "ci_low": [0.3, 0.02], "ci_high": [0.5, 0.1]})
    >>> rates_plot(r).get_ylabel()
    'false-positive rate (share of experiments)'
    """
    ax = _axes(ax, figsize=(5.5, 3.6))
    colours = _palette(len(rates))
    x = np.arange(len(rates))
    y = rates["rate"].to_numpy(dtype=float)
    err = np.vstack([y - rates["ci_low"].to_numpy(dtype=float), rates["ci_high"].to_numpy(dtype=float) - y])
    ax.bar(x, y, color=colours, width=0.55)
    ax.errorbar(x, y, yerr=err, fmt="none", ecolor="0.2", capsize=6)
    ax.axhline(alpha, color="0.2", linestyle="--", linewidth=1.2, label=f"nominal rate {alpha:g}")
    ax.set_xticks(x, list(rates["model"]))
    ax.set_ylim(0, max(1.0 if y.max() > 0.5 else 0.6, float(rates["ci_high"].max()) * 1.1))
    ax.set_xlabel("random effects of the fitted model")
    ax.set_ylabel("false-positive rate (share of experiments)")
    ax.set_title(title or "Without a random slope, a zero drug effect is 'found' far too often")
    ax.legend(fontsize="small")
    return ax
