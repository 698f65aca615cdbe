"""Notebook 04's interaction explorer: one simulated data set per setting of the genes' true drug effects, fitted and set against the truth.

The same seed gives the same replicate effects and the same measurement noise at every
setting, so moving one gene's true drug effect shifts only the drug measurements of that gene
and a learner sees exactly which coefficients of ``treatment*gene`` follow. The app
(:class:`lmmedu.teach.widgets.InteractionExplorer`) holds one slider per gene, calls
:func:`interaction_view` and displays.

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ...data.checks import finite
from ...data.simulate import DEFAULT_TREATMENT_EFFECTS, simulate_replicates, truth
from ...stats.fit import fit, fit_lm

__all__ = ["InteractionView", "interaction_genes", "interaction_data", "interaction_view"]


@dataclass(frozen=True, eq=False)
class InteractionView:
    """One setting of the true drug effects, as returned by :func:`interaction_view`.

    Attributes
    ----------
    effects : dict
        Gene -> true drug effect used for the simulation.
    table : pandas.DataFrame
        Index: coefficient names. Columns ``truth``, ``estimate``, ``se``, ``truth_change``
        and ``estimate_change`` (since the previous view; 0 without one), ``moved`` (the
        true coefficient changed).
    seconds : float
        Time to simulate and fit.
    model : MixedFit or LmFit
    """

    effects: dict
    table: pd.DataFrame
    seconds: float
    model: Any = field(repr=False, default=None)


def interaction_genes(seed: int = 1, **simulate_kwargs) -> dict[str, float]:
    """The genes :func:`lmmedu.simulate_replicates` makes with these arguments, with their default true drug effects.

    Examples
    --------
    >>> interaction_genes()
    {'A': 0.22, 'B': 0.09, 'C': 0.0}
    """
    probe = simulate_replicates(seed=seed, **{**simulate_kwargs, "obs_per_replicate": 2})
    return {g: float(DEFAULT_TREATMENT_EFFECTS.get(g, 0.0)) for g in truth(probe).genes}


def interaction_data(effects: Mapping[str, float], seed: int = 1, **simulate_kwargs) -> pd.DataFrame:
    """The data set for ``effects`` (gene -> true drug effect), the same seed every time."""
    return simulate_replicates(seed=seed, treatment_effects=dict(effects), **simulate_kwargs)


def interaction_view(effects: Mapping[str, float], previous: pd.DataFrame | None = None, *, seed: int = 1,
                     formula: str = "log(length) ~ treatment*gene + (1|replicate)",
                     **simulate_kwargs) -> InteractionView:
    """Simulate with these true drug effects, fit ``formula``, and compare with the truth and the previous view.

    Parameters
    ----------
    effects : mapping
        Gene -> true drug effect on log(length), every gene of the data.
    previous : pandas.DataFrame, optional
        The ``truth`` and ``estimate`` columns of the previous view's table; the changes are
        measured from them (0 without).
    seed : int, default 1
        Seed of :func:`lmmedu.simulate_replicates`.
    formula : str
        Fitted with :func:`lmmedu.fit` if it has a random term, else :func:`lmmedu.fit_lm`.
    **simulate_kwargs
        Passed to :func:`lmmedu.simulate_replicates`.

    Returns
    -------
    InteractionView

    Examples
    --------
    >>> first = interaction_view({"A": 0.22, "B": 0.09, "C": 0.0}, obs_per_replicate=40)
    >>> moved = interaction_view({"A": 0.22, "B": 0.39, "C": 0.0}, first.table, obs_per_replicate=40)
    >>> moved.table.index[moved.table["moved"]].tolist()
    ['treatment[T.drug]:gene[T.B]']
    """
    effects = {g: finite(f"effect of gene {g}", v) for g, v in effects.items()}
    start = time.perf_counter()
    df = interaction_data(effects, seed, **simulate_kwargs)
    model = fit(formula, df) if "|" in formula else fit_lm(formula, df)
    seconds = time.perf_counter() - start
    true = truth(df).coefficients
    table = pd.DataFrame({"truth": true.reindex(model.names), "estimate": model.coefs["estimate"],
                          "se": model.coefs["se"]})
    before = previous if previous is not None else table[["truth", "estimate"]]
    table["truth_change"] = table["truth"] - before["truth"]
    table["estimate_change"] = table["estimate"] - before["estimate"]
    table["moved"] = np.abs(table["truth_change"]) > 1e-12
    return InteractionView(effects=effects, table=table, seconds=seconds, model=model)
