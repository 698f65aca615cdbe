"""The studies of notebook 07 (p-values and model comparison).

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from ...data.simulate import simulate_replicates
from ...data.truth import replicate_sd_for_icc
from ...stats.anova import anova
from ...stats.fit import fit
from .runner import RESULT_COLUMNS, _check_n_sims, binomial_ci, rates, run_study

#
# Three studies on simulated replicate experiments: Wald z against t with Satterthwaite df as
# the number of replicates varies, and choosing the random slope by a likelihood-ratio test
# before testing the drug.  They reuse run_study and rates; the coverage of the confidence
# intervals is summarised from the same results table (estimate, se and df are in it).

__all__ = ["icc_to_replicate_sd", "simulate_groups", "wald_and_t_tests", "wald_vs_t_study", "coverage",
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

    The inverse of :func:`true_icc`: ``sd**2 / (sd**2 + residual_sd**2) = icc``; checks ``icc`` with
    the sentence of notebook 07, then calls :func:`~lmmedu.data.truth.replicate_sd_for_icc`.

    Examples
    --------
    >>> from lmmedu.teach.studies import true_icc
    >>> round(true_icc(icc_to_replicate_sd(0.2)), 6)
    0.2
    """
    if not isinstance(icc, (int, float, np.number)) or isinstance(icc, bool) or not 0 <= icc < 1:
        raise ValueError(f"icc must be a number from 0 up to (not including) 1, got {icc!r}.")
    return replicate_sd_for_icc(icc, residual_sd)


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


def _without_truth(data: pd.DataFrame) -> pd.DataFrame:
    """The simulated data without the truth in ``attrs``, for studies whose analyses never read it.

    pandas deep-copies ``attrs`` on every column access, and a fit reads the columns many times.
    """
    data.attrs = {}
    return data


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
        # ndtr is the normal CDF without scipy.stats' argument handling (same value, far cheaper).
        return {"estimate": float(c["estimate"]), "se": float(c["se"]), "df": math.inf,
                "p": float(2.0 * special.ndtr(-abs(z))), "singular": bool(model.singular)}

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
        return _without_truth(simulate_groups(rng, n_groups=n_groups, group_size=group_size, icc=icc,
                                              design="between"))

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
    >>> import pandas as pd
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
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    intercept = _OneFit("log(length) ~ treatment + (1|replicate)")
    slope = _OneFit("log(length) ~ treatment + (1 + treatment|replicate)")

    last = {"data": None, "p": math.nan}

    def slope_test(data):
        # Two analyses read the slope test; run_study hands both the same data object.
        if last["data"] is not data:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = anova(intercept(data), slope(data))
            last.update(data=data, p=float(table["p"].iloc[1]))
        return last["p"]

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
        return _without_truth(simulate_groups(rng, n_groups=n_groups, group_size=group_size, icc=icc,
                                              design="within", slope_sd=slope_sd))

    return run_study(simulate, selection_analyses(alpha=alpha), n_sims=n_sims, seed=seed, progress=progress,
                     grid=grid, settings={"design": "within", "truth": 0.0, "alpha": alpha})


# What notebook 07's Wald-vs-t app shows: the preview of a setting before any simulation, and
# the rates and one sentence after a run.  The app (lmmedu.teach.widgets.WaldVsTMachine) only
# holds the controls, calls these and displays.

def wald_vs_t_preview(n_groups: int, group_size: int, icc: float) -> str:
    """What a setting implies before simulating: df of the test and the z test's expected error.

    With ``n_groups`` replicates split between two arms, the drug is compared between
    replicates and a t test has about ``n_groups - 2`` denominator df. If that t distribution
    were exact, a z test (critical value 1.96) would reject a true null with probability
    ``P(|T| > 1.96)``: the number this preview prints.

    Parameters
    ----------
    n_groups : int
    group_size : int
    icc : float

    Returns
    -------
    str
        HTML text, one sentence a line.

    Examples
    --------
    >>> "about 2 df" in wald_vs_t_preview(4, 20, 0.2)
    True
    """
    icc_to_replicate_sd(icc)  # validates
    deff = 1.0 + (group_size - 1) * icc
    n_rows = n_groups * group_size
    parts = [f"{n_rows:,} measurements in {n_groups} replicates of {group_size}; ICC {icc:.2f}, design effect "
             f"1 + ({group_size} - 1) x {icc:.2f} = {deff:.1f}."]
    df = n_groups - 2
    if df < 1:
        parts.append("With one replicate per arm nothing is left to estimate how much replicates differ: the t "
                     "test has no df and gives no p-value, while the z test still prints one.")
    else:
        z_error = 2 * stats.t.sf(stats.norm.ppf(0.975), df)
        parts.append(f"The drug is compared between replicates: the t test has about {df} df. If the t "
                     f"distribution on {df} df is right, a z test rejects a true null about {z_error:.0%} of the "
                     "time instead of 5%.")
    if icc == 0:
        parts.append("With ICC 0 the replicates do not differ: many fits will be singular (the model becomes "
                     "the lm).")
    return "<br>".join(html.escape(p) for p in parts)


@dataclass(frozen=True, eq=False)
class WaldVsTRun:
    """One run of :func:`wald_vs_t_run`: the rates table and one sentence about it."""

    #: The :func:`rates_and_coverage` table of the run (one setting, the two tests).
    table: pd.DataFrame
    #: One sentence with the two rates and coverages.
    summary: str


def wald_vs_t_run(n_groups: int = 4, group_size: int = 20, icc: float = 0.2, *, n_sims: int = 200, seed: int = 7,
                  progress: bool | Callable[[int, int], None] = False) -> WaldVsTRun:
    """Simulate ``n_sims`` experiments at one setting and say how often each test rejects.

    :func:`wald_vs_t_study` at one setting, summarised by :func:`rates_and_coverage`, with one
    sentence giving each test's false-positive rate (95% Wilson interval) and interval coverage.

    Examples
    --------
    >>> run = wald_vs_t_run(4, 5, 0.2, n_sims=4)
    >>> run.table["analysis"].tolist() == [WALD_Z, SATTERTHWAITE_T]
    True
    >>> run.summary.startswith("4 experiments, 4 replicates of 5, ICC 0.20")
    True
    """
    results = wald_vs_t_study(n_groups=int(n_groups), group_size=int(group_size), icc=float(icc), n_sims=n_sims,
                              seed=seed, progress=progress)
    table = rates_and_coverage(results)
    rows = table.set_index("analysis")
    parts = []
    for name in (WALD_Z, SATTERTHWAITE_T):
        r = rows.loc[name]
        if r["n_sims"] == 0:
            parts.append(f"{name}: no usable test ({int(r['n_missing'])} experiments without df)")
        else:
            parts.append(f"{name}: {r['rate']:.1%} false positives (95% interval {r['ci_low']:.1%} to "
                         f"{r['ci_high']:.1%}), intervals cover the truth {r['coverage']:.1%}")
    summary = (f"{n_sims} experiments, {n_groups} replicates of {group_size}, ICC {icc:.2f}, no true "
               "effect. " + "; ".join(parts) + ".")
    return WaldVsTRun(table=table, summary=summary)


__all__ += ["wald_vs_t_preview", "WaldVsTRun", "wald_vs_t_run"]
