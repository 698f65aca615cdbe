"""The framework of :mod:`lmmedu.teach.comparison`: :func:`compare`, an lm and a mixed model of one formula, term by term.

:class:`Comparison` holds both fits, the table with a reason per term, the variance
components, :func:`icc` and :func:`design_effect`; :func:`effect_carriers` says which grouping
factor carries each term's variation. The lessons built on it are in the modules named for
them; the overview is in :mod:`lmmedu.teach.comparison`, the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...stats.fit import fit, fit_lm
from ...stats.results import Summary, is_mixed
from ..prose import comparison_lines, format_comparison_table, format_frame, format_varcomp, se_reason
from .layout import comparison_html

__all__ = ["Comparison", "compare", "icc", "design_effect", "effect_carriers"]


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
        ``df_lmm`` (by the fit's df method, ``lmm.ddf``), ``p_lmm``, ``se_ratio`` (se_lmm / se_lm),
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
            lines += ["", "Intraclass correlation (intercepts only): icc = correlation of two rows of one group, "
                      "within one level of the factors in 'within'; share = of all the variance:",
                      format_frame(self.icc, {"variance": 4, "denominator": 4, "icc": 3, "share": 3}).to_string()]
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
        # Numbers only in the table, laid out to fit a notebook's output area (see .layout); the
        # reasons are sentences, so they go under it as a list keyed by term.
        return comparison_html(self)




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


def icc(fit):
    """Intraclass correlation of each grouping factor that has a random intercept.

    The ICC of a factor ``g`` is the correlation of two rows in the same level
    of ``g``, *within one level of every other grouping factor that cuts across
    g or encloses it* (the ``within`` column)::

        icc = var_g / (var_g + variances of the factors nested inside g + residual variance)

    This is the ICC that the design effect of a comparison between levels of
    ``g`` depends on: a factor crossed with ``g`` (every array carries every
    probeset) or enclosing it (replicates inside labs) adds the same shift to
    both sides of such a comparison, so it cancels and stays out of the
    denominator; a factor nested inside ``g`` does not cancel and stays in.
    With one grouping factor this is the usual ``var_g / (var_g + residual)``.
    ``share`` is the other common number, ``var_g`` over the sum of all
    random-intercept variances and the residual (the share of all the
    variance); for crossed factors with very different variances the two
    differ by orders of magnitude.
    Random slopes are left out, because their contribution changes with the
    slope variable; with random slopes the ICC refers to rows where the slope
    variables are 0.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit

    Returns
    -------
    pandas.DataFrame
        Index ``group``; columns ``variance`` (of its intercept), ``within``
        (the grouping factors the ICC is computed within, comma-separated;
        empty when none), ``denominator``, ``icc`` and ``share``.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates("within"))
    >>> t = icc(m)
    >>> bool(0 < t.loc["replicate", "icc"] < 1)
    True
    """
    require_mixed(fit, "icc")
    vc = fit.varcomp
    intercepts = vc[(vc["term"] == "Intercept") & vc["term2"].isna() & (vc["group"] != "Residual")]
    # One intercept per grouping factor (a factor can appear in several blocks after ||).
    intercepts = intercepts.drop_duplicates("group")
    variances = dict(zip(intercepts["group"], intercepts["variance"].to_numpy(dtype=float)))
    residual = fit.sigma**2
    total = sum(variances.values()) + residual
    groups = group_codes(fit)
    rows = []
    for g, var_g in variances.items():
        others = [h for h in variances if h != g]
        inside = [h for h in others if is_nested(groups[h][0], groups[g][0])]
        within = [h for h in others if h not in inside]
        denominator = var_g + sum(variances[h] for h in inside) + residual
        rows.append({"variance": var_g, "within": ", ".join(within), "denominator": denominator,
                     "icc": var_g / denominator, "share": var_g / total})
    return pd.DataFrame(rows, index=pd.Index(list(variances), name="group"),
                        columns=["variance", "within", "denominator", "icc", "share"])


def design_effect(fit):
    """Design effect and effective sample size per grouping factor.

    For a quantity that varies only between groups (a mean, or a treatment
    given to whole groups), ``n`` correlated rows carry as much information as
    ``n / deff`` independent ones, with Kish's design effect
    ``deff = 1 + (m - 1) * ICC`` for clusters of size ``m``, with the ICC of
    :func:`icc` (within the grouping factors that cut across the group, which
    cancel from comparisons between its levels).  Two cluster sizes are
    reported:

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
    require_mixed(fit, "design_effect")
    tab = icc(fit)
    groups = group_codes(fit)
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


# ----------------------------------------------------------------------
# Building the comparison
# ----------------------------------------------------------------------
def require_mixed(fit, func):
    if not is_mixed(fit):
        raise ValueError(f"{func} needs a mixed model from lmmedu.fit (with a random term such as (1|replicate)), "
                         f"not {type(fit).__name__}.")


def group_codes(fit):
    """group name -> (codes, number of levels, blocks of that group), in formula order."""
    out = {}
    for b in fit.blocks:
        g = b.term.group
        if g in out:
            out[g][2].append(b)
        else:
            out[g] = (np.asarray(b.codes), len(b.levels), [b])
    return out


def is_nested(inner, outer):
    """True when every level of ``inner`` (row codes) lies inside a single level of ``outer``."""
    inner, outer = np.asarray(inner), np.asarray(outer)
    pairs = np.unique(np.stack([inner, outer], axis=1), axis=0)
    return len(pairs) == len(np.unique(inner))


def effect_carriers(fit):
    """Which random term lets each fixed-effect term's effect differ between the levels of each group.

    A term that varies within the levels of a grouping factor ``g`` has an effect that may differ
    from one level of ``g`` to the next only if the random part says so: a random slope of the term
    in ``g`` (``(1 + treatment | replicate)``), or the random intercept of a factor ``h`` nested in
    ``g`` within whose levels the term is constant (``(1 | replicate:treatment)`` gives every
    replicate its own drug effect). Without either, the model assumes the term's effect is the same
    in every level of ``g``.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit

    Returns
    -------
    dict
        ``{g: {term: carrier}}`` for every grouping factor ``g`` and every term that varies within
        it: ``carrier`` is ``"slope"``, the name of the nested factor ``h``, or None when the model
        assumes the effect is the same in every level of ``g``.

    Examples
    --------
    >>> import lmmedu
    >>> data = lmmedu.load_replicates("within")
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)", data)
    >>> effect_carriers(m)["replicate"]["treatment[T.drug]"]
    'replicate:treatment'
    >>> m = lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", data)
    >>> effect_carriers(m)["replicate"]["treatment[T.drug]"]
    'slope'
    """
    X = fit.X
    groups = group_codes(fit)
    varying = {g: variation(X, codes, m) for g, (codes, m, _) in groups.items()}
    slopes = {g: {name for b in blocks for name in b.names} - {"Intercept"} for g, (_, _, blocks) in groups.items()}
    intercepts = {g for g, (_, _, blocks) in groups.items() if any("Intercept" in b.names for b in blocks)}
    out = {}
    for g, (codes_g, _, _) in groups.items():
        nested = [h for h in intercepts if h != g and is_nested(groups[h][0], codes_g)]
        terms = {}
        for j, term in enumerate(fit.names):
            if not varying[g][j]:
                continue
            if term in slopes[g]:
                terms[term] = "slope"
                continue
            terms[term] = next((h for h in nested if not varying[h][j]), None)
        out[g] = terms
    return out


def variation(X, codes, m):
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
    groups = group_codes(lmm)
    vc = lmm.varcomp
    lmc, mmc = lm.coefs, lmm.coefs
    table = pd.DataFrame({
        "estimate_lm": lmc["estimate"], "se_lm": lmc["se"], "df_lm": lmc["df"], "p_lm": lmc["p"],
        "estimate_lmm": mmc["estimate"], "se_lmm": mmc["se"], "df_lmm": mmc["df"], "p_lmm": mmc["p"],
    }, index=pd.Index(lmm.names, name="term"))
    table["se_ratio"] = table["se_lmm"] / table["se_lm"]

    carriers = effect_carriers(lmm)
    info = {}
    for g, (codes, m, blocks) in groups.items():
        varying = variation(X, codes, m)
        table[f"varies_{g}"] = np.where(varying > 0, "within", "between")
        names = [name for b in blocks for name in b.names]
        sizes = np.bincount(codes, minlength=m)
        rows = vc[(vc["group"] == g) & vc["term2"].isna()]
        variances = dict(zip(rows["term"], rows["variance"]))
        info[g] = {"m": m, "varying": dict(zip(lmm.names, varying)), "intercept": "Intercept" in names,
                   "slopes": set(names) - {"Intercept"}, "sizes": sizes, "variances": variances,
                   "carriers": carriers[g]}

    table["reason"] = [se_reason(term, table.loc[term], info, n, lm, lmm) for term in lmm.names]

    notes = []
    if lmm.singular:
        notes.append(lmm.singular_message)
    if not lmm.converged:
        notes.append(f"The mixed model's optimizer reported a problem ({lmm.opt.message}); treat its numbers "
                     "with caution.")
    return Comparison(formula=formula, table=table, varcomp=lmm.varcomp, icc=icc(lmm),
                      design_effect=design_effect(lmm), lm=lm, lmm=lmm, notes=notes)
