"""Multiplicity: adjusting a family of p-values, and Tukey's studentized range.

Holm, Bonferroni and Benjamini-Hochberg come from :func:`statsmodels.stats.multitest.multipletests`
(statsmodels is a core dependency for this reason: one tested implementation instead of a
second copy). Tukey's adjustment of pairwise comparisons uses SciPy's studentized range, as
R's emmeans does with ``ptukey``/``qtukey``.
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from statsmodels.stats.multitest import multipletests

__all__ = ["ADJUST_METHODS", "adjust_pvalues", "tukey_p", "tukey_quantile"]

#: Adjustments of :func:`adjust_pvalues`, by their R (p.adjust) names.
ADJUST_METHODS = ("none", "holm", "bonferroni", "fdr")
_STATSMODELS = {"holm": "holm", "bonferroni": "bonferroni", "fdr": "fdr_bh"}


def adjust_pvalues(p, method):
    """Adjust a family of p-values: ``"none"``, ``"bonferroni"``, ``"holm"`` or ``"fdr"`` (Benjamini-Hochberg).

    NaN entries are left out of the family and stay NaN.

    Parameters
    ----------
    p : array_like
    method : {"none", "holm", "bonferroni", "fdr"}

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, float("nan")], "bonferroni").tolist()
    [0.01, nan]
    """
    if method not in ADJUST_METHODS:
        raise ValueError(f"adjust must be one of {', '.join(ADJUST_METHODS)}, not {method!r}.")
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if method == "none" or not ok.any():
        out[ok] = p[ok]
        return out
    out[ok] = multipletests(p[ok], method=_STATSMODELS[method])[1]
    return out


def tukey_p(t, k, df):
    """Tukey-adjusted two-sided p-values of pairwise t statistics among ``k`` means (R's ptukey).

    Examples
    --------
    >>> round(float(tukey_p([2.5], 3, [20])[0]), 4)
    0.0531
    """
    t, df = np.asarray(t, float), np.asarray(df, float)
    if k == 2:  # the studentized range of two means is a two-sided t test
        return 2.0 * scipy.stats.t.sf(np.abs(t), df)
    out = np.full(t.shape, np.nan)
    ok = np.isfinite(t) & np.isfinite(df)
    if ok.any():
        out[ok] = scipy.stats.studentized_range.sf(np.abs(t[ok]) * np.sqrt(2.0), k, df[ok])
    return np.minimum(out, 1.0)


def tukey_quantile(level, k, df):
    """Critical value of a Tukey simultaneous interval for ``k`` means, on the t scale.

    Examples
    --------
    >>> round(float(tukey_quantile(0.95, 3, [20])[0]), 4)
    2.53
    """
    df = np.asarray(df, float)
    if k == 2:
        return scipy.stats.t.ppf(0.5 + level / 2.0, df)
    out = np.full(df.shape, np.nan)
    # The quantile is slow to compute; df that agree to 7 digits share it.
    keys = np.round(df, 6)
    cache = {}
    for i, key in enumerate(keys):
        if not np.isfinite(key):
            continue
        if key not in cache:
            cache[key] = scipy.stats.studentized_range.ppf(level, k, key) / np.sqrt(2.0)
        out[i] = cache[key]
    return out
