"""Satterthwaite degrees of freedom, and the convergence check that shares their derivatives.

Satterthwaite df follow lmerTest (Kuznetsova, Brockhoff & Christensen 2017,
JSS 82(13)): for a contrast L, with V(phi) = Var(beta-hat) as a function of the
variance parameters phi = (theta, sigma),

    df = 2 (L V L')^2 / (g' A g),   g_i = L (dV/dphi_i) L',   A = 2 H^-1,

where H is the Hessian of the (RE)ML deviance in phi at the optimum.  lmerTest
gets H and dV/dphi by numerical differentiation with Richardson
extrapolation (numDeriv).  Here only the two theta-dependent pieces of the
deviance (log-determinants and penalised RSS) and (RX'RX)^-1 are
differentiated numerically, by central differences with one step of 1e-3
relative (their truncation error, about 1e-6 relative, is far below the
1e-2 to which df are meaningful), and the sigma part analytically.

The same derivatives give the gradient and Hessian of the profiled deviance
in theta (the Hessian is the Schur complement of the sigma row of H), which
is what lme4 checks after the optimiser stops: :meth:`Satterthwaite.convergence`.
"""

from __future__ import annotations

import numpy as np
import scipy.special
import scipy.stats

__all__ = ["Satterthwaite", "satterthwaite_df", "t_table"]

#: lme4's tolerance for the scaled gradient (check.conv.grad = .makeCC("warning", tol = 2e-3)).
GRAD_TOL = 2e-3


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


class Satterthwaite:
    """Satterthwaite df for any linear combination of the fixed effects.

    Parameters
    ----------
    problem : lmmedu.stats.engine.LmmProblem
    solution : lmmedu.stats.engine.Solution
        The solution at the optimum.
    rel_step : float
        Central-difference step, relative to each theta (absolute 1e-4 near 0).

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)",
    ...                  lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=100))
    >>> bool(fit.df_for([[0.0, 1.0]])[0] > 1)
    True
    """

    def __init__(self, problem, solution, rel_step=1e-3):
        self.problem = problem
        self.theta = np.asarray(solution.theta, dtype=float)
        theta = self.theta
        k = len(theta)
        self.k = k
        self.sigma = s = problem.sigma(solution)
        if not s > 0:
            raise ValueError("The residual variance is estimated as zero, so Satterthwaite df are undefined; "
                             "check the response (is it constant within groups?) or fit the group means with "
                             "lmmedu.fit_lm.")
        # Beyond theta ~ 100 (variance ratios of 1e4 and more) r^2 is a tiny
        # difference of large sums, known to about 1e-6 relative, which swamps
        # the second difference of a 1e-3 step; a 3e-2 step keeps the
        # truncation error near 1e-4, still far below what matters for df.
        rel = np.where(np.abs(theta) > 100, max(rel_step, 3e-2), rel_step)
        h = np.where(np.abs(theta) > 0.1, rel * np.abs(theta), 1e-4)
        f0 = self._pieces(solution)
        ld = np.zeros((k, 2))
        r2 = np.zeros((k, 2))
        dinv = []
        for i in range(k):
            e = np.zeros(k)
            e[i] = h[i]
            fp = self._pieces(problem.solve(theta + e))
            fm = self._pieces(problem.solve(theta - e))
            ld[i] = fp[0], fm[0]
            r2[i] = fp[1], fm[1]
            dinv.append((fp[2] - fm[2]) / (2 * h[i]))
        grad_ld = (ld[:, 0] - ld[:, 1]) / (2 * h)
        grad_r2 = (r2[:, 0] - r2[:, 1]) / (2 * h)
        hess_ld = np.diag((ld[:, 0] - 2 * f0[0] + ld[:, 1]) / h**2)
        hess_r2 = np.diag((r2[:, 0] - 2 * f0[1] + r2[:, 1]) / h**2)
        # Off-diagonal terms the numDeriv (genD) way: along e_i + e_j, minus the diagonals.
        for i in range(k):
            for j in range(i):
                e = np.zeros(k)
                e[i], e[j] = h[i], h[j]
                fp = self._pieces(problem.solve(theta + e), inverse=False)
                fm = self._pieces(problem.solve(theta - e), inverse=False)
                for out, a, c0 in ((hess_ld, 0, f0[0]), (hess_r2, 1, f0[1])):
                    out[i, j] = out[j, i] = ((fp[a] - 2 * c0 + fm[a] - out[i, i] * h[i] ** 2
                                              - out[j, j] * h[j] ** 2) / (2 * h[i] * h[j]))

        r2_0 = f0[1]
        d = problem.dof
        H = np.zeros((k + 1, k + 1))
        H[:k, :k] = hess_ld + hess_r2 / s**2
        H[:k, k] = H[k, :k] = -2.0 * grad_r2 / s**3
        H[k, k] = -2.0 * d / s**2 + 6.0 * r2_0 / s**4
        self.hessian = H
        try:
            self.vcov_varpar = 2.0 * np.linalg.inv(H)
            self.hessian_ok = bool(np.all(np.linalg.eigvalsh(H) > 0))
        except np.linalg.LinAlgError:
            self.vcov_varpar = 2.0 * np.linalg.pinv(H)
            self.hessian_ok = False
        # The profiled deviance f(theta) = D(theta, sigma-hat(theta)): at the
        # optimum in sigma its gradient is dD/dtheta and its Hessian the Schur
        # complement of the sigma entry.
        self.gradient = grad_ld + grad_r2 / s**2
        self.profiled_hessian = H[:k, :k] - np.outer(H[:k, k], H[:k, k]) / H[k, k]
        inv0 = f0[2]
        self.vcov_beta = s**2 * inv0
        # dV/dphi: theta parts numerically, sigma part exactly.
        self.jacobian = [s**2 * dv for dv in dinv] + [2.0 * s * inv0]

    def _pieces(self, sol, inverse=True):
        """(log-determinant part of the deviance, r^2, (RX'RX)^-1 on the user's scale)."""
        ld = sol.logdet_L + (sol.logdet_RX if self.problem.reml else 0.0)
        return ld, sol.r2, (sol.vcov_unscaled if inverse else None)

    def convergence(self, tol=GRAD_TOL):
        """lme4's check after optimisation: '' if passed, else one sentence.

        Parameters at their bound (a variance at zero) are left out, as the
        optimum there need not have zero slope.  On the others, the gradient
        scaled by the Hessian (the Newton step, lme4's ``scaled gradient``)
        must be below ``tol`` and the Hessian positive definite.  The step
        is measured relative to the size of each term's factor where that
        exceeds 1: a step of 0.002 is a real distance at theta = 1 but
        rounding noise at theta = 1e5.
        """
        free = ~(np.isfinite(self.problem.lower) & (np.abs(self.theta) < 1e-6))
        if not free.any():
            return ""
        g = self.gradient[free]
        Hf = self.profiled_hessian[np.ix_(free, free)]
        try:
            C = np.linalg.cholesky(Hf)
        except np.linalg.LinAlgError:
            return ("The deviance's Hessian at the estimate is not positive definite, so the optimiser may not "
                    "have found a minimum (the variance parameters may be unidentifiable): simplify the random "
                    "part or rescale the covariates.")
        # The size of an element of a covariance factor is that of its factor.
        size = np.empty(self.k)
        for sl in self.problem.theta_slices:
            size[sl] = np.max(np.abs(self.theta[sl]))
        scaled = np.linalg.solve(C.T, np.linalg.solve(C, g)) / np.maximum(size[free], 1.0)
        worst = float(np.max(np.abs(scaled)))
        if worst > tol or not np.isfinite(worst):
            return (f"The optimiser stopped where the deviance still slopes (scaled gradient {worst:.2g}, "
                    f"tolerance {tol:g}), so the estimates may not be at the optimum: rescale the covariates "
                    "or simplify the random part.")
        return ""

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
