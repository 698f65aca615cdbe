"""The comparison of notebook 06 (shrinkage and random slopes).

Part of :mod:`lmmedu.teach.comparison`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...stats.fit import fit_lm
from .compare import require_mixed as _require_mixed

__all__ = ["POOLING_METHODS", "pooling_table", "true_group_coefficients", "random_effect_cov"]

#: The three ways of estimating one line per group, in display order.
POOLING_METHODS = ("complete pooling", "no pooling", "partial pooling")


def _single_correlated_term(fit, func):
    _require_mixed(fit, func)
    if len(fit.blocks) != 1:
        raise ValueError(f"{func} needs a model with one random term such as (1 + treatment|replicate); "
                         f"{fit.formula!r} has {len(fit.blocks)}.")
    block = fit.blocks[0]
    missing = [n for n in block.names if n not in fit.names]
    if missing:
        raise ValueError(f"{func} needs every column of the random term among the fixed effects (no pooling "
                         f"fits them per group); {missing} is not a fixed effect of {fit.formula!r}.")
    return block


def pooling_table(fit, truth=None):
    """Each group's coefficients under complete, no and partial pooling, with how far each was pulled.

    *Complete pooling* is the lm of the fixed part: one line for all groups. *No pooling* fits
    the random term's columns to each group's rows alone (R: ``lme4::lmList``). *Partial
    pooling* is the mixed model's fixed effects plus the group's conditional modes (R:
    ``coef(fit)``): each group's own line, pulled toward the population line by an amount that
    depends on how much its own rows can say.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit
        A model with one random term whose columns are all fixed effects, e.g.
        ``log(length) ~ treatment + (1 + treatment|replicate)``.
    truth : pandas.DataFrame, optional
        True coefficients of every group (index: levels, columns: terms), e.g. from
        :func:`true_group_coefficients`; adds a ``truth`` column.

    Returns
    -------
    pandas.DataFrame
        One row per group level and term: the group column (named after the grouping
        factor), ``n_obs``, ``term``, ``complete pooling``, ``no pooling``, ``partial pooling``,
        ``population`` (the mixed model's fixed effect), ``pull`` (how far the model pulls this
        group's estimate of the term toward the population: 0 = its own data alone, 1 = all the
        way; the diagonal of ``V (Sigma + V)^-1`` with ``Sigma`` the random-effect covariance and
        ``V`` the sampling covariance of the group's no-pooling estimate, so it depends on the
        group's size and design, not on its luck), ``moved`` (distance moved in units of each term's random-effect
        SD, summed over the terms of the group: the length of its arrow) and, with ``truth``,
        ``truth``. ``attrs["group"]`` names the grouping factor.

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=(4, 40, 60, 80), seed=3,
    ...                                 replicate_treatment_sd=0.15)
    >>> table = pooling_table(lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", df))
    >>> table.columns.tolist()[:4]
    ['replicate', 'n_obs', 'term', 'complete pooling']
    """
    block = _single_correlated_term(fit, "pooling_table")
    group = block.term.group
    lm = fit_lm(fit.formula, fit.data)
    y = np.asarray(fit.y, dtype=float)
    m = len(block.levels)
    n_obs = np.bincount(block.codes, minlength=m)
    none = np.full((m, len(block.names)), np.nan)
    for j in range(m):
        rows = block.codes == j
        Zj = block.Z[rows]
        # A group whose rows cannot identify its own line (e.g. one arm only) has no no-pooling estimate.
        if np.linalg.matrix_rank(Zj) == Zj.shape[1]:
            none[j] = np.linalg.lstsq(Zj, y[rows], rcond=None)[0]
    modes = fit.ranef[group][block.names].to_numpy()
    population = np.array([fit.beta[fit.names.index(n)] for n in block.names])
    partial = population + modes
    complete = np.array([lm.beta[lm.names.index(n)] for n in block.names])
    vc = fit.varcomp
    sds = np.array([vc.loc[(vc["group"] == group) & (vc["term"] == n) & vc["term2"].isna(), "sd"].iloc[0]
                    for n in block.names])
    scale = np.where(sds > 0, sds, np.nan)
    # partial - population = Sigma (Sigma + V_j)^-1 (none - population) exactly, when the random term's
    # columns are fixed effects; V_j (Sigma + V_j)^-1 is therefore the share each estimate is pulled.
    Sigma = random_effect_cov(fit).to_numpy()
    pull = np.full((m, len(block.names)), np.nan)
    for j in range(m):
        if not np.isnan(none[j]).any():
            Zj = block.Z[block.codes == j]
            V = fit.sigma ** 2 * np.linalg.inv(Zj.T @ Zj)
            pull[j] = np.diag(V @ np.linalg.inv(Sigma + V))
    with np.errstate(invalid="ignore", divide="ignore"):
        moved = np.sqrt(np.nansum(((none - partial) / scale) ** 2, axis=1))
    moved[np.isnan(none).any(axis=1)] = np.nan
    frames = []
    for k, term in enumerate(block.names):
        frames.append(pd.DataFrame({
            group: block.levels, "n_obs": n_obs, "term": term, "complete pooling": complete[k],
            "no pooling": none[:, k], "partial pooling": partial[:, k], "population": population[k],
            "pull": pull[:, k], "moved": moved,
        }))
    out = pd.concat(frames, ignore_index=True)
    if truth is not None:
        true = pd.DataFrame(truth)
        out["truth"] = [float(true.loc[lev, term]) for lev, term in zip(out[group], out["term"])]
    out.attrs["group"] = group
    return out


def true_group_coefficients(truth, gene=None):
    """True intercept and drug effect of every replicate of a :func:`lmmedu.simulate_replicates` data set.

    Parameters
    ----------
    truth : lmmedu.data.simulate.ReplicatesTruth
        ``lmmedu.truth(df)``.
    gene : str, optional
        Gene whose lines to return; default the reference gene.

    Returns
    -------
    pandas.DataFrame
        Index ``replicate``; columns ``Intercept`` (mean log length of the gene's control cells
        in that replicate) and ``treatment[T.drug]`` (that replicate's drug effect).

    Examples
    --------
    >>> import lmmedu
    >>> t = lmmedu.truth(lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> true_group_coefficients(t).columns.tolist()
    ['Intercept', 'treatment[T.drug]']
    """
    if not hasattr(truth, "replicate_effects"):
        raise ValueError("true_group_coefficients needs the truth of a simulate_replicates data set "
                         "(lmmedu.truth(df)).")
    gene = truth.genes[0] if gene is None else gene
    if gene not in truth.genes:
        raise ValueError(f"gene must be one of {list(truth.genes)}, got {gene!r}.")
    r = truth.replicate_effects.set_index("replicate")
    base = truth.baseline + truth.gene_effects[gene]
    return pd.DataFrame({"Intercept": base + r["b0"],
                         "treatment[T.drug]": truth.treatment_effects[gene] + r["b_treat"]})


def random_effect_cov(fit):
    """Estimated covariance matrix of the random effects of a model with one random term.

    Returns
    -------
    pandas.DataFrame
        q x q, rows and columns named by the term's columns (R: ``VarCorr(fit)``).

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(genes=("A",), seed=1)
    >>> random_effect_cov(lmmedu.fit("log(length) ~ treatment + (1|replicate)", df)).shape
    (1, 1)
    """
    block = _single_correlated_term(fit, "random_effect_cov")
    vc = fit.varcomp[fit.varcomp["group"] == block.term.group]
    cov = pd.DataFrame(0.0, index=block.names, columns=block.names)
    for row in vc.itertuples():
        a = row.term
        b = a if row.term2 is None or (isinstance(row.term2, float) and np.isnan(row.term2)) else row.term2
        cov.loc[a, b] = cov.loc[b, a] = row.variance
    return cov
