"""Notebook 04: is a replicate's drug response shared by all genes, or different per gene?

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.

With several genes measured in every replicate, a replicate that responds more strongly to
the drug may do so for every gene alike (one random slope per replicate,
``(1 + treatment | replicate)``), or each gene may respond in its own way (a random effect
per replicate, gene and treatment cell, ``+ (1 | replicate:gene:treatment)``, or one model
per gene). :func:`gene_response_p_values` simulates both truths with **no true drug effect**
and tests, under each model, the drug effect of the reference gene and the difference of the
drug effect between two genes, so each model's false-positive rate can be read under the truth
it assumes and under the other one.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from ...data.checks import count, finite, sd
from ...data.simulate import simulate_replicates
from ...stats.fit import fit
from .runner import rates, run_study

__all__ = ["GENE_RESPONSE_MODELS", "GENE_RESPONSE_TRUTHS", "simulate_gene_responses", "gene_response_p_values",
           "gene_response_rates"]

#: Models of the study, label -> formula (R: the same formula in ``lmerTest::lmer``). The
#: last one is fitted to the reference gene's rows only.
GENE_RESPONSE_MODELS = {
    "shared": "log(length) ~ treatment*gene + (1 + treatment|replicate)",
    "per gene": "log(length) ~ treatment*gene + (1 + treatment|replicate) + (1|replicate:gene:treatment)",
    "one model per gene": "log(length) ~ treatment + (1 + treatment|replicate)",
}

#: The two truths of the study: label -> (SD of the replicate drug deviation shared by all
#: genes, SD of each gene's own replicate drug deviation) as multiples of ``response_sd``.
GENE_RESPONSE_TRUTHS = {
    "shared by all genes": (1.0, 0.0),
    "different per gene": (0.0, 1.0),
}

_GENES = ("C", "A", "B")  # C first: the reference gene of the posted table


def simulate_gene_responses(rng, shared_sd: float = 0.15, per_gene_sd: float = 0.0, n_replicates: int = 4,
                            obs_per_replicate: int = 100, replicate_sd: float = 0.2,
                            residual_sd: float = 0.5) -> pd.DataFrame:
    """One experiment with no true drug effect whose replicates respond to the drug.

    ``log(length)`` of a drug measurement of gene ``g`` in replicate ``r`` gets
    ``b_treat[r] + c[r, g]`` on top of :func:`lmmedu.simulate_replicates`' model, with
    ``b_treat ~ N(0, shared_sd**2)`` shared by all genes of a replicate and
    ``c ~ N(0, per_gene_sd**2)`` each gene's own. Genes are C (the reference), A and B.

    Parameters
    ----------
    rng : numpy.random.Generator
    shared_sd, per_gene_sd : float
        SDs of the shared and the gene-specific replicate drug deviations (log scale).
    n_replicates, obs_per_replicate, replicate_sd, residual_sd
        As in :func:`lmmedu.simulate_replicates` (``obs_per_replicate`` per gene and replicate).

    Returns
    -------
    pandas.DataFrame
        Columns ``replicate``, ``gene``, ``treatment``, ``length``.

    Examples
    --------
    >>> df = simulate_gene_responses(np.random.default_rng(1), per_gene_sd=0.2, obs_per_replicate=10)
    >>> df["gene"].cat.categories.tolist(), len(df)
    (['C', 'A', 'B'], 120)
    """
    per_gene_sd = sd("per_gene_sd", per_gene_sd)
    df = simulate_replicates(genes=_GENES, n_replicates=n_replicates, obs_per_replicate=obs_per_replicate,
                             treatment_effects=0.0, replicate_sd=replicate_sd, replicate_treatment_sd=shared_sd,
                             residual_sd=residual_sd, seed=rng)
    own = rng.standard_normal((n_replicates, len(_GENES))) * per_gene_sd
    drug = (df["treatment"] == "drug").to_numpy()
    shift = own[df["replicate"].cat.codes.to_numpy(), df["gene"].cat.codes.to_numpy()] * drug
    df = df.assign(length=df["length"].to_numpy() * np.exp(shift))
    df.attrs = {}  # the simulator's truth does not include the gene-specific deviations
    return df


def _fitted(formula: str, reference_only: bool = False) -> Callable[[pd.DataFrame], Any]:
    """Fit ``formula`` once per data set, however many analyses read the fit."""
    memo: dict[str, Any] = {}

    def get(data: pd.DataFrame):
        if memo.get("data") is not data:
            rows = data[data["gene"] == data["gene"].cat.categories[0]] if reference_only else data
            memo.update(data=data, model=None)
            memo["model"] = fit(formula, rows)
        return memo["model"]

    return get


def _test(get: Callable[[pd.DataFrame], Any], term: str) -> Callable[[pd.DataFrame], dict]:
    def analysis(data: pd.DataFrame) -> dict:
        model = get(data)
        c = model.coefs.loc[term]
        return {"estimate": float(c["estimate"]), "se": float(c["se"]), "df": float(c["df"]), "p": float(c["p"]),
                "singular": bool(model.singular)}

    return analysis


def _analyses() -> dict[str, Callable]:
    shared = _fitted(GENE_RESPONSE_MODELS["shared"])
    per_gene = _fitted(GENE_RESPONSE_MODELS["per gene"])
    separate = _fitted(GENE_RESPONSE_MODELS["one model per gene"], reference_only=True)
    effect, difference = "treatment[T.drug]", "treatment[T.drug]:gene[T.A]"
    return {
        "shared: effect in C": _test(shared, effect),
        "shared: A minus C": _test(shared, difference),
        "per gene: effect in C": _test(per_gene, effect),
        "per gene: A minus C": _test(per_gene, difference),
        "one model per gene: effect in C": _test(separate, effect),
    }


def gene_response_p_values(n_sims: int = 150, response_sd: float = 0.15, n_replicates: int = 4,
                           obs_per_replicate: int = 100, replicate_sd: float = 0.2, residual_sd: float = 0.5,
                           seed: int = 0, progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """Test gene C's drug effect, and A's minus C's, under both truths of :data:`GENE_RESPONSE_TRUTHS`.

    Every experiment has no true drug effect in any gene; the replicates' drug responses
    vary with SD ``response_sd`` per gene, either shared by all genes of a replicate or
    drawn for each gene separately. Three models are fitted (:data:`GENE_RESPONSE_MODELS`):
    one random slope per replicate (assumes a shared response), the same plus a random
    effect per replicate x gene x treatment cell (allows each gene its own response), and one
    model per gene (gene C's rows only, so it cannot compare genes).

    Parameters
    ----------
    n_sims : int, default 150
        Experiments per truth.
    response_sd : float, default 0.15
        SD of a gene's replicate drug deviation (log scale) under either truth.
    n_replicates, obs_per_replicate, replicate_sd, residual_sd
        As in :func:`simulate_gene_responses`.
    seed : int, default 0
    progress : bool or callable, default False
        See :func:`~lmmedu.teach.studies.progress_callback`.

    Returns
    -------
    pandas.DataFrame
        The :func:`~lmmedu.teach.studies.run_study` table with the setting column ``truth``;
        analyses ``"<model>: effect in C"`` and ``"<model>: A minus C"``.

    Examples
    --------
    >>> out = gene_response_p_values(n_sims=1, obs_per_replicate=10)
    >>> out.groupby("truth", sort=False).size().tolist()
    [5, 5]
    """
    settings = dict(n_replicates=count("n_replicates", n_replicates, 3),
                    obs_per_replicate=count("obs_per_replicate", obs_per_replicate, 2),
                    replicate_sd=sd("replicate_sd", replicate_sd), residual_sd=sd("residual_sd", residual_sd))
    response_sd = sd("response_sd", response_sd)
    if settings["residual_sd"] == 0:
        raise ValueError("residual_sd must be greater than 0, so that measurements within a replicate differ.")

    def simulate(rng, truth):
        shared, own = GENE_RESPONSE_TRUTHS[truth]
        return simulate_gene_responses(rng, shared_sd=shared * response_sd, per_gene_sd=own * response_sd,
                                       **settings)

    grid = [{"truth": t} for t in GENE_RESPONSE_TRUTHS]
    return run_study(simulate, _analyses(), n_sims=n_sims, seed=seed, progress=progress, grid=grid,
                     settings={**settings, "response_sd": response_sd})


def gene_response_rates(n_sims: int = 150, alpha: float = 0.05, progress: bool | Callable[[int, int], Any] = False,
                        **settings: Any) -> pd.DataFrame:
    """False-positive rates of :func:`gene_response_p_values`: one row per truth and analysis.

    Examples
    --------
    >>> gene_response_rates(n_sims=1, obs_per_replicate=10)["truth"].unique().tolist()
    ['shared by all genes', 'different per gene']
    """
    finite("alpha", alpha)
    return rates(gene_response_p_values(n_sims=n_sims, progress=progress, **settings), alpha=alpha)
