"""Conditional covariances of the random effects (lme4's ``ranef(fit, condVar = TRUE)``).

Given the estimated relative covariance factors and residual SD, the random effects
b = Lambda u have, conditionally on the data (and on the fixed effects at their estimate, as
in lme4), covariance ``sigma^2 Lambda (Lambda' Z'Z Lambda + I)^-1 Lambda'``.  Only the q x q
diagonal block of every group level is returned: that is what ``condVar`` reports and what
an interval around a conditional mode needs.

The computation is done from the random-effects model matrices themselves, not from the
engine's internal factors, and uses the same structure as the engine: the term with the
most random effects is block diagonal in Z'Z, the other terms are few and are eliminated
through a small dense Schur complement.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .grouping import group_sums, sparse_Z

__all__ = ["conditional_covariances"]


def _block_diag(T, m):
    return sp.kron(sp.identity(m, format="csr"), sp.csr_matrix(T), format="csr")


def conditional_covariances(blocks, factors, sigma):
    """Conditional covariance matrix of the random effects of every group level.

    Parameters
    ----------
    blocks : list
        Random-effects terms, each with ``Z`` (n x q), ``codes`` (n,) group index 0..m-1 and
        ``levels`` (m labels), as :class:`lmmedu.stats.design.RandomBlock`.
    factors : list of ndarray
        Lower-triangular relative covariance factor T (q x q) of every block, so that the
        term's covariance is ``sigma^2 T T'``.
    sigma : float
        Residual standard deviation.

    Returns
    -------
    list of ndarray
        One array (m, q, q) per block: ``sigma^2 [Lambda (Lambda'Z'Z Lambda + I)^-1 Lambda']``
        restricted to each level's q x q block.

    Examples
    --------
    A random intercept with n_j rows per group has conditional variance
    ``1 / (n_j / sigma^2 + 1 / tau^2)``:

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> codes = np.repeat([0, 1], [2, 8])
    >>> blk = SimpleNamespace(Z=np.ones((10, 1)), codes=codes, levels=["a", "b"])
    >>> cov = conditional_covariances([blk], [np.array([[2.0]])], sigma=1.0)[0]
    >>> np.round(cov[:, 0, 0], 4).tolist(), [round(1 / (n + 1 / 4), 4) for n in (2, 8)]
    ([0.4444, 0.1212], [0.4444, 0.1212])
    """
    blocks = list(blocks)
    if not blocks:
        raise ValueError("conditional_covariances needs at least one random-effects term.")
    if len(factors) != len(blocks):
        raise ValueError(f"got {len(factors)} covariance factors for {len(blocks)} random-effects terms.")
    n = blocks[0].Z.shape[0]
    s2 = float(sigma) ** 2
    sizes = [b.Z.shape[1] * len(b.levels) for b in blocks]
    primary = int(np.argmax(sizes))
    secondary = [i for i in range(len(blocks)) if i != primary]

    b1, T1 = blocks[primary], np.asarray(factors[primary], dtype=float)
    q1, m1 = b1.Z.shape[1], len(b1.levels)
    # A_j = T1' Z1j'Z1j T1 + I for every level j of the primary term, stacked (m1, q1, q1).
    ZtZ = np.empty((m1, q1, q1))
    for a in range(q1):
        for c in range(a, q1):
            ZtZ[:, a, c] = ZtZ[:, c, a] = group_sums(b1.codes, m1, (b1.Z[:, a] * b1.Z[:, c])[:, None])[:, 0]
    A = np.einsum("ka,jkl,lc->jac", T1, ZtZ, T1) + np.eye(q1)
    A_inv = np.linalg.inv(A)
    cov_u1 = A_inv.copy()
    out = [None] * len(blocks)

    if secondary:
        Z2 = sparse_Z([blocks[i] for i in secondary], n)
        Q2 = Z2.shape[1]
        Lam2 = sp.block_diag([_block_diag(np.asarray(factors[i], dtype=float), len(blocks[i].levels))
                              for i in secondary], format="csr")
        Z1 = sparse_Z([b1], n)
        # P12_j = T1' Z1j'Z2 Lambda2 (q1 x Q2 for every level j), then G_j = A_j^-1 P12_j.
        Z1tZ2L = (Z1.T @ Z2 @ Lam2).toarray().reshape(m1, q1, Q2)
        P12 = np.einsum("ka,jkr->jar", T1, Z1tZ2L)
        G = np.einsum("jab,jbr->jar", A_inv, P12)
        # Schur complement of the primary block: S = Lambda2'Z2'Z2 Lambda2 + I - sum_j P21_j A_j^-1 P12_j.
        S = (Lam2.T @ (Z2.T @ Z2) @ Lam2).toarray() + np.eye(Q2) - np.einsum("jar,jas->rs", P12, G)
        S_inv = np.linalg.inv(S)
        S_inv = (S_inv + S_inv.T) / 2
        # Primary levels: (P^-1)_jj = A_j^-1 + G_j S^-1 G_j'.
        cov_u1 = cov_u1 + np.einsum("jar,rs,jbs->jab", G, S_inv, G)
        # Secondary terms: b2 = Lambda2 u2 with Cov(u2) = sigma^2 S^-1.
        cov_b2 = (Lam2 @ sp.csr_matrix(S_inv) @ Lam2.T).toarray() * s2
        start = 0
        for i in secondary:
            q, m = blocks[i].Z.shape[1], len(blocks[i].levels)
            idx = start + np.arange(m)[:, None] * q + np.arange(q)[None, :]
            out[i] = cov_b2[idx[:, :, None], idx[:, None, :]]
            start += q * m

    out[primary] = s2 * np.einsum("ak,jkl,bl->jab", T1, cov_u1, T1)
    return out
