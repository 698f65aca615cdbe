"""Report sentences: the words notebooks and widgets put next to numbers.

Everything here turns computed results into text and may name the teaching columns (a
contrast of ``length`` is said to lengthen or shorten). Nothing here computes a statistic:
the numbers come from :mod:`lmmedu.stats` and :mod:`lmmedu.teach.studies`.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .studies import design_problem, true_design_effect, true_icc

__all__ = ["units_sentence", "machine_readout", "rates_summary"]


def units_sentence(n_replicates: int) -> str:
    """How many independent units a drug given to whole cultures is tested on.

    Examples
    --------
    >>> units_sentence(4)[:31]
    'With 4 replicate cultures, a dr'
    """
    return (f"With {n_replicates} replicate cultures, a drug given to whole cultures is tested on {n_replicates} "
            f"independent units, however many cells you measure in each.")


def machine_readout(replicate_sd, n_replicates, obs_per_replicate, design, residual_sd=0.5):
    """What the pseudo-replication settings imply before any simulation: ICC, design effect, warnings.

    Parameters
    ----------
    replicate_sd : float
        SD of the replicate intercepts (log scale).
    n_replicates : int
    obs_per_replicate : int
        Measurements per replicate.
    design : {"within", "between"}
    residual_sd : float, default 0.5

    Returns
    -------
    str
        HTML: the true ICC, the design effect and effective number of measurements (between
        design), or why the replicate effects cancel (within design), plus any design problem.

    Examples
    --------
    >>> "design effect" in machine_readout(0.2, 4, 100, "between")
    True
    """
    icc = true_icc(replicate_sd, residual_sd)
    n_rows = n_replicates * obs_per_replicate
    parts = [f"{n_rows:,} measurements from {n_replicates} replicates; true ICC = {icc:.3f}."]
    if design == "between":
        deff = true_design_effect(replicate_sd, obs_per_replicate, residual_sd)
        parts.append(f"Each replicate is one arm, so the drug is compared between replicates: design effect "
                     f"1 + ({obs_per_replicate} - 1) x {icc:.3f} = {deff:.1f}, i.e. the {n_rows:,} rows carry "
                     f"about as much information as {n_rows / deff:.1f} independent ones.")
    else:
        parts.append("Every replicate has both arms, so the drug is compared inside each replicate and the "
                     "replicate intercepts cancel from drug minus control.")
    problem = design_problem(n_replicates, design)
    if problem:
        parts.append(f"<span style='color:#b35806'>{html.escape(problem)}</span>")
    return "<br>".join(parts)


def rates_summary(rates: pd.DataFrame) -> str:
    """One sentence per run of a study: the settings and every analysis's rate.

    Parameters
    ----------
    rates : pandas.DataFrame
        A :func:`lmmedu.teach.studies.rates` table of one setting.

    Returns
    -------
    str

    Examples
    --------
    >>> from lmmedu.teach.studies import false_positive_rates
    >>> rates_summary(false_positive_rates(n_sims=3, obs_per_replicate=5))[:32]
    'Ran 3 experiments (between desig'
    """
    s = rates.attrs.get("settings", {})
    parts = [f"{row.analysis} {row.rate:.0%}" if row.n_sims else f"{row.analysis} not testable"
             for row in rates.itertuples()]
    where = []
    if "design" in s:
        where.append(f"{s['design']} design")
    if "n_replicates" in s and "obs_per_replicate" in s:
        where.append(f"{s['n_replicates']} replicates x {s['obs_per_replicate']} measurements")
    if "replicate_sd" in s:
        where.append(f"replicate SD {s['replicate_sd']:.2f}")
    if "replicate_treatment_sd" in s and "design" not in s:
        where.append(f"SD of the replicate drug effects {s['replicate_treatment_sd']:.2f}")
    text = (f"Ran {s.get('n_sims')} experiments ({', '.join(where)}): " if where
            else f"Ran {s.get('n_sims')} experiments: ") + "; ".join(parts) + "."
    if rates.attrs.get("problem"):
        text += " " + rates.attrs["problem"]
    return text


def _fmt_pct(values):
    big = max((abs(v) for v in values if np.isfinite(v)), default=0.0)
    digits = 1 if big < 100 else 0
    return [f"{v:.{digits}f}%" for v in values]
