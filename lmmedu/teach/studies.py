"""Simulation studies: how often does each analysis find an effect that is not there?

The pseudo-replication machine of notebook 01 runs here. It simulates many imaging
experiments with **no true drug effect** (:func:`lmmedu.data.simulate.simulate_replicates` with one
gene and ``treatment_effects=0``), analyses each one three ways and counts the false positives:

- ``"naive lm"``: ``log(length) ~ treatment`` on every measurement, as if each were an
  independent unit (pseudo-replication);
- ``"t-test on replicate means"``: one number per replicate and arm, then an ordinary t-test
  (independent samples in the between design, paired drug-minus-control in the within design);
- ``"mixed model"``: ``log(length) ~ treatment + (1|replicate)`` with Satterthwaite df.

A correct test rejects a true null hypothesis in about ``alpha`` of the experiments; the
binomial confidence interval of each rate says how far from ``alpha`` chance alone can take it.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..stats.fit import fit, fit_lm
from ..data.simulate import simulate_replicates

__all__ = [
    "progress_callback",
    "run_study",
    "rates",
    "coefficient_test",
    "METHODS",
    "simulate_p_values",
    "false_positive_rates",
    "rate_curve",
    "binomial_ci",
    "true_icc",
    "true_design_effect",
    "design_problem",
]

#: The three analyses, in display order.
METHODS = ("naive lm", "t-test on replicate means", "mixed model")

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
    streams = _streams(seed, n_sims)
    rows = []
    with progress_callback(progress, n_sims * len(grid)) as tick:
        for k, setting in enumerate(grid):
            for i, stream in enumerate(streams):
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


_LM_FORMULA = "log(length) ~ treatment"
_LMM_FORMULA = "log(length) ~ treatment + (1|replicate)"
_TERM = "treatment[T.drug]"
_DESIGNS = ("within", "between")


def _check_settings(n_replicates, obs_per_replicate, replicate_sd, design, residual_sd,
                    replicate_treatment_sd):
    if design not in _DESIGNS:
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    if not isinstance(n_replicates, (int, np.integer)) or isinstance(n_replicates, bool) or n_replicates < 2:
        raise ValueError(f"n_replicates must be an integer of at least 2, got {n_replicates!r}.")
    minimum = 2 if design == "within" else 1
    if (not isinstance(obs_per_replicate, (int, np.integer)) or isinstance(obs_per_replicate, bool)
            or obs_per_replicate < minimum):
        raise ValueError(
            f"obs_per_replicate must be an integer of at least {minimum} in the {design} design, "
            f"got {obs_per_replicate!r}."
        )
    for name, value in (("replicate_sd", replicate_sd), ("residual_sd", residual_sd),
                        ("replicate_treatment_sd", replicate_treatment_sd)):
        if not isinstance(value, (int, float, np.number)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
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


def _replicate_means_test(df: pd.DataFrame, design: str) -> tuple[float, float]:
    """p-value and df of the t-test on per-replicate means of log(length)."""
    logs = df.assign(log_length=np.log(df["length"]))
    means = logs.groupby(["replicate", "treatment"], observed=True)["log_length"].mean().unstack("treatment")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few replicates: scipy warns and returns nan
        if design == "within":
            diff = (means["drug"] - means["control"]).to_numpy()
            res = stats.ttest_1samp(diff, 0.0)
            dof = len(diff) - 1
        else:
            control = means["control"].dropna().to_numpy()
            drug = means["drug"].dropna().to_numpy()
            res = stats.ttest_ind(drug, control)
            dof = len(control) + len(drug) - 2
    p = float(res.pvalue)
    return (p if math.isfinite(p) else math.nan, float(dof))


def _one_experiment(df: pd.DataFrame, design: str, problem: str = "") -> list[dict[str, Any]]:
    rows = []
    try:
        lm = fit_lm(_LM_FORMULA, df)
        rows.append({"method": "naive lm", "p": float(lm.coefs.loc[_TERM, "p"]),
                     "df": float(lm.coefs.loc[_TERM, "df"]), "singular": False, "error": ""})
    except Exception as exc:  # a tiny design can defeat any fit: record it, keep going
        rows.append({"method": "naive lm", "p": math.nan, "df": math.nan, "singular": False, "error": str(exc)})
    if problem:
        # One replicate per arm: the replicate-level analyses have nothing to test with (a
        # mixed model there is either degenerate or singular, i.e. the naive lm in disguise).
        for method in METHODS[1:]:
            rows.append({"method": method, "p": math.nan, "df": 0.0, "singular": False, "error": problem})
        return rows
    p, dof = _replicate_means_test(df, design)
    rows.append({"method": "t-test on replicate means", "p": p, "df": dof, "singular": False,
                 "error": "" if math.isfinite(p) else "too few replicates for a t-test"})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mm = fit(_LMM_FORMULA, df)
        p, dof = float(mm.coefs.loc[_TERM, "p"]), float(mm.coefs.loc[_TERM, "df"])
        error = ""
        # Below one denominator df (one replicate per arm) the t reference is degenerate and
        # p is about 1 whatever the data: "not testable" is the honest record, not "no effect".
        if not (math.isfinite(p) and math.isfinite(dof) and dof >= 1):
            p, error = math.nan, f"no usable test: {dof:.2g} denominator df"
        rows.append({"method": "mixed model", "p": p, "df": dof, "singular": bool(mm.singular), "error": error})
    except Exception as exc:
        rows.append({"method": "mixed model", "p": math.nan, "df": math.nan, "singular": False, "error": str(exc)})
    return rows


def _progress_callback(progress, total):
    """Turn ``progress`` (None, True, or a callable) into a function of the number done."""
    if progress is None or progress is False:
        return (lambda done: None), (lambda: None)
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="simulated experiments")

        def _update(done):
            bar.update(done - bar.n)

        return _update, bar.close
    if callable(progress):
        return (lambda done: progress(done, total)), (lambda: None)
    raise ValueError(f"progress must be None, True (a tqdm bar) or a function progress(done, total), got {progress!r}.")


def simulate_p_values(
    n_replicates: int = 4,
    obs_per_replicate: int = 100,
    replicate_sd: float = 0.2,
    design: str = "between",
    n_sims: int = 200,
    seed: int = 0,
    residual_sd: float = 0.5,
    replicate_treatment_sd: float = 0.0,
    progress: bool | Callable[[int, int], Any] | None = None,
) -> pd.DataFrame:
    """Simulate experiments without a drug effect and record each analysis's p-value.

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
        Number of simulated experiments.
    seed : int, default 0
        Seed of the whole study; experiment ``i`` uses the ``i``-th child stream, so a larger
        ``n_sims`` extends the same sequence of experiments.
    residual_sd : float, default 0.5
        SD of the measurement-level error on the log scale.
    replicate_treatment_sd : float, default 0.0
        SD of the replicate-to-replicate variation of the drug effect (its mean stays 0).
    progress : None, True or callable, optional
        True shows a tqdm bar; a callable is called as ``progress(done, total)`` after each
        experiment (the widget's progress bar).

    Returns
    -------
    pandas.DataFrame
        One row per experiment and method: ``sim``, ``method``, ``p``, ``df`` (the test's
        degrees of freedom), ``singular`` (mixed model at the boundary) and ``error`` (why
        ``p`` is missing, else ""). When :func:`design_problem` finds one replicate per arm,
        only the naive lm is run; the other two methods get ``p`` = NaN and the reason.

    Examples
    --------
    >>> out = simulate_p_values(n_sims=2, obs_per_replicate=10)
    >>> out["method"].unique().tolist()
    ['naive lm', 't-test on replicate means', 'mixed model']
    """
    _check_settings(n_replicates, obs_per_replicate, replicate_sd, design, residual_sd, replicate_treatment_sd)
    if not isinstance(n_sims, (int, np.integer)) or isinstance(n_sims, bool) or n_sims < 1:
        raise ValueError(f"n_sims must be a positive integer, got {n_sims!r}.")
    problem = design_problem(int(n_replicates), design)
    children = np.random.SeedSequence(seed).spawn(int(n_sims))
    update, close = _progress_callback(progress, int(n_sims))
    rows = []
    try:
        for i, child in enumerate(children):
            df = simulate_replicates(
                genes=("A",), n_replicates=int(n_replicates), obs_per_replicate=int(obs_per_replicate),
                design=design, treatment_effects=0.0, replicate_sd=float(replicate_sd),
                replicate_treatment_sd=float(replicate_treatment_sd), residual_sd=float(residual_sd),
                seed=np.random.default_rng(child),
            )
            for row in _one_experiment(df, design, problem):
                rows.append({"sim": i, **row})
            update(i + 1)
    finally:
        close()
    out = pd.DataFrame(rows, columns=["sim", "method", "p", "df", "singular", "error"])
    out.attrs["settings"] = {
        "n_replicates": int(n_replicates), "obs_per_replicate": int(obs_per_replicate),
        "replicate_sd": float(replicate_sd), "design": design, "n_sims": int(n_sims), "seed": seed,
        "residual_sd": float(residual_sd), "replicate_treatment_sd": float(replicate_treatment_sd),
    }
    return out


def false_positive_rates(
    n_replicates: int = 4,
    obs_per_replicate: int = 100,
    replicate_sd: float = 0.2,
    design: str = "between",
    n_sims: int = 200,
    seed: int = 0,
    progress: bool | Callable[[int, int], Any] | None = None,
    *,
    residual_sd: float = 0.5,
    replicate_treatment_sd: float = 0.0,
    alpha: float = 0.05,
    p_values: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """False-positive rate of the naive lm, the t-test on replicate means and the mixed model.

    Every simulated experiment has no drug effect, so every rejection at level ``alpha`` is a
    false positive. A correct method rejects in about ``alpha`` of the experiments.

    Parameters
    ----------
    n_replicates, obs_per_replicate, replicate_sd, design, n_sims, seed, progress
        As in :func:`simulate_p_values`.
    residual_sd, replicate_treatment_sd : float
        As in :func:`simulate_p_values`.
    alpha : float, default 0.05
        Significance level.
    p_values : pandas.DataFrame, optional
        Output of :func:`simulate_p_values` to summarise instead of simulating again.

    Returns
    -------
    pandas.DataFrame
        One row per method in :data:`METHODS` order: ``method``, ``n_sims`` (experiments with
        a usable p-value), ``rejections``, ``rate``, ``ci_low``, ``ci_high`` (95% Wilson
        interval of the rate), ``n_missing`` (experiments the method could not analyse),
        ``median_df`` (the test's typical degrees of freedom) and ``n_singular`` (mixed-model
        fits at the boundary). ``attrs["settings"]`` keeps the simulation settings and
        ``attrs["problem"]`` a sentence from :func:`design_problem` (or "").

    Examples
    --------
    >>> rates = false_positive_rates(n_sims=20, obs_per_replicate=20, seed=1)
    >>> rates["method"].tolist()
    ['naive lm', 't-test on replicate means', 'mixed model']
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    if p_values is None:
        p_values = simulate_p_values(
            n_replicates=n_replicates, obs_per_replicate=obs_per_replicate, replicate_sd=replicate_sd,
            design=design, n_sims=n_sims, seed=seed, residual_sd=residual_sd,
            replicate_treatment_sd=replicate_treatment_sd, progress=progress,
        )
    rows = []
    for method in METHODS:
        sub = p_values[p_values["method"] == method]
        usable = sub["p"].notna()
        n = int(usable.sum())
        k = int((sub.loc[usable, "p"] < alpha).sum())
        low, high = binomial_ci(k, n)
        rows.append({
            "method": method, "n_sims": n, "rejections": k, "rate": k / n if n else math.nan,
            "ci_low": low, "ci_high": high, "n_missing": int((~usable).sum()),
            "median_df": float(sub["df"].median()) if sub["df"].notna().any() else math.nan,
            "n_singular": int(sub["singular"].sum()),
        })
    out = pd.DataFrame(rows)
    settings = dict(p_values.attrs.get("settings", {}))
    settings["alpha"] = alpha
    out.attrs["settings"] = settings
    out.attrs["problem"] = design_problem(settings.get("n_replicates", n_replicates),
                                          settings.get("design", design))
    return out


_VARIABLE = ("n_replicates", "obs_per_replicate", "replicate_sd")


def rate_curve(vary: str, values, *, progress: bool | Callable[[int, int], Any] | None = None,
               **settings: Any) -> pd.DataFrame:
    """False-positive rates of every method as one setting changes and the others stay fixed.

    Parameters
    ----------
    vary : {"n_replicates", "obs_per_replicate", "replicate_sd"}
        The setting to change.
    values : sequence
        Its values, in the order to run them.
    progress : None, True or callable, optional
        As in :func:`simulate_p_values`, but counting the experiments of all values together.
    **settings
        Other keyword arguments of :func:`false_positive_rates` (``design``, ``n_sims``, ``seed``...).
        The same ``seed`` is used for every value, so the curves differ only by the setting.

    Returns
    -------
    pandas.DataFrame
        The :func:`false_positive_rates` tables stacked, with a first column named ``vary``.

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
    n_sims = int(settings.get("n_sims", 200))
    total = n_sims * len(values)
    update, close = _progress_callback(progress, total)
    tables = []
    try:
        for k, value in enumerate(values):
            offset = k * n_sims
            rates = false_positive_rates(**{vary: value}, **settings,
                                         progress=lambda done, _n, offset=offset: update(offset + done))
            tables.append(rates.assign(**{vary: value}))
    finally:
        close()
    out = pd.concat(tables, ignore_index=True)
    out = out[[vary] + [c for c in out.columns if c != vary]]
    out.attrs["settings"] = {**tables[0].attrs["settings"], vary: values}
    out.attrs["vary"] = vary
    return out


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
