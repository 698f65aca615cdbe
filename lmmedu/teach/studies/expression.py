"""The studies of notebook 08 (the gene-expression case study).

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from scipy import stats

from ...data.simulate import simulate_expression
from ...stats.bootstrap import bootstrap_p, pb_modcomp
from ...stats.fit import fit as fit_model
from ...stats.ftest import anova
from ...stats.results import is_mixed
from .runner import binomial_ci, coefficient_test, progress_callback, run_study

#
# The mailing-list experiment (lmmedu.data.simulate.simulate_expression) analysed three ways, and
# the plain numbers behind the notebook's residual figure.


__all__ = ["EXPRESSION_MODELS", "FULL_PROBESETS", "reduced_expression_settings", "interaction_study",
           "residual_means", "array_spread", "without_interaction", "referee_bootstrap_study", "REFEREE_COLUMNS",
           "interaction_referee"]

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


# --------------------------------------------------------------------------------------
# The referee: every test of the interaction side by side, the parametric bootstrap included
# --------------------------------------------------------------------------------------

#: Columns of :func:`interaction_referee`'s table.
REFEREE_COLUMNS = ("model", "test", "statistic", "num_df", "den_df", "p")
_INTERACTION = "week:genotype"


def without_interaction(formula: str) -> str:
    """The formula of the model without the week x genotype interaction (``week*genotype`` -> ``week + genotype``).

    Examples
    --------
    >>> without_interaction("values ~ week*genotype + (1|sample)")
    'values ~ week + genotype + (1|sample)'
    """
    if not isinstance(formula, str) or "week*genotype" not in formula:
        raise ValueError(f"formula must contain 'week*genotype' (as the models of EXPRESSION_MODELS do), "
                         f"got {formula!r}.")
    return formula.replace("week*genotype", "week + genotype", 1)


def _mixed_models(models: Mapping[str, str] | None) -> dict[str, str]:
    models = {k: v for k, v in (EXPRESSION_MODELS if models is None else models).items() if "|" in v}
    if not models:
        raise ValueError("models must name at least one mixed model (a formula with a random term such as "
                         "'(week|probeset)').")
    return models


def referee_bootstrap_study(n_sims: int = 200, seed: int = 0, data_seed: int = 6, n_probesets: int = FULL_PROBESETS,
                            progress: bool | Callable[[int, int], Any] = False, *, n_jobs: int = 1,
                            models: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Parametric-bootstrap LRTs of the interaction in one expression data set, for each mixed model.

    The data set is ``simulate_expression(n_probesets=n_probesets, seed=data_seed)`` (notebook 08's
    with the defaults). For each mixed model of ``models`` the models with and without the
    interaction are fitted by ML, and :func:`~lmmedu.stats.bootstrap.pb_modcomp` (what
    ``lmmedu.anova(small, big, method="bootstrap", n=n_sims, seed=seed)`` runs, pbkrtest's
    ``PBmodcomp``) simulates ``n_sims`` data sets from the model without the interaction and refits
    both. At full scale that is a few minutes of refits, so notebook 08 reads the result from
    data/ (see :mod:`.cache`); :func:`interaction_referee` turns it into the bootstrap p-value.

    Parameters
    ----------
    n_sims : int, default 200
        Simulated data sets per model.
    seed : int, default 0
        Seed of the bootstrap (simulation ``i`` uses the ``i``-th child of ``SeedSequence(seed)``).
    data_seed : int, default 6
        Seed of the analysed data set (notebook 08's).
    n_probesets : int, default 18015
        Probesets of the analysed data set.
    progress : bool or callable, default False
        See :func:`progress_callback`.
    n_jobs : int, default 1
        Parallel workers of the refits (the result does not depend on it).
    models : dict of str -> str, optional
        Name -> formula with ``week*genotype``; default the mixed models of :data:`EXPRESSION_MODELS`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`run_study`, one row per simulated data set and model: ``estimate`` is
        the simulated LRT, ``df`` its chi-square df, ``p`` its chi-square p-value, ``se`` NaN.
        ``attrs["observed"]`` holds each model's observed LRT.

    Examples
    --------
    >>> res = referee_bootstrap_study(n_sims=2, n_probesets=20, models={"m": "values ~ week*genotype + (1|probeset)"})
    >>> res[["sim", "analysis", "df"]].values.tolist()
    [[0, 'm', 1.0], [1, 'm', 1.0]]
    """
    models = _mixed_models(models)
    data = simulate_expression(n_probesets=n_probesets, seed=data_seed)
    data.attrs = {}
    rows, observed = [], {}
    with progress_callback(progress, len(models) * n_sims, desc="bootstrap refits") as tick:
        for k, (name, formula) in enumerate(models.items()):
            big = fit_model(formula, data, reml=False)
            small = fit_model(without_interaction(formula), data, reml=False)
            res = pb_modcomp(small, big, n=n_sims, seed=seed, n_jobs=n_jobs,
                             progress=lambda done, total, k=k: tick(k * n_sims + done))
            dof = float(len(big.names) - len(small.names))
            observed[name] = res["LRT"]
            rows.extend({"sim": i, "analysis": name, "estimate": float(v), "se": math.nan, "df": dof,
                         "p": float(stats.chi2.sf(max(v, 0.0), dof)) if np.isfinite(v) else math.nan,
                         "singular": False, "error": "" if np.isfinite(v) else "refit failed"}
                        for i, v in enumerate(res["lrt"]))
            tick((k + 1) * n_sims)
    out = pd.DataFrame(rows, columns=["sim", "analysis", "estimate", "se", "df", "p", "singular", "error"])
    out.attrs["settings"] = {"n_sims": n_sims, "seed": seed, "data_seed": data_seed, "n_probesets": n_probesets,
                             "models": models}
    out.attrs["observed"] = observed
    return out


def interaction_referee(lm_fit, fits: Mapping[str, Sequence], simulated_lrt: Mapping[str, Any] | None = None,
                        n_boot: int = 200, seed: int | None = None, term: str = _INTERACTION) -> pd.DataFrame:
    """Every test of one term side by side: lm F, chi-square LRT, parametric bootstrap, Satterthwaite and KR F.

    For notebook 08's question, "which p-value is right?": the same term tested by the lm, and for
    each mixed model by the likelihood ratio of ML fits read against the chi-square
    (``anova(small, big)``), the same ratio read against its parametric-bootstrap distribution
    (pbkrtest's ``PBmodcomp``), and the F tests of the REML fit with Satterthwaite and with
    Kenward-Roger denominator df (lmerTest's ``anova(fit)`` and ``anova(fit, ddf = "Kenward-Roger")``).

    Parameters
    ----------
    lm_fit : LmFit
        The lm (its F test of ``term``; the lm has one error term, so its df are the residual df).
    fits : dict of str -> (MixedFit, MixedFit, MixedFit)
        Model name -> (the REML fit, the ML fit without ``term``, the ML fit with it).
    simulated_lrt : dict of str -> array_like, optional
        Model name -> simulated LRTs of that comparison (e.g. the ``estimate`` column of a
        :func:`referee_bootstrap_study` table). Missing: ``pb_modcomp(small, big, n=n_boot, seed=seed)``
        is run here.
    n_boot, seed : int
        The bootstrap run here when ``simulated_lrt`` does not give a model's.
    term : str, default "week:genotype"
        The term, as written in the formula.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REFEREE_COLUMNS`: ``model``, ``test``, ``statistic`` (F, or the LRT),
        ``num_df``, ``den_df`` (``inf`` for the chi-square, which is the F test with unlimited
        denominator df; NaN for the bootstrap, whose reference distribution is simulated) and ``p``.
        ``attrs["bootstrap"]``: per model ``n`` (simulations used), ``hits`` (simulated LRTs at least
        the observed one) and ``mc_low``, ``mc_high`` (95% Wilson interval of the share of hits, the
        bootstrap p's Monte-Carlo uncertainty).

    Examples
    --------
    >>> import lmmedu
    >>> d = lmmedu.simulate_expression(n_probesets=30, seed=1)
    >>> f = "values ~ week*genotype + (1|probeset)"
    >>> fits = {"m": (lmmedu.fit(f, d), lmmedu.fit(without_interaction(f), d, reml=False), lmmedu.fit(f, d, reml=False))}
    >>> tab = interaction_referee(lmmedu.fit_lm("values ~ week*genotype", d), fits, n_boot=9, seed=1)
    >>> tab["test"].tolist()
    ['lm F', 'chi-square LRT (ML)', 'parametric bootstrap (ML)', 'Satterthwaite F (REML)', 'Kenward-Roger F (REML)']
    """
    if is_mixed(lm_fit) or not hasattr(lm_fit, "df_resid"):
        raise ValueError(f"lm_fit must be an lm made by lmmedu.fit_lm, not {type(lm_fit).__name__}.")
    if not isinstance(fits, Mapping) or not fits:
        raise ValueError("fits must be a non-empty dict of model name -> (REML fit, ML fit without the term, "
                         "ML fit with it).")
    simulated_lrt = dict(simulated_lrt or {})
    unknown = set(simulated_lrt) - set(fits)
    if unknown:
        raise ValueError(f"simulated_lrt names model(s) {sorted(unknown)} that are not in fits ({list(fits)}).")
    lm_row = anova(lm_fit, terms=term).loc[term]
    rows = [{"model": "lm", "test": "lm F", "statistic": lm_row["F"], "num_df": float(lm_row["df"]),
             "den_df": float(lm_fit.df_resid), "p": lm_row["p"]}]
    boot = {}
    for name, triple in fits.items():
        if not isinstance(triple, Sequence) or len(triple) != 3:
            raise ValueError(f"fits[{name!r}] must be three fits: (REML fit, ML fit without {term}, ML fit with it).")
        reml, small, big = triple
        if not (is_mixed(reml) and reml.reml):
            raise ValueError(f"The first fit of {name!r} must be the mixed model fitted by REML (lmmedu.fit's "
                             "default): its F tests are lmerTest's.")
        lrt = anova(small, big)  # refuses REML fits and models that are not nested, in one sentence
        observed, dof = float(lrt["Chisq"].iloc[1]), float(lrt["Df"].iloc[1])
        if name in simulated_lrt:
            sim = np.asarray(simulated_lrt[name], dtype=float)
        else:
            sim = pb_modcomp(small, big, n=n_boot, seed=seed)["lrt"]
        bp = bootstrap_p(observed, sim)
        hits = bp["hits"]
        low, high = binomial_ci(hits, bp["n"])
        boot[name] = {"n": bp["n"], "hits": hits, "mc_low": low, "mc_high": high}
        rows.append({"model": name, "test": "chi-square LRT (ML)", "statistic": observed, "num_df": dof,
                     "den_df": math.inf, "p": float(lrt["p"].iloc[1])})
        rows.append({"model": name, "test": "parametric bootstrap (ML)", "statistic": observed, "num_df": dof,
                     "den_df": math.nan, "p": bp["p"]})
        for label, ddf in (("Satterthwaite F (REML)", "satterthwaite"), ("Kenward-Roger F (REML)", "kenward-roger")):
            r = anova(reml, terms=term, ddf=ddf).loc[term]
            rows.append({"model": name, "test": label, "statistic": float(r["F"]), "num_df": float(r["num_df"]),
                         "den_df": float(r["den_df"]), "p": float(r["p"])})
    out = pd.DataFrame(rows, columns=list(REFEREE_COLUMNS))
    out.attrs["bootstrap"] = boot
    return out
