"""The comparison of notebook 07 (p-values and model comparison).

Part of :mod:`lmmedu.teach.comparison`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats
from scipy.optimize import brentq

from ...stats.anova import anova as _lrt
from ...stats.bootstrap import POSITIVE_LRT, pb_modcomp
from ...stats.fit import fit as _fit
from ...stats.fit import fit_lm as _fit_lm
from ...stats.ftest import f_table
from ...stats.results import is_fit, is_mixed

# Residual diagnostics: the numbers behind the residual, QQ and per-group plots.

__all__ = ["residual_table", "residual_means", "residual_spread_ratio"]


def residual_table(fit, group=None, by=None):
    """Fitted values, residuals and normal quantiles of a fit, one row per observation.

    For a mixed model the residuals are conditional on the random effects (response minus
    fixed part minus the group's predicted random effects), as ``residuals(lmer_fit)`` in R.

    Parameters
    ----------
    fit : LmFit or MixedFit
        A fit from :func:`lmmedu.fit` or :func:`lmmedu.fit_lm`.
    group : str or array-like, optional
        Column of the fitted data that names the groups, or one value per row; default the
        mixed model's first grouping factor (none for an lm, whose fitted data keep only the
        model's columns: pass ``group=data["replicate"]``).
    by : str or array-like, optional
        Another column (or values) to carry along (e.g. ``"treatment"``), to colour points by.

    Returns
    -------
    pandas.DataFrame
        Columns ``fitted``, ``residual``, ``scaled`` (residual / residual SD of the fit),
        ``normal_quantile`` (where the scaled residual would lie if residuals were normal:
        the ``(rank - 0.5) / n`` quantile of the standard normal), and ``group`` / ``by`` when
        given. ``attrs``: ``model`` (the formula), ``group``, ``by``.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",)))
    >>> tab = residual_table(m, by="treatment")
    >>> list(tab.columns)
    ['fitted', 'residual', 'scaled', 'normal_quantile', 'group', 'by']
    """
    from scipy import stats

    if not is_fit(fit):
        raise ValueError(f"residual_table needs a fit made by lmmedu.fit or lmmedu.fit_lm, not {type(fit).__name__}.")
    if group is None and is_mixed(fit):
        group = fit.blocks[0].term.group
    columns = {}
    for name, col in (("group", group), ("by", by)):
        if col is None:
            continue
        if isinstance(col, str):
            if col not in fit.data.columns:
                raise ValueError(f"{name}={col!r} is not a column of the fitted data (columns {list(fit.data.columns)}); "
                                 f"pass the column's values instead, e.g. {name}=data[{col!r}].")
            columns[name] = fit.data[col].to_numpy()
        else:
            values = np.asarray(col)
            if values.shape != (fit.nobs,):
                raise ValueError(f"{name} must be a column name or {fit.nobs} values, one per row of the fit; "
                                 f"got shape {values.shape}.")
            columns[name] = values
    fitted = np.asarray(fit.fitted(), dtype=float)
    resid = np.asarray(fit.residuals(), dtype=float)
    scaled = resid / float(fit.sigma)
    n = len(resid)
    ranks = stats.rankdata(scaled, method="ordinal")
    table = pd.DataFrame({"fitted": fitted, "residual": resid, "scaled": scaled,
                          "normal_quantile": stats.norm.ppf((ranks - 0.5) / n)})
    for name, values in columns.items():
        table[name] = values
    table.attrs.update(model=fit.formula if is_mixed(fit) else fit.parsed.fixed_formula_r, response=fit.response,
                       group=group if isinstance(group, str) else None, by=by if isinstance(by, str) else None)
    return table


def residual_means(table):
    """Mean residual of every group (and ``by`` level): what a well-specified model leaves near 0.

    A random intercept absorbs each group's overall offset, so group means of its residuals are
    about 0; if the effect of ``by`` differs between groups and the model has no random slope
    for it, the residual means of the ``by`` levels within a group move in opposite directions.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`residual_table` with a ``group`` column.

    Returns
    -------
    pandas.DataFrame
        One row per group (and ``by`` level): ``group``, ``by``, ``mean_residual``, ``n``.

    Examples
    --------
    >>> t = pd.DataFrame({"residual": [1.0, -1.0, 0.5, 0.5], "group": ["a", "a", "b", "b"]})
    >>> residual_means(t)["mean_residual"].tolist()
    [0.0, 0.5]
    """
    if not isinstance(table, pd.DataFrame) or "residual" not in table or "group" not in table:
        raise ValueError("residual_means needs the output of residual_table(fit, group=...) with a group column.")
    keys = ["group", "by"] if "by" in table.columns else ["group"]
    out = (table.groupby(keys, observed=True, sort=True)["residual"]
           .agg(mean_residual="mean", n="size").reset_index())
    return out


def residual_spread_ratio(table):
    """SD of the residuals in the top third of fitted values over that in the bottom third.

    About 1 when the residual spread does not depend on the fitted value; clearly above 1 is
    the funnel of a response whose noise grows with its level (e.g. lengths on their own scale).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`residual_table`.

    Returns
    -------
    float

    Examples
    --------
    >>> t = pd.DataFrame({"fitted": [1, 1, 2, 2, 3, 3], "residual": [-1, 1, 0, 0, -3, 3]})
    >>> round(residual_spread_ratio(t), 6)
    3.0
    """
    if not isinstance(table, pd.DataFrame) or not {"fitted", "residual"} <= set(table.columns):
        raise ValueError("residual_spread_ratio needs the output of residual_table (columns fitted and residual).")
    low, high = table["fitted"].quantile([1 / 3, 2 / 3])
    top = table.loc[table["fitted"] >= high, "residual"].std()
    bottom = table.loc[table["fitted"] <= low, "residual"].std()
    return float(top / bottom)


# The parametric bootstrap as referee: every p-value of one fixed effect side by side, for a
# random part that ignores the replicates' own drug effects and for one that has them; and the
# test of a variance, where the null value sits on the boundary.

__all__ += ["REFEREE_MODELS", "REFEREE_TESTS", "LM_ROW", "referee_table", "variance_test_table",
            "mixture_p_value", "lrt_tails"]

#: Random parts compared by :func:`referee_table`: label -> lme4 random terms.
REFEREE_MODELS = {"random intercept only": "(1|replicate)", "random slope": "(1 + treatment|replicate)"}
#: The four tests of a fixed effect in a mixed model, in display order, with the R call of each.
REFEREE_TESTS = {
    "chi-square LRT (ML)": "anova(m0, m1)  # both REML = FALSE",
    "parametric bootstrap LRT (ML)": "pbkrtest::PBmodcomp(m1, m0, nsim = n_boot)",
    "F, Satterthwaite df (REML)": "anova(m)  # lmerTest",
    "F, Kenward-Roger df (REML)": 'anova(m, ddf = "Kenward-Roger")  # or pbkrtest::KRmodcomp',
}
#: The model and test label of the lm row of :func:`referee_table`.
LM_ROW = ("lm (every measurement a unit)", "F (lm)")
_REFEREE_COLUMNS = ["model", "test", "statistic", "num_df", "den_df", "p", "singular"]


def _check_data(data, columns, who):
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{who} needs a DataFrame of one experiment (e.g. from simulate_groups), "
                         f"not {type(data).__name__}.")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{who} needs the columns {columns}; the data have no {missing}.")


def referee_table(data, response="log(length)", term="treatment", reduced="1", models=None, n_boot=200, seed=1,
                  n_jobs=1):
    """Every p-value of one fixed effect, side by side, for each random part: who is right?

    For each random part in ``models`` the term is tested four ways (:data:`REFEREE_TESTS`): the
    chi-square likelihood-ratio test of two ML fits, the parametric-bootstrap LRT of the same
    two fits (data simulated from the fit *without* the term, as pbkrtest's ``PBmodcomp``), and
    the F tests of the REML fit with Satterthwaite and Kenward-Roger df (lmerTest's
    ``anova(fit)``). A first row gives the lm's F test, which treats every row as a unit.

    The bootstrap is the referee for the chi-square's small-sample optimism, but it simulates
    from the model it is given: from a model that leaves out variation the data have, its null
    distribution is too narrow as well.

    Parameters
    ----------
    data : pandas.DataFrame
        One experiment, e.g. from :func:`lmmedu.teach.studies.simulate_groups`.
    response : str, default "log(length)"
    term : str, default "treatment"
        The fixed-effect term tested; the full fixed part is ``term`` alone.
    reduced : str, default "1"
        The fixed part without the term.
    models : dict, optional
        Label -> random terms; default :data:`REFEREE_MODELS`.
    n_boot : int, default 200
        Simulated data sets per bootstrap test (p-values resolve to 1 / (n_boot + 1)).
    seed : int, default 1
        Seed of the bootstrap (the same for every random part).
    n_jobs : int, default 1

    Returns
    -------
    pandas.DataFrame
        One row per random part and test (the lm first), columns ``model``, ``test``,
        ``statistic`` (F, or the LRT: twice the log-likelihood gain), ``num_df``, ``den_df``
        (NaN for the LRTs), ``p``, ``singular`` (the mixed fit's). ``attrs``: ``formulas``
        (label -> formula of the full model), ``r`` (test -> R call), ``null_lrt`` (label -> the
        bootstrap's simulated LRTs), ``n_boot``, ``seed``.

    Examples
    --------
    >>> import numpy as np
    >>> from lmmedu.teach.studies import simulate_groups
    >>> d = simulate_groups(np.random.default_rng(1), n_groups=4, group_size=20, design="within", slope_sd=0.1)
    >>> tab = referee_table(d, n_boot=19)
    >>> tab["test"].tolist()[:3]
    ['F (lm)', 'chi-square LRT (ML)', 'parametric bootstrap LRT (ML)']
    >>> len(tab)
    9
    """
    models = dict(REFEREE_MODELS if models is None else models)
    if not models or not all(isinstance(k, str) and isinstance(v, str) for k, v in models.items()):
        raise ValueError("models must map labels to random terms, e.g. {'random slope': '(1 + treatment|replicate)'}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive whole number such as 200, not {n_boot!r}.")
    _check_data(data, [term], "referee_table")
    rows, formulas, null_lrt = [], {}, {}
    lm = _fit_lm(f"{response} ~ {term}", data)
    lm_f = f_table(lm, terms=term).loc[term]
    rows.append([*LM_ROW, lm_f["F"], lm_f["df"], lm.df_resid, lm_f["p"], False])
    for label, random in models.items():
        full, small = f"{response} ~ {term} + {random}", f"{response} ~ {reduced} + {random}"
        formulas[label] = full
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # singular fits warn; the column singular says so
            m1, m0 = _fit(full, data, reml=False), _fit(small, data, reml=False)
            lrt = _lrt(m0, m1).iloc[1]
            boot = pb_modcomp(m0, m1, n=n_boot, seed=seed, n_jobs=n_jobs)
            reml = _fit(full, data, ddf="kenward-roger")
            ftests = [f_table(reml, ddf=d, terms=term).loc[term] for d in ("satterthwaite", "kenward-roger")]
        null_lrt[label] = boot["lrt"]
        sing = bool(reml.singular)
        rows.append([label, "chi-square LRT (ML)", lrt["Chisq"], lrt["Df"], np.nan, lrt["p"], sing])
        rows.append([label, "parametric bootstrap LRT (ML)", boot["LRT"], lrt["Df"], np.nan, boot["p"], sing])
        for name, f in zip(("F, Satterthwaite df (REML)", "F, Kenward-Roger df (REML)"), ftests):
            rows.append([label, name, f["F"], f["num_df"], f["den_df"], f["p"], sing])
    out = pd.DataFrame(rows, columns=_REFEREE_COLUMNS)
    out = out.astype({"statistic": float, "num_df": float, "den_df": float, "p": float, "singular": bool})
    out.attrs.update(formulas=formulas, r={LM_ROW[1]: f"anova(lm({response} ~ {term}))", **REFEREE_TESTS},
                     null_lrt=null_lrt, n_boot=int(n_boot), seed=seed, term=term)
    return out


def mixture_p_value(lrt, df):
    """p-value of a likelihood ratio for adding one random effect: the 50:50 chi-square mixture.

    Under the null the new variance is zero, the edge of its range, and (for large samples) the
    statistic is 0 half of the time and chi-square with ``df`` degrees of freedom otherwise, where
    ``df - 1`` parameters are the new covariances (Self & Liang 1987; Stram & Lee 1994): the
    p-value is ``0.5 * P(chi2(df - 1) >= lrt) + 0.5 * P(chi2(df) >= lrt)``, chi2(0) being the
    point mass at 0. For one variance (``df = 1``) it is half the chi-square p, lmerTest's
    ``ranova`` p halved (:func:`lmmedu.ranova`'s ``p_boundary``).

    Examples
    --------
    >>> round(mixture_p_value(3.84, 1), 4)
    0.025
    """
    if isinstance(df, bool) or not isinstance(df, (int, float, np.number)) or df < 1 or df != int(df):
        raise ValueError(f"df must be a whole number of at least 1, not {df!r}.")
    lrt = float(lrt)
    lower = (1.0 if lrt <= 0 else 0.0) if df == 1 else _scipy_stats.chi2.sf(lrt, df - 1)
    return float(0.5 * lower + 0.5 * _scipy_stats.chi2.sf(lrt, df))


def variance_test_table(small, big, n_boot=500, seed=1, alpha=0.05, n_jobs=1):
    """Test the variance a larger random part adds: chi-square, 50:50 mixture and bootstrap, and their real levels.

    ``small`` and ``big`` are fits with the same fixed effects whose random parts differ by one
    random effect (e.g. ``(1|replicate)`` and ``(1|replicate) + (1|replicate:treatment)``), both
    by REML or both by ML. The observed LRT is read three ways: against chi-square with as many
    df as extra parameters, against the 50:50 mixture (:func:`mixture_p_value`), and against
    ``n_boot`` LRTs of data simulated from ``small`` (pbkrtest's ``PBmodcomp``). The simulated
    LRTs also say what each reference distribution does when the variance is truly zero: the
    share of them beyond each test's critical value is that test's real level.

    Parameters
    ----------
    small, big : MixedFit
    n_boot : int, default 500
    seed : int, default 1
    alpha : float, default 0.05
        Level of the critical values.
    n_jobs : int, default 1

    Returns
    -------
    pandas.DataFrame
        Rows ``chi-square``, ``50:50 mixture``, ``parametric bootstrap``, ``bootstrap without its
        zeros (PBmodcomp's PBtest)``; columns ``p`` (for the observed LRT), ``critical_value``
        (the LRT a test needs to reject at ``alpha``) and ``null_rejection`` (share of the
        simulated null LRTs at or beyond it). ``attrs``: ``lrt`` (observed), ``df``,
        ``null_lrt`` (the simulated LRTs), ``share_zero`` (their share at 0, below
        :data:`lmmedu.stats.bootstrap.POSITIVE_LRT`), ``n_boot``, ``alpha``.

    Examples
    --------
    >>> import numpy as np, lmmedu
    >>> from lmmedu.teach.studies import simulate_groups
    >>> d = simulate_groups(np.random.default_rng(1), n_groups=4, group_size=20, design="within", slope_sd=0.1)
    >>> small = lmmedu.fit("log(length) ~ treatment + (1|replicate)", d)
    >>> big = lmmedu.fit("log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)", d)
    >>> tab = variance_test_table(small, big, n_boot=19)
    >>> tab.index.tolist()[:3]
    ['chi-square', '50:50 mixture', 'parametric bootstrap']
    >>> bool(tab.loc["50:50 mixture", "p"] <= tab.loc["chi-square", "p"])
    True
    """
    for name, f in (("small", small), ("big", big)):
        if not (is_fit(f) and is_mixed(f)):
            raise ValueError(f"{name} must be a mixed model from lmmedu.fit, not {type(f).__name__}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    if list(small.names) != list(big.names):
        raise ValueError("small and big must have the same fixed effects: this table tests a variance; compare "
                         "fixed effects with referee_table or lmmedu.anova(..., method='bootstrap').")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lrt_row = _lrt(small, big).iloc[1]
    lrt, df = float(lrt_row["Chisq"]), int(lrt_row["Df"])
    boot = pb_modcomp(small, big, n=n_boot, seed=seed, n_jobs=n_jobs)
    null = np.asarray(boot["lrt"], float)
    null = null[np.isfinite(null)]
    positive = null[null > POSITIVE_LRT]
    chi2_crit = float(_scipy_stats.chi2.ppf(1 - alpha, df))
    # The mixture's critical value: where its tail probability equals alpha (below chi-square's).
    mix_crit = float(brentq(lambda x: mixture_p_value(x, df) - alpha, 1e-9, chi2_crit))
    boot_crit = float(np.quantile(null, 1 - alpha))
    pos_crit = float(np.quantile(positive, 1 - alpha)) if len(positive) else np.nan
    rows = {
        "chi-square": (float(lrt_row["p"]), chi2_crit),
        "50:50 mixture": (mixture_p_value(lrt, df), mix_crit),
        "parametric bootstrap": (boot["p"], boot_crit),
        "bootstrap without its zeros (PBmodcomp's PBtest)": (boot["p_positive"], pos_crit),
    }
    out = pd.DataFrame({"p": [v[0] for v in rows.values()], "critical_value": [v[1] for v in rows.values()]},
                       index=pd.Index(list(rows), name="reference"))
    out["null_rejection"] = [float(np.mean(null >= c - 1e-12)) if np.isfinite(c) else np.nan
                             for c in out["critical_value"]]
    out.attrs.update(lrt=lrt, df=df, null_lrt=null, share_zero=float(np.mean(null <= POSITIVE_LRT)),
                     n_boot=int(boot["n"]), alpha=float(alpha))
    return out


def lrt_tails(table, x=None):
    """Tail probabilities P(LRT >= x) of the three reference distributions of :func:`variance_test_table`.

    The p-value of an observed LRT is the height of each curve at that LRT: the numbers behind
    :func:`lmmedu.teach.plots.null_lrt_plot`.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`variance_test_table`.
    x : array-like, optional
        LRT values; default 0 to a little beyond the observed LRT and the chi-square critical value.

    Returns
    -------
    pandas.DataFrame
        Columns ``lrt``, ``chi-square``, ``50:50 mixture``, ``parametric bootstrap`` (the share of
        the simulated null LRTs at or above ``lrt``).

    Examples
    --------
    >>> t = pd.DataFrame({"p": [0.1]}); t.attrs.update(lrt=2.0, df=1, null_lrt=np.array([0.0, 0.0, 1.0, 3.0]))
    >>> lrt_tails(t, x=[0.5, 2.0])["parametric bootstrap"].tolist()
    [0.5, 0.25]
    """
    if not isinstance(table, pd.DataFrame) or not {"lrt", "df", "null_lrt"} <= set(table.attrs):
        raise ValueError("lrt_tails needs the table of variance_test_table (its attrs hold the simulated LRTs).")
    null, df = np.sort(np.asarray(table.attrs["null_lrt"], float)), int(table.attrs["df"])
    if x is None:
        right = max(1.25 * float(table.attrs["lrt"]), 1.25 * float(_scipy_stats.chi2.ppf(0.99, df)))
        x = np.linspace(0.0, right, 301)
    x = np.asarray(x, float)
    boot = 1.0 - np.searchsorted(null, x - 1e-12, side="left") / len(null)
    return pd.DataFrame({"lrt": x, "chi-square": _scipy_stats.chi2.sf(x, df),
                         "50:50 mixture": [mixture_p_value(v, df) for v in x], "parametric bootstrap": boot})
