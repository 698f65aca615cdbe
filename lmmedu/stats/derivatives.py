"""Numerical derivatives of the (RE)ML deviance at the optimum, shared by the convergence check and Satterthwaite.

The deviance of a mixed model in its variance parameters phi = (theta, sigma) is

    D(theta, sigma) = logdet(theta) + r^2(theta) / sigma^2 + d log(2 pi sigma^2),

with ``logdet`` = log|L|^2 (+ log|RX|^2 under REML) and d = n - p (REML) or n (ML).
Only the two theta-dependent pieces (``logdet`` and ``r2``) and (RX'RX)^-1 are
differentiated numerically, by central differences with one step of 1e-3 relative
(truncation error about 1e-6 relative, far below the 1e-2 to which df and the
convergence check are meaningful); the sigma part is exact.  lmerTest and lme4 get
the same quantities by Richardson extrapolation (numDeriv); the answers agree to
the precision that matters.

From one set of differences come

* the Hessian ``H`` of D in (theta, sigma), whose inverse times 2 is the asymptotic
  covariance of the variance parameters (Satterthwaite's A);
* the gradient and Hessian of the *profiled* deviance f(theta) = D(theta, sigma-hat(theta))
  (the Schur complement of the sigma row of H), which lme4 checks after optimising
  (:mod:`lmmedu.stats.convergence`);
* the Jacobian dV/dphi of V = Var(beta-hat) = sigma^2 (RX'RX)^-1 (Satterthwaite's g).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DevianceDerivatives"]


class DevianceDerivatives:
    """Gradient, Hessian and dVar(beta)/dphi of the deviance at a solution.

    Parameters
    ----------
    problem : lmmedu.stats.engine.LmmProblem
    solution : lmmedu.stats.engine.Solution
        The solution at the optimum.
    rel_step : float
        Central-difference step, relative to each theta (absolute 1e-4 near 0).

    Attributes
    ----------
    theta : ndarray (k,)
        The engine's theta at the solution.
    sigma : float
        Residual SD.
    hessian : ndarray (k + 1, k + 1)
        Hessian of the deviance in (theta, sigma).
    vcov_varpar : ndarray (k + 1, k + 1)
        2 H^-1 (a pseudo-inverse when H is singular).
    hessian_ok : bool
        H is positive definite.
    gradient, profiled_hessian : ndarray
        Gradient and Hessian of the profiled deviance in theta.
    vcov_beta : ndarray (p, p)
        sigma^2 (RX'RX)^-1.
    jacobian : list of ndarray (p, p)
        dV/dphi_i for each theta and, last, sigma.

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)",
    ...                  lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=100))
    >>> fit.derivatives.hessian.shape
    (2, 2)
    """

    def __init__(self, problem, solution, rel_step=1e-3):
        self.problem = problem
        self.theta = np.asarray(solution.theta, dtype=float)
        theta = self.theta
        k = len(theta)
        self.k = k
        self.sigma = s = problem.sigma(solution)
        if not s > 0:
            raise ValueError("The residual variance is estimated as zero, so the variance parameters' derivatives "
                             "and df are undefined; check the response (is it constant within groups?) or fit the "
                             "group means with lmmedu.fit_lm.")
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
