"""Notebook 06, *How well do a few replicates estimate an SD?*: interval estimates of a random-slope SD.

:func:`sd_interval_study` simulates experiments with a known SD of the replicates' drug effects and
computes the profile and the parametric-bootstrap interval of that SD for each (two analyses of the
one runner, :func:`~lmmedu.teach.studies.run_study`, which keeps their ``lower`` and ``upper``
limits); :func:`sd_interval_summary` says how often each interval covered the truth and how it
missed; :func:`sd_interval_view` is one setting of it, for the notebook's explorer. The study is
cached (``sd_interval_study`` in :mod:`.cache`).

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ...data.simulate import simulate_replicates
from ...stats.bootstrap import bootstrap, check_n
from ...stats.fit import fit
from ...stats.profile import Profiler, check_level
from .pooling import SLOPE_FORMULA
from .runner import binomial_ci, progress_callback, run_study

__all__ = ["SD_PARAMETER", "SD_INTERVAL_REPLICATES", "SD_INTERVAL_SLOPE_SDS", "sd_interval_analyses",
           "sd_interval_study", "SD_SUMMARY_COLUMNS", "sd_interval_summary", "SdIntervalView", "sd_interval_view"]


#: The random-slope SD whose intervals :func:`sd_interval_study` follows (lme4's ``confint`` name).
SD_PARAMETER = "sd_treatment[T.drug]|replicate"
#: The settings of the cached study (notebook 06's sliders): numbers of replicates and true slope SDs.
SD_INTERVAL_REPLICATES = (3, 4, 6, 12)
SD_INTERVAL_SLOPE_SDS = (0.025, 0.05, 0.1, 0.2, 0.4)
#: Fixed seed of every experiment's bootstrap: the refits' draws are independent of the data anyway,
#: and a fixed seed makes each row reproducible from the data alone.
_BOOT_SEED = 2024


def _simulate_sd_experiment(rng, *, n_replicates, slope_sd, cells, replicate_sd, residual_sd, drug_effect):
    return simulate_replicates(genes=("A",), n_replicates=int(n_replicates), obs_per_replicate=int(cells),
                               treatment_effects=drug_effect, replicate_sd=replicate_sd,
                               replicate_treatment_sd=slope_sd, residual_sd=residual_sd, seed=rng)


def sd_interval_analyses(n_boot: int = 100, level: float = 0.95) -> dict:
    """The two analyses of :func:`sd_interval_study`: a profile and a bootstrap interval of the slope SD.

    Each fits :data:`SLOPE_FORMULA` by REML and returns an interval for :data:`SD_PARAMETER`:

    - ``"profile"``: the likelihood-profile interval (R: ``confint(fit, parm = "sd_treatmentdrug|replicate",
      method = "profile")``); ``estimate`` is the maximum-likelihood SD the profile is centred on.
    - ``"bootstrap"``: the percentile interval of ``n_boot`` parametric-bootstrap refits (R:
      ``confint(fit, method = "boot", nsim = n_boot)``); ``estimate`` is the REML SD the refits are
      simulated from.

    Returns
    -------
    dict of str -> callable
        Analyses for :func:`~lmmedu.teach.studies.run_study` (keys ``estimate``, ``lower``,
        ``upper``, ``singular``).

    Examples
    --------
    >>> data = simulate_replicates(genes=("A",), n_replicates=4, obs_per_replicate=40, seed=1)
    >>> out = sd_interval_analyses(n_boot=20)["profile"](data)
    >>> sorted(out), bool(out["lower"] <= out["estimate"] <= out["upper"])
    (['estimate', 'lower', 'singular', 'upper'], True)
    """
    n_boot, level = check_n(n_boot), check_level(level)

    def profile(data):
        model = fit(SLOPE_FORMULA, data)
        pr = Profiler(model)
        lower, upper, _ = pr.interval(SD_PARAMETER, level)
        return {"estimate": float(pr.estimate_ml[SD_PARAMETER]), "lower": lower, "upper": upper,
                "singular": bool(model.singular)}

    def boot(data):
        model = fit(SLOPE_FORMULA, data)
        ci = bootstrap(model, n=n_boot, seed=_BOOT_SEED).confint(level).loc[SD_PARAMETER]
        return {"estimate": float(ci["estimate"]), "lower": float(ci["lower"]), "upper": float(ci["upper"]),
                "singular": bool(model.singular)}

    return {"profile": profile, "bootstrap": boot}


def sd_interval_study(n_replicates: Sequence[int] = SD_INTERVAL_REPLICATES,
                      slope_sds: Sequence[float] = SD_INTERVAL_SLOPE_SDS, n_sims: int = 30, n_boot: int = 100,
                      cells: int = 100, replicate_sd: float = 0.2, residual_sd: float = 0.5, drug_effect: float = 0.1,
                      level: float = 0.95, seed: int = 24, progress: bool | Callable[[int, int], Any] = False,
                      n_jobs: int = 1) -> pd.DataFrame:
    """Simulate experiments with a known SD of the replicates' drug effects and interval-estimate it.

    Every experiment is one gene in ``n_replicates`` replicates of ``cells`` cells (half control,
    half drug; :func:`lmmedu.simulate_replicates`), fitted with :data:`SLOPE_FORMULA`; the two
    analyses of :func:`sd_interval_analyses` give a profile and a bootstrap interval of the slope SD.
    The same experiments (seeds) are used at every setting.

    Parameters
    ----------
    n_replicates : sequence of int
        Numbers of replicates (at least 3).
    slope_sds : sequence of float
        True SDs of the replicates' drug effects (log scale), each > 0.
    n_sims : int, default 30
        Experiments per setting.
    n_boot : int, default 100
        Bootstrap refits per experiment.
    cells, replicate_sd, residual_sd, drug_effect
        The rest of the simulated truth (cells per replicate, SDs of replicate levels and of single
        cells, the average drug effect).
    level : float, default 0.95
    seed : int, default 24
    progress : bool or callable
        Counts the experiments when ``n_jobs`` is 1; with several workers, the settings done.
    n_jobs : int, default 1
        Settings computed in parallel (joblib processes). The table is the same for any
        ``n_jobs``: every setting starts from the same seeds.

    Returns
    -------
    pandas.DataFrame
        :func:`~lmmedu.teach.studies.run_study`'s table with setting columns ``n_replicates``,
        ``slope_sd`` and the interval columns ``lower``, ``upper`` (``p`` is empty: nothing is
        tested). Summarise it with :func:`sd_interval_summary`.

    Examples
    --------
    >>> t = sd_interval_study([4], [0.1], n_sims=1, n_boot=10, cells=20)
    >>> t[["analysis", "lower", "upper"]].notna().all().all(), t["analysis"].tolist()
    (np.True_, ['profile', 'bootstrap'])
    """
    reps = [int(k) for k in n_replicates]
    sds = [float(s) for s in slope_sds]
    if not reps or any(k < 3 for k in reps):
        raise ValueError(f"n_replicates must be numbers of replicates of at least 3, got {list(n_replicates)!r}.")
    if not sds or any(not math.isfinite(s) or s <= 0 for s in sds):
        raise ValueError(f"slope_sds must be SDs above 0 (an interval cannot miss a truth of 0), got {list(slope_sds)!r}.")
    settings = dict(cells=cells, replicate_sd=replicate_sd, residual_sd=residual_sd, drug_effect=drug_effect)

    def simulate(rng, n_replicates, slope_sd):
        return _simulate_sd_experiment(rng, n_replicates=n_replicates, slope_sd=slope_sd, **settings)

    grid = [{"n_replicates": k, "slope_sd": s} for k in reps for s in sds]
    study_settings = {**settings, "n_boot": n_boot, "level": level, "parameter": SD_PARAMETER}
    analyses = sd_interval_analyses(n_boot, level)
    if n_jobs == 1 or len(grid) == 1:
        return run_study(simulate, analyses, n_sims=n_sims, seed=seed, progress=progress, grid=grid,
                         settings=study_settings)
    import joblib  # only the slow generation of the cached study needs it

    # run_study starts every setting from the same seeds, so one run per setting, concatenated in
    # grid order, is the table of one run over the whole grid.
    parts = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(run_study)(
        _simulate_setting, sd_interval_analyses(n_boot, level), n_sims=n_sims, seed=seed, grid=[{**g, **settings}])
        for g in grid)
    with progress_callback(progress, len(grid), desc="settings") as tick:
        tick(len(grid))
    out = pd.concat([p.drop(columns=list(settings)) for p in parts], ignore_index=True)
    out.attrs["settings"] = {**study_settings, "n_sims": n_sims, "seed": seed}
    out.attrs["setting_columns"] = ["n_replicates", "slope_sd"]
    return out


def _simulate_setting(rng, *, n_replicates, slope_sd, **settings):
    return _simulate_sd_experiment(rng, n_replicates=n_replicates, slope_sd=slope_sd, **settings)


#: Columns of :func:`sd_interval_summary`.
SD_SUMMARY_COLUMNS = ("n_replicates", "slope_sd", "analysis", "n_sims", "covered", "coverage", "coverage_low",
                      "coverage_high", "missed_low", "missed_high", "median_estimate", "median_lower",
                      "median_upper", "median_width", "lower_at_zero", "singular_rate")


def sd_interval_summary(results: pd.DataFrame) -> pd.DataFrame:
    """How often each interval covered the true SD, and how it missed, per setting and method.

    Parameters
    ----------
    results : pandas.DataFrame
        The table of :func:`sd_interval_study` (or ``load_study("sd_interval_study")``).

    Returns
    -------
    pandas.DataFrame
        One row per setting and analysis: ``n_replicates``, ``slope_sd``, ``analysis``,
        ``n_sims`` (experiments with an interval), ``covered``, ``coverage`` with its 95% Wilson
        interval ``coverage_low``/``coverage_high``, ``missed_low`` (share of intervals wholly
        below the truth), ``missed_high`` (wholly above), the medians of the estimate, the limits
        and the width, ``lower_at_zero`` (share of intervals starting at 0) and ``singular_rate``
        (share of fits that were singular).

    Examples
    --------
    >>> t = sd_interval_study([4], [0.1], n_sims=2, n_boot=10, cells=20)
    >>> sd_interval_summary(t)[["analysis", "n_sims"]].values.tolist()
    [['profile', 2], ['bootstrap', 2]]
    """
    need = {"n_replicates", "slope_sd", "analysis", "estimate", "lower", "upper", "singular"}
    if not isinstance(results, pd.DataFrame) or not need <= set(results.columns):
        raise ValueError("sd_interval_summary needs the table of sd_interval_study "
                         "(or load_study('sd_interval_study')).")
    rows = []
    for (k, sd, analysis), sub in results.groupby(["n_replicates", "slope_sd", "analysis"], sort=False):
        ok = sub["lower"].notna() & sub["upper"].notna()
        lo, hi = sub.loc[ok, "lower"], sub.loc[ok, "upper"]
        n = int(ok.sum())
        covered = int(((lo <= sd) & (sd <= hi)).sum())
        low, high = binomial_ci(covered, n)
        rows.append({"n_replicates": int(k), "slope_sd": float(sd), "analysis": analysis, "n_sims": n,
                     "covered": covered, "coverage": covered / n if n else math.nan, "coverage_low": low,
                     "coverage_high": high, "missed_low": float((hi < sd).mean()) if n else math.nan,
                     "missed_high": float((lo > sd).mean()) if n else math.nan,
                     "median_estimate": float(sub.loc[ok, "estimate"].median()), "median_lower": float(lo.median()),
                     "median_upper": float(hi.median()), "median_width": float((hi - lo).median()),
                     "lower_at_zero": float((lo <= 0).mean()) if n else math.nan,
                     "singular_rate": float(sub["singular"].mean())})
    out = pd.DataFrame(rows, columns=list(SD_SUMMARY_COLUMNS))
    out.attrs.update(results.attrs)
    return out


@dataclass(frozen=True, eq=False)
class SdIntervalView:
    """What :class:`~lmmedu.teach.widgets.SdIntervalExplorer` shows for one setting (:func:`sd_interval_view`).

    Attributes
    ----------
    n_replicates : int
    slope_sd : float
        The true SD of the replicates' drug effects.
    summary : pandas.DataFrame
        The rows of :func:`sd_interval_summary` for this setting, indexed by analysis.
    intervals : pandas.DataFrame
        Every experiment's intervals at this setting: ``sim``, ``analysis``, ``estimate``,
        ``lower``, ``upper``, ``singular``, ``covered``.
    level : float
        Nominal level of the intervals.
    """

    n_replicates: int
    slope_sd: float
    summary: pd.DataFrame
    intervals: pd.DataFrame
    level: float


def sd_interval_view(results: pd.DataFrame, n_replicates: int = 4, slope_sd: float = 0.1,
                     summary: pd.DataFrame | None = None) -> SdIntervalView:
    """One setting of an interval study: its summary rows and every experiment's intervals.

    Parameters
    ----------
    results : pandas.DataFrame
        A table of :func:`sd_interval_study`, usually the shipped one
        (``load_study("sd_interval_study")``).
    n_replicates : int, default 4
    slope_sd : float, default 0.1
        A setting of the study (:data:`SD_INTERVAL_REPLICATES`, :data:`SD_INTERVAL_SLOPE_SDS`).
    summary : pandas.DataFrame, optional
        ``sd_interval_summary(results)``, if already computed (a widget computes it once).

    Returns
    -------
    SdIntervalView

    Examples
    --------
    >>> t = sd_interval_study([4], [0.1], n_sims=2, n_boot=10, cells=20)
    >>> v = sd_interval_view(t, 4, 0.1)
    >>> v.summary.index.tolist(), len(v.intervals)
    (['profile', 'bootstrap'], 4)
    """
    summary = sd_interval_summary(results) if summary is None else summary
    k, sd = int(n_replicates), float(slope_sd)
    at = (results["n_replicates"] == k) & np.isclose(results["slope_sd"], sd)
    if not at.any():
        raise ValueError(f"the study has no experiments with {k} replicates and slope SD {sd}; it has "
                         f"n_replicates {sorted(results['n_replicates'].unique().tolist())} and slope_sd "
                         f"{sorted(results['slope_sd'].unique().tolist())}.")
    rows = summary[(summary["n_replicates"] == k) & np.isclose(summary["slope_sd"], sd)].set_index("analysis")
    intervals = results.loc[at, ["sim", "analysis", "estimate", "lower", "upper", "singular"]].reset_index(drop=True)
    intervals["covered"] = (intervals["lower"] <= sd) & (sd <= intervals["upper"])
    level = float(results.attrs.get("settings", {}).get("level", 0.95))
    return SdIntervalView(n_replicates=k, slope_sd=sd, summary=rows, intervals=intervals, level=level)
