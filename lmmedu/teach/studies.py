"""Simulation studies: how often does each analysis find an effect that is not there?

The one experiment runner (:func:`run_study`), the one rates table (:func:`rates`) and the
one progress helper (:func:`progress_callback`) of the contract in :mod:`lmmedu.teach`, and
the studies of the notebooks built on them. Every study simulates experiments with **no true
drug effect**, so every rejection is a false positive and a correct test rejects in about
``alpha`` of them; the Wilson interval of each rate says how far chance alone can take it.

- Notebook 01, pseudo-replication (:func:`simulate_p_values`, :func:`false_positive_rates`,
  :func:`rate_curve`): one gene, three analyses of :data:`ANALYSES` -- ``"naive lm"``
  (``log(length) ~ treatment`` on every measurement, as if each were independent),
  ``"t-test on replicate means"`` (independent samples in the between design, paired in the
  within design) and ``"mixed model"`` (``log(length) ~ treatment + (1|replicate)``,
  Satterthwaite df).
- Notebook 04, random slopes (:func:`random_slope_p_values`, :func:`random_slope_rates`): the
  drug effect varies between replicates; the models of :data:`SLOPE_STUDY_MODELS` with and
  without a random slope test the drug effect of the reference gene.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..data.simulate import _count, _finite, _sd, simulate_replicates
from ..stats.fit import fit, fit_lm
from .cells import replicate_means

__all__ = [
    "progress_callback",
    "run_study",
    "rates",
    "coefficient_test",
    "binomial_ci",
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
        False: silent. True: a tqdm bar of ``total`` steps. A callable: called as
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
    if progress is False or progress is None:
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
_VARIABLE = ("n_replicates", "obs_per_replicate", "replicate_sd")


def _check_settings(n_replicates, obs_per_replicate, replicate_sd, design, residual_sd, replicate_treatment_sd):
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
) -> pd.DataFrame:
    """Simulate experiments without a drug effect and record each analysis's test (notebook 01).

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
        SD of the replicate-to-replicate variation of the drug effect (its mean stays 0).
    progress : bool or callable, default False
        See :func:`progress_callback`.
    grid : list of dict, optional
        Values of ``n_replicates``, ``obs_per_replicate`` or ``replicate_sd`` that replace
        the fixed ones, one dict per setting (see :func:`rate_curve`).

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
    fixed = {"n_replicates": n_replicates, "obs_per_replicate": obs_per_replicate, "replicate_sd": replicate_sd}
    grid = [{}] if grid is None else [dict(g) for g in grid]
    for setting in grid:
        unknown = set(setting) - set(_VARIABLE)
        if unknown:
            raise ValueError(f"grid can vary only {list(_VARIABLE)}, got {sorted(unknown)}.")
        _check_settings(**{**fixed, **setting}, design=design, residual_sd=residual_sd,
                        replicate_treatment_sd=replicate_treatment_sd)

    def simulate(rng, **setting):
        return simulate_replicates(genes=("A",), design=design, treatment_effects=0.0, residual_sd=residual_sd,
                                   replicate_treatment_sd=replicate_treatment_sd, seed=rng, **{**fixed, **setting})

    varied = {k for g in grid for k in g}
    settings = {**{k: v for k, v in fixed.items() if k not in varied}, "design": design,
                "residual_sd": residual_sd, "replicate_treatment_sd": replicate_treatment_sd}
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
) -> pd.DataFrame:
    """False-positive rate of the naive lm, the t-test on replicate means and the mixed model.

    Parameters
    ----------
    n_replicates, obs_per_replicate, replicate_sd, design, n_sims, seed, progress,
    residual_sd, replicate_treatment_sd
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
                                  progress=progress), alpha=alpha)
    out.attrs["problem"] = design_problem(n_replicates, design)
    return out


def rate_curve(vary: str, values, *, progress: bool | Callable[[int, int], Any] = False, alpha: float = 0.05,
               **settings: Any) -> pd.DataFrame:
    """False-positive rates of every analysis as one setting changes and the others stay fixed.

    Parameters
    ----------
    vary : {"n_replicates", "obs_per_replicate", "replicate_sd"}
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


# --- notebook 06: shrinkage and random slopes ---
__all__ += ["SLOPE_FORMULA", "replicate_sizes", "simulate_pooling", "pooling_errors", "shrinkage_error_study",
            "shrinkage_error_summary", "estimated_slope_sd", "singular_fit_study", "singular_summary"]

#: The one-gene random-slope model of notebook 06 (R: ``lmer(log(length) ~ treatment + (1 + treatment | replicate))``).
SLOPE_FORMULA = "log(length) ~ treatment + (1 + treatment|replicate)"
_SPARSE_POSITION = 2  # the sparse replicate is R3: not first, so the learner has to look for it


def replicate_sizes(n_replicates: int = 10, cells: int = 40, sparse_cells: int | None = 4) -> tuple[int, ...]:
    """Cells per replicate of the pooling example: unequal sizes around ``cells``, one sparse replicate.

    Sizes run from 0.6 to 1.4 times ``cells`` in a fixed shuffled order; replicate R3 (if
    there are at least 3) gets ``sparse_cells`` (half control, half drug).

    Examples
    --------
    >>> replicate_sizes(5, 40)
    (40, 24, 4, 32, 48)
    """
    if not isinstance(n_replicates, (int, np.integer)) or isinstance(n_replicates, bool) or n_replicates < 2:
        raise ValueError(f"n_replicates must be an integer of at least 2, got {n_replicates!r}.")
    if not isinstance(cells, (int, np.integer)) or isinstance(cells, bool) or cells < 4:
        raise ValueError(f"cells must be an integer of at least 4 (two per arm), got {cells!r}.")
    sizes = np.round(np.linspace(0.6, 1.4, int(n_replicates)) * cells).astype(int)
    sizes = np.maximum(sizes[np.random.default_rng(7).permutation(int(n_replicates))], 4)
    if sparse_cells is not None and n_replicates > _SPARSE_POSITION:
        if not isinstance(sparse_cells, (int, np.integer)) or sparse_cells < 2:
            raise ValueError(f"sparse_cells must be an integer of at least 2 (one per arm), got {sparse_cells!r}.")
        sizes[_SPARSE_POSITION] = int(sparse_cells)
    return tuple(int(s) for s in sizes)


def simulate_pooling(rng=0, n_replicates: int = 10, cells: int = 40, slope_sd: float = 0.15,
                     replicate_sd: float = 0.2, residual_sd: float = 0.5, drug_effect: float = 0.22,
                     sparse_cells: int | None = 4) -> pd.DataFrame:
    """One gene in many replicates of unequal size, the drug effect varying between replicates.

    A thin wrapper of :func:`lmmedu.simulate_replicates` (within design, one gene) with the
    sizes of :func:`replicate_sizes`: the data of the pooling pictures and studies.

    Parameters
    ----------
    rng : int or numpy.random.Generator, default 0
        Seed or generator.
    n_replicates, cells, sparse_cells
        As in :func:`replicate_sizes`.
    slope_sd : float, default 0.15
        SD of the replicates' drug effects around ``drug_effect`` (log scale).
    replicate_sd, residual_sd : float
        SDs of the replicate intercepts and of single cells (log scale).
    drug_effect : float, default 0.22
        Population drug effect on log(length).

    Returns
    -------
    pandas.DataFrame
        As :func:`lmmedu.simulate_replicates`, truth in ``attrs["truth"]``.

    Examples
    --------
    >>> simulate_pooling(n_replicates=4).groupby("replicate", observed=True).size().tolist()
    [24, 45, 4, 56]
    """
    return simulate_replicates(genes=("A",), n_replicates=n_replicates,
                               obs_per_replicate=replicate_sizes(n_replicates, cells, sparse_cells),
                               treatment_effects=drug_effect, replicate_sd=replicate_sd,
                               replicate_treatment_sd=slope_sd, residual_sd=residual_sd, seed=rng)


def pooling_errors(data: pd.DataFrame, formula: str = SLOPE_FORMULA) -> pd.DataFrame:
    """Error of every group's coefficients under complete, no and partial pooling, against the truth.

    Returns
    -------
    pandas.DataFrame
        One row per replicate, term and method: ``replicate``, ``n_obs``, ``term``, ``method``,
        ``estimate``, ``truth``, ``error`` (estimate minus truth); ``attrs["singular"]``.

    Examples
    --------
    >>> errors = pooling_errors(simulate_pooling(n_replicates=4))
    >>> errors["method"].unique().tolist()
    ['complete pooling', 'no pooling', 'partial pooling']
    """
    from ..data.simulate import truth as _truth
    from .comparison import POOLING_METHODS, pooling_table, true_group_coefficients

    model = fit(formula, data)
    table = pooling_table(model, truth=true_group_coefficients(_truth(data)))
    group = table.attrs["group"]
    long = table.melt(id_vars=[group, "n_obs", "term", "truth"], value_vars=list(POOLING_METHODS),
                      var_name="method", value_name="estimate")
    long["error"] = long["estimate"] - long["truth"]
    out = long[[group, "n_obs", "term", "method", "estimate", "truth", "error"]]
    out.attrs["singular"] = bool(model.singular)
    return out


def shrinkage_error_study(n_sims: int = 30, seed: int = 6, progress: bool | Callable[[int, int], Any] = False,
                          **setting: Any) -> pd.DataFrame:
    """Simulate many experiments and record every group estimate's error under the three poolings.

    Follows the study contract (progress, one child of ``SeedSequence(seed)`` per experiment,
    a tidy table) but is not a rejection-rate study, so it returns errors, not p-values.

    Parameters
    ----------
    n_sims : int, default 30
        Simulated experiments.
    seed : int, default 6
    progress : bool or callable, default False
        See :func:`progress_callback`.
    **setting
        Keyword arguments of :func:`simulate_pooling` (``n_replicates``, ``cells``, ``slope_sd``...).

    Returns
    -------
    pandas.DataFrame
        Columns ``sim``, ``singular``, then those of :func:`pooling_errors`;
        ``attrs["settings"]``.

    Examples
    --------
    >>> out = shrinkage_error_study(n_sims=2, n_replicates=4)
    >>> sorted(out["sim"].unique().tolist())
    [0, 1]
    """
    n_sims = _check_n_sims(n_sims)
    unknown = set(setting) - {"n_replicates", "cells", "slope_sd", "replicate_sd", "residual_sd", "drug_effect",
                              "sparse_cells"}
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; use arguments of simulate_pooling.")
    frames = []
    with progress_callback(progress, n_sims) as tick:
        for i, stream in enumerate(_streams(seed, n_sims)):
            data = simulate_pooling(np.random.default_rng(stream), **setting)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                errors = pooling_errors(data)
            frames.append(errors.assign(sim=i, singular=errors.attrs["singular"]))
            tick(i + 1)
    out = pd.concat(frames, ignore_index=True)
    out = out[["sim", "singular", *[c for c in out.columns if c not in ("sim", "singular")]]]
    out.attrs["settings"] = {**setting, "n_sims": n_sims, "seed": seed}
    return out


def shrinkage_error_summary(errors: pd.DataFrame) -> pd.DataFrame:
    """Total squared error of each pooling method, per term, over all groups and experiments.

    Returns
    -------
    pandas.DataFrame
        One row per term and method: ``term``, ``method``, ``mean_bias`` (average error),
        ``rmse`` (root mean squared error over groups and experiments), ``total_sq_error``
        (sum of squared errors over the groups of one experiment, averaged over experiments)
        and ``wins`` (share of experiments in which this method had the smallest total squared
        error for that term).

    Examples
    --------
    >>> s = shrinkage_error_summary(shrinkage_error_study(n_sims=2, n_replicates=4))
    >>> s.columns.tolist()
    ['term', 'method', 'mean_bias', 'rmse', 'total_sq_error', 'wins']
    """
    need = {"sim", "term", "method", "error"}
    if not isinstance(errors, pd.DataFrame) or not need <= set(errors.columns):
        raise ValueError("shrinkage_error_summary needs the table of shrinkage_error_study.")
    e = errors.dropna(subset=["error"])
    per_sim = (e.assign(sq=e["error"] ** 2).groupby(["term", "method", "sim"], sort=False)["sq"].sum()
               .reset_index())
    per_sim["best"] = per_sim.groupby(["term", "sim"])["sq"].transform("min")
    rows = []
    for (term, method), sub in e.groupby(["term", "method"], sort=False):
        sims = per_sim[(per_sim["term"] == term) & (per_sim["method"] == method)]
        rows.append({"term": term, "method": method, "mean_bias": float(sub["error"].mean()),
                     "rmse": float(np.sqrt((sub["error"] ** 2).mean())), "total_sq_error": float(sims["sq"].mean()),
                     "wins": float((sims["sq"] == sims["best"]).mean())})
    return pd.DataFrame(rows)


def estimated_slope_sd(model, term: str = "treatment[T.drug]") -> float:
    """Estimated SD of the random slope ``term`` of a fitted mixed model (0 at a singular fit).

    Examples
    --------
    >>> m = fit(SLOPE_FORMULA, simulate_pooling(slope_sd=0.0))
    >>> estimated_slope_sd(m) >= 0
    True
    """
    vc = model.varcomp
    sd = vc.loc[(vc["term"] == term) & vc["term2"].isna(), "sd"]
    if sd.empty:
        raise ValueError(f"the model has no random slope of {term!r}; its random terms are "
                         f"{vc['term'].dropna().unique().tolist()}.")
    return float(sd.iloc[0])


def singular_fit_study(slope_sds: Sequence[float] = (0.0, 0.1, 0.2), n_sims: int = 12, seed: int = 11,
                       progress: bool | Callable[[int, int], Any] = False, **setting: Any) -> pd.DataFrame:
    """Fit the random-slope model to experiments with a known slope SD: how often is it singular?

    Every experiment is drawn with :func:`simulate_pooling` at each true slope SD (the same
    random draws at every SD, as in :func:`run_study`) and fitted with :data:`SLOPE_FORMULA`.

    Parameters
    ----------
    slope_sds : sequence of float
        True SDs of the replicates' drug effects (log scale).
    n_sims : int, default 12
    seed : int, default 11
    progress : bool or callable
    **setting
        Other keyword arguments of :func:`simulate_pooling`.

    Returns
    -------
    pandas.DataFrame
        One row per true SD and experiment: ``slope_sd``, ``sim``, ``estimated_sd``,
        ``correlation`` (intercept-slope), ``converged``, ``singular``, ``boundary`` (which
        edge a singular fit is on: ``"slope SD 0"``, ``"intercept SD 0"`` or
        ``"correlation +-1"``; "" for a regular fit), ``error``.

    Examples
    --------
    >>> singular_fit_study([0.0], n_sims=2, n_replicates=4)[["slope_sd", "sim"]].values.tolist()
    [[0.0, 0.0], [0.0, 1.0]]
    """
    n_sims = _check_n_sims(n_sims)
    slope_sds = [float(s) for s in slope_sds]
    if not slope_sds or any(not math.isfinite(s) or s < 0 for s in slope_sds):
        raise ValueError(f"slope_sds must be a non-empty list of SDs >= 0, got {slope_sds!r}.")
    rows = []
    with progress_callback(progress, n_sims * len(slope_sds)) as tick:
        for k, sd in enumerate(slope_sds):
            # Fresh streams at every SD: simulating advances a stream, and each SD must see the same draws.
            for i, stream in enumerate(_streams(seed, n_sims)):
                data = simulate_pooling(np.random.default_rng(stream), slope_sd=sd, **setting)
                row = {"slope_sd": sd, "sim": i, "estimated_sd": math.nan, "correlation": math.nan,
                       "converged": False, "singular": False, "boundary": "", "error": ""}
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = fit(SLOPE_FORMULA, data)
                    vc = model.varcomp
                    corr = vc.loc[vc["term2"].notna(), "corr"]
                    row.update(estimated_sd=estimated_slope_sd(model),
                               correlation=float(corr.iloc[0]) if len(corr) else math.nan,
                               converged=bool(model.converged), singular=bool(model.singular))
                    row["boundary"] = _boundary_kind(model, row["correlation"])
                except Exception as exc:  # record and go on, as run_study does
                    row["error"] = str(exc) or type(exc).__name__
                rows.append(row)
                tick(k * n_sims + i + 1)
    out = pd.DataFrame(rows)
    out.attrs["settings"] = {**setting, "n_sims": n_sims, "seed": seed}
    return out


def _boundary_kind(model, correlation: float) -> str:
    if not model.singular:
        return ""
    vc = model.varcomp
    sds = vc[vc["term2"].isna() & (vc["group"] != "Residual")].set_index("term")["sd"]
    tiny = 1e-4 * model.sigma  # lme4's isSingular tolerance on the relative scale
    for term, label in (("treatment[T.drug]", "slope SD 0"), ("Intercept", "intercept SD 0")):
        if term in sds and sds[term] < tiny:
            return label
    return "correlation +-1" if math.isfinite(correlation) and abs(correlation) > 0.99 else "other"


def singular_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per true slope SD: share of fits that converged, share singular, median estimated SD.

    Examples
    --------
    >>> singular_summary(singular_fit_study([0.0], n_sims=2, n_replicates=4)).columns.tolist()
    ['slope_sd', 'n_fits', 'converged_rate', 'singular_rate', 'median_estimated_sd']
    """
    need = {"slope_sd", "estimated_sd", "converged", "singular"}
    if not isinstance(results, pd.DataFrame) or not need <= set(results.columns):
        raise ValueError("singular_summary needs the table of singular_fit_study.")
    g = results.groupby("slope_sd", sort=False)
    return pd.DataFrame({
        "n_fits": g.size(), "converged_rate": g["converged"].mean(), "singular_rate": g["singular"].mean(),
        "median_estimated_sd": g["estimated_sd"].median(),
    }).reset_index()


# --- notebook 07: p-values and model comparison ---
#
# Three studies on simulated replicate experiments: Wald z against t with Satterthwaite df as
# the number of replicates varies, and choosing the random slope by a likelihood-ratio test
# before testing the drug.  They reuse run_study and rates; the coverage of the confidence
# intervals is summarised from the same results table (estimate, se and df are in it).

__all__ += ["icc_to_replicate_sd", "simulate_groups", "wald_and_t_tests", "wald_vs_t_study", "coverage",
            "rates_and_coverage", "SELECTION_ANALYSES", "selection_analyses", "selection_study"]

#: Names of the two tests of :func:`wald_and_t_tests`, as they appear in the rates table.
WALD_Z = "Wald z (statsmodels)"
SATTERTHWAITE_T = "t, Satterthwaite df (lmerTest)"
__all__ += ["WALD_Z", "SATTERTHWAITE_T"]

#: Analyses of :func:`selection_study`, in display order.
SELECTION_ANALYSES = ("random intercept only", "random slope always", "slope kept if LRT p < 0.05",
                      "LRT of the random slope")
_GROUP_RESIDUAL_SD = 0.5


def icc_to_replicate_sd(icc: float, residual_sd: float = _GROUP_RESIDUAL_SD) -> float:
    """Replicate SD that gives intra-class correlation ``icc`` with the given residual SD.

    The inverse of :func:`true_icc`: ``sd**2 / (sd**2 + residual_sd**2) = icc``.

    Examples
    --------
    >>> round(true_icc(icc_to_replicate_sd(0.2)), 6)
    0.2
    """
    if not isinstance(icc, (int, float, np.number)) or isinstance(icc, bool) or not 0 <= icc < 1:
        raise ValueError(f"icc must be a number from 0 up to (not including) 1, got {icc!r}.")
    return float(residual_sd) * math.sqrt(icc / (1.0 - icc))


def simulate_groups(rng: np.random.Generator, n_groups: int = 6, group_size: int = 20, icc: float = 0.2,
                    design: str = "between", effect: float = 0.0, slope_sd: float = 0.0) -> pd.DataFrame:
    """One replicate experiment for a study: a single gene, ``n_groups`` replicates of ``group_size`` cells.

    A thin wrapper of :func:`lmmedu.data.simulate.simulate_replicates` that speaks in the
    quantities of a design (number of groups, group size, ICC) rather than in SDs; the residual
    SD is 0.5 on the log scale.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_groups : int, default 6
        Replicates (at least 2). In the between design they alternate control, drug, ...
    group_size : int, default 20
        Measurements per replicate (split between the arms in the within design).
    icc : float, default 0.2
        Share of the variance between replicate intercepts, from 0 to below 1.
    design : {"between", "within"}, default "between"
    effect : float, default 0.0
        True drug effect on log(length).
    slope_sd : float, default 0.0
        SD of the replicate-to-replicate variation of the drug effect.

    Returns
    -------
    pandas.DataFrame
        As :func:`~lmmedu.data.simulate.simulate_replicates`, with its truth in ``attrs``.

    Examples
    --------
    >>> df = simulate_groups(np.random.default_rng(1), n_groups=4, group_size=5)
    >>> df.groupby("replicate", observed=True).size().tolist()
    [5, 5, 5, 5]
    """
    return simulate_replicates(genes=("A",), n_replicates=n_groups, obs_per_replicate=group_size, design=design,
                               treatment_effects=float(effect), replicate_sd=icc_to_replicate_sd(icc),
                               replicate_treatment_sd=slope_sd, residual_sd=_GROUP_RESIDUAL_SD, seed=rng)


class _OneFit:
    """Fit a formula once per data set, however many analyses read the fit."""

    def __init__(self, formula: str, reml: bool = True):
        self.formula, self.reml = formula, reml
        self._data, self._fit, self._error = None, None, None

    def __call__(self, data: pd.DataFrame):
        if self._data is not data:  # run_study hands every analysis the same object
            self._data, self._fit, self._error = data, None, None
            try:
                self._fit = fit(self.formula, data, reml=self.reml)
            except Exception as exc:  # every analysis reading this fit reports the same error
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._fit


def _t_row(model, term: str) -> dict:
    c = model.coefs.loc[term]
    row = {"estimate": float(c["estimate"]), "se": float(c["se"]), "df": float(c["df"]), "p": float(c["p"]),
           "singular": bool(model.singular)}
    if not (math.isfinite(row["df"]) and row["df"] >= 1):
        row["p"] = math.nan
        row["error"] = f"no usable test: {row['df']:.2g} denominator df"
    return row


def wald_and_t_tests(formula: str = "log(length) ~ treatment + (1|replicate)", term: str = "treatment[T.drug]"
                     ) -> dict[str, Callable[[pd.DataFrame], dict]]:
    """Two analyses of one mixed-model fit: the Wald z test and the t test with Satterthwaite df.

    Both use the same estimate and the same REML standard error; they differ only in the
    reference distribution. The z test (what statsmodels' ``MixedLM`` reports) compares
    estimate / SE with the normal distribution, as if the variances were known; the t test (what
    lmerTest reports) uses a t distribution with Satterthwaite degrees of freedom. The model is
    fitted once per data set and read by both.

    Parameters
    ----------
    formula : str
        A mixed-model formula (lme4 syntax).
    term : str
        The coefficient to test against 0.

    Returns
    -------
    dict
        ``{WALD_Z: analysis, SATTERTHWAITE_T: analysis}`` for :func:`run_study`. The z analysis
        reports ``df = inf``; the t analysis gives no p-value below one denominator df.

    Examples
    --------
    >>> tests = wald_and_t_tests()
    >>> data = simulate_groups(np.random.default_rng(3), n_groups=4)
    >>> z, t = (tests[name](data) for name in (WALD_Z, SATTERTHWAITE_T))
    >>> z["estimate"] == t["estimate"], z["p"] < t["p"]
    (True, True)
    """
    one_fit = _OneFit(formula)

    def wald_z(data: pd.DataFrame) -> dict:
        model = one_fit(data)
        c = model.coefs.loc[term]
        z = float(c["estimate"]) / float(c["se"])
        return {"estimate": float(c["estimate"]), "se": float(c["se"]), "df": math.inf,
                "p": float(2.0 * stats.norm.sf(abs(z))), "singular": bool(model.singular)}

    def t_test(data: pd.DataFrame) -> dict:
        return _t_row(one_fit(data), term)

    return {WALD_Z: wald_z, SATTERTHWAITE_T: t_test}


def _grid(**axes: Any) -> list[dict[str, Any]]:
    """Every combination of the settings; a scalar is a one-value axis."""
    import itertools

    names, values = [], []
    for name, value in axes.items():
        seq = list(value) if isinstance(value, (list, tuple, np.ndarray, range)) else [value]
        if not seq:
            raise ValueError(f"{name} must hold at least one value.")
        names.append(name)
        values.append(seq)
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def _check_design_settings(grid: Sequence[Mapping[str, Any]], min_groups: int = 2, min_size: int = 1) -> None:
    for g in grid:
        n, m = g.get("n_groups", min_groups), g.get("group_size", min_size)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < min_groups:
            raise ValueError(f"n_groups must be whole numbers of at least {min_groups}, got {n!r}.")
        if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < min_size:
            raise ValueError(f"group_size must be whole numbers of at least {min_size}, got {m!r}.")
        icc_to_replicate_sd(g.get("icc", 0.0))


def wald_vs_t_study(n_groups: int | Sequence[int] = (4, 6, 10, 20), group_size: int | Sequence[int] = 20,
                    icc: float | Sequence[float] = 0.2, n_sims: int = 100, seed: int = 7,
                    progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """Wald z against Satterthwaite t for a drug given to whole replicates, with no true effect.

    Each simulated experiment (:func:`simulate_groups`, between design, drug effect 0) is
    fitted once with ``log(length) ~ treatment + (1|replicate)`` and tested both ways
    (:func:`wald_and_t_tests`). Every rejection is a false positive, and every confidence
    interval that misses 0 misses the truth.

    Parameters
    ----------
    n_groups, group_size, icc : number or sequence
        Settings of :func:`simulate_groups`; every combination is run.
    n_sims : int, default 100
        Experiments per setting (the same random draws at every setting).
    seed : int, default 7
    progress : bool or callable, default False
        See :func:`progress_callback`.

    Returns
    -------
    pandas.DataFrame
        The :func:`run_study` table (``attrs["settings"]`` also holds ``truth = 0.0`` and the
        design); summarise it with :func:`rates_and_coverage`.

    Examples
    --------
    >>> out = wald_vs_t_study(n_groups=4, group_size=5, n_sims=3)
    >>> sorted(out["analysis"].unique()) == sorted([WALD_Z, SATTERTHWAITE_T])
    True
    """
    grid = _grid(n_groups=n_groups, group_size=group_size, icc=icc)
    _check_design_settings(grid)
    n_sims = _check_n_sims(n_sims)

    def simulate(rng, n_groups, group_size, icc):
        return simulate_groups(rng, n_groups=n_groups, group_size=group_size, icc=icc, design="between")

    return run_study(simulate, wald_and_t_tests(), n_sims=n_sims, seed=seed, progress=progress, grid=grid,
                     settings={"design": "between", "truth": 0.0,
                               "formula": "log(length) ~ treatment + (1|replicate)"})


def coverage(results: pd.DataFrame, truth: float | None = None, level: float = 0.95) -> pd.DataFrame:
    """How often each analysis's confidence interval contains the true value.

    The interval of every row is ``estimate ± q * se`` with ``q`` the ``(1 + level) / 2``
    quantile of the t distribution on the row's ``df`` (the normal distribution when ``df`` is
    infinite): the interval that goes with the row's test.

    Parameters
    ----------
    results : pandas.DataFrame
        A :func:`run_study` table.
    truth : float, optional
        The true value of the estimated quantity; default ``results.attrs["settings"]["truth"]``.
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per setting and analysis: the setting columns, ``analysis``, ``n_intervals``
        (rows with a usable p-value), ``covered``, ``coverage`` and its 95% Wilson interval
        ``coverage_low``, ``coverage_high``.

    Examples
    --------
    >>> res = pd.DataFrame({"sim": [0, 1], "analysis": "z", "estimate": [0.5, 3.0], "se": 1.0,
    ...                     "df": math.inf, "p": [0.6, 0.003], "singular": False, "error": ""})
    >>> coverage(res, truth=0.0)[["n_intervals", "covered", "coverage"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    if not isinstance(results, pd.DataFrame) or any(c not in results.columns for c in RESULT_COLUMNS):
        raise ValueError("coverage needs the table of lmmedu.teach.studies.run_study.")
    if truth is None:
        truth = results.attrs.get("settings", {}).get("truth")
        if truth is None:
            raise ValueError("give truth=..., the true value of the estimate (the results do not record one).")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}.")
    columns = list(results.attrs.get("setting_columns", [c for c in results.columns if c not in RESULT_COLUMNS]))
    keys = [*columns, "analysis"]
    rows = []
    for key, sub in results.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        usable = sub[sub["p"].notna()]
        q = stats.t.ppf(0.5 + level / 2.0, usable["df"].to_numpy(dtype=float))
        hit = np.abs(usable["estimate"].to_numpy(dtype=float) - float(truth)) <= q * usable["se"].to_numpy(dtype=float)
        n, k = len(usable), int(hit.sum())
        low, high = binomial_ci(k, n)
        rows.append({**dict(zip(keys, key)), "n_intervals": n, "covered": k, "coverage": k / n if n else math.nan,
                     "coverage_low": low, "coverage_high": high})
    out = pd.DataFrame(rows, columns=[*keys, "n_intervals", "covered", "coverage", "coverage_low", "coverage_high"])
    out.attrs.update(results.attrs)
    out.attrs["level"] = float(level)
    return out


def rates_and_coverage(results: pd.DataFrame, alpha: float = 0.05, truth: float | None = None) -> pd.DataFrame:
    """The :func:`rates` table with the :func:`coverage` columns of the ``1 - alpha`` intervals added.

    Examples
    --------
    >>> table = rates_and_coverage(wald_vs_t_study(n_groups=4, group_size=5, n_sims=3))
    >>> {"rate", "coverage", "coverage_low"} <= set(table.columns)
    True
    """
    table = rates(results, alpha=alpha)
    cov = coverage(results, truth=truth, level=1.0 - alpha)
    keys = [*table.attrs.get("setting_columns", []), "analysis"]
    out = table.merge(cov.drop(columns=["n_intervals"]), on=keys, how="left", sort=False)
    out.attrs.update(table.attrs)
    out.attrs["level"] = 1.0 - alpha
    return out


def selection_analyses(term: str = "treatment[T.drug]", alpha: float = 0.05
                       ) -> dict[str, Callable[[pd.DataFrame], dict]]:
    """Three ways to test the drug when its effect may vary between replicates, plus the slope test.

    - ``"random intercept only"``: ``(1|replicate)``, whatever the data;
    - ``"random slope always"``: ``(1 + treatment|replicate)``, the model the design calls for;
    - ``"slope kept if LRT p < 0.05"``: first test the random slope with a likelihood-ratio test
      of the two REML fits (same fixed effects, so REML likelihoods may be compared, as
      ``lmerTest::ranova``); keep the slope only if that test rejects, then test the drug in
      the model kept;
    - ``"LRT of the random slope"``: the p-value of that first test (its rate is how often the
      slope is kept).

    Each model is fitted once per data set.

    Parameters
    ----------
    term : str, default "treatment[T.drug]"
    alpha : float, default 0.05
        Level of the slope test (the analysis name keeps "0.05" only for the default).

    Returns
    -------
    dict
        Name -> analysis, in :data:`SELECTION_ANALYSES` order.

    Examples
    --------
    >>> data = simulate_groups(np.random.default_rng(2), n_groups=4, group_size=10, design="within", slope_sd=0.2)
    >>> out = {k: f(data) for k, f in selection_analyses().items()}
    >>> chosen = out["slope kept if LRT p < 0.05"]["p"]
    >>> chosen in (out["random intercept only"]["p"], out["random slope always"]["p"])
    True
    """
    from ..stats.inference import anova

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    intercept = _OneFit("log(length) ~ treatment + (1|replicate)")
    slope = _OneFit("log(length) ~ treatment + (1 + treatment|replicate)")

    def slope_test(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = anova(intercept(data), slope(data))
        return float(table["p"].iloc[1])

    def lrt(data):
        return {"p": slope_test(data), "singular": bool(slope(data).singular)}

    def chosen(data):
        keep = slope_test(data) < alpha
        return _t_row(slope(data) if keep else intercept(data), term)

    names = list(SELECTION_ANALYSES)
    if alpha != 0.05:
        names[2] = f"slope kept if LRT p < {alpha:g}"
    return dict(zip(names, [lambda d: _t_row(intercept(d), term), lambda d: _t_row(slope(d), term), chosen, lrt]))


def selection_study(n_groups: int | Sequence[int] = 6, group_size: int | Sequence[int] = 40,
                    icc: float | Sequence[float] = 0.2, slope_sd: float | Sequence[float] = 0.15,
                    n_sims: int = 60, seed: int = 13, alpha: float = 0.05,
                    progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """Does choosing the random slope by a test keep the drug's false-positive rate at ``alpha``?

    Every simulated experiment has every replicate in both arms (within design), no average
    drug effect, and a drug effect that varies between replicates with SD ``slope_sd``: the
    random slope is truly needed. :func:`selection_analyses` tests the drug three ways.

    Parameters
    ----------
    n_groups, group_size, icc, slope_sd : number or sequence
        Settings of :func:`simulate_groups`; every combination is run.
    n_sims : int, default 60
    seed : int, default 13
    alpha : float, default 0.05
        Level of the slope test.
    progress : bool or callable, default False

    Returns
    -------
    pandas.DataFrame
        The :func:`run_study` table; summarise it with :func:`rates`.

    Examples
    --------
    >>> out = selection_study(n_groups=4, group_size=10, n_sims=2)
    >>> out["analysis"].unique().tolist() == list(SELECTION_ANALYSES)
    True
    """
    grid = _grid(n_groups=n_groups, group_size=group_size, icc=icc, slope_sd=slope_sd)
    _check_design_settings(grid, min_groups=3, min_size=2)
    for g in grid:
        _sd_ok = isinstance(g["slope_sd"], (int, float, np.number)) and g["slope_sd"] >= 0
        if not _sd_ok:
            raise ValueError(f"slope_sd must be numbers >= 0, got {g['slope_sd']!r}.")
    n_sims = _check_n_sims(n_sims)

    def simulate(rng, n_groups, group_size, icc, slope_sd):
        return simulate_groups(rng, n_groups=n_groups, group_size=group_size, icc=icc, design="within",
                               slope_sd=slope_sd)

    return run_study(simulate, selection_analyses(alpha=alpha), n_sims=n_sims, seed=seed, progress=progress,
                     grid=grid, settings={"design": "within", "truth": 0.0, "alpha": alpha})


# --- notebook 08: case study gene expression ---
#
# The mailing-list experiment (lmmedu.data.simulate.simulate_expression) analysed three ways, and
# the plain numbers behind the notebook's residual figure.

from ..data.simulate import simulate_expression  # noqa: E402

__all__ += ["EXPRESSION_MODELS", "FULL_PROBESETS", "reduced_expression_settings", "interaction_study",
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
        return simulate_expression(**settings, seed=rng)

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


# --- notebook 09: planning an experiment ---
# Power and false-positive rate of a design before it is run. For a balanced design the mixed
# model's test of a between-replicate (or paired within-replicate) effect *is* the t-test on
# replicate means, whose power has a closed form (a noncentral t); the studies below run the
# package's simulators through run_study to check that closed form and to show what the
# analyses that count cells as units do at the same settings.

from ..data.simulate import simulate_expression as _simulate_expression  # noqa: E402

__all__ += [
    "PLAN_ANALYSES",
    "ARRAY_ANALYSES",
    "replicate_sd_for_icc",
    "effect_from_percent",
    "percent_from_effect",
    "planned_power",
    "power_curve",
    "power_curve_summary",
    "naive_lm_test",
    "replicate_means_test",
    "replicate_power_study",
    "power_and_false_positives",
    "array_power",
    "array_means_test",
    "array_power_study",
]

#: Analyses of :func:`replicate_power_study`, in display order.
PLAN_ANALYSES = ("naive lm", "t-test on replicate means", "mixed model (1|replicate)")
#: Analyses of :func:`array_power_study`, in display order.
ARRAY_ANALYSES = ("t-test on array means", "(1|probeset), no array effect")


def _plan_real(name, value, low=None, high=None, low_open=False, high_open=False):
    if (not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool)
            or not math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value:g}.")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value:g}.")
    return value


def _plan_int(name, value, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}.")
    return int(value)


def replicate_sd_for_icc(icc: float, residual_sd: float = 0.5) -> float:
    """The replicate SD that gives intra-class correlation ``icc`` (the inverse of :func:`true_icc`).

    Parameters
    ----------
    icc : float
        Share of the variance of a single measurement that lies between replicates, in [0, 1).
    residual_sd : float, default 0.5
        SD of the measurement-level error (log scale).

    Returns
    -------
    float
        ``residual_sd * sqrt(icc / (1 - icc))``.

    Examples
    --------
    >>> round(replicate_sd_for_icc(0.2), 3)
    0.25
    >>> round(true_icc(replicate_sd_for_icc(0.05)), 3)
    0.05
    """
    icc = _plan_real("icc", icc, 0.0, 1.0, high_open=True)
    residual_sd = _plan_real("residual_sd", residual_sd, 0.0, low_open=True)
    return residual_sd * math.sqrt(icc / (1.0 - icc))


def effect_from_percent(percent: float) -> float:
    """Log-scale effect of a percent change in length: ``log(1 + percent / 100)``.

    Examples
    --------
    >>> round(effect_from_percent(10), 4)
    0.0953
    """
    percent = _plan_real("percent", percent, -100.0, low_open=True)
    return math.log1p(percent / 100.0)


def percent_from_effect(effect: float) -> float:
    """Percent change in length of a log-scale effect: ``100 * (exp(effect) - 1)``.

    Examples
    --------
    >>> round(percent_from_effect(0.0953), 1)
    10.0
    """
    return 100.0 * math.expm1(float(effect))


def _plan_cells(cells_per_replicate, n_replicates, design):
    minimum = 2 if design == "within" else 1
    if isinstance(cells_per_replicate, (int, np.integer)) and not isinstance(cells_per_replicate, bool):
        counts = (int(cells_per_replicate),) * n_replicates
    elif isinstance(cells_per_replicate, (tuple, list, np.ndarray)):
        counts = tuple(int(c) for c in cells_per_replicate)
        if len(counts) != n_replicates:
            raise ValueError(f"cells_per_replicate must be one number, or one per replicate ({n_replicates}); "
                             f"got {len(counts)}.")
    else:
        raise ValueError(f"cells_per_replicate must be an integer or a tuple of integers, got {cells_per_replicate!r}.")
    if min(counts) < minimum:
        raise ValueError(f"cells_per_replicate must be at least {minimum} in the {design} design "
                         f"(every arm of a replicate needs a cell), got {cells_per_replicate!r}.")
    return np.asarray(counts, dtype=float)



import functools as _functools  # noqa: E402

from scipy.optimize import brentq as _brentq  # noqa: E402


def _plan_power(ncp: float, df: float, alpha: float) -> float:
    """Two-sided power of a t-test on ``df`` degrees of freedom with noncentrality ``ncp``."""
    if not (math.isfinite(df) and df >= 1):
        return math.nan
    crit = float(stats.t.isf(alpha / 2.0, df))
    if ncp == 0:
        return float(alpha)
    near, far = stats.nct.sf(crit, df, abs(ncp)), stats.nct.sf(crit, df, -abs(ncp))
    # scipy's noncentral t returns NaN for some far tails of about 1e-20; they are 0 to any precision shown.
    return float(min(1.0, near + (far if math.isfinite(far) else 0.0)))


@_functools.lru_cache(maxsize=512)
def _plan_ncp(df: float, alpha: float, target: float) -> float:
    """Noncentrality at which a two-sided t-test on ``df`` df reaches power ``target``."""
    if not (math.isfinite(df) and df >= 1):
        return math.nan
    return float(_brentq(lambda n: _plan_power(n, df, alpha) - target, 0.0, 60.0, xtol=1e-10))


def _plan_power_vec(ncp, df, alpha):
    """:func:`_plan_power` for arrays of ``ncp`` and ``df`` (one vectorised scipy call instead of a loop)."""
    ncp, df = np.broadcast_arrays(np.asarray(ncp, dtype=float), np.asarray(df, dtype=float))
    ok = np.isfinite(df) & (df >= 1)
    safe_df = np.where(ok, df, 1.0)
    crit = stats.t.isf(alpha / 2.0, safe_df)
    near = stats.nct.sf(crit, safe_df, np.abs(ncp))
    far = np.nan_to_num(stats.nct.sf(crit, safe_df, -np.abs(ncp)), nan=0.0)
    power = np.where(ncp == 0, alpha, np.minimum(near + far, 1.0))
    return np.where(ok, power, np.nan)


def _plan_ncp_vec(df, alpha, target):
    """:func:`_plan_ncp` for an array of ``df``: bisection on all of them at once."""
    df = np.asarray(df, dtype=float)
    lo, hi = np.zeros_like(df), np.full_like(df, 60.0)
    for _ in range(48):  # 60 / 2**48: far below any digit shown
        mid = (lo + hi) / 2.0
        low_power = _plan_power_vec(mid, df, alpha) < target
        lo, hi = np.where(low_power, mid, lo), np.where(low_power, hi, mid)
    return np.where(np.isfinite(df) & (df >= 1), (lo + hi) / 2.0, np.nan)


def _plan_levels(alpha, target):
    alpha = _plan_real("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
    target = _plan_real("target", target, alpha, 1.0, low_open=True, high_open=True)
    return alpha, target


def _plan_sds(replicate_sd, replicate_treatment_sd, residual_sd):
    return (_plan_real("replicate_sd", replicate_sd, 0.0),
            _plan_real("replicate_treatment_sd", replicate_treatment_sd, 0.0),
            _plan_real("residual_sd", residual_sd, 0.0, low_open=True))


def _plan_replicate_ses(design, cells, replicate_sd, replicate_treatment_sd, residual_sd):
    """SE of the drug effect from replicate means, the SE if cells were independent, df, arms' cells."""
    v0, vt, ve = replicate_sd**2, replicate_treatment_sd**2, residual_sd**2
    n_rep = len(cells)
    if design == "within":
        # As simulate_replicates splits a replicate: half control (rounded down), the rest drug.
        control = np.floor(cells / 2.0)
        drug = cells - control
        # Each replicate's drug-minus-control difference: its own drug effect plus the noise of
        # two cell means; the replicate intercept cancels.
        se2 = float(np.mean(vt + ve * (1.0 / control + 1.0 / drug))) / n_rep
        df, n_control, n_drug = n_rep - 1, control.sum(), drug.sum()
    else:
        control, drug = cells[0::2], cells[1::2]  # R1 control, R2 drug, R3 control, ...
        se2 = (float(np.mean(v0 + ve / control)) / len(control)
               + float(np.mean(v0 + vt + ve / drug)) / len(drug))
        df, n_control, n_drug = n_rep - 2, control.sum(), drug.sum()
    # The same cells as independent draws, each with the total variance of its arm.
    se_naive2 = (v0 + ve) / n_control + (v0 + vt + ve) / n_drug
    return math.sqrt(se2), math.sqrt(se_naive2), float(df), float(n_control + n_drug)


def planned_power(n_replicates: int = 4, cells_per_replicate=2000, effect: float = 0.1, *, design: str = "within",
                  replicate_sd: float = 0.2, replicate_treatment_sd: float = 0.1, residual_sd: float = 0.5,
                  alpha: float = 0.05, target: float = 0.8) -> pd.Series:
    """Power of the t-test on replicate means for one design, in closed form.

    The drug effect is estimated from replicate means of log(length): in the ``"within"``
    design from each replicate's drug-minus-control difference (a paired t-test on
    ``n_replicates - 1`` df), in the ``"between"`` design from the replicates of each arm (a
    two-sample t-test on ``n_replicates - 2`` df). For a balanced design this is exactly the
    test of the mixed model (``(1 + treatment | replicate)`` within, ``(1 | replicate)``
    between). Power is that of a noncentral t: exact for equal cells per replicate in the
    within design, and in the between design when ``replicate_treatment_sd`` is 0 (otherwise
    the two arms' replicate means differ in variance and it is a close approximation).

    Parameters
    ----------
    n_replicates : int, default 4
        Number of replicates (cultures, animals, days): the experimental units.
    cells_per_replicate : int or tuple of int, default 2000
        Measurements per replicate (split half and half between the arms in the within
        design), or one count per replicate.
    effect : float, default 0.1
        True drug effect on log(length); :func:`effect_from_percent` converts a percent change.
    design : {"within", "between"}, default "within"
        Every replicate has both arms, or each replicate is one arm (R1 control, R2 drug, ...).
    replicate_sd : float, default 0.2
        SD of the replicate intercepts (log scale); only the between design feels it.
    replicate_treatment_sd : float, default 0.1
        SD of the replicate-to-replicate variation of the drug effect (log scale).
    residual_sd : float, default 0.5
        SD of single measurements within a replicate and arm (log scale).
    alpha : float, default 0.05
        Significance level (two-sided).
    target : float, default 0.8
        Power at which the minimum detectable effect is reported.

    Returns
    -------
    pandas.Series
        ``design, n_replicates, cells_per_replicate, n_cells, effect, percent, se`` (of the
        replicate-level estimate), ``se_naive`` (the SE the same cells would give as
        independent units), ``design_effect`` (``(se / se_naive)**2``), ``n_effective``
        (``n_cells / design_effect``), ``df, ncp, power, mde`` (the smallest true effect
        detected with probability ``target``, log scale), ``mde_percent`` (as a percent
        increase in length) and ``problem`` (why no test exists, else "").

    Examples
    --------
    >>> plan = planned_power(4, 2000, effect_from_percent(10))
    >>> int(plan["df"]), bool(0 < plan["power"] < 0.5), bool(plan["mde_percent"] > 10)
    (3, True, True)
    >>> between = planned_power(6, 100, 0.1, design="between", replicate_treatment_sd=0.0)
    >>> round(between["design_effect"], 2), round(true_design_effect(0.2, 100), 2)
    (14.66, 14.66)
    """
    if design not in _DESIGNS:
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    n_replicates = _plan_int("n_replicates", n_replicates, 2)
    cells = _plan_cells(cells_per_replicate, n_replicates, design)
    effect = _plan_real("effect", effect)
    replicate_sd, replicate_treatment_sd, residual_sd = _plan_sds(replicate_sd, replicate_treatment_sd, residual_sd)
    alpha, target = _plan_levels(alpha, target)
    se, se_naive, df, n_cells = _plan_replicate_ses(design, cells, replicate_sd, replicate_treatment_sd, residual_sd)
    deff = (se / se_naive) ** 2
    ncp = effect / se
    mde = _plan_ncp(df, alpha, target) * se
    cpr = int(cells[0]) if len(set(cells.tolist())) == 1 else tuple(int(c) for c in cells)
    return pd.Series({
        "design": design, "n_replicates": n_replicates, "cells_per_replicate": cpr, "n_cells": int(n_cells),
        "effect": effect, "percent": percent_from_effect(effect), "se": se, "se_naive": se_naive,
        "design_effect": deff, "n_effective": n_cells / deff, "df": df, "ncp": ncp,
        "power": _plan_power(ncp, df, alpha), "mde": mde,
        "mde_percent": percent_from_effect(mde) if math.isfinite(mde) else math.nan,
        "problem": design_problem(n_replicates, design),
    }, name="plan")


def power_curve(n_replicates=tuple(range(3, 17)), cells_per_replicate=(100, 1000, 10000), effect: float = 0.1,
                **settings: Any) -> pd.DataFrame:
    """Closed-form power (:func:`planned_power`) at every number of replicates and cells per replicate.

    Parameters
    ----------
    n_replicates : sequence of int, default 3 to 16
    cells_per_replicate : sequence of int, default (100, 1000, 10000)
    effect : float, default 0.1
        True drug effect on log(length).
    **settings
        Other keyword arguments of :func:`planned_power` (``design``, the SDs, ``alpha``, ``target``).

    Returns
    -------
    pandas.DataFrame
        One row per ``cells_per_replicate`` and ``n_replicates`` (in that order), the columns
        of :func:`planned_power`; ``attrs["settings"]`` keeps ``effect`` and ``settings``.

    Examples
    --------
    >>> curve = power_curve([4, 8], [100, 1000])
    >>> curve[["cells_per_replicate", "n_replicates"]].values.tolist()
    [[100, 4], [100, 8], [1000, 4], [1000, 8]]
    """
    reps = [n_replicates] if isinstance(n_replicates, (int, np.integer)) else list(n_replicates)
    cells = [cells_per_replicate] if isinstance(cells_per_replicate, (int, np.integer)) else list(cells_per_replicate)
    if not reps or not cells:
        raise ValueError("n_replicates and cells_per_replicate must each hold at least one value.")
    rows = [planned_power(r, m, effect, **settings) for m in cells for r in reps]
    out = pd.DataFrame(rows).reset_index(drop=True)
    out.attrs["settings"] = {"effect": float(effect), **settings}
    return out


def power_curve_summary(curve: pd.DataFrame, at: int = 4, x: str = "n_replicates",
                        hue: str = "cells_per_replicate", target: float = 0.8,
                        compare: Sequence[Any] | None = None) -> dict[str, Any]:
    """The numbers a power curve's title and prose quote: power at ``x = at`` for two ``hue`` values.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`power_curve` or :func:`array_power`.
    at : int, default 4
        The value of ``x`` to read the curves at.
    x, hue : str
        Column of the horizontal axis and of the line colour.
    target : float, default 0.8
        Power to reach.
    compare : pair of hue values, optional
        The two lines to compare; default the smallest and the largest ``hue``.

    Returns
    -------
    dict
        ``at``; ``low`` and ``high`` (the two ``hue`` values compared); ``power_low`` and
        ``power_high`` (their power at ``at``); ``needed`` (hue -> smallest ``x`` on the curve
        whose power reaches ``target``, or None).

    Examples
    --------
    >>> s = power_curve_summary(power_curve([4, 8], [100, 1000]), at=4)
    >>> s["low"], s["high"], bool(s["power_high"] >= s["power_low"])
    (100, 1000, True)
    """
    for column in (x, hue, "power"):
        if column not in curve.columns:
            raise ValueError(f"power_curve_summary needs a column {column!r}; pass the output of power_curve "
                             "or array_power.")
    hues = sorted(v.item() if hasattr(v, "item") else v for v in curve[hue].unique())
    at_rows = curve[curve[x] == at].set_index(hue)["power"]
    if at_rows.empty:
        raise ValueError(f"the curve has no point at {x} = {at}; its values are {sorted(curve[x].unique())}.")
    low, high = (hues[0], hues[-1]) if compare is None else tuple(compare)
    if low not in hues or high not in hues:
        raise ValueError(f"compare must name two {hue} values of the curve, {hues}; got {compare!r}.")
    needed = {}
    for h in hues:
        sub = curve[(curve[hue] == h) & (curve["power"] >= target)]
        needed[h] = int(sub[x].min()) if len(sub) else None
    return {"at": at, "low": low, "high": high, "power_low": float(at_rows.get(low, math.nan)),
            "power_high": float(at_rows.get(high, math.nan)), "needed": needed}


def _plan_cell_arrays(data: pd.DataFrame):
    for column in ("replicate", "treatment", "length"):
        if column not in data.columns:
            raise ValueError(f"the data need a column {column!r}, as made by lmmedu.simulate_replicates.")
    log_length = np.log(data["length"].to_numpy(dtype=float))
    rep = pd.Categorical(data["replicate"])
    treatment = pd.Categorical(data["treatment"])
    categories = list(treatment.categories)
    drug = treatment.codes == categories.index("drug") if "drug" in categories else np.zeros(len(data), dtype=bool)
    return log_length, rep.codes.astype(np.int64), len(rep.categories), np.asarray(drug, dtype=bool)


def _plan_t_row(estimate, se, df):
    t = estimate / se if se > 0 else math.nan
    return {"estimate": float(estimate), "se": float(se), "df": float(df),
            "p": float(2.0 * stats.t.sf(abs(t), df)) if math.isfinite(t) else math.nan}


def naive_lm_test(data: pd.DataFrame) -> dict:
    """Drug vs control with every measurement as an independent unit: ``lm(log(length) ~ treatment)``.

    With one two-level predictor, lm's t-test is the pooled two-sample t-test on the cells;
    this computes it directly (fast enough for thousands of simulated experiments).

    Returns
    -------
    dict
        ``estimate``, ``se``, ``df`` (cells - 2) and ``p``: an analysis for :func:`run_study`.

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_replicates
    >>> row = naive_lm_test(simulate_replicates(genes=("A",), obs_per_replicate=50, seed=1))
    >>> int(row["df"])
    198
    """
    y, _, _, drug = _plan_cell_arrays(data)
    a, b = y[drug], y[~drug]
    if len(a) < 1 or len(b) < 1 or len(y) < 3:
        raise ValueError("the naive lm needs cells in both arms and at least 3 cells in all.")
    df = len(y) - 2
    pooled = (((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()) / df
    return _plan_t_row(a.mean() - b.mean(), math.sqrt(pooled * (1.0 / len(a) + 1.0 / len(b))), df)


def replicate_means_test(data: pd.DataFrame) -> dict:
    """The t-test on replicate means of log(length): the experimental units, one number each.

    If every replicate has both arms, a paired t-test on the replicates' drug-minus-control
    differences (``n_replicates - 1`` df); if each replicate is one arm, a two-sample t-test on
    the replicate means (``n_replicates - 2`` df). For balanced designs this equals the mixed
    model's test: ``(1 + treatment | replicate)`` and ``(1 | replicate)`` respectively.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``df``, ``p``: an analysis for :func:`run_study`.

    Raises
    ------
    ValueError
        When some replicates have one arm and others both, or no df are left for a t-test.

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_replicates
    >>> row = replicate_means_test(simulate_replicates(genes=("A",), obs_per_replicate=50, seed=1))
    >>> int(row["df"])
    3
    """
    y, rep, n_rep, drug = _plan_cell_arrays(data)
    key = rep * 2 + drug.astype(np.int64)
    counts = np.bincount(key, minlength=2 * n_rep).reshape(n_rep, 2)
    sums = np.bincount(key, weights=y, minlength=2 * n_rep).reshape(n_rep, 2)
    present = counts > 0
    used = present.any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    if present[used].all():
        diff = means[used, 1] - means[used, 0]
        df = len(diff) - 1
        if df < 1:
            raise ValueError("one replicate leaves no df for a paired t-test; the design needs at least 2.")
        return _plan_t_row(diff.mean(), diff.std(ddof=1) / math.sqrt(len(diff)), df)
    if (present[used].sum(axis=1) == 1).all():
        control = means[used & present[:, 0], 0]
        drugs = means[used & present[:, 1], 1]
        df = len(control) + len(drugs) - 2
        if len(control) < 1 or len(drugs) < 1 or df < 1:
            raise ValueError(design_problem(len(control) + len(drugs), "between")
                             or "each arm needs a replicate and at least 3 replicates in all.")
        pooled = (((control - control.mean()) ** 2).sum() + ((drugs - drugs.mean()) ** 2).sum()) / df
        return _plan_t_row(drugs.mean() - control.mean(), math.sqrt(pooled * (1 / len(control) + 1 / len(drugs))), df)
    raise ValueError("some replicates have both arms and some only one; analyse them with a mixed model, "
                     "not with replicate means.")


def _simulate_plan(rng, *, n_replicates, cells_per_replicate, effect, design, replicate_sd,
                   replicate_treatment_sd, residual_sd):
    data = simulate_replicates(genes=("A",), n_replicates=n_replicates, obs_per_replicate=cells_per_replicate,
                               design=design, treatment_effects=float(effect), replicate_sd=replicate_sd,
                               replicate_treatment_sd=replicate_treatment_sd, residual_sd=residual_sd, seed=rng)
    # pandas deep-copies attrs on every column access; the analyses never read the truth, and
    # without it a study runs several times faster.
    data.attrs = {}
    return data


def replicate_power_study(effect: float = 0.1, *, design: str = "within", n_replicates: int = 4,
                          cells_per_replicate=2000, replicate_sd: float = 0.2, replicate_treatment_sd: float = 0.1,
                          residual_sd: float = 0.5, points: Sequence[Mapping[str, Any]] | None = None,
                          mixed: bool = False, n_sims: int = 200, seed: int = 0, alpha: float = 0.05,
                          progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """Power and false-positive rate of each analysis, by simulating the replicate experiment.

    At every design point, ``n_sims`` experiments are simulated with
    :func:`lmmedu.data.simulate.simulate_replicates` (one gene) with no drug effect and the
    same ``n_sims`` with ``effect``: the rejection rate of the first is the false-positive
    rate, of the second the power. Analyses: ``"naive lm"`` (:func:`naive_lm_test`),
    ``"t-test on replicate means"`` (:func:`replicate_means_test`) and, if ``mixed``, the
    model ``log(length) ~ treatment + (1|replicate)`` with Satterthwaite df (about 10 ms a fit).

    Parameters
    ----------
    effect : float, default 0.1
        True drug effect on log(length) in the "power" experiments.
    design, n_replicates, cells_per_replicate, replicate_sd, replicate_treatment_sd, residual_sd
        As in :func:`planned_power`; ``cells_per_replicate`` may be one count per replicate.
    points : list of dict, optional
        Design points, each a dict of ``n_replicates`` and/or ``cells_per_replicate``
        overriding the defaults. Default: the one point given by the arguments.
    mixed : bool, default False
        Also fit the random-intercept mixed model (slower).
    n_sims : int, default 200
        Experiments per design point and effect.
    seed : int, default 0
    alpha : float, default 0.05
    progress : bool or callable, default False
        See :func:`progress_callback`.

    Returns
    -------
    pandas.DataFrame
        The rates table of :func:`rates` with setting columns ``n_replicates``,
        ``cells_per_replicate`` and ``effect``; ``attrs["settings"]`` holds the fixed arguments.
        :func:`power_and_false_positives` puts the two rates of each analysis side by side.

    Examples
    --------
    >>> table = replicate_power_study(0.2, cells_per_replicate=20, n_sims=5)
    >>> table[["effect", "analysis"]].values.tolist()[:2]
    [[0.0, 'naive lm'], [0.0, 't-test on replicate means']]
    """
    if design not in _DESIGNS:
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    effect = _plan_real("effect", effect)
    replicate_sd, replicate_treatment_sd, residual_sd = _plan_sds(replicate_sd, replicate_treatment_sd, residual_sd)
    grid = []
    for point in (points or [{}]):
        unknown = set(point) - {"n_replicates", "cells_per_replicate"}
        if unknown:
            raise ValueError(f"a design point may set n_replicates and cells_per_replicate, not {sorted(unknown)}.")
        reps = _plan_int("n_replicates", point.get("n_replicates", n_replicates), 2)
        cells = point.get("cells_per_replicate", cells_per_replicate)
        _plan_cells(cells, reps, design)
        cells = tuple(int(c) for c in cells) if isinstance(cells, (tuple, list, np.ndarray)) else int(cells)
        for e in ((0.0, effect) if effect != 0 else (0.0,)):
            grid.append({"n_replicates": reps, "cells_per_replicate": cells, "effect": e})
    analyses = {"naive lm": naive_lm_test, "t-test on replicate means": replicate_means_test}
    if mixed:
        analyses["mixed model (1|replicate)"] = coefficient_test(MIXED_FORMULA, _TERM)
    fixed = {"design": design, "replicate_sd": replicate_sd, "replicate_treatment_sd": replicate_treatment_sd,
             "residual_sd": residual_sd}
    results = run_study(_functools.partial(_simulate_plan, **fixed), analyses, n_sims=n_sims, seed=seed,
                        progress=progress, grid=grid, settings={**fixed, "effect": effect})
    return rates(results, alpha=alpha)


def power_and_false_positives(table: pd.DataFrame) -> pd.DataFrame:
    """The two rates of each analysis side by side: false positives (no effect) and power (the effect).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`replicate_power_study` or :func:`array_power_study` (a :func:`rates`
        table with an effect column, ``effect`` or ``interaction``, that is 0 for the
        no-effect experiments).

    Returns
    -------
    pandas.DataFrame
        One row per design point and analysis: the design columns, ``analysis``,
        ``false_positive_rate``, ``fp_low``, ``fp_high``, ``power``, ``power_low``,
        ``power_high`` (95% Wilson intervals), ``n_sims`` and ``median_df``. ``attrs`` keep
        the study's, plus ``effect``.

    Examples
    --------
    >>> wide = power_and_false_positives(replicate_power_study(0.2, cells_per_replicate=20, n_sims=5))
    >>> list(wide.columns[:4])
    ['n_replicates', 'cells_per_replicate', 'analysis', 'false_positive_rate']
    """
    if not isinstance(table, pd.DataFrame) or "rate" not in table.columns:
        raise ValueError("power_and_false_positives needs the rates table of replicate_power_study or "
                         "array_power_study.")
    columns = list(table.attrs.get("setting_columns", []))
    effect_column = next((c for c in ("effect", "interaction") if c in columns), None)
    if effect_column is None:
        raise ValueError("the table has no effect column (effect or interaction); pass the output of "
                         "replicate_power_study or array_power_study.")
    keys = [c for c in columns if c != effect_column] + ["analysis"]
    null = table[table[effect_column] == 0]
    alt = table[table[effect_column] != 0]
    left = null[keys + ["rate", "ci_low", "ci_high", "n_sims", "median_df"]].rename(
        columns={"rate": "false_positive_rate", "ci_low": "fp_low", "ci_high": "fp_high"})
    right = alt[keys + ["rate", "ci_low", "ci_high"]].rename(
        columns={"rate": "power", "ci_low": "power_low", "ci_high": "power_high"})
    out = left.merge(right, on=keys, how="left", sort=False) if len(right) else left.assign(
        power=math.nan, power_low=math.nan, power_high=math.nan)
    out = out[keys + ["false_positive_rate", "fp_low", "fp_high", "power", "power_low", "power_high",
                      "n_sims", "median_df"]].reset_index(drop=True)
    out.attrs.update(table.attrs)
    out.attrs["effect"] = float(alt[effect_column].iloc[0]) if len(alt) else 0.0
    return out


def _plan_array_layout(n_mice, n_dropped, weeks, seed):
    """Genotype codes and scaled weeks of the kept arrays, as simulate_expression lays them out."""
    if n_dropped == 0:
        # Nothing dropped: every week x genotype has n_mice arrays; no need to simulate.
        w = np.asarray(sorted(weeks), dtype=float)
        scaled = (w - w.mean()) / w.std(ddof=1)
        g, k, _ = np.indices((2, len(w), n_mice)).reshape(3, -1)
        return g, scaled[k]
    data = _simulate_expression(n_probesets=2, weeks=weeks, n_replicates=n_mice, n_dropped=n_dropped, seed=seed)
    arrays = data.drop_duplicates("sample")
    return arrays["genotype"].cat.codes.to_numpy(), arrays["week"].to_numpy(dtype=float)


def _plan_array_matrix(genotype_codes, week):
    g = (np.asarray(genotype_codes) == 1).astype(float)
    w = np.asarray(week, dtype=float)
    # Column order of lm("values ~ week*genotype"): Intercept, genotype, week, week:genotype.
    return np.column_stack([np.ones_like(w), g, w, w * g])


def array_power(n_mice=3, n_probesets=18015, interaction: float = 0.01, *, n_dropped: int = 0,
                sample_sd: float = 0.02, residual_sd: float = 0.217, weeks: Sequence[int] = (2, 4, 8, 12, 16),
                alpha: float = 0.05, target: float = 0.8, seed: int = 0) -> pd.DataFrame:
    """Closed-form power for the week x genotype interaction of the array experiment.

    Week and genotype vary between arrays, so the interaction is tested on array means: each
    array's mean over its probesets is its fixed effects plus its own array effect (SD
    ``sample_sd``) plus the average of ``n_probesets`` residuals (SD ``residual_sd /
    sqrt(n_probesets)``); the probeset effects are shared by all arrays and drop out of the
    interaction. Its test is an ordinary regression on the array means with
    ``n_arrays - 4`` df, so the noncentral-t power is exact for the layout simulated by
    :func:`lmmedu.data.simulate.simulate_expression` with ``seed``.

    Parameters
    ----------
    n_mice : int or sequence of int, default 3
        Mice (arrays) per week x genotype before dropping.
    n_probesets : int or sequence of int, default 18015
    interaction : float, default 0.01
        True week x genotype interaction (per SD of week, as ``simulate_expression`` scales it).
    n_dropped : int, default 0
        Arrays removed (as ``simulate_expression`` removes them).
    sample_sd, residual_sd : float
        SD of the array effect and of the residual, as in ``simulate_expression``.
    weeks : sequence of int
    alpha, target : float
        Level of the test and power of the reported minimum detectable effect ``mde``.
    seed : int, default 0
        Which arrays are dropped.

    Returns
    -------
    pandas.DataFrame
        One row per ``n_probesets`` and ``n_mice``: ``n_mice, n_probesets, n_arrays,
        interaction, se, df, ncp, power, mde``.

    Examples
    --------
    >>> p = array_power([3, 6], [100, 18015], 0.02)
    >>> p[["n_probesets", "n_mice", "n_arrays"]].values.tolist()
    [[100, 3, 30], [100, 6, 60], [18015, 3, 30], [18015, 6, 60]]
    """
    mice = [n_mice] if isinstance(n_mice, (int, np.integer)) else list(n_mice)
    probesets = [n_probesets] if isinstance(n_probesets, (int, np.integer)) else list(n_probesets)
    if not mice or not probesets:
        raise ValueError("n_mice and n_probesets must each hold at least one value.")
    interaction = _plan_real("interaction", interaction)
    sample_sd = _plan_real("sample_sd", sample_sd, 0.0)
    residual_sd = _plan_real("residual_sd", residual_sd, 0.0, low_open=True)
    alpha, target = _plan_levels(alpha, target)
    n_dropped = _plan_int("n_dropped", n_dropped, 0)
    # The interaction's variance factor depends on the layout only: one per number of mice.
    factors = {}
    for m in mice:
        m = _plan_int("n_mice", m, 1)
        X = _plan_array_matrix(*_plan_array_layout(m, n_dropped, weeks, seed))
        if len(X) - X.shape[1] < 1:
            raise ValueError(f"{len(X)} arrays leave no df for 4 coefficients; use more mice per group.")
        factors[m] = (len(X), float(np.linalg.inv(X.T @ X)[3, 3]))
    rows = []
    for p in probesets:
        p = _plan_int("n_probesets", p, 2)
        for m in mice:
            n_arrays, c = factors[int(m)]
            rows.append({"n_mice": int(m), "n_probesets": p, "n_arrays": n_arrays, "interaction": interaction,
                         "se": math.sqrt((sample_sd**2 + residual_sd**2 / p) * c), "df": float(n_arrays - 4)})
    out = pd.DataFrame(rows)
    out["ncp"] = interaction / out["se"]
    out["power"] = _plan_power_vec(out["ncp"].to_numpy(), out["df"].to_numpy(), alpha)
    out["mde"] = _plan_ncp_vec(out["df"].to_numpy(), alpha, target) * out["se"]
    out.attrs["settings"] = {"interaction": interaction, "n_dropped": n_dropped, "sample_sd": sample_sd,
                             "residual_sd": residual_sd, "weeks": tuple(weeks), "alpha": alpha, "target": target}
    return out


def array_means_test(data: pd.DataFrame) -> dict:
    """Test of the week x genotype interaction on array means (one number per array).

    Every array's mean over its probesets, regressed on ``week * genotype``: the test of a
    between-array effect with the arrays as units (``n_arrays - 4`` df).

    Returns
    -------
    dict
        ``estimate``, ``se``, ``df``, ``p``: an analysis for :func:`run_study`.

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_expression
    >>> int(array_means_test(simulate_expression(n_probesets=20))["df"])
    19
    """
    for column in ("sample", "genotype", "week", "values"):
        if column not in data.columns:
            raise ValueError(f"the data need a column {column!r}, as made by lmmedu.simulate_expression.")
    sample = pd.Categorical(data["sample"])
    codes = sample.codes.astype(np.int64)
    n = len(sample.categories)
    counts = np.bincount(codes, minlength=n)
    keep = counts > 0
    means = np.bincount(codes, weights=data["values"].to_numpy(dtype=float), minlength=n)[keep] / counts[keep]
    first = np.unique(codes, return_index=True)[1]
    X = _plan_array_matrix(pd.Categorical(data["genotype"]).codes[first], data["week"].to_numpy(dtype=float)[first])
    df = len(means) - X.shape[1]
    if df < 1:
        raise ValueError(f"{len(means)} arrays leave no df for the 4 coefficients of week * genotype.")
    beta, *_ = np.linalg.lstsq(X, means, rcond=None)
    resid = means - X @ beta
    cov = (resid @ resid / df) * np.linalg.inv(X.T @ X)
    return _plan_t_row(beta[3], math.sqrt(cov[3, 3]), df)


def _plan_simulate_arrays(rng, *, interaction, n_mice, n_probesets, n_dropped, sample_sd, residual_sd):
    data = _simulate_expression(n_probesets=n_probesets, n_replicates=n_mice, n_dropped=n_dropped,
                                fixed_effects={"week:genotype": float(interaction)}, sample_sd=sample_sd,
                                residual_sd=residual_sd, seed=rng)
    data.attrs = {}  # as in _simulate_plan: the truth is not needed and slows every column access
    return data


def array_power_study(interaction: float = 0.02, *, n_mice: int = 3, n_probesets: int = 200, n_dropped: int = 7,
                      sample_sd: float = 0.02, residual_sd: float = 0.217, mixed: bool = True, n_sims: int = 100,
                      seed: int = 0, alpha: float = 0.05,
                      progress: bool | Callable[[int, int], Any] = False) -> pd.DataFrame:
    """Power and false-positive rate for the interaction of the array experiment, by simulation.

    ``n_sims`` experiments of :func:`lmmedu.data.simulate.simulate_expression` (reduced to
    ``n_probesets``) with no interaction and ``n_sims`` with ``interaction``, analysed by the
    t-test on array means (:func:`array_means_test`, the arrays as units) and, if ``mixed``,
    by ``values ~ week*genotype + (1|probeset)``: a mixed model with probesets but no array
    effect, which counts every row as evidence about the arrays.

    Returns
    -------
    pandas.DataFrame
        The rates table of :func:`rates` with the setting column ``interaction``.

    Examples
    --------
    >>> t = array_power_study(0.05, n_probesets=10, mixed=False, n_sims=3)
    >>> t[["interaction", "analysis"]].values.tolist()
    [[0.0, 't-test on array means'], [0.05, 't-test on array means']]
    """
    interaction = _plan_real("interaction", interaction)
    fixed = {"n_mice": _plan_int("n_mice", n_mice, 1), "n_probesets": _plan_int("n_probesets", n_probesets, 2),
             "n_dropped": _plan_int("n_dropped", n_dropped, 0), "sample_sd": _plan_real("sample_sd", sample_sd, 0.0),
             "residual_sd": _plan_real("residual_sd", residual_sd, 0.0, low_open=True)}
    analyses = {"t-test on array means": array_means_test}
    if mixed:
        analyses["(1|probeset), no array effect"] = coefficient_test("values ~ week*genotype + (1|probeset)",
                                                                     "week:genotype[T.CSB]")
    grid = [{"interaction": v} for v in ((0.0, interaction) if interaction != 0 else (0.0,))]
    results = run_study(_functools.partial(_plan_simulate_arrays, **fixed), analyses, n_sims=n_sims, seed=seed,
                        progress=progress, grid=grid, settings={**fixed, "interaction": interaction})
    return rates(results, alpha=alpha)
