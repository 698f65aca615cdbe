"""Core of :mod:`lmmedu.teach.studies`: the one study runner, the one rates table and the replicate studies of notebooks 01-04.

The overview of the package is in :mod:`lmmedu.teach.studies`; the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...data.simulate import _count, _finite, _sd, simulate_replicates
from ...stats.fit import fit, fit_lm
from ..cells import replicate_means

__all__ = [
    "progress_callback",
    "run_study",
    "rates",
    "coefficient_test",
    "binomial_ci",
    "RESULT_COLUMNS",
    "RATE_COLUMNS",
    "ANALYSES",
    "simulate_p_values",
    "false_positive_rates",
    "rate_curve",
    "true_icc",
    "true_design_effect",
    "design_problem",
    "SLOPE_STUDY_MODELS",
    "random_slope_p_values",
    "random_slope_rates",
    "singular_split",
]


# --------------------------------------------------------------------------------------
# The contract: one progress helper, one runner, one rates table
# --------------------------------------------------------------------------------------

#: Columns of :func:`run_study`'s table after the setting columns.
RESULT_COLUMNS = ("sim", "analysis", "estimate", "se", "df", "p", "singular", "error")
#: Columns of :func:`rates`'s table after the setting columns.
RATE_COLUMNS = ("analysis", "n_sims", "rejections", "rate", "ci_low", "ci_high", "n_missing",
                "median_estimate", "median_se", "median_df", "n_singular", "singular_rate")


class Progress:
    """A resolved ``progress`` argument: call it with the number done; use it as a context manager.

    Made by :func:`progress_callback`; closes its tqdm bar (if any) on exit.
    """

    def __init__(self, update: Callable[[int], None], close: Callable[[], None]):
        self._update = update
        self._close = close

    def __call__(self, done: int) -> None:
        self._update(int(done))

    def close(self) -> None:
        self._close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_callback(progress: bool | Callable[[int, int], Any], total: int,
                      desc: str = "simulated experiments") -> Progress:
    """Resolve a ``progress`` argument (the one place that knows tqdm).

    Parameters
    ----------
    progress : bool or callable
        False: silent. True: a tqdm bar of ``total`` steps (silent in Voila). A callable: called as
        ``progress(done, total)`` after every step (a widget's progress bar).
    total : int
        Number of steps.
    desc : str
        Label of the tqdm bar.

    Returns
    -------
    Progress
        Call it as ``tick(done)``; use it in a ``with`` block so the bar is closed.

    Examples
    --------
    >>> seen = []
    >>> with progress_callback(lambda done, total: seen.append((done, total)), 2) as tick:
    ...     tick(1); tick(2)
    >>> seen
    [(1, 2), (2, 2)]
    """
    # Voila (app mode, which sets VOILA_KERNEL_ID) shows the page only after the notebook ran: a
    # bar would never be seen, and one closed on exit shows "Error displaying widget" instead.
    if progress is False or progress is None or (progress is True and "VOILA_KERNEL_ID" in os.environ):
        return Progress(lambda done: None, lambda: None)
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, leave=False)

        def _update(done):
            bar.update(done - bar.n)

        return Progress(_update, bar.close)
    if callable(progress):
        return Progress(lambda done: progress(done, total), lambda: None)
    raise ValueError(f"progress must be True (a tqdm bar), False (silent) or a function progress(done, total), "
                     f"got {progress!r}.")


def _check_n_sims(n_sims) -> int:
    if not isinstance(n_sims, (int, np.integer)) or isinstance(n_sims, bool) or n_sims < 1:
        raise ValueError(f"n_sims must be a positive integer, got {n_sims!r}.")
    return int(n_sims)


def _streams(seed, n_sims: int) -> list:
    try:
        return np.random.SeedSequence(seed).spawn(n_sims)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.") from exc


def _analysis_row(analysis: Callable, data: pd.DataFrame) -> dict[str, Any]:
    row = {"estimate": math.nan, "se": math.nan, "df": math.nan, "p": math.nan, "singular": False, "error": ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tiny designs warn in scipy and the engine; the error column says why
            out = analysis(data)
    except Exception as exc:  # a tiny design can defeat any fit: record it, keep going
        row["error"] = str(exc) or type(exc).__name__
        return row
    unknown = set(out) - set(row)
    if unknown:
        raise ValueError(f"an analysis returned unknown key(s) {sorted(unknown)}; use {sorted(row)}.")
    row.update(out)
    for key in ("estimate", "se", "df", "p"):
        row[key] = float(row[key])
    row["singular"] = bool(row["singular"])
    if not math.isfinite(row["p"]) and not row["error"]:
        row["error"] = "no p-value"
    return row


def run_study(simulate: Callable[..., pd.DataFrame], analyses: Mapping[str, Callable[[pd.DataFrame], Mapping]],
              n_sims: int, seed: int = 0, progress: bool | Callable[[int, int], Any] = False,
              grid: Sequence[Mapping[str, Any]] | None = None, settings: Mapping[str, Any] | None = None
              ) -> pd.DataFrame:
    """Run every analysis on ``n_sims`` simulated experiments at every setting of ``grid``.

    Parameters
    ----------
    simulate : callable
        ``simulate(rng, **setting) -> DataFrame``: one experiment drawn with the
        :class:`numpy.random.Generator` ``rng``.
    analyses : dict of str -> callable
        Name -> ``analysis(data) -> dict`` with key ``p`` and any of ``estimate``, ``se``,
        ``df``, ``singular``, ``error``. An analysis that raises is recorded with ``p`` = NaN
        and its message in ``error``.
    n_sims : int
        Experiments per setting.
    seed : int, default 0
        Experiment ``i`` uses the ``i``-th child of ``SeedSequence(seed)`` at every setting.
    progress : bool or callable, default False
        See :func:`progress_callback`; counts the experiments of all settings together.
    grid : list of dict, optional
        Settings passed to ``simulate`` as keywords, one dict each; they become the leading
        columns of the table. Default one empty setting.
    settings : dict, optional
        Fixed arguments of the study, kept in ``attrs["settings"]`` (with ``n_sims`` and ``seed``).

    Returns
    -------
    pandas.DataFrame
        Columns ``<setting columns>, sim, analysis, estimate, se, df, p, singular, error``;
        ``attrs["settings"]`` and ``attrs["setting_columns"]``.

    Examples
    --------
    >>> def simulate(rng):
    ...     return pd.DataFrame({"y": rng.normal(size=5)})
    >>> def one_sample_t(data):
    ...     return {"p": stats.ttest_1samp(data["y"], 0).pvalue, "estimate": data["y"].mean()}
    >>> out = run_study(simulate, {"t": one_sample_t}, n_sims=3)
    >>> out[["sim", "analysis"]].values.tolist()
    [[0, 't'], [1, 't'], [2, 't']]
    """
    n_sims = _check_n_sims(n_sims)
    if not isinstance(analyses, Mapping) or not analyses or not all(callable(a) for a in analyses.values()):
        raise ValueError("analyses must be a non-empty dict of name -> function(data) returning a dict with 'p'.")
    if not callable(simulate):
        raise ValueError(f"simulate must be a function simulate(rng, **setting), got {simulate!r}.")
    grid = [{}] if grid is None else [dict(g) for g in grid]
    if not grid:
        raise ValueError("grid must hold at least one setting (a dict), or be None.")
    columns = list(dict.fromkeys(k for g in grid for k in g))
    _streams(seed, n_sims)  # a bad seed fails here, before any work
    rows = []
    with progress_callback(progress, n_sims * len(grid)) as tick:
        for k, setting in enumerate(grid):
            # Fresh streams per setting: a simulator that spawns from its generator advances
            # the SeedSequence it came from, and every setting must see the same draws.
            for i, stream in enumerate(_streams(seed, n_sims)):
                data = simulate(np.random.default_rng(stream), **setting)
                for name, analysis in analyses.items():
                    rows.append({**setting, "sim": i, "analysis": name, **_analysis_row(analysis, data)})
                tick(k * n_sims + i + 1)
    out = pd.DataFrame(rows, columns=[*columns, *RESULT_COLUMNS])
    out.attrs["settings"] = {**dict(settings or {}), "n_sims": n_sims, "seed": seed}
    out.attrs["setting_columns"] = columns
    return out


def rates(results: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Rejection rate of every analysis at every setting: the one rates table.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`run_study`.
    alpha : float, default 0.05
        Significance level; ``p < alpha`` is a rejection.

    Returns
    -------
    pandas.DataFrame
        One row per setting and analysis (in the order of the study): the setting columns,
        then ``analysis, n_sims`` (experiments with a usable p-value), ``rejections``,
        ``rate``, ``ci_low``, ``ci_high`` (95% Wilson interval), ``n_missing``,
        ``median_estimate``, ``median_se``, ``median_df``, ``n_singular``, ``singular_rate``.
        ``attrs``: those of ``results`` plus ``alpha``.

    Examples
    --------
    >>> res = pd.DataFrame({"sim": [0, 1, 2], "analysis": "t", "estimate": 0.0, "se": 1.0, "df": 4.0,
    ...                     "p": [0.01, 0.5, float("nan")], "singular": False, "error": ["", "", "failed"]})
    >>> row = rates(res).iloc[0]
    >>> int(row["n_sims"]), int(row["rejections"]), float(row["rate"]), int(row["n_missing"])
    (2, 1, 0.5, 1)
    """
    if not isinstance(alpha, (int, float, np.number)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    missing = [c for c in RESULT_COLUMNS if c not in results.columns] if isinstance(results, pd.DataFrame) else []
    if not isinstance(results, pd.DataFrame) or missing:
        raise ValueError("rates needs the table of lmmedu.teach.studies.run_study"
                         + (f" (missing column(s) {missing})." if missing else "."))
    columns = list(results.attrs.get("setting_columns", [c for c in results.columns if c not in RESULT_COLUMNS]))
    keys = [*columns, "analysis"]
    rows = []
    for key, sub in results.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        usable = sub["p"].notna()
        n, k = int(usable.sum()), int((sub.loc[usable, "p"] < alpha).sum())
        low, high = binomial_ci(k, n)
        rows.append({
            **dict(zip(keys, key)), "n_sims": n, "rejections": k, "rate": k / n if n else math.nan,
            "ci_low": low, "ci_high": high, "n_missing": int((~usable).sum()),
            "median_estimate": float(sub["estimate"].median()), "median_se": float(sub["se"].median()),
            "median_df": float(sub["df"].median()), "n_singular": int(sub["singular"].sum()),
            "singular_rate": float(sub["singular"].mean()),
        })
    out = pd.DataFrame(rows, columns=[*columns, *RATE_COLUMNS])
    out.attrs.update(results.attrs)
    out.attrs["alpha"] = float(alpha)
    return out


def coefficient_test(formula: str, term: str) -> Callable[[pd.DataFrame], dict]:
    """The common analysis: fit ``formula`` and test ``term`` (Satterthwaite t for a mixed model).

    Parameters
    ----------
    formula : str
        lme4-style formula; with a random term it is fitted by :func:`lmmedu.fit`, else by
        :func:`lmmedu.fit_lm`.
    term : str
        Coefficient name (patsy naming, e.g. ``"treatment[T.drug]"``).

    Returns
    -------
    callable
        ``analysis(data) -> dict`` with ``estimate``, ``se``, ``df``, ``p``, ``singular``; an
        analysis for :func:`run_study`. A test with less than one denominator df is not
        usable (p about 1 whatever the data): it gets ``p`` = NaN and a reason.

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_replicates
    >>> test = coefficient_test("log(length) ~ treatment", "treatment[T.drug]")
    >>> sorted(test(simulate_replicates(genes=("A",), obs_per_replicate=10, seed=1)))
    ['df', 'estimate', 'p', 'se', 'singular']
    """
    mixed = "|" in formula

    def analysis(data: pd.DataFrame) -> dict:
        model = fit(formula, data) if mixed else fit_lm(formula, data)
        if term not in model.names:
            raise ValueError(f"the model has no coefficient {term!r}; its coefficients are {list(model.names)}.")
        c = model.coefs.loc[term]
        row = {"estimate": float(c["estimate"]), "se": float(c["se"]), "df": float(c["df"]), "p": float(c["p"]),
               "singular": bool(getattr(model, "singular", False))}
        if not (math.isfinite(row["df"]) and row["df"] >= 1):
            row["p"] = math.nan
            row["error"] = f"no usable test: {row['df']:.2g} denominator df"
        return row

    analysis.__name__ = f"test of {term} in {formula}"
    return analysis


def binomial_ci(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion.

    Parameters
    ----------
    successes, trials : int
        Number of rejections and of simulated experiments.
    level : float, default 0.95

    Returns
    -------
    (float, float)
        Lower and upper bound; ``(nan, nan)`` when ``trials`` is 0.

    Examples
    --------
    >>> low, high = binomial_ci(10, 200)
    >>> round(low, 3), round(high, 3)
    (0.027, 0.09)
    """
    if trials == 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials ({trials}), got {successes}.")
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=level, method="wilson")
    return (float(ci.low), float(ci.high))


# --------------------------------------------------------------------------------------
# Notebook 01: pseudo-replication
# --------------------------------------------------------------------------------------

#: The three analyses of the pseudo-replication study, in display order.
ANALYSES = ("naive lm", "t-test on replicate means", "mixed model")

_TERM = "treatment[T.drug]"
#: The mixed model of one gene that the replicate studies fit.
MIXED_FORMULA = "log(length) ~ treatment + (1|replicate)"
_DESIGNS = ("within", "between")
#: Settings of the pseudo-replication study that :func:`rate_curve` can vary.
_VARIABLE = ("n_replicates", "obs_per_replicate", "replicate_sd", "replicate_treatment_sd")


def _check_settings(n_replicates, obs_per_replicate, replicate_sd, design, residual_sd, replicate_treatment_sd=0.0):
    if design not in _DESIGNS:
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    _count("n_replicates", n_replicates, 2)
    _count(f"obs_per_replicate (in the {design} design)", obs_per_replicate, 2 if design == "within" else 1)
    for name, value in (("replicate_sd", replicate_sd), ("residual_sd", residual_sd),
                        ("replicate_treatment_sd", replicate_treatment_sd)):
        _sd(name, value)
    if residual_sd == 0:
        raise ValueError("residual_sd must be greater than 0, so that measurements within a replicate differ.")


def design_problem(n_replicates: int, design: str) -> str:
    """Explain why a design cannot support an honest test of the drug effect, or return "".

    Parameters
    ----------
    n_replicates : int
        Number of replicates.
    design : {"within", "between"}
        ``"between"`` alternates replicates between the arms (R1 control, R2 drug, ...).

    Returns
    -------
    str
        One sentence when the between-replicate comparison has no degrees of freedom left for
        the replicate-to-replicate variation, otherwise the empty string.

    Examples
    --------
    >>> design_problem(2, "between")[:29]
    'With 2 replicates, each arm h'
    >>> design_problem(4, "between")
    ''
    """
    if design == "between" and n_replicates < 3:
        return (
            f"With {n_replicates} replicates, each arm has a single replicate: nothing is left to "
            "estimate how much replicates differ, so no honest test of the drug exists (the naive lm "
            "still reports a p-value, which is the problem)."
        )
    return ""


def true_icc(replicate_sd: float, residual_sd: float = 0.5) -> float:
    """Intra-class correlation of the simulation: the share of variance between replicates.

    Parameters
    ----------
    replicate_sd, residual_sd : float
        SDs of the replicate intercepts and of the measurement-level error (log scale).

    Returns
    -------
    float
        ``replicate_sd**2 / (replicate_sd**2 + residual_sd**2)``.

    Examples
    --------
    >>> round(true_icc(0.2, 0.5), 3)
    0.138
    """
    between, within = float(replicate_sd) ** 2, float(residual_sd) ** 2
    if between + within == 0:
        raise ValueError("replicate_sd and residual_sd cannot both be 0; give at least one a positive value.")
    return between / (between + within)


def true_design_effect(replicate_sd: float, obs_per_replicate: int, residual_sd: float = 0.5) -> float:
    """Design effect ``1 + (m - 1) * ICC`` of a replicate-level comparison with ``m`` rows per replicate.

    It is the factor by which clustering inflates the variance of a mean (or of a comparison
    between whole replicates) relative to the same number of independent rows. It applies to
    the between design; in the within design the replicate intercepts cancel from the
    drug-minus-control difference.

    Examples
    --------
    >>> round(true_design_effect(0.2, 1000), 1)
    138.8
    """
    return 1.0 + (float(obs_per_replicate) - 1.0) * true_icc(replicate_sd, residual_sd)


def _replicate_level_problem(data: pd.DataFrame) -> str:
    """design_problem read off the data: one replicate per arm leaves nothing to test with."""
    per_arm = data.groupby("treatment", observed=True)["replicate"].nunique()
    if per_arm.min() < 2:
        return design_problem(int(data["replicate"].nunique()), "between")
    return ""


def _replicate_means_test(data: pd.DataFrame) -> dict:
    """t-test on per-replicate means of log(length): paired when every replicate has both arms."""
    problem = _replicate_level_problem(data)
    if problem:
        return {"df": 0.0, "error": problem}
    means = replicate_means(data, cells=("treatment",)).pivot(index="replicate", columns="treatment",
                                                                values="mean_log")
    if means.notna().all().all():  # within design: drug minus control inside each replicate
        diff = (means["drug"] - means["control"]).to_numpy()
        res, dof, estimate = stats.ttest_1samp(diff, 0.0), len(diff) - 1, float(diff.mean())
    else:
        control, drug = means["control"].dropna().to_numpy(), means["drug"].dropna().to_numpy()
        res, dof = stats.ttest_ind(drug, control), len(control) + len(drug) - 2
        estimate = float(drug.mean() - control.mean())
    p, t = float(res.pvalue), float(res.statistic)
    return {"estimate": estimate, "se": estimate / t if t else math.nan, "df": float(dof), "p": p,
            "error": "" if math.isfinite(p) else "too few replicates for a t-test"}


def _pseudoreplication_analyses() -> dict[str, Callable]:
    naive = coefficient_test("log(length) ~ treatment", _TERM)
    mixed = coefficient_test(MIXED_FORMULA, _TERM)

    def mixed_model(data):
        # One replicate per arm: a mixed model there is degenerate or singular (the naive lm
        # in disguise), so "not testable" is the honest record.
        problem = _replicate_level_problem(data)
        return {"df": 0.0, "error": problem} if problem else mixed(data)

    return dict(zip(ANALYSES, (naive, _replicate_means_test, mixed_model)))


def simulate_p_values(
    n_replicates: int = 4,
    obs_per_replicate: int = 100,
    replicate_sd: float = 0.2,
    design: str = "between",
    n_sims: int = 200,
    seed: int = 0,
    residual_sd: float = 0.5,
    replicate_treatment_sd: float = 0.0,
    progress: bool | Callable[[int, int], Any] = False,
    grid: Sequence[Mapping[str, Any]] | None = None,
    effect: float = 0.0,
) -> pd.DataFrame:
    """Simulate experiments and record each analysis's test of the drug effect (notebook 01).

    With ``effect=0`` (the default) the drug does nothing, so every rejection is a false
    positive; with ``effect != 0`` the share of rejections is the power.

    Parameters
    ----------
    n_replicates : int, default 4
        Replicates per experiment (at least 2). In the between design they alternate
        between the arms: R1 control, R2 drug, R3 control, ...
    obs_per_replicate : int, default 100
        Measurements per replicate (split half and half between the arms in the within design).
    replicate_sd : float, default 0.2
        SD of the replicate intercepts on the log scale.
    design : {"within", "between"}, default "between"
        Whether every replicate has both arms or each replicate is one arm.
    n_sims : int, default 200
        Number of simulated experiments (per setting of ``grid``).
    seed : int, default 0
        Seed of the whole study (see :func:`run_study`).
    residual_sd : float, default 0.5
        SD of the measurement-level error on the log scale.
    replicate_treatment_sd : float, default 0.0
        SD of the replicate-to-replicate variation of the drug effect (around ``effect``).
    progress : bool or callable, default False
        See :func:`progress_callback`.
    grid : list of dict, optional
        Values of ``n_replicates``, ``obs_per_replicate``, ``replicate_sd`` or
        ``replicate_treatment_sd`` that replace the fixed ones, one dict per setting (see
        :func:`rate_curve`).
    effect : float, default 0.0
        The true drug effect on log(length) (its mean over replicates).

    Returns
    -------
    pandas.DataFrame
        The :func:`run_study` table of the analyses in :data:`ANALYSES`. When a setting has
        one replicate per arm (:func:`design_problem`) only the naive lm is tested; the
        other two get ``p`` = NaN, ``df`` = 0 and the reason in ``error``.

    Examples
    --------
    >>> out = simulate_p_values(n_sims=2, obs_per_replicate=10)
    >>> out["analysis"].unique().tolist()
    ['naive lm', 't-test on replicate means', 'mixed model']
    """
    fixed = {"n_replicates": n_replicates, "obs_per_replicate": obs_per_replicate, "replicate_sd": replicate_sd,
             "replicate_treatment_sd": replicate_treatment_sd}
    effect = _finite("effect", effect)
    grid = [{}] if grid is None else [dict(g) for g in grid]
    for setting in grid:
        unknown = set(setting) - set(_VARIABLE)
        if unknown:
            raise ValueError(f"grid can vary only {list(_VARIABLE)}, got {sorted(unknown)}.")
        _check_settings(**{**fixed, **setting}, design=design, residual_sd=residual_sd)

    def simulate(rng, **setting):
        return simulate_replicates(genes=("A",), design=design, treatment_effects=effect, residual_sd=residual_sd,
                                   seed=rng, **{**fixed, **setting})

    varied = {k for g in grid for k in g}
    settings = {**{k: v for k, v in fixed.items() if k not in varied}, "design": design,
                "residual_sd": residual_sd, "effect": effect}
    return run_study(simulate, _pseudoreplication_analyses(), n_sims=n_sims, seed=seed, progress=progress,
                     grid=None if grid == [{}] else grid, settings=settings)


def false_positive_rates(
    n_replicates: int = 4,
    obs_per_replicate: int = 100,
    replicate_sd: float = 0.2,
    design: str = "between",
    n_sims: int = 200,
    seed: int = 0,
    progress: bool | Callable[[int, int], Any] = False,
    *,
    residual_sd: float = 0.5,
    replicate_treatment_sd: float = 0.0,
    alpha: float = 0.05,
    effect: float = 0.0,
) -> pd.DataFrame:
    """False-positive rate of the naive lm, the t-test on replicate means and the mixed model.

    With a true ``effect`` other than 0 the same table holds each analysis's power instead.

    Parameters
    ----------
    n_replicates, obs_per_replicate, replicate_sd, design, n_sims, seed, progress,
    residual_sd, replicate_treatment_sd, effect
        As in :func:`simulate_p_values`.
    alpha : float, default 0.05
        Significance level.

    Returns
    -------
    pandas.DataFrame
        The :func:`rates` table, one row per analysis in :data:`ANALYSES` order;
        ``attrs["problem"]`` is the sentence of :func:`design_problem` (or "").

    Examples
    --------
    >>> table = false_positive_rates(n_sims=20, obs_per_replicate=20, seed=1)
    >>> table["analysis"].tolist()
    ['naive lm', 't-test on replicate means', 'mixed model']
    """
    if not isinstance(alpha, (int, float, np.number)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    out = rates(simulate_p_values(n_replicates=n_replicates, obs_per_replicate=obs_per_replicate,
                                  replicate_sd=replicate_sd, design=design, n_sims=n_sims, seed=seed,
                                  residual_sd=residual_sd, replicate_treatment_sd=replicate_treatment_sd,
                                  progress=progress, effect=effect), alpha=alpha)
    out.attrs["problem"] = design_problem(n_replicates, design)
    return out


def rate_curve(vary: str, values, *, progress: bool | Callable[[int, int], Any] = False, alpha: float = 0.05,
               **settings: Any) -> pd.DataFrame:
    """False-positive rates of every analysis as one setting changes and the others stay fixed.

    Parameters
    ----------
    vary : {"n_replicates", "obs_per_replicate", "replicate_sd", "replicate_treatment_sd"}
        The setting to change.
    values : sequence
        Its values, in the order to run them.
    progress : bool or callable, default False
        As in :func:`simulate_p_values`, counting the experiments of all values together.
    alpha : float, default 0.05
    **settings
        Other keyword arguments of :func:`simulate_p_values` (``design``, ``n_sims``, ``seed``...).
        Every value sees the same simulated draws, so the curves differ only by the setting.

    Returns
    -------
    pandas.DataFrame
        The :func:`rates` table with ``vary`` as its setting column.

    Examples
    --------
    >>> curve = rate_curve("obs_per_replicate", [5, 10], n_sims=3)
    >>> curve["obs_per_replicate"].tolist()
    [5, 5, 5, 10, 10, 10]
    """
    if vary not in _VARIABLE:
        raise ValueError(f"vary must be one of {list(_VARIABLE)}, got {vary!r}.")
    if vary in settings:
        raise ValueError(f"{vary} is the setting being varied; give its values in values, not as a keyword.")
    values = list(values)
    if not values:
        raise ValueError("values must hold at least one value of the setting to vary.")
    if "grid" in settings:
        raise ValueError("rate_curve builds the grid from vary and values; do not pass grid.")
    results = simulate_p_values(**settings, grid=[{vary: v} for v in values], progress=progress)
    return rates(results, alpha=alpha)


# --------------------------------------------------------------------------------------
# Notebook 04: random slopes
# --------------------------------------------------------------------------------------

#: Random-effects structures compared by :func:`random_slope_rates`, label -> formula.
SLOPE_STUDY_MODELS = {
    "(1|replicate)": "log(length) ~ treatment*gene + (1|replicate)",
    "(1+treatment|replicate)": "log(length) ~ treatment*gene + (1+treatment|replicate)",
}


def random_slope_p_values(n_sims: int = 50, n_replicates: int = 4, obs_per_replicate: int = 200,
                          replicate_sd: float = 0.2, replicate_treatment_sd: float = 0.15,
                          residual_sd: float = 0.5, seed: int = 0,
                          progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """Test the drug effect with and without a random slope in experiments without one (notebook 04).

    Every simulated experiment has **no true drug effect** in any gene, but the drug effect of
    each replicate deviates from 0 by ``N(0, replicate_treatment_sd**2)``. Both models of
    :data:`SLOPE_STUDY_MODELS` are fitted and the drug effect of the reference gene
    (``treatment[T.drug]``) is tested (Satterthwaite t-test). Without the random slope the
    model treats thousands of measurements as independent evidence about the drug effect,
    although only ``n_replicates`` replicates carry it.

    Parameters
    ----------
    n_sims : int, default 50
    n_replicates : int, default 4
    obs_per_replicate : int, default 200
        Measurements per gene in each replicate (split between the arms); smaller than the
        shipped data to keep the run quick.
    replicate_sd, replicate_treatment_sd, residual_sd : float
        SDs of the replicate intercepts, of the replicate drug effects and of the measurements.
    seed : int, default 0
    progress : bool or callable, default False
        See :func:`progress_callback`.

    Returns
    -------
    pandas.DataFrame
        The :func:`run_study` table, analyses named as in :data:`SLOPE_STUDY_MODELS`.

    Examples
    --------
    >>> out = random_slope_p_values(n_sims=2, obs_per_replicate=20)
    >>> out["analysis"].unique().tolist()
    ['(1|replicate)', '(1+treatment|replicate)']
    """
    settings = dict(n_replicates=_count("n_replicates", n_replicates, 3),
                    obs_per_replicate=_count("obs_per_replicate", obs_per_replicate, 2),
                    replicate_sd=_sd("replicate_sd", replicate_sd),
                    replicate_treatment_sd=_sd("replicate_treatment_sd", replicate_treatment_sd),
                    residual_sd=_sd("residual_sd", residual_sd))
    if settings["residual_sd"] == 0:
        raise ValueError("residual_sd must be greater than 0, so that measurements within a replicate differ.")

    def simulate(rng):
        return simulate_replicates(treatment_effects=0.0, seed=rng, **settings)

    analyses = {label: coefficient_test(formula, _TERM) for label, formula in SLOPE_STUDY_MODELS.items()}
    return run_study(simulate, analyses, n_sims=n_sims, seed=seed, progress=progress, settings=settings)


def random_slope_rates(n_sims: int = 50, alpha: float = 0.05, progress: bool | Callable[[int, int], Any] = False,
                       **settings: Any) -> pd.DataFrame:
    """False-positive rate of the drug effect with and without a random slope.

    Parameters
    ----------
    n_sims : int, default 50
    alpha : float, default 0.05
    progress : bool or callable, default False
    **settings
        Other arguments of :func:`random_slope_p_values`.

    Returns
    -------
    pandas.DataFrame
        The :func:`rates` table, one row per model of :data:`SLOPE_STUDY_MODELS`.

    Examples
    --------
    >>> random_slope_rates(n_sims=3, obs_per_replicate=20)["analysis"].tolist()
    ['(1|replicate)', '(1+treatment|replicate)']
    """
    _finite("alpha", alpha)
    return rates(random_slope_p_values(n_sims=n_sims, progress=progress, **settings), alpha=alpha)


def singular_split(results: pd.DataFrame, analysis: str = "(1+treatment|replicate)", alpha: float = 0.05
                   ) -> pd.DataFrame:
    """False-positive rate of one analysis, separately for its singular and its non-singular fits.

    A singular random-slope fit sits at the edge of its parameter space: the slope variance
    estimated at (or next to) zero, so that its standard error of the drug effect falls back to
    the random-intercept model's, or the slope-intercept correlation at +-1, which forces every
    replicate's drug deviation to follow its level. Either tends to understate how much the drug
    effect varies, so singular fits usually reject more often than the fits that did not hit the edge.

    Parameters
    ----------
    results : pandas.DataFrame
        A :func:`run_study` table with a ``singular`` column (e.g. :func:`random_slope_p_values`).
    analysis : str, default "(1+treatment|replicate)"
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        The :func:`rates` table with the setting column ``fit`` (``"singular"``,
        ``"not singular"``, in that order; a kind without fits is left out) plus the
        setting columns of ``results``.

    Examples
    --------
    >>> res = pd.DataFrame({"sim": range(4), "analysis": "m", "estimate": 0.0, "se": 1.0, "df": 3.0,
    ...                     "p": [0.01, 0.02, 0.5, 0.01], "singular": [True, True, False, False], "error": ""})
    >>> singular_split(res, "m")[["fit", "n_sims", "rejections"]].values.tolist()
    [['singular', 2, 2], ['not singular', 2, 1]]
    """
    if not isinstance(results, pd.DataFrame) or "singular" not in results.columns:
        raise ValueError("singular_split needs the table of lmmedu.teach.studies.run_study.")
    sub = results[results["analysis"] == analysis]
    if sub.empty:
        raise ValueError(f"analysis must be one of {results['analysis'].unique().tolist()}, got {analysis!r}.")
    columns = list(results.attrs.get("setting_columns", []))
    sub = sub.assign(fit=np.where(sub["singular"].astype(bool), "singular", "not singular"))
    sub = pd.concat([sub[sub["fit"] == "singular"], sub[sub["fit"] == "not singular"]])
    sub.attrs = {**results.attrs, "setting_columns": ["fit", *columns]}
    return rates(sub[["fit", *columns, *RESULT_COLUMNS]], alpha=alpha)
