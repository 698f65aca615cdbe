"""Notebook 02's comparison: lm and mixed-model standard errors of one simulated gene as the replicate SD changes."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from ...data.simulate import simulate_replicates
from ...data.truth import true_icc
from .compare import compare

__all__ = ["SETable", "se_table"]


class SETable(NamedTuple):
    """lm vs mixed-model standard errors of one simulated gene (:func:`se_table`)."""

    table: pd.DataFrame
    message: str


def se_table(replicate_sd=0.2, design="within", seed=2023, n_replicates=4, residual_sd=0.5, replicate_treatment_sd=0.0):
    """lm and mixed-model SE and df of the intercept and treatment for one simulated gene.

    Parameters
    ----------
    replicate_sd : float, default 0.2
        SD of the replicate intercepts (log scale).
    design : {"within", "between"}, default "within"
    seed : int, default 2023
        Seed of the simulated data (fixed, so only ``replicate_sd`` changes the data).
    n_replicates : int, default 4
    residual_sd : float, default 0.5
    replicate_treatment_sd : float, default 0.0
        SD of the replicates' drug effects. 0 (every replicate responds identically), so that
        the replicate SD is the only replicate-level variation the table responds to.

    Returns
    -------
    SETable
        ``table``: index ``Intercept`` and ``treatment[T.drug]``; columns ``varies``
        ("within" or "between" replicates), ``se_lm``, ``se_lmm``, ``se_ratio``, ``df_lm``,
        ``df_lmm``. ``message``: the estimated and true ICC, and a note when the mixed model
        is singular.

    Examples
    --------
    >>> table, message = se_table(0.3, "within")
    >>> bool(table.loc["Intercept", "se_ratio"] > 1)
    True
    """
    df = simulate_replicates(genes=("A",), n_replicates=n_replicates, design=design, replicate_sd=replicate_sd,
                             residual_sd=residual_sd, replicate_treatment_sd=replicate_treatment_sd,
                             treatment_effects=0.2, seed=seed)
    cmp = compare("log(length) ~ treatment + (1|replicate)", df)
    t = cmp.table
    table = pd.DataFrame({
        "varies": t["varies_replicate"], "se_lm": t["se_lm"], "se_lmm": t["se_lmm"], "se_ratio": t["se_ratio"],
        "df_lm": t["df_lm"], "df_lmm": t["df_lmm"],
    })
    est = float(cmp.icc.loc["replicate", "icc"]) if "replicate" in cmp.icc.index else float("nan")
    message = (f"{len(df):,} measurements in {n_replicates} replicates. ICC estimated {est:.3f}, "
               f"true {true_icc(replicate_sd, residual_sd):.3f}.")
    if cmp.lmm.singular:
        message += (" The mixed model is singular: it estimates no replicate variation, so it behaves like "
                    "the lm.")
    return SETable(table, message)
