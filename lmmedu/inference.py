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
    problem : lmmedu.engine.LmmProblem
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

    def __init__(self, problem, theta, sigma, levels=3):
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
