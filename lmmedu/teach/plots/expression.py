"""The plots of notebook 08 (the gene-expression case study).

Part of :mod:`lmmedu.teach.plots`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import numpy as np

from ..cells import check_columns
from .base import PAGE_WIDTH, palette, rate_rows, rate_xlim, fit_title, fit_xlabel, fit_ylabel, new_axes

__all__ = ["residual_pattern_plot", "analysis_rates_plot"]


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
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"genotype": ["a", "a", "b", "b"], "weeks": [2, 4, 2, 4],
    ...                       "n_rows": 10, "mean_residual": [0.0, 0.1, 0.0, -0.1]})
    >>> residual_pattern_plot(cells).get_xlabel()
    'age (weeks)'
    """
    from ..studies import array_spread

    check_columns(cells, ["genotype", "weeks", "mean_residual"], "residual_pattern_plot")
    ax = new_axes(ax, (PAGE_WIDTH, 4.6))
    genotypes = list(dict.fromkeys(cells["genotype"].astype(str)))
    colours = dict(zip(genotypes, palette(len(genotypes))))
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
    # Says what a point is: the residuals (data minus the model's fit) averaged over a cell's rows.
    fit_ylabel(ax, "residual (data minus the model's fit), averaged per age and strain, in expression units"
               + ("; each strain's curve shifted to average 0" if center else ""))
    title = "Residuals of the probeset-only model, averaged by age and strain"
    if arrays is not None:
        per_cell = arrays.groupby(["genotype", "weeks"], observed=True).size()
        title = (f"Each average rests on {per_cell.min()} to {per_cell.max()} arrays, and arrays of the same "
                 f"age and strain differ by SD {array_spread(arrays):.3f}")
    fit_title(ax, title, fontsize="medium", width=0.62 * ax.figure.get_figwidth())
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
    >>> import pandas as pd
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
    rate_rows(ax, rates, alpha, "no usable test")
    rate_xlim(ax, 1.08)
    fit_xlabel(ax, f"false-positive rate (share of experiments with p < {alpha:g}, linear)")
    worst = rates.loc[rates["rate"].idxmax()] if rates["rate"].notna().any() else None
    n = int(rates["n_sims"].max())
    title = f"{n} experiments without a true effect"
    if worst is not None:
        title = f"{worst['analysis']}: {worst['rate']:.0%} false positives in {n} experiments without a true effect"
    fit_title(ax, title, fontsize="medium")
    ax.legend(loc="lower right", frameon=False, fontsize="small", borderaxespad=0.2)
    return ax
