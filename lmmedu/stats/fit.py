"""Fit a formula: ``fit`` for the mixed model, ``fit_lm`` for its lm twin.

Data flow: DataFrame -> :mod:`lmmedu.stats.formula` (parse, model frame) ->
:mod:`lmmedu.stats.design` (X, Z) -> :mod:`lmmedu.stats.engine` (optimise theta) ->
:mod:`lmmedu.stats.results` (tables).
"""

from __future__ import annotations

import numpy as np

from .ddf import check as check_ddf
from .design import fixed_design, random_blocks
from .engine import LmmProblem, optimize_theta, single_threaded_blas
from .formula import model_frame, parse_formula
from .grouping import group_sums
from .results import LmFit, MixedFit

__all__ = ["fit", "fit_lm"]


def fit(formula, data, reml=True, ddf="satterthwaite"):
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
    ddf : str, default "satterthwaite"
        Denominator-df method of the coefficient table, contrasts and F tests, as lmerTest's
        ``summary(fit, ddf=...)``: ``"satterthwaite"`` or ``"kenward-roger"`` (``"KR"``), which
        also adjusts the covariance of the estimates and needs a REML fit, or ``"asymptotic"``
        (infinite df: z tests, as emmeans above 3,000 rows; see :mod:`lmmedu.stats.ddf`).  ``fit.ddf`` names the method used.

    Returns
    -------
    lmmedu.stats.results.MixedFit

    Raises
    ------
    TypeError
        If ``reml`` is not a bool.
    ValueError
        With one sentence naming the problem: an unknown ``ddf``, Kenward-Roger with
        ``reml=False`` (never refitted silently), a missing column, a constant response, a
        response constant within every group or fitted exactly by the fixed and group effects
        (zero residual variance: the likelihood has no maximum), a transform such as
        ``log(x)`` of a zero, and so on.

    Notes
    -----
    Columns use the names of the data; write ``Q("body.mass")`` (or R's backticks) for a
    name that is not a plain identifier or is a Python keyword.  Fixed-effect columns
    aliased with earlier ones are dropped with a warning naming them and have no row in
    ``coefs`` (lme4 drops them the same way; R's ``lm`` would print NA).

    R's formula idioms mean what they mean in R (checked against lm and lmerTest in
    tests/test_formula_r.py), in the fixed part and inside random terms; the coefficient
    names are statsmodels', and map to R's as shown:

    ================================  ===========================  =============================
    written (as in R)                 R's coefficient              lmmedu's coefficient
    ================================  ===========================  =============================
    ``I(x^2)``, ``I(x^3)``            ``I(x^2)``                   ``I(x ** 2)``
    ``(a + b)^2``, ``(a + b + c)^2``  ``a``, ``b``, ``a:b``        the same terms
    ``x^2`` (warns: R reads it as x)  ``x``                        ``x``
    ``scale(x)`` (SD with n - 1)      ``scale(x)``                 ``scale(x)``
    ``scale(x, scale = FALSE)``       ``scale(x, scale = FALSE)``  ``scale(x, scale=False)``
    ``poly(x, 2)``, ``raw = TRUE``    ``poly(x, 2)1``              ``poly(x, 2)[1]``
    ``factor(x)``, ``as.factor(x)``   ``factor(x)2``               ``C(x)[T.2]``
    ``relevel(f, ref = "b")``         ``relevel(f, ref = "b")a``   ``C(f, Treatment("b"))[T.a]``
    ``f`` (text column)               ``fb``                       ``f[T.b]``
    ``x %in% f``, ``f/x``             ``fa:x``                     ``x:f[a]``, ``f[a]:x``
    ``0 + f``, ``f - 1``              ``fa``                       ``f[a]``
    ``I(x - mean(x))``, ``log10(x)``  as written                   as written (``^`` as ``**``)
    ================================  ===========================  =============================

    ``scale``, ``poly`` and ``mean`` (also ``sd``, ``median``, ``min``, ``max``) are computed,
    as in R, on every row of the data, before rows with a missing value elsewhere are dropped,
    and reused for new rows (emmeans re-evaluates them at the grid, as R's emmeans does).
    Also ``log``, ``log2``, ``sqrt``, ``exp``, ``bs(x, df = 4)`` (R's ``splines::bs``), a response
    such as ``log(y + 1)`` (read as ``log1p``, so emmeans back-transforms it) or
    ``log(y + 0.5)``, and ``offset(o)``: a term with coefficient 1, subtracted from the
    response, so ``fitted()`` and ``predict()`` leave it out (emmeans and explain refuse such
    a model).  Anything else R-only (``ns()``, ``cut()``, ``ifelse()``, ``as.numeric()``,
    ``d$x``, ``%%`` outside ``I()``) is refused with one sentence naming the spelling that works.

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
    # numpy booleans are fine; "no" or 0 would otherwise silently mean REML or ML.
    if not isinstance(reml, (bool, np.bool_)):
        raise TypeError(f"reml must be True (REML, the default) or False (maximum likelihood), not {reml!r}.")
    method = check_ddf(ddf, reml)
    parsed = parse_formula(formula)
    if not parsed.random:
        raise ValueError(
            f"The formula '{formula}' has no random-effects term such as (1|replicate); add one, or use "
            "lmmedu.fit_lm for an ordinary linear model."
        )
    frame = model_frame(parsed, data)
    _check_not_constant(frame)
    with single_threaded_blas():
        design = fixed_design(parsed.fixed, frame.data, frame.transform_rows)
        blocks = random_blocks(parsed.random, frame.data, frame.transform_rows)
        _check_constant_within_groups(frame, blocks)
        try:
            # A design of factors passes its distinct rows only: the engine then never reads X row by row.
            X = None if design.cells is not None else design.X
            problem = LmmProblem(X, frame.y, blocks, reml=bool(reml), x_cells=design.cells)
            if _exact_fit_possible(problem):
                _check_exact_fit(frame, design, blocks)
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
            return MixedFit(formula, parsed, frame, design, blocks, problem, opt, bool(reml), ddf=method)
        except np.linalg.LinAlgError:
            _check_exact_fit(frame, design, blocks)  # the clearer message, if that is the cause
            # Last resort; the usual cause is a covariate far from zero relative to its spread.
            raise ValueError(
                f"The mixed model '{formula}' could not be fitted because a matrix was numerically singular; "
                "centre and scale numeric predictors (e.g. x - mean(x), or years since 2000) and simplify the "
                "random part."
            ) from None


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

    Notes
    -----
    The formula takes R's idioms as :func:`fit` does (see its notes for the coefficient names).
    Solved by QR on centred columns, so a covariate such as ``x + 1e8`` keeps its slope.
    Columns aliased at R's ``lm`` tolerance (1e-7) are dropped with a warning, and an exact
    fit gives NaN standard errors with a warning (see :class:`~lmmedu.stats.results.LmFit`).

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
    _check_not_constant(frame)
    with single_threaded_blas():  # tall-and-thin QR: threads cost more than they save
        design = fixed_design(parsed.fixed, frame.data, frame.transform_rows)
        return LmFit(formula, parsed, frame, design)


def _check_not_constant(frame):
    """Refuse a response with a single value: no model has anything to explain."""
    y = frame.y
    if y.size and np.ptp(y) <= 4 * np.finfo(float).eps * np.max(np.abs(y)):
        raise ValueError(
            f"The response '{frame.parsed.response}' has the same value ({y[0]:.6g}) in all {y.size} rows, so "
            "there is nothing to model; check that the formula names the right response column."
        )


#: The exact-fit check reads the rows only when the engine's joint least-squares fit leaves
#: less than this fraction of the OLS residual: far above its rounding error (about 1e-16
#: times the condition number of the cross-products, which the engine keeps below 1e10).
_EXACT_FIT_SUSPECT = 1e-3


def _exact_fit_possible(problem):
    """False when the engine's cross-products already show residual variation.

    The dense layout fits y on [Z, X] jointly for its start values; a residual sum of squares
    that is a clear fraction of the OLS one rules out an exact fit without another pass over the
    rows (which cost a widget refit more than the optimisation).
    """
    rss = problem.rss_joint
    # A near-collinear direction dropped there could hide an exact fit: then read the rows.
    return rss is None or not problem.joint_rank_clear or not rss > _EXACT_FIT_SUSPECT * problem.yty


def _check_constant_within_groups(frame, blocks):
    """Refuse a response that takes one value within every group (e.g. a per-group summary repeated)."""
    y = frame.y
    mean = y.mean()
    spread = np.sqrt(np.mean((y - mean) ** 2))
    total_ss = spread**2 * len(y)
    level_ss = len(y) * mean**2
    for b in blocks:
        # Cheap and common: every group measured the same value (e.g. a per-group summary repeated).
        sizes = np.bincount(b.codes, minlength=b.m)
        if sizes.max() < 2:
            continue
        sums = np.bincount(b.codes, weights=y, minlength=b.m)
        # The between-group sum of squares from the sums: clearly below the total, some variation
        # lies within groups and the rows need no second pass.  Its rounding error is at most
        # ~1e-12 of n mean^2 (not of the spread), hence the second condition.
        between = float(sums @ (sums / np.maximum(sizes, 1))) - level_ss
        if between < (1 - 1e-6) * total_ss and level_ss < 1e3 * total_ss:
            continue
        means = sums / np.maximum(sizes, 1)
        if np.max(np.abs(y - means[b.codes])) <= 1e-10 * spread:
            raise ValueError(
                f"The response '{frame.parsed.response}' is constant within every level of '{b.term.group}', so "
                "there is no residual variation for a mixed model to estimate; analyse one value per group "
                f"(e.g. fit_lm on the {b.m} group values) or check the response column."
            )


def _check_exact_fit(frame, design, blocks):
    """Refuse a response that the fixed effects plus one effect per group reproduce exactly."""
    y = frame.y
    n = len(y)
    spread = np.sqrt(np.mean((y - y.mean()) ** 2))
    n_cols = design.X.shape[1] + sum(b.m * b.q for b in blocks)
    if n_cols >= n or n_cols > 400:
        return  # too large to check cheaply; the engine's own checks take over
    # Any coefficients with a zero residual prove an exact fit (least squares can only do
    # better), so the fast normal equations on the Gram matrix are safe here.  The Gram
    # matrix comes from bincounts, never forming the n x (m*q) indicator matrix.
    X = design.X
    zcols = [(b, b.Z[:, k]) for b in blocks for k in range(b.q)]
    # A column of ones (every random intercept) needs no product with X.
    zx = [group_sums(b.codes, b.m, X if np.all(z == 1.0) else z[:, None] * X) for b, z in zcols]
    blocks_xx = [[X.T @ X] + [s.T for s in zx]]
    for (b, z), s in zip(zcols, zx):
        row = [s]
        for b2, z2 in zcols:
            joint = np.bincount(b.codes * b2.m + b2.codes, weights=z * z2, minlength=b.m * b2.m)
            row.append(joint.reshape(b.m, b2.m))
        blocks_xx.append(row)
    gram = np.block(blocks_xx)
    rhs = np.concatenate([X.T @ y] + [np.bincount(b.codes, weights=z * y, minlength=b.m) for b, z in zcols])
    norms = np.sqrt(np.clip(np.diag(gram), 0, None))
    norms[norms == 0] = 1.0
    coef = np.linalg.lstsq(gram / np.outer(norms, norms), rhs / norms, rcond=1e-12)[0] / norms
    resid = y - X @ coef[: X.shape[1]]
    start = X.shape[1]
    for b, z in zcols:
        resid -= z * coef[start + b.codes]
        start += b.m
    if np.sqrt(np.mean(resid**2)) <= 1e-10 * spread:
        groups = ", ".join(f"'{b.term.group}'" for b in blocks)
        raise ValueError(
            f"The fixed effects plus the random effects of {groups} fit the response "
            f"'{frame.parsed.response}' exactly (residual variation zero, e.g. simulated with residual_sd=0), "
            "so the mixed model has no maximum likelihood; add measurement noise or check the response column."
        )
