"""The profiled (RE)ML criterion of a linear mixed model, and its optimisation.

This follows lme4 (Bates, Maechler, Bolker & Walker 2015, JSS 67(1), sec. 3).
With relative covariance factor Lambda(theta), the random effects are
b = Lambda u, u ~ N(0, sigma^2 I).  For a given theta, the Cholesky factor L
of Lambda' Z'Z Lambda + I and a few triangular solves give the penalised
residual sum of squares r^2(theta), the fixed effects and the
log-determinants, so sigma and beta are profiled out and only theta is
optimised (by BOBYQA, as lme4 and MixedModels.jl do).

All data-size work happens once, in :class:`LmmProblem.__init__`.  Each
evaluation then works on cross-products only, with one of two layouts:

- *dense*: when all random terms together have few effects (the classic
  data sets, the replicate experiments), one Cholesky of the whole
  (q + p + 1) system per evaluation, as MixedModels.jl does;
- *blocked*: the term with the most effects (e.g. 18,015 probesets, or
  2,972 students) is block diagonal in Z'Z and eliminated group by group;
  the other terms (e.g. 23 arrays, or 1,128 lecturers) through a dense Schur
  complement built from a sparse Z1'Z2, so that nothing grows with the rows.

Covariates are centred and scaled inside the engine where that leaves the
model unchanged (fixed effects always; random-effect columns of a term with a
full covariance matrix), which keeps the Cholesky factors well conditioned for
e.g. calendar years or values near 1e12; everything the engine reports is on
the user's scale.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Optional

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .groupwise import (
    column_transform,
    lower_factor,
    lower_tri_indices,
    row_patterns,
    schur_map,
    soa_cholesky,
    soa_eye,
    soa_lsolve,
    soa_usolve,
    tm,
    tmt,
    tri_inv,
    tri_solve,
)
from .grouping import group_sums, sparse_Z
from .optimize import OptimResult, optimize_theta

__all__ = ["LmmProblem", "Solution", "OptimResult", "optimize_theta", "single_threaded_blas"]

_LOG2PI = np.log(2 * np.pi)
# Beyond this many random effects in all terms together the dense layout
# (cost (q + p)^3 per evaluation) loses to the blocked one.  Measured by CPU
# time per fit: even at about 100 effects for one slope term ((x|g), 50 groups:
# 12.9 vs 12.7 ms), at about 150 with a small crossed term; at 400 the dense
# layout took 11x (one term) to 10x (crossed) the blocked one's time.
_DENSE_Q = 120
# Cap on the dense Schur complement of the terms other than the largest: its
# Cholesky costs Q2^3 / 3 per evaluation and ~3 copies of Q2^2 doubles must
# fit in a Binder session's 2 GB (5,000 -> about 600 MB).
_MAX_DENSE = 5000


class ZeroResidual(np.linalg.LinAlgError):
    """The response lies in the span of the fixed and random columns (r^2 = 0)."""


@dataclass(frozen=True)
class DenseFactors:
    """Factors of the dense layout needed for the conditional modes."""

    Lam: np.ndarray  # (Q, Q) relative covariance factor of all terms
    L: np.ndarray  # (Q, Q) lower Cholesky factor of Lambda'Z'Z Lambda + I
    cu: np.ndarray  # (Q,)
    RZX: np.ndarray  # (Q, p)


@dataclass(frozen=True)
class BlockedFactors:
    """Factors of the blocked layout needed for the conditional modes."""

    T1: np.ndarray  # (q1, q1) factor of the largest term
    L1: np.ndarray  # (q1, q1, m1) per-group Cholesky factors
    cu1: np.ndarray  # (q1, m1)
    RZX1: np.ndarray  # (q1, p, m1)
    K: Optional[np.ndarray] = None  # (q1, q1, m1): L1_j^-1 T1'
    Lam2: Optional[sp.spmatrix] = None  # factor of the other terms
    L22: Optional[np.ndarray] = None
    cu2: Optional[np.ndarray] = None
    RZX2: Optional[np.ndarray] = None


@dataclass(frozen=True)
class Solution:
    """Everything the criterion computes at one theta (``theta`` in the engine's internal coordinates).

    ``beta`` and ``vcov_unscaled`` are on the user's scale: the covariance of
    the fixed effects is ``sigma**2 * vcov_unscaled``.  The deviance's pieces
    (log-determinants, r^2) are computed at once; ``beta``, ``beta_star``,
    ``factors`` and ``vcov_unscaled`` on first use, as most solutions (the
    Satterthwaite differences) need only the pieces.
    """

    theta: np.ndarray
    logdet_L: float  # log |L|^2
    logdet_RX: float  # log |RX|^2
    r2: float  # penalised residual sum of squares
    RX: np.ndarray = field(repr=False, compare=False)  # lower factor of the internal X'V^-1X / sigma^2
    Ax: np.ndarray = field(repr=False, compare=False)  # internal X = user's X @ Ax
    compute_rest: object = field(repr=False, compare=False)  # () -> (beta, beta_star, factors)

    @functools.cached_property
    def _parts(self):
        return self.compute_rest()

    @property
    def beta(self):
        """Fixed effects on the user's scale."""
        return self._parts[0]

    @property
    def beta_star(self):
        """Internal correction to the OLS estimate."""
        return self._parts[1]

    @property
    def factors(self):
        """:class:`DenseFactors` or :class:`BlockedFactors` (for the conditional modes)."""
        return self._parts[2]

    @functools.cached_property
    def vcov_unscaled(self):
        """(RX'RX)^-1 = (X'V^-1X)^-1 / sigma^2 on the user's scale."""
        if not self.RX.size:
            return np.zeros((0, 0))
        RXinv = tri_inv(self.RX)
        vcov_int = RXinv.T @ RXinv
        return self.Ax @ vcov_int @ self.Ax.T


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


class LmmProblem:
    """Precomputed cross-products and the profiled deviance for one model.

    Parameters
    ----------
    X : ndarray (n, p)
        Fixed-effects matrix (full column rank).
    y : ndarray (n,)
        Response.
    blocks : list of lmmedu.stats.design.RandomBlock
        Random terms (each needs ``Z``, ``codes`` and ``levels``).
    reml : bool
        Restricted (True) or full maximum likelihood.
    x_cells : lmmedu.stats.design.Cells, optional
        ``X`` as few distinct rows (a design of factors only); with the same for every
        term's Z (a block's ``cells``), the dense layout forms its cross-products from
        counts per group and cell instead of from the rows.

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

    def __init__(self, X, y, blocks, reml=True, x_cells=None):
        if X is None:  # given as its distinct rows only
            self.n, self.p = len(x_cells.cell), x_cells.rows.shape[1]
        else:
            X = np.asarray(X, dtype=float)
            self.n, self.p = X.shape
        y = np.asarray(y, dtype=float)
        self.reml = bool(reml)
        if not blocks:
            raise ValueError("The model has no random-effects term; use lmmedu.fit_lm for an ordinary linear model.")
        if self.n - self.p <= 0:
            raise ValueError(
                f"The model has {self.p} fixed-effect columns but only {self.n} observations; it needs more "
                "observations than fixed effects."
            )
        xc = x_cells if self.p else None
        # Internal coordinates: X_int = X Ax (centred, scaled columns).
        if not self.p:
            self.Ax = np.eye(0)
        elif xc is not None:
            self.Ax = column_transform(xc.rows, full_cov=True, counts=xc.counts)
        else:
            self.Ax = column_transform(X, full_cov=True)
        self.logdet_Ax = 2.0 * float(np.linalg.slogdet(self.Ax)[1]) if self.p else 0.0
        Xi = X @ self.Ax if X is not None and self.p and not np.array_equal(self.Ax, np.eye(self.p)) else X
        self.user_blocks = list(blocks)
        self.block_A = []
        self.blocks = []
        for b in blocks:
            q = b.Z.shape[1]
            full = q > 1 and not getattr(getattr(b, "term", None), "uncorrelated", False)
            cells = getattr(b, "cells", None)
            if cells is not None:
                A = column_transform(cells.rows, full_cov=full, counts=cells.counts)
            else:
                A = column_transform(np.asarray(b.Z, dtype=float), full_cov=full)
            self.block_A.append(A)
            scaled = not np.array_equal(A, np.eye(q))
            Zi = b.Z @ A if scaled else np.asarray(b.Z, dtype=float)
            if cells is not None:
                cells = SimpleNamespace(rows=cells.rows @ A if scaled else cells.rows, cell=cells.cell)
            self.blocks.append(SimpleNamespace(Z=Zi, codes=np.asarray(b.codes), levels=b.levels, cells=cells))
        self.x_cells = None
        if xc is not None:
            identity = np.array_equal(self.Ax, np.eye(self.p))
            self.x_cells = SimpleNamespace(rows=xc.rows if identity else xc.rows @ self.Ax, cell=xc.cell)
        self._Xi = Xi

        # Work with the OLS residual: y'y minus the fitted part then cancels far
        # less, and beta is found as a small correction to the OLS estimate.
        if self.p:
            if xc is not None:
                # Sums over the rows as sums over X's few distinct rows.
                rows, cell, nx = self.x_cells.rows, xc.cell, len(xc.rows)
                self.XtX = (rows * xc.counts[:, None]).T @ rows
                Xty = rows.T @ np.bincount(cell, weights=y, minlength=nx)
            else:
                self.XtX = Xi.T @ Xi
                Xty = Xi.T @ y
            # LAPACK directly: scipy.linalg.solve's checks cost more than the solve at p = 6.
            _, self.beta_ols, info = scipy.linalg.lapack.dposv(self.XtX, Xty)
            if info != 0:
                self.beta_ols = scipy.linalg.solve(self.XtX, Xty, assume_a="pos")
            if xc is not None:
                ystar = y - (rows @ self.beta_ols)[cell]
                self.Xty = rows.T @ np.bincount(cell, weights=ystar, minlength=nx)
            else:
                ystar = y - Xi @ self.beta_ols
                self.Xty = Xi.T @ ystar
        else:
            self.XtX = np.zeros((0, 0))
            self.beta_ols = np.zeros(0)
            ystar = y
            self.Xty = np.zeros(0)
        self.yty = float(ystar @ ystar)
        self.y_norm2 = float(y @ y)

        # Theta layout: per block, lower triangle of a q x q factor.
        self.theta_slices, self.tri, start = [], [], 0
        for b in self.blocks:
            rows, cols = lower_tri_indices(b.Z.shape[1])
            self.tri.append((rows, cols))
            self.theta_slices.append(slice(start, start + len(rows)))
            start += len(rows)
        self.n_theta = start
        self.lower = np.concatenate([np.where(r == c, 0.0, -np.inf) for r, c in self.tri])

        self.Q = sum(b.Z.shape[1] * len(b.levels) for b in self.blocks)
        sizes = [b.Z.shape[1] * len(b.levels) for b in self.blocks]
        self.primary = int(np.argmax(sizes))
        self.secondary = [i for i in range(len(self.blocks)) if i != self.primary]
        self.layout = "dense" if self.Q <= _DENSE_Q else "blocked"
        if self.layout == "dense":
            self._prepare_dense(ystar)
        else:
            self._prepare_blocked(self.X_int, ystar)
        self.rss_joint = None  # set by the dense start values
        self.joint_rank_clear = False
        self.start = self._start_values(ystar)
        self.aliased = self._find_aliased()

    # ------------------------------------------------------------------
    def _sparse_Z(self, which):
        """Columns of the given terms side by side, as CSR (see :func:`.grouping.sparse_Z`)."""
        return sparse_Z([self.blocks[k] for k in which], self.n)

    def _lambda_pattern(self, which):
        """Positions of theta entries in the block-diagonal Lambda of the given terms."""
        rr, cc, tt, off = [], [], [], 0
        for i in which:
            b = self.blocks[i]
            q, m = b.Z.shape[1], len(b.levels)
            rows, cols = self.tri[i]
            idx = np.arange(self.theta_slices[i].start, self.theta_slices[i].stop)
            base = off + np.arange(m)[:, None] * q
            rr.append((base + rows[None, :]).ravel())
            cc.append((base + cols[None, :]).ravel())
            tt.append(np.tile(idx, m))
            off += q * m
        return np.concatenate(rr), np.concatenate(cc), np.concatenate(tt)

    @property
    def X_int(self):
        """The fixed-effects matrix in internal coordinates (from X's distinct rows when only those were given)."""
        if self._Xi is None and self.p:
            self._Xi = self.x_cells.rows[self.x_cells.cell]
        return self._Xi

    def _prepare_dense(self, y):
        Q, p = self.Q, self.p
        W = np.zeros((Q + p + 1, Q + p + 1))
        offsets = np.cumsum([0] + [b.Z.shape[1] * len(b.levels) for b in self.blocks])
        # Z'[Z X y] from per-group sums of the rows (no n x Q matrix): for each column a of a
        # term, the sums of z_a [Z_term, X, y] over each group give its rows of W at once.
        for i, b in enumerate(self.blocks):
            q, m = b.Z.shape[1], len(b.levels)
            base = offsets[i] + np.arange(m) * q
            by_cell = self._cell_sums(b, y)
            if by_cell is None:
                # Column-major: the group sums then run down contiguous columns (2x faster).
                wide = np.empty((self.n, q + p + 1), order="F")
                wide[:, :q] = b.Z
                wide[:, q:q + p] = self.X_int
                wide[:, q + p] = y
            for a in range(q):
                z = b.Z[:, a]
                if by_cell is not None:
                    sums = by_cell[a]
                else:
                    sums = group_sums(b.codes, m, wide if np.all(z == 1.0) else z[:, None] * wide)
                W[base + a, Q:] = sums[:, q:]
                for c in range(q):
                    W[base + a, base + c] = sums[:, c]
                # Crossed or nested terms: Z_i'Z_k from the joint codes.
                for k in range(i + 1, len(self.blocks)):
                    b2 = self.blocks[k]
                    q2, m2 = b2.Z.shape[1], len(b2.levels)
                    joint = b.codes * m2 + b2.codes
                    for c in range(q2):
                        cross = np.bincount(joint, weights=z * b2.Z[:, c], minlength=m * m2).reshape(m, m2)
                        W[np.ix_(base + a, offsets[k] + np.arange(m2) * q2 + c)] = cross
        W[Q:Q + p, Q:Q + p] = self.XtX
        W[Q:Q + p, Q + p] = self.Xty
        W[Q + p, Q + p] = self.yty
        self.W = np.triu(W) + np.triu(W, 1).T
        # Kept for recomputing r^2 from the residual itself when it is a tiny
        # difference of large sums (residual SD 1e-5 of the group SD and below).
        self.y_int = y
        self._Z_all = None
        self.lam_rows, self.lam_cols, self.lam_theta = self._lambda_pattern(range(len(self.blocks)))
        self.diag_Q = np.arange(Q) * (Q + p + 2)  # flat indices of M's first Q diagonal entries
        # Terms of one column each: Lambda is diagonal and scales rows and columns.
        self.lam_diagonal = bool(np.array_equal(self.lam_rows, self.lam_cols)
                                 and np.array_equal(self.lam_rows, np.arange(Q)))
        self.one_term = None
        if len(self.blocks) == 1 and not self.lam_diagonal:
            q, m = self.blocks[0].Z.shape[1], len(self.blocks[0].levels)
            first = np.arange(m)[:, None, None] * q
            flat = (first + np.arange(q)[None, :, None]) * (Q + p + 1) + first + np.arange(q)[None, None, :]
            self.one_term = (flat, self.W.flat[flat], self.W[:Q, Q:].reshape(m, q, p + 1))

    def _cell_sums(self, b, y):
        """Per-group sums of z_a [Z, X, y] for every column a of a term, from counts per cell.

        When X and the term's Z are each a few distinct rows, these sums need only the
        number of rows of every (group, Z row, X row) and the sum of y for every
        (group, Z row): a (q, m, q + p + 1) array, or None when that does not apply.
        """
        xc, zc = self.x_cells, b.cells
        if xc is None or zc is None:
            return None
        m, nz, nx = len(b.levels), len(zc.rows), len(xc.rows)
        if m * nz * nx > self.n:
            return None
        group_z = b.codes * nz + zc.cell
        N = np.bincount(group_z * nx + xc.cell, minlength=m * nz * nx).reshape(m, nz, nx).astype(float)
        Sy = np.bincount(group_z, weights=y, minlength=m * nz).reshape(m, nz)
        Zr, Xr = zc.rows, xc.rows
        ZZ = np.einsum("jz,za,zc->ajc", N.sum(axis=2), Zr, Zr)
        ZX = np.einsum("jzx,za,xk->ajk", N, Zr, Xr)
        Zy = np.einsum("jz,za->aj", Sy, Zr)
        return np.concatenate([ZZ, ZX, Zy[:, :, None]], axis=2)

    @property
    def Z_all(self):
        """All random columns as a sparse n x Q matrix (dense layout; built on first use)."""
        if self._Z_all is None:
            self._Z_all = self._sparse_Z(range(len(self.blocks)))
        return self._Z_all

    def _prepare_blocked(self, X, y):
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

        self.Q2 = sum(self.blocks[i].Z.shape[1] * len(self.blocks[i].levels) for i in self.secondary)
        if self.Q2 > _MAX_DENSE:
            raise ValueError(
                f"The random terms other than the largest have {self.Q2} random effects in total; lmmedu "
                f"eliminates them through a dense matrix and handles at most {_MAX_DENSE} there (memory "
                "and time grow with its square and cube); fit such a model with lme4 or MixedModels.jl."
            )
        self.pool = None
        self.pattern = None
        if self.Q2:
            Z2 = self._sparse_Z(self.secondary)
            Z1s = self._sparse_Z([self.primary])
            self.Z2tZ2 = (Z2.T @ Z2).toarray()
            self.Z2tX = np.asarray(Z2.T @ X)
            self.Z2ty = np.asarray(Z2.T @ y)
            r2, c2, t2 = self._lambda_pattern(self.secondary)
            self.lam2 = (r2, c2, t2)
            self.lam2_diagonal = bool(np.array_equal(r2, c2) and np.array_equal(r2, np.arange(self.Q2)))
            Z1tZ2 = (Z1s.T @ Z2).tocsr()  # (m1*q1, Q2), group-major rows
            # Groups of the large factor often share one pattern of Z1j'Z2 (every
            # probeset measured on the same arrays): pool them, so each evaluation
            # works on the distinct patterns rather than on all groups.
            pattern, npat = (None, m1)
            # A sparse random projection of each group's rows first: when most
            # groups differ (crossed factors), skip the dense copy altogether.
            key = np.asarray(Z1tZ2 @ np.random.default_rng(7).standard_normal(self.Q2)).reshape(m1, q1)
            few = np.unique(key @ np.arange(1.0, q1 + 1.0)).size <= m1 // 2
            if few and Z1tZ2.nnz <= 5e7 and m1 * q1 * self.Q2 <= 5e7:
                dense = Z1tZ2.toarray().reshape(m1, q1 * self.Q2)
                pattern, npat = row_patterns(dense)
            if npat <= m1 // 2:
                first = np.zeros(npat, dtype=np.int64)
                first[pattern[::-1]] = np.arange(m1)[::-1]  # a representative group per pattern
                self.U = np.ascontiguousarray(dense[first].T.reshape(q1, self.Q2, npat))
                self.pattern = pattern
                self.pool = sp.csr_matrix((np.ones(m1), (np.arange(m1), pattern)), shape=(m1, npat))
            else:
                # Crossed factors (students x lecturers): Z1'Z2 is sparse; keep it so.
                self.U_sparse = [Z1tZ2[a::q1].tocsr() for a in range(q1)]  # (m1, Q2) per column a
                self.U_sparse_T = [u.T.tocsr() for u in self.U_sparse]
                # sum_j w_j U_j' U_j for every evaluation's weights w: the sparsity
                # pattern is fixed, so map w to the nonzeros once.  Groups with equal
                # Z1j'Z1j (InstEval: students with equally many ratings) get equal
                # weights, so the map is summed over such groups once.
                _, self.class_rep, classes = np.unique(self.Z1tZ1.reshape(q1 * q1, m1).T, axis=0,
                                                       return_index=True, return_inverse=True)
                self.schur_cells, self.schur_base, self.schur_P = schur_map(
                    self.U_sparse, classes.ravel(), self.class_rep.size, self.Z2tZ2)
                # For a diagonal Lambda2 each cell is scaled by theta_a theta_b: the index
                # of (a, b) in the outer product of theta with itself, per cell.
                rows, cols = np.divmod(self.schur_cells, self.Q2)
                t2 = self.lam2[2]  # theta index of each diagonal entry, when diagonal
                self.schur_tt = t2[rows] * self.n_theta + t2[cols] if self.lam2_diagonal else None

    def _start_values(self, y):
        """Moment-based starting theta.

        Least-squares coefficients b_j of each group have covariance
        Sigma + sigma^2 (Z_j'Z_j)^-1, so their spread minus the sampling part
        estimates Sigma.  Starting near the optimum saves evaluations and
        keeps a derivative-free search from stopping on the flat plateau
        that a variance ratio of 1e5 produces.
        """
        if self.layout == "dense":
            return self._start_dense()
        return self._start_blocked(y)

    def _moment_theta(self, i, coef, sampling, sigma2, start):
        """Write the factor of Sigma = cov(coef) - sampling (scaled by sigma2) into ``start``."""
        q = coef.shape[1]
        Sigma = np.cov(coef.T, bias=False).reshape(q, q) - sampling
        # Negative moment estimates: fall back to a tenth of the sampling
        # variance, and keep correlations safely inside (-1, 1).
        d = np.diag(Sigma).copy()
        d = np.where(d > 0, d, 0.1 * np.maximum(np.diag(sampling), 1e-12 * sigma2))
        R = Sigma / np.sqrt(np.outer(d, d))
        np.fill_diagonal(R, 1.0)
        evals, evecs = np.linalg.eigh(R)
        R = (evecs * np.maximum(evals, 0.05)) @ evecs.T
        R = R / np.sqrt(np.outer(np.diag(R), np.diag(R)))
        T = np.linalg.cholesky(R * np.sqrt(np.outer(d, d)) / sigma2)
        if np.all(np.isfinite(T)):
            rows, cols = self.tri[i]
            start[self.theta_slices[i]] = T[rows, cols]

    def _start_dense(self):
        """All terms at once: the joint least-squares fit of y on [Z, X] (minimum norm).

        Its residual gives sigma^2 free of the random effects, and its
        coefficients the per-group effects free of the fixed ones (fitting
        the OLS residual per group instead lets a contaminated fixed slope
        inflate sigma^2 by orders of magnitude).
        """
        start = np.where(np.isfinite(self.lower), 1.0, 0.0)
        Qp = self.Q + self.p
        M0, r = self.W[:Qp, :Qp], self.W[:Qp, Qp]
        scale = np.sqrt(np.diag(M0))
        scale[scale == 0] = 1.0
        evals, evecs = np.linalg.eigh(M0 / np.outer(scale, scale))
        keep = evals > 1e-10 * evals[-1]
        pinv = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T / np.outer(scale, scale)
        coef_all = pinv @ r
        dof = self.n - int(keep.sum())
        if dof <= 0:
            return start
        rss = max(self.yty - float(r @ coef_all), 0.0)
        self.rss_joint = rss
        # Dropped directions are exact null directions (e.g. the group indicators summing to the
        # intercept) unless some eigenvalue sits between rounding noise and the cut-off.
        self.joint_rank_clear = not bool(np.any((evals > 1e-14 * evals[-1]) & (evals <= 1e-8 * evals[-1])))
        sigma2 = max(rss / dof, 1e-12 * self.yty / max(self.n, 1), 1e-300)
        off = 0
        for i, b in enumerate(self.blocks):
            q, m = b.Z.shape[1], len(b.levels)
            idx = off + np.arange(m)[:, None] * q + np.arange(q)[None, :]
            off += q * m
            if m < 2:
                continue
            coef = coef_all[idx]
            sampling = sigma2 * pinv[idx[:, :, None], idx[:, None, :]].mean(axis=0)
            try:
                self._moment_theta(i, coef, sampling, sigma2, start)
            except np.linalg.LinAlgError:
                continue
        return start

    def _start_blocked(self, y):
        """One term at a time, the largest first, from per-group fits of the OLS residual."""
        start = np.where(np.isfinite(self.lower), 1.0, 0.0)
        y = y.copy()
        # The others then see the largest term's per-group fits removed, so
        # that e.g. an array effect is not swamped by probeset differences.
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
                with np.errstate(all="ignore"):
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
                self._moment_theta(i, coef, sigma2 * inv.mean(axis=0), sigma2, start)
            except np.linalg.LinAlgError:
                continue
            if i == self.primary and self.secondary:
                full = np.zeros((m, q))
                full[ok] = coef
                y = y - (b.Z * full[b.codes]).sum(axis=1)
        return start

    # ------------------------------------------------------------------
    def factor(self, theta, i):
        """Lower-triangular relative covariance factor T of block i (internal coordinates)."""
        q = self.blocks[i].Z.shape[1]
        T = np.zeros((q, q))
        rows, cols = self.tri[i]
        T[rows, cols] = theta[self.theta_slices[i]]
        return T

    def user_factor(self, theta, i):
        """T of block i on the user's scale: Sigma_i / sigma^2 = T T'."""
        T = self.factor(np.asarray(theta, dtype=float), i)
        A = self.block_A[i]
        if np.array_equal(A, np.eye(len(A))):
            return T
        return lower_factor(A @ T)

    def user_theta(self, theta):
        """lme4's theta on the user's scale (lower triangles, column-major)."""
        out = np.empty(self.n_theta)
        for i in range(len(self.blocks)):
            rows, cols = self.tri[i]
            out[self.theta_slices[i]] = self.user_factor(theta, i)[rows, cols]
        return out

    def solve(self, theta):
        """Factor the system at ``theta``; returns a :class:`Solution`."""
        theta = np.asarray(theta, dtype=float)
        if self.layout == "dense":
            return self._solve_dense(theta)
        return self._solve_blocked(theta)

    def _finish(self, theta, logdet_L, RXtRX, rhs, cu_sq, factors):
        if self.p:
            RX, info = scipy.linalg.lapack.dpotrf(RXtRX, lower=1, clean=1)
            if info != 0:
                raise np.linalg.LinAlgError("RX'RX not positive definite")
            return self._finish_factored(theta, logdet_L, RX, tri_solve(RX, rhs), cu_sq, factors)
        return self._finish_factored(theta, logdet_L, np.zeros((0, 0)), np.zeros(0), cu_sq, factors)

    def _finish_factored(self, theta, logdet_L, RX, cbeta, cu_sq, factors, r2=None):
        """The :class:`Solution`; ``factors`` may be a callable that builds them on first use."""
        # On the user's X: X'V^-1X = Ax^-T (internal) Ax^-1 (REML depends on the scale of X).
        logdet_RX = 2.0 * np.log(np.diag(RX)).sum() - self.logdet_Ax if self.p else 0.0
        if r2 is None:
            r2 = self.yty - cu_sq - float(cbeta @ cbeta)

        def rest():
            beta, beta_star = self._beta(RX, cbeta)
            return beta, beta_star, factors() if callable(factors) else factors

        return Solution(theta, float(logdet_L), float(logdet_RX), max(float(r2), 1e-300), RX, self.Ax, rest)

    def _beta(self, RX, cbeta):
        """(beta on the user's scale, beta_star) from the factor RX and RX beta_star = cbeta."""
        if not self.p:
            return np.zeros(0), np.zeros(0)
        beta_star = tri_solve(RX.T, cbeta, lower=False)
        return self.Ax @ (self.beta_ols + beta_star), beta_star

    def _factor_dense(self, theta, clean):
        """The upper Cholesky factor C of the whole system at ``theta`` (M = C'C)."""
        Q, p = self.Q, self.p
        if self.lam_diagonal:
            # Lambda scales rows and columns: the same products as the dense ones, without them.
            s = np.ones(Q + p + 1)
            s[:Q] = theta[self.lam_theta]
            M = self.W * s[:, None]
            M *= s[None, :]
        elif self.one_term is not None:
            # One term: Z'Z is block diagonal, so M's first Q rows are T' B_j T and T' (Z_j'[X y])
            # per group j (batched q x q products instead of two Q x Q ones).
            flat, blocks, rest = self.one_term
            T = self.factor(theta, 0)
            M = self.W.copy()
            M.flat[flat] = T.T @ blocks @ T
            M[:Q, Q:] = (T.T @ rest).reshape(Q, p + 1)
        else:
            # Only the upper triangle enters dpotrf (lower=0), so the rows of Lambda'W suffice.
            # (Products by blocks of Lambda were measured slower at these sizes.)
            Lam = self._lambda_dense(theta)
            M = self.W.copy()
            top = Lam.T @ self.W[:Q]
            M[:Q, Q:] = top[:, Q:]
            M[:Q, :Q] = top[:, :Q] @ Lam
        M.flat[self.diag_Q] += 1.0
        C, info = scipy.linalg.lapack.dpotrf(M, lower=0, clean=clean, overwrite_a=1)
        if info == Q + p + 1:
            raise ZeroResidual("the response is a combination of the model's columns")
        if info != 0:
            raise np.linalg.LinAlgError("not positive definite")
        return C

    def _lambda_dense(self, theta):
        Lam = np.zeros((self.Q, self.Q))
        Lam[self.lam_rows, self.lam_cols] = theta[self.lam_theta]
        return Lam

    def _deviance_dense(self, theta):
        """Profiled deviance from the diagonal of C alone: what the optimiser needs at each step.

        Where r^2 lost its digits (see :meth:`_solve_dense`) the full solution is used.
        """
        Q, p = self.Q, self.p
        C = self._factor_dense(theta, clean=0)
        d = C.diagonal()
        r2 = d[Q + p] ** 2
        if p and (r2 < 1e-6 * self.yty or self._schur_lost_digits(d[Q:Q + p])):
            return self.profiled_deviance(self._solve_dense(theta))
        logs = np.log(d[:Q + p])
        return self._criterion(2.0 * logs[:Q].sum(), 2.0 * logs[Q:].sum() - self.logdet_Ax, max(r2, 1e-300))

    def _solve_dense(self, theta):
        Q, p = self.Q, self.p
        C = self._factor_dense(theta, clean=1)
        RX = C[Q:Q + p, Q:Q + p].T
        cbeta = C[Q:Q + p, Q + p]
        r2 = C[Q + p, Q + p] ** 2
        logdet_L = 2.0 * np.log(np.diag(C[:Q, :Q])).sum()

        def factors():
            # L = C[:Q, :Q]', L RZX = Lambda'Z'X, L cu = Lambda'Z'y.
            return DenseFactors(self._lambda_dense(theta), C[:Q, :Q].T, C[:Q, Q + p], C[:Q, Q:Q + p])

        # Both recoveries read the rows; a problem rebuilt from cell sums (bootstrap refits) has none.
        if p and self.y_int is not None and self._schur_lost_digits(np.diag(RX)):
            f = factors()
            RX, cbeta, r2 = self._schur_from_residuals(f)
            factors = f
        if r2 < 1e-6 * self.yty and p and self.y_int is not None:
            # y'y - |cu|^2 - |cbeta|^2 lost most digits: use |y - X beta - Z b|^2 + |u|^2.
            f = factors() if callable(factors) else factors
            beta_star = tri_solve(RX.T, cbeta, lower=False)
            u = tri_solve(f.L.T, f.cu - f.RZX @ beta_star, lower=False)
            e = self.y_int - self.X_int @ beta_star - self.Z_all @ (f.Lam @ u)
            r2 = float(e @ e + u @ u)
            factors = f
        return self._finish_factored(theta, logdet_L, RX, cbeta, 0.0, factors, r2=r2)

    def _schur_lost_digits(self, rx_diagonal):
        """Whether X'V^-1X = X'X - RZX'RZX kept fewer than ~10 of its 16 digits (pivots of RX).

        That happens when X's columns lie almost in Z's and theta is large (a between-group
        column, group SD 1e5 times the residual SD): X'V^-1X is then ~1e-11 of X'X, the
        subtraction leaves its rounding error of ~1e-16 X'X, and the REML deviance wobbles
        by 1e-4 -- as much as it changes near its flat optimum, so where the optimiser
        stopped depended on the BLAS kernel's rounding.
        """
        return bool(np.any(np.asarray(rx_diagonal) ** 2 < 1e-6 * np.diag(self.XtX)))

    def _schur_from_residuals(self, f):
        """RX, cbeta and r^2 from penalised residuals instead of a difference of cross-products.

        With [W w] = M^-1 Lambda'Z'[X y] (M = L L') and E = [X y] - Z Lambda [W w],
        [X y]'V^-1[X y] = E'E + [W w]'[W w] (both terms non-negative: no cancellation);
        its Cholesky factor holds RX, cbeta and r (as the factor of the whole system does).
        """
        p = self.p
        Ww = tri_solve(f.L.T, np.column_stack([f.RZX, f.cu]), lower=False)
        E = np.column_stack([self.X_int, self.y_int]) - self.Z_all @ (f.Lam @ Ww)
        G = E.T @ E + Ww.T @ Ww
        R, info = scipy.linalg.lapack.dpotrf(G, lower=0, clean=1)
        if info == p + 1:
            raise ZeroResidual("the response is a combination of the model's columns")
        if info != 0:
            raise np.linalg.LinAlgError("X'V^-1X not positive definite")
        return R[:p, :p].T.copy(), R[:p, p].copy(), float(R[p, p] ** 2)

    def _solve_blocked(self, theta):
        T1 = self.factor(theta, self.primary)
        q1, p = self.q1, self.p
        # A_j = T1' Z1j'Z1j T1 + I for every group j, then its Cholesky factor.
        A = tmt(T1, self.Z1tZ1)
        for a in range(q1):
            A[a, a] += 1.0
        L1 = soa_cholesky(A)
        cu1 = soa_lsolve(L1, tm(T1, self.Z1ty))  # (q1, m)
        RZX1 = soa_lsolve(L1, tm(T1, self.Z1tX))  # (q1, p, m)
        logdet_L = 2.0 * sum(np.log(L1[a, a]).sum() for a in range(q1))

        RXtRX = self.XtX.copy()
        rhs = self.Xty.copy()
        for a in range(q1):
            RXtRX -= RZX1[a] @ RZX1[a].T
            rhs -= RZX1[a] @ cu1[a]
        cu_sq = float((cu1 * cu1).sum())
        if not self.Q2:
            return self._finish(theta, logdet_L, RXtRX, rhs, cu_sq, BlockedFactors(T1, L1, cu1, RZX1))

        # With K_j = L1_j^-1 T1', the block below the first is
        # L21 = (K_j Z1j'Z2 Lambda2)_j, so the Schur complement needs only
        # sums over groups of K_j'K_j, K_j'cu1_j and K_j'RZX1_j.
        K = soa_lsolve(L1, tm(T1, soa_eye(q1, self.m1)))
        rows = []
        for b in range(q1):
            rows.append(sum(K[a, b] * cu1[a] for a in range(q1))[None, :])
            rows.append(sum(K[a, b] * RZX1[a] for a in range(q1)))  # (p, m)
        pairs = [(b, c) for b in range(q1) for c in range(b, q1)]
        for b, c in pairs:
            rows.append(sum(K[a, b] * K[a, c] for a in range(q1))[None, :])
        stacked = np.concatenate(rows, axis=0)
        r, c, t = self.lam2
        Lam2 = sp.csr_matrix((theta[t], (r, c)), shape=(self.Q2, self.Q2))
        at = 0
        if self.pool is not None:
            M = self.Z2tZ2.copy()
            g2y = self.Z2ty.copy()
            g2X = self.Z2tX.copy()
            # Pooled: dense products over the distinct patterns only.
            pooled = np.asarray((self.pool.T @ stacked.T).T)
            U = self.U
            for b in range(q1):
                g2y -= U[b] @ pooled[at]
                g2X -= U[b] @ pooled[at + 1: at + 1 + p].T
                at += 1 + p
            for b, c in pairs:
                prod = (U[b] * pooled[at]) @ U[c].T
                M -= prod if b == c else prod + prod.T
                at += 1
            if self.lam2_diagonal:
                d = theta[t]
                S = M
                S *= d[:, None]
                S *= d[None, :]
            else:
                S = np.asarray(Lam2.T @ np.asarray(Lam2.T @ M).T).T
            S, upper_zero = np.asfortranarray(S), False
        else:
            UT = self.U_sparse_T
            g2y = self.Z2ty - sum(UT[b] @ stacked[(1 + p) * b] for b in range(q1))
            g2X = self.Z2tX - sum(np.asarray(UT[b] @ stacked[(1 + p) * b + 1: (1 + p) * (b + 1)].T)
                                  for b in range(q1))
            at = (1 + p) * q1
            w = stacked[at: at + len(pairs)][:, self.class_rep]
            vals = self.schur_base - self.schur_P @ w.ravel()
            # Only the upper triangle (C order) is filled: it is the lower triangle of its
            # Fortran-ordered transpose, which LAPACK then factors in place, without a copy.
            buf = np.zeros((self.Q2, self.Q2))
            flat = buf.reshape(-1)
            if self.lam2_diagonal:
                vals *= np.outer(theta, theta).ravel()[self.schur_tt]
                flat[self.schur_cells] = vals
                S, upper_zero = buf.T, True
            else:
                flat[self.schur_cells] = vals
                buf += np.triu(buf, 1).T
                S = np.asfortranarray(np.asarray(Lam2.T @ np.asarray(Lam2.T @ buf).T).T)
                upper_zero = False
        S[np.arange(self.Q2), np.arange(self.Q2)] += 1.0
        L22, info = scipy.linalg.lapack.dpotrf(S, lower=1, clean=int(not upper_zero), overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError("not positive definite")
        # One pass over L22 for both right-hand sides.
        both = tri_solve(L22, np.column_stack([Lam2.T @ g2y, np.asarray(Lam2.T @ g2X)]))
        cu2, RZX2 = both[:, 0], both[:, 1:]
        logdet_L += 2.0 * np.log(np.diag(L22)).sum()
        RXtRX -= RZX2.T @ RZX2
        rhs -= RZX2.T @ cu2
        cu_sq += float(cu2 @ cu2)
        return self._finish(theta, logdet_L, RXtRX, rhs, cu_sq,
                            BlockedFactors(T1, L1, cu1, RZX1, K, Lam2, L22, cu2, RZX2))

    # ------------------------------------------------------------------
    def with_response(self, y, reml=None, start=None):
        """The same model for a new response ``y`` (and optionally the other criterion).

        Only what depends on y is recomputed (X'y, Z'y, y'y, the start values): the design,
        Z'Z, Z'X, X'X and the factorisation pattern are shared with this problem, so a
        parametric-bootstrap refit costs a pass over y plus the optimisation.  ``start``
        (e.g. the fitted theta, near which a bootstrap refit ends) replaces the moment-based
        start values, which then are not computed.
        """
        new = copy.copy(self)
        if reml is not None:
            new.reml = bool(reml)
        y = np.asarray(y, dtype=float)
        if y.shape != (self.n,):
            raise ValueError(f"The new response has shape {y.shape}; the model has {self.n} rows.")
        xc = self.x_cells
        if self.p:
            if xc is not None:  # X as its few distinct rows: sums over rows as sums over cells
                nx = len(xc.rows)

                def xt(v):
                    return xc.rows.T @ np.bincount(xc.cell, weights=v, minlength=nx)
            else:
                Xi = self.X_int

                def xt(v):
                    return Xi.T @ v
            Xty = xt(y)
            _, new.beta_ols, info = scipy.linalg.lapack.dposv(self.XtX, Xty)
            if info != 0:
                new.beta_ols = scipy.linalg.solve(self.XtX, Xty, assume_a="pos")
            ystar = y - ((xc.rows @ new.beta_ols)[xc.cell] if xc is not None else Xi @ new.beta_ols)
            new.Xty = xt(ystar)
        else:
            ystar = y
        zty = [np.stack([np.bincount(b.codes, weights=b.Z[:, a] * ystar, minlength=len(b.levels))
                         for a in range(b.Z.shape[1])]) for b in self.blocks]  # (q, m) per term
        return self._install_response(new, zty, float(ystar @ ystar), float(y @ y), ystar, start)

    def response_cells(self):
        """Rows grouped by everything the model sees of a row: its X row, and each term's group and Z row.

        Rows of one cell share their mean under the model, so a simulated response enters every
        cross-product only through each cell's sum and the within-cell sum of squares (see
        :meth:`with_cell_sums`).  None when the cells are not much fewer than the rows.
        """
        parts = [self.X_int] + [b.Z for b in self.blocks] + [b.codes[:, None].astype(float) for b in self.blocks]
        keys = np.column_stack(parts)
        _, first, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True,
                                              return_counts=True)
        if len(first) > self.n // 4:
            return None
        return SimpleNamespace(first=first, inverse=inverse.ravel(), counts=counts.astype(float),
                               X=self.X_int[first], Z=[b.Z[first] for b in self.blocks],
                               codes=[b.codes[first] for b in self.blocks])

    def with_cell_sums(self, cells, sums, within_ss, start, reml=None):
        """The same model for a response given by its cell sums and within-cell sum of squares.

        ``cells`` from :meth:`response_cells`; ``sums`` the response summed over each cell's
        rows; ``within_ss`` the sum over rows of (y - its cell mean)^2.  Equivalent to
        :meth:`with_response` on any y with those sums, at a cost that does not grow with the rows.
        ``start`` is required (the moment-based start values need the rows in the blocked layout).
        """
        new = copy.copy(self)
        if reml is not None:
            new.reml = bool(reml)
        sums = np.asarray(sums, dtype=float)
        n_c = cells.counts
        if self.p:
            Xty = cells.X.T @ sums
            _, new.beta_ols, info = scipy.linalg.lapack.dposv(self.XtX, Xty)
            if info != 0:
                new.beta_ols = scipy.linalg.solve(self.XtX, Xty, assume_a="pos")
            mean_star = sums / n_c - cells.X @ new.beta_ols  # cell means of y - X beta_ols
            new.Xty = cells.X.T @ (n_c * mean_star)
        else:
            mean_star = sums / n_c
        sums_star = n_c * mean_star
        zty = [np.stack([np.bincount(g, weights=Z[:, a] * sums_star, minlength=len(b.levels))
                         for a in range(Z.shape[1])]) for g, Z, b in zip(cells.codes, cells.Z, self.blocks)]
        yty = float(sums_star @ mean_star) + float(within_ss)
        y_norm2 = float(sums @ (sums / n_c)) + float(within_ss)
        return self._install_response(new, zty, yty, y_norm2, None, start)

    def without_rows(self):
        """A copy without the row-level arrays, to ship to worker processes.

        It evaluates the deviance and takes new responses through :meth:`with_cell_sums`
        (not :meth:`with_response`, which needs the rows).
        """
        new = copy.copy(self)
        new._Xi, new.y_int, new._Z_all, new.user_blocks, new.x_cells = None, None, None, [], None
        new.blocks = [SimpleNamespace(Z=np.zeros((0, b.Z.shape[1])), codes=np.zeros(0, dtype=np.intp),
                                      levels=b.levels, cells=None) for b in self.blocks]
        return new

    def _install_response(self, new, zty, yty, y_norm2, ystar, start):
        """Write the y-dependent pieces (Z'y*, X'y* already set, y*'y*) into the copy ``new``."""
        new.yty, new.y_norm2 = yty, y_norm2
        new.rss_joint, new.joint_rank_clear = None, False
        if self.layout == "dense":
            Q, p = self.Q, self.p
            W = self.W.copy()
            col = np.concatenate([z.T.ravel() for z in zty])  # group-major, as W's rows
            W[:Q, Q + p] = W[Q + p, :Q] = col
            W[Q:Q + p, Q + p] = W[Q + p, Q:Q + p] = new.Xty
            W[Q + p, Q + p] = new.yty
            new.W = W
            # None from cell sums: the recomputation of a tiny r^2 from the rows is then unavailable.
            new.y_int = ystar
            if self.one_term is not None:
                flat, blocks, _ = self.one_term
                q, m = self.blocks[0].Z.shape[1], len(self.blocks[0].levels)
                new.one_term = (flat, blocks, W[:Q, Q:].reshape(m, q, p + 1))
        else:
            new.Z1ty = zty[self.primary]
            if self.Q2:
                new.Z2ty = np.concatenate([zty[i].T.ravel() for i in self.secondary])
        new.start = new._start_values(ystar) if start is None else np.asarray(start, dtype=float)
        return new

    @property
    def dof(self):
        """Degrees of freedom for sigma: n - p under REML, n under ML."""
        return self.n - self.p if self.reml else self.n

    def profiled_deviance(self, s):
        """Profiled deviance (the REML criterion when ``reml``) at a :class:`Solution`."""
        return self._criterion(s.logdet_L, s.logdet_RX, s.r2)

    def _criterion(self, logdet_L, logdet_RX, r2):
        d = self.dof
        dev = logdet_L + d * (1.0 + _LOG2PI + np.log(r2 / d))
        if self.reml:
            dev += logdet_RX
        return float(dev)

    def deviance(self, theta):
        """Profiled deviance at ``theta`` (inf where the system cannot be factored)."""
        try:
            if self.layout == "dense":
                return self._deviance_dense(np.asarray(theta, dtype=float))
            return self.profiled_deviance(self.solve(theta))
        except np.linalg.LinAlgError:
            return np.inf

    def sigma(self, s):
        """Residual SD at a solution (its profiled optimum)."""
        return float(np.sqrt(s.r2 / self.dof))

    def conditional_modes(self, s):
        """Conditional modes b = Lambda u on the user's scale, one array (m, q) per block."""
        f = s.factors
        beta_star = s.beta_star
        out = [None] * len(self.blocks)
        if isinstance(f, DenseFactors):
            u = tri_solve(f.L.T, f.cu - f.RZX @ beta_star, lower=False)
            b = f.Lam @ u
            start = 0
            for i, blk in enumerate(self.blocks):
                q, m = blk.Z.shape[1], len(blk.levels)
                out[i] = b[start: start + q * m].reshape(m, q)
                start += q * m
        else:
            v1 = f.cu1 - np.einsum("apm,p->am", f.RZX1, beta_star)
            if self.Q2:
                v2 = f.cu2 - f.RZX2 @ beta_star
                u2 = tri_solve(f.L22.T, v2, lower=False)
                w = f.Lam2 @ u2
                if self.pool is not None:
                    z = [(self.U[b].T @ w)[self.pattern] for b in range(self.q1)]
                else:
                    z = [self.U_sparse[b] @ w for b in range(self.q1)]
                v1 = v1 - np.stack([sum(f.K[a, b] * z[b] for b in range(self.q1)) for a in range(self.q1)])
                start = 0
                for i in self.secondary:
                    q, m = self.blocks[i].Z.shape[1], len(self.blocks[i].levels)
                    out[i] = w[start: start + q * m].reshape(m, q)
                    start += q * m
            u1 = soa_usolve(f.L1, v1)  # L1' u1 = v1
            out[self.primary] = (f.T1 @ u1).T
        # Internal columns are Z A, so b_user = A b_internal.
        return [o @ A.T for o, A in zip(out, self.block_A)]

    def residual_is_zero(self):
        """True when y is (almost) exactly a combination of the fixed and random columns.

        Then the residual variance is zero and the likelihood grows without
        bound as theta grows.  Checked as the penalised residual sum of
        squares at a theta far beyond any sensible value (the penalty is then
        negligible), or from the joint least-squares fit of the dense layout:
        at most 1e-15 (1e-14) of the residual sum of squares of the fixed
        effects alone, i.e. a residual SD below about 1e-7 of the spread the
        random effects explain.
        """
        if self.yty <= 1e-24 * self.y_norm2 or self.yty == 0.0:
            return True
        # Dense layout: the joint least-squares fit on [Z, X] made for the start values.
        if self.rss_joint is not None and self.rss_joint <= 1e-14 * self.yty:
            return True
        big = np.where(np.isfinite(self.lower), 1e7, 0.0)
        try:
            s = self.solve(big)
        except ZeroResidual:
            return True
        except np.linalg.LinAlgError:
            return False
        return s.r2 <= 1e-15 * self.yty

    def _find_aliased(self):
        """(block, column) pairs whose random columns lie in the span of X.

        Such a column repeats a fixed effect (``y ~ g + (1|g)``): its
        variance cannot be separated from the fixed effects.  For column a
        of a term, the indicator-weighted columns Z_a * [g == j] lie in the
        span of X when sum_j ||Z_aj||^2 equals the part X explains.
        """
        if not self.p:
            return []
        R = np.linalg.cholesky(self.XtX)
        out = []
        offsets = np.cumsum([0] + [b.Z.shape[1] * len(b.levels) for b in self.blocks])
        off2 = dict(zip(self.secondary, np.cumsum([0] + [self.blocks[i].Z.shape[1] * len(self.blocks[i].levels)
                                                          for i in self.secondary])))
        for i, b in enumerate(self.blocks):
            m, q = len(b.levels), b.Z.shape[1]
            for a in range(q):
                # Z_a' X and ||Z_a||^2 from the cross-products already formed.
                if self.layout == "dense":
                    rows = offsets[i] + np.arange(m) * q + a
                    ZtX = self.W[rows, self.Q:self.Q + self.p].T
                    ZtZ = float(self.W[rows, rows].sum())
                elif i == self.primary:
                    ZtX = self.Z1tX[a]
                    ZtZ = float(self.Z1tZ1[a, a].sum())
                else:
                    rows = off2[i] + np.arange(m) * q + a
                    ZtX = self.Z2tX[rows].T
                    ZtZ = float(self.Z2tZ2[rows, rows].sum())
                if ZtZ == 0:
                    continue
                proj = tri_solve(R, np.ascontiguousarray(ZtX))
                if ZtZ - float((proj**2).sum()) <= 1e-9 * ZtZ:
                    out.append((i, a))
        return out
