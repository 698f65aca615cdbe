"""Confidence intervals for every parameter of a mixed model: one function, three methods.

``confint(fit, method=...)`` is the one place a method is chosen (``"profile"``,
``"bootstrap"`` or ``"wald"``); each returns the same table, one row per random-effect SD,
correlation, the residual SD and every fixed effect, named as lme4's
``confint(fit, oldNames = FALSE)`` with lmmedu's coefficient names (see
:mod:`lmmedu.stats.sdcor` for the mapping).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.stats

from .bootstrap import bootstrap
from .profile import Profiler, check_level, check_mixed, profile_notes
from .sdcor import VarPar

__all__ = ["confint", "METHODS"]

#: The interval methods :func:`confint` knows.
METHODS = ("profile", "bootstrap", "wald")
_LOG2PI = np.log(2 * np.pi)


def confint(fit, method="profile", level=0.95, n=1000, seed=None, n_jobs=1):
    """Confidence intervals for the SDs, correlations, residual SD and fixed effects of a mixed model.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit
    method : {"profile", "bootstrap", "wald"}, default "profile"
        ``"profile"``: likelihood-profile intervals (lme4's default; maximum likelihood,
        as lme4 profiles a REML fit at its ML refit).  ``"bootstrap"``: percentile intervals
        of a parametric bootstrap with ``n`` refits (see :func:`lmmedu.bootstrap`).
        ``"wald"``: estimate +/- z SE, the SEs of the variance parameters from the curvature
        of the fit's own criterion (REML or ML) in SDs and correlations.
    level : float, default 0.95
    n, seed, n_jobs
        Passed to :func:`lmmedu.bootstrap` for ``method="bootstrap"``.

    Returns
    -------
    pandas.DataFrame
        Index ``parameter`` (``sd_<coef>|<group>``, ``cor_<coef1>.<coef2>|<group>``,
        ``sigma``, then the fixed effects); columns ``estimate`` (the fit's own estimate),
        ``lower``, ``upper``.  ``attrs``: ``method``, ``level``, ``at_zero`` (SD rows whose
        lower limit is 0 because zero lies inside the interval, not because it was not
        computed) and ``notes`` (sentences keyed by row).

    Warns
    -----
    UserWarning
        For a singular fit: the intervals are still computed, and the warning says why a
        lower limit of 0 is then expected.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> ci = lmmedu.confint(m)
    >>> ci.columns.tolist()
    ['estimate', 'lower', 'upper']
    >>> ci.index[:2].tolist()
    ['sd_Intercept|replicate', 'sigma']
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(repr(m) for m in METHODS)}, not {method!r}.")
    check_mixed(fit, "confint")
    level = check_level(level)
    if fit.singular:
        warnings.warn(f"{fit.singular_message} Intervals are still given; a lower limit of 0 for that SD is "
                      "expected.", UserWarning, stacklevel=2)
    if method == "bootstrap":
        return bootstrap(fit, n=n, seed=seed, n_jobs=n_jobs).confint(level)
    if method == "wald":
        return _wald(fit, level)
    return _profile(fit, level)


def _estimates(fit):
    vp = VarPar(fit.problem, fit.blocks)
    return vp, pd.Series(np.concatenate([vp.from_theta(fit.opt.x, fit.sigma), fit.beta]),
                         index=list(vp.names) + list(fit.names))


def _finish(fit, est, lower, upper, method, level, notes, kinds):
    out = pd.DataFrame({"estimate": est.to_numpy(), "lower": lower, "upper": upper},
                       index=pd.Index(est.index, name="parameter"))
    at_zero = [n for n, k in zip(est.index, kinds) if k == "sd" and out.loc[n, "lower"] == 0.0]
    for name in at_zero:
        notes.append(f"{name}: the lower limit is 0, the smallest possible SD; the data are compatible with no "
                     "variation of this kind.")
    out.attrs.update(method=method, level=level, at_zero=at_zero, notes=notes)
    return out


def _profile(fit, level):
    pr = Profiler(fit)
    vp, est = _estimates(fit)
    lower, upper, notes = [], [], []
    for name in pr.names:
        lo, hi, flags = pr.interval(name, level)
        lower.append(lo)
        upper.append(hi)
        if "upper at limit" in flags or ("lower at limit" in flags and pr.kind[pr.names.index(name)] == "cor"):
            notes.append(f"{name}: the profile does not reach the {level:.0%} cut-off before the parameter's "
                         "limit, so the limit itself is reported.")
    notes += profile_notes(pr)
    if fit.reml:
        notes.append("Profile intervals use the maximum-likelihood deviance (as lme4's profile), centred on the "
                     "ML estimates; the estimate column shows the REML fit's own values.")
    return _finish(fit, est, np.array(lower), np.array(upper), "profile", level, notes, list(pr.kind))


def _full_criterion(problem, vp, phi):
    """-2 log-likelihood (REML or ML, as the problem) at SDs/correlations/sigma, beta at its best value."""
    theta = vp.to_theta(phi)
    if theta is None:
        return np.inf
    try:
        s = problem.solve(theta)
    except np.linalg.LinAlgError:
        return np.inf
    s2 = phi[-1] ** 2
    dof = problem.dof
    dev = s.logdet_L + s.r2 / s2 + dof * (_LOG2PI + np.log(s2))
    if problem.reml:
        dev += s.logdet_RX
    return float(dev)


def _wald(fit, level):
    vp, est = _estimates(fit)
    z = float(scipy.stats.norm.ppf(0.5 + level / 2.0))
    phi = est.to_numpy()[:len(vp.names)]
    k = len(phi)
    h = 1e-4 * np.where(vp.kind == "cor", 1.0, np.maximum(np.abs(phi), 1e-3 * fit.sigma))

    def f(x):
        return _full_criterion(fit.problem, vp, x)

    # Central second differences of the deviance (= -2 loglik): covariance 2 H^-1.
    H = np.empty((k, k))
    f0 = f(phi)
    for a in range(k):
        for b in range(a, k):
            ea, eb = np.eye(k)[a] * h[a], np.eye(k)[b] * h[b]
            if a == b:
                H[a, a] = (f(phi + ea) - 2 * f0 + f(phi - ea)) / h[a] ** 2
            else:
                H[a, b] = H[b, a] = (f(phi + ea + eb) - f(phi + ea - eb) - f(phi - ea + eb)
                                     + f(phi - ea - eb)) / (4 * h[a] * h[b])
    notes = []
    try:
        se_phi = np.sqrt(np.diag(2.0 * np.linalg.inv(H)))
    except np.linalg.LinAlgError:
        se_phi = np.full(k, np.nan)
    if not np.all(np.isfinite(se_phi)):
        notes.append("The criterion is not curved in every variance parameter at the estimate (a singular or "
                     "unidentified fit), so some Wald SEs, and their intervals, are NaN.")
    se = np.concatenate([se_phi, np.sqrt(np.diag(fit.vcov.to_numpy()))])
    lower, upper = est.to_numpy() - z * se, est.to_numpy() + z * se
    kinds = list(vp.kind) + ["fixed"] * len(fit.names)
    for i, kind in enumerate(kinds):
        if kind in ("sd", "sigma") and lower[i] < 0:
            lower[i] = 0.0
        if kind == "cor":
            lower[i], upper[i] = max(lower[i], -1.0), min(upper[i], 1.0)
    notes.append("Wald intervals are symmetric on the SD scale and cut at 0; for a variance estimated from few "
                 "groups they are the least trustworthy of the three methods.")
    return _finish(fit, est, lower, upper, "wald", level, notes, kinds)
