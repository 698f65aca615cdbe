"""What the numbers of a fitted model mean: coefficients, marginal means, contrasts.

A biologist's question ("for each gene, does the drug change its length?") is
rarely a single coefficient of ``log(length) ~ treatment*gene``.  This module
answers it in three steps that mirror R's emmeans:

* :func:`explain` says, for every coefficient, which comparison of cell means
  it is *in this model* (it depends on reference levels, coding and which
  interactions are present), and checks that claim numerically;
* :func:`emmeans` computes estimated marginal means on the reference grid;
* :func:`contrasts` compares them (pairwise, reversed, against a control),
  with multiplicity adjustment and, for a log response, ratios with a
  sentence a biologist can paste into a report.

:func:`set_reference` changes a reference level and :func:`per_group_vs_joint`
sets separate per-group fits next to the joint interaction model.

Works on both :class:`lmmedu.stats.results.MixedFit` (Satterthwaite df, as lmerTest)
and :class:`lmmedu.stats.results.LmFit` (residual df).  Everything is built from the
fit's ``beta``, ``vcov``, ``df_for`` and its patsy design, so any formula
patsy accepts (treatment or sum coding, numeric covariates, three-way
interactions) is handled by the same linear algebra.

Examples
--------
The seed-000 per-gene question in three lines:

>>> import lmmedu
>>> fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
>>> emm = lmmedu.emmeans(fit, "treatment", by="gene")
>>> tab = lmmedu.contrasts(emm, "revpairwise", type="response", adjust="holm")
>>> tab["contrast"].tolist()
['drug / control', 'drug / control', 'drug / control']
"""

from __future__ import annotations

import io
import itertools
import keyword
import math
import re
import tokenize
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd
import patsy
import scipy.stats

from .design import plain_values
from .formula import _quoted_name
from .inference import t_table

__all__ = [
    "explain",
    "emmeans",
    "contrasts",
    "set_reference",
    "per_group_vs_joint",
    "EMM",
    "ResultTable",
    "adjust_pvalues",
]

_MINUS = "\u2212"  # a real minus sign reads better than a hyphen in formulas
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
_ADJUST = ("none", "holm", "bonferroni", "fdr", "tukey")
_KEEP = object()  # "use the EMM's own by-variables"


# ---------------------------------------------------------------------------
# A DataFrame that shows its long text columns in full, with notes below.
# ---------------------------------------------------------------------------


class ResultTable(pd.DataFrame):
    """A :class:`pandas.DataFrame` that displays long text in full and carries notes.

    It behaves exactly like a DataFrame (index it, filter it, save it); only
    its display differs: text columns such as ``meaning`` or ``sentence`` are
    not cut at 50 characters, and the lines in ``notes`` (which adjustment,
    which df method, ...) are printed underneath, like R's emmeans output.

    Attributes
    ----------
    notes : list of str
    extras : dict
        Objects behind the table (for example the fits in
        :func:`per_group_vs_joint`, the weights in :func:`explain`).
    """

    _metadata = ["notes", "extras"]

    @property
    def _constructor(self):
        return ResultTable

    def _notes(self):
        return list(getattr(self, "notes", None) or [])

    def __repr__(self):
        with pd.option_context("display.max_colwidth", None, "display.width", 250,
                               "display.max_columns", None):
            text = pd.DataFrame.__repr__(self)
        notes = self._notes()
        return text + ("\n\n" + "\n".join(notes) if notes else "")

    def _repr_html_(self):
        import html

        with pd.option_context("display.max_colwidth", None, "display.max_columns", None):
            out = pd.DataFrame._repr_html_(self)
        notes = self._notes()
        if notes:
            out += "<p style='font-size:90%'>" + "<br>".join(html.escape(n) for n in notes) + "</p>"
        return out


def _result(frame, notes=None, extras=None):
    out = ResultTable(frame)
    out.notes = list(notes or [])
    out.extras = dict(extras or {})
    return out


# ---------------------------------------------------------------------------
# The model's variables, read from its patsy design.
# ---------------------------------------------------------------------------


def _names_in(code, columns):
    """Data columns named in a patsy factor's code (``C(gene, Sum)`` -> ``['gene']``)."""
    out = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError):
        return [code] if code in columns else []
    for i, tok in enumerate(tokens):
        quoted = _quoted_name(tokens, i)  # Q("body.mass")
        if quoted is not None and quoted in columns and quoted not in out:
            out.append(quoted)
        if tok.type != tokenize.NAME or keyword.iskeyword(tok.string):
            continue
        prev = tokens[i - 1].string if i else ""
        if prev == ".":
            continue
        if tok.string in columns and tok.string not in out:
            out.append(tok.string)
    return out


@dataclass
class _Vars:
    """Variables of a fitted model's fixed part."""

    cat: dict  # data column -> tuple of levels (first = reference under treatment coding)
    factor_var: dict  # categorical patsy factor -> data column
    num_factors: list  # numerical patsy factors, in order
    num_vars: list  # data columns used by numerical factors
    plain: bool  # every numerical factor is a data column itself
    order: list = field(default_factory=list)  # all variables in order of appearance


def _model_vars(fit):
    di = fit.design.design_info
    columns = set(map(str, fit.data.columns))
    cat, factor_var, num_factors, num_vars, order = {}, {}, [], [], []
    plain = True
    for term in di.terms:
        for factor in term.factors:
            info = di.factor_infos[factor]
            names = _names_in(factor.name(), columns)
            if info.type == "categorical":
                if len(names) != 1:
                    raise ValueError(
                        f"The categorical term '{factor.name()}' must be built from exactly one data column for "
                        "lmmedu's interpretation tools; make that column first, then use it in the formula."
                    )
                var = names[0]
                factor_var[factor] = var
                if var not in cat:
                    cat[var] = tuple(info.categories)
                if var not in order:
                    order.append(var)
            else:
                if factor not in num_factors:
                    num_factors.append(factor)
                    plain = plain and factor.name() in columns and info.num_columns == 1
                for var in names:
                    if var not in num_vars and var not in cat:
                        num_vars.append(var)
                    if var not in order:
                        order.append(var)
    return _Vars(cat, factor_var, num_factors, num_vars, plain, order)


def _full_matrix(fit, frame):
    """All columns of the fixed design for ``frame`` (including columns dropped as aliased)."""
    (mat,) = patsy.build_design_matrices([fit.design.design_info], plain_values(frame), NA_action="raise")
    return np.asarray(mat, dtype=float)


def _label(value):
    return str(value)


# ---------------------------------------------------------------------------
# set_reference
# ---------------------------------------------------------------------------


def set_reference(df, column, level):
    """Return a copy of ``df`` whose ``column`` is categorical with ``level`` first.

    The first level is the reference of treatment coding, so the
    coefficients of a refitted model change (they now compare against
    ``level``) while the fitted values and cell means stay exactly the same:
    it is the same model, described from another corner.

    Parameters
    ----------
    df : pandas.DataFrame
    column : str
        A column of ``df`` (text or categorical).
    level : object
        A value present in that column.

    Returns
    -------
    pandas.DataFrame
        A copy; ``df`` is not changed.  The other levels keep their order
        (category order if the column was categorical, sorted otherwise).

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.set_reference(lmmedu.load_replicates(), "gene", "B")
    >>> list(df["gene"].cat.categories)
    ['B', 'A', 'C']
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, not {type(df).__name__}.")
    if column not in df.columns:
        raise ValueError(f"The column '{column}' is not in the data (columns: {', '.join(map(str, df.columns))}).")
    s = df[column]
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = list(s.cat.categories)
    else:
        levels = sorted(pd.unique(s.dropna()), key=lambda v: (str(type(v)), v))
    match = [lv for lv in levels if lv == level or str(lv) == str(level)]
    if not match:
        raise ValueError(
            f"The level {level!r} does not occur in column '{column}' (levels: {', '.join(map(str, levels))})."
        )
    ref = match[0]
    out = df.copy()
    out[column] = pd.Categorical(s, categories=[ref] + [lv for lv in levels if lv != ref])
    return out


# ---------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------


def _column_meta(fit, mv):
    """For each full design column: its subterm, factor coding indices and numeric factors.

    Columns are enumerated exactly as patsy builds them: terms in order, then
    subterms, then the combinations of factor columns with the left-most
    factor varying fastest.
    """
    di = fit.design.design_info
    meta = []
    for term in di.terms:
        for sub in di.term_codings[term]:
            widths = []
            for factor in sub.factors:
                if factor in sub.contrast_matrices:
                    widths.append(sub.contrast_matrices[factor].matrix.shape[1])
                else:
                    widths.append(di.factor_infos[factor].num_columns)
            for rev in itertools.product(*[range(w) for w in reversed(widths)]):
                combo = rev[::-1]
                cats, nums = [], []
                for factor, idx in zip(sub.factors, combo):
                    if factor in sub.contrast_matrices:
                        cats.append((factor, sub.contrast_matrices[factor].matrix, idx))
                    else:
                        nums.append(factor)
                meta.append({"term": term, "cats": cats, "nums": frozenset(nums)})
    if len(meta) != len(di.column_names):
        raise RuntimeError("lmmedu could not follow patsy's column layout for this formula.")
    return meta


def _coding_rows(mv, meta, cells, z):
    """Full design rows for categorical ``cells`` (list of dicts var->level) and numeric values ``z``.

    ``z`` maps each numerical factor to an array of values (one per cell).
    """
    n = len(cells)
    out = np.ones((n, len(meta)))
    for j, col in enumerate(meta):
        for factor, matrix, idx in col["cats"]:
            var = mv.factor_var[factor]
            levels = mv.cat[var]
            out[:, j] *= np.array([matrix[levels.index(c[var]), idx] for c in cells])
        for factor in col["nums"]:
            out[:, j] *= z[factor]
    return out


def _check_layout(fit, mv, meta):
    """Our column construction must reproduce the model matrix on real rows."""
    rows = fit.data.iloc[: min(len(fit.data), 40)]
    cells = [{v: r[v] for v in mv.cat} for _, r in rows.iterrows()]
    di = fit.design.design_info
    z = {}
    for factor in mv.num_factors:
        vals = np.asarray(factor.eval(di.factor_infos[factor].state, rows), dtype=float)
        z[factor] = vals.reshape(len(rows), -1)[:, 0]
    mine = _coding_rows(mv, meta, cells, z)[:, fit.design.keep]
    if not np.allclose(mine, fit.X[: len(rows)], rtol=1e-10, atol=1e-10):
        raise RuntimeError("lmmedu's reconstruction of the model matrix disagrees with patsy's; please report.")


def _classify(w, levels):
    """Read a weight vector over a factor's levels as a simple comparison, if it is one."""
    k = len(levels)
    eye = np.eye(k)
    for a in range(k):
        if np.allclose(w, eye[a], atol=1e-10):
            return ("level", levels[a])
        for b in range(k):
            if a != b and np.allclose(w, eye[a] - eye[b], atol=1e-10):
                return ("diff", levels[a], levels[b])
        if k > 1 and np.allclose(w, eye[a] - 1.0 / k, atol=1e-10):
            return ("dev", levels[a])
    if np.allclose(w, np.full(k, 1.0 / k), atol=1e-10):
        return ("mean",)
    return ("other",)


def _factor_weights(matrix, idx):
    """Weights over levels that a coding column picks out (from the inverse coding)."""
    k, m = matrix.shape
    if m == k:  # full-rank coding (no intercept to absorb a level)
        return np.linalg.inv(matrix)[idx]
    full = np.column_stack([np.ones(k), matrix])
    return np.linalg.inv(full)[idx + 1]


def _baselines(mv, meta):
    """Weights of each categorical variable at the model's 'baseline' (reference or average)."""
    out = {}
    for col in meta:
        for factor, matrix, _ in col["cats"]:
            var = mv.factor_var[factor]
            k = len(mv.cat[var])
            if var not in out and matrix.shape[1] == k - 1:
                full = np.column_stack([np.ones(k), matrix])
                out[var] = np.linalg.inv(full)[0]
    for var, levels in mv.cat.items():
        out.setdefault(var, np.eye(len(levels))[0])
    return out


def _fmt_weight(w):
    frac = Fraction(w).limit_denominator(24)
    if abs(float(frac) - w) < 1e-9:
        if frac.denominator == 1:
            return str(abs(frac.numerator))
        return f"({abs(frac.numerator)}/{frac.denominator})"
    return f"{abs(w):.4g}"


def _linear_text(weights, symbols):
    parts = []
    for w, s in zip(weights, symbols):
        if abs(w) < 1e-12:
            continue
        sign = _MINUS if w < 0 else "+"
        mag = "" if abs(abs(w) - 1) < 1e-12 else _fmt_weight(w) + "\u00b7"
        parts.append((sign, mag + s))
    if not parts:
        return "0"
    text = ("" if parts[0][0] == "+" else _MINUS) + parts[0][1]
    for sign, body in parts[1:]:
        text += f" {sign} {body}"
    return text


def _num_name(factor):
    return factor.name()


def _qty(resp, S):
    """Name of the cell quantity a coefficient group is about."""
    if not S:
        return f"mean {resp}"
    names = sorted(_num_name(f) for f in S)
    if len(names) == 1:
        return f"slope of {resp} per unit of {names[0]}"
    return f"{'-by-'.join(names)} interaction of {resp} (change in the {names[0]} slope per unit of {names[1]})"


def _symbol(S):
    if not S:
        return "\u03bc"
    return "slope_" + "_".join(sorted(_num_name(f) for f in S))


def _cell_symbol(sym, vars_, assign):
    if not vars_:
        return sym
    return sym + "[" + ",".join(_label(assign[v]) if assign[v] is not None else "\u00b7" for v in vars_) + "]"


def _structured_formula(sym, vars_, term_kinds, base_assign):
    """Cell-mean formula by recursion over the term's variables (last variable outermost)."""

    def build(k, assign):
        if k == 0:
            return _cell_symbol(sym, vars_, assign), False
        var, kind = term_kinds[k - 1]
        if kind[0] == "level":
            return build(k - 1, {**assign, var: kind[1]})
        first, cf = build(k - 1, {**assign, var: kind[1]})
        second, cs = build(k - 1, {**assign, var: kind[2] if kind[0] == "diff" else None})
        if cs:
            second = f"({second})"
        if "(" in first and cf:
            first = f"({first})"
        return f"{first} {_MINUS} {second}", True

    return build(len(term_kinds), dict(base_assign))[0]


def _structured_meaning(qty, term_kinds):
    """Plain-language sentence for a coefficient built from simple comparisons."""
    if not term_kinds:
        return qty[0].upper() + qty[1:]
    np_, sentence = None, None
    for i, (var, kind) in enumerate(term_kinds):
        if i == 0:
            if kind[0] == "diff":
                np_ = f"the {var} {kind[1]} {_MINUS} {kind[2]} difference in {qty}"
                sentence = np_[0].upper() + np_[1:]
            elif kind[0] == "dev":
                np_ = f"the deviation of {var} {kind[1]} from the average over all {var} levels in {qty}"
                sentence = (f"How far {qty} for {var} {kind[1]} lies from its average over all {var} levels "
                            f"({kind[1]} minus that average)")
            else:
                np_ = f"{qty} for {var} {kind[1]}"
                sentence = np_[0].upper() + np_[1:]
            continue
        if kind[0] == "diff":
            sentence = f"How much {np_} for {var} {kind[1]} differs from that for {var} {kind[2]}"
            np_ = f"the {var} {kind[1]} vs {kind[2]} difference in {np_}"
        elif kind[0] == "dev":
            sentence = f"How much {np_} for {var} {kind[1]} deviates from its average over all {var} levels"
            np_ = f"the deviation of {var} {kind[1]} from the {var} average in {np_}"
        else:
            sentence = f"{np_[0].upper() + np_[1:]} for {var} {kind[1]}"
            np_ = f"{np_} for {var} {kind[1]}"
    n_diff = sum(1 for _, k in term_kinds if k[0] in ("diff", "dev"))
    if n_diff == 2:
        sentence += ": a difference of differences (two-way interaction)"
    elif n_diff >= 3:
        words = {3: "three", 4: "four", 5: "five"}.get(n_diff, str(n_diff))
        sentence += (": a difference of differences of differences" + " of differences" * (n_diff - 3)
                     + f" ({words}-way interaction)")
    return sentence


def _zero_note(fit, factor):
    """Where 0 lies for a covariate: its mean (centred), inside, or outside the data."""
    di = fit.design.design_info
    z = np.asarray(factor.eval(di.factor_infos[factor].state, fit.data), dtype=float).ravel()
    name = _num_name(factor)
    lo, hi, mean, sd = z.min(), z.max(), z.mean(), z.std()
    if abs(mean) <= 1e-8 * max(sd, 1e-300):
        return f"{name} is centred, so {name} = 0 is its mean"
    if 0 < lo or 0 > hi:
        return (f"{name} = 0 lies outside the observed values ({lo:.4g} to {hi:.4g}; mean {mean:.4g}), "
                "so this is an extrapolation; centre the covariate to read it at the mean")
    return f"{name} = 0 lies within the observed values ({lo:.4g} to {hi:.4g}; mean {mean:.4g})"


def explain(fit):
    """Say what every fixed-effect coefficient means in this model, and check it.

    Each coefficient is a comparison of *cell means* (the model's mean of the
    response in each combination of factor levels), and which comparison
    depends on the reference levels, the coding and the interactions in the
    formula.  For ``log(length) ~ treatment*gene`` with control and gene A as
    references: ``Intercept`` is the mean log length of gene A under control;
    ``treatment[T.drug]`` is the drug - control difference *for gene A only*;
    ``treatment[T.drug]:gene[T.B]`` is how much the drug effect for gene B
    differs from that for gene A, a difference of differences:
    mu[drug,B] - mu[control,B] - (mu[drug,A] - mu[control,A]).

    The meaning is derived, not looked up: every coefficient is written as a
    combination of cell quantities (cell means with covariates at 0, or the
    covariate slopes in each cell), that combination is read as plain
    language when it is a simple difference (treatment coding), a deviation
    from the average (sum coding) or a difference of such, and it is then
    checked numerically against the model's own fitted cell means.

    Parameters
    ----------
    fit : MixedFit or LmFit

    Returns
    -------
    ResultTable
        One row per coefficient, columns:

        ``term``
            Coefficient name (statsmodels/patsy naming).
        ``estimate``
            The coefficient.
        ``meaning``
            Plain language, naming this model's levels, including for which
            level of the other factors it holds ("for gene = A only") or that
            the model assumes it is the same for all, and for numeric
            covariates where the comparison is made ("at x = 0", with a note
            when 0 is outside the data or when x is centred).
        ``cell_mean_formula``
            The same as a formula in cell means, e.g.
            ``μ[drug,B] − μ[control,B] − (μ[drug,A] − μ[control,A])``;
            ``μ[drug,·]`` is the unweighted average over the levels at ``·``;
            ``slope_x[...]`` is the slope of covariate x in a cell.
        ``from_cell_means``
            That formula evaluated with the model's fitted cell means
            (predictions on a grid of all cells).
        ``check_ok``
            ``from_cell_means`` equals ``estimate`` to 1e-10 (relative).

        ``extras["weights"]`` holds the weights over cells for each term
        (a dict term -> pandas.Series indexed by cell), so the formula can be
        evaluated on any other cell means (for example raw cell averages).

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit_lm("log(length) ~ treatment*gene", lmmedu.load_replicates())
    >>> tab = lmmedu.explain(fit)
    >>> tab.loc[4, "cell_mean_formula"]
    'μ[drug,B] − μ[control,B] − (μ[drug,A] − μ[control,A])'
    >>> bool(tab["check_ok"].all())
    True
    """
    _check_fit(fit)
    if not len(fit.names):
        raise ValueError("The model has no fixed effects (e.g. y ~ 0 + (1|g)), so there are no coefficients to "
                         "explain; add fixed effects to the formula (at least 1 for an intercept).")
    mv = _model_vars(fit)
    meta = _column_meta(fit, mv)
    for factor in mv.num_factors:
        if fit.design.design_info.factor_infos[factor].num_columns != 1:
            raise ValueError(
                f"The covariate term '{factor.name()}' makes several columns (e.g. a spline); explain() reads "
                "only single-column covariates."
            )
    _check_layout(fit, mv, meta)
    keep = np.asarray(fit.design.keep, dtype=int)
    kept_meta = [meta[i] for i in keep]
    beta = np.asarray(fit.beta, dtype=float)
    resp = fit.parsed.response
    cat_vars = list(mv.cat)

    # Cells: every combination of the categorical variables that was observed.
    all_cells = [dict(zip(cat_vars, combo)) for combo in itertools.product(*[mv.cat[v] for v in cat_vars])]
    if cat_vars:
        seen = set(map(tuple, fit.data[cat_vars].astype(object).drop_duplicates().to_numpy().tolist()))
        observed = np.array([tuple(c[v] for v in cat_vars) in seen for c in all_cells])
    else:
        observed = np.ones(1, dtype=bool)
    cells = [c for c, o in zip(all_cells, observed) if o]
    cell_index = [",".join(_label(c[v]) for v in cat_vars) for c in cells]
    baselines = _baselines(mv, meta)

    columns = set(map(str, fit.data.columns))
    sources = {f: set(_names_in(f.name(), columns)) for f in mv.num_factors}

    def linked(f, g):
        """Two covariate terms computed from the same column (temp and I(temp**2))."""
        return f is not g and bool(sources[f] & sources[g])

    groups = {}
    for j, col in enumerate(kept_meta):
        groups.setdefault(col["nums"], []).append(j)

    def rows_for(S):
        z = {f: np.full(len(cells), 1.0 if f in S else 0.0) for f in mv.num_factors}
        return _coding_rows(mv, meta, cells, z)[:, keep]

    def predicted(T):
        """The model's cell means with the covariates in T at 1 and all others at 0."""
        if not mv.plain:
            return rows_for(T) @ beta
        grid = pd.DataFrame(cells) if cat_vars else pd.DataFrame(index=range(len(cells)))
        for f in mv.num_factors:
            grid[f.name()] = 1.0 if f in T else 0.0
        return fit.design.matrix_for(grid) @ beta

    def fitted_quantity(S):
        """Fitted cell quantity for group S: a mean (S empty) or a (mixed) slope by differencing."""
        total = np.zeros(len(cells))
        S_list = list(S)
        for r in range(len(S_list) + 1):
            for T in itertools.combinations(S_list, r):
                total += (-1) ** (len(S_list) - r) * predicted(frozenset(T))
        return total

    weights_out, records = {}, []
    for S, cols in groups.items():
        G = rows_for(S)[:, cols]
        q = fitted_quantity(S)
        sym = _symbol(S)
        higher = [T for T in groups if S < T]
        pinv = np.linalg.pinv(G)
        for pos, j in enumerate(cols):
            col = kept_meta[j]
            target = np.zeros(len(cols))
            target[pos] = 1.0
            kinds, per_var = [], {}
            for factor, matrix, idx in col["cats"]:
                var = mv.factor_var[factor]
                wv = _factor_weights(matrix, idx)
                per_var[var] = wv
                kinds.append((var, _classify(wv, mv.cat[var])))
            base_vars = [v for v in cat_vars if v not in per_var]

            def tensor(override):
                vecs = {**{v: baselines[v] for v in base_vars}, **per_var, **override}
                full = np.array([np.prod([vecs[v][mv.cat[v].index(c[v])] for v in cat_vars]) for c in all_cells])
                return full

            w_full = tensor({}) if cat_vars else np.ones(1)
            structured = bool(np.all(np.abs(w_full[~observed]) < 1e-12))
            w = w_full[observed]
            structured = structured and np.allclose(w @ G, target, atol=1e-9)
            simple = structured and all(k[0] in ("diff", "dev", "level") for _, k in kinds)
            base_kinds = {v: _classify(baselines[v], mv.cat[v]) for v in base_vars}
            simple = simple and all(k[0] in ("level", "mean") for k in base_kinds.values())
            if not structured:
                w = pinv[pos]

            qualifiers = []
            if simple:
                fixed_at, same_for, averaged = [], [], []
                for v in base_vars:
                    depends = False
                    for m, _lv in enumerate(mv.cat[v]):
                        alt = tensor({v: np.eye(len(mv.cat[v]))[m]})
                        if np.any(np.abs(alt[~observed]) > 1e-12) or not np.allclose(alt[observed] @ G, target,
                                                                                   atol=1e-9):
                            depends = True
                            break
                    if not depends:
                        same_for.append(v)
                    elif base_kinds[v][0] == "level":
                        fixed_at.append(f"{v} = {base_kinds[v][1]}")
                    else:
                        averaged.append(v)
                if fixed_at:
                    which = f"{fixed_at[0].split(' = ')[0]} levels" if len(fixed_at) == 1 else "their levels"
                    qualifiers.append(f"for {' and '.join(fixed_at)} only (it differs between {which} in this model)")
                if averaged:
                    qualifiers.append(f"averaged over the {' and '.join(averaged)} levels (unweighted)")
                if same_for:
                    qualifiers.append(f"the model assumes it is the same for every {' and every '.join(same_for)}")
            cov_notes, at_zero = [], False
            for f in mv.num_factors:
                if f in S or any(linked(f, g) for g in S):
                    continue
                # The comparison moves with f exactly when some group with f (and S) loads on it.
                depends = any(np.any(np.abs(w @ rows_for(T)[:, groups[T]]) > 1e-9)
                              for T in higher if f in T)
                if depends:
                    at_zero = True
                    cov_notes.append(f"at {f.name()} = 0 ({_zero_note(fit, f)})")
                else:
                    cov_notes.append(f"the same at every {f.name()} (no interaction with it in the model)")

            qty = _qty(resp, S)
            if simple and not kinds and not S:
                at = [f"{v} = {k[1]}" for v, k in base_kinds.items() if k[0] == "level"]
                avg = [v for v, k in base_kinds.items() if k[0] != "level"]
                meaning = f"Mean {resp}"
                if at:
                    meaning += f" for {', '.join(at)}" + ("" if avg else " (the reference cell)")
                if avg:
                    meaning += (", " if at else " ") + f"averaged over the {' and '.join(avg)} levels (unweighted)"
                qualifiers = []
                base_assign = {v: (base_kinds[v][1] if base_kinds[v][0] == "level" else None) for v in base_vars}
                formula = _structured_formula(sym, cat_vars, kinds, base_assign)
            elif simple:
                meaning = _structured_meaning(qty, kinds)
                base_assign = {v: (base_kinds[v][1] if base_kinds[v][0] == "level" else None) for v in base_vars}
                formula = _structured_formula(sym, cat_vars, kinds, base_assign)
            else:
                symbols = [_cell_symbol(sym, cat_vars, c) for c in cells]
                formula = _linear_text(w, symbols)
                meaning = (f"A combination of the cells' {qty} with no simple reading in this coding "
                           "(see cell_mean_formula)")
            extra = qualifiers + cov_notes
            if extra:
                meaning += "; " + "; ".join(extra)
            meaning += "."
            cond = [f"{f.name()} = 0" for f in mv.num_factors if f not in S]
            if cond and at_zero:
                formula += ", at " + ", ".join(cond)
            value = float(w @ q)
            est = float(beta[j])
            ok = abs(value - est) <= 1e-10 * max(1.0, abs(est), float(np.abs(w * q).sum()))
            weights_out[fit.names[j]] = pd.Series(w, index=pd.Index(cell_index, name="cell"), name=sym)
            records.append({"term": fit.names[j], "estimate": est, "meaning": meaning,
                            "cell_mean_formula": formula, "from_cell_means": value, "check_ok": bool(ok),
                            "_order": j})
    tab = pd.DataFrame(records).sort_values("_order").drop(columns="_order").reset_index(drop=True)
    notes = [f"Cells are combinations of {', '.join(cat_vars)}; μ[...] is the model's mean of {resp} in a cell."
             if cat_vars else f"μ is the model's mean of {resp}."]
    if mv.num_factors:
        notes.append("Covariates enter as straight lines: μ is the cell mean with every covariate at 0, "
                     "slope_x the change in the mean per unit of x.")
    pairs = [(f, g) for i, f in enumerate(mv.num_factors) for g in mv.num_factors[i + 1:] if linked(f, g)]
    for f, g in pairs:
        notes.append(f"{f.name()} and {g.name()} are computed from the same column, so one cannot change while "
                     "the other stays fixed: read their coefficients together (e.g. emmeans at chosen values).")
    if getattr(fit.design, "dropped", None):
        notes.append(f"Columns dropped as aliased: {', '.join(fit.design.dropped)}.")
    return _result(tab, notes, {"weights": weights_out})


# ---------------------------------------------------------------------------
# emmeans
# ---------------------------------------------------------------------------


def _check_fit(fit):
    for attr in ("beta", "vcov", "design", "df_for", "names", "data"):
        if not hasattr(fit, attr):
            raise ValueError(f"fit must be a model from lmmedu.fit or lmmedu.fit_lm, not {type(fit).__name__}.")


def _as_list(x, what):
    if x is None:
        return []
    if isinstance(x, str):
        return [p for p in re.split(r"\s*[+*:,]\s*", x.strip()) if p]
    try:
        return [str(v) for v in x]
    except TypeError:
        raise ValueError(f"{what} must be a column name or a list of column names, not {x!r}.") from None


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


def _unknown(name, mv, role):
    known = list(mv.cat) + list(mv.num_vars)
    return ValueError(
        f"The {role} '{name}' is not a variable of this model's fixed effects (variables: {', '.join(known)})."
    )


def _level_match(var, value, levels):
    for lv in levels:
        if lv == value or str(lv) == str(value):
            return lv
    raise ValueError(
        f"The level {value!r} does not exist for '{var}' (levels: {', '.join(map(str, levels))})."
    )


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

    def __repr__(self):
        with pd.option_context("display.width", 200, "display.max_columns", None):
            text = self.table.to_string(index=False)
        return text + "\n\n" + "\n".join(self.notes)

    def _repr_html_(self):
        import html

        return self.table.to_html(index=False) + "<p style='font-size:90%'>" + "<br>".join(
            html.escape(n) for n in self.notes) + "</p>"


def _df_method(fit):
    return "satterthwaite" if getattr(fit, "kind", "") == "lmm" else "residual (lm)"


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


def emmeans(fit, specs, by=None, at=None, type=None, level=0.95):
    """Estimated marginal means (least-squares means), as R's ``emmeans``.

    The reference grid holds every combination of the model's factor levels,
    with each numeric covariate at its mean (or at the values in ``at``).
    The mean for one level of ``specs`` (within one level of ``by``) is the
    model's prediction averaged with *equal weights* over the grid's other
    factors, so unbalanced data do not tilt it.  Standard errors come from the
    fixed-effects covariance and df from ``fit.df_for`` (Satterthwaite for a
    mixed model, as lmerTest; residual df for an lm).

    Unlike R, the df stay Satterthwaite at any data size: R's emmeans switches
    to asymptotic df (df = Inf, z-based intervals) above 3,000 observations
    unless ``emm_options(lmerTest.limit = ...)`` is raised; lmmedu computes
    the exact Satterthwaite df always (it is cheap here).

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

    est, se, df, lo, hi = _estimate(fit, L, level)
    est[~ok] = se[~ok] = df[~ok] = lo[~ok] = hi[~ok] = np.nan
    table = levels.copy()
    notes = []
    averaged = [v for v in order if v not in wanted and (v in mv.cat or len(values[v]) > 1)]
    if averaged:
        notes.append(f"Results are averaged over the levels of: {', '.join(averaged)}")
    held = [f"{v} = {', '.join(f'{x:.4g}' for x in values[v])}" for v in mv.num_vars if v not in wanted]
    if held:
        notes.append("Covariates held at: " + "; ".join(held) + (" (their mean)" if not at else ""))
    notes.append(f"Degrees-of-freedom method: {_df_method(fit)}")
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
    return EMM(fit, specs_l, by_l, grid, L_df, table, type, level, notes, levels, numeric)


def _estimate(fit, L, level):
    L = np.atleast_2d(L)
    V = np.asarray(fit.vcov, dtype=float)
    est = L @ np.asarray(fit.beta, dtype=float)
    se = np.sqrt(np.einsum("ck,kl,cl->c", L, V, L))
    df = np.asarray(fit.df_for(L), dtype=float)
    tab = t_table(est, se, df, level=level)
    return tab["estimate"], tab["se"], tab["df"], tab["ci_low"], tab["ci_high"]


def _check_type(fit, type, ratios):
    if type in (None, "link"):
        return None
    if type != "response":
        raise ValueError(f"type must be None or 'response', not {type!r}.")
    tr = fit.transform
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


def adjust_pvalues(p, method):
    """Adjust a family of p-values: ``"none"``, ``"bonferroni"``, ``"holm"`` or ``"fdr"`` (Benjamini-Hochberg).

    NaN entries are left out of the family and stay NaN.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out
    if method == "bonferroni":
        out[ok] = np.minimum(1.0, q * m)
    elif method == "holm":
        order = np.argsort(q, kind="stable")
        adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
        res = np.empty(m)
        res[order] = np.minimum(1.0, adj)
        out[ok] = res
    elif method == "fdr":
        order = np.argsort(q, kind="stable")[::-1]
        ranks = m - np.arange(m)  # rank of each p in decreasing order
        adj = np.minimum.accumulate(q[order] * m / ranks)
        res = np.empty(m)
        res[order] = np.minimum(1.0, adj)
        out[ok] = res
    else:
        raise ValueError(f"adjust must be one of {', '.join(_ADJUST)}, not {method!r}.")
    return out


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


def _tukey_p(t, k, df):
    t, df = np.asarray(t, float), np.asarray(df, float)
    if k == 2:  # the studentized range of two means is a two-sided t test
        return 2.0 * scipy.stats.t.sf(np.abs(t), df)
    out = np.full(t.shape, np.nan)
    ok = np.isfinite(t) & np.isfinite(df)
    if ok.any():
        out[ok] = scipy.stats.studentized_range.sf(np.abs(t[ok]) * np.sqrt(2.0), k, df[ok])
    return np.minimum(out, 1.0)


def _tukey_q(level, k, df):
    df = np.asarray(df, float)
    if k == 2:
        return scipy.stats.t.ppf(0.5 + level / 2.0, df)
    out = np.full(df.shape, np.nan)
    # The quantile is slow to compute; df that agree to 7 digits share it.
    keys = np.round(df, 6)
    cache = {}
    for i, key in enumerate(keys):
        if not np.isfinite(key):
            continue
        if key not in cache:
            cache[key] = scipy.stats.studentized_range.ppf(level, k, key) / np.sqrt(2.0)
        out[i] = cache[key]
    return out


def _fmt_pct(values):
    big = max((abs(v) for v in values if np.isfinite(v)), default=0.0)
    digits = 1 if big < 100 else 0
    return [f"{v:.{digits}f}%" for v in values]


def _sentence(num, den, var, by_label, ratio, lo, hi, response_var, level, implicit_den, adjusted, agent):
    """One report sentence for a ratio and its interval.

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
        ``exp(estimate)`` with CI ``exp(limits)``, a ``percent`` change and a
        ``sentence``.  Default: the EMM's type.
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
        ``percent`` (100 (ratio - 1)) and ``sentence``: "drug lengthens gene B
        by 8.5% (95% CI 6.1% to 11.0%)", "... shortens ...", or "no clear
        change ..." when the interval includes a ratio of 1.  The level of the
        model's first factor (usually the treatment) is the subject; other
        comparisons read "length is 15% higher for gene B than for A, in
        treatment control".  ``notes`` says which adjustment and family size
        were used.

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
    est, se, df, _, _ = _estimate(fit, L, level)
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
            p_adj[sel] = _tukey_p(t[sel], k, df[sel])
            crit[sel] = _tukey_q(level, k, df[sel])
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
    notes = [f"Degrees-of-freedom method: {_df_method(fit)}"]
    if type == "response":
        base = _BASES[fit.transform]
        ratio = base**est
        out["ratio"] = ratio
        out["se"] = ratio * np.log(base) * se
        out["df"], out["t"], out["p"], out["p_adj"] = df, t, p, p_adj
        out["ci_low"], out["ci_high"] = base**lo, base**hi
        out["percent"] = 100.0 * (ratio - 1.0)
        by_labels = [", ".join(f"{v} {r[v]}" for v in by_l) for r in rows]
        first = next(iter(_model_vars(fit).cat), None)
        agent = compare == [first]
        out["sentence"] = [
            _sentence(r["_num"], r["_den"], " ".join(compare), bl, ra, cl, ch, fit.parsed.response_var, level,
                      r["_implicit"], fs if adjust != "none" and fs > 1 else 0, agent)
            for r, bl, ra, cl, ch, fs in zip(rows, by_labels, ratio, base**lo, base**hi, fam_sizes)
        ]
        notes.append(f"Ratios of geometric means: tests and intervals on the {fit.transform} scale, "
                     "back-transformed (percent = 100 (ratio - 1))")
    else:
        out["estimate"], out["se"], out["df"], out["t"], out["p"], out["p_adj"] = est, se, df, t, p, p_adj
        out["ci_low"], out["ci_high"] = lo, hi
        if fit.transform:
            notes.append(f"Differences on the {fit.transform} scale ({fit.parsed.response}); "
                         "type='response' gives ratios")
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
    return _result(out, notes)


def _type_name(x):
    return type(x).__name__


# ---------------------------------------------------------------------------
# per_group_vs_joint
# ---------------------------------------------------------------------------


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
    from .formula import parse_formula
    from .fit import fit as fit_mixed, fit_lm

    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, not {_type_name(data)}.")
    if group not in data.columns:
        cols = ", ".join(map(str, data.columns))
        raise ValueError(f"The group column '{group}' is not in the data (columns: {cols}).")
    if adjust not in ("none", "holm", "bonferroni", "fdr"):
        raise ValueError(f"adjust must be one of none, holm, bonferroni, fdr, not {adjust!r}.")
    parsed = parse_formula(formula_per_group)
    if group in _names_in(parsed.fixed, set(map(str, data.columns))):
        raise ValueError(
            f"The formula already uses '{group}' in its fixed part; give the per-group formula without it."
        )
    random_txt = " + ".join(str(t) for t in parsed.random)

    def fit_one(formula, d):
        return fit_mixed(formula, d, reml=reml) if parsed.random else fit_lm(formula, d)

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
