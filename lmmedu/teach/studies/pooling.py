"""The studies of notebook 06 (shrinkage and random slopes).

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ...data.simulate import simulate_replicates
from ...data.truth import truth as _truth
from ...stats.fit import fit
from ..comparison.pooling import POOLING_METHODS, pooling_table, random_effect_cov, true_group_coefficients
from .runner import _check_n_sims, _streams, progress_callback

__all__ = ["SLOPE_FORMULA", "replicate_sizes", "simulate_pooling", "pooling_errors", "shrinkage_error_study",
            "shrinkage_error_summary", "estimated_slope_sd", "singular_fit_study", "singular_summary", "SlopeView", "slope_view"]

#: The one-gene random-slope model of notebook 06 (R: ``lmer(log(length) ~ treatment + (1 + treatment | replicate))``).
SLOPE_FORMULA = "log(length) ~ treatment + (1 + treatment|replicate)"
_SPARSE_POSITION = 2  # the sparse replicate is R3: not first, so the learner has to look for it


def replicate_sizes(n_replicates: int = 10, cells: int = 40, sparse_cells: int | None = 4) -> tuple[int, ...]:
    """Cells per replicate of the pooling example: unequal sizes around ``cells``, one sparse replicate.

    Sizes run from 0.6 to 1.4 times ``cells`` in a fixed shuffled order; replicate R3 (if
    there are at least 3) gets ``sparse_cells`` (half control, half drug).

    Examples
    --------
    >>> replicate_sizes(5, 40)
    (40, 24, 4, 32, 48)
    """
    if not isinstance(n_replicates, (int, np.integer)) or isinstance(n_replicates, bool) or n_replicates < 2:
        raise ValueError(f"n_replicates must be an integer of at least 2, got {n_replicates!r}.")
    if not isinstance(cells, (int, np.integer)) or isinstance(cells, bool) or cells < 4:
        raise ValueError(f"cells must be an integer of at least 4 (two per arm), got {cells!r}.")
    sizes = np.round(np.linspace(0.6, 1.4, int(n_replicates)) * cells).astype(int)
    sizes = np.maximum(sizes[np.random.default_rng(7).permutation(int(n_replicates))], 4)
    if sparse_cells is not None and n_replicates > _SPARSE_POSITION:
        if not isinstance(sparse_cells, (int, np.integer)) or sparse_cells < 2:
            raise ValueError(f"sparse_cells must be an integer of at least 2 (one per arm), got {sparse_cells!r}.")
        sizes[_SPARSE_POSITION] = int(sparse_cells)
    return tuple(int(s) for s in sizes)


def simulate_pooling(rng=0, n_replicates: int = 10, cells: int = 40, slope_sd: float = 0.15,
                     replicate_sd: float = 0.2, residual_sd: float = 0.5, drug_effect: float = 0.22,
                     sparse_cells: int | None = 4) -> pd.DataFrame:
    """One gene in many replicates of unequal size, the drug effect varying between replicates.

    A thin wrapper of :func:`lmmedu.simulate_replicates` (within design, one gene) with the
    sizes of :func:`replicate_sizes`: the data of the pooling pictures and studies.

    Parameters
    ----------
    rng : int or numpy.random.Generator, default 0
        Seed or generator.
    n_replicates, cells, sparse_cells
        As in :func:`replicate_sizes`.
    slope_sd : float, default 0.15
        SD of the replicates' drug effects around ``drug_effect`` (log scale).
    replicate_sd, residual_sd : float
        SDs of the replicate intercepts and of single cells (log scale).
    drug_effect : float, default 0.22
        Population drug effect on log(length).

    Returns
    -------
    pandas.DataFrame
        As :func:`lmmedu.simulate_replicates`, truth in ``attrs["truth"]``.

    Examples
    --------
    >>> simulate_pooling(n_replicates=4).groupby("replicate", observed=True).size().tolist()
    [24, 45, 4, 56]
    """
    return simulate_replicates(genes=("A",), n_replicates=n_replicates,
                               obs_per_replicate=replicate_sizes(n_replicates, cells, sparse_cells),
                               treatment_effects=drug_effect, replicate_sd=replicate_sd,
                               replicate_treatment_sd=slope_sd, residual_sd=residual_sd, seed=rng)


def pooling_errors(data: pd.DataFrame, formula: str = SLOPE_FORMULA) -> pd.DataFrame:
    """Error of every group's coefficients under complete, no and partial pooling, against the truth.

    Returns
    -------
    pandas.DataFrame
        One row per replicate, term and method: ``replicate``, ``n_obs``, ``term``, ``method``,
        ``estimate``, ``truth``, ``error`` (estimate minus truth); ``attrs["singular"]``.

    Examples
    --------
    >>> errors = pooling_errors(simulate_pooling(n_replicates=4))
    >>> errors["method"].unique().tolist()
    ['complete pooling', 'no pooling', 'partial pooling']
    """
    model = fit(formula, data)
    table = pooling_table(model, truth=true_group_coefficients(_truth(data)))
    group = table.attrs["group"]
    long = table.melt(id_vars=[group, "n_obs", "term", "truth"], value_vars=list(POOLING_METHODS),
                      var_name="method", value_name="estimate")
    long["error"] = long["estimate"] - long["truth"]
    out = long[[group, "n_obs", "term", "method", "estimate", "truth", "error"]]
    out.attrs["singular"] = bool(model.singular)
    return out


def shrinkage_error_study(n_sims: int = 30, seed: int = 6, progress: bool | Callable[[int, int], Any] = False,
                          **setting: Any) -> pd.DataFrame:
    """Simulate many experiments and record every group estimate's error under the three poolings.

    Follows the study contract (progress, one child of ``SeedSequence(seed)`` per experiment,
    a tidy table) but is not a rejection-rate study, so it returns errors, not p-values.

    Parameters
    ----------
    n_sims : int, default 30
        Simulated experiments.
    seed : int, default 6
    progress : bool or callable, default False
        See :func:`progress_callback`.
    **setting
        Keyword arguments of :func:`simulate_pooling` (``n_replicates``, ``cells``, ``slope_sd``...).

    Returns
    -------
    pandas.DataFrame
        Columns ``sim``, ``singular``, then those of :func:`pooling_errors`;
        ``attrs["settings"]``.

    Examples
    --------
    >>> out = shrinkage_error_study(n_sims=2, n_replicates=4)
    >>> sorted(out["sim"].unique().tolist())
    [0, 1]
    """
    n_sims = _check_n_sims(n_sims)
    unknown = set(setting) - {"n_replicates", "cells", "slope_sd", "replicate_sd", "residual_sd", "drug_effect",
                              "sparse_cells"}
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; use arguments of simulate_pooling.")
    frames = []
    with progress_callback(progress, n_sims) as tick:
        for i, stream in enumerate(_streams(seed, n_sims)):
            data = simulate_pooling(np.random.default_rng(stream), **setting)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                errors = pooling_errors(data)
            frames.append(errors.assign(sim=i, singular=errors.attrs["singular"]))
            tick(i + 1)
    out = pd.concat(frames, ignore_index=True)
    out = out[["sim", "singular", *[c for c in out.columns if c not in ("sim", "singular")]]]
    out.attrs["settings"] = {**setting, "n_sims": n_sims, "seed": seed}
    return out


def shrinkage_error_summary(errors: pd.DataFrame) -> pd.DataFrame:
    """Total squared error of each pooling method, per term, over all groups and experiments.

    Returns
    -------
    pandas.DataFrame
        One row per term and method: ``term``, ``method``, ``mean_bias`` (average error),
        ``rmse`` (root mean squared error over groups and experiments), ``total_sq_error``
        (sum of squared errors over the groups of one experiment, averaged over experiments)
        and ``wins`` (share of experiments in which this method had the smallest total squared
        error for that term).

    Examples
    --------
    >>> s = shrinkage_error_summary(shrinkage_error_study(n_sims=2, n_replicates=4))
    >>> s.columns.tolist()
    ['term', 'method', 'mean_bias', 'rmse', 'total_sq_error', 'wins']
    """
    need = {"sim", "term", "method", "error"}
    if not isinstance(errors, pd.DataFrame) or not need <= set(errors.columns):
        raise ValueError("shrinkage_error_summary needs the table of shrinkage_error_study.")
    e = errors.dropna(subset=["error"])
    per_sim = (e.assign(sq=e["error"] ** 2).groupby(["term", "method", "sim"], sort=False)["sq"].sum()
               .reset_index())
    per_sim["best"] = per_sim.groupby(["term", "sim"])["sq"].transform("min")
    rows = []
    for (term, method), sub in e.groupby(["term", "method"], sort=False):
        sims = per_sim[(per_sim["term"] == term) & (per_sim["method"] == method)]
        rows.append({"term": term, "method": method, "mean_bias": float(sub["error"].mean()),
                     "rmse": float(np.sqrt((sub["error"] ** 2).mean())), "total_sq_error": float(sims["sq"].mean()),
                     "wins": float((sims["sq"] == sims["best"]).mean())})
    return pd.DataFrame(rows)


def estimated_slope_sd(model, term: str = "treatment[T.drug]") -> float:
    """Estimated SD of the random slope ``term`` of a fitted mixed model (0 at a singular fit).

    Examples
    --------
    >>> m = fit(SLOPE_FORMULA, simulate_pooling(slope_sd=0.0))
    >>> estimated_slope_sd(m) >= 0
    True
    """
    vc = model.varcomp
    sd = vc.loc[(vc["term"] == term) & vc["term2"].isna(), "sd"]
    if sd.empty:
        raise ValueError(f"the model has no random slope of {term!r}; its random terms are "
                         f"{vc['term'].dropna().unique().tolist()}.")
    return float(sd.iloc[0])


def singular_fit_study(slope_sds: Sequence[float] = (0.0, 0.1, 0.2), n_sims: int = 12, seed: int = 11,
                       progress: bool | Callable[[int, int], Any] = False, **setting: Any) -> pd.DataFrame:
    """Fit the random-slope model to experiments with a known slope SD: how often is it singular?

    Every experiment is drawn with :func:`simulate_pooling` at each true slope SD (the same
    random draws at every SD, as in :func:`run_study`) and fitted with :data:`SLOPE_FORMULA`.

    Parameters
    ----------
    slope_sds : sequence of float
        True SDs of the replicates' drug effects (log scale).
    n_sims : int, default 12
    seed : int, default 11
    progress : bool or callable
    **setting
        Other keyword arguments of :func:`simulate_pooling`.

    Returns
    -------
    pandas.DataFrame
        One row per true SD and experiment: ``slope_sd``, ``sim``, ``estimated_sd``,
        ``correlation`` (intercept-slope), ``converged``, ``singular``, ``boundary`` (which
        edge a singular fit is on: ``"slope SD 0"``, ``"intercept SD 0"`` or
        ``"correlation +-1"``; "" for a regular fit), ``error``.

    Examples
    --------
    >>> singular_fit_study([0.0], n_sims=2, n_replicates=4)[["slope_sd", "sim"]].values.tolist()
    [[0.0, 0.0], [0.0, 1.0]]
    """
    n_sims = _check_n_sims(n_sims)
    slope_sds = [float(s) for s in slope_sds]
    if not slope_sds or any(not math.isfinite(s) or s < 0 for s in slope_sds):
        raise ValueError(f"slope_sds must be a non-empty list of SDs >= 0, got {slope_sds!r}.")
    rows = []
    with progress_callback(progress, n_sims * len(slope_sds)) as tick:
        for k, sd in enumerate(slope_sds):
            # Fresh streams at every SD: simulating advances a stream, and each SD must see the same draws.
            for i, stream in enumerate(_streams(seed, n_sims)):
                data = simulate_pooling(np.random.default_rng(stream), slope_sd=sd, **setting)
                row = {"slope_sd": sd, "sim": i, "estimated_sd": math.nan, "correlation": math.nan,
                       "converged": False, "singular": False, "boundary": "", "error": ""}
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = fit(SLOPE_FORMULA, data)
                    vc = model.varcomp
                    corr = vc.loc[vc["term2"].notna(), "corr"]
                    row.update(estimated_sd=estimated_slope_sd(model),
                               correlation=float(corr.iloc[0]) if len(corr) else math.nan,
                               converged=bool(model.converged), singular=bool(model.singular))
                    row["boundary"] = _boundary_kind(model, row["correlation"])
                except Exception as exc:  # record and go on, as run_study does
                    row["error"] = str(exc) or type(exc).__name__
                rows.append(row)
                tick(k * n_sims + i + 1)
    out = pd.DataFrame(rows)
    out.attrs["settings"] = {**setting, "n_sims": n_sims, "seed": seed}
    return out


def _boundary_kind(model, correlation: float) -> str:
    if not model.singular:
        return ""
    vc = model.varcomp
    sds = vc[vc["term2"].isna() & (vc["group"] != "Residual")].set_index("term")["sd"]
    tiny = 1e-4 * model.sigma  # lme4's isSingular tolerance on the relative scale
    for term, label in (("treatment[T.drug]", "slope SD 0"), ("Intercept", "intercept SD 0")):
        if term in sds and sds[term] < tiny:
            return label
    return "correlation +-1" if math.isfinite(correlation) and abs(correlation) > 0.99 else "other"


def singular_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per true slope SD: share of fits that converged, share singular, median estimated SD.

    Examples
    --------
    >>> singular_summary(singular_fit_study([0.0], n_sims=2, n_replicates=4)).columns.tolist()
    ['slope_sd', 'n_fits', 'converged_rate', 'singular_rate', 'median_estimated_sd']
    """
    need = {"slope_sd", "estimated_sd", "converged", "singular"}
    if not isinstance(results, pd.DataFrame) or not need <= set(results.columns):
        raise ValueError("singular_summary needs the table of singular_fit_study.")
    g = results.groupby("slope_sd", sort=False)
    return pd.DataFrame({
        "n_fits": g.size(), "converged_rate": g["converged"].mean(), "singular_rate": g["singular"].mean(),
        "median_estimated_sd": g["estimated_sd"].median(),
    }).reset_index()


@dataclass(frozen=True, eq=False)
class SlopeView:
    """What :class:`~lmmedu.teach.widgets.SlopeExplorer` shows for one setting (:func:`slope_view`).

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`lmmedu.teach.comparison.pooling_table` with the truth.
    cov : pandas.DataFrame
        Estimated random-effect covariance (2 x 2).
    true_slope_sd, estimated_slope_sd : float
        SD of the replicates' drug effects in the simulation and in the fit.
    correlation : float
        Estimated intercept-slope correlation (NaN when a variance is 0).
    converged, singular : bool
    message : str
        Plain sentences about the fit that the numbers above do not say: its size and, for a
        singular fit, what that means (HTML-safe text).
    seconds : float
        Time to simulate and fit.
    """

    table: pd.DataFrame
    cov: pd.DataFrame
    true_slope_sd: float
    estimated_slope_sd: float
    correlation: float
    converged: bool
    singular: bool
    message: str
    seconds: float


def slope_view(slope_sd=0.15, n_replicates=10, cells=40, seed=33):
    """Simulate the pooling example, fit ``(1 + treatment|replicate)`` and describe the fit.

    Parameters
    ----------
    slope_sd : float, default 0.15
        True SD of the replicates' drug effects (log scale).
    n_replicates : int, default 10
    cells : int, default 40
        Typical cells per replicate (R3 always has 4).
    seed : int, default 33

    Returns
    -------
    SlopeView

    Examples
    --------
    >>> v = slope_view(slope_sd=0.0)
    >>> v.converged, v.true_slope_sd
    (True, 0.0)
    """
    start = time.perf_counter()
    data = simulate_pooling(seed, n_replicates=int(n_replicates), cells=int(cells), slope_sd=float(slope_sd))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit(SLOPE_FORMULA, data)
    table = pooling_table(model, truth=true_group_coefficients(_truth(data)))
    seconds = time.perf_counter() - start
    vc = model.varcomp
    corr = vc.loc[vc["term2"].notna(), "corr"]
    corr = float(corr.iloc[0]) if len(corr) else math.nan
    est = estimated_slope_sd(model)
    # The numbers (SDs, correlation, flags) are in the other fields; the message adds only what they do
    # not say, so a readout that shows both never repeats itself.
    parts = [f"{len(data):,} cells in {n_replicates} replicates."]
    if model.singular:
        parts.append("The fit sits on the boundary of what a covariance can be: the ellipse has collapsed to a "
                     "line (a slope SD of 0, or a correlation of +1 or -1), and every replicate's partial-pooling "
                     "estimate lies on that line, although the optimizer converged.")
    return SlopeView(table=table, cov=random_effect_cov(model), true_slope_sd=float(slope_sd),
                     estimated_slope_sd=est, correlation=corr, converged=bool(model.converged),
                     singular=bool(model.singular), message=" ".join(parts), seconds=seconds)
