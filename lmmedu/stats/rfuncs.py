"""R's formula functions, computed as R computes them.

A formula such as ``y ~ scale(x) + poly(z, 2) + I(w - mean(w))`` means in lmmedu what it
means in R.  The functions that depend on the data (``scale``, ``poly``, ``mean``, ``sd``,
``median``, ``min``, ``max``) are patsy *stateful transforms*: they learn their centre,
spread or polynomial coefficients once, from the data the model is built from, and reuse
them for new rows (emmeans' reference grid, predictions), like R's ``predvars``.  R learns
them from every row of the data frame, before rows with a missing value elsewhere are
dropped; :func:`lmmedu.stats.design.fixed_design` feeds them those same rows.

``poly(x, k)`` gives R's orthogonal polynomials (same columns, signs and scale), so the
coefficients equal R's; its columns are named ``poly(x, 2)[1]``, ``poly(x, 2)[2]`` for R's
``poly(x, 2)1``, ``poly(x, 2)2``.
"""

from __future__ import annotations

import re

import numpy as np
import patsy

__all__ = ["RFormulaError", "build_error", "namespace", "r_column_names", "r_poly", "r_scale"]


class RFormulaError(ValueError):
    """A formula piece that cannot be computed as R would; the message is the sentence to show."""


def _values(x, what):
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise RFormulaError(f"{what} needs a numeric column, but got values such as {arr.ravel()[:1].tolist()}; "
                            "convert the column to numbers first.")
    arr = arr.astype(float)
    if arr.ndim > 1:
        if arr.shape[1] != 1:
            raise RFormulaError(f"{what} takes one numeric column.")
        arr = arr[:, 0]
    return arr


def r_scale(x, center=True, scale=True):
    """Centre and spread that R's ``scale(x, center, scale)`` uses (missing values ignored).

    Returns
    -------
    (centre, spread) : floats (0.0 and 1.0 when not applied)

    Examples
    --------
    >>> r_scale([1.0, 2.0, 3.0, 6.0])
    (3.0, 2.160246899469287)
    >>> r_scale([1.0, 2.0, 3.0, 6.0], center=False)  # root mean square with n - 1
    (0.0, 4.08248290463863)
    """
    v = np.asarray(x, dtype=float)
    v = v[~np.isnan(v)]
    if isinstance(center, (bool, np.bool_)):
        c = float(v.mean()) if center and v.size else 0.0
    else:
        c = float(center)
    if isinstance(scale, (bool, np.bool_)):
        if not scale:
            return c, 1.0
        s = float(np.sqrt(np.sum((v - c) ** 2) / max(1, v.size - 1)))
    else:
        s = float(scale)
    return c, s


class _Scale:
    """R's ``scale(x, center = TRUE, scale = TRUE)``: divide by the SD with n - 1, not n."""

    def __init__(self):
        self._chunks = []

    def memorize_chunk(self, x, center=True, scale=True):
        self._chunks.append(_values(x, "scale()"))

    def memorize_finish(self):
        self.center, self.scale = None, None
        self._all = np.concatenate(self._chunks) if self._chunks else np.zeros(0)
        del self._chunks

    def transform(self, x, center=True, scale=True):
        if self.center is None:
            self.center, self.scale = r_scale(self._all, center, scale)
            del self._all
        if self.scale == 0:
            raise RFormulaError("scale() divides by the standard deviation, which is 0 here (the column is "
                                "constant); drop the term or use scale(x, scale = FALSE).")
        return (_values(x, "scale()") - self.center) / self.scale


def _poly_coefs(x, degree):
    """R's ``attr(poly(x, degree), "coefs")``: alpha and norm2 of the three-term recursion."""
    xbar = x.mean()
    xc = x - xbar
    X = np.vander(xc, degree + 1, increasing=True)
    Q, R = np.linalg.qr(X)
    if np.sum(np.abs(np.diag(R)) > 1e-7 * np.abs(R).max()) < degree + 1:
        raise RFormulaError(f"poly() of degree {degree} needs at least {degree + 1} distinct values of x; "
                            "use a lower degree.")
    Z = Q * np.diag(R)  # monic orthogonal polynomials at x (R: qr.qy(QR, diag(R)))
    norm2 = np.sum(Z**2, axis=0)
    alpha = (np.sum(xc[:, None] * Z**2, axis=0) / norm2 + xbar)[:degree]
    return alpha, np.concatenate([[1.0], norm2])


def r_poly(x, degree, alpha, norm2):
    """R's ``predict`` of ``poly()``: the orthogonal polynomials with stored coefficients at ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(1.0, 6.0)
    >>> alpha, norm2 = _poly_coefs(x, 2)
    >>> np.round(r_poly(x, 2, alpha, norm2), 4).tolist()[0]
    [-0.6325, 0.5345]
    """
    Z = np.ones((len(x), degree + 1))
    Z[:, 1] = x - alpha[0]
    for i in range(1, degree):
        Z[:, i + 1] = (x - alpha[i]) * Z[:, i] - (norm2[i + 1] / norm2[i]) * Z[:, i - 1]
    return Z[:, 1:] / np.sqrt(norm2[2:])


class _Poly:
    """R's ``poly(x, degree, raw = FALSE)``: orthogonal polynomials, or x, x^2, ... when raw."""

    def __init__(self):
        self._chunks = []

    @staticmethod
    def _degree(degree):
        if not np.isscalar(degree) or isinstance(degree, (bool, np.bool_, str)):
            raise RFormulaError("poly(x, degree) takes one numeric column and a whole degree; for a polynomial in "
                                "two columns (R's polym) write poly(x, 2) * poly(z, 2) or list the terms.")
        if not float(degree).is_integer() or degree < 1:
            raise RFormulaError(f"poly(x, degree) needs a whole degree of 1 or more, not {degree!r}.")
        return int(degree)

    def memorize_chunk(self, x, degree=1, raw=False):
        self._chunks.append(_values(x, "poly()"))

    def memorize_finish(self):
        self._all = np.concatenate(self._chunks) if self._chunks else np.zeros(0)
        self.coefs = None
        del self._chunks

    def transform(self, x, degree=1, raw=False):
        degree = self._degree(degree)
        x = _values(x, "poly()")
        if raw:
            return np.column_stack([x**k for k in range(1, degree + 1)])
        if self.coefs is None:
            if np.isnan(self._all).any():
                raise RFormulaError("poly() cannot use a column with missing values (R refuses them too); drop "
                                    "those rows from the data first, e.g. data.dropna(subset=[...]).")
            self.coefs = _poly_coefs(self._all, degree)
            del self._all
        return r_poly(x, degree, *self.coefs)


def _summary(func, name):
    """A stateful transform computing ``func`` once on the model's data, like R's ``mean(x)`` in a formula."""

    class _Summary:
        def __init__(self):
            self._chunks = []

        def memorize_chunk(self, x):
            self._chunks.append(_values(x, f"{name}()"))

        def memorize_finish(self):
            v = np.concatenate(self._chunks) if self._chunks else np.zeros(0)
            # R returns NA when any value is missing; the rows then all fail (a clear message follows).
            self.value = float(func(v)) if v.size else np.nan
            del self._chunks

        def transform(self, x):
            return self.value

    _Summary.__name__ = f"_{name}"
    return patsy.stateful_transform(_Summary)


def _sd(v):
    return np.std(v, ddof=1) if v.size > 1 else np.nan


def _log(x, base=None):
    """R's ``log(x, base = exp(1))``."""
    x = np.asarray(x, dtype=float) if not hasattr(x, "dtype") else x
    return np.log(x) if base is None else np.log(x) / np.log(base)


def namespace():
    """The names a translated formula may call, R's meaning first."""
    return {
        "np": np,
        "log": _log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "exp": np.exp,
        "sqrt": np.sqrt, "abs": np.abs,
        "scale": patsy.stateful_transform(_Scale),
        "poly": patsy.stateful_transform(_Poly),
        "mean": _summary(np.mean, "mean"), "sd": _summary(_sd, "sd"), "median": _summary(np.median, "median"),
        "min": _summary(np.min, "min"), "max": _summary(np.max, "max"),
        "Treatment": RTreatment,
    }


class RTreatment(patsy.Treatment):
    """patsy's treatment coding, with the reference level also found by its printed label (R's ``relevel``).

    ``relevel(cyl, ref = "6")`` names the level 6 of a numeric column; R compares labels.
    """

    def code_without_intercept(self, levels):
        ref = self.reference
        if ref is not None and ref not in levels:
            same = [lv for lv in levels if str(lv) == str(ref)]
            if not same:
                raise RFormulaError(
                    f"The reference level {ref!r} is not a level of the factor (levels: "
                    f"{', '.join(map(str, levels))}); pick one of those in relevel(x, ref = ...).")
            return patsy.Treatment(same[0]).code_without_intercept(levels)
        return super().code_without_intercept(levels)


def r_column_names(info):
    """``info`` (a patsy DesignInfo) with the columns of ``poly(x, k)`` and ``bs(x, df)`` numbered from 1, as R does.

    patsy names the columns of a matrix-valued term ``poly(x, 2)[0]``, ``poly(x, 2)[1]``; R prints
    ``poly(x, 2)1``, ``poly(x, 2)2``.  Numbering from 1 makes ``poly(x, 2)[1]`` R's ``poly(x, 2)1``.
    """
    multi = [f.name() for f, fi in info.factor_infos.items()
             if fi.type == "numerical" and fi.num_columns > 1 and f.name().startswith(("poly(", "bs("))]
    if not multi:
        return info
    pattern = re.compile("(" + "|".join(map(re.escape, multi)) + r")\[(\d+)\]")
    names = [pattern.sub(lambda m: f"{m.group(1)}[{int(m.group(2)) + 1}]", c) for c in info.column_names]
    return patsy.DesignInfo(names, factor_infos=info.factor_infos, term_codings=info.term_codings)


def build_error(err, what):
    """One sentence for a design that patsy could not build (the R-function message when there is one)."""
    cause = err
    while cause is not None:
        if isinstance(cause, RFormulaError):
            return ValueError(str(cause))
        cause = cause.__cause__ or cause.__context__
    msg = err.message
    origin = getattr(getattr(err, "origin", None), "code", "")
    term = origin[getattr(err.origin, "start", 0):getattr(err.origin, "end", len(origin))] if origin else ""
    if msg.startswith("Error evaluating factor"):
        return ValueError(f"{what} could not be built: '{term}' cannot be computed from these columns; arithmetic such as "
                          "x^2 or log(x) needs numeric columns (convert text first, e.g. with pd.to_numeric).")
    if msg.startswith("Number of rows mismatch"):
        return ValueError(f"{what} could not be built: '{term}' is one number, not a column; use it inside I(), "
                          "e.g. I(x / sd(x)).")
    return ValueError(f"{what} could not be built: {msg}")
