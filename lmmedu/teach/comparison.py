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
summary of the same idea.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..stats.fit import fit, fit_lm
from ..stats.results import Summary

__all__ = ["Comparison", "compare", "icc", "design_effect"]


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
        return _format_table(self.table)

    def interpretation(self):
        """A few sentences reading the table as a whole.

        Returns
        -------
        list of str
        """
        return _interpretation(self)

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
        lines += ["", "Variance components (mixed model):", _format_varcomp(self.varcomp).to_string(index=False)]
        if len(self.icc):
            lines += ["", "Intraclass correlation (share of variance, intercepts only):",
                      _format_frame(self.icc, {"variance": 4, "total": 4, "icc": 3}).to_string()]
            lines += ["", "Design effect (for a quantity that varies only between groups, e.g. a mean):",
                      _format_frame(self.design_effect, {"mean_size": 4, "kish_size": 4, "icc": 3, "deff": 4,
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


def _plural(g):
    if ":" in g or g.endswith("s"):
        return f"{g} groups"
    return f"{g}s"


def _ratio_text(r):
    if not np.isfinite(r):
        return "n/a"
    return f"{r:.2f}" if r < 10 else f"{r:.0f}"


def _df_text(df):
    if not np.isfinite(df):
        return "n/a"
    return f"{df:,.0f}" if df >= 100 else f"{df:.1f}"


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

    table["reason"] = [_reason(term, table.loc[term], info, n, lm, lmm) for term in lmm.names]

    notes = []
    if lmm.singular:
        notes.append(lmm.singular_message)
    if not lmm.converged:
        notes.append(f"The mixed model's optimizer reported a problem ({lmm.opt.message}); treat its numbers "
                     "with caution.")
    return Comparison(formula=formula, table=table, varcomp=lmm.varcomp, icc=icc(lmm),
                      design_effect=design_effect(lmm), lm=lm, lmm=lmm, notes=notes)


def _reason(term, row, info, n, lm, lmm):
    """One sentence on why the mixed model's SE for ``term`` differs from the lm's.

    Each grouping factor pulls one way: one the term is constant within
    makes the groups, not the rows, its replicates (SE up); one it varies
    within cancels out of it (SE same or down, as its variance leaves the
    residual); a random slope of the term adds the slope's spread (SE up).
    """
    ratio, df = row["se_ratio"], row["df_lmm"]
    between = [g for g, d in info.items() if d["varying"][term] == 0]
    within = [g for g in info if g not in between]
    between_icpt = [g for g in between if info[g]["intercept"]]
    between_plain = [g for g in between if not info[g]["intercept"]]
    slope_groups = [g for g in within if term in info[g]["slopes"]]
    within_plain = [g for g in within if g not in slope_groups]
    numbers = f"SE x{_ratio_text(ratio)}, df {_df_text(df)}"

    clauses = []
    if between_icpt:
        counts = " and ".join(f"the {info[g]['m']:,} {_plural(g)}" for g in between_icpt)
        where = " and ".join(_plural(g) for g in between_icpt)
        clause = f"varies only between {where}, so the mixed model judges it against {counts}, not the {n:,} rows"
        zero = [g for g in between_icpt if info[g]["variances"].get("Intercept", 0.0) <= 1e-10 * lmm.sigma**2]
        if zero:
            clause += f" (though the {' and '.join(zero)} variance is estimated as zero)"
        clauses.append(clause)
    if between_plain:
        clauses.append(f"is constant within each {' and '.join(between_plain)}, but with no random intercept for "
                       f"{' and '.join(between_plain)} that does not tie its rows together")
    if within_plain:
        partial = [g for g in within_plain if info[g]["varying"][term] < info[g]["m"]]
        some = ""
        if partial:
            g1 = partial[0]
            some = f" (in {info[g1]['varying'][term]} of {info[g1]['m']} {_plural(g1)})"
        where = " and ".join(_plural(g) for g in within_plain)
        g0 = within_plain[0]
        lead = "but it varies within" if clauses else "varies within"
        clauses.append(f"{lead} {where}{some}, so {g0}-to-{g0} differences cancel out of it")
    if slope_groups:
        g0 = slope_groups[0]
        counts = " and ".join(f"the {info[g]['m']:,} {_plural(g)}" for g in slope_groups)
        lead = "it varies within" if clauses else "varies within"
        clauses.append(f"{lead} {_plural(g0)} but its effect may differ from {g0} to {g0} (random slope), so it is "
                       f"{'also ' if between_icpt else ''}judged against how much that effect varies across {counts}")
    text = "; ".join(clauses) + f": {numbers}"
    if between_icpt and not within_plain and not slope_groups and ratio < 1.1 and lm.sigma > lmm.sigma:
        # Not a contradiction of "judged against the groups": the lm's residual SD is itself inflated.
        text += (f", about the lm's only because the lm's residual SD ({lm.sigma:.3g}) already contains the "
                 f"{' and '.join(between_icpt)} differences (mixed-model residual SD {lmm.sigma:.3g})")
    cancelled = [g for g in within if info[g]["intercept"]]
    if ratio < 0.98 and cancelled:
        text += (f", smaller than the lm's because the lm counts the {' and '.join(cancelled)} differences as noise "
                 f"(residual SD {lm.sigma:.3g} in the lm, {lmm.sigma:.3g} in the mixed model)")

    diff = row["estimate_lmm"] - row["estimate_lm"]
    scale = max(abs(row["estimate_lm"]), row["se_lm"])
    if abs(diff) > 1e-6 * scale:
        # Judged against the mixed model's SE, the honest uncertainty of either estimate.
        size = "a little" if abs(diff) < 0.5 * row["se_lmm"] else "noticeably"
        gs = between or within
        unbalanced = [g for g in gs if info[g]["sizes"].min() != info[g]["sizes"].max()]
        if unbalanced:
            g = unbalanced[0]
            sz = info[g]["sizes"]
            why = (f"the {_plural(g)} are unbalanced ({sz.min():,} to {sz.max():,} rows each) and the mixed "
                   f"model weights them by their information, not by their rows (GLS weighting)")
        else:
            why = (f"the mixed model weights within- and between-{gs[0]} information differently from the lm "
                   "(GLS weighting)")
        text += f"; the estimate differs {size} ({diff:+.3g}) because {why}"
    return text[0].upper() + text[1:] + "."


# ----------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------
def _num(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _span(values, fmt, prefix=""):
    lo, hi = fmt(values.min()), fmt(values.max())
    return f"{prefix}{lo}" if lo == hi else f"{prefix}{lo} to {prefix}{hi}"


def _p_text(p):
    if not np.isfinite(p):
        return "n/a"
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


def _format_table(table):
    out = pd.DataFrame(index=table.index)
    for side in ("lm", "lmm"):
        out[f"estimate_{side}"] = [f"{v:.4g}" for v in table[f"estimate_{side}"]]
        out[f"se_{side}"] = [f"{v:.3g}" for v in table[f"se_{side}"]]
        out[f"df_{side}"] = [_df_text(v) for v in table[f"df_{side}"]]
        out[f"p_{side}"] = [_p_text(v) for v in table[f"p_{side}"]]
    out["se_ratio"] = [_ratio_text(v) for v in table["se_ratio"]]
    for col in table.columns:
        if col.startswith("varies_"):
            out[col] = table[col]
    return out


def _format_frame(frame, digits):
    out = frame.copy().astype(object)
    for col, d in digits.items():
        if col in out:
            out[col] = [f"{v:.{d}g}" if abs(v) < 10**d else f"{v:,.0f}" for v in frame[col]]
    return out


def _format_varcomp(vc):
    out = vc.copy()
    out["term"] = out["term"].fillna("")
    out["term2"] = out["term2"].fillna("")
    for col in ("variance", "sd", "corr"):
        out[col] = ["" if not np.isfinite(v) else f"{v:.4g}" for v in vc[col]]
    return out


def _interpretation(cmp):
    tab = cmp.table
    lines = []
    varies = [c for c in tab.columns if c.startswith("varies_")]
    groups = [c[len("varies_"):] for c in varies]
    signature = tab[varies].apply(tuple, axis=1)
    for sig in dict.fromkeys(signature):
        terms = signature.index[signature == sig].tolist()
        b = [g for g, v in zip(groups, sig) if v == "between"]
        w = [g for g, v in zip(groups, sig) if v == "within"]
        parts = []
        if b:
            parts.append("only between " + " and ".join(f"{_plural(g)} ({cmp.lmm.ngroups[g]:,})" for g in b))
        if w:
            parts.append("within " + " and ".join(_plural(g) for g in w))
        verb = "varies" if len(terms) == 1 else "vary"
        lines.append(f"{', '.join(terms)} {verb} {' but '.join(parts)}: SE "
                     f"{_span(tab.loc[terms, 'se_ratio'], _ratio_text, 'x')} the lm's, df "
                     f"{_span(tab.loc[terms, 'df_lmm'], _df_text)}.")
    if len(cmp.icc):
        g = cmp.icc["icc"].idxmax()
        de = cmp.design_effect.loc[g]
        lines.append(f"{g} explains {100 * cmp.icc.loc[g, 'icc']:.1f}% of the variance (ICC); for a quantity "
                     f"that varies only between {_plural(g)}, the {int(de['n']):,} rows are worth about "
                     f"{de['n_eff_kish']:,.0f} independent ones (design effect {_num(de['deff_kish'])}, "
                     "size-weighted).")
    up = tab.index[tab["se_ratio"] > 1.1].tolist()
    if up:
        lines.append(f"For {', '.join(up)} the lm's SEs are too small and its p-values too optimistic: it counts "
                     "correlated rows as independent replicates.")
    down = tab.index[tab["se_ratio"] < 0.9].tolist()
    if down:
        lines.append(f"For {', '.join(down)} the mixed model is more precise than the lm: it removes group "
                     "differences that the lm leaves in its residual noise.")
    return lines


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
