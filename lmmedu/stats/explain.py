"""What every coefficient of a fitted model means, and reference levels.

:func:`explain` writes each fixed-effect coefficient as a comparison of *cell means* in
this model (which depends on reference levels, coding and interactions), reads it as plain
language when it is a simple difference, a deviation from the average or a difference of
such, and checks the claim numerically. :func:`set_reference` changes the reference level
of a column, which changes the coefficients but not the model.

Works on both :class:`lmmedu.stats.results.MixedFit` and :class:`lmmedu.stats.results.LmFit`,
for any formula patsy accepts (treatment or sum coding, numeric covariates, three-way
interactions).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pandas as pd

from .terms import _check_fit, _label, _model_vars, _names_in, _result

__all__ = ["explain", "set_reference"]

_MINUS = "\u2212"  # a real minus sign reads better than a hyphen in formulas


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
    if getattr(fit.parsed, "offsets", ()):
        raise ValueError(
            "explain() does not describe a model with offset(...): each coefficient then changes the response on "
            "top of the offset, which enters with coefficient 1; read fit.coefs with that in mind.")
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
