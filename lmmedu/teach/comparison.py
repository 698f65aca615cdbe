"""The lm and the mixed model side by side, and why their standard errors differ.

An ordinary linear model treats every row as an independent observation.  A
mixed model with ``(1|replicate)`` knows that rows of one replicate share a
replicate effect.  What that changes depends on how each fixed-effect term
varies relative to the groups:

* a term that is constant within every group (the intercept; a treatment
  given to whole replicates; a genotype per sample) is compared *between*
  groups, so its information comes from the number of groups, not rows: the
  mixed model's SE is larger and its df are about the number of groups;
* a term that varies *within* groups (a treatment applied inside every
  replicate) is compared inside each group, where the group effect cancels:
  its SE stays about the same or shrinks, because the group differences no
  longer count as noise.

:func:`compare` fits both models from one formula and tabulates this per
term; :func:`icc` and :func:`design_effect` give the classic survey-sampling
summary of the same idea; :func:`se_table` does it for one simulated gene as the
replicate SD changes (notebook 02); :func:`per_group_vs_joint` sets separate
per-gene fits next to the joint interaction model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..data.simulate import simulate_replicates
from ..stats.emmeans import contrasts, emmeans
from ..stats.fit import fit, fit_lm
from ..stats.formula import parse_formula
from ..stats.multiplicity import ADJUST_METHODS, adjust_pvalues
from ..stats.results import Summary
from ..stats.terms import _model_vars, _names_in, _result
from .prose import comparison_lines, format_comparison_table, format_frame, format_varcomp, se_reason
from .studies import true_icc

__all__ = ["Comparison", "compare", "SETable", "se_table", "icc", "design_effect", "per_group_vs_joint"]


@dataclass(eq=False)
class Comparison:
    """An lm and a mixed model of the same formula, term by term.

    Attributes
    ----------
    formula : str
        The lme4-style formula both models came from.
    table : pandas.DataFrame
        One row per fixed-effect term (index = term names): ``estimate_lm``,
        ``se_lm``, ``df_lm``, ``p_lm``, ``estimate_lmm``, ``se_lmm``,
        ``df_lmm`` (Satterthwaite), ``p_lmm``, ``se_ratio`` (se_lmm / se_lm),
        one column ``varies_<g>`` per grouping factor ``g`` ("within" if the
        term's model-matrix column changes inside at least one level of ``g``,
        "between" if it is constant inside every level), and ``reason``: a
        sentence saying why the SE went up or down.
    varcomp : pandas.DataFrame
        Variance components of the mixed model.
    icc : pandas.DataFrame
        See :func:`icc`.
    design_effect : pandas.DataFrame
        See :func:`design_effect`.
    lm : lmmedu.stats.results.LmFit
    lmm : lmmedu.stats.results.MixedFit
    notes : list of str
        Singular-fit and convergence messages of the mixed model.
    """

    formula: str
    table: pd.DataFrame
    varcomp: pd.DataFrame
    icc: pd.DataFrame
    design_effect: pd.DataFrame
    lm: object = field(repr=False)
    lmm: object = field(repr=False)
    notes: list = field(default_factory=list)

    def display_table(self):
        """The table as rounded text, for printing (reasons left out).

        Returns
        -------
        pandas.DataFrame of str

        Examples
        --------
        >>> import lmmedu
        >>> cmp = lmmedu.compare("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates("within"))
        >>> cmp.display_table().loc["treatment[T.drug]", "varies_replicate"]
        'within'
        """
        return format_comparison_table(self.table)

    def interpretation(self):
        """A few sentences reading the table as a whole.

        Returns
        -------
        list of str
        """
        return comparison_lines(self)

    def summary(self):
        """Everything in one text: table, reasons, variance parts, ICC, design effect.

        Returns
        -------
        lmmedu.stats.results.Summary
            A str that prints itself unquoted.

        Examples
        --------
        >>> import lmmedu
        >>> cmp = lmmedu.compare("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates("between"))
        >>> "design effect" in cmp.summary().lower()
        True
        """
        lmm = self.lmm
        crit = "REML" if lmm.reml else "maximum likelihood"
        groups = ", ".join(f"{g}: {n}" for g, n in lmm.ngroups.items())
        lines = [
            f"lm vs linear mixed model: {self.formula}",
            f"lm: {lmm.parsed.fixed_formula_r} (every row independent); mixed model fitted by {crit}.",
            f"{lmm.nobs:,} rows; groups {groups}.",
            "",
            self.display_table().to_string(),
            "",
            "Why the standard errors differ:",
        ]
        lines += [f"  {term}: {reason}" for term, reason in self.table["reason"].items()]
        lines += ["", "Variance components (mixed model):", format_varcomp(self.varcomp).to_string(index=False)]
        if len(self.icc):
            lines += ["", "Intraclass correlation (share of variance, intercepts only):",
                      format_frame(self.icc, {"variance": 4, "total": 4, "icc": 3}).to_string()]
            lines += ["", "Design effect (for a quantity that varies only between groups, e.g. a mean):",
                      format_frame(self.design_effect, {"mean_size": 4, "kish_size": 4, "icc": 3, "deff": 4,
                                                         "deff_kish": 4, "n_eff": 4, "n_eff_kish": 4}).to_string()]
        lines += ["", "In short:"] + [f"  {s}" for s in self.interpretation()]
        if self.notes:
            lines += [""] + self.notes
        return Summary("\n".join(lines))

    def __repr__(self):
        text = [f"<Comparison of lm and mixed model for {self.formula!r}>", self.display_table().to_string()]
        text += ["", "Reasons:"] + [f"  {t}: {r}" for t, r in self.table["reason"].items()]
        text += self.notes
        return "\n".join(text)

    def _repr_html_(self):
        import html

        body = self.display_table()
        body["reason"] = self.table["reason"]
        notes = "".join(f"<p><em>{html.escape(n)}</em></p>" for n in self.notes)
        return (f"<p><strong>lm vs mixed model</strong>: <code>{html.escape(self.formula)}</code></p>"
                f"{body.to_html()}{notes}")


# ----------------------------------------------------------------------
# Public helpers
# ----------------------------------------------------------------------
def compare(formula, data, reml=True):
    """Fit the lm and the mixed model of one formula and explain their differences.

    Parameters
    ----------
    formula : str
        lme4-style formula with at least one random term, e.g.
        ``"log(length) ~ treatment*gene + (1|replicate)"``.  The lm uses the
        same formula with the random terms dropped.
    data : pandas.DataFrame
    reml : bool, default True
        Fit the mixed model by REML (lmer's default) or by ML.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import lmmedu
    >>> cmp = lmmedu.compare("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates("between"))
    >>> cmp.table.loc["treatment[T.drug]", "varies_replicate"]
    'between'
    >>> bool(cmp.table.loc["treatment[T.drug]", "se_ratio"] > 2)
    True
    """
    lm = fit_lm(formula, data)
    lmm = fit(formula, data, reml=reml)
    return _build(formula, lm, lmm)


class SETable(NamedTuple):
    """lm vs mixed-model standard errors of one simulated gene (:func:`se_table`)."""

    table: pd.DataFrame
    message: str


def se_table(replicate_sd=0.2, design="within", seed=2023, n_replicates=4, residual_sd=0.5):
    """lm and mixed-model SE and df of the intercept and treatment for one simulated gene.

    Parameters
    ----------
    replicate_sd : float, default 0.2
        SD of the replicate intercepts (log scale).
    design : {"within", "between"}, default "within"
    seed : int, default 2023
        Seed of the simulated data (fixed, so only ``replicate_sd`` changes the data).
    n_replicates : int, default 4
    residual_sd : float, default 0.5

    Returns
    -------
    SETable
        ``table``: index ``Intercept`` and ``treatment[T.drug]``; columns ``varies``
        ("within" or "between" replicates), ``se_lm``, ``se_lmm``, ``se_ratio``, ``df_lm``,
        ``df_lmm``. ``message``: the estimated and true ICC, and a note when the mixed model
        is singular.

    Examples
    --------
    >>> table, message = se_table(0.3, "within")
    >>> bool(table.loc["Intercept", "se_ratio"] > 1)
    True
    """
    df = simulate_replicates(genes=("A",), n_replicates=n_replicates, design=design, replicate_sd=replicate_sd,
                             residual_sd=residual_sd, treatment_effects=0.2, seed=seed)
    cmp = compare("log(length) ~ treatment + (1|replicate)", df)
    t = cmp.table
    table = pd.DataFrame({
        "varies": t["varies_replicate"], "se_lm": t["se_lm"], "se_lmm": t["se_lmm"], "se_ratio": t["se_ratio"],
        "df_lm": t["df_lm"], "df_lmm": t["df_lmm"],
    })
    est = float(cmp.icc.loc["replicate", "icc"]) if "replicate" in cmp.icc.index else float("nan")
    message = (f"{len(df):,} measurements in {n_replicates} replicates. ICC estimated {est:.3f}, "
               f"true {true_icc(replicate_sd, residual_sd):.3f}.")
    if cmp.lmm.singular:
        message += (" The mixed model is singular: it estimates no replicate variation, so it behaves like "
                    "the lm.")
    return SETable(table, message)


def icc(fit):
    """Intraclass correlation of each grouping factor that has a random intercept.

    Defined as ``var_g / (sum of all random-intercept variances + residual
    variance)``: the share of the variance of a single observation (at the
    reference values of any random slopes) that is due to ``g``, i.e. the
    correlation of two observations that share ``g`` and nothing else.
    Random slopes are left out of the denominator, because their contribution
    changes with the slope variable; with random slopes the ICC therefore
    refers to observations where the slope variables are 0.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit

    Returns
    -------
    pandas.DataFrame
        Index ``group``; columns ``variance`` (of its intercept), ``total``
        (the denominator) and ``icc``.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates("within"))
    >>> t = icc(m)
    >>> bool(0 < t.loc["replicate", "icc"] < 1)
    True
    """
    _require_mixed(fit, "icc")
    vc = fit.varcomp
    intercepts = vc[(vc["term"] == "Intercept") & vc["term2"].isna() & (vc["group"] != "Residual")]
    # One intercept per grouping factor (a factor can appear in several blocks after ||).
    intercepts = intercepts.drop_duplicates("group")
    total = float(intercepts["variance"].sum()) + fit.sigma**2
    out = pd.DataFrame({"variance": intercepts["variance"].to_numpy(dtype=float),
                        "total": total,
                        "icc": intercepts["variance"].to_numpy(dtype=float) / total},
                       index=pd.Index(intercepts["group"].tolist(), name="group"))
    return out


def design_effect(fit):
    """Design effect and effective sample size per grouping factor.

    For a quantity that varies only between groups (a mean, or a treatment
    given to whole groups), ``n`` correlated rows carry as much information as
    ``n / deff`` independent ones, with Kish's design effect
    ``deff = 1 + (m - 1) * ICC`` for clusters of size ``m``.  Two cluster
    sizes are reported:

    * ``mean_size`` = n / number of groups (the plain average), giving ``deff``
      and ``n_eff``;
    * ``kish_size`` = sum(m_i^2) / n, the size-weighted average that Kish's
      formula for unequal clusters uses, giving ``deff_kish`` and
      ``n_eff_kish``.  With unbalanced groups it is the better guide, since
      big groups dominate an unweighted mean.

    A term that varies *within* groups is not penalised like this (the group
    effect cancels); see :func:`compare`.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit

    Returns
    -------
    pandas.DataFrame
        Index ``group`` (factors with a random intercept); columns
        ``n_groups``, ``n``, ``mean_size``, ``kish_size``, ``icc``, ``deff``,
        ``deff_kish``, ``n_eff``, ``n_eff_kish``.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates("within"))
    >>> d = design_effect(m)
    >>> int(d.loc["replicate", "n_groups"])
    4
    """
    _require_mixed(fit, "design_effect")
    tab = icc(fit)
    groups = _groups(fit)
    rows = []
    n = fit.nobs
    for g in tab.index:
        codes, m, _ = groups[g]
        sizes = np.bincount(codes, minlength=m).astype(float)
        rho = float(tab.loc[g, "icc"])
        mean_size = n / m
        kish_size = float((sizes**2).sum() / n)
        deff = 1.0 + (mean_size - 1.0) * rho
        deff_kish = 1.0 + (kish_size - 1.0) * rho
        rows.append({"n_groups": m, "n": n, "mean_size": mean_size, "kish_size": kish_size, "icc": rho,
                     "deff": deff, "deff_kish": deff_kish, "n_eff": n / deff, "n_eff_kish": n / deff_kish})
    cols = ["n_groups", "n", "mean_size", "kish_size", "icc", "deff", "deff_kish", "n_eff", "n_eff_kish"]
    return pd.DataFrame(rows, index=pd.Index(list(tab.index), name="group"), columns=cols)


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
    if group in _names_in(parsed.fixed, set(map(str, data.columns))):
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
        mv = _model_vars(f)
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
    return _result(out, notes, {"separate_fits": sep_fits, "joint_fit": joint, "joint_formula": joint_formula})


# ----------------------------------------------------------------------
# Building the comparison
# ----------------------------------------------------------------------
def _require_mixed(fit, func):
    if getattr(fit, "kind", None) != "lmm":
        raise ValueError(f"{func} needs a mixed model from lmmedu.fit (with a random term such as (1|replicate)), "
                         f"not {type(fit).__name__}.")


def _groups(fit):
    """group name -> (codes, number of levels, blocks of that group), in formula order."""
    out = {}
    for b in fit.blocks:
        g = b.term.group
        if g in out:
            out[g][2].append(b)
        else:
            out[g] = (np.asarray(b.codes), len(b.levels), [b])
    return out


def _variation(X, codes, m):
    """Per column of X: number of groups in which the column is not constant.

    Any one row of each group serves as reference (whichever the fancy
    assignment keeps): the column is constant in a group exactly when every
    row equals that reference.
    """
    ref = np.zeros((m, X.shape[1]))
    ref[codes] = X
    scale = np.abs(X).max(axis=0) if len(X) else np.zeros(X.shape[1])
    differs = np.abs(X - ref[codes]) > 1e-10 * np.maximum(scale, 1e-300)
    counts = np.zeros(X.shape[1], dtype=int)
    for j in range(X.shape[1]):
        if differs[:, j].any():
            counts[j] = int((np.bincount(codes[differs[:, j]], minlength=m) > 0).sum())
    return counts


def _build(formula, lm, lmm):
    X = lmm.X
    n = lmm.nobs
    groups = _groups(lmm)
    vc = lmm.varcomp
    lmc, mmc = lm.coefs, lmm.coefs
    table = pd.DataFrame({
        "estimate_lm": lmc["estimate"], "se_lm": lmc["se"], "df_lm": lmc["df"], "p_lm": lmc["p"],
        "estimate_lmm": mmc["estimate"], "se_lmm": mmc["se"], "df_lmm": mmc["df"], "p_lmm": mmc["p"],
    }, index=pd.Index(lmm.names, name="term"))
    table["se_ratio"] = table["se_lmm"] / table["se_lm"]

    info = {}
    for g, (codes, m, blocks) in groups.items():
        varying = _variation(X, codes, m)
        table[f"varies_{g}"] = np.where(varying > 0, "within", "between")
        names = [name for b in blocks for name in b.names]
        sizes = np.bincount(codes, minlength=m)
        rows = vc[(vc["group"] == g) & vc["term2"].isna()]
        variances = dict(zip(rows["term"], rows["variance"]))
        info[g] = {"m": m, "varying": dict(zip(lmm.names, varying)), "intercept": "Intercept" in names,
                   "slopes": set(names) - {"Intercept"}, "sizes": sizes, "variances": variances}

    table["reason"] = [se_reason(term, table.loc[term], info, n, lm, lmm) for term in lmm.names]

    notes = []
    if lmm.singular:
        notes.append(lmm.singular_message)
    if not lmm.converged:
        notes.append(f"The mixed model's optimizer reported a problem ({lmm.opt.message}); treat its numbers "
                     "with caution.")
    return Comparison(formula=formula, table=table, varcomp=lmm.varcomp, icc=icc(lmm),
                      design_effect=design_effect(lmm), lm=lm, lmm=lmm, notes=notes)


# --- notebook 05: design effects ---
# Exact standard errors of a two-arm design with a random intercept per group, so the design
# effect explorer answers instantly and every number it shows can be checked against real fits.
from scipy import stats as _stats  # noqa: E402

__all__ += ["DESIGN_VARIES", "design_layout", "exact_standard_errors", "design_data", "DesignEffectView",
            "design_effect_view"]

#: How the treatment can vary relative to the groups, in the order the explorer offers them.
DESIGN_VARIES = ("within", "between", "both")
_TERMS05 = ("Intercept", "treatment[T.drug]")


def _int_at_least(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}.")
    return int(value)


def _icc_value(icc):
    if isinstance(icc, bool) or not isinstance(icc, (int, float, np.floating, np.integer)) or not 0 <= icc < 1:
        raise ValueError(f"icc must be a number from 0 up to (not including) 1, got {icc!r}; at 1 nothing varies "
                         "within a group.")
    return float(icc)


def design_layout(n_groups=10, group_size=50, imbalance=0.0, varies="between"):
    """Rows and treated rows per group of a two-arm (control/drug) grouped design.

    Parameters
    ----------
    n_groups : int, default 10
        Number of groups (replicates, probesets, arrays...), at least 2.
    group_size : int, default 50
        Average rows per group, at least 2.
    imbalance : float, default 0.0
        0 gives equal groups; ``a`` in [0, 1) spreads the sizes evenly from about
        ``group_size * (1 - a)`` to ``group_size * (1 + a)`` (never below 2 rows).
    varies : {"within", "between", "both"}, default "between"
        ``"within"``: every group has both arms, half of its rows each; ``"between"``: each
        group is in one arm (alternating); ``"both"``: groups treat different shares of their
        rows (0.2 to 0.8, in a fixed shuffled order), so the treatment varies within groups
        and its share varies between them.

    Returns
    -------
    pandas.DataFrame
        Index ``group`` ("G01", ...); columns ``size`` and ``treated`` (rows in the drug arm).

    Examples
    --------
    >>> design_layout(4, 10, varies="between")["treated"].tolist()
    [0, 10, 0, 10]
    >>> design_layout(2, 10, imbalance=0.5, varies="within")["size"].tolist()
    [5, 15]
    """
    k = _int_at_least("n_groups", n_groups, 2)
    m = _int_at_least("group_size", group_size, 2)
    if isinstance(imbalance, bool) or not isinstance(imbalance, (int, float, np.floating)) or not 0 <= imbalance < 1:
        raise ValueError(f"imbalance must be a number from 0 up to (not including) 1, got {imbalance!r}.")
    if varies not in DESIGN_VARIES:
        raise ValueError(f"varies must be one of {list(DESIGN_VARIES)}, got {varies!r}.")
    sizes = np.maximum(2, np.rint(m * (1.0 + imbalance * np.linspace(-1.0, 1.0, k)))).astype(int)
    if varies == "within":
        treated = sizes // 2
    elif varies == "between":
        treated = np.where(np.arange(k) % 2 == 1, sizes, 0)
    else:
        # A fixed shuffle, so the treated share is not tied to the group size.
        share = np.linspace(0.2, 0.8, k)[np.random.default_rng(5).permutation(k)]
        treated = np.clip(np.rint(share * sizes), 1, sizes - 1).astype(int)
    width = len(str(k))
    index = pd.Index([f"G{i + 1:0{width}d}" for i in range(k)], name="group")
    return pd.DataFrame({"size": sizes, "treated": treated.astype(int)}, index=index)


def exact_standard_errors(layout, icc, total_variance=1.0):
    """Exact SEs of the intercept and drug effect under lm and a random-intercept mixed model.

    The data are ``y = b0 + b1*drug + u[group] + e`` with ``var(u) = icc * total_variance``
    and ``var(e) = (1 - icc) * total_variance``.  Everything follows from the per-group counts
    of ``layout``, by generalised least squares (GLS) with the true variances:

    * ``se_lm``: the SE that ``lm(y ~ treatment)`` reports, on average (its residual variance
      has expectation ``tr((I - H) V) / (n - 2)``);
    * ``sd_lm``: how much the lm's estimate really varies from experiment to experiment
      (the sandwich ``(X'X)^-1 X'VX (X'X)^-1``);
    * ``se_lmm``: the SE of ``lmer(y ~ treatment + (1|group))`` with the variances known
      (``(X'V^-1 X)^-1``); it is also the true SD of the mixed model's estimate.
      ``lmer`` estimates the variances, so its SE scatters around this value.

    Parameters
    ----------
    layout : pandas.DataFrame
        From :func:`design_layout` (columns ``size`` and ``treated``).
    icc : float
        Intraclass correlation, in [0, 1).
    total_variance : float, default 1.0
        Variance of one row (group plus residual); SEs scale with its square root.

    Returns
    -------
    pandas.DataFrame
        Index ``term`` (``Intercept``, ``treatment[T.drug]``); columns ``se_lm``, ``sd_lm``,
        ``se_lmm``, ``se_ratio`` (``se_lmm / se_lm``), ``term_deff`` (the mixed model's
        variance over the variance the same rows would give if independent: the design
        effect of this term), ``n_eff`` (rows / ``term_deff``) and ``lm_false_positive``
        (about how often the lm's 5% test rejects a true null, from ``se_lm / sd_lm``).

    Examples
    --------
    >>> t = exact_standard_errors(design_layout(10, 50, varies="between"), icc=0.05)
    >>> round(float(t.loc["treatment[T.drug]", "term_deff"]), 2)   # 1 + (50 - 1) * 0.05
    3.45
    >>> bool(t.loc["treatment[T.drug]", "se_ratio"] > 1)
    True
    """
    if not isinstance(layout, pd.DataFrame) or not {"size", "treated"} <= set(layout.columns):
        raise ValueError("layout must be a DataFrame with columns 'size' and 'treated'; make one with "
                         "lmmedu.teach.comparison.design_layout.")
    rho = _icc_value(icc)
    if not isinstance(total_variance, (int, float, np.floating)) or not total_variance > 0:
        raise ValueError(f"total_variance must be a positive number, got {total_variance!r}.")
    size = layout["size"].to_numpy(dtype=float)
    treated = layout["treated"].to_numpy(dtype=float)
    n = float(size.sum())
    tau2, sigma2 = rho * total_variance, (1.0 - rho) * total_variance
    # Per group, X_i'1 = (m_i, t_i); X_i'X_i = [[m_i, t_i], [t_i, t_i]] for a 0/1 drug column.
    c = np.column_stack([size, treated])
    xtx = np.array([[n, treated.sum()], [treated.sum(), treated.sum()]])
    if abs(np.linalg.det(xtx)) < 1e-9 * n * n or treated.sum() in (0.0, n):
        raise ValueError("this layout has no rows in one arm, so the drug effect cannot be estimated.")
    between = c.T @ c
    xvx = sigma2 * xtx + tau2 * between
    xtx_inv = np.linalg.inv(xtx)
    sandwich = xtx_inv @ xvx @ xtx_inv
    s2 = (n * total_variance - np.trace(xtx_inv @ xvx)) / (n - 2.0)
    # V_i^-1 = (I - g_i 11') / sigma2 with g_i = tau2 / (sigma2 + m_i tau2) (Sherman-Morrison).
    g = tau2 / (sigma2 + size * tau2)
    info = (xtx - (c * g[:, None]).T @ c) / sigma2
    v_lmm = np.linalg.inv(info)
    iid = total_variance * np.diag(xtx_inv)
    se_lm = np.sqrt(s2 * np.diag(xtx_inv))
    sd_lm = np.sqrt(np.diag(sandwich))
    se_lmm = np.sqrt(np.diag(v_lmm))
    deff = np.diag(v_lmm) / iid
    false_pos = 2.0 * _stats.norm.sf(_stats.norm.isf(0.025) * se_lm / sd_lm)
    return pd.DataFrame({"se_lm": se_lm, "sd_lm": sd_lm, "se_lmm": se_lmm, "se_ratio": se_lmm / se_lm,
                         "term_deff": deff, "n_eff": n / deff, "lm_false_positive": false_pos},
                        index=pd.Index(_TERMS05, name="term"))


def design_data(layout, icc, effect=0.0, total_variance=1.0, seed=0):
    """One simulated experiment of a :func:`design_layout`, to check the exact SEs with real fits.

    Parameters
    ----------
    layout : pandas.DataFrame
        From :func:`design_layout`.
    icc : float
        Intraclass correlation, in [0, 1).
    effect : float, default 0.0
        True drug effect (the truth is no effect by default).
    total_variance : float, default 1.0
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (categorical), ``treatment`` (categorical: control, drug) and ``y``;
        the intercept is 0.

    Examples
    --------
    >>> d = design_data(design_layout(4, 10, varies="within"), icc=0.1)
    >>> d.groupby("treatment", observed=True).size().tolist()
    [20, 20]
    """
    rho = _icc_value(icc)
    rng = np.random.default_rng(seed)
    size = layout["size"].to_numpy(dtype=int)
    treated = layout["treated"].to_numpy(dtype=int)
    codes = np.repeat(np.arange(len(size)), size)
    drug = np.concatenate([np.r_[np.zeros(m - t, dtype=int), np.ones(t, dtype=int)] for m, t in zip(size, treated)])
    u = rng.standard_normal(len(size)) * np.sqrt(rho * total_variance)
    e = rng.standard_normal(len(codes)) * np.sqrt((1.0 - rho) * total_variance)
    return pd.DataFrame({
        "group": pd.Categorical.from_codes(codes, list(layout.index)),
        "treatment": pd.Categorical.from_codes(drug, ["control", "drug"]),
        "y": effect * drug + u[codes] + e,
    })


@dataclass(frozen=True, eq=False)
class DesignEffectView:
    """What the design effect explorer shows for one setting (see :func:`design_effect_view`).

    Attributes
    ----------
    settings : dict
        ``icc``, ``n_groups``, ``group_size``, ``imbalance``, ``varies``.
    layout : pandas.DataFrame
        :func:`design_layout`.
    table : pandas.DataFrame
        :func:`exact_standard_errors`.
    n : int
        Rows.
    kish_size : float
        Size-weighted group size ``sum(m_i^2) / n`` (equals the group size when balanced).
    deff : float
        ``1 + (kish_size - 1) * icc``, the design effect of a quantity that varies only
        between groups.
    n_eff : float
        ``n / deff``.
    text : str
        The readout, a few plain sentences.
    """

    settings: dict
    layout: pd.DataFrame
    table: pd.DataFrame
    n: int
    kish_size: float
    deff: float
    n_eff: float
    text: str


def _rows_text(x):
    """An effective number of rows: whole above 10, one decimal below (1.4 rows, not 1)."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def design_effect_view(icc=0.05, n_groups=10, group_size=50, imbalance=0.0, varies="between"):
    """Everything the design effect explorer shows, computed exactly (no simulation).

    Parameters
    ----------
    icc, n_groups, group_size, imbalance, varies
        See :func:`design_layout` and :func:`exact_standard_errors`.

    Returns
    -------
    DesignEffectView

    Examples
    --------
    >>> v = design_effect_view(icc=0.05, n_groups=10, group_size=50)
    >>> round(v.deff, 2), round(v.n_eff)
    (3.45, 145)
    """
    layout = design_layout(n_groups, group_size, imbalance, varies)
    table = exact_standard_errors(layout, icc)
    rho = _icc_value(icc)
    size = layout["size"].to_numpy(dtype=float)
    n = int(size.sum())
    kish = float((size**2).sum() / n)
    deff = 1.0 + (kish - 1.0) * rho
    drug = table.loc["treatment[T.drug]"]
    where = {"within": "within every group", "between": "between groups only",
             "both": "within groups, in shares that differ between groups"}[varies]
    sizes = f"{int(size.min())} to {int(size.max())} rows" if size.min() != size.max() else f"{int(size[0])} rows"
    lines = [
        f"{n:,} rows in {len(size)} groups of {sizes}; ICC {rho:.2f}; the drug varies {where}.",
        f"Design effect of a between-group quantity: 1 + ({kish:.1f} - 1) x {rho:.2f} = {deff:.2f}, so the "
        f"{n:,} rows are worth about {_rows_text(n / deff)} independent rows.",
        f"The drug effect's own design effect is {drug['term_deff']:.2f} (worth about {_rows_text(drug['n_eff'])} "
        f"independent rows): mixed-model SE {drug['se_lmm']:.3f} vs lm SE {drug['se_lm']:.3f} "
        f"(x{drug['se_ratio']:.2f}).",
        f"The lm's estimate really varies with SD {drug['sd_lm']:.3f}, so its 5% test of a null drug effect "
        f"rejects about {drug['lm_false_positive']:.0%} of the time.",
    ]
    settings = {"icc": rho, "n_groups": int(n_groups), "group_size": int(group_size), "imbalance": float(imbalance),
                "varies": varies}
    return DesignEffectView(settings=settings, layout=layout, table=table, n=n, kish_size=kish, deff=deff,
                            n_eff=n / deff, text="\n".join(lines))


# --- notebook 06: shrinkage and random slopes ---
__all__ += ["POOLING_METHODS", "pooling_table", "true_group_coefficients", "random_effect_cov"]

#: The three ways of estimating one line per group, in display order.
POOLING_METHODS = ("complete pooling", "no pooling", "partial pooling")


def _single_correlated_term(fit, func):
    _require_mixed(fit, func)
    if len(fit.blocks) != 1:
        raise ValueError(f"{func} needs a model with one random term such as (1 + treatment|replicate); "
                         f"{fit.formula!r} has {len(fit.blocks)}.")
    block = fit.blocks[0]
    missing = [n for n in block.names if n not in fit.names]
    if missing:
        raise ValueError(f"{func} needs every column of the random term among the fixed effects (no pooling "
                         f"fits them per group); {missing} is not a fixed effect of {fit.formula!r}.")
    return block


def pooling_table(fit, truth=None):
    """Each group's coefficients under complete, no and partial pooling, with how far each was pulled.

    *Complete pooling* is the lm of the fixed part: one line for all groups. *No pooling* fits
    the random term's columns to each group's rows alone (R: ``lme4::lmList``). *Partial
    pooling* is the mixed model's fixed effects plus the group's conditional modes (R:
    ``coef(fit)``): each group's own line, pulled toward the population line by an amount that
    depends on how much its own rows can say.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit
        A model with one random term whose columns are all fixed effects, e.g.
        ``log(length) ~ treatment + (1 + treatment|replicate)``.
    truth : pandas.DataFrame, optional
        True coefficients of every group (index: levels, columns: terms), e.g. from
        :func:`true_group_coefficients`; adds a ``truth`` column.

    Returns
    -------
    pandas.DataFrame
        One row per group level and term: the group column (named after the grouping
        factor), ``n_obs``, ``term``, ``complete pooling``, ``no pooling``, ``partial pooling``,
        ``population`` (the mixed model's fixed effect), ``pull`` (how far the model pulls this
        group's estimate of the term toward the population: 0 = its own data alone, 1 = all the
        way; the diagonal of ``V (Sigma + V)^-1`` with ``Sigma`` the random-effect covariance and
        ``V`` the sampling covariance of the group's no-pooling estimate, so it depends on the
        group's size and design, not on its luck), ``moved`` (distance moved in units of each term's random-effect
        SD, summed over the terms of the group: the length of its arrow) and, with ``truth``,
        ``truth``. ``attrs["group"]`` names the grouping factor.

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=(4, 40, 60, 80), seed=3,
    ...                                 replicate_treatment_sd=0.15)
    >>> table = pooling_table(lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", df))
    >>> table.columns.tolist()[:4]
    ['replicate', 'n_obs', 'term', 'complete pooling']
    """
    block = _single_correlated_term(fit, "pooling_table")
    group = block.term.group
    lm = fit_lm(fit.formula, fit.data)
    y = np.asarray(fit.y, dtype=float)
    m = len(block.levels)
    n_obs = np.bincount(block.codes, minlength=m)
    none = np.full((m, len(block.names)), np.nan)
    for j in range(m):
        rows = block.codes == j
        Zj = block.Z[rows]
        # A group whose rows cannot identify its own line (e.g. one arm only) has no no-pooling estimate.
        if np.linalg.matrix_rank(Zj) == Zj.shape[1]:
            none[j] = np.linalg.lstsq(Zj, y[rows], rcond=None)[0]
    modes = fit.ranef[group][block.names].to_numpy()
    population = np.array([fit.beta[fit.names.index(n)] for n in block.names])
    partial = population + modes
    complete = np.array([lm.beta[lm.names.index(n)] for n in block.names])
    vc = fit.varcomp
    sds = np.array([vc.loc[(vc["group"] == group) & (vc["term"] == n) & vc["term2"].isna(), "sd"].iloc[0]
                    for n in block.names])
    scale = np.where(sds > 0, sds, np.nan)
    # partial - population = Sigma (Sigma + V_j)^-1 (none - population) exactly, when the random term's
    # columns are fixed effects; V_j (Sigma + V_j)^-1 is therefore the share each estimate is pulled.
    Sigma = random_effect_cov(fit).to_numpy()
    pull = np.full((m, len(block.names)), np.nan)
    for j in range(m):
        if not np.isnan(none[j]).any():
            Zj = block.Z[block.codes == j]
            V = fit.sigma ** 2 * np.linalg.inv(Zj.T @ Zj)
            pull[j] = np.diag(V @ np.linalg.inv(Sigma + V))
    with np.errstate(invalid="ignore", divide="ignore"):
        moved = np.sqrt(np.nansum(((none - partial) / scale) ** 2, axis=1))
    moved[np.isnan(none).any(axis=1)] = np.nan
    frames = []
    for k, term in enumerate(block.names):
        frames.append(pd.DataFrame({
            group: block.levels, "n_obs": n_obs, "term": term, "complete pooling": complete[k],
            "no pooling": none[:, k], "partial pooling": partial[:, k], "population": population[k],
            "pull": pull[:, k], "moved": moved,
        }))
    out = pd.concat(frames, ignore_index=True)
    if truth is not None:
        true = pd.DataFrame(truth)
        out["truth"] = [float(true.loc[lev, term]) for lev, term in zip(out[group], out["term"])]
    out.attrs["group"] = group
    return out


def true_group_coefficients(truth, gene=None):
    """True intercept and drug effect of every replicate of a :func:`lmmedu.simulate_replicates` data set.

    Parameters
    ----------
    truth : lmmedu.data.simulate.ReplicatesTruth
        ``lmmedu.truth(df)``.
    gene : str, optional
        Gene whose lines to return; default the reference gene.

    Returns
    -------
    pandas.DataFrame
        Index ``replicate``; columns ``Intercept`` (mean log length of the gene's control cells
        in that replicate) and ``treatment[T.drug]`` (that replicate's drug effect).

    Examples
    --------
    >>> import lmmedu
    >>> t = lmmedu.truth(lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> true_group_coefficients(t).columns.tolist()
    ['Intercept', 'treatment[T.drug]']
    """
    if not hasattr(truth, "replicate_effects"):
        raise ValueError("true_group_coefficients needs the truth of a simulate_replicates data set "
                         "(lmmedu.truth(df)).")
    gene = truth.genes[0] if gene is None else gene
    if gene not in truth.genes:
        raise ValueError(f"gene must be one of {list(truth.genes)}, got {gene!r}.")
    r = truth.replicate_effects.set_index("replicate")
    base = truth.baseline + truth.gene_effects[gene]
    return pd.DataFrame({"Intercept": base + r["b0"],
                         "treatment[T.drug]": truth.treatment_effects[gene] + r["b_treat"]})


def random_effect_cov(fit):
    """Estimated covariance matrix of the random effects of a model with one random term.

    Returns
    -------
    pandas.DataFrame
        q x q, rows and columns named by the term's columns (R: ``VarCorr(fit)``).

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(genes=("A",), seed=1)
    >>> random_effect_cov(lmmedu.fit("log(length) ~ treatment + (1|replicate)", df)).shape
    (1, 1)
    """
    block = _single_correlated_term(fit, "random_effect_cov")
    vc = fit.varcomp[fit.varcomp["group"] == block.term.group]
    cov = pd.DataFrame(0.0, index=block.names, columns=block.names)
    for row in vc.itertuples():
        a = row.term
        b = a if row.term2 is None or (isinstance(row.term2, float) and np.isnan(row.term2)) else row.term2
        cov.loc[a, b] = cov.loc[b, a] = row.variance
    return cov


# --- notebook 07: p-values and model comparison ---
# Residual diagnostics: the numbers behind the residual, QQ and per-group plots.

__all__ += ["residual_table", "residual_means", "residual_spread_ratio"]


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

    if getattr(fit, "kind", None) not in ("lm", "lmm"):
        raise ValueError(f"residual_table needs a fit made by lmmedu.fit or lmmedu.fit_lm, not {type(fit).__name__}.")
    if group is None and fit.kind == "lmm":
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
    table.attrs.update(model=fit.formula if fit.kind == "lmm" else fit.parsed.fixed_formula_r, response=fit.response,
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
