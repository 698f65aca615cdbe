"""The studies of notebook 09 (planning an experiment): how many replicates, how many cells?

Closed-form power of the replicate experiment (:func:`planned_power`, :func:`power_curve`) and
the simulations that check it (:func:`replicate_power_study`); the array question of the same
notebook is in :mod:`.array_planning`.

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import functools as _functools
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special as _special
from scipy import stats
from scipy.optimize import brentq as _brentq

from ...data.simulate import simulate_replicates
from ...data.checks import real
from ...data.truth import design_problem, replicate_sd_for_icc
from .replicates import _DESIGNS, _TERM, MIXED_FORMULA
from .runner import coefficient_test, rates, run_study

# Power and false-positive rate of a design before it is run. For a balanced design the mixed
# model's test of a between-replicate (or paired within-replicate) effect *is* the t-test on
# replicate means, whose power has a closed form (a noncentral t); the studies below run the
# package's simulators through run_study to check that closed form and to show what the
# analyses that count cells as units do at the same settings.


__all__ = [
    "PLAN_ANALYSES",
    "replicate_sd_for_icc",
    "effect_from_percent",
    "percent_from_effect",
    "planned_power",
    "power_curve",
    "power_curve_summary",
    "naive_lm_test",
    "replicate_means_test",
    "replicate_power_study",
    "power_and_false_positives",
]

#: Analyses of :func:`replicate_power_study`, in display order.
PLAN_ANALYSES = ("naive lm", "t-test on replicate means", "mixed model (1|replicate)")


def _plan_int(name, value, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}.")
    return int(value)


def effect_from_percent(percent: float) -> float:
    """Log-scale effect of a percent change in length: ``log(1 + percent / 100)``.

    Examples
    --------
    >>> round(effect_from_percent(10), 4)
    0.0953
    """
    percent = real("percent", percent, -100.0, low_open=True)
    return math.log1p(percent / 100.0)


def percent_from_effect(effect: float) -> float:
    """Percent change in length of a log-scale effect: ``100 * (exp(effect) - 1)``.

    Examples
    --------
    >>> round(percent_from_effect(0.0953), 1)
    10.0
    """
    return 100.0 * math.expm1(float(effect))


def _plan_cells(cells_per_replicate, n_replicates, design):
    minimum = 2 if design == "within" else 1
    if isinstance(cells_per_replicate, (int, np.integer)) and not isinstance(cells_per_replicate, bool):
        counts = (int(cells_per_replicate),) * n_replicates
    elif isinstance(cells_per_replicate, (tuple, list, np.ndarray)):
        counts = tuple(int(c) for c in cells_per_replicate)
        if len(counts) != n_replicates:
            raise ValueError(f"cells_per_replicate must be one number, or one per replicate ({n_replicates}); "
                             f"got {len(counts)}.")
    else:
        raise ValueError(f"cells_per_replicate must be an integer or a tuple of integers, got {cells_per_replicate!r}.")
    if min(counts) < minimum:
        raise ValueError(f"cells_per_replicate must be at least {minimum} in the {design} design "
                         f"(every arm of a replicate needs a cell), got {cells_per_replicate!r}.")
    return np.asarray(counts, dtype=float)


def _plan_power(ncp: float, df: float, alpha: float) -> float:
    """Two-sided power of a t-test on ``df`` degrees of freedom with noncentrality ``ncp``."""
    if not (math.isfinite(df) and df >= 1):
        return math.nan
    crit = float(stats.t.isf(alpha / 2.0, df))
    if ncp == 0:
        return float(alpha)
    near, far = stats.nct.sf(crit, df, abs(ncp)), stats.nct.sf(crit, df, -abs(ncp))
    # scipy's noncentral t returns NaN for some far tails of about 1e-20; they are 0 to any precision shown.
    return float(min(1.0, near + (far if math.isfinite(far) else 0.0)))


@_functools.lru_cache(maxsize=512)
def _plan_ncp(df: float, alpha: float, target: float) -> float:
    """Noncentrality at which a two-sided t-test on ``df`` df reaches power ``target``."""
    if not (math.isfinite(df) and df >= 1):
        return math.nan
    return float(_brentq(lambda n: _plan_power(n, df, alpha) - target, 0.0, 60.0, xtol=1e-10))


def _plan_power_vec(ncp, df, alpha):
    """:func:`_plan_power` for arrays of ``ncp`` and ``df`` (one vectorised scipy call instead of a loop)."""
    ncp, df = np.broadcast_arrays(np.asarray(ncp, dtype=float), np.asarray(df, dtype=float))
    ok = np.isfinite(df) & (df >= 1)
    safe_df = np.where(ok, df, 1.0)
    crit = stats.t.isf(alpha / 2.0, safe_df)
    near = stats.nct.sf(crit, safe_df, np.abs(ncp))
    far = np.nan_to_num(stats.nct.sf(crit, safe_df, -np.abs(ncp)), nan=0.0)
    power = np.where(ncp == 0, alpha, np.minimum(near + far, 1.0))
    return np.where(ok, power, np.nan)


def _plan_ncp_vec(df, alpha, target):
    """:func:`_plan_ncp` for an array of ``df``: bisection on all of them at once."""
    df = np.asarray(df, dtype=float)
    lo, hi = np.zeros_like(df), np.full_like(df, 60.0)
    for _ in range(48):  # 60 / 2**48: far below any digit shown
        mid = (lo + hi) / 2.0
        low_power = _plan_power_vec(mid, df, alpha) < target
        lo, hi = np.where(low_power, mid, lo), np.where(low_power, hi, mid)
    return np.where(np.isfinite(df) & (df >= 1), (lo + hi) / 2.0, np.nan)


def _plan_levels(alpha, target):
    alpha = real("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
    target = real("target", target, alpha, 1.0, low_open=True, high_open=True)
    return alpha, target


def _plan_sds(replicate_sd, replicate_treatment_sd, residual_sd):
    return (real("replicate_sd", replicate_sd, 0.0),
            real("replicate_treatment_sd", replicate_treatment_sd, 0.0),
            real("residual_sd", residual_sd, 0.0, low_open=True))


def _plan_replicate_ses(design, cells, replicate_sd, replicate_treatment_sd, residual_sd):
    """SE of the drug effect from replicate means, the SE if cells were independent, df, arms' cells."""
    v0, vt, ve = replicate_sd**2, replicate_treatment_sd**2, residual_sd**2
    n_rep = len(cells)
    if design == "within":
        # As simulate_replicates splits a replicate: half control (rounded down), the rest drug.
        control = np.floor(cells / 2.0)
        drug = cells - control
        # Each replicate's drug-minus-control difference: its own drug effect plus the noise of
        # two cell means; the replicate intercept cancels.
        se2 = float(np.mean(vt + ve * (1.0 / control + 1.0 / drug))) / n_rep
        df, n_control, n_drug = n_rep - 1, control.sum(), drug.sum()
    else:
        control, drug = cells[0::2], cells[1::2]  # R1 control, R2 drug, R3 control, ...
        se2 = (float(np.mean(v0 + ve / control)) / len(control)
               + float(np.mean(v0 + vt + ve / drug)) / len(drug))
        df, n_control, n_drug = n_rep - 2, control.sum(), drug.sum()
    # The same cells as independent draws, each with the total variance of its arm.
    se_naive2 = (v0 + ve) / n_control + (v0 + vt + ve) / n_drug
    return math.sqrt(se2), math.sqrt(se_naive2), float(df), float(n_control + n_drug)


def planned_power(n_replicates: int = 4, cells_per_replicate=2000, effect: float = 0.1, *, design: str = "within",
                  replicate_sd: float = 0.2, replicate_treatment_sd: float = 0.1, residual_sd: float = 0.5,
                  alpha: float = 0.05, target: float = 0.8) -> pd.Series:
    """Power of the t-test on replicate means for one design, in closed form.

    The drug effect is estimated from replicate means of log(length): in the ``"within"``
    design from each replicate's drug-minus-control difference (a paired t-test on
    ``n_replicates - 1`` df), in the ``"between"`` design from the replicates of each arm (a
    two-sample t-test on ``n_replicates - 2`` df). For a balanced design this is exactly the
    test of the mixed model (``(1 + treatment | replicate)`` within, ``(1 | replicate)``
    between). Power is that of a noncentral t: exact for equal cells per replicate in the
    within design, and in the between design when ``replicate_treatment_sd`` is 0 (otherwise
    the two arms' replicate means differ in variance and it is a close approximation).

    Parameters
    ----------
    n_replicates : int, default 4
        Number of replicates (cultures, animals, days): the experimental units.
    cells_per_replicate : int or tuple of int, default 2000
        Measurements per replicate (split half and half between the arms in the within
        design), or one count per replicate.
    effect : float, default 0.1
        True drug effect on log(length); :func:`effect_from_percent` converts a percent change.
    design : {"within", "between"}, default "within"
        Every replicate has both arms, or each replicate is one arm (R1 control, R2 drug, ...).
    replicate_sd : float, default 0.2
        SD of the replicate intercepts (log scale); only the between design feels it.
    replicate_treatment_sd : float, default 0.1
        SD of the replicate-to-replicate variation of the drug effect (log scale).
    residual_sd : float, default 0.5
        SD of single measurements within a replicate and arm (log scale).
    alpha : float, default 0.05
        Significance level (two-sided).
    target : float, default 0.8
        Power at which the minimum detectable effect is reported.

    Returns
    -------
    pandas.Series
        ``design, n_replicates, cells_per_replicate, n_cells, effect, percent, se`` (of the
        replicate-level estimate), ``se_naive`` (the SE the same cells would give as
        independent units), ``design_effect`` (``(se / se_naive)**2``), ``n_effective``
        (``n_cells / design_effect``), ``df, ncp, power, mde`` (the smallest true effect
        detected with probability ``target``, log scale), ``mde_percent`` (as a percent
        increase in length) and ``problem`` (why no test exists, else "").

    Examples
    --------
    >>> plan = planned_power(4, 2000, effect_from_percent(10))
    >>> int(plan["df"]), bool(0 < plan["power"] < 0.5), bool(plan["mde_percent"] > 10)
    (3, True, True)
    >>> between = planned_power(6, 100, 0.1, design="between", replicate_treatment_sd=0.0)
    >>> from lmmedu.teach.studies import true_design_effect
    >>> round(between["design_effect"], 2), round(true_design_effect(0.2, 100), 2)
    (14.66, 14.66)
    """
    if design not in _DESIGNS:
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    n_replicates = _plan_int("n_replicates", n_replicates, 2)
    cells = _plan_cells(cells_per_replicate, n_replicates, design)
    effect = real("effect", effect)
    replicate_sd, replicate_treatment_sd, residual_sd = _plan_sds(replicate_sd, replicate_treatment_sd, residual_sd)
    alpha, target = _plan_levels(alpha, target)
    se, se_naive, df, n_cells = _plan_replicate_ses(design, cells, replicate_sd, replicate_treatment_sd, residual_sd)
    deff = (se / se_naive) ** 2
    ncp = effect / se
    mde = _plan_ncp(df, alpha, target) * se
    cpr = int(cells[0]) if len(set(cells.tolist())) == 1 else tuple(int(c) for c in cells)
    return pd.Series({
        "design": design, "n_replicates": n_replicates, "cells_per_replicate": cpr, "n_cells": int(n_cells),
        "effect": effect, "percent": percent_from_effect(effect), "se": se, "se_naive": se_naive,
        "design_effect": deff, "n_effective": n_cells / deff, "df": df, "ncp": ncp,
        "power": _plan_power(ncp, df, alpha), "mde": mde,
        "mde_percent": percent_from_effect(mde) if math.isfinite(mde) else math.nan,
        "problem": design_problem(n_replicates, design),
    }, name="plan")


def power_curve(n_replicates=tuple(range(3, 17)), cells_per_replicate=(100, 1000, 10000), effect: float = 0.1,
                **settings: Any) -> pd.DataFrame:
    """Closed-form power (:func:`planned_power`) at every number of replicates and cells per replicate.

    Parameters
    ----------
    n_replicates : sequence of int, default 3 to 16
    cells_per_replicate : sequence of int, default (100, 1000, 10000)
    effect : float, default 0.1
        True drug effect on log(length).
    **settings
        Other keyword arguments of :func:`planned_power` (``design``, the SDs, ``alpha``, ``target``).

    Returns
    -------
    pandas.DataFrame
        One row per ``cells_per_replicate`` and ``n_replicates`` (in that order), the columns
        of :func:`planned_power`; ``attrs["settings"]`` keeps ``effect`` and ``settings``.

    Examples
    --------
    >>> curve = power_curve([4, 8], [100, 1000])
    >>> curve[["cells_per_replicate", "n_replicates"]].values.tolist()
    [[100, 4], [100, 8], [1000, 4], [1000, 8]]
    """
    reps = [n_replicates] if isinstance(n_replicates, (int, np.integer)) else list(n_replicates)
    cells = [cells_per_replicate] if isinstance(cells_per_replicate, (int, np.integer)) else list(cells_per_replicate)
    if not reps or not cells:
        raise ValueError("n_replicates and cells_per_replicate must each hold at least one value.")
    rows = [planned_power(r, m, effect, **settings) for m in cells for r in reps]
    out = pd.DataFrame(rows).reset_index(drop=True)
    out.attrs["settings"] = {"effect": float(effect), **settings}
    return out


def power_curve_summary(curve: pd.DataFrame, at: int = 4, x: str = "n_replicates",
                        hue: str = "cells_per_replicate", target: float = 0.8,
                        compare: Sequence[Any] | None = None) -> dict[str, Any]:
    """The numbers a power curve's title and prose quote: power at ``x = at`` for two ``hue`` values.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`power_curve` or :func:`array_power`.
    at : int, default 4
        The value of ``x`` to read the curves at.
    x, hue : str
        Column of the horizontal axis and of the line colour.
    target : float, default 0.8
        Power to reach.
    compare : pair of hue values, optional
        The two lines to compare; default the smallest and the largest ``hue``.

    Returns
    -------
    dict
        ``at``; ``low`` and ``high`` (the two ``hue`` values compared); ``power_low`` and
        ``power_high`` (their power at ``at``); ``needed`` (hue -> smallest ``x`` on the curve
        whose power reaches ``target``, or None).

    Examples
    --------
    >>> s = power_curve_summary(power_curve([4, 8], [100, 1000]), at=4)
    >>> s["low"], s["high"], bool(s["power_high"] >= s["power_low"])
    (100, 1000, True)
    """
    for column in (x, hue, "power"):
        if column not in curve.columns:
            raise ValueError(f"power_curve_summary needs a column {column!r}; pass the output of power_curve "
                             "or array_power.")
    hues = sorted(v.item() if hasattr(v, "item") else v for v in curve[hue].unique())
    at_rows = curve[curve[x] == at].set_index(hue)["power"]
    if at_rows.empty:
        raise ValueError(f"the curve has no point at {x} = {at}; its values are {sorted(curve[x].unique())}.")
    low, high = (hues[0], hues[-1]) if compare is None else tuple(compare)
    if low not in hues or high not in hues:
        raise ValueError(f"compare must name two {hue} values of the curve, {hues}; got {compare!r}.")
    needed = {}
    for h in hues:
        sub = curve[(curve[hue] == h) & (curve["power"] >= target)]
        needed[h] = int(sub[x].min()) if len(sub) else None
    return {"at": at, "low": low, "high": high, "power_low": float(at_rows.get(low, math.nan)),
            "power_high": float(at_rows.get(high, math.nan)), "needed": needed}


def _plan_cell_arrays(data: pd.DataFrame):
    for column in ("replicate", "treatment", "length"):
        if column not in data.columns:
            raise ValueError(f"the data need a column {column!r}, as made by lmmedu.simulate_replicates.")
    log_length = np.log(data["length"].to_numpy(dtype=float))
    rep_codes, rep_levels = _plan_codes(data["replicate"])
    treatment_codes, treatment_levels = _plan_codes(data["treatment"])
    drug = (treatment_codes == treatment_levels.index("drug") if "drug" in treatment_levels
            else np.zeros(len(data), dtype=bool))
    return log_length, rep_codes, len(rep_levels), np.asarray(drug, dtype=bool)


def _plan_codes(column: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes and levels of a column (a categorical one, as the simulators make, is read as it is).

    A missing unit would otherwise get code -1 and fail deep inside ``np.bincount``.
    """
    cat = column.array if isinstance(column.dtype, pd.CategoricalDtype) else pd.Categorical(column)
    codes = cat.codes.astype(np.int64)
    if codes.size and codes.min() < 0:
        raise ValueError(f"the column {column.name!r} has missing values; drop those rows first.")
    return codes, list(cat.categories)


def _plan_t_row(estimate, se, df):
    t = estimate / se if se > 0 else math.nan
    # stdtr is the t distribution's CDF without scipy.stats' argument handling (under 1 us a call
    # instead of about 50 us; a study makes one call per experiment and analysis).
    return {"estimate": float(estimate), "se": float(se), "df": float(df),
            "p": float(2.0 * _special.stdtr(df, -abs(t))) if math.isfinite(t) else math.nan}


def naive_lm_test(data: pd.DataFrame) -> dict:
    """Drug vs control with every measurement as an independent unit: ``lm(log(length) ~ treatment)``.

    With one two-level predictor, lm's t-test is the pooled two-sample t-test on the cells;
    this computes it directly (fast enough for thousands of simulated experiments).

    Returns
    -------
    dict
        ``estimate``, ``se``, ``df`` (cells - 2) and ``p``: an analysis for :func:`run_study`.

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_replicates
    >>> row = naive_lm_test(simulate_replicates(genes=("A",), obs_per_replicate=50, seed=1))
    >>> int(row["df"])
    198
    """
    y, _, _, drug = _plan_cell_arrays(data)
    a, b = y[drug], y[~drug]
    if len(a) < 1 or len(b) < 1 or len(y) < 3:
        raise ValueError("the naive lm needs cells in both arms and at least 3 cells in all.")
    df = len(y) - 2
    pooled = (((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()) / df
    return _plan_t_row(a.mean() - b.mean(), math.sqrt(pooled * (1.0 / len(a) + 1.0 / len(b))), df)


def replicate_means_test(data: pd.DataFrame) -> dict:
    """The t-test on replicate means of log(length): the experimental units, one number each.

    If every replicate has both arms, a paired t-test on the replicates' drug-minus-control
    differences (``n_replicates - 1`` df); if each replicate is one arm, a two-sample t-test on
    the replicate means (``n_replicates - 2`` df). For balanced designs this equals the mixed
    model's test: ``(1 + treatment | replicate)`` and ``(1 | replicate)`` respectively.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``df``, ``p``: an analysis for :func:`run_study`.

    Raises
    ------
    ValueError
        When some replicates have one arm and others both, or no df are left for a t-test.

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_replicates
    >>> row = replicate_means_test(simulate_replicates(genes=("A",), obs_per_replicate=50, seed=1))
    >>> int(row["df"])
    3
    """
    y, rep, n_rep, drug = _plan_cell_arrays(data)
    key = rep * 2 + drug.astype(np.int64)
    counts = np.bincount(key, minlength=2 * n_rep).reshape(n_rep, 2)
    sums = np.bincount(key, weights=y, minlength=2 * n_rep).reshape(n_rep, 2)
    present = counts > 0
    used = present.any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    if present[used].all():
        diff = means[used, 1] - means[used, 0]
        df = len(diff) - 1
        if df < 1:
            raise ValueError("one replicate leaves no df for a paired t-test; the design needs at least 2.")
        return _plan_t_row(diff.mean(), diff.std(ddof=1) / math.sqrt(len(diff)), df)
    if (present[used].sum(axis=1) == 1).all():
        control = means[used & present[:, 0], 0]
        drugs = means[used & present[:, 1], 1]
        df = len(control) + len(drugs) - 2
        if len(control) < 1 or len(drugs) < 1 or df < 1:
            raise ValueError(design_problem(len(control) + len(drugs), "between")
                             or "each arm needs a replicate and at least 3 replicates in all.")
        pooled = (((control - control.mean()) ** 2).sum() + ((drugs - drugs.mean()) ** 2).sum()) / df
        return _plan_t_row(drugs.mean() - control.mean(), math.sqrt(pooled * (1 / len(control) + 1 / len(drugs))), df)
    raise ValueError("some replicates have both arms and some only one; analyse them with a mixed model, "
                     "not with replicate means.")


def _simulate_plan(rng, *, n_replicates, cells_per_replicate, effect, design, replicate_sd,
                   replicate_treatment_sd, residual_sd):
    data = simulate_replicates(genes=("A",), n_replicates=n_replicates, obs_per_replicate=cells_per_replicate,
                               design=design, treatment_effects=float(effect), replicate_sd=replicate_sd,
                               replicate_treatment_sd=replicate_treatment_sd, residual_sd=residual_sd, seed=rng)
    # pandas deep-copies attrs on every column access; the analyses never read the truth, and
    # without it a study runs several times faster.
    data.attrs = {}
    return data


def replicate_power_study(effect: float = 0.1, *, design: str = "within", n_replicates: int = 4,
                          cells_per_replicate=2000, replicate_sd: float = 0.2, replicate_treatment_sd: float = 0.1,
                          residual_sd: float = 0.5, points: Sequence[Mapping[str, Any]] | None = None,
                          mixed: bool = False, n_sims: int = 200, seed: int = 0, alpha: float = 0.05,
                          progress: bool | Callable[[int, int], Any] = False,
                          false_positives: bool = True) -> pd.DataFrame:
    """Power and false-positive rate of each analysis, by simulating the replicate experiment.

    At every design point, ``n_sims`` experiments are simulated with
    :func:`lmmedu.data.simulate.simulate_replicates` (one gene) with no drug effect and the
    same ``n_sims`` with ``effect``: the rejection rate of the first is the false-positive
    rate, of the second the power. Analyses: ``"naive lm"`` (:func:`naive_lm_test`),
    ``"t-test on replicate means"`` (:func:`replicate_means_test`) and, if ``mixed``, the
    model ``log(length) ~ treatment + (1|replicate)`` with Satterthwaite df (about 10 ms a fit).

    Parameters
    ----------
    effect : float, default 0.1
        True drug effect on log(length) in the "power" experiments.
    design, n_replicates, cells_per_replicate, replicate_sd, replicate_treatment_sd, residual_sd
        As in :func:`planned_power`; ``cells_per_replicate`` may be one count per replicate.
    points : list of dict, optional
        Design points, each a dict of ``n_replicates`` and/or ``cells_per_replicate``
        overriding the defaults. Default: the one point given by the arguments.
    mixed : bool, default False
        Also fit the random-intercept mixed model (slower).
    n_sims : int, default 200
        Experiments per design point and effect.
    seed : int, default 0
    alpha : float, default 0.05
    progress : bool or callable, default False
        See :func:`progress_callback`.
    false_positives : bool, default True
        Also simulate the no-effect experiments. ``False`` simulates only the experiments with
        ``effect`` (power alone, as ``simr::powerCurve``), half the work when only the power is
        read.

    Returns
    -------
    pandas.DataFrame
        The rates table of :func:`rates` with setting columns ``n_replicates``,
        ``cells_per_replicate`` and ``effect``; ``attrs["settings"]`` holds the fixed arguments.
        :func:`power_and_false_positives` puts the two rates of each analysis side by side.

    Examples
    --------
    >>> table = replicate_power_study(0.2, cells_per_replicate=20, n_sims=5)
    >>> table[["effect", "analysis"]].values.tolist()[:2]
    [[0.0, 'naive lm'], [0.0, 't-test on replicate means']]
    """
    if design not in _DESIGNS:
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    effect = real("effect", effect)
    replicate_sd, replicate_treatment_sd, residual_sd = _plan_sds(replicate_sd, replicate_treatment_sd, residual_sd)
    if not isinstance(false_positives, (bool, np.bool_)):
        raise ValueError(f"false_positives must be True or False, got {false_positives!r}.")
    if not false_positives and effect == 0:
        raise ValueError("with effect 0 and false_positives=False there is nothing to simulate; give a non-zero "
                         "effect or keep the no-effect experiments.")
    effects = (0.0, effect) if effect != 0 else (0.0,)
    if not false_positives:
        effects = (effect,)
    grid = []
    for point in (points or [{}]):
        unknown = set(point) - {"n_replicates", "cells_per_replicate"}
        if unknown:
            raise ValueError(f"a design point may set n_replicates and cells_per_replicate, not {sorted(unknown)}.")
        reps = _plan_int("n_replicates", point.get("n_replicates", n_replicates), 2)
        cells = point.get("cells_per_replicate", cells_per_replicate)
        _plan_cells(cells, reps, design)
        cells = tuple(int(c) for c in cells) if isinstance(cells, (tuple, list, np.ndarray)) else int(cells)
        for e in effects:
            grid.append({"n_replicates": reps, "cells_per_replicate": cells, "effect": e})
    analyses = {"naive lm": naive_lm_test, "t-test on replicate means": replicate_means_test}
    if mixed:
        analyses["mixed model (1|replicate)"] = coefficient_test(MIXED_FORMULA, _TERM)
    fixed = {"design": design, "replicate_sd": replicate_sd, "replicate_treatment_sd": replicate_treatment_sd,
             "residual_sd": residual_sd}
    results = run_study(_functools.partial(_simulate_plan, **fixed), analyses, n_sims=n_sims, seed=seed,
                        progress=progress, grid=grid, settings={**fixed, "effect": effect})
    return rates(results, alpha=alpha)


def power_and_false_positives(table: pd.DataFrame) -> pd.DataFrame:
    """The two rates of each analysis side by side: false positives (no effect) and power (the effect).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`replicate_power_study` or :func:`array_power_study` (a :func:`rates`
        table with an effect column, ``effect`` or ``interaction``, that is 0 for the
        no-effect experiments).

    Returns
    -------
    pandas.DataFrame
        One row per design point and analysis: the design columns, ``analysis``,
        ``false_positive_rate``, ``fp_low``, ``fp_high``, ``power``, ``power_low``,
        ``power_high`` (95% Wilson intervals), ``n_sims`` and ``median_df`` (of the no-effect
        experiments; of the experiments with the effect when the study ran only those, whose
        false-positive columns are then NaN). ``attrs`` keep the study's, plus ``effect``.

    Examples
    --------
    >>> wide = power_and_false_positives(replicate_power_study(0.2, cells_per_replicate=20, n_sims=5))
    >>> list(wide.columns[:4])
    ['n_replicates', 'cells_per_replicate', 'analysis', 'false_positive_rate']
    """
    if not isinstance(table, pd.DataFrame) or "rate" not in table.columns:
        raise ValueError("power_and_false_positives needs the rates table of replicate_power_study or "
                         "array_power_study.")
    columns = list(table.attrs.get("setting_columns", []))
    effect_column = next((c for c in ("effect", "interaction") if c in columns), None)
    if effect_column is None:
        raise ValueError("the table has no effect column (effect or interaction); pass the output of "
                         "replicate_power_study or array_power_study.")
    keys = [c for c in columns if c != effect_column] + ["analysis"]
    null = table[table[effect_column] == 0]
    alt = table[table[effect_column] != 0]
    left = null[keys + ["rate", "ci_low", "ci_high", "n_sims", "median_df"]].rename(
        columns={"rate": "false_positive_rate", "ci_low": "fp_low", "ci_high": "fp_high"})
    right = alt[keys + ["rate", "ci_low", "ci_high"]].rename(
        columns={"rate": "power", "ci_low": "power_low", "ci_high": "power_high"})
    if len(null):
        out = left.merge(right, on=keys, how="left", sort=False) if len(right) else left.assign(
            power=math.nan, power_low=math.nan, power_high=math.nan)
    else:  # power alone (replicate_power_study(..., false_positives=False))
        out = right.assign(false_positive_rate=math.nan, fp_low=math.nan, fp_high=math.nan,
                           n_sims=alt["n_sims"].to_numpy(), median_df=alt["median_df"].to_numpy())
    out = out[keys + ["false_positive_rate", "fp_low", "fp_high", "power", "power_low", "power_high",
                      "n_sims", "median_df"]].reset_index(drop=True)
    out.attrs.update(table.attrs)
    out.attrs["effect"] = float(alt[effect_column].iloc[0]) if len(alt) else 0.0
    return out
