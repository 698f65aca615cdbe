"""Kenward-Roger: adjusted covariance of the fixed effects, denominator df and scaled F tests.

Kenward & Roger (1997, Biometrics 53:983) as pbkrtest implements it (Halekoh & Hojsgaard
2014, JSS 59(9); ``vcovAdj``, ``Lb_ddf``, ``KRmodcomp``), and so as lmerTest's
``summary(fit, ddf = "Kenward-Roger")`` / ``anova(fit, ddf = "Kenward-Roger")`` and emmeans
report it.  The covariance of the data is written linearly in its parameters,

    Sigma = sum_r gamma_r G_r + sigma^2 I,   G_r = Z E_r Z',

where gamma_r is one entry of one random term's covariance matrix (its variances and
covariances, *not* lme4's theta) and E_r the indicator of that entry in every group.
Kenward-Roger needs, for every pair of parameters, p x p matrices such as
P_r = -X' Sigma^-1 G_r Sigma^-1 X and Q_rs = X' Sigma^-1 G_r Sigma^-1 G_s Sigma^-1 X, and
the traces tr(Sigma^-1 G_r Sigma^-1 G_s).  pbkrtest forms the n x n Sigma and its inverse,
which takes minutes at a few thousand rows and is impossible at 400,000.

Here nothing larger than the random effects is formed.  With V = Sigma / sigma^2 =
I + Z D Z' (D = Lambda Lambda', block diagonal), everything follows from
C = Z' V^-1 Z and B = Z' V^-1 X, because V^-2 = V^-1 - V^-1 Z D Z' V^-1 turns every
higher power of Sigma^-1 into products with C and D (for example
tr(V^-2) = n - 2 tr(DC) + tr(DCDC)), and D = sum_r d_r E_r turns those into the same
traces tr(E_r C E_s C).  C itself is never formed either: the term with the most random
effects is block diagonal in Z'Z (one small block per group), the other terms are
eliminated through a dense matrix of their own size (a second Woodbury identity), as the
engine does, so C is "block diagonal minus low rank" and every trace is a sum over groups
plus products of matrices of the small terms' size.

The derivatives of Sigma are exact (Sigma is linear in its parameters); the only
approximations are Kenward-Roger's own.  At a singular fit (a variance estimated at zero)
the parameters sit on the boundary, where the expected information can be nearly
singular: pbkrtest then uses a generalised inverse, as here, and the df are fragile
(``df_message`` says so).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .engine import single_threaded_blas

__all__ = ["KenwardRoger", "kr_df_from_parts"]

# The largest dense matrix (groups x columns of the largest term, times the random effects
# of the other terms) this module builds: 5e7 doubles are 400 MB.
_MAX_CROSS = 5e7


def _bmm(A, B):
    """A_j B_j for stacks A (m, a, b) and B (m, b, k) (either may lack the leading m).

    For the few columns of a random term (b <= 4) as b vector operations: numpy's batched
    matmul of thousands of 2 x 2 blocks is several times slower.
    """
    b = A.shape[-1]
    if b > 4:
        return np.matmul(A, B)
    out = A[..., :, 0, None] * B[..., None, 0, :]
    for i in range(1, b):
        out = out + A[..., :, i, None] * B[..., None, i, :]
    return out


def _swap_rows(M, a, b):
    """E M for E = e_a e_b' + e_b e_a' (or e_a e_a') acting on axis 1 of the stack M (m, q, k)."""
    out = np.zeros_like(M)
    out[:, a] = M[:, b]
    if a != b:
        out[:, b] = M[:, a]
    return out


def _cross_products(problem, prim, sec, m1, q1, Q2):
    """Z1'Z1 and Z1'X per group of the largest term, Z1'Z2, Z2'Z2, Z2'X and X'X, all internal.

    Taken from what the engine already keeps (no pass over the rows): the whole [Z X]'[Z X]
    in the dense layout, the per-group and Schur-complement pieces in the blocked one.
    """
    p = problem.p
    if problem.layout == "dense":
        offsets = np.cumsum([0] + [b.Z.shape[1] * len(b.levels) for b in problem.blocks])
        Q = problem.Q
        W = problem.W
        idx1 = offsets[prim] + np.arange(m1)[:, None] * q1 + np.arange(q1)[None, :]  # (m1, q1)
        idx2 = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in sec]).astype(int) if sec \
            else np.zeros(0, dtype=int)
        S1 = W[idx1[:, :, None], idx1[:, None, :]]
        Z1X = W[idx1[:, :, None], Q + np.arange(p)[None, None, :]]
        Z1Z2 = W[idx1[:, :, None], idx2[None, None, :]]
        Z2Z2 = W[np.ix_(idx2, idx2)]
        Z2X = W[np.ix_(idx2, Q + np.arange(p))]
        return S1, Z1X, Z1Z2, Z2Z2, Z2X, W[Q:Q + p, Q:Q + p].copy()
    S1 = np.ascontiguousarray(np.moveaxis(problem.Z1tZ1, -1, 0))
    Z1X = np.ascontiguousarray(np.moveaxis(problem.Z1tX, -1, 0))
    if not Q2:
        return S1, Z1X, np.zeros((m1, q1, 0)), np.zeros((0, 0)), np.zeros((0, p)), problem.XtX.copy()
    if problem.pool is not None:
        Z1Z2 = np.ascontiguousarray(np.moveaxis(problem.U, -1, 0)[problem.pattern])  # (m1, q1, Q2)
    else:
        Z1Z2 = np.stack([u.toarray() for u in problem.U_sparse], axis=1)
    return S1, Z1X, Z1Z2, problem.Z2tZ2, problem.Z2tX, problem.XtX.copy()


def kr_df_from_parts(L, phi, P, W):
    """Kenward-Roger (ddf, F scaling, rank) for the hypothesis L beta = 0 (pbkrtest's ``.KR_adjust``).

    Parameters
    ----------
    L : ndarray (c, p)
        Full row rank.
    phi : ndarray (p, p)
        Unadjusted covariance of beta.
    P : list of ndarray (p, p)
        P_r = -X' Sigma^-1 G_r Sigma^-1 X for every variance parameter.
    W : ndarray (k, k)
        Twice the inverse of the expected information of the variance parameters.

    Returns
    -------
    tuple of float
        (denominator df, F scaling, q = number of rows of L).

    Examples
    --------
    One row and one variance parameter: the df are 2 / (g' W g), Satterthwaite's.

    >>> ddf, scale, q = kr_df_from_parts(np.eye(1), np.eye(1), [-np.eye(1)], np.eye(1) * 0.02)
    >>> q, round(ddf, 6), round(scale, 6)
    (1, 100.0, 1.0)
    """
    q = L.shape[0]
    theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
    tp = theta @ phi
    u = [tp @ Pr @ phi for Pr in P]
    tr = np.array([np.trace(ui) for ui in u])
    cross = np.array([[np.sum(ui * uj.T) for uj in u] for ui in u])
    A1 = float(tr @ W @ tr)
    A2 = float(np.sum(W * cross))
    ddf, scale, q = _kr_from_A(A1, A2, q)
    return float(ddf), float(scale), q


def _kr_from_A(A1, A2, q):
    """(ddf, F scaling, q) from pbkrtest's A1 and A2 (arrays allowed)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        B = (A1 + 6.0 * A2) / (2.0 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        den = 3.0 * q + 2.0 * (1.0 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2.0 - g) / den
        V0 = 1.0 + c1 * B
        V0 = np.where(np.abs(V0) < 1e-10, 0.0, V0)
        V1 = 1.0 - c2 * B
        V2 = 1.0 - c3 * B
        num = 1.0 - A2 / q
        # pbkrtest's .divZero: 0/0 (both below 1e-14) counts as 1.
        ratio = np.where((np.abs(num) < 1e-14) & (np.abs(V1) < 1e-14), 1.0, num / V1)
        rho = ratio**2 * V0 / (q * V2)
        ddf = 4.0 + (q + 2.0) / (q * rho - 1.0)
        scale = np.where(np.abs(ddf - 2.0) < 1e-2, 1.0, ddf * (1.0 - A2 / q) / (ddf - 2.0))
    return ddf, scale, q


class KenwardRoger:
    """Kenward-Roger adjusted covariance, df and F tests for a REML mixed fit.

    Parameters
    ----------
    problem : lmmedu.stats.engine.LmmProblem
        ``fit.problem`` of a :class:`lmmedu.MixedFit`.
    solution : lmmedu.stats.engine.Solution
        ``fit._solution``, the solution at the optimum.
    reml : bool
        Whether the fit is REML; Kenward-Roger is defined for REML fits only.

    Attributes
    ----------
    name : str
        ``"Kenward-Roger"``.
    df_message, warning : str
        Empty, or one sentence saying why the df are fragile (a singular fit).

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)",
    ...                  lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=50))
    >>> kr = KenwardRoger(fit.problem, fit._solution)
    >>> kr.vcov().shape
    (2, 2)
    >>> bool(kr.df([[0.0, 1.0]])[0] > 0)
    True
    """

    name = "Kenward-Roger"

    def __init__(self, problem, solution, reml=True):
        if not reml or not problem.reml:
            raise ValueError("Kenward-Roger needs a REML fit (R refuses it for ML fits too): refit with reml=True.")
        self.problem = problem
        theta = np.asarray(solution.theta, dtype=float)
        sigma2 = problem.sigma(solution) ** 2
        if not sigma2 > 0:
            raise ValueError("The residual variance is estimated as zero, so Kenward-Roger df are undefined; "
                             "check the response (is it constant within groups?).")
        self.Ax = problem.Ax
        # Tall, thin products: BLAS threads cost more in synchronisation than they save (as in the engine).
        with single_threaded_blas():
            self._compute(problem, theta, sigma2)
        at_zero = np.isfinite(problem.lower) & (np.abs(theta) < 1e-4)
        self.singular = bool(at_zero.any())
        self.df_message = ""
        if self.singular or self.condition <= 1e-10:
            self.df_message = (
                "A variance is estimated at (or near) zero, so the variance parameters sit on the edge of "
                "their range, where Kenward-Roger's derivatives are fragile: read its df and F with care, or "
                "simplify the random part."
            )

    # ------------------------------------------------------------------
    def _compute(self, problem, theta, s2):
        blocks = problem.blocks
        n, p = problem.n, problem.p
        prim = problem.primary
        sec = [i for i in range(len(blocks)) if i != prim]
        b1 = blocks[prim]
        m1, q1 = len(b1.levels), b1.Z.shape[1]
        Q2 = sum(blocks[i].Z.shape[1] * len(blocks[i].levels) for i in sec)
        if m1 * q1 * max(Q2, 1) > _MAX_CROSS:
            raise ValueError(
                f"Kenward-Roger here needs a dense {m1 * q1} x {Q2} matrix between the largest random term and "
                "the others, too large for memory; use Satterthwaite df (ddf='satterthwaite') for this model."
            )

        S1, Z1X, Z1Z2, Z2Z2, Z2X, XtX = _cross_products(problem, prim, sec, m1, q1, Q2)

        # V1 = I + Z1 D1 Z1' is block diagonal by group: V1^-1 = I - Z1 M1 Z1', M1_j = T (T'S_jT + I)^-1 T'.
        T1 = problem.factor(theta, prim)
        R1 = np.einsum("ba,jbc,cd->jad", T1, S1, T1) + np.eye(q1)
        M1 = _bmm(T1, np.linalg.solve(R1, np.broadcast_to(T1.T, (m1, q1, q1))))
        M1 = 0.5 * (M1 + np.swapaxes(M1, 1, 2))
        F1 = np.eye(q1) - _bmm(S1, M1)  # Z1j' V1^-1 = F1_j Z1j'
        A = _bmm(F1, S1)
        A = 0.5 * (A + np.swapaxes(A, 1, 2))  # Z1j' V1^-1 Z1j
        U = _bmm(F1, Z1Z2)  # Z1' V1^-1 Z2, (m1, q1, Q2)
        Bx1 = _bmm(F1, Z1X)  # Z1' V1^-1 X
        Uf = U.reshape(m1 * q1, Q2)
        M1Z2 = _bmm(M1, Z1Z2).reshape(m1 * q1, Q2)
        M1X = _bmm(M1, Z1X).reshape(m1 * q1, p)
        G22 = Z2Z2 - Z1Z2.reshape(m1 * q1, Q2).T @ M1Z2  # Z2' V1^-1 Z2
        G22 = 0.5 * (G22 + G22.T)
        G2x = Z2X - Z1Z2.reshape(m1 * q1, Q2).T @ M1X  # Z2' V1^-1 X
        Gxx = XtX - Z1X.reshape(m1 * q1, p).T @ M1X  # X' V1^-1 X

        # V^-1 = V1^-1 - V1^-1 Z2 N Z2' V1^-1 with N = Lam2 (I + Lam2' G22 Lam2)^-1 Lam2'.
        Lam2 = scipy.linalg.block_diag(*[np.kron(np.eye(len(blocks[i].levels)), problem.factor(theta, i))
                                         for i in sec]) if Q2 else np.zeros((0, 0))
        if Q2:
            R2 = np.eye(Q2) + Lam2.T @ G22 @ Lam2
            N = Lam2 @ scipy.linalg.solve(R2, Lam2.T, assume_a="pos")
            N = 0.5 * (N + N.T)
        else:
            N = np.zeros((0, 0))
        H = np.eye(Q2) - N @ G22  # C12 = U H, C22 = G22 H
        C12 = Uf @ H
        C22 = G22 @ H
        C22 = 0.5 * (C22 + C22.T)
        UN = Uf @ N
        Omega = np.matmul(UN.reshape(m1, q1, Q2), np.swapaxes(U, 1, 2))  # U_j N U_j'
        C11d = A - Omega  # diagonal blocks of C11 = blockdiag(A) - U N U'
        Bz1 = Bx1.reshape(m1 * q1, p) - UN @ G2x
        Bz2 = H.T @ G2x
        XVX = Gxx - G2x.T @ N @ G2x
        XVX = 0.5 * (XVX + XVX.T)

        def apply_C(Y1, Y2):
            """C [Y1; Y2] for Y1 (m1*q1, k), Y2 (Q2, k)."""
            UtY1 = Uf.T @ Y1
            out1 = _bmm(A, Y1.reshape(m1, q1, -1)).reshape(m1 * q1, -1) - UN @ UtY1 + C12 @ Y2
            out2 = H.T @ UtY1 + C22 @ Y2
            return out1, out2

        # The variance parameters: (term, a, b) with a >= b, lme4's order; the residual last.
        params = []
        for i in [prim] + sec:
            q = blocks[i].Z.shape[1]
            T = problem.factor(theta, i)
            Dr = T @ T.T
            rows, cols = problem.tri[i]
            for a, b in zip(rows, cols):
                params.append((i, int(a), int(b), float(Dr[a, b])))
        off2 = {}
        at = 0
        for i in sec:
            off2[i] = at
            at += blocks[i].Z.shape[1] * len(blocks[i].levels)

        def idx2(i, a):
            q, m = blocks[i].Z.shape[1], len(blocks[i].levels)
            return off2[i] + np.arange(m) * q + a

        def left(par, Y1, Y2):
            """E_r [Y1; Y2]: rows a and b of every group of the parameter's term exchanged, others zero."""
            i, a, b, _ = par
            O1, O2 = np.zeros_like(Y1), np.zeros_like(Y2)
            if i == prim:
                Y = Y1.reshape(m1, q1, -1)
                O = O1.reshape(m1, q1, -1)
                O[:, a] = Y[:, b]
                if a != b:
                    O[:, b] = Y[:, a]
            else:
                ia, ib = idx2(i, a), idx2(i, b)
                O2[ia] = Y2[ib]
                if a != b:
                    O2[ib] = Y2[ia]
            return O1, O2

        def col_pair_sum(M, C, par):
            """sum((M E_s) * C) for a secondary parameter s (columns of the part-2 matrices)."""
            i, a, b, _ = par
            ia, ib = idx2(i, a), idx2(i, b)
            if a == b:
                return float(np.sum(M[:, ia] * C[:, ia]))
            return float(np.sum(M[:, ia] * C[:, ib]) + np.sum(M[:, ib] * C[:, ia]))

        K = len(params)
        e_prim = {}
        for r, par in enumerate(params):
            if par[0] == prim:
                e = np.zeros((q1, q1))
                e[par[1], par[2]] = e[par[2], par[1]] = 1.0
                e_prim[r] = e
        # Gamma_r = U' E_r U (Q2 x Q2) for the largest term's parameters.
        Gam = {}
        Ua = [U[:, a, :] for a in range(q1)]
        for r, e in e_prim.items():
            a, b = params[r][1], params[r][2]
            g = Ua[a].T @ Ua[b]
            Gam[r] = g + g.T if a != b else g
        EC12 = {r: _swap_rows(C12.reshape(m1, q1, Q2), params[r][1], params[r][2]).reshape(m1 * q1, Q2)
                for r in e_prim}

        Kt = np.zeros((K, K))
        t = np.zeros(K)
        for r, par in enumerate(params):
            if r in e_prim:
                t[r] = float(np.sum(e_prim[r] * C11d))
            else:
                i, a, b, _ = par
                ia, ib = idx2(i, a), idx2(i, b)
                t[r] = float(C22[ia, ib].sum() * (1 if a == b else 2))
        for r in range(K):
            for s in range(r, K):
                if r in e_prim and s in e_prim:
                    eAr = _swap_rows(A, params[r][1], params[r][2])  # e_r A_j
                    eAs = _swap_rows(A, params[s][1], params[s][2])
                    val = np.sum(eAr * np.swapaxes(eAs, 1, 2))
                    val -= 2.0 * np.sum(eAr * np.swapaxes(_swap_rows(Omega, params[s][1], params[s][2]), 1, 2))
                    if Q2:
                        val += np.sum((Gam[r] @ N) * (Gam[s] @ N).T)
                elif r in e_prim:
                    val = col_pair_sum(EC12[r], C12, params[s])
                elif s in e_prim:
                    val = col_pair_sum(EC12[s], C12, params[r])
                else:
                    _, M2 = left(params[r], np.zeros((m1 * q1, Q2)), C22)
                    val = col_pair_sum(M2, C22, params[s])
                Kt[r, s] = Kt[s, r] = val

        d = np.array([par[3] for par in params])
        EB = [left(par, Bz1, Bz2) for par in params]
        Y = [apply_C(*eb) for eb in EB]

        def inner(u, v):
            return u[0].T @ v[0] + u[1].T @ v[1]

        Bz = (Bz1, Bz2)
        DB = (sum(dr * eb[0] for dr, eb in zip(d, EB)), sum(dr * eb[1] for dr, eb in zip(d, EB)))
        CDB = (sum(dr * y[0] for dr, y in zip(d, Y)), sum(dr * y[1] for dr, y in zip(d, Y)))
        XV2X = XVX - inner(Bz, DB)
        ZV2X = (Bz1 - CDB[0], Bz2 - CDB[1])
        XV3X = XV2X - inner(ZV2X, DB)

        s4, s6 = s2**2, s2**3
        P = [-inner(Bz, eb) / s4 for eb in EB] + [-XV2X / s4]
        k = K + 1
        Qm = [[None] * k for _ in range(k)]
        for r in range(K):
            for s in range(r, K):
                Qm[r][s] = inner(EB[r], Y[s]) / s6
            Qm[r][K] = inner(EB[r], ZV2X) / s6
        Qm[K][K] = XV3X / s6
        Ktr = np.zeros((k, k))
        Ktr[:K, :K] = Kt / s4
        Ktr[:K, K] = Ktr[K, :K] = (t - Kt @ d) / s4
        Ktr[K, K] = (n - 2.0 * d @ t + d @ Kt @ d) / s4

        phi = s2 * np.linalg.inv(XVX)
        phi = 0.5 * (phi + phi.T)
        IE2 = np.zeros((k, k))
        for r in range(k):
            for s in range(r, k):
                IE2[r, s] = IE2[s, r] = (Ktr[r, s] - 2.0 * np.sum(phi * Qm[r][s])
                                         + np.sum((phi @ P[r]) * (P[s] @ phi)))
        self.information = IE2
        self.condition = float(np.min(np.abs(np.linalg.eigvalsh(IE2))))
        W = 2.0 * (np.linalg.inv(IE2) if self.condition > 1e-10 else np.linalg.pinv(IE2))
        W = 0.5 * (W + W.T)
        Uadj = np.zeros((p, p))
        for r in range(k):
            for s in range(r + 1, k):
                Uadj += W[r, s] * (Qm[r][s] - P[r] @ phi @ P[s])
        Uadj = Uadj + Uadj.T
        for r in range(k):
            Uadj += W[r, r] * (Qm[r][r] - P[r] @ phi @ P[r])
        phiA = phi + 2.0 * phi @ Uadj @ phi
        self._phi, self._phiA, self._P, self._W = phi, 0.5 * (phiA + phiA.T), P, W
        self.n_params = k

    @property
    def warning(self):
        """The df method's warning for the ddf seam (:mod:`lmmedu.stats.ddf`): ``df_message``."""
        return self.df_message

    # ------------------------------------------------------------------
    def _internal(self, L):
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != self.problem.p:
            raise ValueError(f"The contrast matrix has {L.shape[1]} columns but the model has {self.problem.p} "
                             "fixed effects; give one column per coefficient.")
        return L @ self.Ax

    def vcov(self):
        """pbkrtest's adjusted covariance of the fixed effects (``vcovAdj``), on the user's scale."""
        return self.Ax @ self._phiA @ self.Ax.T

    def vcov_unadjusted(self):
        """The ordinary covariance of the fixed effects ((X' Sigma^-1 X)^-1), on the user's scale."""
        return self.Ax @ self._phi @ self.Ax.T

    def df(self, L):
        """Kenward-Roger denominator df for each row of ``L``, each as a 1-df test (pbkrtest's ``Lb_ddf``).

        Parameters
        ----------
        L : array_like (c, p)

        Returns
        -------
        ndarray (c,)
        """
        Li = self._internal(L)
        phi = self._phi
        c = np.einsum("ck,kl,cl->c", Li, phi, Li)
        # One row l: tr(u_r) = l phi P_r phi l' / (l phi l') and tr(u_r u_s) = tr(u_r) tr(u_s), so A1 = A2.
        g = np.stack([np.einsum("ck,kl,cl->c", Li, phi @ Pr @ phi, Li) for Pr in self._P], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = g / c[:, None]
        A = np.einsum("cr,rs,cs->c", g, self._W, g)
        ddf, _, _ = _kr_from_A(A, A, 1)
        return np.where(c > 0, ddf, np.nan)

    def ftest_table(self, L, beta):
        """The full KR F test of L beta = 0: a dict with F (scaled), F_unscaled, scaling, num_df, den_df.

        Rows of ``L`` that are linear combinations of others are dropped first (the test is
        the same); ``beta`` is on the user's scale.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        Li = self._internal(L)
        # An orthonormal basis of the row space gives the same test when L is rank deficient.
        u, sv, vt = np.linalg.svd(Li, full_matrices=False)
        rank = int(np.sum(sv > sv.max() * 1e-10)) if sv.size and sv.max() > 0 else 0
        if rank == 0:
            raise ValueError("The contrast matrix is zero; give at least one non-zero row.")
        if rank < Li.shape[0]:
            Lb = np.diag(sv[:rank]) @ vt[:rank]
            Lu = u[:, :rank].T @ L
        else:
            Lb, Lu = Li, L
        ddf, scale, q = kr_df_from_parts(Lb, self._phi, self._P, self._W)
        est = Lu @ np.asarray(beta, dtype=float)
        wald = float(est @ np.linalg.solve(Lu @ self.vcov() @ Lu.T, est))
        F_unscaled = wald / q
        return {"F": float(scale) * F_unscaled, "F_unscaled": F_unscaled, "scaling": float(scale),
                "num_df": q, "den_df": float(ddf)}

    def ftest(self, L, beta):
        """(F, num_df, den_df) of L beta = 0: pbkrtest's scaled F, as lmerTest's ``anova(ddf="Kenward-Roger")``."""
        out = self.ftest_table(L, beta)
        return out["F"], out["num_df"], out["den_df"]
