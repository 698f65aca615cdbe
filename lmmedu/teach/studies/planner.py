"""What notebook 09's experiment planner shows: a design's closed-form readout, and one run.

The app (:class:`lmmedu.teach.widgets.PowerPlanner`) holds the controls, calls
:func:`plan_readout` on every move and :func:`plan_run` on **Run**, and displays; the closed
form and the simulations themselves are in :mod:`.planning`.

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from ...data.truth import replicate_sd_for_icc
from .planning import effect_from_percent, planned_power, power_and_false_positives, replicate_power_study

__all__ = ["plan_readout", "PlanResult", "plan_run"]


def _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, residual_sd=0.5):
    return planned_power(int(n_replicates), int(cells_per_replicate), effect_from_percent(float(percent)),
                         design=design, replicate_sd=replicate_sd_for_icc(float(icc), residual_sd),
                         replicate_treatment_sd=float(replicate_treatment_sd), residual_sd=residual_sd)


def plan_readout(design="within", n_replicates=4, cells_per_replicate=2000, icc=0.14, replicate_treatment_sd=0.1,
                 percent=10.0, n_sims=200, residual_sd=0.5):
    """What a planned design implies before any simulation: design effect, closed-form power, smallest effect.

    Parameters
    ----------
    design : {"within", "between"}
    n_replicates, cells_per_replicate : int
    icc : float
        Share of the variance of a measurement that lies between replicates (sets the replicate SD).
    replicate_treatment_sd : float
        SD of the replicate-to-replicate variation of the drug effect (log scale).
    percent : float
        True drug effect as a percent change in length.
    n_sims : int
        Ignored here (the app's Run uses it); accepted so the app's settings can be passed as they are.
    residual_sd : float, default 0.5

    Returns
    -------
    str
        HTML, computed by :func:`planned_power` (milliseconds).

    Examples
    --------
    >>> "design effect" in plan_readout()
    True
    """
    plan = _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent, residual_sd)
    parts = [f"{plan['n_cells']:,} cells in {plan['n_replicates']} replicates. The design effect of the drug "
             f"comparison is {plan['design_effect']:.2f}: the cells carry as much information about the drug as "
             f"{plan['n_effective']:,.0f} independent cells would."]
    if design == "within":
        parts.append("The ICC does not enter: every replicate has both arms, so its own level cancels from its "
                     "drug-minus-control difference. What is left is how much the drug effect itself varies "
                     "between replicates.")
    else:
        parts.append(f"Each replicate is one arm, so replicate levels (ICC {float(icc):.2f}) and the variation "
                     "of the drug effect both count against the drug.")
    if plan["problem"]:
        parts.append(f"<span style='color:#b35806'>{html.escape(plan['problem'])}</span>")
    else:
        parts.append(f"Closed-form power of the t-test on replicate means ({plan['df']:.0f} df) for a "
                     f"{float(percent):.0f}% change: <b>{plan['power']:.0%}</b>. The smallest change this design "
                     f"detects with 80% power: <b>{plan['mde_percent']:.0f}%</b>.")
    return "<br>".join(parts)


@dataclass(frozen=True, eq=False)
class PlanResult:
    """What :func:`plan_run` returns and the :class:`~lmmedu.teach.widgets.PowerPlanner` shows.

    Attributes
    ----------
    plan : pandas.Series
        The closed form (:func:`planned_power`).
    table : pandas.DataFrame
        False-positive rate and power of each analysis (:func:`power_and_false_positives`).
    rates : pandas.DataFrame
        The study's rates table.
    summary : str
        One sentence.
    """

    plan: pd.Series
    table: pd.DataFrame
    rates: pd.DataFrame
    summary: str


def plan_run(design="within", n_replicates=4, cells_per_replicate=2000, icc=0.14, replicate_treatment_sd=0.1,
             percent=10.0, n_sims=200, *, seed=9, progress: bool | Callable[[int, int], None] = False) -> PlanResult:
    """Simulate a planned design ``n_sims`` times with and without the effect: false positives and power.

    The settings are the planner's (as :func:`plan_readout`); the simulations are
    :func:`replicate_power_study`, summarised by :func:`power_and_false_positives`, next to
    the closed form of :func:`planned_power`.

    Examples
    --------
    >>> result = plan_run(n_sims=10, cells_per_replicate=20)
    >>> result.table["analysis"].tolist()
    ['naive lm', 't-test on replicate means']
    >>> result.summary.startswith("Ran 10 experiments without and 10 with a 10% effect")
    True
    """
    plan = _plan(design, n_replicates, cells_per_replicate, icc, replicate_treatment_sd, percent)
    rates = replicate_power_study(effect_from_percent(float(percent)), design=design,
                                  n_replicates=int(n_replicates), cells_per_replicate=int(cells_per_replicate),
                                  replicate_sd=replicate_sd_for_icc(float(icc)),
                                  replicate_treatment_sd=float(replicate_treatment_sd), n_sims=int(n_sims),
                                  seed=seed, progress=progress)
    table = power_and_false_positives(rates)
    parts = []
    for r in table.itertuples():
        fp = f"{r.false_positive_rate:.0%} false positives" if pd.notna(r.false_positive_rate) else "not testable"
        pw = f", {r.power:.0%} power" if pd.notna(r.power) else ""
        parts.append(f"{r.analysis}: {fp}{pw}")
    summary = (f"Ran {int(n_sims)} experiments without and {int(n_sims)} with a {float(percent):.0f}% effect "
               f"({design} design, {int(n_replicates)} replicates x {int(cells_per_replicate):,} cells). "
               + "; ".join(parts) + ".")
    if float(percent) == 0:
        summary += " With no effect, only false positives are counted."
    if plan["problem"]:
        summary += " " + plan["problem"]
    return PlanResult(plan=plan, table=table, rates=rates, summary=summary)
