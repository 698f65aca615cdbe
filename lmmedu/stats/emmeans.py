"""Estimated marginal means and contrasts, as R's emmeans.

A question such as "for each gene, does the drug change its length?" is rarely one
coefficient of ``log(length) ~ treatment*gene``. :func:`emmeans` computes estimated marginal
means on the reference grid (equal weights over the other factors), and :func:`contrasts`
compares them (pairwise, reversed, against a control) with multiplicity adjustment
(:mod:`~lmmedu.stats.multiplicity`) and, for a log response, ratios of geometric means.
Standard errors, df and tests come from the fit's own :meth:`contrast` (the fit's df method for
a mixed model, Satterthwaite by default as lmerTest, or Kenward-Roger (``ddf=``) as R's emmeans
prints by default; residual df for an lm). Results match R's emmeans (tests/fixtures).

Examples
--------
The per-gene question in three lines:

>>> import lmmedu
>>> fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
>>> emm = emmeans(fit, "treatment", by="gene")
>>> tab = contrasts(emm, "revpairwise", type="response", adjust="holm")
>>> tab["contrast"].tolist()
['drug / control', 'drug / control', 'drug / control']
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from .ddf import resolve
from .multiplicity import ADJUST_METHODS, adjust_pvalues, tukey_p, tukey_quantile
from .results import is_mixed
from .terms import (_as_list, _check_fit, _full_matrix, _label, _level_match, _model_vars, _result,
                    _type_name, _unknown)

__all__ = ["EMM", "emmeans", "contrasts"]

_BASES = {"log": math.e, "log2": 2.0, "log10": 10.0}
# Inverse of each response transform and its derivative (for delta-method SEs).
_INVERSE = {
    "log": (np.exp, np.exp),
    "log2": (lambda x: 2.0**x, lambda x: 2.0**x * np.log(2.0)),
    "log10": (lambda x: 10.0**x, lambda x: 10.0**x * np.log(10.0)),
    "log1p": (np.expm1, np.exp),
    "sqrt": (np.square, lambda x: 2.0 * x),
    "exp": (np.log, lambda x: 1.0 / x),
}
_METHODS = ("pairwise", "revpairwise", "trt.vs.ctrl")
_ADJUST = (*ADJUST_METHODS, "tukey")
_KEEP = object()  # "use the EMM's own by-variables"


def _parse_specs(specs, by):
    """``"treatment"``, ``["a", "b"]``, ``"~ treatment | gene"`` -> (specs list, by list)."""
    if isinstance(specs, str):
        text = specs.strip()
        if text.startswith("~"):
            text = text[1:]
        if "|" in text:
            left, _, right = text.partition("|")
            if by is not None:
                raise ValueError(
                    f"specs '{specs}' already gives by-variables after '|'; do not pass by= as well."
                )
            return _as_list(left, "specs"), _as_list(right, "by")
        return _as_list(text, "specs"), _as_list(by, "by")
    return _as_list(specs, "specs"), _as_list(by, "by")


@dataclass
class EMM:
    """Estimated marginal means, as R's emmeans defines them.

    Made by :func:`emmeans`; pass it to :func:`contrasts`.

    Attributes
    ----------
    fit : MixedFit or LmFit
        The model.
    specs : list of str
        Variables whose means are reported.
    by : list of str
        Variables that split the table (means are compared within each).
    grid : pandas.DataFrame
        The reference grid: every combination of the model's factor levels,
        with numeric covariates at their mean (or the ``at`` values).
    L : pandas.DataFrame
        One row per mean, one column per coefficient: mean = L @ beta.  Each
        row is the equal-weight average of the grid's model-matrix rows that
        share the row's specs and by values.
    table : pandas.DataFrame
        Tidy result: the specs and by columns, ``emmean`` (``response`` when
        ``type="response"``), ``se``, ``df``, ``ci_low``, ``ci_high``.
    type : str or None
        ``"response"`` if the means were back-transformed.
    level : float
        Confidence level.
    notes : list of str
        What was averaged over, the df method, the scale.
    ddf : str or None
        The df method asked for (None: the fit's own); :func:`contrasts` uses the same.
    """

    fit: object
    specs: list
    by: list
    grid: pd.DataFrame
    L: pd.DataFrame
    table: pd.DataFrame
    type: str | None
    level: float
    notes: list
    levels: pd.DataFrame  # the specs/by values of each row of L
    numeric: list  # which of specs/by are numeric covariates
    ddf: str | None = None

    def __repr__(self):
        with pd.option_context("display.width", 200, "display.max_columns", None):
            text = self.table.to_string(index=False)
        return text + "\n\n" + "\n".join(self.notes)

    def _repr_html_(self):
        return self.table.to_html(index=False) + "<p style='font-size:90%'>" + "<br>".join(
            html.escape(n) for n in self.notes) + "</p>"


def _df_method(fit, ddf):
    """emmeans' name of the df method, e.g. 'satterthwaite' or 'kenward-roger'."""
    if not is_mixed(fit):
        return "residual (lm)"
    return resolve(fit.ddf if ddf is None else ddf).key


def _estimable(fit, grid, L_full_rows):
    """Which rows of a full-column L are estimable (in the row space of X)."""
    if not getattr(fit.design, "dropped", None):
        return np.ones(L_full_rows.shape[0], dtype=bool)
    X_full = _full_matrix(fit, fit.data)
    # The null space of X is that of X'X (p x p), which is cheap whatever n is.
    scale = np.sqrt((X_full**2).sum(axis=0))
    scale[scale == 0] = 1.0
    Xs = X_full / scale
    ev, vecs = np.linalg.eigh(Xs.T @ Xs)
    null = vecs[:, ev <= ev.max() * 1e-10] / scale[:, None]
    scale = np.maximum(1.0, np.abs(L_full_rows).max(axis=1))
    return np.all(np.abs(L_full_rows @ null) <= 1e-8 * scale[:, None], axis=1)


def emmeans(fit, specs, by=None, at=None, type=None, level=0.95, ddf=None):
    """Estimated marginal means (least-squares means), as R's ``emmeans``.

    The reference grid holds every combination of the model's factor levels,
    with each numeric covariate at its mean (or at the values in ``at``).
    The mean for one level of ``specs`` (within one level of ``by``) is the
    model's prediction averaged with *equal weights* over the grid's other
    factors, so unbalanced data do not tilt it.  Standard errors and df come
    from the fit's df method (``fit.ddf``, Satterthwaite unless the fit or
    ``ddf`` says otherwise; residual df for an lm).

    Unlike R, the df stay Satterthwaite (or Kenward-Roger) at any data size:
    R's emmeans switches to asymptotic df (df = Inf, z-based intervals) above
    3,000 observations unless ``emm_options(lmerTest.limit = ...)`` (or
    ``pbkrtest.limit``) is raised; lmmedu computes the df always.  R's emmeans
    uses Kenward-Roger by default when pbkrtest is installed.  To print what R
    prints for these data, pass ``ddf=lmmedu.stats.ddf.r_default_ddf(fit.nobs)``.

    Parameters
    ----------
    fit : MixedFit or LmFit
    specs : str or list of str
        Variables whose means are wanted, e.g. ``"treatment"`` or
        ``["treatment", "gene"]``.  R-style ``"~ treatment | gene"`` is also
        understood (the part after ``|`` becomes ``by``).
    by : str or list of str, optional
        Variables that split the table; contrasts are made within each.
    at : dict, optional
        ``{covariate: value or list}`` to hold a numeric covariate elsewhere
        than its mean, or ``{factor: level or list}`` to restrict the grid.
    type : {None, "response"}
        ``"response"`` back-transforms a transformed response: for
        ``log(y)``, ``exp(mean)`` is the geometric mean, with CI
        ``exp(limits)`` and a delta-method SE (as emmeans).
    level : float, default 0.95
        Confidence level.
    ddf : str, optional
        df method for a mixed fit (``"satterthwaite"``, ``"kenward-roger"`` or ``"asymptotic"``,
        see :mod:`lmmedu.stats.ddf`), as emmeans' ``lmer.df``; default the fit's own.
        :func:`lmmedu.stats.ddf.r_default_ddf` says which one R's emmeans would use for a data set.
        Contrasts of the result use the same method.

    Returns
    -------
    EMM
        ``.table`` is the tidy result (columns: specs and by, ``emmean`` or
        ``response``, ``se``, ``df``, ``ci_low``, ``ci_high``).

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
    >>> emm = lmmedu.emmeans(fit, "treatment", by="gene")
    >>> emm.table.columns.tolist()
    ['treatment', 'gene', 'emmean', 'se', 'df', 'ci_low', 'ci_high']
    >>> lmmedu.emmeans(fit, "~ gene").table["gene"].tolist()
    ['A', 'B', 'C']
    """
    _check_fit(fit)
    if getattr(fit.parsed, "offsets", ()):
        raise ValueError(
            "emmeans() does not handle a model with offset(...) yet (R's emmeans adds the offset at the grid's "
            "values); compare coefficients with fit.contrast(), where the offset cancels.")
    specs_l, by_l = _parse_specs(specs, by)
    if not specs_l:
        raise ValueError("specs must name at least one variable of the model, e.g. 'treatment'.")
    mv = _model_vars(fit)
    for name in specs_l + by_l:
        if name not in mv.cat and name not in mv.num_vars:
            raise _unknown(name, mv, "variable")
    if len(set(specs_l + by_l)) != len(specs_l + by_l):
        raise ValueError(f"A variable appears twice in specs/by ({specs_l} | {by_l}); list each once.")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), not {level!r}.")
    type = _check_type(fit, type, ratios=False)
    method = _df_method(fit, ddf)  # an unknown ddf fails before any work

    # Values of each variable on the reference grid.
    values = {v: list(mv.cat[v]) for v in mv.cat}
    for v in mv.num_vars:
        values[v] = [float(pd.to_numeric(fit.data[v]).mean())]
    for name, val in (at or {}).items():
        if name not in values:
            raise _unknown(name, mv, "variable in at")
        vals = list(val) if isinstance(val, (list, tuple, np.ndarray, pd.Series)) else [val]
        if not vals:
            raise ValueError(f"at['{name}'] is empty; give at least one value.")
        if name in mv.cat:
            values[name] = [_level_match(name, x, mv.cat[name]) for x in vals]
        else:
            values[name] = [float(x) for x in vals]
    order = [v for v in mv.order if v in values]
    grid = pd.DataFrame(list(itertools.product(*[values[v] for v in reversed(order)])), columns=order[::-1])
    grid = grid[order] if order else pd.DataFrame(index=[0])
    X_full = _full_matrix(fit, grid) if order else np.ones((1, len(fit.design.design_info.column_names)))

    wanted = specs_l + by_l
    combos = [c[::-1] for c in itertools.product(*[values[v] for v in reversed(wanted)])]
    L_full = np.empty((len(combos), X_full.shape[1]))
    for i, combo in enumerate(combos):
        mask = np.ones(len(grid), dtype=bool)
        for v, val in zip(wanted, combo):
            mask &= (grid[v] == val).to_numpy()
        L_full[i] = X_full[mask].mean(axis=0)
    ok = _estimable(fit, grid, L_full)
    L = L_full[:, fit.design.keep]
    levels = pd.DataFrame(combos, columns=wanted)
    for v in wanted:
        if v in mv.cat:
            levels[v] = pd.Categorical(levels[v], categories=values[v])

    est, se, df, lo, hi = _estimate(fit, L, level, ddf)
    est[~ok] = se[~ok] = df[~ok] = lo[~ok] = hi[~ok] = np.nan
    table = levels.copy()
    notes = []
    averaged = [v for v in order if v not in wanted and (v in mv.cat or len(values[v]) > 1)]
    if averaged:
        notes.append(f"Results are averaged over the levels of: {', '.join(averaged)}")
    held = [f"{v} = {', '.join(f'{x:.4g}' for x in values[v])}" for v in mv.num_vars if v not in wanted]
    if held:
        notes.append("Covariates held at: " + "; ".join(held) + (" (their mean)" if not at else ""))
    notes.append(f"Degrees-of-freedom method: {method}")
    if type == "response":
        inv, deriv = _INVERSE[fit.transform]
        table["response"] = inv(est)
        table["se"] = np.abs(deriv(est)) * se
        table["df"] = df
        table["ci_low"], table["ci_high"] = inv(lo), inv(hi)
        if fit.transform in _BASES:
            notes.append(f"Back-transformed from the {fit.transform} scale: geometric means of "
                         f"{fit.parsed.response_var} (delta-method SE)")
        else:
            notes.append(f"Back-transformed from the {fit.transform} scale (delta-method SE)")
    else:
        table["emmean"], table["se"], table["df"], table["ci_low"], table["ci_high"] = est, se, df, lo, hi
        if fit.transform:
            notes.append(f"Results are on the {fit.transform} scale ({fit.parsed.response}); "
                         "type='response' back-transforms")
    notes.append(f"Confidence level used: {level:g}")
    if not ok.all():
        notes.append("Some means are not estimable (a combination of levels with no data); they are NaN")
    row_names = [" ".join(_label(x) for x in c) for c in combos]
    L_df = pd.DataFrame(L, index=row_names, columns=fit.names)
    numeric = [v for v in wanted if v not in mv.cat]
    return EMM(fit, specs_l, by_l, grid, L_df, table, type, level, notes, levels, numeric, ddf)


def _estimate(fit, L, level, ddf):
    """Estimate, SE, df and CI of each row of L: the fit's own contrast method."""
    tab = fit.contrast(np.atleast_2d(L), level=level, ddf=ddf)
    return (tab["estimate"].to_numpy(dtype=float).copy(), tab["se"].to_numpy(dtype=float).copy(),
            tab["df"].to_numpy(dtype=float).copy(), tab["ci_low"].to_numpy(dtype=float).copy(),
            tab["ci_high"].to_numpy(dtype=float).copy())


def _check_type(fit, type, ratios):
    if type in (None, "link"):
        return None
    if type != "response":
        raise ValueError(f"type must be None or 'response', not {type!r}.")
    tr = fit.transform
    if tr is None and getattr(fit.parsed, "response_code", None):
        raise ValueError(
            f"type='response' cannot back-transform the response '{fit.parsed.response}'; lmmedu back-transforms "
            f"log, log2, log10, log1p (also written log({fit.parsed.response_var} + 1)), sqrt and exp of a column."
        )
    if tr is None:
        raise ValueError(
            f"type='response' needs a transformed response such as log({fit.parsed.response_var}), but this "
            f"model's response '{fit.parsed.response}' is not transformed, so its results are already on the "
            "response scale."
        )
    if ratios and tr not in _BASES:
        raise ValueError(
            f"type='response' contrasts are ratios, which need a log response (log, log2 or log10), "
            f"not {tr}({fit.parsed.response_var})."
        )
    if tr not in _INVERSE:
        raise ValueError(f"lmmedu cannot back-transform the response {fit.parsed.response}.")
    return "response"


# ---------------------------------------------------------------------------
# contrasts
# ---------------------------------------------------------------------------


def _contrast_matrix(labels, method, ref):
    k = len(labels)
    rows, pairs = [], []
    eye = np.eye(k)
    if method == "pairwise":
        for i in range(k):
            for j in range(i + 1, k):
                rows.append(eye[i] - eye[j])
                pairs.append((i, j))
    elif method == "revpairwise":
        for j in range(k):
            for i in range(j + 1, k):
                rows.append(eye[i] - eye[j])
                pairs.append((i, j))
    else:
        for i in range(k):
            if i != ref:
                rows.append(eye[i] - eye[ref])
                pairs.append((i, ref))
    return np.array(rows).reshape(len(rows), k), pairs


def contrasts(emm, method="pairwise", by=_KEEP, adjust="none", type=None, family="auto", level=None, ref=None):
    """Compare estimated marginal means: differences (or ratios) with tests and CIs.

    Parameters
    ----------
    emm : EMM
        From :func:`emmeans`.
    method : {"pairwise", "revpairwise", "trt.vs.ctrl"}
        ``"pairwise"``: every pair, earlier level minus later ("control -
        drug"); ``"revpairwise"``: later minus earlier ("drug - control"), in
        R's order; ``"trt.vs.ctrl"``: every level minus the reference (the
        first level, or ``ref``).
    by : str, list of str or None, optional
        Variables within which to compare; default: the EMM's ``by``.  None
        compares all rows of the EMM with each other.
    adjust : {"none", "holm", "bonferroni", "fdr", "tukey"}
        Multiplicity adjustment of ``p`` into ``p_adj`` (default "none";
        note that R's ``pairs()`` defaults to Tukey).  Confidence limits are
        adjusted as emmeans does: Tukey limits for ``"tukey"``, Bonferroni
        limits for ``"holm"``, ``"bonferroni"`` and ``"fdr"`` (there are no
        step-down intervals), unadjusted for ``"none"``.  Tukey uses the
        studentized range (R's ptukey) with each contrast's df, and only
        applies to pairwise comparisons within one family.
    type : {None, "response"}, optional
        ``"response"`` (log responses only): report ratios of geometric means
        ``exp(estimate)`` with CI ``exp(limits)`` and a ``percent`` change.
        Default: the EMM's type.
    family : {"auto", "by", "all"}
        The set of tests adjusted together.  ``"by"`` (emmeans' default): the
        contrasts within one by-group.  ``"all"``: every contrast in the table,
        e.g. Holm over the three per-gene drug effects, which is R's
        ``summary(pairs(emm, reverse = TRUE), by = NULL, adjust = "holm")``.
        ``"auto"`` (default): ``"by"``, except when every by-group holds a
        single contrast -- then adjusting within groups would change nothing
        (R silently leaves such p-values unadjusted), so the family is the
        whole table, as "for each gene, does the drug change it?" needs.  The
        notes say which family was used.
    level : float, optional
        Confidence level (default: the EMM's).
    ref : level, optional
        Control level for ``"trt.vs.ctrl"`` (default: the first level).

    Returns
    -------
    ResultTable
        Columns: the by-variables, ``contrast`` (label "drug - control",
        or "drug / control" for ratios), ``estimate`` (``ratio`` for
        type="response"), ``se``, ``df``, ``t``, ``p`` (unadjusted, two-sided),
        ``p_adj``, ``ci_low``, ``ci_high``; with type="response" also
        ``percent`` (100 (ratio - 1)).  ``notes`` says which adjustment and
        family size were used; ``extras["parts"]`` names the two sides of
        every contrast, for report sentences (:func:`lmmedu.contrasts` adds
        them as a ``sentence`` column).

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
    >>> emm = lmmedu.emmeans(fit, "treatment", by="gene")
    >>> tab = lmmedu.contrasts(emm, "revpairwise", type="response", adjust="holm", family="all")
    >>> tab.columns.tolist()[:4]
    ['gene', 'contrast', 'ratio', 'se']
    """
    if not isinstance(emm, EMM):
        raise ValueError(f"emm must be the result of lmmedu.emmeans, not {_type_name(emm)}.")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(_METHODS)}, not {method!r}.")
    if adjust not in _ADJUST:
        raise ValueError(f"adjust must be one of {', '.join(_ADJUST)}, not {adjust!r}.")
    if family not in ("auto", "by", "all"):
        raise ValueError(
            f"family must be 'auto', 'by' (within each by-group) or 'all' (the whole table), not {family!r}."
        )
    fit = emm.fit
    level = emm.level if level is None else level
    if type is None:
        type = emm.type
    type = _check_type(fit, type, ratios=True)
    wanted = emm.specs + emm.by
    by_l = list(emm.by) if by is _KEEP else _as_list(by, "by")
    for v in by_l:
        if v not in wanted:
            raise ValueError(f"The by-variable '{v}' is not one of the EMM's variables ({', '.join(wanted)}).")
    compare = [v for v in wanted if v not in by_l]
    if not compare:
        raise ValueError("Nothing is left to compare: every variable of the EMM is a by-variable.")
    numeric = [v for v in compare if v in emm.numeric]
    if numeric:
        raise ValueError(
            f"'{numeric[0]}' is a numeric covariate, so it has no levels to compare pairwise; compare factors, "
            "or read its slope from the coefficients."
        )
    if adjust == "tukey" and method == "trt.vs.ctrl":
        raise ValueError("adjust='tukey' is for pairwise comparisons; use 'holm' (or 'bonferroni') with trt.vs.ctrl.")

    levels = emm.levels
    L_emm = emm.L.to_numpy()
    by_values = [tuple(r) for r in levels[by_l].astype(object).itertuples(index=False)] if by_l else [()] * len(levels)
    groups = list(dict.fromkeys(by_values))
    if adjust == "tukey" and family == "all" and len(groups) > 1:
        raise ValueError(
            "adjust='tukey' covers one set of pairwise comparisons; with family='all' over several by-groups "
            "use 'holm' or 'bonferroni'."
        )

    emm_ok = np.isfinite(emm.table["se"].to_numpy())
    if family == "auto":
        # Two means in a group make one contrast; Tukey is only defined within a group.
        sizes = [sum(1 for b in by_values if b == g) for g in groups]
        one_each = all(n == 2 for n in sizes) and len(groups) > 1
        family = "all" if one_each and adjust not in ("none", "tukey") else "by"
        auto_all = family == "all"
    else:
        auto_all = False
    rows, Ls, fam, fam_k, bad = [], [], [], [], []
    for g_i, g in enumerate(groups):
        idx = [i for i, b in enumerate(by_values) if b == g]
        labels = [" ".join(_label(levels.iloc[i][v]) for v in compare) for i in idx]
        r = 0
        if method == "trt.vs.ctrl" and ref is not None:
            if len(compare) == 1:
                target = _level_match(compare[0], ref, [levels.iloc[i][compare[0]] for i in idx])
                r = [levels.iloc[i][compare[0]] for i in idx].index(target)
            elif str(ref) in labels:
                r = labels.index(str(ref))
            else:
                raise ValueError(f"The control level {ref!r} does not exist (levels: {', '.join(labels)}).")
        K, pairs = _contrast_matrix(labels, method, r)
        if K.shape[0] == 0:
            continue
        Ls.append(K @ L_emm[idx])
        missing = ~emm_ok[idx]
        bad.extend((np.abs(K[:, missing]) > 0).any(axis=1).tolist())
        for a, b in pairs:
            rows.append({**dict(zip(by_l, g)), "_num": labels[a], "_den": labels[b],
                         "_implicit": len(labels) == 2 and b == 0})
            fam.append(g_i if family == "by" else 0)
            fam_k.append(len(labels))
    if not rows:
        raise ValueError("There is only one level to compare in each group, so there are no contrasts.")
    L = np.vstack(Ls)
    est, se, df, _, _ = _estimate(fit, L, level, emm.ddf)
    bad = np.asarray(bad, dtype=bool)
    est[bad] = se[bad] = df[bad] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    p = 2.0 * scipy.stats.t.sf(np.abs(t), df)
    fam = np.asarray(fam)
    p_adj = np.full_like(p, np.nan)
    crit = np.full_like(p, np.nan)
    for f in np.unique(fam):
        sel = fam == f
        m = int(np.isfinite(p[sel]).sum())
        if adjust == "tukey":
            k = fam_k[int(np.flatnonzero(sel)[0])]
            p_adj[sel] = tukey_p(t[sel], k, df[sel])
            crit[sel] = tukey_quantile(level, k, df[sel])
        else:
            p_adj[sel] = adjust_pvalues(p[sel], adjust)
            alpha = (1 - level) / (m if adjust != "none" and m > 0 else 1)
            crit[sel] = scipy.stats.t.ppf(1 - alpha / 2, df[sel])
    lo, hi = est - crit * se, est + crit * se

    out = pd.DataFrame(rows)
    for v in by_l:
        out[v] = pd.Categorical(out[v], categories=list(levels[v].cat.categories)) if hasattr(
            levels[v], "cat") else out[v]
    sep = " / " if type == "response" else " - "
    out.insert(len(by_l), "contrast", [f"{r['_num']}{sep}{r['_den']}" for r in rows])
    fam_sizes = pd.Series(fam).map(pd.Series(fam).value_counts()).to_numpy()
    notes = [f"Degrees-of-freedom method: {_df_method(fit, emm.ddf)}"]
    if type == "response":
        base = _BASES[fit.transform]
        ratio = base**est
        out["ratio"] = ratio
        out["se"] = ratio * np.log(base) * se
        out["df"], out["t"], out["p"], out["p_adj"] = df, t, p, p_adj
        out["ci_low"], out["ci_high"] = base**lo, base**hi
        out["percent"] = 100.0 * (ratio - 1.0)
        notes.append(f"Ratios of geometric means: tests and intervals on the {fit.transform} scale, "
                     "back-transformed (percent = 100 (ratio - 1))")
    else:
        out["estimate"], out["se"], out["df"], out["t"], out["p"], out["p_adj"] = est, se, df, t, p, p_adj
        out["ci_low"], out["ci_high"] = lo, hi
        if fit.transform:
            notes.append(f"Differences on the {fit.transform} scale ({fit.parsed.response}); "
                         "type='response' gives ratios")
    # What a report sentence needs to name each row (see lmmedu.teach.prose.contrast_sentences).
    first = next(iter(_model_vars(fit).cat), None)
    parts = pd.DataFrame({
        "numerator": out["_num"], "denominator": out["_den"], "compared": " ".join(compare),
        "by_label": [", ".join(f"{v} {r[v]}" for v in by_l) for r in rows],
        "implicit_denominator": out["_implicit"],
        "family_size": [int(fs) if adjust != "none" and fs > 1 else 0 for fs in fam_sizes],
        "subject_is_first_factor": compare == [first],
    })
    out = out.drop(columns=["_num", "_den", "_implicit"])
    sizes = sorted(set(fam_sizes.tolist()))
    fam_txt = "all contrasts together" if family == "all" else ("each by-group" if by_l else "all contrasts")
    if auto_all:
        fam_txt += (f", because each {' '.join(by_l)} has only one; family='by' would leave them unadjusted, "
                    "as R's default does")
    if adjust == "none":
        notes.append("P values not adjusted (p_adj = p)")
    elif adjust == "tukey":
        notes.append(f"P value and confidence-level adjustment: tukey method for comparing a family of "
                     f"{fam_k[0]} estimates (family: {fam_txt})")
    else:
        notes.append(f"P value adjustment: {adjust} method for {'/'.join(map(str, sizes))} tests "
                     f"(family: {fam_txt}); confidence limits: bonferroni")
    notes.append(f"Confidence level used: {level:g}")
    return _result(out, notes, {"parts": parts, "response_var": fit.parsed.response_var, "level": level,
                                "ratios": type == "response"})
