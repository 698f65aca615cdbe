"""Your own data (notebook 10): the design checklist, read the way a statistician would before trusting a p-value.

Part of :mod:`lmmedu.teach.comparison`; see the contract in :mod:`lmmedu.teach`.

:func:`design_checklist` (``lmmedu.checklist``) reads a fitted design: how many experimental units
stand behind each effect, whether each predictor varies within or between groups, which treatment
effects need a random slope and whether the data can support one, whether the fit is singular and
whether the df are small. :mod:`.own_data` turns the app's choices into a formula and analyses it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as _stats

from ...stats.fit import fit as _fit
from ...stats.formula import parse_formula
from ...stats.results import is_mixed
from ...stats.terms import names_in as _names_in
from .compare import (effect_carriers, group_codes as _groups, is_nested as _nested, require_mixed as _require_mixed,
                      variation as _variation)

__all__ = ["design_checklist", "CHECKLIST_COLUMNS", "FEW_UNITS", "SMALL_DF", "PATH_STEPS", "PathStep", "choose_ddf"]


class PathStep(NamedTuple):
    """One step of the model-building path: its name, the question it answers, and its R line."""

    step: str
    question: str
    r: str


#: The model-building path, in order; the checklist's ``step`` column names these steps.
PATH_STEPS = (
    PathStep("1. design", "What was randomised or replicated, and which column names those units?",
             "xtabs(~ treatment + replicate, data = d)"),
    PathStep("2. random part", "One random term per kind of unit; a random slope for every treatment that varies "
             "within a unit.", "lmer(y ~ treatment + (1 + treatment | replicate), data = d)"),
    PathStep("3. singular?", "Is a variance estimated at 0, or a correlation at +/-1?", "isSingular(m); VarCorr(m)"),
    PathStep("4. simplify", "Drop what the design allows (a correlation first), never a unit the design has.",
             "lmer(y ~ treatment + (1 | replicate) + (1 | replicate:treatment), data = d)"),
    PathStep("5. REML", "REML for the final fit; ML only to compare fixed parts by likelihood ratio.",
             "lmer(..., REML = TRUE); anova(m0, m1) refits both by ML"),
    PathStep("6. df method", "Satterthwaite, or Kenward-Roger with few groups: do they differ?",
             "summary(m, ddf = \"Kenward-Roger\")"),
    PathStep("7. emmeans / F", "Test each term as a whole, then the contrasts you asked about.",
             "anova(m, ddf = \"Kenward-Roger\"); contrast(emmeans(m, ~ treatment | gene), \"trt.vs.ctrl\")"),
    PathStep("8. report", "Units and their number, model, variance components with intervals, df method, effects "
             "with CIs, software versions.", "confint(m, method = \"profile\"); sessionInfo()"),
)
_STEP = {"groups": 0, "where it varies": 0, "units behind the effect": 0, "random slope": 1, "singular fit": 2,
         "convergence": 2, "REML": 4, "df method": 5, "df": 5}


def choose_ddf(fit):
    """The df method for the final fit's t and F tests: Kenward-Roger with few groups, else Satterthwaite.

    Kenward-Roger (pbkrtest) also corrects the standard errors for estimating the variances, which
    matters when a grouping factor has fewer than :data:`FEW_UNITS` levels; with more levels both
    methods agree closely and Satterthwaite (lmerTest's default) is cheaper.

    Returns
    -------
    method : str
        ``"Kenward-Roger"`` or ``"Satterthwaite"``.
    reason : str

    Examples
    --------
    >>> import lmmedu
    >>> choose_ddf(lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates("between")))[0]
    'Kenward-Roger'
    """
    _require_mixed(fit, "choose_ddf")
    group, n = min(fit.ngroups.items(), key=lambda gn: gn[1])
    if n < FEW_UNITS:
        return "Kenward-Roger", (f"{group} has only {n} levels, so Kenward-Roger's df and its small-sample correction "
                                 "of the standard errors are the safer choice (R: lmerTest's ddf = "
                                 "\"Kenward-Roger\", emmeans' default).")
    return "Satterthwaite", (f"every grouping factor has at least {FEW_UNITS} levels (the fewest: {n} of {group}), "
                             "so Satterthwaite and Kenward-Roger agree closely, and Satterthwaite is lmerTest's "
                             "default.")

#: Columns of :func:`design_checklist`.
CHECKLIST_COLUMNS = ["step", "item", "about", "finding", "verdict", "detail"]
#: Fewer experimental units than this behind an effect (or levels of a grouping factor): caution.
FEW_UNITS = 6
#: Fewer denominator df than this: caution (the t distribution is far from normal).
SMALL_DF = 10



def _row(item, about, finding, verdict, detail):
    return {"step": PATH_STEPS[_STEP[item]].step, "item": item, "about": about, "finding": finding,
            "verdict": verdict, "detail": detail}


def _plural(g):
    return f"levels of {g}"


def design_checklist(formula, data, fit=None):
    """A checklist for a mixed model of *your* design, one row per check.

    Parameters
    ----------
    formula : str
        lme4-style formula with at least one random term, e.g.
        ``"log(length) ~ treatment*gene + (1|replicate)"``.
    data : pandas.DataFrame
    fit : MixedFit, optional
        The fit of ``formula`` to ``data`` if you have it (saves refitting).

    Returns
    -------
    pandas.DataFrame
        Columns ``step`` (the step of :data:`PATH_STEPS` the row checks), ``item``, ``about``
        (the group, predictor or term checked), ``finding`` (a short fact), ``verdict`` ("ok",
        "caution", "problem" or "suggestion") and ``detail`` (what it means and what to do). The
        items, in the order of the path:

        ``groups``
            how many levels each grouping factor has (fewer than :data:`FEW_UNITS`: caution).
        ``where it varies``
            whether each fixed predictor varies within the levels of a grouping factor or
            only between them.
        ``units behind the effect``
            per fixed-effect term: how many levels of the grouping factor the term is compared
            across; that, not the number of rows, is the number of independent units.
        ``random slope``
            per predictor that varies within a grouping factor: whether the model lets its
            effect differ between the levels (a random slope), a suggestion if not, and
            whether the data can support one.
        ``singular fit``
            whether a variance was estimated at zero (or a correlation at +/-1).
        ``REML``
            whether the fit is REML (ML: caution, refit by REML for the final fit).
        ``df method``
            the fit's df method against :func:`choose_ddf` (Kenward-Roger with few groups).
        ``df``
            per term, the df of the fit's method (fewer than :data:`SMALL_DF`: caution).

    Examples
    --------
    >>> import lmmedu
    >>> data = lmmedu.load_replicates("between")
    >>> check = design_checklist("log(length) ~ treatment + (1|replicate)", data)
    >>> check.loc[check["item"] == "units behind the effect", ["about", "finding"]].values.tolist()[1]
    ['treatment[T.drug]', '4 levels of replicate']
    >>> sorted(set(check["verdict"]))
    ['caution', 'ok', 'suggestion']
    >>> check.loc[check["item"] == "df method", "finding"].tolist()  # 4 replicates: Kenward-Roger is suggested
    ['Satterthwaite']
    """
    parsed = parse_formula(formula)
    if not parsed.random:
        raise ValueError("The checklist needs a grouping factor: add a random term such as (1|replicate) to the "
                         "formula.")
    model = fit if fit is not None else _fit(formula, data)
    if not is_mixed(model):
        raise ValueError(f"fit must be the mixed model of the formula (lmmedu.fit), not {type(model).__name__}.")
    used = model.data
    columns = set(map(str, used.columns))
    predictors = _names_in(parsed.fixed, columns) if parsed.fixed not in ("1", "0", "-1") else []
    groups = _groups(model)
    slope_vars = {}
    for term in parsed.random:
        names = _names_in(term.expr, columns) if term.expr not in ("1", "0") else []
        slope_vars.setdefault(term.group, set()).update(names)
    rows = []

    # 1. The grouping factors themselves.
    for g, (codes, m, _) in groups.items():
        sizes = np.bincount(codes, minlength=m)
        finding = f"{m} levels"
        size = f"{sizes.min():,}" if sizes.min() == sizes.max() else f"{sizes.min():,} to {sizes.max():,}"
        if m < FEW_UNITS:
            rows.append(_row("groups", g, finding, "caution",
                             f"{g} has only {m} levels ({size} rows each): the SD between them is estimated from "
                             f"{m} values, so expect a rough estimate, possibly zero (a singular fit). More levels "
                             "sharpen it; more rows per level do not."))
        else:
            rows.append(_row("groups", g, finding, "ok", f"{m} levels of {g}, {size} rows each."))

    # 2. Does each predictor vary within the groups, or only between them?
    within = {}
    for v in predictors:
        values = used[v].astype(object).to_numpy()
        for g, (codes, m, _) in groups.items():
            if v in g.split(":"):
                continue
            n_varying = int((pd.Series(values).groupby(codes).nunique() > 1).sum())
            within[(v, g)] = n_varying
            if n_varying:
                rows.append(_row("where it varies", f"{v} / {g}", f"within {n_varying} of {m}", "ok",
                                 f"{v} changes inside {n_varying} of the {m} levels of {g}: those levels each "
                                 f"compare {v} with themselves, so the differences between levels of {g} cancel."))
            else:
                rows.append(_row("where it varies", f"{v} / {g}", "between only", "ok",
                                 f"Every level of {g} has one value of {v}: {v} is compared between levels of "
                                 f"{g}, and the {g} differences count as noise for it (larger SE than the lm's)."))

    # 3. How many experimental units stand behind each effect?
    X = model.X
    for j, term in enumerate(model.names):
        term_vars = [v for part in term.split(":") for v in _names_in(part.split("[")[0], set(predictors))]
        best = None
        for g, (codes, m, _) in groups.items():
            if _variation(X[:, [j]], codes, m)[0]:
                # An interaction such as drug x gene in a between design varies only in the drug levels, yet
                # every level whose gene differences it contrasts is a unit: count levels where any part varies.
                units = max([within.get((v, g), 0) for v in term_vars] + [1])
                how = f"compared inside each of {units} levels of {g}"
            else:
                per_level = pd.Series(X[:, j]).groupby(codes).first()
                n_values = per_level.nunique()
                units = m
                if n_values <= 1:
                    how = f"the mean over the {m} levels of {g}"
                elif n_values <= 3:
                    counts = per_level.round(12).value_counts().sort_index()
                    how = f"compared between levels of {g}: " + ", ".join(
                        f"{c} with {term} = {v:g}" for v, c in counts.items())
                else:
                    how = f"compared between the {m} levels of {g}"
            if best is None or units < best[0]:
                best = (units, g, how)
        units, g, how = best
        verdict = "problem" if units < 3 else "caution" if units < FEW_UNITS else "ok"
        detail = (f"{term}: {how}. {units} independent units stand behind this effect, not {model.nobs:,} rows.")
        if units < 3:
            detail += " With so few units no model can tell this effect from differences between the units."
        rows.append(_row("units behind the effect", term, f"{units} {_plural(g)}", verdict, detail))

    # 4. Does a treatment effect need a random slope, and can the data support one?
    carriers = effect_carriers(model)
    # A factor nested in another grouping factor of the model (replicate:treatment in replicate) is that
    # factor's helper: slopes are suggested for the enclosing factor only.
    helpers = {h for h in groups for g in groups if h != g and _nested(groups[h][0], groups[g][0])}
    for (v, g), n_varying in within.items():
        if not n_varying or g in helpers:
            continue
        codes, m, _ = groups[g]
        v_terms = [name for name in model.names if ":" not in name and name.split("[")[0] == v]
        how = {carriers[g].get(t) for t in v_terms}
        if v_terms and None not in how:
            spelled = (f"(1 + {v} | {g})" if how == {"slope"} else
                       " + ".join(f"(1 | {h})" for h in sorted(how - {"slope"})))
            rows.append(_row("random slope", f"{v} | {g}", "in the model", "ok",
                             f"The model lets the effect of {v} differ between levels of {g}, with {spelled}, so "
                             f"its SE counts the {n_varying} levels, not the rows."))
            continue
        q = 1 + max(len(v_terms), 1)
        n_params = q * (q + 1) // 2
        alternative = (f"(1 | {g}) + (1 | {g}:{v}) gives every level of {g} its own effect of {v} with two "
                       f"variances instead of {n_params}")
        can = []
        if n_varying < 3:
            verdict = "caution"
            can.append(f"with only {n_varying} levels of {g} in which {v} varies, a slope SD cannot be estimated "
                       "usefully: report the effect per level, or test the per-level effects (one number per "
                       f"level of {g}) with a t test")
        elif m * q >= model.nobs:
            verdict = "caution"
            can.append(f"the data cannot support it: {m} x {q} random effects for {model.nobs} rows")
        elif n_params >= n_varying:
            verdict = "suggestion"
            can.append(f"{n_params} variance parameters from {n_varying} levels of {g} in which {v} varies: such a "
                       f"fit will almost surely be singular; {alternative}")
        elif n_varying < FEW_UNITS * 2:
            verdict = "suggestion"
            can.append(f"it can be tried ({n_params} variance parameters from {n_varying} levels of {g} in which "
                       f"{v} varies), but with so few levels it may come out singular; {alternative}")
        else:
            verdict = "suggestion"
            can.append(f"the data can support it ({n_varying} levels of {g} in which {v} varies, {n_params} "
                       "variance parameters)")
        rows.append(_row("random slope", f"{v} | {g}", "missing", verdict,
                         f"{v} varies within {g}, so its effect can differ from one level of {g} to the next; "
                         f"without (1 + {v} | {g}) the model counts rows as independent for this effect and its "
                         f"p-value can be far too small. Try (1 + {v} | {g}) in place of (1 | {g}): "
                         + "; ".join(can) + "."))

    # 5. Singular fit (3. and 4. of the path).
    if model.singular:
        rows.append(_row("singular fit", "random part", "singular", "caution",
                         model.singular_message + " Next step: simplify as the design allows (a correlation at "
                         "+/-1 first, e.g. (1 | g) + (1 | g:x) for (1 + x | g)), never dropping a unit the design "
                         "has."))
    else:
        vc = model.varcomp
        smallest = vc[vc["term2"].isna() & (vc["group"] != "Residual")].sort_values("sd").iloc[0]
        rows.append(_row("singular fit", "random part", "not singular", "ok",
                         f"Every variance is estimated above zero (smallest SD {smallest['sd']:.3g}, "
                         f"{smallest['term']} of {smallest['group']})."))
    if not model.converged:
        rows.append(_row("convergence", "optimizer", "not converged", "problem",
                         f"The optimizer reported a problem ({model.opt.message}); simplify the random part."))

    # 7. REML for the final fit, and the df method the path chooses.
    if model.reml:
        rows.append(_row("REML", "fit", "REML", "ok", "Fitted by REML: right for the final fit's t and F tests and "
                         "intervals."))
    else:
        rows.append(_row("REML", "fit", "ML", "caution", "Fitted by ML, which is for comparing fixed parts by "
                         "likelihood ratio only (anova(m0, m1)); refit by REML (REML = TRUE) for the final fit."))
    method, why = choose_ddf(model)
    if model.ddf == method:
        rows.append(_row("df method", "fit", model.ddf, "ok", f"{model.ddf}: {why}"))
    else:
        rows.append(_row("df method", "fit", model.ddf, "suggestion" if model.reml else "caution",
                         f"Tested with {model.ddf} df; {method} is the path's choice: {why} Compare both before "
                         "reporting (lmmedu.fit(formula, data, ddf=\"KR\"))."))

    # 8. Small df, and large df that only the missing random slope makes large.
    for term, r in model.coefs.iterrows():
        df = float(r["df"])
        if not np.isfinite(df):
            rows.append(_row("df", term, "none", "problem",
                             f"{term} has no usable df: nothing is left to estimate its uncertainty from; "
                             "more units are needed for a test."))
            continue
        crit = float(_stats.t.ppf(0.975, df))
        shown = f"{df:,.0f}" if df >= 100 else f"{df:.1f}"
        # The groups within which the term varies and whose levels the model forces to share its effect: its
        # df then count rows, while only those levels could show how much the effect differs between them.
        assumed = [(g, int(_variation(X[:, [model.names.index(term)]], groups[g][0], groups[g][1])[0]))
                   for g, terms in carriers.items() if term in terms and terms[term] is None and g not in helpers]
        assumed = [(g, n) for g, n in assumed if df > n]
        if df < SMALL_DF:
            rows.append(_row("df", term, shown, "caution",
                             f"{term} is tested with t on {shown} df ({model.ddf}): its 95% CI is the estimate "
                             f"± {crit:.2f} SE, not ± 1.96 SE as a z test would use. Report t with these df; a z "
                             "test (statsmodels' MixedLM) would give too small p-values."))
        elif assumed:
            g, n = min(assumed, key=lambda gn: gn[1])
            rows.append(_row("df", term, shown, "caution",
                             f"{term} is tested with t on {shown} df ({model.ddf}) because the model assumes its "
                             f"effect is the same in every level of {g}: the df count rows, yet the effect varies "
                             f"within only {n} levels of {g}. If it can differ between them (see 'random slope'), "
                             f"those {n} levels are its units and its df are nearer {n - 1}, not {shown}: do not "
                             "trust this p-value before the random part lets the effect vary."))
        else:
            rows.append(_row("df", term, shown, "ok",
                             f"{term} is tested with t on {shown} df ({model.ddf}): its 95% CI, the estimate "
                             f"± {crit:.2f} SE, is close to a z test's ± 1.96 SE."))
    return pd.DataFrame(rows, columns=CHECKLIST_COLUMNS)
