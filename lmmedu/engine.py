"""The profiled (RE)ML criterion of a linear mixed model, and its optimisation.

This follows lme4 (Bates, Maechler, Bolker & Walker 2015, JSS 67(1), sec. 3).
With relative covariance factor Lambda(theta), the random effects are
b = Lambda u, u ~ N(0, sigma^2 I).  For a given theta, the sparse Cholesky
factor L of Lambda' Z'Z Lambda + I and a few triangular solves give the
penalised residual sum of squares r^2(theta), the fixed effects and the
log-determinants, so sigma and beta are profiled out and only theta is
optimised.

All data-size work happens once, in :class:`LmmProblem.__init__`: per-group
cross-products Z_j'Z_j, Z_j'X, Z_j'y, plus X'X and X'y.  Each evaluation of
the criterion then costs O(groups * q^3) and never touches the n rows.

Structure exploited: the random term with the most effects (e.g. 18,015
probesets) is block diagonal in Z'Z; all other terms (e.g. 23 arrays) are few
and are eliminated through a small dense Schur complement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp

__all__ = ["LmmProblem", "Solution", "optimize_theta"]

_LOG2PI = np.log(2 * np.pi)
# Cap on the dense (secondary) random-effects block: beyond this, memory for
# Z1'Z2 and the dense Cholesky would grow past what a Binder session has.
_MAX_DENSE = 2000


@dataclass
class Solution:
    """Everything the criterion computes at one theta."""

    theta: np.ndarray
    logdet_L: float  # log |L|^2
    logdet_RX: float  # log |RX|^2
    r2: float  # penalised residual sum of squares
    beta: np.ndarray
    RXtRX: np.ndarray  # X' V^-1 X / sigma^2, i.e. RX'RX
    parts: dict  # intermediate factors needed for the conditional modes


def _lower_tri_indices(q):
    """Column-major lower-triangle indices, lme4's theta order."""
    rows, cols = [], []
    for j in range(q):
        for i in range(j, q):
            rows.append(i)
            cols.append(j)
    return np.array(rows), np.array(cols)


class LmmProblem:
    """Precomputed cross-products and the profiled deviance for one model.

    Parameters
    ----------
    X : ndarray (n, p)
        Fixed-effects matrix (full column rank).
    y : ndarray (n,)
        Response.
    blocks : list of lmmedu.design.RandomBlock
        Random terms.
    reml : bool
        Restricted (True) or full maximum likelihood.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(10), 20)
    >>> y = 1 + rng.normal(size=10)[g] + rng.normal(size=200)
    >>> blk = SimpleNamespace(Z=np.ones((200, 1)), codes=g, levels=[str(i) for i in range(10)])
    >>> prob = LmmProblem(np.ones((200, 1)), y, [blk], reml=True)
    >>> theta = optimize_theta(prob).x
    >>> bool(theta[0] > 0)
    True
    """

    def __init__(self, X, y, blocks, reml=True):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        self.n, self.p = X.shape
        self.reml = bool(reml)
        self.blocks = list(blocks)
        if self.n - self.p <= 0:
            raise ValueError(
                f"The model has {self.p} fixed-effect columns but only {self.n} observations; it needs more "
                "observations than fixed effects."
            )

        # Work with the OLS residual: y'y minus the fitted part then cancels far
        # less, and beta is found as a small correction to the OLS estimate.
        if self.p:
            self.beta_ols, *_ = np.linalg.lstsq(X, y, rcond=None)
            ystar = y - X @ self.beta_ols
        else:
            self.beta_ols = np.zeros(0)
            ystar = y
        self.XtX = X.T @ X
        self.Xty = X.T @ ystar
        self.yty = float(ystar @ ystar)

        # Theta layout: per block, lower triangle of a q x q factor.
        self.theta_slices, self.tri, start = [], [], 0
        for b in self.blocks:
            q = b.Z.shape[1]
            rows, cols = _lower_tri_indices(q)
            self.tri.append((rows, cols))
            self.theta_slices.append(slice(start, start + len(rows)))
            start += len(rows)
        self.n_theta = start
        lower = []
        for b, (rows, cols) in zip(self.blocks, self.tri):
            lower.extend(0.0 if r == c else -np.inf for r, c in zip(rows, cols))
        self.lower = np.array(lower)

        if not self.blocks:
            raise ValueError("The model has no random-effects term; use lmmedu.fit_lm for an ordinary linear model.")
        # The block-diagonal (primary) term: the one with the most random effects.
        sizes = [b.Z.shape[1] * len(b.levels) for b in self.blocks]
        self.primary = int(np.argmax(sizes))
        self.secondary = [i for i in range(len(self.blocks)) if i != self.primary]
        self._prepare(X, ystar)

    # ------------------------------------------------------------------
    def _prepare(self, X, y):
        b1 = self.blocks[self.primary]
        Z1, g1 = b1.Z, b1.codes
        m1, q1 = len(b1.levels), Z1.shape[1]
        self.m1, self.q1 = m1, q1

        def gsum(w):
            return np.bincount(g1, weights=w, minlength=m1)

        self.Z1tZ1 = np.empty((m1, q1, q1))
        for a in range(q1):
            for c in range(a, q1):
                s = gsum(Z1[:, a] * Z1[:, c])
                self.Z1tZ1[:, a, c] = s
                self.Z1tZ1[:, c, a] = s
        self.Z1tX = np.empty((m1, q1, self.p))
        for a in range(q1):
            for k in range(self.p):
                self.Z1tX[:, a, k] = gsum(Z1[:, a] * X[:, k])
        self.Z1ty = np.stack([gsum(Z1[:, a] * y) for a in range(q1)], axis=1)

        # Secondary terms: a sparse n x Q2 matrix, then small dense products.
        self.Q2 = sum(self.blocks[i].Z.shape[1] * len(self.blocks[i].levels) for i in self.secondary)
        if self.Q2 > _MAX_DENSE:
            raise ValueError(
                f"The random terms other than the largest have {self.Q2} random effects in total; lmmedu handles "
                f"at most {_MAX_DENSE} there (one large grouping factor plus small ones)."
            )
        if self.Q2:
            Z2 = self._sparse_Z(self.secondary)
            Z1s = self._sparse_Z([self.primary])
            self.Z2tZ2 = (Z2.T @ Z2).toarray()
            self.Z2tX = np.asarray(Z2.T @ X)
            self.Z2ty = np.asarray(Z2.T @ y)
            self.Z1tZ2 = (Z1s.T @ Z2).toarray().reshape(m1, q1, self.Q2)

    def _sparse_Z(self, which):
        """Columns of the given terms, ordered group-major (group j, then column a)."""
        mats = []
        for i in which:
            b = self.blocks[i]
            q, m = b.Z.shape[1], len(b.levels)
            rows = np.repeat(np.arange(self.n), q)
            cols = (b.codes[:, None] * q + np.arange(q)[None, :]).ravel()
            mats.append(sp.csr_matrix((b.Z.ravel(), (rows, cols)), shape=(self.n, m * q)))
        return sp.hstack(mats, format="csr")

    # ------------------------------------------------------------------
    def factor(self, theta, i):
        """Lower-triangular relative covariance factor T of block i."""
        b = self.blocks[i]
        q = b.Z.shape[1]
        T = np.zeros((q, q))
        rows, cols = self.tri[i]
        T[rows, cols] = theta[self.theta_slices[i]]
        return T

    def _lambda2(self, theta):
        """Dense block-diagonal Lambda of the secondary terms."""
        L = np.zeros((self.Q2, self.Q2))
        start = 0
        for i in self.secondary:
            T = self.factor(theta, i)
            q, m = T.shape[0], len(self.blocks[i].levels)
            for j in range(m):
                L[start + j * q: start + (j + 1) * q, start + j * q: start + (j + 1) * q] = T
            start += q * m
        return L

    def solve(self, theta):
        """Factor the system at ``theta``; returns a :class:`Solution`."""
        theta = np.asarray(theta, dtype=float)
        T1 = self.factor(theta, self.primary)
        q1 = self.q1
        # A_j = T1' Z1j'Z1j T1 + I, factored block by block.
        A = np.einsum("ba,jbc,cd->jad", T1, self.Z1tZ1, T1, optimize=True)
        A[:, np.arange(q1), np.arange(q1)] += 1.0
        L1 = _batched_cholesky(A)
        cu1 = _batched_lsolve(L1, np.einsum("ba,jb->ja", T1, self.Z1ty))
        RZX1 = _batched_lsolve(L1, np.einsum("ba,jbk->jak", T1, self.Z1tX))
        logdet_L = 2.0 * np.log(np.diagonal(L1, axis1=1, axis2=2)).sum()

        RXtRX = self.XtX - np.einsum("jak,jal->kl", RZX1, RZX1)
        rhs = self.Xty - np.einsum("jak,ja->k", RZX1, cu1)
        cu_sq = float((cu1**2).sum())
        parts = {"T1": T1, "L1": L1, "cu1": cu1, "RZX1": RZX1}

        if self.Q2:
            Lam2 = self._lambda2(theta)
            B = np.einsum("ba,jbc->jac", T1, self.Z1tZ2) @ Lam2  # (m, q1, Q2)
            C = _batched_lsolve(L1, B)  # L1^-1 B_j
            S = Lam2.T @ self.Z2tZ2 @ Lam2 + np.eye(self.Q2) - np.einsum("jai,jak->ik", C, C)
            L22 = np.linalg.cholesky(S)
            cu2 = _tri_solve(L22, Lam2.T @ self.Z2ty - np.einsum("jai,ja->i", C, cu1))
            RZX2 = _tri_solve(L22, Lam2.T @ self.Z2tX - np.einsum("jai,jak->ik", C, RZX1))
            logdet_L += 2.0 * np.log(np.diag(L22)).sum()
            RXtRX = RXtRX - RZX2.T @ RZX2
            rhs = rhs - RZX2.T @ cu2
            cu_sq += float(cu2 @ cu2)
            parts.update(Lam2=Lam2, C=C, L22=L22, cu2=cu2, RZX2=RZX2)

        if self.p:
            RX = np.linalg.cholesky(RXtRX)
            cbeta = _tri_solve(RX, rhs)
            beta_star = _tri_solve(RX.T, cbeta, lower=False)
            logdet_RX = 2.0 * np.log(np.diag(RX)).sum()
            r2 = self.yty - cu_sq - float(cbeta @ cbeta)
        else:
            beta_star = np.zeros(0)
            logdet_RX = 0.0
            r2 = self.yty - cu_sq
        parts["beta_star"] = beta_star
        return Solution(theta, logdet_L, logdet_RX, max(r2, 1e-300), self.beta_ols + beta_star, RXtRX, parts)

    # ------------------------------------------------------------------
    @property
    def dof(self):
        """Degrees of freedom for sigma: n - p under REML, n under ML."""
        return self.n - self.p if self.reml else self.n

    def deviance(self, theta):
        """Profiled deviance (REML criterion when ``reml``) at ``theta``."""
        try:
            s = self.solve(theta)
        except np.linalg.LinAlgError:
            return np.inf
        return self._profiled(s)

    def _profiled(self, s):
        d = self.dof
        dev = s.logdet_L + d * (1.0 + _LOG2PI + np.log(s.r2 / d))
        if self.reml:
            dev += s.logdet_RX
        return dev

    def deviance_sigma(self, theta, sigma, reml=None):
        """Deviance at ``theta`` and a given residual SD (not profiled).

        lmerTest differentiates this function of (theta, sigma) for the
        Satterthwaite degrees of freedom.
        """
        reml = self.reml if reml is None else reml
        s = self.solve(theta)
        d = self.n - self.p if reml else self.n
        dev = s.logdet_L + d * (_LOG2PI + np.log(sigma**2)) + s.r2 / sigma**2
        if reml:
            dev += s.logdet_RX
        return dev

    def sigma(self, s):
        """Residual SD at a solution (its profiled optimum)."""
        return float(np.sqrt(s.r2 / self.dof))

    def vcov_beta(self, theta, sigma):
        """sigma^2 (RX'RX)^-1, the covariance of the fixed effects."""
        s = self.solve(theta)
        return sigma**2 * np.linalg.inv(s.RXtRX)

    def conditional_modes(self, s):
        """Conditional modes b = Lambda u, one array (m, q) per block."""
        parts = s.parts
        beta_star = parts["beta_star"]
        v1 = parts["cu1"] - np.einsum("jak,k->ja", parts["RZX1"], beta_star)
        out = [None] * len(self.blocks)
        if self.Q2:
            v2 = parts["cu2"] - parts["RZX2"] @ beta_star
            u2 = _tri_solve(parts["L22"].T, v2, lower=False)
            v1 = v1 - np.einsum("jai,i->ja", parts["C"], u2)
            b2 = parts["Lam2"] @ u2
            start = 0
            for i in self.secondary:
                q, m = self.blocks[i].Z.shape[1], len(self.blocks[i].levels)
                out[i] = b2[start: start + q * m].reshape(m, q)
                start += q * m
        u1 = _batched_lsolve(np.swapaxes(parts["L1"], 1, 2), v1, lower=False)
        out[self.primary] = u1 @ parts["T1"].T
        return out


def _batched_cholesky(A):
    q = A.shape[-1]
    if q == 1:
        return np.sqrt(A)
    if q == 2:
        # Closed form: much faster than LAPACK calls on 18,000 tiny blocks.
        L = np.zeros_like(A)
        l11 = np.sqrt(A[:, 0, 0])
        l21 = A[:, 1, 0] / l11
        L[:, 0, 0] = l11
        L[:, 1, 0] = l21
        L[:, 1, 1] = np.sqrt(A[:, 1, 1] - l21**2)
        return L
    return np.linalg.cholesky(A)


def _batched_lsolve(L, B, lower=True):
    """Solve L_j X_j = B_j for each block j (L_j triangular, q x q)."""
    q = L.shape[-1]
    vec = B.ndim == 2
    if q == 1:
        return B / L[:, 0, :1] if vec else B / L[:, :1, :1]
    if q == 2 and lower:
        Bm = B[:, :, None] if vec else B
        x0 = Bm[:, 0] / L[:, 0, 0, None]
        x1 = (Bm[:, 1] - L[:, 1, 0, None] * x0) / L[:, 1, 1, None]
        X = np.stack([x0, x1], axis=1)
        return X[:, :, 0] if vec else X
    if q == 2 and not lower:
        Bm = B[:, :, None] if vec else B
        x1 = Bm[:, 1] / L[:, 1, 1, None]
        x0 = (Bm[:, 0] - L[:, 0, 1, None] * x1) / L[:, 0, 0, None]
        X = np.stack([x0, x1], axis=1)
        return X[:, :, 0] if vec else X
    if vec:
        return np.linalg.solve(L, B[:, :, None])[:, :, 0]
    return np.linalg.solve(L, B)


def _tri_solve(L, b, lower=True):
    import scipy.linalg

    return scipy.linalg.solve_triangular(L, b, lower=lower, check_finite=False)


def optimize_theta(problem, start=None):
    """Minimise the profiled deviance over theta.

    One variance parameter: bounded Brent search, with the boundary (theta = 0)
    checked explicitly because a singular fit is a real possibility.  Several:
    L-BFGS-B with bounds, then Nelder-Mead from its result to polish, as the
    deviance can be large (1e6) and finite-difference gradients noisy.

    Returns
    -------
    scipy.optimize.OptimizeResult
        With ``x`` (theta), ``fun`` (deviance), ``nfev`` and ``success``.
    """
    k = problem.n_theta
    if start is None:
        start = np.where(np.isfinite(problem.lower), 1.0, 0.0)
    f = problem.deviance
    if k == 1:
        # Bracket by a coarse log-spaced scan, then golden-section/Brent.
        grid = np.concatenate([[0.0], np.logspace(-3, 2, 11)])
        vals = np.array([f([t]) for t in grid])
        i = int(np.argmin(vals))
        lo = grid[max(i - 1, 0)]
        hi = grid[min(i + 1, len(grid) - 1)]
        if i == len(grid) - 1:
            hi = grid[-1] * 100
        res = scipy.optimize.minimize_scalar(lambda t: f([t]), bounds=(lo, hi), method="bounded",
                                             options={"xatol": 1e-9})
        x, fun = np.array([res.x]), float(res.fun)
        if vals[0] <= fun:
            x, fun = np.array([0.0]), float(vals[0])
        return scipy.optimize.OptimizeResult(x=x, fun=fun, nfev=res.nfev + len(grid), success=True,
                                             message="bounded Brent")
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in problem.lower]
    res = scipy.optimize.minimize(f, start, method="L-BFGS-B", bounds=bounds,
                                  options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 1000, "eps": 1e-7})
    nfev = res.nfev
    res2 = scipy.optimize.minimize(f, res.x, method="Nelder-Mead", bounds=bounds,
                                   options={"xatol": 1e-7, "fatol": 1e-9, "maxfev": 4000,
                                            "initial_simplex": _simplex(res.x, problem.lower)})
    nfev += res2.nfev
    best = res2 if res2.fun <= res.fun else res
    x = np.where(np.abs(best.x) < 1e-10, 0.0, best.x)
    return scipy.optimize.OptimizeResult(x=x, fun=float(f(x)), nfev=nfev,
                                         success=bool(res.success or res2.success),
                                         message=f"L-BFGS-B: {res.message}; Nelder-Mead: {res2.message}")


def _simplex(x, lower):
    """A small simplex around x that respects the lower bounds."""
    k = len(x)
    pts = [x.copy()]
    for i in range(k):
        step = 0.02 * max(abs(x[i]), 0.05)
        y = x.copy()
        y[i] = x[i] + step
        pts.append(y)
    return np.array(pts)
