"""Likelihood-ratio tests of each random term, laid out like lmerTest's ``ranova()``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats

from .fit import fit as fit_mixed
from .fit import fit_lm
from .profile import check_mixed

__all__ = ["ranova"]


def _reductions(terms):
    """(row label, reduced list of term strings) per random term, as lmerTest reduces them.

    ``(1 | g)`` is removed; ``(x | g)`` (intercept and more) becomes ``(1 | g)``; a term
    without intercept (``(0 + x | g)``) is removed.
    """
    out = []
    for i, t in enumerate(terms):
        others = [str(u) for j, u in enumerate(terms) if j != i]
        pieces = [p.strip() for p in t.expr.split("+")]
        no_intercept = any(p in ("0", "-1") for p in pieces)
        rest = [p for p in pieces if p not in ("0", "1", "-1")]
        if not rest and not no_intercept:
            out.append((f"(1 | {t.group})", others))
        elif no_intercept:
            out.append((f"{' + '.join(rest)} in ({t.expr} | {t.group})", others))
        else:
            out.append((f"{' + '.join(rest)} in ({t.expr} | {t.group})", others[:i] + [f"(1 | {t.group})"]
                        + others[i:]))
    return out


def _lm_loglik(lm, reml):
    """The lm's log-likelihood: ML, or REML as R's ``logLik(lm, REML = TRUE)``."""
    if not reml:
        return float(lm.loglik)
    n, p = lm.X.shape
    r = np.linalg.qr(lm.X, mode="r")
    dof = n - p
    return float(-0.5 * dof * (np.log(2 * np.pi * lm.rss / dof) + 1.0) - np.log(np.abs(np.diag(r))).sum())


def ranova(fit):
    """Test each random term by removing (or reducing) it, as lmerTest's ``ranova(fit)``.

    Each row compares the fit with one reduced model: ``(1 | g)`` and ``(0 + x | g)`` are
    removed, ``(x | g)`` is reduced to ``(1 | g)``; the reduced model is refitted with the same
    criterion (REML or ML), and an lm when no random term is left.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit

    Returns
    -------
    pandas.DataFrame
        Rows ``<none>`` (the fit itself) and one per random term, labelled as lmerTest does;
        columns ``npar``, ``loglik``, ``AIC``, ``LRT``, ``df``, ``p`` (chi-square), and
        ``p_boundary``: for a row removing a single variance, the p-value of the 50:50 mixture
        of chi-square(0) and chi-square(1), i.e. half the naive one (NaN on other rows).
        ``attrs["notes"]`` says how to read them.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> lmmedu.ranova(m).index.tolist()
    ['<none>', '(1 | replicate)']
    """
    check_mixed(fit, "ranova")
    terms = list(fit.parsed.random)
    lhs = fit.parsed.response

    def npar(f):
        return len(f.names) + 1 + (f.problem.n_theta if getattr(f, "mixed", False) else 0)

    rows = [("<none>", npar(fit), float(fit.loglik), np.nan, np.nan, np.nan, np.nan)]
    single = []
    for label, reduced in _reductions(terms):
        formula = f"{lhs} ~ {fit.parsed.fixed}" + "".join(f" + {t}" for t in reduced)
        if reduced:
            small = fit_mixed(formula, fit.data, reml=fit.reml)
            ll = float(small.loglik)
        else:
            small = fit_lm(formula, fit.data)
            ll = _lm_loglik(small, fit.reml)
        k = npar(small)
        lrt = max(2.0 * (float(fit.loglik) - ll), 0.0)
        df = npar(fit) - k
        p = float(scipy.stats.chi2.sf(lrt, df))
        # Removing one whole variance (not reducing a slope term, which also drops covariances).
        one_variance = df == 1 and label.startswith("(")
        p_b = 0.5 * p if one_variance else np.nan
        if one_variance:
            single.append(label)
        rows.append((label, k, ll, lrt, float(df), p, p_b))
    table = pd.DataFrame(rows, columns=["term", "npar", "loglik", "LRT", "df", "p", "p_boundary"]).set_index("term")
    table.insert(2, "AIC", -2 * table["loglik"] + 2 * table["npar"])
    notes = ["Each row removes or reduces one random term and compares log-likelihoods "
             f"({'REML' if fit.reml else 'ML'}, as the fit) with a chi-square test."]
    if single:
        notes.append(f"{', '.join(single)}: the test asks whether a variance is zero, the edge of its possible "
                     "values, where the naive chi-square p is too large; p_boundary (the 50:50 mixture of "
                     "chi-square with 0 and 1 df: half of p) is the better approximation, and "
                     "lmmedu.anova(..., method='bootstrap') the referee.")
    table.attrs["notes"] = notes
    return table
