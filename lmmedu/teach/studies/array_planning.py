"""Notebook 09's second question: how many mice to see a week-by-genotype interaction on an expression array?

:func:`array_power` gives the power of the test on array means in closed form,
:func:`array_power_study` checks it by simulation with :func:`~lmmedu.data.simulate.simulate_expression`
and sets the model that forgets the array effect beside it (:data:`ARRAY_ANALYSES`). The
replicate question of the notebook and the closed-form helpers are in :mod:`.planning`.
"""

from __future__ import annotations

import functools as _functools
import math
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ...data.checks import real
from ...data.simulate import simulate_expression as _simulate_expression
from .planning import _plan_codes, _plan_int, _plan_levels, _plan_ncp_vec, _plan_power_vec, _plan_t_row
from .runner import coefficient_test, rates, run_study

__all__ = ["ARRAY_ANALYSES", "array_power", "array_means_test", "array_power_study"]


#: Analyses of :func:`array_power_study`, in display order.
ARRAY_ANALYSES = ("t-test on array means", "(1|probeset), no array effect")


def _plan_array_layout(n_mice, n_dropped, weeks, seed):
    """Genotype codes and scaled weeks of the kept arrays, as simulate_expression lays them out."""
    if n_dropped == 0:
        # Nothing dropped: every week x genotype has n_mice arrays; no need to simulate.
        w = np.asarray(sorted(weeks), dtype=float)
        scaled = (w - w.mean()) / w.std(ddof=1)
        g, k, _ = np.indices((2, len(w), n_mice)).reshape(3, -1)
        return g, scaled[k]
    data = _simulate_expression(n_probesets=2, weeks=weeks, n_replicates=n_mice, n_dropped=n_dropped, seed=seed)
    arrays = data.drop_duplicates("sample")
    return arrays["genotype"].cat.codes.to_numpy(), arrays["week"].to_numpy(dtype=float)


def _plan_array_matrix(genotype_codes, week):
    g = (np.asarray(genotype_codes) == 1).astype(float)
    w = np.asarray(week, dtype=float)
    # Column order of lm("values ~ week*genotype"): Intercept, genotype, week, week:genotype.
    return np.column_stack([np.ones_like(w), g, w, w * g])


def array_power(n_mice=3, n_probesets=18015, interaction: float = 0.01, *, n_dropped: int = 0,
                sample_sd: float = 0.02, residual_sd: float = 0.217, weeks: Sequence[int] = (2, 4, 8, 12, 16),
                alpha: float = 0.05, target: float = 0.8, seed: int = 0) -> pd.DataFrame:
    """Closed-form power for the week x genotype interaction of the array experiment.

    Week and genotype vary between arrays, so the interaction is tested on array means: each
    array's mean over its probesets is its fixed effects plus its own array effect (SD
    ``sample_sd``) plus the average of ``n_probesets`` residuals (SD ``residual_sd /
    sqrt(n_probesets)``); the probeset effects are shared by all arrays and drop out of the
    interaction. Its test is an ordinary regression on the array means with
    ``n_arrays - 4`` df, so the noncentral-t power is exact for the layout simulated by
    :func:`lmmedu.data.simulate.simulate_expression` with ``seed``.

    Parameters
    ----------
    n_mice : int or sequence of int, default 3
        Mice (arrays) per week x genotype before dropping.
    n_probesets : int or sequence of int, default 18015
    interaction : float, default 0.01
        True week x genotype interaction (per SD of week, as ``simulate_expression`` scales it).
    n_dropped : int, default 0
        Arrays removed (as ``simulate_expression`` removes them).
    sample_sd, residual_sd : float
        SD of the array effect and of the residual, as in ``simulate_expression``.
    weeks : sequence of int
    alpha, target : float
        Level of the test and power of the reported minimum detectable effect ``mde``.
    seed : int, default 0
        Which arrays are dropped.

    Returns
    -------
    pandas.DataFrame
        One row per ``n_probesets`` and ``n_mice``: ``n_mice, n_probesets, n_arrays,
        interaction, se, df, ncp, power, mde``.

    Examples
    --------
    >>> p = array_power([3, 6], [100, 18015], 0.02)
    >>> p[["n_probesets", "n_mice", "n_arrays"]].values.tolist()
    [[100, 3, 30], [100, 6, 60], [18015, 3, 30], [18015, 6, 60]]
    """
    mice = [n_mice] if isinstance(n_mice, (int, np.integer)) else list(n_mice)
    probesets = [n_probesets] if isinstance(n_probesets, (int, np.integer)) else list(n_probesets)
    if not mice or not probesets:
        raise ValueError("n_mice and n_probesets must each hold at least one value.")
    interaction = real("interaction", interaction)
    sample_sd = real("sample_sd", sample_sd, 0.0)
    residual_sd = real("residual_sd", residual_sd, 0.0, low_open=True)
    alpha, target = _plan_levels(alpha, target)
    n_dropped = _plan_int("n_dropped", n_dropped, 0)
    # The interaction's variance factor depends on the layout only: one per number of mice.
    factors = {}
    for m in mice:
        m = _plan_int("n_mice", m, 1)
        X = _plan_array_matrix(*_plan_array_layout(m, n_dropped, weeks, seed))
        if len(X) - X.shape[1] < 1:
            raise ValueError(f"{len(X)} arrays leave no df for 4 coefficients; use more mice per group.")
        factors[m] = (len(X), float(np.linalg.inv(X.T @ X)[3, 3]))
    rows = []
    for p in probesets:
        p = _plan_int("n_probesets", p, 2)
        for m in mice:
            n_arrays, c = factors[int(m)]
            rows.append({"n_mice": int(m), "n_probesets": p, "n_arrays": n_arrays, "interaction": interaction,
                         "se": math.sqrt((sample_sd**2 + residual_sd**2 / p) * c), "df": float(n_arrays - 4)})
    out = pd.DataFrame(rows)
    out["ncp"] = interaction / out["se"]
    out["power"] = _plan_power_vec(out["ncp"].to_numpy(), out["df"].to_numpy(), alpha)
    out["mde"] = _plan_ncp_vec(out["df"].to_numpy(), alpha, target) * out["se"]
    out.attrs["settings"] = {"interaction": interaction, "n_dropped": n_dropped, "sample_sd": sample_sd,
                             "residual_sd": residual_sd, "weeks": tuple(weeks), "alpha": alpha, "target": target}
    return out


def array_means_test(data: pd.DataFrame) -> dict:
    """Test of the week x genotype interaction on array means (one number per array).

    Every array's mean over its probesets, regressed on ``week * genotype``: the test of a
    between-array effect with the arrays as units (``n_arrays - 4`` df).

    Returns
    -------
    dict
        ``estimate``, ``se``, ``df``, ``p``: an analysis for :func:`run_study`.

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_expression
    >>> int(array_means_test(simulate_expression(n_probesets=20))["df"])
    19
    """
    for column in ("sample", "genotype", "week", "values"):
        if column not in data.columns:
            raise ValueError(f"the data need a column {column!r}, as made by lmmedu.simulate_expression.")
    codes, levels = _plan_codes(data["sample"])
    n = len(levels)
    counts = np.bincount(codes, minlength=n)
    keep = counts > 0
    means = np.bincount(codes, weights=data["values"].to_numpy(dtype=float), minlength=n)[keep] / counts[keep]
    first = np.unique(codes, return_index=True)[1]
    X = _plan_array_matrix(_plan_codes(data["genotype"])[0][first], data["week"].to_numpy(dtype=float)[first])
    df = len(means) - X.shape[1]
    if df < 1:
        raise ValueError(f"{len(means)} arrays leave no df for the 4 coefficients of week * genotype.")
    beta, *_ = np.linalg.lstsq(X, means, rcond=None)
    resid = means - X @ beta
    cov = (resid @ resid / df) * np.linalg.inv(X.T @ X)
    return _plan_t_row(beta[3], math.sqrt(cov[3, 3]), df)


def _plan_simulate_arrays(rng, *, interaction, n_mice, n_probesets, n_dropped, sample_sd, residual_sd):
    data = _simulate_expression(n_probesets=n_probesets, n_replicates=n_mice, n_dropped=n_dropped,
                                fixed_effects={"week:genotype": float(interaction)}, sample_sd=sample_sd,
                                residual_sd=residual_sd, seed=rng)
    data.attrs = {}  # as in _simulate_plan: the truth is not needed and slows every column access
    return data


def array_power_study(interaction: float = 0.02, *, n_mice: int = 3, n_probesets: int = 200, n_dropped: int = 7,
                      sample_sd: float = 0.02, residual_sd: float = 0.217, mixed: bool = True, n_sims: int = 100,
                      seed: int = 0, alpha: float = 0.05,
                      progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """Power and false-positive rate for the interaction of the array experiment, by simulation.

    ``n_sims`` experiments of :func:`lmmedu.data.simulate.simulate_expression` (reduced to
    ``n_probesets``) with no interaction and ``n_sims`` with ``interaction``, analysed by the
    t-test on array means (:func:`array_means_test`, the arrays as units) and, if ``mixed``,
    by ``values ~ week*genotype + (1|probeset)``: a mixed model with probesets but no array
    effect, which counts every row as evidence about the arrays.

    Returns
    -------
    pandas.DataFrame
        The rates table of :func:`rates` with the setting column ``interaction``.

    Examples
    --------
    >>> t = array_power_study(0.05, n_probesets=10, mixed=False, n_sims=3)
    >>> t[["interaction", "analysis"]].values.tolist()
    [[0.0, 't-test on array means'], [0.05, 't-test on array means']]
    """
    interaction = real("interaction", interaction)
    fixed = {"n_mice": _plan_int("n_mice", n_mice, 1), "n_probesets": _plan_int("n_probesets", n_probesets, 2),
             "n_dropped": _plan_int("n_dropped", n_dropped, 0), "sample_sd": real("sample_sd", sample_sd, 0.0),
             "residual_sd": real("residual_sd", residual_sd, 0.0, low_open=True)}
    analyses = {"t-test on array means": array_means_test}
    if mixed:
        analyses["(1|probeset), no array effect"] = coefficient_test("values ~ week*genotype + (1|probeset)",
                                                                     "week:genotype[T.CSB]")
    grid = [{"interaction": v} for v in ((0.0, interaction) if interaction != 0 else (0.0,))]
    results = run_study(_functools.partial(_plan_simulate_arrays, **fixed), analyses, n_sims=n_sims, seed=seed,
                        progress=progress, grid=grid, settings={**fixed, "interaction": interaction})
    return rates(results, alpha=alpha)
