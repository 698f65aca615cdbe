"""Notebook 09's pilot advice with its uncertainty: plan at both ends of the interval of a pilot's SD.

"Estimate the SD of the drug effect between replicates from a pilot" is sound advice, but a pilot
has few replicates and the SD it gives is uncertain: :func:`pilot_sd_plan` fits the pilot,
takes the profile interval of that SD and computes the closed-form plan
(:func:`~lmmedu.teach.studies.planned_power`) at the estimate and at both ends of the interval.

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ...data.checks import real
from ...stats.fit import fit
from ...stats.profile import Profiler, check_level
from .planning import planned_power

__all__ = ["PILOT_FORMULA", "PILOT_PARAMETER", "pilot_sd_plan"]

#: The model a pilot is fitted with (R: ``lmer(log(length) ~ treatment + (1 + treatment | replicate))``).
PILOT_FORMULA = "log(length) ~ treatment + (1 + treatment|replicate)"
#: The SD of the drug effect between replicates, as :func:`lmmedu.confint` names it (R, lme4's
#: ``confint(..., oldNames = FALSE)``: ``sd_treatmentdrug|replicate``).
PILOT_PARAMETER = "sd_treatment[T.drug]|replicate"


def pilot_sd_plan(pilot: pd.DataFrame, effect: float, n_replicates: int = 4, cells_per_replicate=2000,
                  level: float = 0.95, target: float = 0.8, max_replicates: int = 200) -> pd.DataFrame:
    """Plan an experiment at the pilot's SD of the drug effect and at both ends of its interval.

    Fits :data:`PILOT_FORMULA` to the pilot by REML, takes the likelihood-profile interval of the
    SD of the drug effect between replicates (lme4's ``confint(fit, method = "profile")``) and,
    with the pilot's other SDs, computes :func:`~lmmedu.teach.studies.planned_power` at the
    estimate and at the interval's lower and upper end.

    Parameters
    ----------
    pilot : pandas.DataFrame
        One gene: columns ``length``, ``treatment`` (control/drug) and ``replicate``, every
        replicate with both arms.
    effect : float
        The drug effect to detect (log scale).
    n_replicates, cells_per_replicate
        The planned design, as in :func:`~lmmedu.teach.studies.planned_power` (within design).
    level : float, default 0.95
        Level of the profile interval.
    target : float, default 0.8
        Power the replicates are counted for.
    max_replicates : int, default 200
        Largest number of replicates searched.

    Returns
    -------
    pandas.DataFrame
        Index ``"lower end"``, ``"estimate"``, ``"upper end"``; columns ``drug_sd`` (the SD of
        the drug effect planned with), ``power`` (of the planned design), ``mde_percent`` (its
        smallest change detected with ``target`` power) and ``replicates_needed`` (the fewest
        replicates with at least ``target`` power; NaN if more than ``max_replicates``).
        ``attrs``: ``level``, ``pilot_replicates``, ``singular`` (of the pilot's fit),
        ``replicate_sd`` and ``residual_sd`` (the pilot's REML estimates used in every row),
        ``n_replicates``, ``cells_per_replicate``, ``target``.

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_replicates
    >>> pilot = simulate_replicates(genes=("A",), n_replicates=4, obs_per_replicate=200, seed=3)
    >>> plan = pilot_sd_plan(pilot, effect=0.1)
    >>> plan.index.tolist()
    ['lower end', 'estimate', 'upper end']
    >>> bool(plan["power"].is_monotonic_decreasing)
    True
    """
    if not isinstance(pilot, pd.DataFrame) or not {"length", "treatment", "replicate"} <= set(pilot.columns):
        raise ValueError("pilot must be a data frame with columns length, treatment and replicate "
                         "(one gene, every replicate with both arms).")
    effect = real("effect", effect)
    level = check_level(level)
    if not isinstance(max_replicates, (int, np.integer)) or isinstance(max_replicates, bool) or max_replicates < 2:
        raise ValueError(f"max_replicates must be an integer of at least 2, got {max_replicates!r}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a singular pilot is reported in attrs, not as a warning
        model = fit(PILOT_FORMULA, pilot)
    vc = model.varcomp
    sds = vc[vc["term2"].isna()].set_index(vc.loc[vc["term2"].isna(), "term"].fillna("Residual"))["sd"]
    replicate_sd, residual_sd = float(sds["Intercept"]), float(sds["Residual"])
    lower, upper, _ = Profiler(model).interval(PILOT_PARAMETER, level)
    estimate = float(sds["treatment[T.drug]"])
    rows = {}
    for label, tau in (("lower end", lower), ("estimate", estimate), ("upper end", upper)):
        truth = dict(replicate_sd=replicate_sd, replicate_treatment_sd=max(float(tau), 0.0), residual_sd=residual_sd)
        plan = planned_power(n_replicates, cells_per_replicate, effect, target=target, **truth)
        needed = math.nan
        for n in range(2, int(max_replicates) + 1):
            if planned_power(n, cells_per_replicate, effect, target=target, **truth)["power"] >= target:
                needed = n
                break
        rows[label] = {"drug_sd": float(tau), "power": float(plan["power"]), "mde_percent": float(plan["mde_percent"]),
                       "replicates_needed": needed}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.attrs.update(level=level, pilot_replicates=int(pilot["replicate"].nunique()), singular=bool(model.singular),
                     replicate_sd=replicate_sd, residual_sd=residual_sd, n_replicates=int(n_replicates),
                     cells_per_replicate=cells_per_replicate, target=target)
    return out
