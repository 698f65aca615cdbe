"""The parametric bootstrap: simulate from the fitted model, refit, and read the spread.

Each replicate draws the random effects from their estimated covariance and the residuals
from N(0, sigma^2) around the fitted fixed part, and refits the same model (lme4's
``bootMer(type = "parametric")``).  A refit reuses everything that does not depend on the
response (the design, Z'Z, Z'X, X'X and the factorisation pattern; see
:meth:`lmmedu.stats.engine.LmmProblem.with_response`), so it costs one pass over y plus
the optimisation.

Reproducibility: replicate i always uses the i-th child of ``numpy.random.SeedSequence(seed)``,
so the replicates are the same for any ``n_jobs`` and any joblib backend (loky processes by
default; inside ``joblib.parallel_backend("dask")`` they run on a Dask cluster).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .engine import optimize_theta, single_threaded_blas
from .profile import check_level, check_mixed
from .results import is_fit, is_mixed
from .sdcor import VarPar

__all__ = ["BootstrapResult", "bootstrap", "pb_modcomp", "bootstrap_p", "with_bootstrap_p", "check_n"]

#: A simulated LRT below this is 0 up to the optimisers' tolerance (about 1e-8 in the deviance).
POSITIVE_LRT = 1e-6
#: lme4's isSingular tolerance on the diagonal of the relative covariance factor.
_SINGULAR_TOL = 1e-4


def check_n(n):
    """Refuse a number of bootstrap replicates that is not a positive integer."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (the number of bootstrap refits) must be a positive integer such as 1000, not {n!r}.")
    return int(n)


class _Model:
    """What a worker needs to simulate from one fit and to refit one fit: no data frame, no patsy objects."""

    def __init__(self, fit, cells=False):
        self.mixed = is_mixed(fit)
        self.cells = None
        X = fit.X
        self.mean = X @ np.asarray(fit.beta, float)
        self.sigma = float(fit.sigma)
        self.n = len(self.mean)
        if self.mixed:
            prob = copy.copy(fit.problem)
            prob.user_blocks = []  # patsy objects do not pickle, and a refit does not need them
            X_int = prob.X_int  # built once here rather than in every worker
            prob._Xi = X_int
            self.problem = prob
            self.reml = fit.reml
            self.start = np.asarray(fit.opt.x, float)
            # A term whose Z is one column of ones (a random intercept) needs no product with Z.
            self.terms = [(None if b.Z.shape[1] == 1 and np.all(b.Z == 1.0) else np.asarray(b.Z, float),
                           np.asarray(b.codes), len(b.levels), self.sigma * fit.problem.user_factor(fit.opt.x, i))
                          for i, b in enumerate(fit.blocks)]
            self.varpar = VarPar(prob, fit.blocks)
            self.n_beta = len(fit.names)
            if cells:
                # Rows sharing X row, groups and Z rows share their mean: simulate each cell's sum and the
                # within-cell sum of squares (sigma^2 chi-square(n - cells)) instead of every row.
                self.cells = prob.response_cells()
            if self.cells is not None:
                c = self.cells
                self.cell_mean = self.mean[c.first]
                self.cell_terms = [(None if Z is None else Z[c.first], codes[c.first], m, F)
                                   for Z, codes, m, F in self.terms]
                self.within_df = self.n - len(c.first)
                self.terms = self.mean = None  # the rows are not needed any more
                self.cells.inverse = None
                self.problem = prob.without_rows()
                self.varpar.problem = self.problem
        else:
            self.Q = np.linalg.qr(X - 0.0)[0] if X.shape[1] else np.zeros((self.n, 0))

    def simulate(self, rng):
        if self.cells is not None:
            n_c = self.cells.counts
            mean = self.cell_mean.copy()
            for Z, codes, m, F in self.cell_terms:
                b = rng.standard_normal((m, F.shape[0])) @ F.T
                mean += b[codes, 0] if Z is None else np.einsum("ij,ij->i", Z, b[codes])
            sums = n_c * mean + self.sigma * np.sqrt(n_c) * rng.standard_normal(len(n_c))
            within = self.sigma ** 2 * rng.chisquare(self.within_df) if self.within_df > 0 else 0.0
            return sums, within
        y = self.mean + self.sigma * rng.standard_normal(self.n)
        if self.mixed:
            for Z, codes, m, F in self.terms:
                b = rng.standard_normal((m, F.shape[0])) @ F.T  # (m, q): N(0, sigma^2 T T')
                y += b[codes, 0] if Z is None else np.einsum("ij,ij->i", Z, b[codes])
        return y

    def refit(self, y):
        """(fixed effects, variance parameters, log-likelihood, singular, converged) for response y."""
        if not self.mixed:
            rss = float(y @ y - np.sum((self.Q.T @ y) ** 2))
            return None, None, -0.5 * self.n * (np.log(2 * np.pi * rss / self.n) + 1.0), False, True
        if self.cells is not None:
            prob = self.problem.with_cell_sums(self.cells, y[0], y[1], start=self.start)
        else:
            prob = self.problem.with_response(y, start=self.start)  # refits end near the fitted theta
        opt = optimize_theta(prob)
        sol = prob.solve(opt.x)
        sigma = prob.sigma(sol)
        phi = self.varpar.from_theta(opt.x, sigma)
        singular = any(np.any(np.abs(np.diag(prob.user_factor(opt.x, i))) < _SINGULAR_TOL)
                       for i in range(len(self.problem.blocks)))
        return (np.asarray(sol.beta, float), phi, -0.5 * prob.profiled_deviance(sol), bool(singular),
                bool(opt.success))


def _run_chunk(sim, fits, seeds):
    """Simulate from ``sim`` with each seed and refit every model in ``fits``; one list of results per seed."""
    out = []
    with single_threaded_blas():
        for ss in seeds:
            y = sim.simulate(np.random.default_rng(ss))
            out.append([f.refit(y) for f in fits])
    return out


def _run(sim, fits, n, seed, n_jobs, progress):
    seeds = np.random.SeedSequence(seed).spawn(n)
    if n_jobs == 1:
        results = []
        step = max(1, n // 20)
        for start in range(0, n, step):
            results.extend(_run_chunk(sim, fits, seeds[start:start + step]))
            if progress:
                _report(progress, len(results), n)
        return results
    import joblib

    workers = joblib.effective_n_jobs(n_jobs)
    size = max(1, -(-n // (4 * workers)))  # a few chunks per worker: even load, little overhead
    chunks = [seeds[i:i + size] for i in range(0, n, size)]
    parts = joblib.Parallel(n_jobs=n_jobs, verbose=0)(joblib.delayed(_run_chunk)(sim, fits, c) for c in chunks)
    if progress:
        _report(progress, n, n)
    return [r for part in parts for r in part]


def _report(progress, done, n):
    if callable(progress):
        progress(done, n)
    else:
        print(f"bootstrap: {done}/{n} refits", flush=True)


def _check_n_jobs(n_jobs):
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer (1 = no parallelism, -1 = all cores), not {n_jobs!r}.")
    return int(n_jobs)


class BootstrapResult:
    """Parametric bootstrap replicates of a mixed model.

    Attributes
    ----------
    replicates : pandas.DataFrame
        One row per refit: the fixed effects, the random-part parameters (``sd_...``,
        ``cor_...``, ``sigma``; see :mod:`lmmedu.stats.sdcor`), ``loglik``, ``singular``
        and ``converged``.
    estimate : pandas.Series
        The fit's own estimates, in the order of :meth:`confint`'s rows.
    n, seed : int
    """

    def __init__(self, replicates, estimate, seed):
        self.replicates = replicates
        self.estimate = estimate
        self.n = len(replicates)
        self.seed = seed

    def confint(self, level=0.95):
        """Percentile intervals, laid out as :func:`lmmedu.confint` (``estimate, lower, upper``).

        Examples
        --------
        >>> import lmmedu
        >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
        >>> lmmedu.bootstrap(m, n=20, seed=1).confint().columns.tolist()
        ['estimate', 'lower', 'upper']
        """
        level = check_level(level)
        names = list(self.estimate.index)
        q = self.replicates[names].quantile([(1 - level) / 2, (1 + level) / 2])
        out = pd.DataFrame({"estimate": self.estimate.to_numpy(), "lower": q.iloc[0].to_numpy(),
                            "upper": q.iloc[1].to_numpy()}, index=pd.Index(names, name="parameter"))
        notes = []
        n_sing = int(self.replicates["singular"].sum())
        if n_sing:
            notes.append(f"{n_sing} of {self.n} refits were singular (a variance estimated at zero); their zeros "
                         "are part of the percentile intervals, which is why a lower limit can be 0.")
        out.attrs.update(method="bootstrap", level=level, n=self.n, notes=notes,
                         at_zero=[r for r in names if r.startswith("sd_") and out.loc[r, "lower"] == 0.0])
        return out

    def __repr__(self):
        return f"<BootstrapResult: {self.n} parametric refits, seed={self.seed}>"


def bootstrap(fit, n=1000, seed=None, n_jobs=1, progress=False):
    """Parametric bootstrap of a mixed model: simulate from the fit, refit, ``n`` times.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit
    n : int, default 1000
        Number of simulated data sets (refits).
    seed : int, optional
        Seed of ``numpy.random.SeedSequence``; the same seed gives the same replicates
        for any ``n_jobs``.
    n_jobs : int, default 1
        Parallel workers through joblib (-1: all cores).  Inside
        ``with joblib.parallel_backend("dask"):`` the refits run on a Dask cluster.
    progress : bool or callable, default False
        True prints a line now and then; a callable is called as ``progress(done, n)``.

    Returns
    -------
    BootstrapResult
        ``.replicates`` (one row per refit) and ``.confint(level)`` (percentile intervals).

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> boot = lmmedu.bootstrap(m, n=20, seed=1)
    >>> boot.replicates.shape[0]
    20
    """
    check_mixed(fit, "The parametric bootstrap")
    n = check_n(n)
    n_jobs = _check_n_jobs(n_jobs)
    model = _Model(fit, cells=True)
    results = _run(model, [model], n, seed, n_jobs, progress)
    names = list(model.varpar.names)
    beta = np.array([r[0][0] for r in results])
    phi = np.array([r[0][1] for r in results])
    reps = pd.DataFrame(np.column_stack([phi, beta]), columns=names + list(fit.names))
    reps["loglik"] = [r[0][2] for r in results]
    reps["singular"] = [r[0][3] for r in results]
    reps["converged"] = [r[0][4] for r in results]
    est = pd.Series(np.concatenate([model.varpar.from_theta(fit.opt.x, fit.sigma), fit.beta]),
                    index=names + list(fit.names))
    return BootstrapResult(reps, est, seed)


def pb_modcomp(small, big, n=1000, seed=None, n_jobs=1, progress=False):
    """Parametric-bootstrap likelihood-ratio test of two nested fits (pbkrtest's ``PBmodcomp``).

    Data are simulated from the smaller model, both models are refitted to each data set,
    and the p-value is ``(1 + #{LRT* >= LRT}) / (1 + n)``.  The fits must be comparable as
    :func:`lmmedu.anova` requires (ML for different fixed effects; the smaller may be an lm).

    ``PBmodcomp`` refits REML models by ML before computing the observed LRT and refits every
    simulated data set by ML; lmmedu refits nothing silently, so two REML fits (same fixed effects)
    are simulated from and refitted by REML, the REML LRT that :func:`lmmedu.anova` prints (lme4's
    ``refit = FALSE``), and PBmodcomp's numbers come from ML fits (``reml=False``): with those the
    observed LRT is PBmodcomp's and the p-values agree within Monte Carlo error
    (tests/test_pbmodcomp_r.py).

    Returns
    -------
    dict
        ``LRT`` (observed), ``p`` (bootstrap), ``n`` (refits used: pairs whose likelihoods
        could be computed), ``lrt`` (ndarray of the simulated statistics), ``seed``, and
        ``p_positive``: the p-value ``PBmodcomp`` prints as ``PBtest``, which keeps only the
        simulated LRT above 0, ``(1 + #{LRT* >= LRT}) / (1 + #{LRT* > 0})``.

    Notes
    -----
    ``p`` counts every simulation.  When the test is about a variance, many simulated data sets
    give LRT* = 0 (the larger model's extra variance is estimated at zero); they are draws from
    the null distribution like any other, and dropping them, as ``PBmodcomp``'s ``PBtest`` does,
    roughly doubles the p-value of a boundary test (about that of the naive chi-square).  A
    simulated LRT* below ``POSITIVE_LRT`` counts as 0 for ``p_positive`` (optimiser noise).

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(genes=("A",), seed=1)
    >>> big = lmmedu.fit("log(length) ~ treatment + (1|replicate)", df, reml=False)
    >>> small = lmmedu.fit("log(length) ~ 1 + (1|replicate)", df, reml=False)
    >>> res = pb_modcomp(small, big, n=19, seed=1)
    >>> 0 < res["p"] <= 1
    True
    """
    n = check_n(n)
    n_jobs = _check_n_jobs(n_jobs)
    for f in (small, big):
        if not is_fit(f):
            raise ValueError(f"Both models must be fits made by lmmedu.fit or lmmedu.fit_lm, not {type(f).__name__}.")
    sim = _Model(small)
    models = [sim, _Model(big)]
    results = _run(sim, models, n, seed, n_jobs, progress)
    lrt = np.array([2.0 * (r[1][2] - r[0][2]) for r in results])
    observed = 2.0 * (float(big.loglik) - float(small.loglik))
    res = bootstrap_p(observed, lrt)
    return {"LRT": observed, "p": res["p"], "p_positive": res["p_positive"], "n": res["n"], "lrt": lrt, "seed": seed}


def bootstrap_p(observed, simulated):
    """The parametric-bootstrap p-value of an observed LRT from simulated ones (as :func:`pb_modcomp`).

    Parameters
    ----------
    observed : float
        The LRT of the data, 2 x (log-likelihood of the larger model - that of the smaller).
    simulated : array_like
        The LRT of each data set simulated from the smaller model (non-finite values, refits that
        failed, are left out).

    Returns
    -------
    dict
        ``p`` = (1 + #{LRT* >= LRT}) / (1 + n), ``p_positive`` (counting only LRT* > 0, as
        ``PBmodcomp``'s printed ``PBtest``; see :func:`pb_modcomp`), ``n``, the simulations used,
        and ``hits``, the number of them with LRT* >= LRT.

    Examples
    --------
    >>> bootstrap_p(3.0, [0.1, 0.0, 4.2, 1.0])
    {'p': 0.4, 'p_positive': 0.5, 'n': 4, 'hits': 1}
    """
    lrt = np.asarray(simulated, dtype=float).ravel()
    observed = float(observed)
    if not np.isfinite(observed):
        raise ValueError(f"observed must be a finite likelihood-ratio statistic, not {observed!r}.")
    ok = np.isfinite(lrt)
    if not ok.any():
        raise ValueError("simulated holds no finite likelihood-ratio statistic; every refit failed, so there is "
                         "nothing to compare the observed one with.")
    # A simulated LRT a rounding error below the observed one counts as reaching it (pbkrtest uses >).
    tol = 1e-8 * max(1.0, abs(observed))
    hits = np.sum(lrt[ok] >= observed - tol)
    p = (1.0 + hits) / (1.0 + ok.sum())
    positive = ok & (lrt > POSITIVE_LRT)
    p_positive = (1.0 + np.sum(lrt[positive] >= observed - tol)) / (1.0 + positive.sum())
    return {"p": float(p), "p_positive": float(p_positive), "n": int(ok.sum()), "hits": int(hits)}


def with_bootstrap_p(table, small, big, n=1000, seed=None, n_jobs=1):
    """``table`` (from :func:`lmmedu.anova`) with the parametric-bootstrap p-value beside the chi-square one.

    Adds a column ``p_boot`` (on the larger model's row, from :func:`pb_modcomp`) and a note saying
    how it was computed (and how it differs from ``PBmodcomp``'s printed ``PBtest``, and, for REML
    fits, that ``PBmodcomp`` refits REML models by ML before computing the LRT, which lmmedu does not).
    """
    res = pb_modcomp(small, big, n=n, seed=seed, n_jobs=n_jobs)
    table = table.copy()
    table["p_boot"] = [np.nan, res["p"]]
    notes = list(table.attrs.get("notes", []))
    notes.append(f"p_boot: parametric bootstrap (pbkrtest's PBmodcomp): {res['n']} data sets simulated from the "
                 "smaller model and both models refitted to each; p = (1 + number of simulated LRT at least the "
                 f"observed one) / (1 + {res['n']}), so it cannot be below {1 / (1 + res['n']):.2g}. "
                 "Simulations with LRT = 0 count (PBmodcomp's printed PBtest drops them: "
                 f"{res['p_positive']:.3g} here).")
    if is_mixed(small) and small.reml:
        notes.append("Both fits are REML, so the bootstrap simulates and refits by REML and reads the REML LRT above; "
                     "pbkrtest's PBmodcomp refits REML models by ML first, so for its numbers fit both with "
                     "reml=False.")
    table.attrs["notes"] = notes
    return table
