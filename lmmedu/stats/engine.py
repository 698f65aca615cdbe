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
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp

__all__ = ["LmmProblem", "Solution", "optimize_theta", "single_threaded_blas"]

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


_CONTROLLER = None


def single_threaded_blas():
    """Context manager limiting BLAS to one thread.

    The engine's matrix products are small or tall-and-thin; threading them
    costs more in synchronisation than it saves (measured: 3x slower on two
    cores at the seed-001 size).
    """
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


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
    blocks : list of lmmedu.stats.design.RandomBlock
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
            XtX = X.T @ X
            self.beta_ols = scipy.linalg.solve(XtX, X.T @ y, assume_a="pos")
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
        self.start = self._start_values(ystar)

    # ------------------------------------------------------------------
    def _prepare(self, X, y):
        # Stacks of per-group blocks are stored "structure of arrays": entry
        # [a, b] of every group's block is one contiguous vector over groups,
        # so the tiny q x q algebra below runs as a few vector operations.
        b1 = self.blocks[self.primary]
        Z1, g1 = b1.Z, b1.codes
        m1, q1 = len(b1.levels), Z1.shape[1]
        self.m1, self.q1 = m1, q1

        def gsum(w):
            return np.bincount(g1, weights=w, minlength=m1)

        self.Z1tZ1 = np.empty((q1, q1, m1))
        for a in range(q1):
            for c in range(a, q1):
                self.Z1tZ1[a, c] = self.Z1tZ1[c, a] = gsum(Z1[:, a] * Z1[:, c])
        self.Z1tX = np.empty((q1, self.p, m1))
        for a in range(q1):
            for k in range(self.p):
                self.Z1tX[a, k] = gsum(Z1[:, a] * X[:, k])
        self.Z1ty = np.stack([gsum(Z1[:, a] * y) for a in range(q1)])

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
            # (m1*q1, Q2) group-major -> (q1, Q2, m1)
            Z1tZ2 = (Z1s.T @ Z2).toarray().reshape(m1, q1, self.Q2).transpose(1, 2, 0)
            # Groups of the large factor often share one pattern of Z1j'Z2 (every
            # probeset measured on the same arrays): pool them, so each evaluation
            # works on the distinct patterns rather than on all groups.
            flat = Z1tZ2.reshape(q1 * self.Q2, m1).T
            pattern, npat = _row_patterns(flat)
            if npat <= m1 // 2:
                first = np.zeros(npat, dtype=np.int64)
                first[pattern[::-1]] = np.arange(m1)[::-1]  # a representative group per pattern
                self.U = np.ascontiguousarray(flat[first].T.reshape(q1, self.Q2, npat))
                self.pattern = pattern
                self.pool = sp.csr_matrix((np.ones(m1), (np.arange(m1), pattern)), shape=(m1, npat))
            else:
                self.U = np.ascontiguousarray(Z1tZ2)
                self.pattern = None
                self.pool = None

    def _start_values(self, y):
        """Moment-based starting theta, one block at a time.

        Per-group least-squares coefficients b_j of y (the OLS residual) on
        the block's columns have covariance Sigma + sigma^2 (Z_j'Z_j)^-1, so
        their spread minus the sampling part estimates Sigma.  Starting near
        the optimum matters: from lme4's default start (theta = 1) a
        gradient method can stall with a slope variance pinned at zero when
        the scales of the parameters differ by orders of magnitude.
        """
        start = np.where(np.isfinite(self.lower), 1.0, 0.0)
        y = y.copy()
        # The largest term first; the others then see its per-group fits removed,
        # so that e.g. an array effect is not swamped by probeset differences.
        for i in [self.primary] + self.secondary:
            b = self.blocks[i]
            q, m = b.Z.shape[1], len(b.levels)
            ZtZ = np.empty((m, q, q))
            Zty = np.empty((m, q))
            for a in range(q):
                Zty[:, a] = np.bincount(b.codes, weights=b.Z[:, a] * y, minlength=m)
                for c in range(a, q):
                    ZtZ[:, a, c] = ZtZ[:, c, a] = np.bincount(b.codes, weights=b.Z[:, a] * b.Z[:, c], minlength=m)
            try:
                ok = np.linalg.cond(ZtZ) < 1e8
                if ok.sum() < 2:
                    continue
                inv = np.linalg.inv(ZtZ[ok])
                coef = np.einsum("jab,jb->ja", inv, Zty[ok])
                fitted_ss = np.einsum("ja,ja->", coef, Zty[ok])
                dof = self.n - ok.sum() * q
                if dof <= 0:
                    continue
                yty = float(y @ y)
                sigma2 = max((yty - fitted_ss) / dof, 1e-12 * max(yty, 1e-300))
                sampling = sigma2 * inv.mean(axis=0)
                Sigma = np.cov(coef.T, bias=False).reshape(q, q) - sampling
                # Negative moment estimates: fall back to a tenth of the sampling
                # variance, and keep correlations safely inside (-1, 1).
                d = np.diag(Sigma).copy()
                d = np.where(d > 0, d, 0.1 * np.diag(sampling))
                R = Sigma / np.sqrt(np.outer(d, d))
                np.fill_diagonal(R, 1.0)
                evals, evecs = np.linalg.eigh(R)
                R = (evecs * np.maximum(evals, 0.05)) @ evecs.T
                R = R / np.sqrt(np.outer(np.diag(R), np.diag(R)))
                Sigma = R * np.sqrt(np.outer(d, d)) / sigma2
                T = np.linalg.cholesky(Sigma)
            except np.linalg.LinAlgError:
                continue
            rows, cols = self.tri[i]
            start[self.theta_slices[i]] = T[rows, cols]
            if i == self.primary:
                full = np.zeros((m, q))
                full[ok] = coef
                y = y - (b.Z * full[b.codes]).sum(axis=1)
        return start

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
        q1, p = self.q1, self.p
        # A_j = T1' Z1j'Z1j T1 + I for every group j, then its Cholesky factor.
        A = _tmt(T1, self.Z1tZ1)
        for a in range(q1):
            A[a, a] += 1.0
        L1 = _soa_cholesky(A)
        cu1 = _soa_lsolve(L1, _tm(T1, self.Z1ty))  # (q1, m)
        RZX1 = _soa_lsolve(L1, _tm(T1, self.Z1tX))  # (q1, p, m)
        logdet_L = 2.0 * sum(np.log(L1[a, a]).sum() for a in range(q1))

        RXtRX = self.XtX.copy()
        rhs = self.Xty.copy()
        for a in range(q1):
            RXtRX -= RZX1[a] @ RZX1[a].T
            rhs -= RZX1[a] @ cu1[a]
        cu_sq = float((cu1 * cu1).sum())
        parts = {"T1": T1, "L1": L1, "cu1": cu1, "RZX1": RZX1}

        if self.Q2:
            # With K_j = L1_j^-1 T1', the block below the first is
            # L21 = (K_j Z1j'Z2 Lambda2)_j, so the Schur complement needs only
            # sums over groups of K_j'K_j, K_j'cu1_j and K_j'RZX1_j.
            K = _soa_lsolve(L1, _tm(T1, _soa_eye(q1, self.m1)))
            U = self.U
            # Everything summed over groups, stacked so that pooling over the
            # groups' shared patterns is one sparse product per evaluation.
            rows = []
            for b in range(q1):
                rows.append(sum(K[a, b] * cu1[a] for a in range(q1))[None, :])
                rows.append(sum(K[a, b] * RZX1[a] for a in range(q1)))  # (p, m)
            pairs = [(b, c) for b in range(q1) for c in range(b, q1)]
            for b, c in pairs:
                rows.append(sum(K[a, b] * K[a, c] for a in range(q1))[None, :])
            stacked = np.concatenate(rows, axis=0)
            pooled = stacked if self.pool is None else np.asarray((self.pool.T @ stacked.T).T)
            M = self.Z2tZ2.copy()
            g2y = self.Z2ty.copy()
            g2X = self.Z2tX.copy()
            at = 0
            for b in range(q1):
                g2y -= U[b] @ pooled[at]
                g2X -= U[b] @ pooled[at + 1: at + 1 + p].T
                at += 1 + p
            for b, c in pairs:
                prod = (U[b] * pooled[at]) @ U[c].T
                M -= prod if b == c else prod + prod.T
                at += 1
            Lam2 = self._lambda2(theta)
            S = Lam2.T @ M @ Lam2 + np.eye(self.Q2)
            L22 = np.linalg.cholesky(S)
            cu2 = _tri_solve(L22, Lam2.T @ g2y)
            RZX2 = _tri_solve(L22, Lam2.T @ g2X)
            logdet_L += 2.0 * np.log(np.diag(L22)).sum()
            RXtRX -= RZX2.T @ RZX2
            rhs -= RZX2.T @ cu2
            cu_sq += float(cu2 @ cu2)
            parts.update(Lam2=Lam2, K=K, L22=L22, cu2=cu2, RZX2=RZX2)

        if p:
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
        v1 = parts["cu1"] - np.einsum("apm,p->am", parts["RZX1"], beta_star)
        out = [None] * len(self.blocks)
        if self.Q2:
            v2 = parts["cu2"] - parts["RZX2"] @ beta_star
            u2 = _tri_solve(parts["L22"].T, v2, lower=False)
            w = parts["Lam2"] @ u2
            z = [self.U[b].T @ w for b in range(self.q1)]
            if self.pattern is not None:
                z = [zb[self.pattern] for zb in z]
            K = parts["K"]
            v1 = v1 - np.stack([sum(K[a, b] * z[b] for b in range(self.q1)) for a in range(self.q1)])
            b2 = parts["Lam2"] @ u2
            start = 0
            for i in self.secondary:
                q, m = self.blocks[i].Z.shape[1], len(self.blocks[i].levels)
                out[i] = b2[start: start + q * m].reshape(m, q)
                start += q * m
        u1 = _soa_usolve(parts["L1"], v1)  # L1' u1 = v1
        out[self.primary] = (parts["T1"] @ u1).T
        return out


def _row_patterns(flat):
    """Index of each row's distinct pattern, and the number of patterns.

    Rows are hashed by a random projection and the grouping is then verified
    exactly, which is much faster than a lexicographic sort of 18,000 rows.
    """
    m = flat.shape[0]
    rng = np.random.default_rng(12345)
    key = flat @ rng.standard_normal(flat.shape[1])
    _, first, pattern = np.unique(key, return_index=True, return_inverse=True)
    pattern = pattern.ravel()
    if np.array_equal(flat, flat[first][pattern]):
        return pattern, len(first)
    return np.arange(m), m


def _tm(T, M):
    """T' M_j for every group j; M is (q, ..., m), T is q x q."""
    q = T.shape[0]
    out = np.zeros(M.shape)
    for a in range(q):
        for b in range(a, q):  # T is lower triangular: T[b, a] = 0 for b < a
            if T[b, a] != 0.0:
                out[a] += T[b, a] * M[b]
    return out


def _soa_eye(q, m):
    out = np.zeros((q, q, m))
    for a in range(q):
        out[a, a] = 1.0
    return out


def _tmt(T, M):
    """T' M_j T for every group j; M is (q, q, m)."""
    W = _tm(T, M)  # T' M
    q = T.shape[0]
    out = np.zeros(M.shape)
    for c in range(q):
        for d in range(c, q):
            if T[d, c] != 0.0:
                out[:, c] += T[d, c] * W[:, d]
    return out


def _soa_cholesky(A):
    """Cholesky factor of every group's q x q block (A is (q, q, m))."""
    q = A.shape[0]
    L = np.zeros(A.shape)
    for j in range(q):
        s = A[j, j] - sum(L[j, k] ** 2 for k in range(j))
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, q):
            L[i, j] = (A[i, j] - sum(L[i, k] * L[j, k] for k in range(j))) / L[j, j]
    return L


def _soa_lsolve(L, B):
    """Solve L_j X_j = B_j per group; B is (q, ..., m), L is (q, q, m)."""
    q = L.shape[0]
    X = np.empty(B.shape)
    for i in range(q):
        acc = B[i].copy()
        for k in range(i):
            acc -= L[i, k] * X[k]
        X[i] = acc / L[i, i]
    return X


def _soa_usolve(L, B):
    """Solve L_j' X_j = B_j per group (upper-triangular transpose)."""
    q = L.shape[0]
    X = np.empty(B.shape)
    for i in reversed(range(q)):
        acc = B[i].copy()
        for k in range(i + 1, q):
            acc -= L[k, i] * X[k]
        X[i] = acc / L[i, i]
    return X


def _tri_solve(L, b, lower=True):
    # LAPACK directly: the scipy.linalg wrapper costs more than the solve at p = 6.
    x, info = scipy.linalg.lapack.dtrtrs(L, b, lower=int(lower))
    if info != 0:
        raise np.linalg.LinAlgError("singular triangular factor")
    return x


def optimize_theta(problem, start=None):
    """Minimise the profiled deviance over theta.

    One variance parameter: a coarse scan, then a bounded Brent search, with
    the boundary (theta = 0, a singular fit) checked explicitly.  Several:
    COBYQA, a derivative-free trust-region method with quadratic models and
    bounds (the successor of Powell's BOBYQA, which lme4 uses), in
    coordinates scaled by the moment-based start so that parameters of very
    different sizes (an intercept SD of 10 next to a slope SD of 0.3) are
    treated alike.  Finite-difference gradient methods were tried and stall
    at spurious boundary points on the seed-001 design.

    Returns
    -------
    scipy.optimize.OptimizeResult
        With ``x`` (theta), ``fun`` (deviance), ``nfev`` and ``success``.
    """
    k = problem.n_theta
    f = problem.deviance
    if start is None:
        start = problem.start
    start = np.asarray(start, dtype=float)
    if k == 1:
        grid = np.unique(np.concatenate([[0.0], np.logspace(-3, 2, 11), [start[0]]]))
        vals = np.array([f([t]) for t in grid])
        i = int(np.argmin(vals))
        lo = grid[max(i - 1, 0)]
        hi = grid[i + 1] if i + 1 < len(grid) else grid[-1] * 100
        res = scipy.optimize.minimize_scalar(lambda t: f([t]), bounds=(lo, hi), method="bounded",
                                             options={"xatol": 1e-10})
        x, fun = np.array([res.x]), float(res.fun)
        if vals[0] <= fun:
            x, fun = np.array([0.0]), float(vals[0])
        return scipy.optimize.OptimizeResult(x=x, fun=fun, nfev=res.nfev + len(grid),
                                             success=bool(res.success), message="bounded Brent search")
    scale = np.maximum(np.abs(start), 0.05)
    lower = problem.lower / scale
    bounds = scipy.optimize.Bounds(lower, np.full(k, np.inf))
    res = scipy.optimize.minimize(lambda z: f(z * scale), start / scale, method="COBYQA", bounds=bounds,
                                  options={"initial_tr_radius": 0.1, "final_tr_radius": 1e-8,
                                           "maxfev": 200 * (k + 1)})
    x = res.x * scale
    fun = float(res.fun)
    # Snap variances that ended next to zero onto the boundary if that is no worse.
    near = np.isfinite(problem.lower) & (np.abs(x) < 1e-6)
    if near.any():
        snapped = np.where(near, 0.0, x)
        fs = f(snapped)
        if fs <= fun + 1e-10:
            x, fun = snapped, fs
    return scipy.optimize.OptimizeResult(x=x, fun=fun, nfev=res.nfev, success=bool(res.success),
                                         message=str(res.message))
