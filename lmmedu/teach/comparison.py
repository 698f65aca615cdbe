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
