"""The studies of notebook 08 (the gene-expression case study).

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ...data.simulate import simulate_expression
from .runner import coefficient_test, run_study

#
# The mailing-list experiment (lmmedu.data.simulate.simulate_expression) analysed three ways, and
# the plain numbers behind the notebook's residual figure.


__all__ = ["EXPRESSION_MODELS", "FULL_PROBESETS", "reduced_expression_settings", "interaction_study",
            "residual_means", "array_spread"]

#: The three analyses of the week x genotype interaction in notebook 08, in display order:
#: name -> lme4-style formula.
EXPRESSION_MODELS = {
    "lm": "values ~ week*genotype",
    "(week|probeset)": "values ~ week*genotype + (week|probeset)",
    "(week|probeset) + (1|sample)": "values ~ week*genotype + (week|probeset) + (1|sample)",
}

#: Number of probesets of the full experiment (18,015 probesets x 23 arrays = 414,345 rows).
FULL_PROBESETS = 18015

# The probeset-level defaults of simulate_expression (they mimic the posted fit).
_PROBESET_LEVEL = {"probeset_sd": 2.27, "probeset_week_sd": 0.071, "residual_sd": 0.217}


def reduced_expression_settings(n_probesets: int = 300, full_probesets: int = FULL_PROBESETS,
                                sample_sd: float = 0.02, **probeset_level: float) -> dict[str, Any]:
    """Arguments of :func:`~lmmedu.data.simulate.simulate_expression` for a smaller copy of the experiment.

    Every fixed effect is estimated from the arrays' averages over their probesets. An array's
    average carries its own shift (SD ``sample_sd``) plus the average of its probesets'
    intercepts, slopes and errors, whose variances shrink as ``1 / n_probesets``. Scaling the
    three probeset-level SDs by ``sqrt(n_probesets / full_probesets)`` keeps those averages as
    noisy as in the full experiment, so the smaller copy shows the same standard errors and
    false-positive rates with far fewer rows. (Only the model without an array effect notices
    a difference: its residual SD shrinks towards the array SD, which it then absorbs, so its
    standard error is somewhat larger and its false-positive rate somewhat lower than at full
    scale. Use a few hundred probesets or more.)

    Parameters
    ----------
    n_probesets : int, default 300
        Probesets of the smaller copy (at least 2, at most ``full_probesets``).
    full_probesets : int, default 18015
        Probesets of the experiment being copied.
    sample_sd : float, default 0.02
        SD of the array effect, kept as it is.
    **probeset_level : float
        Any of ``probeset_sd``, ``probeset_week_sd``, ``residual_sd`` at full scale (defaults
        2.27, 0.071, 0.217, those of :func:`~lmmedu.data.simulate.simulate_expression`).

    Returns
    -------
    dict
        Keyword arguments ``n_probesets``, ``probeset_sd``, ``probeset_week_sd``,
        ``residual_sd`` and ``sample_sd`` for ``simulate_expression``.

    Examples
    --------
    >>> s = reduced_expression_settings(180)
    >>> round(s["residual_sd"], 4), s["sample_sd"]
    (0.0217, 0.02)
    """
    unknown = set(probeset_level) - set(_PROBESET_LEVEL)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; give any of {sorted(_PROBESET_LEVEL)}.")
    for name, value in (("n_probesets", n_probesets), ("full_probesets", full_probesets)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 2:
            raise ValueError(f"{name} must be an integer of at least 2, got {value!r}.")
    if n_probesets > full_probesets:
        raise ValueError(f"n_probesets ({n_probesets}) must not exceed full_probesets ({full_probesets}); "
                         "the smaller copy cannot have more probesets than the experiment it copies.")
    values = {**_PROBESET_LEVEL, **probeset_level, "sample_sd": sample_sd}
    for name, value in values.items():
        if not isinstance(value, (int, float, np.number)) or isinstance(value, bool) or not math.isfinite(value) \
                or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    scale = math.sqrt(n_probesets / full_probesets)
    out = {"n_probesets": int(n_probesets)}
    out.update({name: float(values[name]) * scale for name in _PROBESET_LEVEL})
    out["sample_sd"] = float(sample_sd)
    return out


def interaction_study(n_sims: int = 50, n_probesets: int = 300, seed: int = 0,
                      progress: bool | Callable[[int, int], Any] = False, *, sample_sd: float = 0.02,
                      models: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Test the week x genotype interaction in experiments where it is truly 0, with each model.

    Each experiment is a smaller copy of the mailing-list experiment
    (:func:`reduced_expression_settings`: 23 arrays, ``n_probesets`` probesets, no true
    interaction, arrays shifted with SD ``sample_sd``); each model of ``models`` is fitted (by
    REML for mixed models, lm for the formula without a random term) and its t-test of the
    interaction coefficient (Satterthwaite df for mixed models) is recorded. Summarise with
    :func:`rates`: every rejection is a false positive.

    Parameters
    ----------
    n_sims : int, default 50
        Simulated experiments.
    n_probesets : int, default 300
        Probesets per experiment.
    seed : int, default 0
        Seed of the study (experiment ``i`` uses the ``i``-th child of ``SeedSequence(seed)``).
    progress : bool or callable, default False
        See :func:`progress_callback`.
    sample_sd : float, default 0.02
        SD of the array effect (0 makes ``(week|probeset)`` the right model).
    models : dict of str -> str, optional
        Name -> formula; default :data:`EXPRESSION_MODELS`.

    Returns
    -------
    pandas.DataFrame
        The table of :func:`run_study` (one row per experiment and model); ``attrs["settings"]``
        holds the simulation settings, ``attrs["truth"]`` the true interaction (0.0) and
        ``attrs["term"]`` the tested coefficient.

    Examples
    --------
    >>> res = interaction_study(n_sims=2, n_probesets=20, models={"lm": "values ~ week*genotype"})
    >>> res[["sim", "analysis"]].values.tolist()
    [[0, 'lm'], [1, 'lm']]
    """
    models = dict(EXPRESSION_MODELS if models is None else models)
    if not models or not all(isinstance(k, str) and isinstance(v, str) for k, v in models.items()):
        raise ValueError("models must be a non-empty dict of name -> formula (str), e.g. "
                         "{'lm': 'values ~ week*genotype'}.")
    settings = reduced_expression_settings(n_probesets, sample_sd=sample_sd)
    term = "week:genotype[T.CSB]"
    analyses = {name: coefficient_test(formula, term) for name, formula in models.items()}

    def simulate(rng):
        data = simulate_expression(**settings, seed=rng)
        data.attrs = {}  # the analyses never read the truth; pandas would deep-copy it on every column access
        return data

    out = run_study(simulate, analyses, n_sims=n_sims, seed=seed, progress=progress,
                    settings={**settings, "models": models})
    out.attrs["truth"] = 0.0
    out.attrs["term"] = term
    return out


def residual_means(data: pd.DataFrame, residuals, by: Sequence[str] = ("genotype", "weeks")) -> pd.DataFrame:
    """Average residuals over the rows of each group: the numbers behind the residual figure of notebook 08.

    Parameters
    ----------
    data : pandas.DataFrame
        The data the residuals belong to (same rows, same order).
    residuals : array_like
        One residual per row of ``data`` (e.g. ``fit.residuals()``).
    by : sequence of str, default ("genotype", "weeks")
        Columns to group by; ``("sample", "genotype", "weeks")`` gives one row per array.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``n_rows`` and ``mean_residual``, one row per group present in the data.

    Examples
    --------
    >>> d = pd.DataFrame({"g": ["a", "a", "b"], "x": [1, 1, 2]})
    >>> residual_means(d, [1.0, 3.0, -1.0], by=["g"])["mean_residual"].tolist()
    [2.0, -1.0]
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by if c not in data.columns]
    if not by or missing:
        raise ValueError(f"by must name columns of data; {missing or 'none'} given are missing "
                         f"(columns: {list(data.columns)}).")
    res = np.asarray(residuals, dtype=float).ravel()
    if len(res) != len(data):
        raise ValueError(f"residuals has {len(res)} values but data has {len(data)} rows; pass the residuals "
                         "of a model fitted to exactly these rows.")
    frame = data[by].assign(_r=res)
    out = (frame.groupby(by, observed=True, sort=True)["_r"].agg(["size", "mean"])
           .rename(columns={"size": "n_rows", "mean": "mean_residual"}).reset_index())
    return out


def array_spread(arrays: pd.DataFrame, cells: Sequence[str] = ("genotype", "weeks"),
                 value: str = "mean_residual") -> float:
    """SD of the arrays' averages around the average of their cell (arrays of the same age and strain).

    Parameters
    ----------
    arrays : pandas.DataFrame
        One row per array, e.g. :func:`residual_means` by ``("sample", "genotype", "weeks")``.
    cells : sequence of str, default ("genotype", "weeks")
        Columns that define a cell.
    value : str, default "mean_residual"
        Column of the arrays' averages.

    Returns
    -------
    float
        The pooled SD of the deviations from the cell averages, with ``n_arrays - n_cells`` df
        (NaN when no cell has two arrays).

    Examples
    --------
    >>> a = pd.DataFrame({"genotype": ["x", "x", "y"], "weeks": [2, 2, 2], "mean_residual": [1.0, 3.0, 5.0]})
    >>> array_spread(a)
    1.4142135623730951
    """
    cells = [cells] if isinstance(cells, str) else list(cells)
    missing = [c for c in [*cells, value] if c not in getattr(arrays, "columns", [])]
    if missing:
        raise ValueError(f"arrays needs the column(s) {missing}; pass residual_means(..., by=['sample', *cells]).")
    groups = arrays.groupby(cells, observed=True)[value]
    deviations = arrays[value] - groups.transform("mean")
    dof = len(arrays) - groups.ngroups
    if dof <= 0:
        return math.nan
    return float(math.sqrt(float((deviations ** 2).sum()) / dof))
