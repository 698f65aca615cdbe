"""Notebook 04's study: does a model without a random slope overstate the evidence for a drug effect?

The drug effect varies between replicates; the models of :data:`SLOPE_STUDY_MODELS`, with and
without a random slope, test the drug effect of the reference gene
(:func:`random_slope_p_values`, :func:`random_slope_rates`); :func:`singular_split` splits the
random-slope fits by singularity.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from ...data.checks import count, finite, sd
from ...data.simulate import simulate_replicates
from .replicates import _TERM
from .runner import RESULT_COLUMNS, coefficient_test, rates, run_study

__all__ = ["SLOPE_STUDY_MODELS", "random_slope_p_values", "random_slope_rates", "singular_split"]


#: Random-effects structures compared by :func:`random_slope_rates`, label -> formula.
SLOPE_STUDY_MODELS = {
    "(1|replicate)": "log(length) ~ treatment*gene + (1|replicate)",
    "(1+treatment|replicate)": "log(length) ~ treatment*gene + (1+treatment|replicate)",
}


def random_slope_p_values(n_sims: int = 50, n_replicates: int = 4, obs_per_replicate: int = 200,
                          replicate_sd: float = 0.2, replicate_treatment_sd: float = 0.15,
                          residual_sd: float = 0.5, seed: int = 0,
                          progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """Test the drug effect with and without a random slope in experiments without one (notebook 04).

    Every simulated experiment has **no true drug effect** in any gene, but the drug effect of
    each replicate deviates from 0 by ``N(0, replicate_treatment_sd**2)``. Both models of
    :data:`SLOPE_STUDY_MODELS` are fitted and the drug effect of the reference gene
    (``treatment[T.drug]``) is tested (Satterthwaite t-test). Without the random slope the
    model treats thousands of measurements as independent evidence about the drug effect,
    although only ``n_replicates`` replicates carry it.

    Parameters
    ----------
    n_sims : int, default 50
    n_replicates : int, default 4
    obs_per_replicate : int, default 200
        Measurements per gene in each replicate (split between the arms); smaller than the
        shipped data to keep the run quick.
    replicate_sd, replicate_treatment_sd, residual_sd : float
        SDs of the replicate intercepts, of the replicate drug effects and of the measurements.
    seed : int, default 0
    progress : bool or callable, default False
        See :func:`progress_callback`.

    Returns
    -------
    pandas.DataFrame
        The :func:`run_study` table, analyses named as in :data:`SLOPE_STUDY_MODELS`.

    Examples
    --------
    >>> out = random_slope_p_values(n_sims=2, obs_per_replicate=20)
    >>> out["analysis"].unique().tolist()
    ['(1|replicate)', '(1+treatment|replicate)']
    """
    settings = dict(n_replicates=count("n_replicates", n_replicates, 3),
                    obs_per_replicate=count("obs_per_replicate", obs_per_replicate, 2),
                    replicate_sd=sd("replicate_sd", replicate_sd),
                    replicate_treatment_sd=sd("replicate_treatment_sd", replicate_treatment_sd),
                    residual_sd=sd("residual_sd", residual_sd))
    if settings["residual_sd"] == 0:
        raise ValueError("residual_sd must be greater than 0, so that measurements within a replicate differ.")

    def simulate(rng):
        return simulate_replicates(treatment_effects=0.0, seed=rng, **settings)

    analyses = {label: coefficient_test(formula, _TERM) for label, formula in SLOPE_STUDY_MODELS.items()}
    return run_study(simulate, analyses, n_sims=n_sims, seed=seed, progress=progress, settings=settings)


def random_slope_rates(n_sims: int = 50, alpha: float = 0.05, progress: bool | Callable[[int, int], Any] = False,
                       **settings: Any) -> pd.DataFrame:
    """False-positive rate of the drug effect with and without a random slope.

    Parameters
    ----------
    n_sims : int, default 50
    alpha : float, default 0.05
    progress : bool or callable, default False
    **settings
        Other arguments of :func:`random_slope_p_values`.

    Returns
    -------
    pandas.DataFrame
        The :func:`rates` table, one row per model of :data:`SLOPE_STUDY_MODELS`.

    Examples
    --------
    >>> random_slope_rates(n_sims=3, obs_per_replicate=20)["analysis"].tolist()
    ['(1|replicate)', '(1+treatment|replicate)']
    """
    finite("alpha", alpha)
    return rates(random_slope_p_values(n_sims=n_sims, progress=progress, **settings), alpha=alpha)


def singular_split(results: pd.DataFrame, analysis: str = "(1+treatment|replicate)", alpha: float = 0.05
                   ) -> pd.DataFrame:
    """False-positive rate of one analysis, separately for its singular and its non-singular fits.

    A singular random-slope fit sits at the edge of its parameter space: the slope variance
    estimated at (or next to) zero, so that its standard error of the drug effect falls back to
    the random-intercept model's, or the slope-intercept correlation at +-1, which forces every
    replicate's drug deviation to follow its level. Either tends to understate how much the drug
    effect varies, so singular fits usually reject more often than the fits that did not hit the edge.

    Parameters
    ----------
    results : pandas.DataFrame
        A :func:`run_study` table with a ``singular`` column (e.g. :func:`random_slope_p_values`).
    analysis : str, default "(1+treatment|replicate)"
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        The :func:`rates` table with the setting column ``fit`` (``"singular"``,
        ``"not singular"``, in that order; a kind without fits is left out) plus the
        setting columns of ``results``.

    Examples
    --------
    >>> res = pd.DataFrame({"sim": range(4), "analysis": "m", "estimate": 0.0, "se": 1.0, "df": 3.0,
    ...                     "p": [0.01, 0.02, 0.5, 0.01], "singular": [True, True, False, False], "error": ""})
    >>> singular_split(res, "m")[["fit", "n_sims", "rejections"]].values.tolist()
    [['singular', 2, 2], ['not singular', 2, 1]]
    """
    if not isinstance(results, pd.DataFrame) or "singular" not in results.columns:
        raise ValueError("singular_split needs the table of lmmedu.teach.studies.run_study.")
    sub = results[results["analysis"] == analysis]
    if sub.empty:
        raise ValueError(f"analysis must be one of {results['analysis'].unique().tolist()}, got {analysis!r}.")
    columns = list(results.attrs.get("setting_columns", []))
    sub = sub.assign(fit=np.where(sub["singular"].astype(bool), "singular", "not singular"))
    sub = pd.concat([sub[sub["fit"] == "singular"], sub[sub["fit"] == "not singular"]])
    sub.attrs = {**results.attrs, "setting_columns": ["fit", *columns]}
    return rates(sub[["fit", *columns, *RESULT_COLUMNS]], alpha=alpha)
