"""Model matrices: the fixed-effects matrix X and the random-effects terms Z.

X comes from patsy, so column names match statsmodels' for the same formula.
Each random term ``(expr | g)`` becomes a :class:`RandomBlock`: the n x q
matrix of ``expr`` and the integer group code of every row.  Nothing here
knows about likelihoods; the engine only sees arrays.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
import scipy.linalg

from .formula import eval_env
from .rfuncs import RFormulaError, build_error, r_column_names
from .grouping import _group_codes, group_labels

__all__ = ["FixedDesign", "RandomBlock", "fixed_design", "random_blocks", "plain_values", "least_squares",
           "ALIAS_TOL"]


@dataclass
class FixedDesign:
    """Fixed-effects model matrix.

    Attributes
    ----------
    X : ndarray (n, p)
        Columns kept (full rank).
    names : list of str
        Term names of the kept columns, statsmodels-style.
    design_info : patsy.DesignInfo
        Builds the same columns for new data (all columns, including dropped ones).
    keep : ndarray of int
        Indices of kept columns within ``design_info.column_names``.
    dropped : list of str
        Names of columns dropped for rank deficiency.
    """

    _X: np.ndarray  # None until first read when ``cells`` hold the rows
    names: list
    design_info: object
    keep: np.ndarray
    dropped: list
    cells: object = None  # Cells of the kept columns when X has few distinct rows (factors only)

    @property
    def X(self):
        """The (n, p) matrix; from the distinct rows on first use (a fit of such a design never needs it)."""
        if self._X is None:
            self._X = self.cells.rows[self.cells.cell]
        return self._X

    def matrix_for(self, data):
        """Model matrix of ``data`` with the kept columns, in the same coding."""
        (mat,) = patsy.build_design_matrices([self.design_info], plain_values(data),
                                             NA_action="raise")
        return np.asarray(mat, dtype=float)[:, self.keep]


def _categorise(data):
    """Treat text columns as categorical with levels in order of first sort.

    patsy already does this for strings; making it explicit keeps level order
    identical between X, Z and the interpretation helpers.
    """
    return _categorise_with_signature(data)[0]


def _categorise_with_signature(data):
    """:func:`_categorise`, and the column signature of the result (one pass over the dtypes)."""
    # Copy only when a column changes: a frame copy costs more than the rest on small data.
    out = None
    dtypes = list(data.dtypes.items())
    for col, dt in dtypes:
        if isinstance(dt, pd.CategoricalDtype):
            continue
        if dt == object or pd.api.types.is_string_dtype(dt) or pd.api.types.is_bool_dtype(dt):
            if out is None:
                out = data.copy()
            out[col] = pd.Categorical(out[col])
    if out is None:
        return data, _signature(dtypes)
    return out, _signature(out.dtypes.items())


# Missing rows are dropped (with a warning) before the design is built, so a NaN here comes
# from a transform such as log(-2); keep it for _check_finite, which names column and row.
_KEEP_NAN = patsy.NAAction(NA_types=[])


# patsy spends milliseconds per call on small data, mostly working out the coding of every term
# (DesignInfo) and in generic per-column loops; widget apps and simulation studies refit the same
# formula many times. The DesignInfo depends on the data only through the levels of its factors
# when every factor is a plain column (no stateful transform such as center(x)), so it is reused;
# the matrix itself is then built here with patsy's coding, column order and multiplication order
# (tests check it equals patsy's bit for bit). Anything else goes through patsy.
_DESIGN_CACHE = {}
_DESIGN_CACHE_MAX = 256


def _column_signature(data):
    return _signature(data.dtypes.items())


def _signature(dtypes):
    sig = []
    for col, dt in dtypes:
        if isinstance(dt, pd.CategoricalDtype):
            sig.append((col, "cat", tuple(dt.categories), bool(dt.ordered)))
        else:
            sig.append((col, str(dt)))
    return tuple(sig)


def _plain_values(design_info, data):
    """Values of every factor when each one is a plain column patsy would read as is; else None."""
    values = {}
    for factor, info in design_info.factor_infos.items():
        code = getattr(factor, "code", None)
        if not isinstance(code, str) or not code.isidentifier() or code not in data.columns:
            return None
        s = data[code]
        if info.type == "categorical":
            if not isinstance(s.dtype, pd.CategoricalDtype) or tuple(s.dtype.categories) != tuple(info.categories):
                return None
            codes = np.asarray(s.array.codes)
            if len(codes) and codes.min() < 0:
                return None
            values[factor] = codes
        else:
            if info.num_columns != 1 or not isinstance(s.dtype, np.dtype) or s.dtype.kind not in "fiu":
                return None
            values[factor] = s.to_numpy(dtype=float).reshape(-1, 1)
    return values


def _build_columns(design_info, values, n):
    """patsy's _build_design_matrix for plain factors, without its per-call overhead."""
    from patsy.build import _subterm_column_combinations

    out = np.ones((n, len(design_info.column_names)), dtype=float)
    start = 0
    for subterms in design_info.term_codings.values():
        for subterm in subterms:
            for i, column_idxs in enumerate(_subterm_column_combinations(design_info.factor_infos, subterm)):
                col = out[:, start + i]
                for factor, column_idx in zip(subterm.factors, column_idxs):
                    if factor in subterm.contrast_matrices:
                        col *= subterm.contrast_matrices[factor].matrix[values[factor], column_idx]
                    else:
                        col *= values[factor][:, column_idx]
            start += subterm.num_columns
    return out


@dataclass
class Cells:
    """Rows of a design made of factors only: every row is one of few distinct rows.

    ``X = rows[cell]``; sums over the data then run over the cells, weighted by ``counts``.
    """

    rows: np.ndarray  # (n_cells, p)
    cell: np.ndarray  # (n,) cell of each row
    counts: np.ndarray  # (n_cells,) rows per cell


def _build_plain(design_info, values, n):
    """(matrix, None), or (None, Cells) for a design of few distinct rows (``rows[cell]`` is the matrix).

    When every factor is categorical and the combinations of their levels are few, the
    distinct rows are built once (with the same products, so the same bits) and the
    matrix is one gather: a factorial design of 22,500 rows has 6 distinct rows.
    """
    infos = design_info.factor_infos
    if all(info.type == "categorical" for info in infos.values()):
        sizes = [len(info.categories) for info in infos.values()]
        n_cells = int(np.prod(sizes))
        if n_cells <= max(64, n // 8):
            cell = np.zeros(n, dtype=np.intp)
            for factor, size in zip(infos, sizes):
                cell *= size
                cell += values[factor]
            grid = np.indices(sizes).reshape(len(sizes), n_cells)
            rows = _build_columns(design_info, dict(zip(infos, grid)), n_cells)
            return None, Cells(rows, cell, np.bincount(cell, minlength=n_cells))
    return _build_columns(design_info, values, n), None


def _design_matrix(rhs, data):
    """(matrix, DesignInfo) of ``rhs`` on ``data`` (already categorised), equal to patsy.dmatrix's."""
    mat, info, cells = _design_matrix_cells(rhs, data)
    return (cells.rows[cells.cell] if mat is None else mat), info


def _design_matrix_cells(rhs, data, signature=None, transform_rows=None):
    """As :func:`_design_matrix`, plus the :class:`Cells` of a design of few distinct rows (else None).

    With cells the matrix may be None (not built): ``cells.rows[cells.cell]``.  ``transform_rows``
    (every row of the data, before incomplete ones were dropped) is where data-dependent
    transforms such as ``scale(x)`` learn their centre and spread, as R computes them.
    """
    if transform_rows is not None:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            builder = patsy.incr_dbuilder(rhs, lambda: iter([_align_categories(transform_rows, data)]),
                                          eval_env=eval_env())
            (mat,) = patsy.build_design_matrices([builder], data, NA_action=_KEEP_NAN)
        return np.asarray(mat, dtype=float), r_column_names(mat.design_info), None
    key = (rhs, _column_signature(data) if signature is None else signature)
    info = _DESIGN_CACHE.get(key)
    if info is not None:
        values = _plain_values(info, data)
        if values is not None:
            mat, cells = _build_plain(info, values, len(data))
            return mat, info, cells
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # reported by _check_finite
        mat = patsy.dmatrix(rhs, data, eval_env=eval_env(), NA_action=_KEEP_NAN)
    info = mat.design_info
    values = _plain_values(info, data)
    if values is not None:
        if len(_DESIGN_CACHE) >= _DESIGN_CACHE_MAX:
            _DESIGN_CACHE.clear()
        _DESIGN_CACHE[key] = info
        # The cells now too, so that a first fit takes the same path (to the last bit) as a repeat.
        _, cells = _build_plain(info, values, len(data))
        return np.asarray(mat, dtype=float), info, cells
    return np.asarray(mat, dtype=float), r_column_names(info), None


def _align_categories(rows, data):
    """``rows`` with every categorical column of ``data`` coded with the same categories (others missing)."""
    out = rows.copy()
    for col, dt in data.dtypes.items():
        if isinstance(dt, pd.CategoricalDtype) and col in out.columns:
            out[col] = pd.Categorical(out[col], categories=dt.categories)
    return out


def plain_values(data):
    """New data for an existing design: categoricals as plain values.

    patsy matches plain values against the levels stored at fit time, while a
    Categorical with a different set of categories would be rejected.
    """
    out = data.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object)
    return out


def fixed_design(rhs, data, transform_rows=None):
    """Build the fixed-effects matrix, dropping aliased columns like lme4.

    Parameters
    ----------
    rhs : str
        Right-hand side of the fixed part in patsy syntax.
    data : pandas.DataFrame
    transform_rows : pandas.DataFrame, optional
        All rows of the data, incomplete ones included (``ModelFrame.transform_rows``): R
        computes ``scale(x)``, ``poly(x, 2)`` or ``mean(x)`` on them before dropping rows.

    Returns
    -------
    FixedDesign

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"g": ["a", "b", "a", "b"], "x": [1.0, 2.0, 3.0, 5.0]})
    >>> fixed_design("g + x", d).names
    ['Intercept', 'g[T.b]', 'x']
    """
    try:
        X, info, cells = _design_matrix_cells(rhs, *_categorise_with_signature(data), transform_rows=transform_rows)
    except (patsy.PatsyError, RFormulaError) as err:
        raise build_error(err, f"The fixed-effects part '{rhs}'") from None
    names = list(info.column_names)
    if X is None and not np.isfinite(cells.rows).all():
        X = cells.rows[cells.cell]
    if X is not None:
        _check_finite(X, names, data, "fixed-effects")
    if not names:
        return FixedDesign(np.zeros((len(data), 0)) if X is None else X, [], info, np.arange(0), [])
    if cells is None:
        Xw = _working_columns(X)
        shift = X[0] - Xw[0]
        gram = Xw.T @ Xw  # one product serves both the column lengths and the rank check
    else:
        # The same centred Gram matrix from the few distinct rows; the rows themselves are
        # centred only if the rank check needs them.
        Xw = None
        shift = _working_shift(cells.rows[cells.counts > 0], cells.counts @ cells.rows / len(data))
        rows = cells.rows - shift
        gram = (rows * cells.counts[:, None]).T @ rows
    scale = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    if X is None and _clearly_full_rank(scale, gram):
        keep = list(range(len(names)))
    else:
        if X is None:
            X = cells.rows[cells.cell]
        keep = _full_rank_columns(X, Xw, scale, gram)
    dropped = [names[i] for i in range(len(names)) if i not in set(keep)]
    if dropped:
        warnings.warn(
            f"The fixed-effects matrix is rank deficient, so {len(dropped)} column(s) were dropped: "
            f"{', '.join(dropped)} (aliased with earlier columns, often an empty combination of factor levels, "
            "e.g. a gene with no drug measurements, or a column that repeats another; they get no coefficient, "
            "where R's lm would show NA).",
            UserWarning,
            stacklevel=3,
        )
    keep = np.asarray(keep, dtype=int)
    _warn_far_from_zero(shift[keep], scale[keep] / np.sqrt(len(data)), [names[i] for i in keep])
    if len(keep) < len(names):
        X = X[:, keep]
        cells = None if cells is None else Cells(cells.rows[:, keep], cells.cell, cells.counts)
    return FixedDesign(X, [names[i] for i in keep], info, keep, dropped, cells)


#: Beyond this |mean| / SD a combination of coefficients (an emmean, a prediction's SE) computed
#: from the covariance matrix cancels about 2*log10(ratio) of float64's 16 digits.
FAR_FROM_ZERO = 1e5


def _warn_far_from_zero(mean, sd, names):
    """Warn when a covariate sits so far from 0 that SEs of combinations lose their digits.

    ``mean`` holds the column means removed by :func:`_working_columns` (zero for the
    intercept, or for every column of a model without one), ``sd`` the column SDs after that.
    """
    ratio = np.abs(mean) / np.where(sd > 0, sd, np.inf)
    j = int(np.argmax(ratio)) if ratio.size else 0
    if ratio.size and ratio[j] > FAR_FROM_ZERO:
        warnings.warn(
            f"The column '{names[j]}' is far from zero compared with its spread (mean {mean[j]:.6g}, SD "
            f"{sd[j]:.3g}), so its coefficients are right but standard errors of combinations (emmeans, contrasts, "
            f"predictions) lose precision; centre it first, e.g. {names[j]} - {mean[j]:.6g}.",
            UserWarning,
            stacklevel=4,
        )


#: Relative tolerance of R's ``lm`` (``qr(tol = 1e-07)``): a column is aliased when less than
#: this fraction of its length lies outside the span of the columns before it.
ALIAS_TOL = 1e-7


def _working_columns(X):
    """Columns centred when the first one is the intercept, so a shift is never mistaken for aliasing.

    ``span(1, x + 1e8)`` equals ``span(1, x - mean(x))``, but only the second is numerically
    well separated from the intercept; R's ``lm`` (no centring) would drop ``x + 1e8`` when
    the SD of ``x`` is below about 10.
    """
    Xw = np.array(X, dtype=float, copy=True)
    if _intercept_first(Xw):
        Xw[:, 1:] -= Xw[:, 1:].mean(axis=0)
    return Xw


def _intercept_first(rows):
    """Whether the first column is a nonzero constant (then the others are centred)."""
    return rows.shape[1] > 1 and rows.shape[0] and np.ptp(rows[:, 0]) == 0 and rows[0, 0] != 0


def _working_shift(rows, mean):
    """What :func:`_working_columns` subtracts from each column, given the distinct rows and the column means."""
    shift = np.zeros(rows.shape[1])
    if _intercept_first(rows):
        shift[1:] = mean[1:]
    return shift


def _check_finite(X, names, data, what):
    """Name the column and the row where a transform such as log(x) gave -inf, inf or NaN."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    j = int(np.flatnonzero(bad.any(axis=0))[0])
    rows = np.flatnonzero(bad[:, j])
    from .formula import _formula_names

    used = [c for c in dict.fromkeys(_formula_names(names[j])) if c in data.columns]
    shown = "; ".join(f"{c} = {getattr(v, 'item', lambda: v)()!r}" for c in used for v in [data[c].iloc[rows[0]]])
    where = f" (first in row {rows[0]}{': ' + shown if shown else ''})"
    raise ValueError(
        f"The {what} column '{names[j]}' is infinite or undefined in {rows.size} of {len(X)} rows{where}; "
        "log needs positive values, sqrt non-negative ones, 1/x and x^-1 non-zero ones (and all finite), so remove or "
        "correct those rows "
        "(or use e.g. log(x + 1) for counts with zeros)."
    )


def _clearly_full_rank(scale, gram):
    """A well-conditioned Gram matrix of unit columns: every column keeps at least
    sqrt(smallest eigenvalue) >> ALIAS_TOL of its length (the fast path of the rank check)."""
    if not (scale > 0).all():
        return False
    ev = np.linalg.eigvalsh(gram / np.outer(scale, scale))
    return bool(ev.size and ev[0] > 1e-10)


def _full_rank_columns(X, Xw=None, scale=None, gram=None):
    """Indices of a maximal set of independent columns, earliest first (as lme4 and R's lm keep them).

    A column is kept when, after removing its projection on the columns kept before it
    (the intercept included), more than :data:`ALIAS_TOL` of its length remains: the
    criterion of R's ``dqrdc2`` (pivoted QR that moves aliased columns to the end),
    applied to centred columns.
    """
    if Xw is None and gram is None:
        Xw = _working_columns(X)
        scale = np.sqrt(np.einsum("ij,ij->j", Xw, Xw))
    # A zero (or, once centred, constant) column is aliased with the intercept; handled below.
    if (scale > 0).all() and _clearly_full_rank(scale, Xw.T @ Xw if gram is None else gram):
        return list(range(X.shape[1]))
    if Xw is None:
        Xw = _working_columns(X)
    keep, basis = [], np.empty((Xw.shape[0], 0))
    for j in range(Xw.shape[1]):
        if scale[j] == 0:
            continue
        v = Xw[:, j] / scale[j]
        for _ in range(2):  # Gram-Schmidt twice is enough for orthogonality to working precision
            v = v - basis @ (basis.T @ v)
        r = float(np.sqrt(v @ v))
        if r > ALIAS_TOL:
            keep.append(j)
            basis = np.column_stack([basis, v / r])
    return keep


def least_squares(X, y):
    """Least-squares coefficients and their unscaled covariance, stable for shifted columns.

    Solves on the centred, unit-length columns by QR (never the normal equations, whose
    condition number is the square of X's), then maps back to the columns of ``X``.

    Parameters
    ----------
    X : ndarray (n, p)
        Full column rank (as returned in :class:`FixedDesign`).
    y : ndarray (n,)

    Returns
    -------
    beta : ndarray (p,)
    xtx_inv : ndarray (p, p)
        ``(X'X)^-1``, computed without forming ``X'X``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0) + 1e8
    >>> X = np.column_stack([np.ones(10), x])
    >>> beta, _ = least_squares(X, 3 + 0.5 * (x - 1e8))
    >>> round(float(beta[1]), 6)
    0.5
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    if p == 0:
        return np.zeros(0), np.zeros((0, 0))
    Xw = _working_columns(X)
    shift = X[0] - Xw[0]  # column means removed (zero for the intercept or without one)
    scale = np.sqrt((Xw**2).sum(axis=0))
    Q, R = scipy.linalg.qr(Xw / scale, mode="economic")
    a = scipy.linalg.solve_triangular(R, Q.T @ y) / scale
    Rinv = scipy.linalg.solve_triangular(R, np.eye(p))
    cov_a = (Rinv @ Rinv.T) / np.outer(scale, scale)
    # X b = Xw a with a = b except a[0] = b[0] + shift . b  ->  b = A a.
    A = np.eye(p)
    if shift.any():
        A[0, 1:] = -shift[1:] / X[0, 0]
    return A @ a, A @ cov_a @ A.T


@dataclass
class RandomBlock:
    """One random-effects term: its model matrix and grouping.

    Attributes
    ----------
    term : RandomTerm
    Z : ndarray (n, q)
        The columns of the term's expression for every row.
    codes : ndarray of int (n,)
        Group index of each row, 0..m-1.
    levels : list of str
        Group labels in code order.
    names : list of str
        Column names of Z (patsy naming, e.g. 'Intercept', 'Days').
    design_info : patsy.DesignInfo
        Builds the same columns of Z for new data.
    """

    term: object
    Z: np.ndarray
    codes: np.ndarray
    levels: list
    names: list
    design_info: object = None
    cells: object = None  # Cells of Z when its rows are few distinct ones (factors only)

    def matrix_for(self, data):
        """Z columns of this term for ``data`` (same coding as the fit)."""
        (mat,) = patsy.build_design_matrices([self.design_info], plain_values(data),
                                             NA_action="raise")
        return np.asarray(mat, dtype=float)

    def codes_for(self, data):
        """Group index of each row of ``data``; -1 for groups not in the fit."""
        labels = group_labels(data, self.term.group_vars)
        lookup = {lev: i for i, lev in enumerate(self.levels)}
        return np.array([lookup.get(v, -1) for v in labels], dtype=np.int64)

    @property
    def q(self):
        return self.Z.shape[1]

    @property
    def m(self):
        return len(self.levels)


def random_blocks(terms, data, transform_rows=None):
    """Build a :class:`RandomBlock` for each random term.

    Parameters
    ----------
    terms : sequence of RandomTerm
    data : pandas.DataFrame
    transform_rows : pandas.DataFrame, optional
        As in :func:`fixed_design`.

    Returns
    -------
    list of RandomBlock

    Examples
    --------
    >>> import pandas as pd
    >>> from lmmedu.stats.formula import parse_formula
    >>> d = pd.DataFrame({"y": [1., 2, 3, 4, 5, 6], "x": [0., 1, 2, 0, 1, 2], "g": list("aaabbb")})
    >>> [b.names for b in random_blocks(parse_formula("y ~ x + (x|g)").random, d)]
    [['Intercept', 'x']]
    """
    cat, signature = _categorise_with_signature(data)
    blocks = []
    n = len(data)
    for term in terms:
        try:
            Z, info, cells = _design_matrix_cells(term.expr, cat, signature, transform_rows)
        except (patsy.PatsyError, RFormulaError) as err:
            raise build_error(err, f"The random-effects term '{term}'") from None
        if Z is None:
            Z = cells.rows[cells.cell]
        # Distinct rows that are all finite make every row finite: no pass over Z needed.
        if cells is None or not np.isfinite(cells.rows).all():
            _check_finite(Z, list(info.column_names), data, f"random-effects term '{term}'")
        if Z.shape[1] == 0:
            raise ValueError(f"The random-effects term '{term}' has no columns; write (1 | {term.group}) for a random intercept.")
        codes, levels = _group_codes(data, term.group_vars)
        m = len(levels)
        if m < 2:
            raise ValueError(
                f"The grouping factor '{term.group}' has only {m} level in the data; a random effect needs at "
                "least 2 groups (with fewer, drop the random term or use a fixed effect)."
            )
        if m * Z.shape[1] >= n:
            raise ValueError(
                f"The term '{term}' has {m * Z.shape[1]} random effects ({m} groups x {Z.shape[1]} columns) but "
                f"there are only {n} observations; a model needs fewer random effects than observations."
            )
        blocks.append(RandomBlock(term, Z, codes, levels, list(info.column_names), info, cells))
    if blocks and sum(b.m * b.q for b in blocks) >= n:
        raise ValueError(
            f"The random terms together have {sum(b.m * b.q for b in blocks)} random effects but there are "
            f"only {n} observations; simplify the random part."
        )
    return blocks
