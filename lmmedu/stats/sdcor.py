"""Variance parameters on the scale people read: SDs, correlations and the residual SD.

The engine works with theta, the relative covariance factor in its own (centred, scaled)
coordinates.  Intervals, profiles and the bootstrap speak of standard deviations and
correlations instead, named as lme4's ``confint(fit, oldNames = FALSE)``:

===============================  ==============================  ===========================
lme4                             lmmedu                          meaning
===============================  ==============================  ===========================
``sd_(Intercept)|Subject``       ``sd_Intercept|Subject``        SD of the random intercept
``sd_Days|Subject``              ``sd_Days|Subject``             SD of the random slope
``cor_Days.(Intercept)|Subject`` ``cor_Intercept.Days|Subject``  their correlation
``sigma``                        ``sigma``                       residual SD
===============================  ==============================  ===========================

Coefficient names are lmmedu's (``Intercept``, patsy names for the others, as in
``fit.varcomp``); a correlation names its pair in ``varcomp``'s (term, term2) order, where
lme4 writes the second column first.  Rows come in lme4's order: per term, the lower
triangle of its covariance column by column, then ``sigma``.
"""

from __future__ import annotations

import numpy as np

from .groupwise import lower_factor

__all__ = ["VarPar"]

_LOG2PI = np.log(2 * np.pi)


class VarPar:
    """The map between the engine's theta and (SDs, correlations, sigma) for one model.

    Parameters
    ----------
    problem : lmmedu.stats.engine.LmmProblem
    blocks : list of lmmedu.stats.design.RandomBlock
        The fit's random terms (for the names).

    Attributes
    ----------
    names : list of str
        ``sd_<coef>|<group>``, ``cor_<coef1>.<coef2>|<group>`` and ``sigma``.
    kind : ndarray of str
        ``"sd"``, ``"cor"`` or ``"sigma"`` for each name.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)",
    ...                lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> VarPar(m.problem, m.blocks).names
    ['sd_Intercept|replicate', 'cor_Intercept.treatment[T.drug]|replicate', 'sd_treatment[T.drug]|replicate', 'sigma']
    """

    def __init__(self, problem, blocks):
        self.problem = problem
        self.names, kind, self._where = [], [], []
        for i, b in enumerate(blocks):
            rows, cols = problem.tri[i]
            for r, c in zip(rows, cols):
                if r == c:
                    self.names.append(f"sd_{b.names[r]}|{b.term.group}")
                    kind.append("sd")
                else:
                    self.names.append(f"cor_{b.names[c]}.{b.names[r]}|{b.term.group}")
                    kind.append("cor")
                self._where.append((i, r, c))
        self.names.append("sigma")
        kind.append("sigma")
        self.kind = np.array(kind)
        self._Ainv = [np.linalg.inv(A) for A in problem.block_A]

    def from_theta(self, theta, sigma):
        """(SDs, correlations, sigma) in the order of ``names`` from internal theta and sigma.

        A correlation of a term whose SD is zero is undefined; it is reported as 0.
        """
        out = np.empty(len(self.names))
        covs = {}
        for k, (i, r, c) in enumerate(self._where):
            if i not in covs:
                T = self.problem.user_factor(theta, i)
                covs[i] = T @ T.T
            C = covs[i]
            if r == c:
                out[k] = sigma * np.sqrt(max(C[r, r], 0.0))
            else:
                den = np.sqrt(C[r, r] * C[c, c])
                out[k] = C[r, c] / den if den > 0 else 0.0
        out[-1] = sigma
        return out

    def to_theta(self, phi):
        """Internal theta from (SDs, correlations, sigma); None where the correlations are not valid."""
        sigma = phi[-1]
        theta = np.zeros(self.problem.n_theta)
        for i in range(len(self.problem.blocks)):
            q = self.problem.blocks[i].Z.shape[1]
            sd = np.zeros(q)
            R = np.eye(q)
            sl = self.problem.theta_slices[i]
            for k in range(len(self._where)):
                j, r, c = self._where[k]
                if j != i:
                    continue
                if r == c:
                    sd[r] = phi[k]
                else:
                    R[r, c] = R[c, r] = phi[k]
            if q == 1:
                Lc = R
            else:
                try:
                    Lc = np.linalg.cholesky(R)
                except np.linalg.LinAlgError:
                    # A correlation of exactly +/-1 (2 x 2) is valid though singular.
                    if np.linalg.eigvalsh(R)[0] < -1e-12:
                        return None
                    Lc = np.linalg.cholesky(R + 1e-12 * np.eye(q))
            Tu = (sd / sigma)[:, None] * Lc
            T = lower_factor(self._Ainv[i] @ Tu)
            rows, cols = self.problem.tri[i]
            theta[sl] = T[rows, cols]
        return theta

    def lower_bounds(self):
        """0 for SDs and sigma, -1 for correlations."""
        return np.where(self.kind == "cor", -1.0, 0.0)

    def upper_bounds(self):
        """1 for correlations, no bound otherwise."""
        return np.where(self.kind == "cor", 1.0, np.inf)


def ml_deviance(problem, theta, sigma):
    """-2 log-likelihood (ML) at theta and sigma, the fixed effects at their best values for them.

    ``logdet_L + r2 / sigma^2 + n log(2 pi sigma^2)``; inf where the system cannot be factored.
    """
    try:
        s = problem.solve(theta)
    except np.linalg.LinAlgError:
        return np.inf
    s2 = sigma * sigma
    return float(s.logdet_L + s.r2 / s2 + problem.n * (_LOG2PI + np.log(s2)))
