"""Notebook 07's bootstrap referee over many experiments.

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from ..comparison.pvalues import LM_ROW, REFEREE_MODELS, REFEREE_TESTS, referee_table
from .pvalues import _check_design_settings, _grid, _without_truth, simulate_groups
from .runner import _check_n_sims, run_study

# The parametric bootstrap as referee, over many experiments: how often does each p-value of
# the drug fall below 0.05 when the drug does nothing and its effect varies between replicates?

__all__ = ["referee_analyses", "referee_study"]


def referee_analyses(n_boot: int = 100, seed: int = 1) -> dict[str, Callable[[pd.DataFrame], dict]]:
    """The tests of :func:`lmmedu.teach.comparison.referee_table` as analyses for :func:`run_study`.

    The table is computed once per data set; each analysis reads one of its rows. Names are
    ``"lm: F (lm)"`` and ``"<random part>: <test>"`` (e.g. ``"random slope: parametric
    bootstrap LRT (ML)"``), in the table's order.

    Examples
    --------
    >>> names = list(referee_analyses())
    >>> names[0], len(names)
    ('lm: F (lm)', 9)
    """
    cache = {"data": None, "table": None}

    def table(data):
        if cache["data"] is not data:  # run_study hands every analysis the same object
            cache.update(data=data, table=None)
            cache["table"] = referee_table(data, n_boot=n_boot, seed=seed)
        if cache["table"] is None:
            raise RuntimeError("the tests could not be computed for this experiment")
        return cache["table"]

    def reader(i):
        def analysis(data):
            row = table(data).iloc[i]
            return {"p": float(row["p"]), "df": float(row["den_df"]), "singular": bool(row["singular"])}
        return analysis

    labels = [("lm", LM_ROW[1])] + [(m, t) for m in REFEREE_MODELS for t in REFEREE_TESTS]
    return {f"{m}: {t}": reader(i) for i, (m, t) in enumerate(labels)}


def referee_study(n_groups: int = 4, group_size: int = 100, icc: float = 0.2, slope_sd: float = 0.15,
                  n_sims: int = 100, n_boot: int = 100, seed: int = 24, boot_seed: int = 1,
                  progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """How often does each p-value of :func:`~lmmedu.teach.comparison.referee_table` reject a drug that does nothing?

    Every experiment (:func:`simulate_groups`, within design) has no average drug effect, and
    the drug effect varies between replicates with SD ``slope_sd``; the drug is tested by the lm
    and, under a random intercept only and under a random slope, by the chi-square LRT, the
    parametric bootstrap LRT and the F tests with Satterthwaite and Kenward-Roger df.

    Parameters
    ----------
    n_groups, group_size, icc, slope_sd : number
        Settings of :func:`simulate_groups`.
    n_sims : int, default 100
    n_boot : int, default 100
        Bootstrap data sets per test (with 100, ``p < 0.05`` means at most 4 of the 100 simulated
        LRTs reach the observed one: a level of 5/101).
    seed : int, default 24
        Seed of the experiments.
    boot_seed : int, default 1
        Seed of every bootstrap.
    progress : bool or callable, default False

    Returns
    -------
    pandas.DataFrame
        The :func:`run_study` table; summarise it with :func:`rates`.

    Examples
    --------
    >>> out = referee_study(group_size=10, n_sims=1, n_boot=9)
    >>> out["analysis"].tolist() == list(referee_analyses())
    True
    """
    grid = _grid(n_groups=n_groups, group_size=group_size, icc=icc, slope_sd=slope_sd)
    _check_design_settings(grid, min_groups=3, min_size=2)
    if not isinstance(slope_sd, (int, float, np.number)) or isinstance(slope_sd, bool) or slope_sd < 0:
        raise ValueError(f"slope_sd must be a number >= 0, got {slope_sd!r}.")
    n_sims = _check_n_sims(n_sims)

    def simulate(rng, n_groups, group_size, icc, slope_sd):
        return _without_truth(simulate_groups(rng, n_groups=n_groups, group_size=group_size, icc=icc,
                                              design="within", slope_sd=slope_sd))

    # One setting: the grid only feeds simulate; the table has no setting columns.
    def simulate_one(rng):
        return simulate(rng, **grid[0])

    return run_study(simulate_one, referee_analyses(n_boot=n_boot, seed=boot_seed), n_sims=n_sims, seed=seed,
                     progress=progress, settings={**grid[0], "design": "within", "truth": 0.0, "n_boot": n_boot,
                                                  "boot_seed": boot_seed})
