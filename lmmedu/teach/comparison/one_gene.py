"""Notebook 02's comparisons: lm and mixed-model standard errors of one simulated gene as the replicate SD
changes, and one fit's coefficients under each df method (Satterthwaite, Kenward-Roger, asymptotic)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ...data.simulate import simulate_replicates
from ...stats.ddf import R_DF_LIMIT, r_default_ddf
from ...data.truth import true_icc
from .compare import compare

# r_default_ddf and R_DF_LIMIT are re-exported for notebook 02: which df R's emmeans prints for these data.
__all__ = ["SETable", "se_table", "df_methods_table", "few_cells", "DF_METHODS", "r_default_ddf", "R_DF_LIMIT"]

#: The df methods :func:`df_methods_table` compares by default, in R's spelling (lmerTest's ``ddf=``).
DF_METHODS = ("satterthwaite", "kenward-roger")


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


def df_methods_table(fit, methods=DF_METHODS):
    """Each coefficient of one mixed fit under several df methods, one row per coefficient and method.

    The estimates are the same under every method; Kenward-Roger also inflates the covariance of
    the estimates (pbkrtest's ``vcovAdj``) for the uncertainty of the variance components, so its
    SEs are a little larger; "asymptotic" uses infinite df (z tests, as R's emmeans above 3,000 rows).

    Parameters
    ----------
    fit : MixedFit
        A REML fit (Kenward-Roger needs one).
    methods : sequence of str
        df methods as :func:`lmmedu.fit` spells them.

    Returns
    -------
    pandas.DataFrame
        Columns ``term``, ``method`` (the method's name as lmmedu prints it), ``estimate``, ``se``,
        ``df``, ``t``, ``p`` (R: ``coef(summary(fit, ddf = ...))``).

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",)))
    >>> tab = df_methods_table(fit)
    >>> tab["method"].unique().tolist()
    ['Satterthwaite', 'Kenward-Roger']
    """
    if not getattr(fit, "mixed", False):
        raise ValueError("df_methods_table needs a mixed model from lmmedu.fit; an lm has one df, its residual df.")
    if isinstance(methods, str):
        methods = (methods,)
    names = list(fit.names)
    rows = []
    for method in methods:
        name = fit.ddf_method(method).name  # an unknown method, or KR on an ML fit: one sentence
        tab = fit.contrast(np.eye(len(names)), names=names, ddf=method)
        for term, r in tab.iterrows():
            rows.append({"term": term, "method": name, "estimate": r["estimate"], "se": r["se"], "df": r["df"],
                         "t": r["t"], "p": r["p"]})
    return pd.DataFrame(rows, columns=["term", "method", "estimate", "se", "df", "t", "p"])


def few_cells(data, share=0.01, cells=("replicate", "treatment")):
    """The first ``ceil(share * n)`` rows of every cell, in the data's order: the same design with fewer cells.

    Deterministic, so R can take the same rows (tests/r/make_emmeans_df_fixtures.R does).

    Parameters
    ----------
    data : pandas.DataFrame
    share : float, default 0.01
        Share of each cell's rows to keep (at least one row per cell).
    cells : sequence of str
        Columns whose combinations are the cells.

    Returns
    -------
    pandas.DataFrame
        The kept rows, original index and order.

    Examples
    --------
    >>> import lmmedu
    >>> gene_a = lmmedu.simulate_replicates(genes=("A",), n_replicates=2, obs_per_replicate=(200, 400))
    >>> few_cells(gene_a).groupby(["replicate", "treatment"], observed=True).size().tolist()
    [1, 1, 2, 2]
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be a fraction of each cell's rows between 0 and 1, not {share!r}.")
    missing = [c for c in cells if c not in data.columns]
    if missing:
        raise ValueError(f"The cell column(s) {', '.join(missing)} are not in the data (columns: "
                         f"{', '.join(map(str, data.columns))}).")
    groups = data.groupby(list(cells), observed=True, sort=False)
    rank = groups.cumcount()
    size = groups[cells[0]].transform("size")
    keep = rank < np.ceil(share * size - 1e-9)  # ceil(0.01 * 500) is 5, not 6, whatever rounding 0.01 * 500 has
    return data[keep.to_numpy()]
