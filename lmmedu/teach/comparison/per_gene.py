"""Separate fits per gene next to the joint interaction model: notebook 04's per-gene question as one call.

Public as :func:`lmmedu.per_group_vs_joint`, for a learner's own scripts.
"""

from __future__ import annotations

import pandas as pd

from ...stats.emmeans import contrasts, emmeans
from ...stats.fit import fit, fit_lm
from ...stats.formula import parse_formula
from ...stats.multiplicity import ADJUST_METHODS, adjust_pvalues
from ...stats.terms import model_vars, names_in, result_table

__all__ = ["per_group_vs_joint"]


def per_group_vs_joint(formula_per_group, data, group="gene", effect="treatment", adjust="holm", reml=True):
    """Separate fits per group next to the joint interaction model.

    A learner often first fits ``log(length) ~ treatment + (1|replicate)`` to
    each gene's rows.  The joint model ``log(length) ~ treatment*gene +
    (1|replicate)`` (the effect crossed with the group) estimates the same
    per-gene effects, but with one pooled residual variance and replicate
    effects shared by all genes, so SEs, df and p-values can differ.  This
    function runs both and lines them up.

    Parameters
    ----------
    formula_per_group : str
        Formula for one group's rows, e.g.
        ``"log(length) ~ treatment + (1|replicate)"``.  Without random terms
        both approaches use :func:`lmmedu.fit_lm`.
    data : pandas.DataFrame
    group : str, default "gene"
        Column that splits the data.
    effect : str, default "treatment"
        Categorical fixed-effect variable whose levels are compared with its
        reference level (as the coefficients of the per-group fits do).
    adjust : {"holm", "bonferroni", "fdr", "none"}
        Adjustment over all groups' tests, applied to each approach separately.
    reml : bool, default True

    Returns
    -------
    ResultTable
        One row per group (and per non-reference level of ``effect``):
        ``<group>``, ``contrast`` (e.g. "drug - control"), ``n`` (rows of
        the group), then for each approach (prefix ``separate_`` for the
        per-group fits, ``joint_`` for the interaction model):
        ``estimate``, ``se``, ``df``, ``p``, ``p_adj`` and ``sigma`` (the
        residual SD the approach uses for this group: each group's own, or
        the pooled one).  ``extras`` holds ``separate_fits`` (dict level ->
        fit), ``joint_fit`` and ``joint_formula``.

    Examples
    --------
    >>> import lmmedu
    >>> tab = lmmedu.per_group_vs_joint("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates())
    >>> tab.extras["joint_formula"]
    'log(length) ~ (treatment) * gene + (1 | replicate)'
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, not {type(data).__name__}.")
    if group not in data.columns:
        cols = ", ".join(map(str, data.columns))
        raise ValueError(f"The group column '{group}' is not in the data (columns: {cols}).")
    if adjust not in ADJUST_METHODS:
        raise ValueError(f"adjust must be one of {', '.join(ADJUST_METHODS)}, not {adjust!r}.")
    parsed = parse_formula(formula_per_group)
    if group in names_in(parsed.fixed, set(map(str, data.columns))):
        raise ValueError(
            f"The formula already uses '{group}' in its fixed part; give the per-group formula without it."
        )
    random_txt = " + ".join(str(t) for t in parsed.random)

    def fit_one(formula, d):
        return fit(formula, d, reml=reml) if parsed.random else fit_lm(formula, d)

    g = data[group]
    levels = list(g.cat.categories) if isinstance(g.dtype, pd.CategoricalDtype) else sorted(pd.unique(g.dropna()))
    sep_rows, sep_fits = [], {}
    for lv in levels:
        sub = data[g == lv]
        if len(sub) == 0:
            continue
        f = fit_one(formula_per_group, sub)
        sep_fits[lv] = f
        mv = model_vars(f)
        if effect not in mv.cat:
            raise ValueError(f"The effect '{effect}' is not a categorical variable of '{formula_per_group}'.")
        con = contrasts(emmeans(f, effect), "trt.vs.ctrl")
        for _, r in con.iterrows():
            sep_rows.append({group: lv, "contrast": r["contrast"], "n": len(sub), "separate_estimate": r["estimate"],
                             "separate_se": r["se"], "separate_df": r["df"], "separate_p": r["p"],
                             "separate_sigma": f.sigma})
    sep = pd.DataFrame(sep_rows)
    sep["separate_p_adj"] = adjust_pvalues(sep["separate_p"].to_numpy(), adjust)

    joint_formula = f"{parsed.response} ~ ({parsed.fixed}) * {group}" + (f" + {random_txt}" if random_txt else "")
    joint = fit_one(joint_formula, data)
    con = contrasts(emmeans(joint, effect, by=group), "trt.vs.ctrl", adjust=adjust, family="all")
    jt = pd.DataFrame({group: con[group].astype(object).to_numpy(), "contrast": con["contrast"].to_numpy(),
                       "joint_estimate": con["estimate"].to_numpy(), "joint_se": con["se"].to_numpy(),
                       "joint_df": con["df"].to_numpy(), "joint_p": con["p"].to_numpy(),
                       "joint_p_adj": con["p_adj"].to_numpy(), "joint_sigma": joint.sigma})
    sep[group] = sep[group].astype(object)
    out = sep.merge(jt, on=[group, "contrast"], how="left")
    cols = [group, "contrast", "n"] + [f"{a}_{s}" for a in ("separate", "joint")
                                      for s in ("estimate", "se", "df", "p", "p_adj", "sigma")]
    out = out[cols]
    notes = [f"separate: {formula_per_group} fitted to each {group}'s rows",
             f"joint: {joint_formula} fitted to all rows",
             f"p_adj: {adjust} over the {len(out)} tests of each approach"]
    return result_table(out, notes, {"separate_fits": sep_fits, "joint_fit": joint, "joint_formula": joint_formula})
