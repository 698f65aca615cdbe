"""Your own data (notebook 10): the model-building path, step by step, and the report it ends in.

Part of :mod:`lmmedu.teach.comparison`; see the contract in :mod:`lmmedu.teach`.

:data:`~.own_data_checklist.PATH_STEPS` names the steps an expert takes from a design to a
report, each with its R line; the checklist of :mod:`.own_data_checklist` is labelled by the
same steps. The functions
answer one step each: :func:`singular_parts` (is the fit singular, and where),
:func:`simplify_random` (the next random part the design allows), ``choose_ddf`` and
:func:`df_comparison` (Satterthwaite or Kenward-Roger, and whether the choice changes a
conclusion), :func:`software_versions`; :func:`write_report` fills the reporting template from
a fit. Profile intervals are the one slow part (about a second on 1,000 rows): the report
computes them once, when it is asked for.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from ...stats.confint import confint
from ...stats.fit import fit as _fit
from ...stats.formula import parse_formula
from ...stats.ftest import anova
from .compare import require_mixed as _require_mixed
from .own_data import own_data_contrasts, r_formula
from .own_data_checklist import choose_ddf

__all__ = ["singular_parts", "simplify_random", "df_comparison", "software_versions", "ModelReport", "write_report",
           "INTERVAL_CAVEAT"]

#: The one sentence every report says about intervals of variance components.
INTERVAL_CAVEAT = ("With few groups these intervals are approximate: they rest on large-sample theory and tend to "
                   "cover the true SD less often than their nominal level.")

#: Python packages whose versions a report lists, and the R packages whose results lmmedu reproduces.
_PYTHON = ("lmmedu", "numpy", "scipy", "pandas", "statsmodels")
_R = {"lme4": "the fit, VarCorr, profile intervals", "lmerTest": "Satterthwaite df, summary and anova F tests",
      "pbkrtest": "Kenward-Roger df", "emmeans": "marginal means and contrasts"}
# lme4's isSingular tolerance on the diagonal of the relative covariance factor, as MixedFit.singular uses.
_SINGULAR_THETA = 1e-4


def singular_parts(fit):
    """Where a singular fit sits on its boundary: each variance at zero and each correlation at +/-1.

    Parameters
    ----------
    fit : MixedFit

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``parameter`` (``"SD of <term>"`` or ``"correlation of <term> and <term2>"``),
        ``estimate``; empty when ``fit.singular`` is False (lme4's ``isSingular``).

    Examples
    --------
    >>> import lmmedu
    >>> d = lmmedu.simulate_replicates(genes=("A",), n_replicates=4, design="within", replicate_treatment_sd=0,
    ...                                seed=2)
    >>> m = lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", d)
    >>> singular_parts(m)[["group", "parameter"]].values.tolist()
    [['replicate', 'correlation of Intercept and treatment[T.drug]']]
    """
    _require_mixed(fit, "singular_parts")
    rows = []
    if not fit.singular:
        return pd.DataFrame(rows, columns=["group", "parameter", "estimate"])
    vc = fit.varcomp
    for i, block in enumerate(fit.blocks):
        # The fit's own criterion (lme4's isSingular): a diagonal element of the relative covariance factor
        # below 1e-4. Its row's other entries say which boundary: all near 0, the SD itself is 0; otherwise
        # the term is a linear function of the earlier ones, a correlation at +/-1.
        T = fit.problem.user_factor(fit.opt.x, i)
        group = block.term.group
        for a, name in enumerate(block.names):
            if abs(T[a, a]) >= _SINGULAR_THETA:
                continue
            if a == 0 or np.all(np.abs(T[a, :a]) < _SINGULAR_THETA):
                sd = vc.loc[(vc["group"] == group) & (vc["term"] == name) & vc["term2"].isna(), "sd"]
                rows.append({"group": group, "parameter": f"SD of {name}", "estimate": float(sd.iloc[0])})
                continue
            pairs = vc[(vc["group"] == group) & (vc["term2"] == name)]
            r = pairs.loc[pairs["corr"].abs().idxmax()]
            rows.append({"group": group, "parameter": f"correlation of {r['term']} and {name}",
                         "estimate": float(r["corr"])})
    return pd.DataFrame(rows, columns=["group", "parameter", "estimate"])


def simplify_random(fit):
    """The next random part the design allows after a singular fit, with the reason.

    A term ``(1 + x | g)`` with a correlation at +/-1 keeps a separate effect of ``x`` per level of
    ``g`` without the correlation: ``(1 | g) + (1 | g:x)`` for a factor ``x`` (one variance for
    the ``x`` cells of each level), ``(1 | g) + (0 + x | g)`` for a number. A variance at zero in a
    term with nothing left to drop stays: the design calls for it, its fixed effects equal those
    without it, and the report says the fit was singular.

    Parameters
    ----------
    fit : MixedFit

    Returns
    -------
    formula : str or None
        The simplified formula (Python spelling), or None when nothing should be dropped.
    reason : str
        One or two sentences saying why.

    Examples
    --------
    >>> import lmmedu
    >>> d = lmmedu.simulate_replicates(genes=("A",), n_replicates=4, design="within", replicate_treatment_sd=0,
    ...                                seed=2)
    >>> simplify_random(lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", d))[0]
    'log(length) ~ treatment + (1 | replicate) + (1 | replicate:treatment)'
    """
    _require_mixed(fit, "simplify_random")
    if not fit.singular:
        return None, "The fit is not singular: keep the random part the design calls for."
    parsed = parse_formula(fit.formula)
    parts = singular_parts(fit)
    data = fit.data
    terms, changed = [], []
    for term in parsed.random:
        names = [s.strip() for s in term.expr.split("+")]
        slopes = [s for s in names if s not in ("1", "0")]
        on_edge = parts[parts["group"] == term.group]
        if "1" in names and len(slopes) == 1 and len(on_edge):
            x = slopes[0]
            column = x[3:-2] if x.startswith('Q("') else x
            factor = column in data.columns and not pd.api.types.is_numeric_dtype(data[column])
            new = f"(1 | {term.group}) + " + (f"(1 | {term.group}:{x})" if factor else f"(0 + {x} | {term.group})")
            terms.append(new)
            changed.append((f"(1 + {x} | {term.group})", new))
        else:
            terms.append(f"({term.expr} | {term.group})")
    if not changed:
        return None, ("A variance is estimated at zero, but the design calls for that term: keep it, say in the "
                      "report that the fit is singular, and read its zero as 'too few groups to see it', not as "
                      "'no variation'. The fixed effects are the same as without the term.")
    formula = f"{parsed.response} ~ {parsed.fixed} + " + " + ".join(terms)
    old, new = changed[0]
    return formula, (f"{old} estimates a correlation at +/-1, a boundary no design asks for. {new} keeps an effect "
                     "per level, without the correlation: one variance parameter fewer for the same units.")


def df_comparison(fit, of="coefficients", alpha=0.05):
    """Satterthwaite and Kenward-Roger side by side, and whether the choice changes a conclusion.

    Parameters
    ----------
    fit : MixedFit
        A REML fit (Kenward-Roger is defined for REML only, as in R).
    of : {"coefficients", "terms"}
        The t tests of the coefficients, or the F tests of the terms (``lmmedu.anova``).
    alpha : float

    Returns
    -------
    pandas.DataFrame
        One row per coefficient or term: ``df_satterthwaite``, ``p_satterthwaite``,
        ``df_kenward_roger``, ``p_kenward_roger`` and ``same_conclusion`` (both p-values on the
        same side of ``alpha``).

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates("between"))
    >>> df_comparison(m).columns.tolist()
    ['df_satterthwaite', 'p_satterthwaite', 'df_kenward_roger', 'p_kenward_roger', 'same_conclusion']
    """
    _require_mixed(fit, "df_comparison")
    if not fit.reml:
        raise ValueError("Kenward-Roger needs a REML fit: refit with lmmedu.fit(formula, data) (REML for the final "
                         "fit; ML only to compare fixed parts by likelihood ratio).")
    if of not in ("coefficients", "terms"):
        raise ValueError(f"of must be 'coefficients' or 'terms', not {of!r}.")
    out = {}
    for key, method in (("satterthwaite", "satterthwaite"), ("kenward_roger", "kenward-roger")):
        if of == "terms":
            t = anova(fit, ddf=method).rename(columns={"den_df": "df"})
        else:
            t = fit.contrast(_identity(fit.names), ddf=method)
        out[f"df_{key}"], out[f"p_{key}"] = t["df"], t["p"]
    table = pd.DataFrame(out)
    table["same_conclusion"] = (table["p_satterthwaite"] < alpha) == (table["p_kenward_roger"] < alpha)
    table.attrs["alpha"] = alpha
    return table


def _identity(names):
    return pd.DataFrame([[float(i == j) for j in range(len(names))] for i in range(len(names))],
                        index=list(names), columns=list(names))


def software_versions():
    """The versions a report cites: lmmedu and its Python stack, then the R packages it mirrors.

    Returns
    -------
    pandas.DataFrame
        Columns ``package``, ``language``, ``version`` (empty for the R packages: cite the ones you
        ran, if you checked in R) and ``role``.

    Examples
    --------
    >>> software_versions()["package"].tolist()[:2]
    ['lmmedu', 'numpy']
    """
    rows = []
    for name in _PYTHON:
        try:
            v = version(name)
        except PackageNotFoundError:
            v = "a source tree, not installed" if name == "lmmedu" else "not installed"
        rows.append({"package": name, "language": "Python", "version": v, "role": "used"})
    for name, role in _R.items():
        rows.append({"package": name, "language": "R", "version": "", "role": f"reproduced: {role}"})
    return pd.DataFrame(rows, columns=["package", "language", "version", "role"])


@dataclass(frozen=True, eq=False)
class ModelReport:
    """What :func:`write_report` fills in: the report's text and the tables it was filled from."""

    #: The report as Markdown, one paragraph per part of the template.
    markdown: str
    #: The fit reported (REML, with the chosen df method).
    fit: object = field(repr=False)
    #: The df method of its tests, and why.
    ddf: str = ""
    ddf_reason: str = ""
    #: :func:`lmmedu.confint` of the fit, ``method="profile"``.
    intervals: pd.DataFrame = field(default=None, repr=False)
    #: :func:`lmmedu.anova` of the fit (the F table).
    f_table: pd.DataFrame = field(default=None, repr=False)
    #: The effects reported: :func:`own_data_contrasts`, or the coefficients when the model has no factor.
    effects: pd.DataFrame = field(default=None, repr=False)
    #: :func:`software_versions`.
    versions: pd.DataFrame = field(default=None, repr=False)
    #: Sentences about the intervals (singular fit, limits at zero).
    notes: tuple = ()


def _p(p):
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}" if p < 0.01 else f"p = {p:.3f}"


def _df(df):
    return f"{df:,.0f}" if df >= 100 else f"{df:.1f}"


def _variance_lines(intervals, level):
    lines = []
    for name, r in intervals.iterrows():
        if not (name.startswith(("sd_", "cor_")) or name == "sigma"):
            continue
        ci = f"{level:.0%} CI {r['lower']:.3g} to {r['upper']:.3g}"
        if name == "sigma":
            lines.append(f"residual SD {r['estimate']:.3g} ({ci})")
        else:
            kind, rest = name.split("_", 1)
            what, group = rest.rsplit("|", 1)
            kind = "SD" if kind == "sd" else "correlation"
            lines.append(f"{kind} of {what} between levels of {group}: {r['estimate']:.3g} ({ci})")
    return lines


def _effect_lines(effects, ddf):
    lines = []
    by = [c for c in effects.columns if c not in {"contrast", "ratio", "estimate", "se", "df", "t", "p", "p_adj",
                                                      "ci_low", "ci_high", "percent", "sentence"}]
    for _, r in effects.iterrows():
        test = f"t({_df(r['df'])}) = {r['t']:.2f}, {_p(r['p'])}"
        if "p_adj" in effects.columns:
            test += f", Holm-adjusted {_p(r['p_adj'])}"
        if "sentence" in effects.columns:
            lines.append(f"{r['sentence']}; {test} ({ddf} df)")
        else:
            where = ", ".join(f"{c} {r[c]}" for c in by)
            label = f"{r['contrast']}" + (f" ({where})" if where else "") if "contrast" in effects.columns \
                else str(r.name)
            lines.append(f"{label}: {r['estimate']:.3g} (95% CI {r['ci_low']:.3g} to {r['ci_high']:.3g}); {test} "
                         f"({ddf} df)")
    return lines


def write_report(fit, log=False, checklist=None, intervals=None, ddf=None):
    """Fill the reporting template from a mixed model: units, model, variance components with intervals, df method,
    F tests, effects with CIs and software versions.

    The path's last steps happen here: an ML fit is refitted by REML (ML is for comparing fixed
    parts only), the df method is :func:`choose_ddf`'s unless ``ddf`` is given, and the profile
    intervals are computed unless ``intervals`` are passed in (they are the slow part).

    Parameters
    ----------
    fit : MixedFit
    log : bool
        The response is on the log scale: effects as ratios and percent changes.
    checklist : pandas.DataFrame, optional
        :func:`lmmedu.checklist` of the fit: the report then says how many units stand behind each effect.
    intervals : pandas.DataFrame, optional
        :func:`lmmedu.confint` of the fit (``method="profile"``).
    ddf : str, optional
        ``"Satterthwaite"`` or ``"Kenward-Roger"``; default :func:`choose_ddf`.

    Returns
    -------
    ModelReport

    Raises
    ------
    ValueError
        One sentence, for a fit that is not a mixed model.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.load_replicates("between"))
    >>> report = write_report(m, log=True)
    >>> report.ddf, "lmer(log(length) ~ treatment + (1|replicate), data = d)" in report.markdown
    ('Kenward-Roger', True)
    """
    _require_mixed(fit, "write_report")
    method, why = choose_ddf(fit) if ddf is None else (ddf, "chosen by the analyst.")
    refit_note = ""
    if not fit.reml:
        refit_note = " The ML fit was refitted by REML: ML only serves to compare fixed parts by likelihood ratio."
    final = fit
    if not fit.reml or fit.ddf.lower() != method.lower():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fit's own warnings were seen when it was first fitted
            final = _fit(fit.formula, fit.data, reml=True, ddf=method)
    notes = []
    if intervals is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            intervals = confint(final, method="profile")
        notes += [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    notes += [n for n in intervals.attrs.get("notes", []) if "lower limit is 0" in n]
    level = intervals.attrs.get("level", 0.95)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f_tab = anova(final)
        effects = own_data_contrasts(final, log=log)
    notes += [str(w.message) for w in caught if str(w.message) not in notes]
    if effects is None:
        effects = final.coefs.drop(index="Intercept", errors="ignore")
    versions = software_versions()

    n_units = "; ".join(f"{g}: {n} levels" for g, n in final.ngroups.items())
    units = f"**Experimental units.** {n_units} ({final.nobs:,} measurements)."
    if checklist is not None:
        behind = checklist[(checklist["item"] == "units behind the effect") & (checklist["about"] != "Intercept")]
        if len(behind):
            units += " Units behind each effect: " + "; ".join(f"{r.about}: {r.finding}"
                                                              for r in behind.itertuples()) + "."
    singular = (" The fit is singular (" + "; ".join(f"{r.parameter} in {r.group}" for r in
                                                     singular_parts(final).itertuples()) + ") and is reported as "
                "the design calls for it.") if final.singular else " The fit is not singular."
    model = (f"**Model.** `lmer({r_formula(final.formula)}, data = d)` (lme4/lmerTest), fitted by REML.{singular}"
             f"{refit_note}")
    variances = (f"**Variance components** ({level:.0%} profile intervals, R: `confint(m, method = \"profile\")`): "
                 + "; ".join(_variance_lines(intervals, level)) + f". {INTERVAL_CAVEAT}")
    df_text = f"**Tests.** t and F tests with {final.ddf} df: {why}"
    f_lines = "; ".join(f"{term}: F({r['num_df']:.0f}, {_df(r['den_df'])}) = {r['F']:.2f}, {_p(r['p'])}"
                        for term, r in f_tab.iterrows())
    f_text = f"**F tests** (type III, R: `anova(m, ddf = \"{final.ddf}\")`): {f_lines}."
    effect_text = "**Effects** (95% CI):\n" + "\n".join(f"- {line}" for line in _effect_lines(effects, final.ddf))
    py = ", ".join(f"{r.package} {r.version}" for r in versions.itertuples() if r.language == "Python")
    r_names = ", ".join(f"{r.package} ({r.role.split(': ', 1)[1]})" for r in versions.itertuples()
                        if r.language == "R")
    software = f"**Software.** Python: {py}. The results reproduce R's {r_names}."
    markdown = "\n\n".join([units, model, variances, df_text, f_text, effect_text, software])
    return ModelReport(markdown=markdown, fit=final, ddf=final.ddf, ddf_reason=why, intervals=intervals,
                       f_table=f_tab, effects=effects, versions=versions, notes=tuple(notes))
