"""F tests of whole model terms: lmerTest's ``anova(fit)`` for a mixed model, R's F table for an lm.

A factor with three levels, or its interaction with another factor, is one question with several
coefficients: "does the drug effect differ between genes?" is the 2-df test of ``treatment:gene``.
:func:`f_table` answers it for every term at once, as lmerTest's ``anova(fit)`` does:

* one contrast matrix L per term, chosen by the type of the table (lmerTest's
  ``R/anova_contrasts.R`` and ``R/contrast_utils.R``):

  - **type 3** (default): the term's hypothesis when every other term is in the model, orthogonal
    to the terms that contain it (SAS's type III).  It does not depend on the coding the user
    chose (treatment or sum contrasts): the contrasts are built for treatment coding from the
    full indicator ("cell") columns of every term and mapped onto the fit's coefficients;
  - **type 2**: a term adjusted for every term that does not contain it (the marginal test for
    a term no other term contains);
  - **type 1**: sequential, each term adjusted for the terms before it in the formula (rows of
    the Cholesky factor of X'X; R's ``anova(lm)``).

* the joint F test of the rows of L from the fit's df method (:mod:`lmmedu.stats.ddf`):
  Satterthwaite's ``contestMD`` (one df per eigen-direction of L V L', combined), or
  Kenward-Roger.  ``sum_sq`` and ``mean_sq`` are lmerTest's: the unscaled Wald F times sigma^2.

For an lm the same contrasts give the classic table with a ``Residuals`` row: type 1 is R's
``anova(lm(...))``; type 2 is ``car::Anova(lm(...), type = 2)``, whose containment ignores covariates (a
factor is tested ignoring its interaction with a covariate, which lmerTest's type 2 adjusts for); type 3 is ``car::Anova(lm(...), type = 3)`` fitted with sum-to-zero contrasts
(``options(contrasts = c("contr.sum", "contr.poly"))``), the coding in which car's type 3 tests the
same hypotheses as lmerTest's (car's type 3 with R's default treatment contrasts tests main effects
at the reference level of the other factors, which is rarely the question); car's ``(Intercept)`` row
is left out, as lmerTest leaves it out.

:func:`anova` is the one entry point: one fit gives its F table, two fits the likelihood-ratio test
of :mod:`lmmedu.stats.anova`.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pandas as pd
import patsy
import scipy.special
from patsy.contrasts import ContrastMatrix
from patsy.design_info import DesignInfo, SubtermInfo

from .anova import anova as likelihood_ratio_test
from .ddf import resolve
from .design import plain_values
from .results import is_fit, is_mixed
from .terms import ResultTable, _model_vars

__all__ = ["anova", "f_table", "term_contrasts", "TABLE_COLUMNS", "LM_TABLE_COLUMNS"]

#: Columns of a mixed model's F table (lmerTest's Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)).
TABLE_COLUMNS = ["sum_sq", "mean_sq", "num_df", "den_df", "F", "p"]
#: Columns of an lm's F table (R's anova(lm): Df, Sum Sq, Mean Sq, F value, Pr(>F)).
LM_TABLE_COLUMNS = ["df", "sum_sq", "mean_sq", "F", "p"]
_TYPES = {1: "I", 2: "II", 3: "III"}


def anova(fit, *others, type=3, ddf=None, terms=None, **kwargs):
    """F tests of the terms of one fit, or the likelihood-ratio test of two fits, as R's ``anova()``.

    Parameters
    ----------
    fit : MixedFit or LmFit
    *others : one more fit, optional
        With a second fit, ``anova(a, b)`` is the likelihood-ratio test of
        :func:`lmmedu.stats.anova.anova` (further keywords such as ``names`` go there).
    type : {3, 2, 1}
        Type of the F table of one fit (see :func:`f_table`).
    ddf : str, optional
        df method of the F table: ``"satterthwaite"``, ``"kenward-roger"`` or ``"asymptotic"``;
        default the fit's own.
    terms : list of str, optional
        Only these terms of the F table.

    Returns
    -------
    pandas.DataFrame
        :func:`f_table` for one fit, the likelihood-ratio table for two.

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
    >>> lmmedu.anova(fit).index.tolist()
    ['treatment', 'gene', 'treatment:gene']
    """
    if others:
        if len(others) > 1:
            raise ValueError(f"anova compares two fits by likelihood ratio, not {1 + len(others)}; compare them in "
                             "pairs, each smaller model against the next larger one.")
        if type != 3 or ddf is not None or terms is not None:
            raise ValueError("type, ddf and terms choose the F table of one fit; anova(a, b) with two fits is the "
                             "likelihood-ratio test, which has none of them.")
        return likelihood_ratio_test(fit, others[0], **kwargs)
    if kwargs:
        raise ValueError(f"{', '.join(kwargs)} is an option of the likelihood-ratio test of two fits, "
                         "anova(a, b); the F table of one fit takes type, ddf and terms.")
    return f_table(fit, type=type, ddf=ddf, terms=terms)


def f_table(fit, type=3, ddf=None, terms=None):
    """F test of every term of a fit: lmerTest's ``anova(fit)``, or R's F table for an lm.

    Parameters
    ----------
    fit : MixedFit or LmFit
    type : {3, 2, 1}, default 3
        3: each term given all others, orthogonal to the terms containing it, independent of the
        coding (lmerTest's default); 2: each term adjusted for the terms not containing it;
        1: sequential, in the order of the formula.  See the module docstring.
    ddf : str, optional
        ``"satterthwaite"``, ``"kenward-roger"`` or ``"asymptotic"`` (infinite den df, chi-square
        tests; see :mod:`lmmedu.stats.ddf`); default the fit's own method.  An lm has its residual df whatever the method.
    terms : str or list of str, optional
        Only these terms (labels as in the formula, e.g. ``"treatment:gene"``).

    Returns
    -------
    ResultTable
        Indexed by term label as written in the formula (``treatment``, ``gene``,
        ``treatment:gene``).  Mixed fit: columns ``sum_sq, mean_sq, num_df, den_df, F, p``, as
        lmerTest.  lm: ``df, sum_sq, mean_sq, F, p`` and a last row ``Residuals``, as R's
        ``anova(lm)``.  ``notes`` (also ``attrs["notes"]``) says which table and df method it is,
        and warns of a singular fit or unreliable df.

    Raises
    ------
    ValueError
        A type other than 1, 2, 3; an unknown df method, or Kenward-Roger on an ML fit; a term
        not in the model.

    Warns
    -----
    UserWarning
        On a singular fit: F and df are still given, but the df of terms tested against a
        variance estimated at zero are fragile.

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
    >>> tab = lmmedu.anova(fit)
    >>> tab.columns.tolist()
    ['sum_sq', 'mean_sq', 'num_df', 'den_df', 'F', 'p']
    >>> tab["num_df"].tolist()
    [1, 2, 2]
    """
    if not is_fit(fit):
        raise ValueError(f"fit must be a model from lmmedu.fit or lmmedu.fit_lm, not {fit.__class__.__name__}.")
    if isinstance(type, bool) or type not in _TYPES:
        raise ValueError(f"type must be 3 (the default, as lmerTest), 2 or 1 (sequential), not {type!r}.")
    mixed = is_mixed(fit)
    if mixed:
        method = fit.ddf_method(ddf)  # an unknown ddf, or KR on an ML fit: one sentence
    elif ddf is not None:
        resolve(ddf)
        method = None
    contrasts = term_contrasts(fit, type)
    wanted = _select(contrasts, terms)
    rows = []
    for label in wanted:
        L = contrasts[label]
        if mixed:
            rows.append(_mixed_row(fit, method, L))
        else:
            rows.append(_lm_row(fit, L))
    index = pd.Index(list(wanted), name="term")
    notes = []
    if mixed:
        table = pd.DataFrame(rows, index=index, columns=TABLE_COLUMNS)
        table["num_df"] = table["num_df"].astype(int)
        if np.isinf(np.asarray(table["den_df"], dtype=float)).any():
            notes.append(f"Type {_TYPES[type]} analysis of variance table with asymptotic (infinite) denominator "
                         "df: each F times its num_df is a chi-square statistic (as emmeans' joint_tests with "
                         'lmer.df = "asymptotic")')
        else:
            notes.append(f"Type {_TYPES[type]} analysis of variance table with {method.name}'s method "
                         f"(as lmerTest's anova(fit, type = {type}{_ddf_arg(method)}))")
        if fit.singular:
            message = (f"{fit.singular_message} F and df are still given, but the df of a term tested "
                       "against that variance are fragile.")
            warnings.warn(message, UserWarning, stacklevel=3)
            notes.append(message)
        if fit.df_message:
            notes.append(fit.df_message)
        if not fit.converged:
            notes.append(fit.convergence_message)
    else:
        table = pd.DataFrame(rows, index=index, columns=LM_TABLE_COLUMNS)
        resid = pd.DataFrame([[fit.df_resid, fit.rss, fit.rss / fit.df_resid, np.nan, np.nan]],
                             index=pd.Index(["Residuals"], name="term"), columns=LM_TABLE_COLUMNS)
        table = pd.concat([table, resid])
        table["df"] = table["df"].astype(int)
        what = {1: "R's anova(lm(...))", 2: "car::Anova(lm(...), type = 2)",
                3: "car::Anova(lm(...), type = 3) with sum-to-zero contrasts, without its (Intercept) row"}[type]
        notes.append(f"Type {_TYPES[type]} analysis of variance table of the lm (as {what})")
    dropped = getattr(fit.design, "dropped", None)
    if dropped and type == 3:
        notes.append(f"Columns aliased with others were dropped ({', '.join(dropped)}), usually a combination of "
                     "levels without data: type III hypotheses then depend on which cells are empty; interpret them "
                     "with care (lmerTest says so too).")
    out = ResultTable(table)
    out.notes = notes
    out.extras = {"contrasts": {k: contrasts[k] for k in wanted}}
    out.attrs["notes"] = list(notes)
    return out


def _ddf_arg(method):
    return "" if method.name == "Satterthwaite" else f', ddf = "{method.name}"'


def _wald(L, beta, vcov):
    """(Lb)' (L V L')^+ (Lb) and the rank used, with contestMD's eigenvalue threshold.

    NaN (with the rows of L as the rank) when the covariance is unknown, e.g. an lm that fits exactly.
    """
    M = L @ vcov @ L.T
    if L.shape[0] == 0 or not np.all(np.isfinite(M)):
        return np.nan, L.shape[0]
    d, P = np.linalg.eigh(M)
    d, P = d[::-1], P[:, ::-1]
    pos = d > max(np.sqrt(np.finfo(float).eps) * d[0], 0.0) if d.size else np.zeros(0, dtype=bool)
    z = P[:, pos].T @ (L @ beta)
    return float(np.sum(z**2 / d[pos])), int(pos.sum())


def _mixed_row(fit, method, L):
    if L.shape[0] == 0:  # every column of the term aliased: nothing left to test
        return [np.nan, np.nan, 0, np.nan, np.nan, np.nan]
    F, num_df, den_df = method.ftest(L, fit.beta)
    wald, q = _wald(L, fit.beta, method.vcov())
    mean_sq = fit.sigma**2 * wald / q if q else np.nan
    if fit.problem.aliased:
        den_df = np.nan  # as df_for: a random term repeating a fixed effect leaves the df undefined
    if not num_df:
        p = np.nan
    elif np.isinf(den_df):  # F on infinite df: num_df F is chi-square (scipy's fdtrc gives NaN there)
        p = scipy.special.chdtrc(num_df, num_df * F)
    else:
        p = scipy.special.fdtrc(num_df, den_df, F)
    return [mean_sq * num_df, mean_sq, num_df, den_df, F, p]


def _lm_row(fit, L):
    wald, q = _wald(L, fit.beta, fit.vcov.to_numpy())
    F = wald / q if q else np.nan
    mean_sq = F * fit.sigma**2
    p = scipy.special.fdtrc(q, fit.df_resid, F) if q else np.nan
    return [q, mean_sq * q, mean_sq, F, p]


def _select(contrasts, terms):
    labels = list(contrasts)
    if terms is None:
        return labels
    asked = [terms] if isinstance(terms, str) else list(terms)
    by_parts = {frozenset(_parts(lab)): lab for lab in labels}
    out = []
    for t in asked:
        label = by_parts.get(frozenset(_parts(str(t))))
        if label is None:
            listed = ", ".join(f"'{lab}'" for lab in labels) or "none: the model has only an intercept"
            raise ValueError(f"The term '{t}' is not in the model's fixed part; its terms are {listed}.")
        out.append(label)
    return out


def _parts(label):
    return [p.strip() for p in label.replace(" ", "").split(":") if p.strip()]


# ---------------------------------------------------------------------------
# The contrasts of each type, as lmerTest builds them.
# ---------------------------------------------------------------------------


def _r_order(rhs, di):
    """The design's non-intercept terms (term, name) in R's order: by degree, then as written."""
    names = dict(zip(di.terms, di.term_names))
    try:
        written = [t for t in patsy.ModelDesc.from_formula(rhs).rhs_termlist if t in names]
    except patsy.PatsyError:
        written = []
    written += [t for t in di.terms if t not in written]
    terms = [t for t in written if t.factors]
    return [(t, names[t]) for t in sorted(terms, key=lambda t: len(t.factors))]


class _Terms:
    """The fit's fixed terms: label, kept columns, variables and which of them are numeric."""

    def __init__(self, fit):
        di = fit.design.design_info
        keep = list(fit.design.keep)
        col_term = {}
        for name, sl in di.term_name_slices.items():
            for k in range(sl.start, sl.stop):
                col_term[k] = name
        self.intercept = any(not t.factors for t in di.terms)
        self.patsy_terms = {}
        self.labels = []
        self.vars, self.numeric, self.order = {}, {}, {}
        for term, name in _r_order(fit.parsed.fixed, di):
            self.labels.append(name)
            self.patsy_terms[name] = term
            self.vars[name] = frozenset(f.name() for f in term.factors)
            self.numeric[name] = frozenset(f.name() for f in term.factors
                                           if di.factor_infos[f].type == "numerical")
            self.order[name] = len(term.factors)
        # columns of the fit's (kept) X per term; the intercept as "(Intercept)"
        self.columns = {lab: [] for lab in ["(Intercept)"] + self.labels}
        for j, k in enumerate(keep):
            name = col_term[k]
            self.columns["(Intercept)" if name == "Intercept" else name].append(j)
        # R's column order: the intercept, then the terms in R's order (patsy puts terms of
        # factors before terms of covariates; R keeps the formula's order within each degree).
        self.r_columns = [j for lab in ["(Intercept)"] + self.labels for j in self.columns[lab]]

    def contained_in(self, label, same_covariates=True):
        """Terms containing ``label``: more variables, and (lmerTest's containment) the same covariates.

        car's ``Anova(lm, type = 2)`` drops the second condition: there ``a:x`` (factor by
        covariate) contains ``a``, so ``a`` is tested ignoring ``a:x``.
        """
        v, num = self.vars[label], self.numeric[label]
        return [t for t in self.labels if v < self.vars[t] and (self.numeric[t] == num or not same_covariates)]


def term_contrasts(fit, type=3):
    """Contrast matrix of each term for an F table of ``type``, as lmerTest's ``get_contrasts_type*``.

    Parameters
    ----------
    fit : MixedFit or LmFit
    type : {3, 2, 1}

    Returns
    -------
    dict of str -> ndarray (k, p)
        One matrix per term (label as in the formula), columns in the order of ``fit.names``.

    Examples
    --------
    >>> import lmmedu
    >>> fit = lmmedu.fit_lm("log(length) ~ treatment*gene", lmmedu.load_replicates())
    >>> {k: v.shape for k, v in term_contrasts(fit, 1).items()}
    {'treatment': (1, 6), 'gene': (2, 6), 'treatment:gene': (2, 6)}
    """
    terms = _Terms(fit)
    G = _gram(fit)
    p = G.shape[0]
    if type == 1 or p <= 1 or len(terms.labels) <= 1:
        return _type1(terms, G)
    if type == 2:
        return _type2(terms, G, same_covariates=is_mixed(fit))
    return _type3(fit, terms, G)


def _gram(fit):
    """X'X of the fit's kept columns, from the distinct rows when the design has them."""
    cells = getattr(fit.design, "cells", None)
    if cells is not None:
        return cells.rows.T @ (cells.counts[:, None] * cells.rows)
    X = fit.X
    return X.T @ X


def _upper_rows(G):
    """Rows of the upper Cholesky factor of G scaled to a unit diagonal (lmerTest's t(doolittle(G)$L))."""
    s = np.sqrt(np.diag(G))
    s[s == 0] = 1.0
    R = np.linalg.cholesky(G / np.outer(s, s)).T * s[None, :]
    return R / np.diag(R)[:, None]


def _type1(terms, G):
    if G.shape[0] == 0:
        return {}
    order = terms.r_columns
    U = np.zeros_like(G)
    U[np.ix_(order, order)] = _upper_rows(G[np.ix_(order, order)])
    return {lab: U[terms.columns[lab]] for lab in terms.labels if terms.columns[lab]}


def _type2(terms, G, same_covariates=True):
    p = G.shape[0]
    out = {}
    for lab in terms.labels:
        cols = terms.columns[lab]
        if not cols:
            continue
        containing = terms.contained_in(lab, same_covariates)
        if not containing:
            out[lab] = np.eye(p)[cols]  # marginal: the term's own coefficients
            continue
        related = cols + [j for t in containing for j in terms.columns[t]]
        order = [j for j in range(p) if j not in set(related)] + related
        U = _upper_rows(G[np.ix_(order, order)])
        rows = U[[order.index(j) for j in cols]]
        L = np.zeros((len(cols), p))
        L[:, order] = rows
        out[lab] = L
    return out


def _distinct_rows(fit):
    """(data, weights, X) on the distinct combinations of the fixed part's variables.

    Every Gram matrix of the type-3 contrasts is a weighted sum over these rows, so a design of
    factors and few covariate values (414,345 rows, 10 combinations) costs what 10 rows cost.
    """
    data = fit.data
    try:
        mv = _model_vars(fit)
        cols = list(mv.cat) + [v for v in mv.num_vars if v not in mv.cat]
    except ValueError:  # a factor built from several columns: use every row
        cols = []
    if cols and all(c in data.columns for c in cols):
        codes = data.groupby(cols, sort=False, observed=True, dropna=False).ngroup().to_numpy()
        first = np.unique(codes, return_index=True)[1]
        weights = np.bincount(codes).astype(float)
        X = fit.X[first] if getattr(fit.design, "cells", None) is None else \
            fit.design.cells.rows[fit.design.cells.cell[first]]
        return plain_values(data.iloc[first]), weights, X
    return plain_values(data), np.ones(len(data)), fit.X


def _cell_columns(di, term, data):
    """Every level combination of the term's factors (times its covariates): R's model.matrix(~ 0 + term).

    Built with the fit's own factor information (levels, evaluation environment), each
    categorical factor coded by the identity instead of its contrasts.
    """
    matrices, ncol = {}, 1
    for f in term.factors:
        info = di.factor_infos[f]
        if info.type == "categorical":
            k = len(info.categories)
            matrices[f] = ContrastMatrix(np.eye(k), [f"[{c}]" for c in info.categories])
            ncol *= k
        else:
            ncol *= info.num_columns
    design = DesignInfo([f"c{i}" for i in range(ncol)],
                        factor_infos={f: di.factor_infos[f] for f in term.factors},
                        term_codings=OrderedDict([(term, [SubtermInfo(tuple(term.factors), matrices, ncol)])]))
    (mat,) = patsy.build_design_matrices([design], data, NA_action="raise")
    return np.asarray(mat, dtype=float)


def _type3(fit, terms, G):
    """lmerTest's extract_contrasts_type3, from Gram matrices (never an n x n matrix)."""
    data, weights, X = _distinct_rows(fit)
    # The full indicator ("cell") columns of every term, as R's model.matrix(~ 0 + term).
    blocks = [("(Intercept)", np.ones((len(data), 1)))] if terms.intercept else []
    for lab in terms.labels:
        blocks.append((lab, _cell_columns(fit.design.design_info, terms.patsy_terms[lab], data)))
    rdX = np.hstack([b for _, b in blocks])
    owner = [lab for lab, b in blocks for _ in range(b.shape[1])]
    A = rdX.T @ (weights[:, None] * rdX)
    B = rdX.T @ (weights[:, None] * X)
    # Treatment coding spanning the same space: greedily keep the cell columns that add rank, the
    # intercept first, then each term's columns from the last level back, so first levels are the
    # references (lmerTest re-makes X with contr.treatment; the hypotheses do not depend on the coding).
    s = np.sqrt(np.diag(A))
    s[s == 0] = 1.0
    As = A / np.outer(s, s)
    chosen = []
    start = 0
    for lab, b in blocks:
        for j in range(start + b.shape[1] - 1, start - 1, -1):
            trial = chosen + [j]
            if np.linalg.eigvalsh(As[np.ix_(trial, trial)])[0] > 1e-10:
                chosen.append(j)
        start += b.shape[1]
    # keep the chosen columns in cell order within each term, as model.matrix would
    chosen = sorted(chosen)
    S = As[np.ix_(chosen, chosen)]
    # L = t(ginv(X_trt) rdX): each cell column in treatment-coded coefficients (scaled back).
    Lfull = np.linalg.solve(S, As[chosen, :]).T * (s[:, None] / s[None, chosen])
    ctr_terms = [owner[j] for j in chosen]
    cols = {lab: [i for i, t in enumerate(ctr_terms) if t == lab] for lab in terms.labels}
    for lab in sorted(terms.labels, key=lambda t: -terms.order[t]):
        containing = [i for t in terms.contained_in(lab) for i in cols[t]]
        if containing and cols[lab]:
            C = Lfull[:, containing]
            Y = Lfull[:, cols[lab]]
            coef, *_ = np.linalg.lstsq(C, Y, rcond=None)
            Lfull[:, cols[lab]] = Y - C @ coef
    Lsel = Lfull[chosen, :]
    # Treatment-coded coefficients in the fit's: beta_trt = (X_trt'X_trt)^-1 X_trt'X beta.
    mapping = np.linalg.solve(A[np.ix_(chosen, chosen)], B[chosen, :])
    out = {}
    for lab in terms.labels:
        if not cols[lab]:
            continue
        K = Lsel[:, cols[lab]].T
        K = K[np.abs(K).sum(axis=1) > 1e-8 * max(1.0, np.abs(K).max())]
        L = K @ mapping
        L[np.abs(L) < 1e-12 * max(1.0, np.abs(L).max())] = 0.0
        out[lab] = L
    return out
