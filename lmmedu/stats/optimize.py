"""Minimising the profiled deviance over theta: BOBYQA (nlopt), as lme4 and MixedModels.jl do."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["OptimResult", "optimize_theta"]

# A few ulps: changes this small are rounding noise of the deviance, not progress.
FTOL_REL = 1e-15
# Above this many variance parameters (e.g. a 6 x 6 covariance, 21) BOBYQA's own work per
# step (its model has 2k + 1 points) outweighs the deviance: on a 12 x 12 covariance (78)
# it took 41,000 evaluations and 60 s, 40 s of them inside BOBYQA.  L-BFGS-B with
# central-difference gradients took 11,800 evaluations and 5.5 s and ended 7e-7 lower.
MANY_PARAMETERS = 20


@dataclass(frozen=True)
class OptimResult:
    """Outcome of :func:`optimize_theta`."""

    x: np.ndarray
    fun: float
    nfev: int
    success: bool
    message: str


def optimize_theta(problem, start=None, ftol=1e-12, max_evals=None):
    """Minimise the profiled deviance over theta with BOBYQA (nlopt), or L-BFGS-B for many parameters.

    With more than ``MANY_PARAMETERS`` variance parameters, a fit that ends with a diagonal
    element of a multi-column term's factor at 0 (a singular fit) is searched once more from
    there with those elements back at their start values, and the better end is kept: on that
    face of the bounds the Cholesky parameterisation has more than one local optimum, the
    covariance's missing direction given by different columns.  (A 28-parameter factor slope
    ended 0.007 below mixedlm in log-likelihood, as lme4 does, and whether the gradient check
    then warned depended on the BLAS kernel; the second search finds mixedlm's optimum.)

    With at most ``MANY_PARAMETERS``, a fit whose correlated term ends singular (or nearly) is
    searched again from the other faces of the bounds and from correlations 0, and the lowest
    end is kept (see ``_other_faces``): with 4 groups, ``(1 + t | g)`` has competing optima on
    the face of an SD at 0 and that of a correlation at +-1.

    Bounds are lme4's: diagonal elements of each factor at least 0, no upper
    bound.  The search runs in coordinates scaled by the moment-based start
    so that parameters of very different sizes (an intercept SD of 10 next to
    a slope SD of 0.3) are treated alike.  With more than ``MANY_PARAMETERS``
    variance parameters, L-BFGS-B with central-difference gradients replaces
    BOBYQA, whose own work per step grows with their square.  Whether the optimum was reached is
    judged afterwards from the gradient and Hessian (see
    :func:`lmmedu.stats.convergence.convergence_message`), as lme4 does.

    Returns
    -------
    OptimResult
        ``x`` (theta), ``fun`` (deviance), ``nfev``, ``success`` (the
        optimiser stopped on its tolerance) and ``message``.
    """
    start = np.asarray(problem.start if start is None else start, dtype=float)
    limit = int(max_evals or 1000 * (problem.n_theta + 1) ** 1.5)
    result = _search(problem, start, ftol, limit)
    if problem.n_theta <= MANY_PARAMETERS:
        return _other_faces(problem, result, ftol, limit)
    faces = _singular_diagonals(problem, result.x)
    if not faces.any() or result.nfev >= limit:
        return result
    again = _search(problem, np.where(faces, np.maximum(problem.start, 0.1), result.x), ftol, limit - result.nfev)
    nfev = result.nfev + again.nfev
    # Only a clearly lower deviance (beyond the searches' own precision) replaces the first end.
    best = again if again.fun < result.fun - 1e-8 else result
    return OptimResult(x=best.x, fun=best.fun, nfev=nfev, success=best.success, message=best.message)


# A diagonal element of a factor below this (relative to the residual SD) is a singular fit:
# lme4's isSingular tolerance, below which the search may have stopped on a face of the bounds.
SINGULAR_TOL = 1e-4
# ... or below this share of the term's largest SD.
NEAR_FACE = 1e-2


def _other_faces(problem, result, ftol, limit):
    """Search again from the other faces of a singular end, keep the lowest deviance.

    With few groups a correlated term's deviance often has a local optimum on each face of
    the bounds: one with an SD at 0 (a diagonal element of the factor at 0), one with a
    correlation at +1 or -1 (a later diagonal element at 0), and on the first face the
    sign of the remaining correlation is free, so BOBYQA can stop there although moving
    off the face towards the opposite sign would lower the deviance.  (Fitting
    ``y ~ t + (1 + t | g)`` to 4 groups, lme4 ended lower than lmmedu's bootstrap refits by up
    to 4 in REML criterion on 27 of 1,200 data sets before this, and than its fresh fits on 6.)  Each term of more than one column whose factor ended
    singular (or nearly) is searched again from, for each of its columns, the end with that
    column's correlations' signs flipped and its SDs at 0 lifted off the face, and from its SDs
    with correlations 0; the lowest end is kept.  Only singular ends pay for this.  (Each of
    the two kinds of start found lower ends on those data that the other missed.)
    """
    x = np.asarray(result.x, dtype=float)
    starts = []
    for part, (rows, cols) in zip(problem.theta_slices, problem.tri):
        q = int(np.max(rows)) + 1
        if q < 2:
            continue
        T = np.zeros((q, q))
        T[rows, cols] = x[part]
        sd = np.sqrt(np.sum(T ** 2, axis=1))
        # Near a face too: BOBYQA can stop with an SD of 0.001 next to one of 1.2, where the
        # factor is singular to two digits but not to lme4's absolute tolerance.
        if np.min(np.abs(np.diag(T))) >= max(SINGULAR_TOL, NEAR_FACE * float(np.max(sd))):
            continue
        # Off the face by a quarter of the largest SD of the term (at least 0.05, theta's scale
        # being the residual SD): far enough for BOBYQA's first steps to see the other side.
        lift = max(0.25 * float(np.max(sd)), 0.05)
        candidates = []
        for j in range(q):
            flip = np.ones(q)
            flip[j] = -1.0
            M = flip[:, None] * T * flip[None, :]  # D T D: the same diagonal, column j's correlations negated
            d = np.diag(M).copy()
            M[np.diag_indices(q)] = np.where(d < max(SINGULAR_TOL, NEAR_FACE * float(np.max(sd))), lift, d)
            candidates.append(M)
            if q == 2:
                break  # flipping either column negates the one correlation
        # On the face of an SD at 0 only the other SDs count, not how a column's variance is
        # split between the factor's entries: a flip keeps that split, correlations 0 resets it.
        candidates.append(np.diag(np.maximum(sd, lift)))
        for M in candidates:
            s = x.copy()
            s[part] = M[rows, cols]
            starts.append(s)
    best, nfev = result, result.nfev
    for s in starts:
        if nfev >= limit:
            break
        again = _search(problem, s, ftol, limit - nfev)
        nfev += again.nfev
        # Only a clearly lower deviance (beyond the searches' own precision) replaces the first end.
        if again.fun < best.fun - 1e-8:
            best = again
    if best is result and nfev == result.nfev:
        return result
    return OptimResult(x=best.x, fun=best.fun, nfev=nfev, success=best.success, message=best.message)


def _singular_diagonals(problem, theta):
    """Mask of the diagonal elements at 0 of the factors of terms with more than one column."""
    theta = np.asarray(theta)
    mask = np.zeros(len(theta), dtype=bool)
    for part in problem.theta_slices:
        if part.stop - part.start > 1:
            diagonal = np.isfinite(problem.lower[part])
            mask[part] = diagonal & (theta[part] == 0.0)
    return mask


def _search(problem, start, ftol, limit):
    """One search (BOBYQA, or L-BFGS-B with many parameters) from ``start``, at most ``limit`` evaluations."""
    import nlopt

    k = problem.n_theta
    f = problem.deviance
    lower = np.where(np.isfinite(problem.lower), 0.0, -np.inf)
    best = {"x": start.copy(), "f": np.inf, "n": 0}

    def evaluate(x):
        """The deviance at ``x`` (a new array: kept as is when it is the best so far), counted."""
        val = f(x)
        best["n"] += 1
        if val < best["f"]:
            best["f"], best["x"] = val, x
        return val

    def run(x0, step):
        scale = np.maximum(np.abs(x0), 0.05)

        def objective(z, grad):
            val = evaluate(z * scale)
            # math, not numpy: called some 40-400 times per fit, where numpy's scalar overhead shows.
            return val if math.isfinite(val) else 1e300

        opt = nlopt.opt(nlopt.LN_BOBYQA, k)
        opt.set_lower_bounds(lower)
        opt.set_min_objective(objective)
        opt.set_ftol_abs(ftol)
        # Also stop on a change within the deviance's rounding noise (a few ulps): at a
        # deviance of 2e5 (InstEval) ftol_abs alone is below one ulp, and BOBYQA spent
        # half its evaluations shrinking its trust region around an optimum already found.
        # Not with many parameters: there a step improves along few directions of a flat
        # valley, and stopping on a small change ended 2e-6 short in log-likelihood (q = 12).
        opt.set_ftol_rel(FTOL_REL if k <= 10 else 0.0)
        opt.set_xtol_abs(1e-10)
        opt.set_initial_step(np.full(k, step))
        opt.set_maxeval(max(limit - best["n"], 2 * k + 2))
        try:
            opt.optimize(np.maximum(x0 / scale, lower))
            code = opt.last_optimize_result()
            message = {nlopt.SUCCESS: "converged", nlopt.FTOL_REACHED: "converged (deviance tolerance)",
                       nlopt.XTOL_REACHED: "converged (step tolerance)",
                       nlopt.MAXEVAL_REACHED: "stopped at the maximum number of evaluations"}.get(
                code, f"nlopt code {code}")
            return code in (nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED, nlopt.STOPVAL_REACHED), message
        except (nlopt.RoundoffLimited, RuntimeError, ValueError) as err:
            return bool(np.isfinite(best["f"])), f"stopped early ({type(err).__name__})"

    def run_lbfgsb(x0):
        import scipy.optimize

        def value_and_gradient(x):
            f0 = evaluate(x.copy())  # scipy may reuse its array
            grad = np.empty(k)
            h = 1e-7 * np.maximum(1.0, np.abs(x))
            for i in range(k):
                up = x.copy()
                up[i] += h[i]
                if x[i] - h[i] < lower[i]:
                    grad[i] = (evaluate(up) - f0) / h[i]  # one-sided at lme4's bound
                else:
                    down = x.copy()
                    down[i] -= h[i]
                    grad[i] = (evaluate(up) - evaluate(down)) / (2 * h[i])
            if not (math.isfinite(f0) and np.all(np.isfinite(grad))):
                raise FloatingPointError("the deviance is not finite near this point")
            return f0, grad

        try:
            res = scipy.optimize.minimize(
                value_and_gradient, np.maximum(x0, lower), jac=True, method="L-BFGS-B",
                bounds=list(zip(lower, np.full(k, np.inf))),
                options=dict(maxiter=5000, maxfun=max(limit // (2 * k + 1), 10), ftol=1e-15, gtol=1e-9,
                             maxcor=30))
        except FloatingPointError:
            return False, "stopped early (the deviance was not finite)"
        # A line search that cannot improve on a point is where the differences meet rounding
        # noise: judged, like every other stop, by the gradient and Hessian check afterwards.
        ok = bool(res.success) or "ABNORMAL" in str(res.message).upper()
        return ok, "converged" if ok else f"stopped ({res.message})"

    if k > MANY_PARAMETERS:
        success, message = run_lbfgsb(start)
        if not success:
            # E.g. a start where the system cannot be factored: fall back to the derivative-free search.
            success, message = run(best["x"].copy() if np.isfinite(best["f"]) else start, 0.2)
    else:
        # The moment-based start is usually close: a small first trust region saves
        # evaluations.  With many parameters (a 12 x 12 covariance) it is rougher,
        # and a small region was seen to stop on a worse point.
        success, message = run(start, 0.05 if k <= 10 else 0.2)
    # The search ran in coordinates scaled by the start; if it ended far from
    # the start (e.g. variance ratios of 1e5 from a start of 1), those scales
    # were wrong: search again scaled by where it ended.
    moved = np.abs(best["x"] - start) / np.maximum(np.abs(start), 0.05)
    if success and np.max(moved, initial=0.0) > 1.0:
        success, message = run(best["x"].copy(), 0.05)
    x, fun = best["x"], best["f"]
    # Snap variances that ended next to zero onto the boundary if that is no worse.
    near = np.isfinite(problem.lower) & (np.abs(x) < 1e-6) & (x != 0)
    if near.any():
        snapped = np.where(near, 0.0, x)
        fs = f(snapped)
        if fs <= fun + 1e-10:
            x, fun = snapped, fs
    return OptimResult(x=np.asarray(x, dtype=float), fun=float(fun), nfev=best["n"], success=bool(success),
                       message=message)
