"""Likelihood-ratio tests of nested fits, laid out like R's ``anova()``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats

from .bootstrap import with_bootstrap_p
from .results import is_fit, is_mixed

__all__ = ["anova"]


def anova(fit_a, fit_b, names=None, method="chisq", n=1000, seed=None, n_jobs=1):
    """Likelihood-ratio test of two nested models, laid out like R's ``anova()``.

    The models must be fitted to the same rows and response. Which
    likelihoods may be compared:

    * different fixed effects: both fits by maximum likelihood
      (``lmmedu.fit(..., reml=False)``); REML likelihoods of models with
      different fixed effects are not comparable.  R's ``anova()`` silently
      refits REML models by ML; lmmedu refuses and says so instead.
    * same fixed effects, different random terms: both ML, or both REML
      (as lme4's ``anova(..., refit = FALSE)``).
    * an lm (:func:`lmmedu.fit_lm`) against a mixed model with the same fixed
      effects: the mixed model must be fitted by ML, since the lm's
      log-likelihood is the ML one.

    When the fixed effects are the same the test is about variances, which
    are tested at zero, the edge of their range: the chi-square p-value is
    then conservative (too large), e.g. about twice the correct value for one
    added variance.  Such remarks are in ``table.attrs["notes"]``.

    Nesting is checked for the fixed effects only (the smaller model's
    columns must be combinations of the larger model's); that the random part
    of one model is a special case of the other's is up to you.

    Parameters
    ----------
    fit_a, fit_b : MixedFit or LmFit
        The two fits, in any order.
    names : sequence of two str, optional
        Row labels for ``fit_a`` and ``fit_b``; default their formulas.
    method : {"chisq", "bootstrap"}, default "chisq"
        ``"bootstrap"`` adds ``p_boot``, the parametric-bootstrap p-value of ``n`` simulated
        data sets (``seed``, ``n_jobs`` as :func:`lmmedu.bootstrap`), beside the chi-square ``p``
        (see :func:`lmmedu.stats.bootstrap.pb_modcomp`).

    Returns
    -------
    pandas.DataFrame
        One row per model, the smaller first, with columns ``npar`` (number of
        parameters: fixed effects, variance parameters and the residual SD),
        ``AIC``, ``BIC``, ``logLik``, ``deviance`` (-2 logLik), and on the
        second row ``Chisq`` (2 x the log-likelihood gain, floored at 0 as in
        lme4), ``Df`` (extra parameters) and ``p`` (upper chi-square tail).
        ``attrs["notes"]`` is a list of remarks on how to read the test.

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_expression(n_probesets=100)
    >>> big = lmmedu.fit("values ~ week*genotype + (week|probeset)", df, reml=False)
    >>> small = lmmedu.fit("values ~ week + genotype + (week|probeset)", df, reml=False)
    >>> tab = lmmedu.anova(small, big)
    >>> tab.columns.tolist()
    ['npar', 'AIC', 'BIC', 'logLik', 'deviance', 'Chisq', 'Df', 'p']
    >>> int(tab["Df"].iloc[1])
    1
    """
    if method not in ("chisq", "bootstrap"):
        raise ValueError(f"method must be 'chisq' or 'bootstrap', not {method!r}.")
    fits = [fit_a, fit_b]
    labels_arg = ["fit_a", "fit_b"]
    for arg, f in zip(labels_arg, fits):
        if not is_fit(f):
            raise ValueError(f"{arg} must be a fit made by lmmedu.fit or lmmedu.fit_lm, not {type(f).__name__}.")
    if not is_mixed(fit_a) and not is_mixed(fit_b):
        raise ValueError("Both fits are ordinary linear models; compare nested lm fits with an F test "
                         "(statsmodels' anova_lm) rather than with lmmedu.anova.")
    if fit_a.nobs != fit_b.nobs:
        raise ValueError(f"fit_a used {fit_a.nobs} rows and fit_b {fit_b.nobs}; fit both models to the same rows "
                         "(e.g. drop rows with missing values first) before comparing them.")
    if fit_a.parsed.response != fit_b.parsed.response:
        raise ValueError(f"fit_a models '{fit_a.parsed.response}' but fit_b models '{fit_b.parsed.response}'; "
                         "likelihoods are only comparable for the same response.")
    if not np.allclose(fit_a.y, fit_b.y, rtol=1e-12, atol=0.0):
        raise ValueError(f"fit_a and fit_b have different values of '{fit_a.parsed.response}'; fit both models "
                         "to the same data before comparing them.")

    if names is None:
        names = [f.formula if is_mixed(f) else f.parsed.fixed_formula_r for f in fits]
    else:
        names = [str(n) for n in names]
        if len(names) != 2 or names[0] == names[1]:
            raise ValueError("names must be two different labels, one for fit_a and one for fit_b.")

    same_fixed = (list(fit_a.names) == list(fit_b.names) and fit_a.X.shape == fit_b.X.shape
                  and np.allclose(fit_a.X, fit_b.X, rtol=1e-12, atol=1e-12))
    lm_fit = next((f for f in fits if not is_mixed(f)), None)
    if lm_fit is not None:
        mixed = fit_b if lm_fit is fit_a else fit_a
        if mixed.reml:
            raise ValueError("The mixed model was fitted by REML, whose likelihood cannot be compared with the lm's "
                             "maximum likelihood; refit it with lmmedu.fit(formula, data, reml=False) and compare "
                             "again (lmmedu does not refit silently as R's anova does).")
    elif (fit_a.reml or fit_b.reml) and not same_fixed:
        raise ValueError("The models have different fixed effects and at least one was fitted by REML, whose "
                         "likelihoods are then not comparable; refit both with lmmedu.fit(formula, data, "
                         "reml=False) and compare again (lmmedu does not refit silently as R's anova does).")
    elif fit_a.reml != fit_b.reml:
        raise ValueError("One model was fitted by REML and the other by ML; fit both the same way (reml=False "
                         "works for any pair of nested models) and compare again.")

    def npar(f):
        return len(f.names) + 1 + (f.problem.n_theta if is_mixed(f) else 0)

    order = sorted(range(2), key=lambda i: npar(fits[i]))
    small, big = fits[order[0]], fits[order[1]]
    if npar(small) == npar(big):
        raise ValueError(f"Both models have {npar(small)} parameters, so neither is a simplification of the other; "
                         "a likelihood-ratio test needs nested models with different numbers of parameters.")
    if not same_fixed and small.X.shape[1]:
        coef, *_ = np.linalg.lstsq(big.X, small.X, rcond=None)
        resid = small.X - big.X @ coef
        if np.linalg.norm(resid) > 1e-8 * max(np.linalg.norm(small.X), 1.0):
            raise ValueError(f"The fixed effects of '{names[order[0]]}' are not contained in those of "
                             f"'{names[order[1]]}', so the models are not nested; a likelihood-ratio test "
                             "needs the smaller model to be a special case of the larger one.")

    rows = []
    for f in (small, big):
        k = npar(f)
        ll = float(f.loglik)
        rows.append({"npar": k, "AIC": -2 * ll + 2 * k, "BIC": -2 * ll + np.log(f.nobs) * k,
                     "logLik": ll, "deviance": -2 * ll})
    gain = 2.0 * (rows[1]["logLik"] - rows[0]["logLik"])
    chisq = max(gain, 0.0)
    dfd = rows[1]["npar"] - rows[0]["npar"]
    rows[0].update(Chisq=np.nan, Df=np.nan, p=np.nan)
    rows[1].update(Chisq=chisq, Df=float(dfd), p=float(scipy.stats.chi2.sf(chisq, dfd)))
    table = pd.DataFrame(rows, index=pd.Index([names[order[0]], names[order[1]]], name="model"))
    table = table[["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "p"]]

    notes = []
    if lm_fit is not None:
        notes.append("The lm's log-likelihood is its maximum-likelihood value, compared with the mixed model's "
                     "ML log-likelihood.")
    elif small.reml and big.reml:
        notes.append("Both fits are REML with the same fixed effects, so their REML likelihoods are compared "
                     "(as lme4's anova(..., refit = FALSE)).")
    if same_fixed:
        notes.append("The models differ only in their random effects, so the test asks whether variances are "
                     "zero, the edge of their possible values: the chi-square p-value is conservative (too large; "
                     "for one added variance the boundary-corrected p is about half of it).")
    if gain < -1e-6 * max(1.0, abs(rows[1]["logLik"])):
        notes.append("The larger model has the lower log-likelihood, which nested models cannot have at their "
                     "optimum: check that the models are nested and that both fits converged.")
    table.attrs["notes"] = notes
    if method == "bootstrap":
        table = with_bootstrap_p(table, small, big, n=n, seed=seed, n_jobs=n_jobs)
    return table
