"""The plots of notebook 10 (your own data): the diagnostics of notebooks 06 and 07 for any fit.

Part of :mod:`lmmedu.teach.plots`; see the contract in :mod:`lmmedu.teach`. Nothing is
drawn here that those notebooks do not draw: residuals against fitted values and the QQ plot
(:mod:`.pvalues`), the caterpillar plot of the conditional modes (:mod:`.pooling`), laid out
for a model of any response and any grouping factors.
"""

from __future__ import annotations

import pandas as pd  # noqa: F401 - the docstring examples build tables with it

from ...stats.results import is_mixed
from .base import PAGE_WIDTH, fit_title, fit_xlabel, new_panels
from .pooling import caterpillar_plot, caterpillar_table
from .pvalues import qq_plot, residuals_vs_fitted_plot

__all__ = ["extreme_modes", "residual_panels", "modes_panels"]


def extreme_modes(table, max_levels=20):
    """The levels a caterpillar plot can show: all of them, or the most extreme when there are many.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~lmmedu.teach.plots.caterpillar_table` of one grouping factor.
    max_levels : int, default 20
        Levels kept: half with the lowest, half with the highest conditional mode of the first
        term.

    Returns
    -------
    pandas.DataFrame
        The rows of the kept levels; ``attrs["n_levels"]`` is the number of levels before.

    Examples
    --------
    >>> t = pd.DataFrame({"group": "g", "term": "Intercept", "level": list("abcdef"), "mode": [3, 1, 2, 6, 5, 4],
    ...                   "sd": 1.0, "ci_low": 0.0, "ci_high": 1.0})
    >>> sorted(extreme_modes(t, max_levels=4)["level"])
    ['b', 'c', 'd', 'e']
    """
    levels = list(dict.fromkeys(table["level"]))
    out = table
    if len(levels) > max_levels:
        first = table[table["term"] == table["term"].iloc[0]].sort_values("mode")
        keep = set(first["level"].iloc[: max_levels // 2]) | set(first["level"].iloc[-(max_levels - max_levels // 2):])
        out = table[table["level"].isin(keep)].copy()
    out.attrs = {**table.attrs, "n_levels": len(levels)}
    return out


def residual_panels(table, axes=None):
    """Residuals against fitted values and the QQ plot of one fit, side by side.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.residual_table` of the fit.
    axes : sequence of two Axes, optional

    Returns
    -------
    list of matplotlib.axes.Axes

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> from lmmedu.teach.comparison import residual_table
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> [ax.get_xlabel()[:6] for ax in residual_panels(residual_table(m))]
    ['fitted', 'normal']
    """
    axes = new_panels(axes, 2, (PAGE_WIDTH, 4.4), "residual_panels", width_ratios=[1.4, 1])
    residuals_vs_fitted_plot(table, ax=axes[0])
    qq_plot(table, ax=axes[1])
    return list(axes)


def modes_panels(fit, axes=None, max_levels=20, level=0.95):
    """Caterpillar plots of every grouping factor and term of a mixed model, in the response's units.

    Parameters
    ----------
    fit : MixedFit
    axes : sequence of Axes, optional
        One per grouping factor and term (in ``fit.ranef_table()`` order).
    max_levels : int, default 20
        Per grouping factor, the most extreme levels shown (:func:`extreme_modes`).
    level : float, default 0.95

    Returns
    -------
    list of matplotlib.axes.Axes

    Examples
    --------
    >>> import lmmedu, matplotlib
    >>> matplotlib.use("Agg")
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> modes_panels(m)[0].get_title().splitlines()
    ['replicate: Intercept', '(4 levels)']
    """
    if not is_mixed(fit):
        raise ValueError("modes_panels needs a mixed model from lmmedu.fit (with a random term).")
    ranef = fit.ranef_table()
    parts = [(g, extreme_modes(caterpillar_table(ranef[ranef["group"] == g], level=level), max_levels))
             for g in dict.fromkeys(ranef["group"])]
    panels = [(g, term) for g, tab in parts for term in dict.fromkeys(tab["term"])]
    rows = max(tab["level"].nunique() for _, tab in parts)
    axes = new_panels(axes, len(panels), (min(4.3 * len(panels), PAGE_WIDTH), 0.26 * rows + 2.6), "modes_panels")
    response = fit.parsed.response
    i = 0
    for g, tab in parts:
        n_terms = tab["term"].nunique()
        caterpillar_plot(tab, axes=axes[i:i + n_terms], xlabel="deviation from the population value")
        for ax, term in zip(axes[i:i + n_terms], dict.fromkeys(tab["term"])):
            shown = tab["level"].nunique()
            total = tab.attrs["n_levels"]
            first = tab["term"].iloc[0]
            count = (f"{total} levels" if shown == total
                     else f"the {shown} of {total} levels with the most extreme {first}")
            fit_title(ax, f"{g}: {term}\n({count})", fontsize="medium")
            unit = f"units of {response}" if term == "Intercept" else f"units of {response} per unit of {term}"
            fit_xlabel(ax, f"deviation from the population value ({unit})")
            ax.set_ylabel(g)
        i += n_terms
    return list(axes)
