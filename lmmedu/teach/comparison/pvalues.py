"""The comparison of notebook 07 (p-values and model comparison).

Part of :mod:`lmmedu.teach.comparison`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...stats.results import is_fit, is_mixed

# Residual diagnostics: the numbers behind the residual, QQ and per-group plots.

__all__ = ["residual_table", "residual_means", "residual_spread_ratio"]


def residual_table(fit, group=None, by=None):
    """Fitted values, residuals and normal quantiles of a fit, one row per observation.

    For a mixed model the residuals are conditional on the random effects (response minus
    fixed part minus the group's predicted random effects), as ``residuals(lmer_fit)`` in R.

    Parameters
    ----------
    fit : LmFit or MixedFit
        A fit from :func:`lmmedu.fit` or :func:`lmmedu.fit_lm`.
    group : str or array-like, optional
        Column of the fitted data that names the groups, or one value per row; default the
        mixed model's first grouping factor (none for an lm, whose fitted data keep only the
        model's columns: pass ``group=data["replicate"]``).
    by : str or array-like, optional
        Another column (or values) to carry along (e.g. ``"treatment"``), to colour points by.

    Returns
    -------
    pandas.DataFrame
        Columns ``fitted``, ``residual``, ``scaled`` (residual / residual SD of the fit),
        ``normal_quantile`` (where the scaled residual would lie if residuals were normal:
        the ``(rank - 0.5) / n`` quantile of the standard normal), and ``group`` / ``by`` when
        given. ``attrs``: ``model`` (the formula), ``group``, ``by``.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",)))
    >>> tab = residual_table(m, by="treatment")
    >>> list(tab.columns)
    ['fitted', 'residual', 'scaled', 'normal_quantile', 'group', 'by']
    """
    from scipy import stats

    if not is_fit(fit):
        raise ValueError(f"residual_table needs a fit made by lmmedu.fit or lmmedu.fit_lm, not {type(fit).__name__}.")
    if group is None and is_mixed(fit):
        group = fit.blocks[0].term.group
    columns = {}
    for name, col in (("group", group), ("by", by)):
        if col is None:
            continue
        if isinstance(col, str):
            if col not in fit.data.columns:
                raise ValueError(f"{name}={col!r} is not a column of the fitted data (columns {list(fit.data.columns)}); "
                                 f"pass the column's values instead, e.g. {name}=data[{col!r}].")
            columns[name] = fit.data[col].to_numpy()
        else:
            values = np.asarray(col)
            if values.shape != (fit.nobs,):
                raise ValueError(f"{name} must be a column name or {fit.nobs} values, one per row of the fit; "
                                 f"got shape {values.shape}.")
            columns[name] = values
    fitted = np.asarray(fit.fitted(), dtype=float)
    resid = np.asarray(fit.residuals(), dtype=float)
    scaled = resid / float(fit.sigma)
    n = len(resid)
    ranks = stats.rankdata(scaled, method="ordinal")
    table = pd.DataFrame({"fitted": fitted, "residual": resid, "scaled": scaled,
                          "normal_quantile": stats.norm.ppf((ranks - 0.5) / n)})
    for name, values in columns.items():
        table[name] = values
    table.attrs.update(model=fit.formula if is_mixed(fit) else fit.parsed.fixed_formula_r, response=fit.response,
                       group=group if isinstance(group, str) else None, by=by if isinstance(by, str) else None)
    return table


def residual_means(table):
    """Mean residual of every group (and ``by`` level): what a well-specified model leaves near 0.

    A random intercept absorbs each group's overall offset, so group means of its residuals are
    about 0; if the effect of ``by`` differs between groups and the model has no random slope
    for it, the residual means of the ``by`` levels within a group move in opposite directions.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`residual_table` with a ``group`` column.

    Returns
    -------
    pandas.DataFrame
        One row per group (and ``by`` level): ``group``, ``by``, ``mean_residual``, ``n``.

    Examples
    --------
    >>> t = pd.DataFrame({"residual": [1.0, -1.0, 0.5, 0.5], "group": ["a", "a", "b", "b"]})
    >>> residual_means(t)["mean_residual"].tolist()
    [0.0, 0.5]
    """
    if not isinstance(table, pd.DataFrame) or "residual" not in table or "group" not in table:
        raise ValueError("residual_means needs the output of residual_table(fit, group=...) with a group column.")
    keys = ["group", "by"] if "by" in table.columns else ["group"]
    out = (table.groupby(keys, observed=True, sort=True)["residual"]
           .agg(mean_residual="mean", n="size").reset_index())
    return out


def residual_spread_ratio(table):
    """SD of the residuals in the top third of fitted values over that in the bottom third.

    About 1 when the residual spread does not depend on the fitted value; clearly above 1 is
    the funnel of a response whose noise grows with its level (e.g. lengths on their own scale).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`residual_table`.

    Returns
    -------
    float

    Examples
    --------
    >>> t = pd.DataFrame({"fitted": [1, 1, 2, 2, 3, 3], "residual": [-1, 1, 0, 0, -3, 3]})
    >>> round(residual_spread_ratio(t), 6)
    3.0
    """
    if not isinstance(table, pd.DataFrame) or not {"fitted", "residual"} <= set(table.columns):
        raise ValueError("residual_spread_ratio needs the output of residual_table (columns fitted and residual).")
    low, high = table["fitted"].quantile([1 / 3, 2 / 3])
    top = table.loc[table["fitted"] >= high, "residual"].std()
    bottom = table.loc[table["fitted"] <= low, "residual"].std()
    return float(top / bottom)
