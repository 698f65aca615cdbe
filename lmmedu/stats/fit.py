"""Fit a formula: ``fit`` for the mixed model, ``fit_lm`` for its lm twin.

Data flow: DataFrame -> :mod:`lmmedu.stats.formula` (parse, model frame) ->
:mod:`lmmedu.stats.design` (X, Z) -> :mod:`lmmedu.stats.engine` (optimise theta) ->
:mod:`lmmedu.stats.results` (tables).
"""

from __future__ import annotations

import numpy as np

from .design import fixed_design, random_blocks
from .engine import LmmProblem, optimize_theta, single_threaded_blas
from .formula import model_frame, parse_formula
from .results import LmFit, MixedFit

__all__ = ["fit", "fit_lm"]


def fit(formula, data, reml=True):
    """Fit a linear mixed model written in lme4 syntax.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"log(length) ~ treatment*gene + (1|replicate)"``.
        Random terms: ``(1|g)``, ``(x|g)``, ``(1+x|g)``, ``(0+x|g)``,
        ``(x||g)``, ``(1|g1/g2)``, ``(1|g1:g2)``, several crossed terms.
    data : pandas.DataFrame
    reml : bool, default True
        REML (as lmer's default) or maximum likelihood (needed to compare
        models with different fixed effects).

    Returns
    -------
    lmmedu.stats.results.MixedFit

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(seed=1)
    >>> m = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", df)
    >>> m.coefs.index[1]
    'treatment[T.drug]'
    >>> round(float(m.coefs.loc["Intercept", "df"]), 1)  # about 3: only 4 replicates  # doctest: +SKIP
    3.0
    """
    parsed = parse_formula(formula)
    if not parsed.random:
        raise ValueError(
            f"The formula '{formula}' has no random-effects term such as (1|replicate); add one, or use "
            "lmmedu.fit_lm for an ordinary linear model."
        )
    frame = model_frame(parsed, data)
    design = fixed_design(parsed.fixed, frame.data)
    blocks = random_blocks(parsed.random, frame.data)
    with single_threaded_blas():
        problem = LmmProblem(design.X, frame.y, blocks, reml=reml)
        if problem.residual_is_zero():
            raise ValueError(
                f"The fixed and random effects reproduce '{parsed.response}' (almost) exactly (e.g. it is "
                "constant within groups), so the residual variance is zero and the mixed model has no optimum; "
                "check the response column, or analyse one value per group with lmmedu.fit_lm."
            )
        opt = optimize_theta(problem)
        if not np.isfinite(opt.fun):
            raise ValueError(
                "The mixed model's likelihood could not be evaluated for any variance (the fixed and random "
                "columns are numerically collinear); check for a random term that repeats a fixed one or for "
                "covariates of extreme size, and simplify the model."
            )
        return MixedFit(formula, parsed, frame, design, blocks, problem, opt, reml)


def fit_lm(formula, data):
    """Ordinary least squares on the fixed part of ``formula``.

    Random terms, if present, are dropped, so the same formula gives the lm
    and the mixed model side by side.

    Parameters
    ----------
    formula : str
    data : pandas.DataFrame

    Returns
    -------
    lmmedu.stats.results.LmFit

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(seed=1)
    >>> lm = lmmedu.fit_lm("log(length) ~ treatment*gene + (1|replicate)", df)
    >>> lm.df_resid == len(df) - 6
    True
    """
    parsed = parse_formula(formula)
    frame = model_frame(parsed, data)
    design = fixed_design(parsed.fixed, frame.data)
    return LmFit(formula, parsed, frame, design)
