"""lme4's convergence check after the optimiser stops: gradient and Hessian of the profiled deviance.

lme4 (``checkConv``) computes the gradient and Hessian of the profiled deviance in
theta at the estimate and warns when the Newton step they give (the "scaled gradient")
exceeds 2e-3, or when the Hessian is not positive definite.  The derivatives come from
:class:`lmmedu.stats.derivatives.DevianceDerivatives`, the same differences that give
Satterthwaite df, so the check costs nothing extra.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GRAD_TOL", "convergence_message"]

#: lme4's tolerance for the scaled gradient (check.conv.grad = .makeCC("warning", tol = 2e-3)).
GRAD_TOL = 2e-3


def convergence_message(problem, derivatives, tol=GRAD_TOL):
    """lme4's check after optimisation: '' if passed, else one sentence.

    Parameters at their bound (a variance at zero) are left out, as the
    optimum there need not have zero slope.  On the others, the gradient
    scaled by the Hessian (the Newton step, lme4's ``scaled gradient``)
    must be below ``tol`` and the Hessian positive definite.  The step
    is measured relative to the size of each term's factor where that
    exceeds 1: a step of 0.002 is a real distance at theta = 1 but
    rounding noise at theta = 1e5.

    Parameters
    ----------
    problem : lmmedu.stats.engine.LmmProblem
    derivatives : lmmedu.stats.derivatives.DevianceDerivatives
        Derivatives at the estimate.
    tol : float
        Tolerance for the scaled gradient.

    Returns
    -------
    str

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)",
    ...                  lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=100))
    >>> convergence_message(fit.problem, fit.derivatives)
    ''
    """
    theta = derivatives.theta
    free = ~(np.isfinite(problem.lower) & (np.abs(theta) < 1e-6))
    if not free.any():
        return ""
    g = derivatives.gradient[free]
    Hf = derivatives.profiled_hessian[np.ix_(free, free)]
    try:
        C = np.linalg.cholesky(Hf)
    except np.linalg.LinAlgError:
        return ("The deviance's Hessian at the estimate is not positive definite, so the optimiser may not "
                "have found a minimum (the variance parameters may be unidentifiable): simplify the random "
                "part or rescale the covariates.")
    # The size of an element of a covariance factor is that of its factor.
    size = np.empty(len(theta))
    for sl in problem.theta_slices:
        size[sl] = np.max(np.abs(theta[sl]))
    scaled = np.linalg.solve(C.T, np.linalg.solve(C, g)) / np.maximum(size[free], 1.0)
    worst = float(np.max(np.abs(scaled)))
    if worst > tol or not np.isfinite(worst):
        return (f"The optimiser stopped where the deviance still slopes (scaled gradient {worst:.2g}, "
                f"tolerance {tol:g}), so the estimates may not be at the optimum: rescale the covariates "
                "or simplify the random part.")
    return ""
