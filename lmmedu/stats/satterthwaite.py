"""Satterthwaite degrees of freedom for t and F tests of the fixed effects, as lmerTest.

Satterthwaite df follow lmerTest (Kuznetsova, Brockhoff & Christensen 2017,
JSS 82(13)): for a contrast L, with V(phi) = Var(beta-hat) as a function of the
variance parameters phi = (theta, sigma),

    df = 2 (L V L')^2 / (g' A g),   g_i = L (dV/dphi_i) L',   A = 2 H^-1,

where H is the Hessian of the (RE)ML deviance in phi at the optimum.  H and dV/dphi
come from :class:`lmmedu.stats.derivatives.DevianceDerivatives` (shared with lme4's
convergence check).  A test of several rows of L at once is lmerTest's ``contestMD``:
L V L' is eigen-decomposed, each direction gets its own t statistic and df, and the
F statistic's denominator df combines them (:func:`f_denominator_df`).

:class:`Satterthwaite` is one of the df methods of :mod:`lmmedu.stats.ddf`.
"""

from __future__ import annotations

import numpy as np
import scipy.special
import scipy.stats

from .derivatives import DevianceDerivatives

__all__ = ["Satterthwaite", "satterthwaite_df", "f_denominator_df", "t_table"]


def satterthwaite_df(var, grad, vcov_varpar):
    """df = 2 var^2 / (g' A g) for each contrast (rows of ``grad``).

    Parameters
    ----------
    var : ndarray (c,)
        Variance of each contrast estimate.
    grad : ndarray (c, k)
        Derivative of that variance in each variance parameter.
    vcov_varpar : ndarray (k, k)
        Asymptotic covariance of the variance parameters.

    Returns
    -------
    ndarray (c,)
        NaN where the denominator is not positive (a contrast whose variance
        does not depend on the variance parameters, or a bad Hessian).

    Examples
    --------
    >>> satterthwaite_df([2.0], [[1.0, 0.0]], [[0.5, 0.0], [0.0, 1.0]]).round(1)
    array([16.])
    """
    var = np.asarray(var, dtype=float)
    grad = np.atleast_2d(np.asarray(grad, dtype=float))
    denom = np.einsum("ci,ij,cj->c", grad, np.asarray(vcov_varpar, dtype=float), grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = 2.0 * var**2 / denom
    return np.where(np.isfinite(df) & (df > 0), df, np.nan)


def f_denominator_df(nu, tol=1e-8):
    """Denominator df of an F statistic that is the mean of q independent t^2 with df ``nu``.

    lmerTest's ``get_Fstat_ddf``: E = sum(nu / (nu - 2)), df = 2E / (E - q); 2 if any
    nu <= 2 (the t^2 then have no finite mean); the plain mean when all nu agree within
    ``tol``, where the formula would lose digits.

    Parameters
    ----------
    nu : array_like (q,)
    tol : float

    Returns
    -------
    float

    Examples
    --------
    >>> round(f_denominator_df([10.0, 20.0]), 3)
    13.077
    >>> f_denominator_df([5.0, 5.0])
    5.0
    """
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.any(np.isnan(nu)):
        return np.nan
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2)))
    return 2.0 * E / (E - nu.size)


class Satterthwaite:
    """Satterthwaite df for any linear combination of the fixed effects (a :mod:`~lmmedu.stats.ddf` method).

    Parameters
    ----------
    problem : lmmedu.stats.engine.LmmProblem
    solution : lmmedu.stats.engine.Solution
        The solution at the optimum.
    reml : bool
        Whether the fit is REML (Satterthwaite works for both).
    derivatives : lmmedu.stats.derivatives.DevianceDerivatives, optional
        The fit's derivatives at the optimum, if already computed.

    Attributes
    ----------
    name : str
        ``"Satterthwaite"``.
    vcov_varpar : ndarray
        Asymptotic covariance of the variance parameters (theta, sigma).
    hessian_ok : bool
        The deviance's Hessian in the variance parameters is positive definite.
    warning : str
        A plain-language warning when the df cannot be trusted, else ''.

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)",
    ...                  lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=100))
    >>> method = Satterthwaite(fit.problem, fit._solution, fit.reml)
    >>> bool(method.df([[0.0, 1.0]])[0] > 1)
    True
    >>> F, num_df, den_df = method.ftest([[0.0, 1.0]], fit.beta)
    >>> num_df
    1
    """

    name = "Satterthwaite"
    #: Takes the fit's :class:`DevianceDerivatives` (``derivatives=``) instead of recomputing them.
    reuses_derivatives = True

    def __init__(self, problem, solution, reml=None, derivatives=None):
        self.problem = problem
        d = DevianceDerivatives(problem, solution) if derivatives is None else derivatives
        self.derivatives = d
        self.sigma = d.sigma
        self.vcov_beta = d.vcov_beta
        self.jacobian = d.jacobian
        self.vcov_varpar = d.vcov_varpar
        self.hessian_ok = d.hessian_ok
        self.warning = "" if d.hessian_ok else (
            "The likelihood is flat or curved the wrong way in some variance parameter, so Satterthwaite df "
            "are unreliable (NaN where they cannot be computed); usually a random term duplicates a fixed "
            "effect (e.g. (1|recipe) with recipe also fixed) or cannot be identified from the design: "
            "simplify the random part."
        )

    def vcov(self):
        """sigma^2 (RX'RX)^-1: the covariance of beta-hat at the estimated variances."""
        return self.vcov_beta

    def df(self, L):
        """Satterthwaite df for each row of the contrast matrix ``L``.

        Parameters
        ----------
        L : array_like (c, p)

        Returns
        -------
        ndarray (c,)
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        var = np.einsum("ck,kl,cl->c", L, self.vcov_beta, L)
        grad = np.stack([np.einsum("ck,kl,cl->c", L, J, L) for J in self.jacobian], axis=1)
        return satterthwaite_df(var, grad, self.vcov_varpar)

    def ftest(self, L, beta):
        """Joint F test that every row of ``L`` times beta is zero, as lmerTest's ``contestMD``.

        L V L' is eigen-decomposed; directions with eigenvalue below sqrt(machine eps) times
        the largest are dropped (a rank-deficient L tests fewer df).  Each remaining
        direction gives an independent t statistic with its own Satterthwaite df; F is the
        mean of their squares and its denominator df :func:`f_denominator_df`.

        Parameters
        ----------
        L : array_like (c, p)
        beta : array_like (p,)

        Returns
        -------
        (float, int, float)
            F, numerator df (the rank of L V L'), denominator df.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        beta = np.asarray(beta, dtype=float)
        if L.shape[0] == 1:
            var = float(L[0] @ self.vcov_beta @ L[0])
            return float((L[0] @ beta) ** 2 / var), 1, float(self.df(L)[0])
        d, P = np.linalg.eigh(L @ self.vcov_beta @ L.T)
        d, P = d[::-1], P[:, ::-1]  # largest first, as R's eigen
        pos = d > max(np.sqrt(np.finfo(float).eps) * d[0], 0.0)
        q = int(pos.sum())
        if q == 0:
            return np.nan, 0, np.nan
        PtL = P[:, pos].T @ L
        t2 = (PtL @ beta) ** 2 / d[pos]
        nu = self.df(PtL)
        return float(t2.sum() / q), q, f_denominator_df(nu)


def t_table(estimate, se, df, level=0.95):
    """estimate, se, df, t, p, ci_low, ci_high as columns (a dict of arrays).

    Examples
    --------
    >>> t_table([1.0], [0.5], [10])["p"].round(4)
    array([0.0734])
    """
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    df = np.asarray(df, dtype=float) * np.ones_like(estimate)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = estimate / se
    # scipy.special's Student-t functions are what scipy.stats.t calls (equal to the last bit,
    # NaN and infinite df included) without its argument checking, which cost more than the
    # rest of a small fit's table.
    p = 2.0 * scipy.special.stdtr(df, -np.abs(t))
    if 0.0 < level < 1.0:
        q = scipy.special.stdtrit(df, 0.5 + level / 2.0)
    else:
        q = scipy.stats.t.ppf(0.5 + level / 2.0, df)
    return {"estimate": estimate, "se": se, "df": df, "t": t, "p": p,
            "ci_low": estimate - q * se, "ci_high": estimate + q * se}
