"""Per-group linear algebra for the engine: stacks of small blocks, sparse maps, column scaling.

Stacks of per-group q x q blocks are stored "structure of arrays": entry
[a, b] of every group's block is one contiguous vector over the groups, so the
algebra of thousands of tiny blocks runs as a few vector operations (q < 4), or
as batched LAPACK calls on (m, q, q) stacks for wider blocks.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

def lower_tri_indices(q):
    """Column-major lower-triangle indices, lme4's theta order."""
    rows, cols = [], []
    for j in range(q):
        for i in range(j, q):
            rows.append(i)
            cols.append(j)
    return np.array(rows, dtype=int), np.array(cols, dtype=int)


def lower_factor(M):
    """Lower-triangular L with non-negative diagonal and L L' = M M' (works when singular)."""
    r = np.linalg.qr(M.T, mode="r")
    L = r.T.copy()
    sign = np.where(np.diag(L) < 0, -1.0, 1.0)
    return L * sign[None, :]


def column_transform(Z, full_cov, counts=None):
    """A with Z A centred (if allowed) and scaled; Z_user = Z_internal A^-1.

    Returns the q x q matrix A such that the internal columns are Z @ A.
    Centring mixes the intercept into the other columns, which leaves the
    model unchanged only when their covariance is unstructured.  Columns of
    ordinary scale are left alone, so most designs are used as given.  With
    ``counts``, ``Z`` holds a design's distinct rows and ``counts`` how many
    rows of the data each one stands for.
    """
    if counts is None:
        n = max(Z.shape[0], 1)

        def column_sums(M):
            return np.einsum("ij,ij->j", M, M)

        mean = Z.mean(axis=0)
    else:
        n = max(float(counts.sum()), 1.0)
        w = counts.astype(float)

        def column_sums(M):
            return w @ (M * M)

        mean = w @ Z / n
    msq = column_sums(Z) / n
    ones = np.flatnonzero((mean == 1.0) & (msq == 1.0))
    var = msq - mean**2
    # A second pass where msq - mean^2 cancels (e.g. 1e6 + 1e-6 x).
    risky = np.flatnonzero(mean**2 > 0.5 * msq)
    if risky.size:
        var[risky] = column_sums(Z[:, risky] - mean[risky]) / n
    q = len(mean)
    A = np.eye(q)
    for a in range(q):
        if a in ones or msq[a] == 0.0 or not np.isfinite(msq[a]):
            continue
        spread = np.sqrt(var[a])
        if full_cov and ones.size and spread > 0 and abs(mean[a]) >= 10 * spread:
            centre = float(mean[a])
        else:
            centre, spread = 0.0, np.sqrt(msq[a])
        if centre == 0.0 and 1e-3 <= spread <= 1e3:
            continue
        if centre:
            A[ones[0], a] = -centre / spread
        A[a, a] = 1.0 / spread
    return A


# Largest Q2^2 for which cell ranks come from a table of Q2^2 int32 (40 MB); beyond, a binary search.
RANK_TABLE_MAX = 1e7


def schur_map(U, classes, n_classes, Z2tZ2):
    """Sparse map from per-class group weights to the upper triangle of a Schur complement.

    The engine's Schur complement is M = Z2'Z2 - sum_j sum_(b<=c) w_bcj (Ub_j' Uc_j + [b != c] Uc_j' Ub_j),
    where Ub_j is row j of ``U[b]`` (Z1j[:, b]' Z2 for group j of the largest term).  Groups
    of one class (equal Z1j'Z1j, so equal weights) are summed here once, so each evaluation
    costs one sparse product over the classes rather than the groups.

    Parameters
    ----------
    U : list of scipy.sparse.csr_matrix (m, Q2)
    classes : ndarray (m,)
        Class of each group, in ``range(n_classes)``.
    n_classes : int
    Z2tZ2 : ndarray (Q2, Q2)

    Returns
    -------
    cells : ndarray
        Flat (C-order) indices r * Q2 + c, r <= c, of every cell of the upper triangle that
        can be nonzero, increasing.
    base : ndarray
        Z2'Z2 at ``cells``.
    P : scipy.sparse.csc_matrix (cells, n_pairs * n_classes)
        M at ``cells`` is ``base - P @ w`` with ``w[pair * n_classes + class]`` the weight of
        the pair (b, c), in the order (0, 0), (0, 1), ..., (1, 1), ..., of that class.
    """
    q1 = len(U)
    m, Q2 = U[0].shape
    for u in U:
        u.sort_indices()
    pairs = [(b, c) for b in range(q1) for c in range(b, q1)]
    keys, vals, cols = [], [], []
    for k, (b, c) in enumerate(pairs):
        Ub, Uc = U[b], U[c]
        nb, nc = np.diff(Ub.indptr), np.diff(Uc.indptr)
        rows_b = np.repeat(np.arange(m), nb)  # group of each nonzero of Ub
        if b == c:
            # Symmetric: only the upper triangle is needed, i.e. each nonzero of a row
            # with itself and the ones after it (indices are sorted).
            reps = nb[rows_b] - (np.arange(Ub.nnz) - Ub.indptr[rows_b])
        else:
            reps = nc[rows_b]
        kb = np.repeat(np.arange(Ub.nnz), reps)
        offset = np.arange(kb.size) - np.repeat(np.cumsum(reps) - reps, reps)
        kc = (kb if b == c else Uc.indptr[rows_b[kb]]) + offset
        del offset, reps
        ib, ic = Ub.indices[kb].astype(np.int64), Uc.indices[kc].astype(np.int64)
        v = Ub.data[kb] * Uc.data[kc]
        group = rows_b[kb]
        del kb, kc
        if b != c:
            # S + S': (r, s) and (s, r) land on one upper cell; the diagonal counts twice.
            v = np.where(ib == ic, 2.0 * v, v)
            ib, ic = np.minimum(ib, ic), np.maximum(ib, ic)
        keys.append(ib * Q2 + ic)
        vals.append(v)
        cols.append(k * n_classes + classes[group])
        del ib, ic, v, group
    flat = np.concatenate(keys)
    del keys
    # Ranks of the occupied cells by marking, not by a general sort.
    occupied = np.zeros(Q2 * Q2, dtype=bool)
    occupied[flat] = True
    occupied.reshape(Q2, Q2)[np.triu(Z2tZ2 != 0)] = True
    cells = np.flatnonzero(occupied)
    if Q2 * Q2 <= RANK_TABLE_MAX:
        row = (np.cumsum(occupied, dtype=np.int32) - 1)[flat]
    else:
        row = np.searchsorted(cells, flat)
    del occupied, flat
    # Entries of one cell and class (groups of one class) are summed by the conversion.
    # Column-major: its product with w (a scatter per class) measured 35% faster than by rows.
    P = sp.csc_matrix((np.concatenate(vals), (row, np.concatenate(cols))),
                      shape=(cells.size, len(pairs) * n_classes))
    P.sum_duplicates()
    return cells, Z2tZ2.ravel()[cells], P


def row_patterns(flat):
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


# Above this many columns per group, the per-group algebra runs as batched
# LAPACK calls on (m, q, q) stacks instead of q^2 vector operations.
BATCHED_Q = 4


def tm(T, M):
    """T' M_j for every group j; M is (q, ..., m), T is q x q."""
    q = T.shape[0]
    if q >= BATCHED_Q:
        return np.tensordot(T, M, axes=([0], [0]))
    out = np.zeros(M.shape)
    for a in range(q):
        for b in range(a, q):  # T is lower triangular: T[b, a] = 0 for b < a
            if T[b, a] != 0.0:
                out[a] += T[b, a] * M[b]
    return out


def soa_eye(q, m):
    out = np.zeros((q, q, m))
    for a in range(q):
        out[a, a] = 1.0
    return out


def tmt(T, M):
    """T' M_j T for every group j; M is (q, q, m)."""
    W = tm(T, M)  # T' M
    q = T.shape[0]
    if q >= BATCHED_Q:
        return np.moveaxis(np.tensordot(W, T, axes=([1], [0])), -1, 1)
    out = np.zeros(M.shape)
    for c in range(q):
        for d in range(c, q):
            if T[d, c] != 0.0:
                out[:, c] += T[d, c] * W[:, d]
    return out


def soa_cholesky(A):
    """Cholesky factor of every group's q x q block (A is (q, q, m))."""
    q = A.shape[0]
    if q >= BATCHED_Q:
        return np.moveaxis(np.linalg.cholesky(np.moveaxis(A, -1, 0)), 0, -1)
    L = np.zeros(A.shape)
    for j in range(q):
        s = A[j, j] - sum(L[j, k] ** 2 for k in range(j))
        if np.any(s <= 0):
            raise np.linalg.LinAlgError("not positive definite")
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, q):
            L[i, j] = (A[i, j] - sum(L[i, k] * L[j, k] for k in range(j))) / L[j, j]
    return L


def soa_lsolve(L, B):
    """Solve L_j X_j = B_j per group; B is (q, ..., m), L is (q, q, m)."""
    return _soa_substitute(L, B, transpose=False)


def soa_usolve(L, B):
    """Solve L_j' X_j = B_j per group (upper-triangular transpose)."""
    return _soa_substitute(L, B, transpose=True)


def _soa_substitute(L, B, transpose):
    """Forward substitution with L (or backward with L'), every group at once; batched for large q."""
    q = L.shape[0]
    if q >= BATCHED_Q:
        return batched_solve(L, B, transpose=transpose)
    X = np.empty(B.shape)
    for i in (reversed(range(q)) if transpose else range(q)):
        acc = B[i].copy()
        for k in (range(i + 1, q) if transpose else range(i)):
            acc -= (L[k, i] if transpose else L[i, k]) * X[k]
        X[i] = acc / L[i, i]
    return X


def batched_solve(L, B, transpose):
    """Per-group triangular solves as one batched LAPACK call (L (q, q, m), B (q, ..., m))."""
    m = L.shape[-1]
    Lb = np.moveaxis(L, -1, 0)
    if transpose:
        Lb = np.swapaxes(Lb, 1, 2)
    shape = B.shape
    Bb = np.moveaxis(B.reshape(shape[0], -1, m), -1, 0)  # (m, q, r)
    X = np.linalg.solve(Lb, Bb)
    return np.moveaxis(X, 0, -1).reshape(shape)


def tri_solve(L, b, lower=True):
    # LAPACK directly: the scipy.linalg wrapper costs more than the solve at p = 6.
    x, info = scipy.linalg.lapack.dtrtrs(L, b, lower=int(lower))
    if info != 0:
        raise np.linalg.LinAlgError("singular triangular factor")
    return x


def tri_inv(L):
    inv, info = scipy.linalg.lapack.dtrtri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("singular triangular factor")
    return inv
