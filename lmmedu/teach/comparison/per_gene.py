"""Notebook 04's comparisons: separate fits per gene next to the joint interaction model, and the
aggregation cross-check (one number per replicate and gene, tested by hand) beside the mixed models.

:func:`per_group_vs_joint` is public as :func:`lmmedu.per_group_vs_joint`, for a learner's own scripts.
:func:`replicate_differences`, :func:`paired_check` and :func:`interaction_by_hand` aggregate to the
experimental unit: each replicate's drug-minus-control difference of mean log lengths, per gene, a
paired t-test of them per gene (R: ``t.test(drug, control, paired = TRUE)``), and the gene-by-drug
interaction as a two-way ANOVA of those differences (replicate x gene, one value per cell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats

from ...stats.emmeans import contrasts, emmeans
from ...stats.fit import fit, fit_lm
from ...stats.formula import parse_formula
from ...stats.multiplicity import ADJUST_METHODS, adjust_pvalues
from ...stats.terms import model_vars, names_in, result_table

__all__ = ["per_group_vs_joint", "replicate_differences", "paired_check", "interaction_by_hand",
           "ONE_GENE_FORMULA"]

#: One gene's model with a drug effect per replicate (notebook 02): the mixed model a paired t-test mirrors.
ONE_GENE_FORMULA = "log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)"


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


def _check_columns(data, columns):
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, not {type(data).__name__}.")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"The column(s) {', '.join(missing)} are not in the data (columns: "
                         f"{', '.join(map(str, data.columns))}).")


def _levels(series):
    return list(series.cat.categories) if isinstance(series.dtype, pd.CategoricalDtype) else sorted(pd.unique(series))


def _unit_means(data, response="length", log=True, group="gene", effect="treatment", unit="replicate"):
    """Mean (log) response of every unit, group and effect level: one number per cell of the design.

    Returns
    -------
    pandas.DataFrame
        Index (``group``, ``unit``), one column per level of ``effect`` (reference level first).
    """
    _check_columns(data, [response, group, effect, unit])
    y = data[response].to_numpy(dtype=float)
    if log:
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.log(y)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"The {'log of ' if log else ''}{response} is not finite in every row; "
                         + ("lengths must be positive." if log else "drop the missing rows first."))
    frame = pd.DataFrame({group: data[group].to_numpy(), unit: data[unit].to_numpy(), effect: data[effect].to_numpy(),
                          "y": y})
    means = frame.groupby([group, unit, effect], sort=False)["y"].mean().unstack(effect)
    order = [lv for lv in _levels(data[effect]) if lv in means.columns]
    means = means[order]
    groups, units = _levels(data[group]), _levels(data[unit])
    index = pd.MultiIndex.from_tuples([(g, u) for g in groups for u in units if (g, u) in means.index],
                                      names=[group, unit])
    return means.reindex(index)


def replicate_differences(data, response="length", log=True, group="gene", effect="treatment", unit="replicate"):
    """Each unit's difference between the two ``effect`` levels (second minus first), per group.

    For the replicate data: for every gene and replicate, the mean log length of the drug cells minus
    that of the control cells.  A replicate that lacks one arm of a gene gets NaN.

    Parameters
    ----------
    data : pandas.DataFrame
    response : str, default "length"
    log : bool, default True
        Average the log of the response (the scale of ``log(length) ~ ...``).
    group, effect, unit : str
        Columns: the groups compared (genes), the two-level effect (treatment), the experimental unit.

    Returns
    -------
    pandas.DataFrame
        Index the units, one column per group.

    Examples
    --------
    >>> import lmmedu
    >>> replicate_differences(lmmedu.load_replicates()).shape
    (4, 3)
    """
    means = _unit_means(data, response, log, group, effect, unit)
    if means.shape[1] != 2:
        raise ValueError(f"'{effect}' must have exactly two levels to take differences, not {means.shape[1]} "
                         f"({', '.join(map(str, means.columns))}).")
    diff = (means.iloc[:, 1] - means.iloc[:, 0]).unstack(group)
    groups = [g for g in _levels(data[group]) if g in diff.columns]
    return diff[groups]


def paired_check(data, formula=ONE_GENE_FORMULA, response="length", log=True, group="gene", effect="treatment",
                 unit="replicate"):
    """Per group: a paired t-test on the units' differences beside the same group's mixed model.

    The paired t-test (R: ``t.test(drug, control, paired = TRUE)`` on the replicate means of one
    gene) counts each replicate once.  ``formula`` (default: one gene with a drug effect per
    replicate, notebook 02) is fitted to each group's rows and its drug-minus-control contrast
    taken with :func:`lmmedu.emmeans` (R: ``pairs(emmeans(fit, ~ treatment), reverse = TRUE)``).
    With equal numbers of cells in every replicate and arm, and a fit that is not singular, the two
    agree exactly (the mixed model's estimate is then the plain mean of the differences, and its
    Satterthwaite df are replicates - 1); with unequal replicates the mixed model weights each
    replicate by its precision, so they differ a little.

    Returns
    -------
    pandas.DataFrame
        One row per group (index ``group``): ``n_units``, then ``paired_estimate`` (mean
        difference), ``paired_se``, ``paired_df`` (units - 1), ``paired_t``, ``paired_p``, then
        ``model_estimate``, ``model_se``, ``model_df``, ``model_t``, ``model_p`` and
        ``model_singular``.

    Examples
    --------
    >>> import lmmedu
    >>> tab = paired_check(lmmedu.load_replicates())
    >>> tab["paired_df"].tolist()
    [3, 3, 3]
    """
    means = _unit_means(data, response, log, group, effect, unit)
    if means.shape[1] != 2:
        raise ValueError(f"'{effect}' must have exactly two levels for a paired test, not {means.shape[1]}.")
    rows = []
    for g in [g for g in _levels(data[group]) if g in means.index.get_level_values(0)]:
        pair = means.loc[g].dropna()
        if len(pair) < 2:
            raise ValueError(f"{group} {g} has both arms in fewer than 2 {unit}s; a paired test needs at least 2.")
        d = pair.iloc[:, 1] - pair.iloc[:, 0]
        test = scipy.stats.ttest_rel(pair.iloc[:, 1], pair.iloc[:, 0])
        m = fit(formula, data[data[group] == g])
        con = contrasts(emmeans(m, effect), "revpairwise").iloc[0]
        rows.append({group: g, "n_units": len(d), "paired_estimate": float(d.mean()),
                     "paired_se": float(d.std(ddof=1) / np.sqrt(len(d))), "paired_df": len(d) - 1,
                     "paired_t": float(test.statistic), "paired_p": float(test.pvalue),
                     "model_estimate": float(con["estimate"]), "model_se": float(con["se"]),
                     "model_df": float(con["df"]), "model_t": float(con["t"]), "model_p": float(con["p"]),
                     "model_singular": bool(m.singular)})
    return pd.DataFrame(rows).set_index(group)


def interaction_by_hand(differences):
    """Does the drug effect differ between groups? A two-way ANOVA of the units' differences.

    ``differences`` holds one drug-minus-control difference per unit (rows) and group (columns),
    e.g. from :func:`replicate_differences`.  Units are blocks: the F test of the groups has
    ``groups - 1`` numerator df and ``(units - 1)(groups - 1)`` denominator df (R:
    ``summary(aov(d ~ gene + Error(replicate)))``, or ``anova(lm(d ~ replicate + gene))``).

    Returns
    -------
    pandas.Series
        ``F``, ``num_df``, ``den_df``, ``p``.

    Examples
    --------
    >>> import lmmedu
    >>> interaction_by_hand(replicate_differences(lmmedu.load_replicates()))[["num_df", "den_df"]].tolist()
    [2.0, 6.0]
    """
    d = pd.DataFrame(differences).astype(float)
    if d.isna().any().any():
        raise ValueError("Every unit needs a difference for every group (no NaN) for this two-way ANOVA.")
    r, g = d.shape
    if r < 2 or g < 2:
        raise ValueError(f"Need at least 2 units and 2 groups, not {r} x {g}.")
    x = d.to_numpy()
    grand = x.mean()
    ss_group = r * np.sum((x.mean(axis=0) - grand) ** 2)
    resid = x - x.mean(axis=0, keepdims=True) - x.mean(axis=1, keepdims=True) + grand
    ss_resid = np.sum(resid**2)
    num_df, den_df = g - 1, (r - 1) * (g - 1)
    F = (ss_group / num_df) / (ss_resid / den_df)
    return pd.Series({"F": F, "num_df": float(num_df), "den_df": float(den_df),
                      "p": float(scipy.stats.f.sf(F, num_df, den_df))})
