"""The study runner of :mod:`lmmedu.teach.studies`: one runner, one rates table, one progress helper.

:func:`run_study` runs named analyses on simulated data sets, one row per simulation and
analysis; :func:`rates` turns that table into rejection rates with Wilson intervals
(:func:`binomial_ci`); :func:`progress_callback` resolves every study's ``progress`` argument
(the one place that knows tqdm). :func:`coefficient_test` makes the commonest analysis, the
test of one coefficient. The contract is in :mod:`lmmedu.teach`; the lessons' studies are in
the modules named for them.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...stats.fit import fit, fit_lm

__all__ = [
    "progress_callback",
    "run_study",
    "rates",
    "coefficient_test",
    "binomial_ci",
    "RESULT_COLUMNS",
    "RATE_COLUMNS",
    "INTERVAL_COLUMNS",
]



# --------------------------------------------------------------------------------------
# The contract: one progress helper, one runner, one rates table
# --------------------------------------------------------------------------------------

#: Columns of :func:`run_study`'s table after the setting columns.
RESULT_COLUMNS = ("sim", "analysis", "estimate", "se", "df", "p", "singular", "error")
#: Optional columns of :func:`run_study`'s table, after :data:`RESULT_COLUMNS`: the limits of an
#: interval for ``estimate``. A study of intervals (how often they cover a known truth) cannot fit
#: its two numbers into ``p``; the columns appear only when an analysis returns them.
INTERVAL_COLUMNS = ("lower", "upper")
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
    row = {"estimate": math.nan, "se": math.nan, "df": math.nan, "p": math.nan, "singular": False, "error": "",
           "lower": math.nan, "upper": math.nan}
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
    for key in ("estimate", "se", "df", "p", *INTERVAL_COLUMNS):
        row[key] = float(row[key])
    row["singular"] = bool(row["singular"])
    interval = "lower" in out or "upper" in out
    if interval and not (math.isfinite(row["lower"]) and math.isfinite(row["upper"])) and not row["error"]:
        row["error"] = "no interval"
    if not interval and not math.isfinite(row["p"]) and not row["error"]:
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
        ``df``, ``singular``, ``error``; an analysis that computes an interval instead of a
        test returns ``lower`` and ``upper`` (and may leave out ``p``). An analysis that raises
        is recorded with ``p`` = NaN and its message in ``error``.
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
        Columns ``<setting columns>, sim, analysis, estimate, se, df, p, singular, error``,
        then ``lower, upper`` if an analysis returned an interval; ``attrs["settings"]`` and
        ``attrs["setting_columns"]``.

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
    with_interval = any(r["lower"] == r["lower"] or r["upper"] == r["upper"] for r in rows)
    out = pd.DataFrame(rows, columns=[*columns, *RESULT_COLUMNS, *(INTERVAL_COLUMNS if with_interval else ())])
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
    columns = list(results.attrs.get("setting_columns", [c for c in results.columns
                                                         if c not in (*RESULT_COLUMNS, *INTERVAL_COLUMNS)]))
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
