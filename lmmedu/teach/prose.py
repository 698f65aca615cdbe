"""Report sentences: the words notebooks, widgets and comparisons put next to numbers.

Everything here turns computed results into text and may name the teaching columns (a
contrast of ``length`` is said to lengthen or shorten). Nothing here computes a statistic:
the numbers come from :mod:`lmmedu.stats` and :mod:`lmmedu.teach.studies`.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from ..stats import emmeans as _emmeans
from ..data.truth import design_problem, true_design_effect, true_icc

__all__ = [
    "units_sentence",
    "machine_readout",
    "rates_summary",
    "se_reason",
    "comparison_lines",
    "icc_sentence",
    "ratio_sentence",
    "contrast_sentences",
    "contrasts",
]


def units_sentence(n_replicates: int) -> str:
    """How many independent units a drug given to whole cultures is tested on.

    Examples
    --------
    >>> units_sentence(4)[:31]
    'With 4 replicate cultures, a dr'
    """
    return (f"With {n_replicates} replicate cultures, a drug given to whole cultures is tested on {n_replicates} "
            f"independent units, however many cells you measure in each.")


def machine_readout(replicate_sd, n_replicates, obs_per_replicate, design, residual_sd=0.5,
                    replicate_treatment_sd=0.0, effect=0.0):
    """What the pseudo-replication settings imply before any simulation: ICC, design effect, warnings.

    Parameters
    ----------
    replicate_sd : float
        SD of the replicate intercepts (log scale).
    n_replicates : int
    obs_per_replicate : int
        Measurements per replicate.
    design : {"within", "between"}
    residual_sd : float, default 0.5
    replicate_treatment_sd : float, default 0.0
        SD of the replicate-to-replicate variation of the drug effect.
    effect : float, default 0.0
        True drug effect: 0 counts false positives, anything else measures power.

    Returns
    -------
    str
        HTML: the true ICC, the design effect and effective number of measurements (between
        design), or why the replicate effects cancel (within design), plus any design problem.

    Examples
    --------
    >>> "design effect" in machine_readout(0.2, 4, 100, "between")
    True
    """
    icc = true_icc(replicate_sd, residual_sd)
    n_rows = n_replicates * obs_per_replicate
    parts = [f"{n_rows:,} measurements from {n_replicates} replicates; true ICC = {icc:.3f}."]
    if design == "between":
        deff = true_design_effect(replicate_sd, obs_per_replicate, residual_sd)
        parts.append(f"Each replicate is one arm, so the drug is compared between replicates: design effect "
                     f"1 + ({obs_per_replicate} - 1) x {icc:.3f} = {deff:.1f}, i.e. the {n_rows:,} rows carry "
                     f"about as much information as {n_rows / deff:.1f} independent ones.")
    elif replicate_treatment_sd > 0:
        parts.append(f"Every replicate has both arms, so the replicate intercepts cancel from drug minus control; "
                     f"but the drug effect itself differs between replicates (SD {replicate_treatment_sd:g}), and "
                     f"that does not cancel: the drug is judged on {n_replicates} replicate differences, not on "
                     f"{n_rows:,} rows.")
    else:
        parts.append("Every replicate has both arms and responds to the drug identically, so the drug is compared "
                     "inside each replicate and the replicate intercepts cancel from drug minus control.")
    if effect:
        parts.append(f"True drug effect {effect:g}: a significant result is a correct detection, and the rate "
                     "is the power.")
    else:
        parts.append("No true drug effect: every significant result is a false positive.")
    problem = design_problem(n_replicates, design)
    if problem:
        parts.append(f"<span style='color:#b35806'>{html.escape(problem)}</span>")
    return "<br>".join(parts)


def rates_summary(rates: pd.DataFrame) -> str:
    """One sentence per run of a study: the settings and every analysis's rate.

    Parameters
    ----------
    rates : pandas.DataFrame
        A :func:`lmmedu.teach.studies.rates` table of one setting.

    Returns
    -------
    str

    Examples
    --------
    >>> from lmmedu.teach.studies import false_positive_rates
    >>> rates_summary(false_positive_rates(n_sims=3, obs_per_replicate=5))[:32]
    'Ran 3 experiments (between desig'
    """
    s = rates.attrs.get("settings", {})
    parts = [f"{row.analysis} {row.rate:.0%}" if row.n_sims else f"{row.analysis} not testable"
             for row in rates.itertuples()]
    where = []
    if "design" in s:
        where.append(f"{s['design']} design")
    if "n_replicates" in s and "obs_per_replicate" in s:
        where.append(f"{s['n_replicates']} replicates x {s['obs_per_replicate']} measurements")
    if "replicate_sd" in s:
        where.append(f"replicate SD {s['replicate_sd']:.2f}")
    if "replicate_treatment_sd" in s:
        where.append(f"SD of the replicate drug effects {s['replicate_treatment_sd']:.2f}")
    effect = float(s.get("effect", 0.0) or 0.0)
    if "effect" in s:
        where.append(f"true drug effect {effect:g}")
    kind = "power: " if effect else ("false positives: " if "effect" in s else "")
    text = (f"Ran {s.get('n_sims')} experiments ({', '.join(where)}): " if where
            else f"Ran {s.get('n_sims')} experiments: ") + kind + "; ".join(parts) + "."
    if rates.attrs.get("problem"):
        text += " " + rates.attrs["problem"]
    return text


# --------------------------------------------------------------------------------------
# lm vs mixed model (lmmedu.compare)
# --------------------------------------------------------------------------------------

# Plurals English does not make with -s (a learner's factor is often an animal).
_IRREGULAR = {"mouse": "mice", "louse": "lice", "goose": "geese", "child": "children", "person": "people",
              "tooth": "teeth", "foot": "feet", "leaf": "leaves", "calf": "calves", "wife": "wives", "ox": "oxen",
              "sheep": "sheep", "fish": "fish", "deer": "deer", "series": "series", "species": "species"}


def _plural(g):
    if g.lower() in _IRREGULAR:
        plural = _IRREGULAR[g.lower()]
        return plural.capitalize() if g[:1].isupper() else plural
    if ":" in g or g.endswith("s") or not g[-1:].isalpha():
        return f"{g} groups"
    if g.endswith(("x", "z", "ch", "sh")):
        return f"{g}es"  # batch -> batches
    if g.endswith("y") and g[-2:-1] not in tuple("aeiou"):
        return f"{g[:-1]}ies"  # laboratory -> laboratories
    return f"{g}s"


def _ratio_text(r):
    if not np.isfinite(r):
        return "n/a"
    return f"{r:.2f}" if r < 10 else f"{r:.0f}"


def _df_text(df):
    if not np.isfinite(df):
        return "n/a"
    return f"{df:,.0f}" if df >= 100 else f"{df:.1f}"


def se_reason(term, row, info, n, lm, lmm):
    """One sentence on why the mixed model's SE for ``term`` differs from the lm's (:func:`lmmedu.compare`).

    Each grouping factor pulls one way: one the term is constant within
    makes the groups, not the rows, its replicates (SE up); one it varies
    within cancels out of it (SE same or down, as its variance leaves the
    residual); a random slope of the term adds the slope's spread (SE up).
    """
    ratio, df = row["se_ratio"], row["df_lmm"]
    between = [g for g, d in info.items() if d["varying"][term] == 0]
    within = [g for g in info if g not in between]
    carriers = {g: info[g].get("carriers", {}).get(term) for g in within}
    # A nested factor whose intercept gives every level of g its own effect of the term (replicate:treatment
    # for the drug in (1|replicate) + (1|replicate:treatment)) is said with g, not as a group of its own.
    carrying = {h for h in carriers.values() if h not in (None, "slope")}
    between_icpt = [g for g in between if info[g]["intercept"] and g not in carrying]
    between_plain = [g for g in between if not info[g]["intercept"]]
    slope_groups = [g for g in within if carriers[g] is not None]
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
        # Only the groups' levels cancel; a model with no random term for the effect also assumes it is
        # the same in every group, which is what makes its df so large.
        clauses.append(f"{lead} {where}{some}, so {g0}-to-{g0} differences in level cancel out of it (this "
                       f"model assumes its effect is the same in every {g0})")
    for g0 in slope_groups:
        carrier = carriers[g0]
        lead = "it varies within" if clauses else "varies within"
        if carrier == "slope":
            how = f"its effect may differ from {g0} to {g0} (random slope)"
        else:
            how = f"the ({carrier}) term gives every {g0} its own effect of it"
            if info[carrier]["variances"].get("Intercept", 0.0) <= 1e-10 * lmm.sigma**2:
                how += " (though its variance is estimated as zero)"
        clauses.append(f"{lead} {_plural(g0)} but {how}, so it is {'also ' if between_icpt else ''}judged against "
                       f"how much that effect varies across the {info[g0]['m']:,} {_plural(g0)}")
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
        gs = [g for g in between if g not in carrying] or within
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


def _num(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _span(values, fmt, prefix=""):
    lo, hi = fmt(values.min()), fmt(values.max())
    return f"{prefix}{lo}" if lo == hi else f"{prefix}{lo} to {prefix}{hi}"


def _p_text(p):
    if not np.isfinite(p):
        return "n/a"
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


def format_comparison_table(table):
    """A comparison table as rounded text, reasons left out."""
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


def format_frame(frame, digits):
    """Columns rounded to the given significant digits, as text."""
    out = frame.copy().astype(object)
    for col, d in digits.items():
        if col in out:
            out[col] = [f"{v:.{d}g}" if abs(v) < 10**d else f"{v:,.0f}" for v in frame[col]]
    return out


def format_varcomp(vc):
    """Variance components as text (blank where a value does not apply)."""
    out = vc.copy()
    out["term"] = out["term"].fillna("")
    out["term2"] = out["term2"].fillna("")
    for col in ("variance", "sd", "corr"):
        out[col] = ["" if not np.isfinite(v) else f"{v:.4g}" for v in vc[col]]
    return out


def _pct(v):
    return f"{100 * v:.3g}%"


def icc_sentence(group, icc_row, deff_row):
    """One group's ICC (saying which one) and design effect, from rows of ``icc`` and ``design_effect``.

    Examples
    --------
    >>> import pandas as pd
    >>> icc_row = pd.Series({"icc": 0.0063, "share": 0.00006, "within": "probeset"})
    >>> deff_row = pd.Series({"n": 23000, "n_eff_kish": 3168.0, "deff_kish": 7.26})
    >>> icc_sentence("sample", icc_row, deff_row)[:64]
    'Within one probeset, sample explains 0.63% of the variance (ICC '
    """
    within = [h.strip() for h in str(icc_row["within"]).split(",") if h.strip()]
    if within:
        lead = f"Within {' and '.join(f'one {h}' for h in within)}, {group}"
        which = (f"ICC within {' and '.join(_plural(h) for h in within)}; {_pct(icc_row['share'])} of all the "
                 "variance")
    else:
        lead, which = group, "ICC"
    return (f"{lead} explains {_pct(icc_row['icc'])} of the variance ({which}); for a quantity that varies only "
            f"between {_plural(group)}, the {int(deff_row['n']):,} rows are worth about "
            f"{deff_row['n_eff_kish']:,.0f} independent ones (design effect {_num(deff_row['deff_kish'])}, "
            "size-weighted).")


def comparison_lines(cmp):
    """What a :class:`~lmmedu.teach.comparison.Comparison` shows, in a few sentences."""
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
    # One line per group: with crossed groups the largest ICC is rarely the one that matters for
    # the terms compared between the other group's levels (arrays, next to probesets).
    lines += [icc_sentence(g, cmp.icc.loc[g], cmp.design_effect.loc[g]) for g in cmp.icc.index]
    up = tab.index[tab["se_ratio"] > 1.1].tolist()
    if up:
        lines.append(f"For {', '.join(up)} the lm's SEs are too small and its p-values too optimistic: it counts "
                     "correlated rows as independent replicates.")
    down = tab.index[tab["se_ratio"] < 0.9].tolist()
    if down:
        lines.append(f"For {', '.join(down)} the mixed model is more precise than the lm: it removes group "
                     "differences that the lm leaves in its residual noise.")
    return lines


# --------------------------------------------------------------------------------------
# Contrasts
# --------------------------------------------------------------------------------------

def _fmt_pct(values):
    big = max((abs(v) for v in values if np.isfinite(v)), default=0.0)
    digits = 1 if big < 100 else 0
    return [f"{v:.{digits}f}%" for v in values]


def ratio_sentence(num, den, var, by_label, ratio, lo, hi, response_var, level, implicit_den, adjusted, agent):
    """One report sentence for a ratio and its interval ("drug lengthens gene B by 8.5% (95% CI ...)").

    With ``agent`` (the compared factor is the model's first factor, typically
    the treatment) the level is the subject: "drug lengthens gene B by 8%".
    Otherwise the sentence is neutral: "length is 15% higher for gene B than
    for gene A, in treatment control".
    """
    if not (np.isfinite(ratio) and np.isfinite(lo) and np.isfinite(hi)):
        return "not estimable"
    ci_name = f"{level * 100:g}% CI"
    adj = f", adjusted for {adjusted} comparisons" if adjusted else ""
    length = response_var.lower() == "length"
    clear = lo > 1 or hi < 1
    up = lo > 1
    if clear:
        size, a, b = (ratio - 1, lo - 1, hi - 1) if up else (1 - ratio, 1 - hi, 1 - lo)
        s, sa, sb = _fmt_pct([100 * size, 100 * a, 100 * b])
        ci = f"({ci_name} {sa} to {sb}{adj})"
    else:
        s, sa, sb = _fmt_pct([100 * (ratio - 1), 100 * (lo - 1), 100 * (hi - 1)])
        sign = lambda t: t if t.startswith("-") else "+" + t  # noqa: E731
        s, ci = sign(s), f"({ci_name} {sign(sa)} to {sign(sb)}{adj})"
    if agent:
        versus = "" if implicit_den else f" compared with {den}"
        if not clear:
            where = f" of {by_label}" if by_label else ""
            return f"no clear change in {response_var}{where} with {num}{versus}: {s} {ci}"
        if length and by_label:
            verb = f"{'lengthens' if up else 'shortens'} {by_label}"
        elif by_label:
            verb = f"{'increases' if up else 'decreases'} {response_var} of {by_label}"
        else:
            verb = f"{'increases' if up else 'decreases'} {response_var}"
        return f"{num} {verb} by {s}{versus} {ci}"
    where = f", in {by_label}" if by_label else ""
    if not clear:
        return f"no clear difference in {response_var} between {var} {num} and {den}{where}: {s} {ci}"
    return f"{response_var} is {s} {'higher' if up else 'lower'} for {var} {num} than for {den}{where} {ci}"


def contrast_sentences(table) -> list[str]:
    """A report sentence for every row of a ratio table from :func:`lmmedu.stats.emmeans.contrasts`.

    "drug lengthens gene B by 8.5% (95% CI 6.1% to 11.0%)", "... shortens ...", or "no clear
    change ..." when the interval includes a ratio of 1. The level of the model's first factor
    (usually the treatment) is the subject; other comparisons read "length is 15% higher for
    gene B than for gene A, in treatment control".

    Parameters
    ----------
    table : ResultTable
        ``contrasts(..., type="response")``.

    Returns
    -------
    list of str
    """
    extras = getattr(table, "extras", None) or {}
    if not extras.get("ratios"):
        raise ValueError("contrast_sentences reads ratios: pass contrasts(..., type='response') of a log response.")
    parts = extras["parts"]
    return [
        ratio_sentence(part.numerator, part.denominator, part.compared, part.by_label, ratio, low, high,
                       extras["response_var"], extras["level"], part.implicit_denominator, part.family_size,
                       part.subject_is_first_factor)
        for part, ratio, low, high in zip(parts.itertuples(), table["ratio"], table["ci_low"], table["ci_high"])
    ]


def contrasts(emm, method="pairwise", by=_emmeans._KEEP, adjust="none", type=None, family="auto", level=None,
              ref=None):
    """:func:`lmmedu.stats.emmeans.contrasts`, plus a report ``sentence`` for every ratio.

    This is :func:`lmmedu.contrasts`. The arguments and columns are those of
    :func:`lmmedu.stats.emmeans.contrasts`; with ``type="response"`` (ratios) a last column
    ``sentence`` holds :func:`contrast_sentences`.

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
    >>> emm = lmmedu.emmeans(fit, "treatment", by="gene")
    >>> tab = contrasts(emm, "revpairwise", type="response", adjust="holm", family="all")
    >>> tab.columns.tolist()[-2:], tab["sentence"].iloc[0][:20]
    (['percent', 'sentence'], 'drug lengthens gene ')
    """
    table = _emmeans.contrasts(emm, method=method, by=by, adjust=adjust, type=type, family=family, level=level,
                               ref=ref)
    if table.extras.get("ratios"):
        table["sentence"] = contrast_sentences(table)
    return table
