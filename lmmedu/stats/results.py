"""Fit results: coefficient tables, variance components, predictions, summary().

Both result classes follow one contract, the :class:`Fit` protocol, which the
interpretation layer relies on: ``beta``, ``vcov``, ``names``, ``design``
(builds X for new data), ``df_for(L)`` (denominator df of any contrast),
``coefs``, and ``mixed`` (the one way to tell a mixed fit from an lm).  A mixed fit's
df come from its df method (:mod:`lmmedu.stats.ddf`): ``fit.ddf`` names it and
``fit.ddf_method(ddf)`` gives it, or another one, for the same fit.
"""

from __future__ import annotations

import functools
import warnings
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .convergence import convergence_message
from .ddf import make_method, resolve
from .derivatives import DevianceDerivatives
from .design import least_squares
from .display import Summary, coef_lines, mixed_summary
from .satterthwaite import t_table

__all__ = ["Fit", "LmFit", "MixedFit", "Summary", "COEF_COLUMNS", "is_fit", "is_mixed"]

#: Columns of every ``coefs`` table.
COEF_COLUMNS = ["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
_COEF_INDEX = pd.Index(COEF_COLUMNS)


@runtime_checkable
class Fit(Protocol):
    """What every fit offers: :class:`LmFit` and :class:`MixedFit` follow it.

    ``mixed`` is True for a mixed model; test it (or :func:`is_mixed`)
    rather than the class or other attributes.
    """

    mixed: bool
    formula: str
    names: list
    beta: np.ndarray
    vcov: pd.DataFrame
    coefs: pd.DataFrame
    nobs: int
    reml: bool
    loglik: float

    def df_for(self, L, ddf=None): ...

    def contrast(self, L, names=None, level=0.95, ddf=None): ...

    def predict(self, newdata=None): ...


def is_fit(obj):
    """True for a fit made by ``lmmedu.fit`` or ``lmmedu.fit_lm``.

    Examples
    --------
    >>> is_fit(3.0)
    False
    """
    return isinstance(obj, Fit)


def is_mixed(obj):
    """True for a mixed-model fit (``lmmedu.fit``), False for an lm or anything else.

    Examples
    --------
    >>> import lmmedu
    >>> is_mixed(lmmedu.fit_lm("log(length) ~ treatment", lmmedu.simulate_replicates(genes=("A",))))
    False
    """
    return is_fit(obj) and bool(obj.mixed)


class _FitBase:
    """What lm and mixed-model fits have in common."""

    mixed = False

    def _store_inputs(self, formula, parsed, frame, design):
        self.formula = formula
        self.parsed = parsed
        self.data = frame.data
        self.y = frame.y
        self.design = design
        self.names = list(design.names)

    @property
    def X(self):
        """The fixed-effects matrix of the fit data (built on first use for a design of factors)."""
        return self.design.X

    def _finish_coefs(self, df):
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        table = t_table(self.beta, se, df)
        # One 2-D block: a dict of columns cost pandas a conversion per column.
        # Index objects rather than lists: pandas infers a list's dtype, which cost more than the table.
        terms = self.vcov.index.rename("term")
        self.coefs = pd.DataFrame(np.column_stack([table[c] for c in COEF_COLUMNS]), index=terms,
                                  columns=_COEF_INDEX.copy())

    @property
    def response(self):
        """The response as written in the formula, e.g. ``'log(length)'``."""
        return self.parsed.response

    @property
    def transform(self):
        """Name of the response transform (e.g. ``'log'``) or None."""
        return self.parsed.transform

    def model_matrix(self, newdata=None):
        """Fixed-effects model matrix of the fit data, or of ``newdata``."""
        if newdata is None:
            return self.X
        return self.design.matrix_for(newdata)

    def contrast(self, L, names=None, level=0.95, ddf=None):
        """Estimate, SE, df, t, p and CI for each row of the contrast matrix L.

        Parameters
        ----------
        L : array_like (c, p) or pandas.DataFrame with columns named like ``names``
        names : list of str, optional
            Row labels.
        level : float
            Confidence level.
        ddf : str, optional
            df method of a mixed fit (see :mod:`lmmedu.stats.ddf`); default the fit's own.
            SEs then use that method's covariance (Kenward-Roger adjusts it).

        Returns
        -------
        pandas.DataFrame
            Columns as in :data:`COEF_COLUMNS`.

        Examples
        --------
        >>> import lmmedu
        >>> fit = lmmedu.fit_lm("log(length) ~ treatment", lmmedu.simulate_replicates(genes=("A",)))
        >>> fit.contrast([[0, 1]], names=["drug - control"]).columns.tolist()
        ['estimate', 'se', 'df', 't', 'p', 'ci_low', 'ci_high']
        """
        if isinstance(L, pd.DataFrame):
            names = list(L.index) if names is None else names
            L = L.reindex(columns=self.names, fill_value=0.0).to_numpy(dtype=float)
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(self.names):
            raise ValueError(f"The contrast has {L.shape[1]} columns but the model has {len(self.names)} coefficients.")
        est = L @ self.beta
        se = np.sqrt(np.einsum("ck,kl,cl->c", L, self._vcov_for(ddf), L))
        tab = pd.DataFrame(t_table(est, se, self.df_for(L, ddf=ddf), level=level))
        if names is not None:
            tab.index = pd.Index(names, name="contrast")
        return tab[COEF_COLUMNS]

    def fitted(self):
        """Fitted values on the (transformed) response scale."""
        return self.predict()

    def residuals(self):
        """Response minus fitted values (conditional on random effects for mixed fits)."""
        return self.y - self.fitted()


class LmFit(_FitBase):
    """Ordinary least squares fit of the fixed part of a formula.

    Attributes
    ----------
    coefs : pandas.DataFrame
        One row per term: estimate, se, df (residual df), t, p, ci_low, ci_high.
    vcov : pandas.DataFrame
        Covariance matrix of the estimates.
    sigma : float
        Residual standard deviation.
    df_resid : int
        n - p.
    loglik, aic, bic : float
        Maximum-likelihood log-likelihood and information criteria.
    perfect_fit : bool
        True when the residuals are zero up to rounding; then se, t, p, the CI and
        ``vcov`` are NaN (with a warning) instead of the meaningless t ~ 1e16 that rounding would give.

    Notes
    -----
    Columns aliased with earlier ones (R's ``lm`` tolerance 1e-7, see
    :func:`lmmedu.stats.design.fixed_design`) are dropped with a warning and have no row in
    ``coefs``, where R's ``lm`` prints NA.
    """


    def __init__(self, formula, parsed, frame, design):
        self._store_inputs(formula, parsed, frame, design)
        self.nobs, p = self.X.shape
        self.df_resid = self.nobs - p
        if self.df_resid <= 0:
            raise ValueError(
                f"The model has {p} coefficients but only {self.nobs} observations; it needs more observations "
                "than coefficients."
            )
        # QR on centred columns (as R's lm uses QR): a covariate such as x + 1e8 keeps its slope.
        self.beta, xtx_inv = least_squares(self.X, self.y)
        resid = self.y - self.X @ self.beta
        self.rss = float(resid @ resid)
        self.sigma = float(np.sqrt(self.rss / self.df_resid))
        self.vcov = pd.DataFrame(self.sigma**2 * xtx_inv, index=self.names, columns=self.names)
        self._finish_coefs(np.full(p, float(self.df_resid)))
        self.perfect_fit = _perfect_fit(self.y - resid, self.sigma)
        if self.perfect_fit:
            # Residuals at rounding level would give t ~ 1e16 and p < 2e-16: numbers with no meaning.
            self.coefs = self.coefs.assign(se=np.nan, t=np.nan, p=np.nan, ci_low=np.nan, ci_high=np.nan)
            self.vcov = self.vcov * np.nan  # so contrasts and emmeans say the same as the table
            warnings.warn(
                f"The lm fits the response exactly (residual SD {self.sigma:.2g}, zero up to rounding), so standard "
                "errors, t and p values are meaningless and are reported as NaN; check that the response is not "
                "computed from the predictors.",
                UserWarning,
                stacklevel=3,
            )
        n = self.nobs
        self.loglik = float(-0.5 * n * (np.log(2 * np.pi * self.rss / n) + 1))
        k = p + 1
        self.aic = -2 * self.loglik + 2 * k
        self.bic = -2 * self.loglik + np.log(n) * k
        self.reml = False

    def df_for(self, L, ddf=None):
        """Residual df for every contrast: OLS has a single error stratum.

        ``ddf`` is checked but changes nothing: Satterthwaite and Kenward-Roger both give the
        residual df for an lm.
        """
        if ddf is not None:
            resolve(ddf)
        L = np.atleast_2d(L)
        return np.full(L.shape[0], float(self.df_resid))

    def _vcov_for(self, ddf):
        return self.vcov.to_numpy()

    def predict(self, newdata=None):
        """Predictions on the (transformed) response scale."""
        return self.model_matrix(newdata) @ self.beta

    def summary(self):
        """A text summary laid out like R's ``summary(lm(...))``."""
        lines = ["Ordinary least squares (lm) fit", f"Formula: {self.parsed.fixed_formula_r}", ""]
        lines += coef_lines(self.coefs, "Coefficients:")
        lines += ["", f"Residual standard error: {self.sigma:.4g} on {self.df_resid} degrees of freedom",
                  f"Number of obs: {self.nobs}"]
        return Summary("\n".join(lines))

    def __repr__(self):
        return f"<LmFit {self.parsed.fixed_formula_r!r}: n={self.nobs}, sigma={self.sigma:.4g}>"


class MixedFit(_FitBase):
    """A linear mixed model fitted by REML or ML.

    Attributes
    ----------
    coefs : pandas.DataFrame
        One row per fixed-effect term (statsmodels names): estimate, se, df
        (the fit's df method, as lmerTest's summary), t, p, ci_low, ci_high (95%, t-based).
    ddf : str
        The df method of ``coefs``, contrasts and F tests: ``"Satterthwaite"`` (default),
        ``"Kenward-Roger"`` or ``"asymptotic"`` (see :mod:`lmmedu.stats.ddf`).
    vcov : pandas.DataFrame
        Covariance matrix of the fixed effects the df method uses: sigma^2 (X'V^-1X)^-1 for
        Satterthwaite (lme4's ``vcov``), the Kenward-Roger adjusted one for Kenward-Roger.
    derivatives : lmmedu.stats.derivatives.DevianceDerivatives
        Gradient and Hessian of the deviance in the variance parameters at the estimate.
    varcomp : pandas.DataFrame
        Variance components: group, term, term2 (for covariances), variance,
        sd, corr; the last row is the residual.
    sigma : float
        Residual standard deviation.
    loglik : float
        Log-likelihood (the REML log-likelihood for REML fits, as lme4).
    deviance : float
        -2 loglik (the REML criterion for REML fits).
    aic, bic : float
        Information criteria from ``loglik``.
    nobs : int
        Observations used.
    ngroups : dict
        Number of levels of each grouping factor.
    ranef : dict of pandas.DataFrame
        Conditional modes of the random effects, one table per grouping factor.
    theta : ndarray
        Relative covariance parameters (lme4's theta).
    converged : bool
    singular : bool
        True when a variance is estimated at (or next to) zero.
    singular_message : str
        Plain-language explanation when ``singular``.
    df_message : str
        Plain-language warning when the df cannot be trusted (e.g. the deviance's
        Hessian in the variance parameters is not positive definite); empty otherwise.
    """

    mixed = True

    def __init__(self, formula, parsed, frame, design, blocks, problem, opt, reml, ddf="satterthwaite"):
        self._store_inputs(formula, parsed, frame, design)
        self.blocks = blocks
        self.problem = problem
        self.reml = bool(reml)
        self.opt = opt
        self.nobs = problem.n
        sol = problem.solve(opt.x)
        self._solution = sol
        # lme4's theta on the user's scale (the engine may work on centred, scaled columns).
        self.theta = problem.user_theta(opt.x)
        self.sigma = problem.sigma(sol)
        self.beta = sol.beta
        self.deviance = problem.profiled_deviance(sol)
        self.loglik = -0.5 * self.deviance
        k = len(self.names) + problem.n_theta + 1
        self.aic = self.deviance + 2 * k
        self.bic = self.deviance + np.log(self.nobs) * k
        self.ngroups = {}
        for b in blocks:
            self.ngroups[b.term.group] = len(b.levels)
        self._modes = problem.conditional_modes(sol)
        self.singular, self.singular_message = self._singularity()
        self.derivatives = DevianceDerivatives(problem, sol)
        self.convergence_message = "" if not opt.success else convergence_message(problem, self.derivatives)
        if not opt.success:
            self.convergence_message = (f"The optimiser stopped without converging ({opt.message}), so the "
                                        "estimates may not be at the optimum: rescale the covariates or simplify "
                                        "the random part.")
        self.converged = not self.convergence_message
        if self.convergence_message and not problem.aliased:
            warnings.warn(self.convergence_message, UserWarning, stacklevel=3)
        entry = resolve(ddf)
        self.ddf = entry.name
        self._methods = {}
        method = self.ddf_method()
        names = pd.Index(self.names)
        self.vcov = pd.DataFrame(method.vcov(), index=names, columns=names)
        self.df_message = ""
        duplicate = [f"({'1' if self.blocks[i].names[a] == 'Intercept' else self.blocks[i].names[a]}"
                     f"|{self.blocks[i].term.group})" for i, a in problem.aliased]
        if duplicate:
            self.df_message = (
                f"The random term {', '.join(duplicate)} repeats a fixed effect, so its variance cannot be told "
                f"apart from the fixed effects and {self.ddf} df are undefined (NaN): drop the grouping factor "
                "from the fixed part, or drop the random term (simplify the random part)."
            )
            warnings.warn(self.df_message, UserWarning, stacklevel=3)
        elif getattr(method, "warning", "") and not self.singular:
            self.df_message = method.warning
        self._finish_coefs(self.df_for(np.eye(len(self.names))))

    # ------------------------------------------------------------------
    def ddf_method(self, ddf=None):
        """The df method object (interface in :mod:`lmmedu.stats.ddf`): the fit's own, or ``ddf``.

        Built once per method and kept.

        Raises
        ------
        ValueError
            For an unknown method, or Kenward-Roger on an ML fit.
        """
        entry = resolve(self.ddf if ddf is None else ddf)
        if entry.key not in self._methods:
            self._methods[entry.key] = make_method(entry, self.problem, self._solution, self.reml,
                                                   derivatives=self.derivatives)
        return self._methods[entry.key]

    def df_for(self, L, ddf=None):
        """Denominator df for each row of the contrast matrix ``L`` (the fit's df method, or ``ddf``).

        NaN throughout when a random term repeats a fixed effect (see ``df_message``).
        """
        df = self.ddf_method(ddf).df(L)
        return np.full(df.shape, np.nan) if self.problem.aliased else df

    def _vcov_for(self, ddf):
        if ddf is None or resolve(ddf).name == self.ddf:
            return self.vcov.to_numpy()
        return self.ddf_method(ddf).vcov()

    # varcomp and ranef are tables for reading, built on first use: building them with every
    # fit cost a widget refit or a simulation study's fit more than the optimisation.
    @functools.cached_property
    def varcomp(self):
        """Variance components (see the class docstring)."""
        return self._varcomp()

    @functools.cached_property
    def ranef(self):
        """Conditional modes of the random effects (see the class docstring)."""
        return self._ranef(self._modes)

    def _varcomp(self):
        rows = []
        for i, b in enumerate(self.blocks):
            T = self.problem.user_factor(self.opt.x, i)
            cov = self.sigma**2 * T @ T.T
            sd = np.sqrt(np.diag(cov))
            for a, name in enumerate(b.names):
                rows.append({"group": b.term.group, "term": name, "term2": None,
                             "variance": cov[a, a], "sd": sd[a], "corr": np.nan})
            for a in range(len(b.names)):
                for c in range(a + 1, len(b.names)):
                    corr = cov[a, c] / (sd[a] * sd[c]) if sd[a] > 0 and sd[c] > 0 else np.nan
                    rows.append({"group": b.term.group, "term": b.names[a], "term2": b.names[c],
                                 "variance": cov[a, c], "sd": np.nan, "corr": corr})
        rows.append({"group": "Residual", "term": None, "term2": None,
                     "variance": self.sigma**2, "sd": self.sigma, "corr": np.nan})
        return pd.DataFrame(rows, columns=["group", "term", "term2", "variance", "sd", "corr"])

    def _ranef(self, modes):
        out = {}
        for b, vals in zip(self.blocks, modes):
            frame = pd.DataFrame(vals, index=pd.Index(b.levels, name=b.term.group), columns=b.names)
            if b.term.group in out:
                out[b.term.group] = pd.concat([out[b.term.group], frame], axis=1)
            else:
                out[b.term.group] = frame
        return out

    def conditional_variances(self):
        """Conditional covariance of each group's random effects, as lme4's ``ranef(fit, condVar = TRUE)``.

        ``sigma^2 [Lambda (Lambda'Z'Z Lambda + I)^-1 Lambda']`` restricted to each level, with
        the variance parameters and the fixed effects at their estimates (their own
        uncertainty is not included, as in lme4).

        Returns
        -------
        dict of str -> ndarray (m, q, q)
            One array per grouping factor, rows and columns in the order of ``ranef[group]``'s
            columns. When one factor has several separate terms (``(x||g)``), covariances
            between the terms are not computed and are NaN.

        Examples
        --------
        >>> import lmmedu
        >>> m = lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)",
        ...                lmmedu.simulate_replicates(genes=("A",), seed=1))
        >>> m.conditional_variances()["replicate"].shape
        (4, 2, 2)
        """
        from .condvar import conditional_covariances

        if getattr(self, "_condvar", None) is None:
            factors = [self.problem.factor(self.theta, i) for i in range(len(self.blocks))]
            per_block = conditional_covariances(self.blocks, factors, self.sigma)
            out = {}
            for b, cov in zip(self.blocks, per_block):
                group = b.term.group
                if group in out:  # another term of the same factor: block diagonal, unknown cross terms
                    old = out[group]
                    m, q0, q1 = old.shape[0], old.shape[1], cov.shape[1]
                    merged = np.full((m, q0 + q1, q0 + q1), np.nan)
                    merged[:, :q0, :q0] = old
                    merged[:, q0:, q0:] = cov
                    out[group] = merged
                else:
                    out[group] = cov
            self._condvar = out
        return {g: v.copy() for g, v in self._condvar.items()}

    def ranef_table(self):
        """Conditional modes and conditional SDs, one row per group level and term.

        The tidy counterpart of R's ``as.data.frame(ranef(fit, condVar = TRUE))``.

        Returns
        -------
        pandas.DataFrame
            Columns ``group`` (grouping factor), ``term`` (patsy naming, e.g. ``Intercept``),
            ``level``, ``mode`` (conditional mode) and ``sd`` (conditional SD).

        Examples
        --------
        >>> import lmmedu
        >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
        >>> m.ranef_table().columns.tolist()
        ['group', 'term', 'level', 'mode', 'sd']
        """
        cov = self.conditional_variances()
        rows = []
        for group, frame in self.ranef.items():
            sds = np.sqrt(np.diagonal(cov[group], axis1=1, axis2=2))
            for k, term in enumerate(frame.columns):
                rows.append(pd.DataFrame({"group": group, "term": term, "level": frame.index.astype(str),
                                          "mode": frame[term].to_numpy(), "sd": sds[:, k]}))
        return pd.concat(rows, ignore_index=True)

    def _singularity(self):
        # lme4's isSingular: a diagonal element of theta (bounded at 0) below 1e-4.
        lows = []
        for i, b in enumerate(self.blocks):
            T = self.problem.user_factor(self.opt.x, i)
            for a, name in enumerate(b.names):
                if abs(T[a, a]) < 1e-4:
                    lows.append((b.term.group, name, len(b.names) > 1 and a > 0))
        if not lows:
            return False, ""
        parts = []
        for group, name, maybe_corr in lows:
            what = "random intercept" if name == "Intercept" else f"random slope of {name}"
            extra = " (or its correlation is estimated at +/-1)" if maybe_corr else ""
            parts.append(f"the {what} for '{group}' has variance (nearly) zero{extra}")
        msg = (
            "Singular fit: " + "; ".join(parts) + ". The data carry no detectable variation of that kind "
            "beyond residual noise, so the model is at the edge of its parameter space. Do not read its zero as "
            "proof that the variation does not exist: if the design lets that effect differ between groups, keep "
            "the term, as the design calls for it; otherwise simplify the random part."
        )
        return True, msg

    # ------------------------------------------------------------------
    def predict(self, newdata=None, include_random=True):
        """Predictions on the (transformed) response scale.

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Defaults to the data the model was fitted on.
        include_random : bool
            Add the conditional modes of the groups (unknown groups get 0,
            i.e. the population-level prediction).

        Returns
        -------
        ndarray
        """
        data = self.data if newdata is None else newdata
        X = self.X if newdata is None else self.design.matrix_for(data)
        pred = X @ self.beta
        if include_random:
            for b, vals in zip(self.blocks, self._modes):
                if newdata is None:
                    Z, codes = b.Z, b.codes
                else:
                    Z, codes = b.matrix_for(data), b.codes_for(data)
                known = codes >= 0
                contrib = np.zeros(len(pred))
                contrib[known] = (Z[known] * vals[codes[known]]).sum(axis=1)
                pred = pred + contrib
        return pred

    def summary(self):
        """A text summary laid out like lme4's ``summary(lmer(...))`` with lmerTest df (the fit's df method)."""
        return mixed_summary(self)

    def __repr__(self):
        crit = "REML" if self.reml else "ML"
        return f"<MixedFit {self.formula!r} by {crit}: n={self.nobs}, loglik={self.loglik:.4f}>"


def _perfect_fit(fitted, sigma):
    """R's summary.lm test for an "essentially perfect fit", a little wider for rounding in QR."""
    if fitted.size == 0:
        return sigma == 0
    return bool(sigma**2 <= 1e-28 * (np.mean(fitted) ** 2 + np.var(fitted)))
