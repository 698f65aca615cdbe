"""Asymptotic "df": z instead of t, as R's emmeans with ``lmer.df = "asymptotic"``.

R's emmeans prints ``df = Inf`` for a mixed model in two cases: when asked to
(``lmer.df = "asymptotic"``), and by default when the data have more rows than
``pbkrtest.limit`` and ``lmerTest.limit`` (3,000 each), where it skips Kenward-Roger
and Satterthwaite to save time and memory.  The estimates and their covariance are
then lme4's ``vcov(fit)``, unadjusted, and every test uses the normal distribution
(t becomes z) and every F test the chi-square (F times its numerator df).  That is
what statsmodels' MixedLM reports too.  With few groups it is too optimistic: the
variance components are treated as known.

:class:`Asymptotic` is one of the df methods of :mod:`lmmedu.stats.ddf`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Asymptotic"]


class Asymptotic:
    """Infinite denominator df: normal t tests and chi-square F tests (a :mod:`~lmmedu.stats.ddf` method).

    Parameters
    ----------
    problem : lmmedu.stats.engine.LmmProblem
    solution : lmmedu.stats.engine.Solution
        The solution at the optimum.
    reml : bool
        Whether the fit is REML (asymptotic df serve REML and ML fits alike).

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)",
    ...                  lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=100))
    >>> method = Asymptotic(fit.problem, fit._solution, fit.reml)
    >>> method.df([[0.0, 1.0]])
    array([inf])
    >>> bool(np.allclose(method.vcov(), fit.vcov))
    True
    """

    name = "asymptotic"

    def __init__(self, problem, solution, reml=None):
        self.problem = problem
        self._vcov = problem.sigma(solution) ** 2 * solution.vcov_unscaled

    def vcov(self):
        """sigma^2 (X'V^-1X)^-1, unadjusted: lme4's ``vcov(fit)``."""
        return self._vcov

    def df(self, L):
        """``inf`` for every row of ``L``."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        return np.full(L.shape[0], np.inf)

    def ftest(self, L, beta):
        """Wald F = (L b)' (L V L')^+ (L b) / q with infinite denominator df (q F is chi-square on q df).

        Directions of L V L' with eigenvalue below sqrt(machine eps) times the largest are
        dropped, as in lmerTest's ``contestMD``, so a rank-deficient L tests fewer df.

        Returns
        -------
        (float, int, float)
            F, numerator df (the rank used), ``inf``.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        beta = np.asarray(beta, dtype=float)
        d, P = np.linalg.eigh(L @ self._vcov @ L.T)
        d, P = d[::-1], P[:, ::-1]
        pos = d > max(np.sqrt(np.finfo(float).eps) * d[0], 0.0) if d.size else np.zeros(0, dtype=bool)
        q = int(pos.sum())
        if q == 0:
            return np.nan, 0, np.nan
        z = P[:, pos].T @ (L @ beta)
        return float(np.sum(z**2 / d[pos]) / q), q, np.inf
