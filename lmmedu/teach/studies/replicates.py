"""Notebook 01's study: how often does each analysis of one gene find a drug effect that is not there?

Three analyses of :data:`ANALYSES` on data with no true drug effect -- ``"naive lm"``
(``log(length) ~ treatment`` on every measurement, as if each were independent), ``"t-test on
replicate means"`` (independent samples in the between design, paired in the within design)
and ``"mixed model"`` (:data:`MIXED_FORMULA`, Satterthwaite df) -- run by
:func:`simulate_p_values`, summarised by :func:`false_positive_rates` and traced over one
setting by :func:`rate_curve`. The truths of the settings (:func:`~lmmedu.data.truth.true_icc`,
:func:`~lmmedu.data.truth.design_problem`) are in :mod:`lmmedu.data.truth`.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...data.checks import count, finite, sd
from ...data.simulate import simulate_replicates
from ...data.truth import design_problem
from ..cells import replicate_means
from .runner import coefficient_test, rates, run_study

__all__ = ["ANALYSES", "MIXED_FORMULA", "simulate_p_values", "false_positive_rates", "rate_curve"]


#: The three analyses of the pseudo-replication study, in display order.
ANALYSES = ("naive lm", "t-test on replicate means", "mixed model")

_TERM = "treatment[T.drug]"
#: The mixed model of one gene that the replicate studies fit.
MIXED_FORMULA = "log(length) ~ treatment + (1|replicate)"
_DESIGNS = ("within", "between")
#: Settings of the pseudo-replication study that :func:`rate_curve` can vary.
_VARIABLE = ("n_replicates", "obs_per_replicate", "replicate_sd", "replicate_treatment_sd")


def _check_settings(n_replicates, obs_per_replicate, replicate_sd, design, residual_sd, replicate_treatment_sd=0.0):
    if design not in _DESIGNS:
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    count("n_replicates", n_replicates, 2)
    count(f"obs_per_replicate (in the {design} design)", obs_per_replicate, 2 if design == "within" else 1)
    for name, value in (("replicate_sd", replicate_sd), ("residual_sd", residual_sd),
                        ("replicate_treatment_sd", replicate_treatment_sd)):
        sd(name, value)
    if residual_sd == 0:
        raise ValueError("residual_sd must be greater than 0, so that measurements within a replicate differ.")


def _replicate_level_problem(data: pd.DataFrame) -> str:
    """design_problem read off the data: one replicate per arm leaves nothing to test with."""
    per_arm = data.groupby("treatment", observed=True)["replicate"].nunique()
    if per_arm.min() < 2:
        return design_problem(int(data["replicate"].nunique()), "between")
    return ""


def _replicate_means_test(data: pd.DataFrame) -> dict:
    """t-test on per-replicate means of log(length): paired when every replicate has both arms."""
    problem = _replicate_level_problem(data)
    if problem:
        return {"df": 0.0, "error": problem}
    means = replicate_means(data, cells=("treatment",)).pivot(index="replicate", columns="treatment",
                                                                values="mean_log")
    if means.notna().all().all():  # within design: drug minus control inside each replicate
        diff = (means["drug"] - means["control"]).to_numpy()
        res, dof, estimate = stats.ttest_1samp(diff, 0.0), len(diff) - 1, float(diff.mean())
    else:
        control, drug = means["control"].dropna().to_numpy(), means["drug"].dropna().to_numpy()
        res, dof = stats.ttest_ind(drug, control), len(control) + len(drug) - 2
        estimate = float(drug.mean() - control.mean())
    p, t = float(res.pvalue), float(res.statistic)
    return {"estimate": estimate, "se": estimate / t if t else math.nan, "df": float(dof), "p": p,
            "error": "" if math.isfinite(p) else "too few replicates for a t-test"}


def _pseudoreplication_analyses() -> dict[str, Callable]:
    naive = coefficient_test("log(length) ~ treatment", _TERM)
    mixed = coefficient_test(MIXED_FORMULA, _TERM)

    def mixed_model(data):
        # One replicate per arm: a mixed model there is degenerate or singular (the naive lm
        # in disguise), so "not testable" is the honest record.
        problem = _replicate_level_problem(data)
        return {"df": 0.0, "error": problem} if problem else mixed(data)

    return dict(zip(ANALYSES, (naive, _replicate_means_test, mixed_model)))


def simulate_p_values(
    n_replicates: int = 4,
    obs_per_replicate: int = 100,
    replicate_sd: float = 0.2,
    design: str = "between",
    n_sims: int = 200,
    seed: int = 0,
    residual_sd: float = 0.5,
    replicate_treatment_sd: float = 0.0,
    progress: bool | Callable[[int, int], Any] = False,
    grid: Sequence[Mapping[str, Any]] | None = None,
    effect: float = 0.0,
) -> pd.DataFrame:
    """Simulate experiments and record each analysis's test of the drug effect (notebook 01).

    With ``effect=0`` (the default) the drug does nothing, so every rejection is a false
    positive; with ``effect != 0`` the share of rejections is the power.

    Parameters
    ----------
    n_replicates : int, default 4
        Replicates per experiment (at least 2). In the between design they alternate
        between the arms: R1 control, R2 drug, R3 control, ...
    obs_per_replicate : int, default 100
        Measurements per replicate (split half and half between the arms in the within design).
    replicate_sd : float, default 0.2
        SD of the replicate intercepts on the log scale.
    design : {"within", "between"}, default "between"
        Whether every replicate has both arms or each replicate is one arm.
    n_sims : int, default 200
        Number of simulated experiments (per setting of ``grid``).
    seed : int, default 0
        Seed of the whole study (see :func:`run_study`).
    residual_sd : float, default 0.5
        SD of the measurement-level error on the log scale.
    replicate_treatment_sd : float, default 0.0
        SD of the replicate-to-replicate variation of the drug effect (around ``effect``).
    progress : bool or callable, default False
        See :func:`progress_callback`.
    grid : list of dict, optional
        Values of ``n_replicates``, ``obs_per_replicate``, ``replicate_sd`` or
        ``replicate_treatment_sd`` that replace the fixed ones, one dict per setting (see
        :func:`rate_curve`).
    effect : float, default 0.0
        The true drug effect on log(length) (its mean over replicates).

    Returns
    -------
    pandas.DataFrame
        The :func:`run_study` table of the analyses in :data:`ANALYSES`. When a setting has
        one replicate per arm (:func:`design_problem`) only the naive lm is tested; the
        other two get ``p`` = NaN, ``df`` = 0 and the reason in ``error``.

    Examples
    --------
    >>> out = simulate_p_values(n_sims=2, obs_per_replicate=10)
    >>> out["analysis"].unique().tolist()
    ['naive lm', 't-test on replicate means', 'mixed model']
    """
    fixed = {"n_replicates": n_replicates, "obs_per_replicate": obs_per_replicate, "replicate_sd": replicate_sd,
             "replicate_treatment_sd": replicate_treatment_sd}
    effect = finite("effect", effect)
    grid = [{}] if grid is None else [dict(g) for g in grid]
    for setting in grid:
        unknown = set(setting) - set(_VARIABLE)
        if unknown:
            raise ValueError(f"grid can vary only {list(_VARIABLE)}, got {sorted(unknown)}.")
        _check_settings(**{**fixed, **setting}, design=design, residual_sd=residual_sd)

    def simulate(rng, **setting):
        return simulate_replicates(genes=("A",), design=design, treatment_effects=effect, residual_sd=residual_sd,
                                   seed=rng, **{**fixed, **setting})

    varied = {k for g in grid for k in g}
    settings = {**{k: v for k, v in fixed.items() if k not in varied}, "design": design,
                "residual_sd": residual_sd, "effect": effect}
    return run_study(simulate, _pseudoreplication_analyses(), n_sims=n_sims, seed=seed, progress=progress,
                     grid=None if grid == [{}] else grid, settings=settings)


def false_positive_rates(*, alpha: float = 0.05, **settings: Any) -> pd.DataFrame:
    """False-positive rate of the naive lm, the t-test on replicate means and the mixed model.

    With a true ``effect`` other than 0 the same table holds each analysis's power instead.

    Parameters
    ----------
    alpha : float, default 0.05
        Significance level.
    **settings
        The keyword arguments of :func:`simulate_p_values` but ``grid``, with its defaults:
        ``n_replicates=4``, ``obs_per_replicate=100``, ``replicate_sd=0.2``,
        ``design="between"``, ``n_sims=200``, ``seed=0``, ``progress=False``,
        ``residual_sd=0.5``, ``replicate_treatment_sd=0.0``, ``effect=0.0``.

    Returns
    -------
    pandas.DataFrame
        The :func:`rates` table, one row per analysis in :data:`ANALYSES` order;
        ``attrs["problem"]`` is the sentence of :func:`design_problem` (or "").

    Examples
    --------
    >>> table = false_positive_rates(n_sims=20, obs_per_replicate=20, seed=1)
    >>> table["analysis"].tolist()
    ['naive lm', 't-test on replicate means', 'mixed model']
    """
    if not isinstance(alpha, (int, float, np.number)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"false_positive_rates() got unknown argument(s) {unknown}; it takes alpha and "
                        f"{', '.join(_SETTINGS)} (one setting: for several, use rate_curve).")
    results = simulate_p_values(**settings)
    out = rates(results, alpha=alpha)
    out.attrs["problem"] = design_problem(results.attrs["settings"]["n_replicates"], results.attrs["settings"]["design"])
    return out


#: What false_positive_rates passes on to simulate_p_values: one setting, so every argument but grid.
_SETTINGS = tuple(name for name in inspect.signature(simulate_p_values).parameters if name != "grid")


def rate_curve(vary: str, values, *, progress: bool | Callable[[int, int], Any] = False, alpha: float = 0.05,
               **settings: Any) -> pd.DataFrame:
    """False-positive rates of every analysis as one setting changes and the others stay fixed.

    Parameters
    ----------
    vary : {"n_replicates", "obs_per_replicate", "replicate_sd", "replicate_treatment_sd"}
        The setting to change.
    values : sequence
        Its values, in the order to run them.
    progress : bool or callable, default False
        As in :func:`simulate_p_values`, counting the experiments of all values together.
    alpha : float, default 0.05
    **settings
        Other keyword arguments of :func:`simulate_p_values` (``design``, ``n_sims``, ``seed``...).
        Every value sees the same simulated draws, so the curves differ only by the setting.

    Returns
    -------
    pandas.DataFrame
        The :func:`rates` table with ``vary`` as its setting column.

    Examples
    --------
    >>> curve = rate_curve("obs_per_replicate", [5, 10], n_sims=3)
    >>> curve["obs_per_replicate"].tolist()
    [5, 5, 5, 10, 10, 10]
    """
    if vary not in _VARIABLE:
        raise ValueError(f"vary must be one of {list(_VARIABLE)}, got {vary!r}.")
    if vary in settings:
        raise ValueError(f"{vary} is the setting being varied; give its values in values, not as a keyword.")
    values = list(values)
    if not values:
        raise ValueError("values must hold at least one value of the setting to vary.")
    if "grid" in settings:
        raise ValueError("rate_curve builds the grid from vary and values; do not pass grid.")
    results = simulate_p_values(**settings, grid=[{vary: v} for v in values], progress=progress)
    return rates(results, alpha=alpha)
