"""Satterthwaite degrees of freedom and likelihood-ratio tests.

Satterthwaite df follow lmerTest (Kuznetsova, Brockhoff & Christensen 2017,
JSS 82(13)): for a contrast L, with V(phi) = Var(beta-hat) as a function of the
variance parameters phi = (theta, sigma),

    df = 2 (L V L')^2 / (g' A g),   g_i = L (dV/dphi_i) L',   A = 2 H^-1,

where H is the Hessian of the (RE)ML deviance in phi at the optimum.  lmerTest
gets H and dV/dphi by numerical differentiation with Richardson
extrapolation (numDeriv); we do the same, but differentiate only the two
theta-dependent pieces of the deviance (log-determinants and penalised RSS)
numerically and the sigma part analytically, which is exact and cheaper.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

__all__ = ["Satterthwaite", "t_table", "anova"]


def _richardson(values, order=2):
    """Richardson extrapolation of estimates at steps h, h/2, h/4, ... (error in h^2)."""
    est = list(values)
    k = 1
    while len(est) > 1:
        factor = 4.0**k
        est = [(factor * est[i + 1] - est[i]) / (factor - 1) for i in range(len(est) - 1)]
        k += 1
    return est[0]


class Satterthwaite:
    """Satterthwaite df for any linear combination of the fixed effects.

    Parameters
    ----------
    problem : lmmedu.stats.engine.LmmProblem
    theta : ndarray
        Optimum.
    sigma : float
        Residual SD at the optimum.
    levels : int
        Number of step halvings used for Richardson extrapolation.

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)",
    ...                  lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=100))
    >>> fit.df_for([[0.0, 1.0]]).round(0)  # doctest: +SKIP
    array([395.])
    """

    def __init__(self, problem, theta, sigma, levels=2):
        self.problem = problem
        self.theta = np.asarray(theta, dtype=float)
        self.sigma = float(sigma)
        k = len(self.theta)
        self.k = k
        h0 = np.where(np.abs(self.theta) > 1e-4, 0.1 * np.abs(self.theta), 1e-4)
        steps = [h0 / 2**i for i in range(levels)]
        center = problem.solve(self.theta)
        f0 = self._pieces(center)

        # Diagonal points: first and second derivatives, and dV/dtheta.
        grad_r2 = np.zeros(k)
        hess_ld = np.zeros((k, k))
        hess_r2 = np.zeros((k, k))
        dinv = []
        for i in range(k):
            g_est, hl_est, hr_est, dv_est = [], [], [], []
            for h in steps:
                e = np.zeros(k)
                e[i] = h[i]
                fp = self._pieces(problem.solve(self.theta + e))
                fm = self._pieces(problem.solve(self.theta - e))
                g_est.append((fp[1] - fm[1]) / (2 * h[i]))
                hl_est.append((fp[0] - 2 * f0[0] + fm[0]) / h[i] ** 2)
                hr_est.append((fp[1] - 2 * f0[1] + fm[1]) / h[i] ** 2)
                dv_est.append((fp[2] - fm[2]) / (2 * h[i]))
            grad_r2[i] = _richardson(g_est)
            hess_ld[i, i] = _richardson(hl_est)
            hess_r2[i, i] = _richardson(hr_est)
            dinv.append(_richardson(dv_est))
        # Off-diagonal points, numDeriv's genD way: along e_i + e_j, minus the diagonals.
        for i in range(k):
            for j in range(i):
                l_est, r_est = [], []
                for h in steps:
                    e = np.zeros(k)
                    e[i], e[j] = h[i], h[j]
                    fp = self._pieces(problem.solve(self.theta + e))
                    fm = self._pieces(problem.solve(self.theta - e))
                    l_est.append((fp[0] - 2 * f0[0] + fm[0] - hess_ld[i, i] * h[i] ** 2 - hess_ld[j, j] * h[j] ** 2)
                                 / (2 * h[i] * h[j]))
                    r_est.append((fp[1] - 2 * f0[1] + fm[1] - hess_r2[i, i] * h[i] ** 2 - hess_r2[j, j] * h[j] ** 2)
                                 / (2 * h[i] * h[j]))
                hess_ld[i, j] = hess_ld[j, i] = _richardson(l_est)
                hess_r2[i, j] = hess_r2[j, i] = _richardson(r_est)

        s, r2 = self.sigma, f0[1]
        d = problem.n - problem.p if problem.reml else problem.n
        H = np.zeros((k + 1, k + 1))
        H[:k, :k] = hess_ld + hess_r2 / s**2
        H[:k, k] = H[k, :k] = -2.0 * grad_r2 / s**3
        H[k, k] = -2.0 * d / s**2 + 6.0 * r2 / s**4
        self.hessian = H
        try:
            self.vcov_varpar = 2.0 * np.linalg.inv(H)
            self.hessian_ok = bool(np.all(np.linalg.eigvalsh(H) > 0))
        except np.linalg.LinAlgError:
            self.vcov_varpar = 2.0 * np.linalg.pinv(H)
            self.hessian_ok = False
        inv0 = f0[2]
        self.vcov_beta = s**2 * inv0
        # dV/dphi: theta parts numerically, sigma part exactly.
        self.jacobian = [s**2 * dv for dv in dinv] + [2.0 * s * inv0]

    def _pieces(self, sol):
        """(log-determinant part of the deviance, r^2, (RX'RX)^-1) at a solution."""
        ld = sol.logdet_L + (sol.logdet_RX if self.problem.reml else 0.0)
        inv = np.linalg.inv(sol.RXtRX) if sol.RXtRX.size else sol.RXtRX
        return ld, sol.r2, inv

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
        denom = np.einsum("ci,ij,cj->c", grad, self.vcov_varpar, grad)
        with np.errstate(divide="ignore", invalid="ignore"):
            df = 2.0 * var**2 / denom
        # A contrast whose variance does not depend on the variance parameters
        # has infinitely many df; negative values only arise from a bad Hessian.
        df = np.where(np.isfinite(df) & (df > 0), df, np.nan)
        return df


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
    p = 2.0 * scipy.stats.t.sf(np.abs(t), df)
    q = scipy.stats.t.ppf(0.5 + level / 2.0, df)
    return {"estimate": estimate, "se": se, "df": df, "t": t, "p": p,
            "ci_low": estimate - q * se, "ci_high": estimate + q * se}


def anova(fit_a, fit_b, names=None):
    """Likelihood-ratio test of two nested models, laid out like R's ``anova()``.

    The models must be fitted to the same rows and response. Which
    likelihoods may be compared:

    * different fixed effects: both fits by maximum likelihood
      (``lmmedu.fit(..., reml=False)``); REML likelihoods of models with
      different fixed effects are not comparable.  R's ``anova()`` silently
      refits REML models by ML; lmmedu refuses and says so instead.
    * same fixed effects, different random terms: both ML, or both REML
      (as lme4's ``anova(..., refit = FALSE)``).
    * an lm (:func:`lmmedu.fit_lm`) against a mixed model with the same fixed
      effects: the mixed model must be fitted by ML, since the lm's
      log-likelihood is the ML one.

    When the fixed effects are the same the test is about variances, which
    are tested at zero, the edge of their range: the chi-square p-value is
    then conservative (too large), e.g. about twice the correct value for one
    added variance.  Such remarks are in ``table.attrs["notes"]``.

    Nesting is checked for the fixed effects only (the smaller model's
    columns must be combinations of the larger model's); that the random part
    of one model is a special case of the other's is up to you.

    Parameters
    ----------
    fit_a, fit_b : MixedFit or LmFit
        The two fits, in any order.
    names : sequence of two str, optional
        Row labels for ``fit_a`` and ``fit_b``; default their formulas.

    Returns
    -------
    pandas.DataFrame
        One row per model, the smaller first, with columns ``npar`` (number of
        parameters: fixed effects, variance parameters and the residual SD),
        ``AIC``, ``BIC``, ``logLik``, ``deviance`` (-2 logLik), and on the
        second row ``Chisq`` (2 x the log-likelihood gain, floored at 0 as in
        lme4), ``Df`` (extra parameters) and ``p`` (upper chi-square tail).
        ``attrs["notes"]`` is a list of remarks on how to read the test.

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_expression(n_probesets=100)
    >>> big = lmmedu.fit("values ~ week*genotype + (week|probeset)", df, reml=False)
    >>> small = lmmedu.fit("values ~ week + genotype + (week|probeset)", df, reml=False)
    >>> tab = lmmedu.anova(small, big)
    >>> tab.columns.tolist()
    ['npar', 'AIC', 'BIC', 'logLik', 'deviance', 'Chisq', 'Df', 'p']
    >>> int(tab["Df"].iloc[1])
    1
    """
    import pandas as pd

    fits = [fit_a, fit_b]
    labels_arg = ["fit_a", "fit_b"]
    for arg, f in zip(labels_arg, fits):
        if getattr(f, "kind", None) not in ("lm", "lmm"):
            raise ValueError(f"{arg} must be a fit made by lmmedu.fit or lmmedu.fit_lm, not {type(f).__name__}.")
    if fit_a.kind == "lm" and fit_b.kind == "lm":
        raise ValueError("Both fits are ordinary linear models; compare nested lm fits with an F test "
                         "(statsmodels' anova_lm) rather than with lmmedu.anova.")
    if fit_a.nobs != fit_b.nobs:
        raise ValueError(f"fit_a used {fit_a.nobs} rows and fit_b {fit_b.nobs}; fit both models to the same rows "
                         "(e.g. drop rows with missing values first) before comparing them.")
    if fit_a.parsed.response != fit_b.parsed.response:
        raise ValueError(f"fit_a models '{fit_a.parsed.response}' but fit_b models '{fit_b.parsed.response}'; "
                         "likelihoods are only comparable for the same response.")
    if not np.allclose(fit_a.y, fit_b.y, rtol=1e-12, atol=0.0):
        raise ValueError(f"fit_a and fit_b have different values of '{fit_a.parsed.response}'; fit both models "
                         "to the same data before comparing them.")

    if names is None:
        names = [f.formula if f.kind == "lmm" else f.parsed.fixed_formula_r for f in fits]
    else:
        names = [str(n) for n in names]
        if len(names) != 2 or names[0] == names[1]:
            raise ValueError("names must be two different labels, one for fit_a and one for fit_b.")

    same_fixed = (list(fit_a.names) == list(fit_b.names) and fit_a.X.shape == fit_b.X.shape
                  and np.allclose(fit_a.X, fit_b.X, rtol=1e-12, atol=1e-12))
    lm_fit = next((f for f in fits if f.kind == "lm"), None)
    if lm_fit is not None:
        mixed = fit_b if lm_fit is fit_a else fit_a
        if mixed.reml:
            raise ValueError("The mixed model was fitted by REML, whose likelihood cannot be compared with the lm's "
                             "maximum likelihood; refit it with lmmedu.fit(formula, data, reml=False) and compare "
                             "again (lmmedu does not refit silently as R's anova does).")
    elif (fit_a.reml or fit_b.reml) and not same_fixed:
        raise ValueError("The models have different fixed effects and at least one was fitted by REML, whose "
                         "likelihoods are then not comparable; refit both with lmmedu.fit(formula, data, "
                         "reml=False) and compare again (lmmedu does not refit silently as R's anova does).")
    elif fit_a.reml != fit_b.reml:
        raise ValueError("One model was fitted by REML and the other by ML; fit both the same way (reml=False "
                         "works for any pair of nested models) and compare again.")

    def npar(f):
        return len(f.names) + 1 + (f.problem.n_theta if f.kind == "lmm" else 0)

    order = sorted(range(2), key=lambda i: npar(fits[i]))
    small, big = fits[order[0]], fits[order[1]]
    if npar(small) == npar(big):
        raise ValueError(f"Both models have {npar(small)} parameters, so neither is a simplification of the other; "
                         "a likelihood-ratio test needs nested models with different numbers of parameters.")
    if not same_fixed and small.X.shape[1]:
        coef, *_ = np.linalg.lstsq(big.X, small.X, rcond=None)
        resid = small.X - big.X @ coef
        if np.linalg.norm(resid) > 1e-8 * max(np.linalg.norm(small.X), 1.0):
            raise ValueError(f"The fixed effects of '{names[order[0]]}' are not contained in those of "
                             f"'{names[order[1]]}', so the models are not nested; a likelihood-ratio test "
                             "needs the smaller model to be a special case of the larger one.")

    rows = []
    for f in (small, big):
        k = npar(f)
        ll = float(f.loglik)
        rows.append({"npar": k, "AIC": -2 * ll + 2 * k, "BIC": -2 * ll + np.log(f.nobs) * k,
                     "logLik": ll, "deviance": -2 * ll})
    gain = 2.0 * (rows[1]["logLik"] - rows[0]["logLik"])
    chisq = max(gain, 0.0)
    dfd = rows[1]["npar"] - rows[0]["npar"]
    rows[0].update(Chisq=np.nan, Df=np.nan, p=np.nan)
    rows[1].update(Chisq=chisq, Df=float(dfd), p=float(scipy.stats.chi2.sf(chisq, dfd)))
    table = pd.DataFrame(rows, index=pd.Index([names[order[0]], names[order[1]]], name="model"))
    table = table[["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "p"]]

    notes = []
    if lm_fit is not None:
        notes.append("The lm's log-likelihood is its maximum-likelihood value, compared with the mixed model's "
                     "ML log-likelihood.")
    elif small.reml and big.reml:
        notes.append("Both fits are REML with the same fixed effects, so their REML likelihoods are compared "
                     "(as lme4's anova(..., refit = FALSE)).")
    if same_fixed:
        notes.append("The models differ only in their random effects, so the test asks whether variances are "
                     "zero, the edge of their possible values: the chi-square p-value is conservative (too large; "
                     "for one added variance the boundary-corrected p is about half of it).")
    if gain < -1e-6 * max(1.0, abs(rows[1]["logLik"])):
        notes.append("The larger model has the lower log-likelihood, which nested models cannot have at their "
                     "optimum: check that the models are nested and that both fits converged.")
    table.attrs["notes"] = notes
    return table
