"""lme4 formula syntax -> a fixed-effects formula plus random-effects terms.

Learners bring formulas written for R (``log(length) ~ treatment*gene +
(1|replicate)``).  This module splits such a formula into

* the response (a column, possibly wrapped in a transform such as ``log``),
* the fixed-effects right-hand side, handed to patsy so that term names are
  exactly those statsmodels prints for the same formula, and
* the random-effects terms ``(expr | group)``, with ``||`` and nesting
  (``g1/g2``) expanded the way lme4 expands them (``||`` splits the terms written, not a factor's
  columns: ``(0 + f || g)`` is one correlated block ``(0 + f | g)``, as in lme4).

It also builds the model frame: it checks that every column exists, drops
incomplete rows with a warning, and applies the response transform with a
clear message when it cannot be applied.

Column names that are not plain identifiers (``body.mass``, ``body mass``, a keyword
such as ``lambda``) are written ``Q("body.mass")`` anywhere in a formula, or in R's
backticks; a column named like a formula function (``C``, ``scale``) is used as a column
when it is not called.  What cannot work gets one sentence with the fix: R's ``y ~ .``,
duplicated column names, labels that print alike (``1`` and ``"1"``, ``"R1"`` and
``"R1 "``), dates used as numbers.

R's own spellings (``I(x^2)``, ``(a + b)^2``, ``relevel``, ``%in%``, ``offset()`` ...) are
translated by :mod:`.rsyntax`; R's functions (``scale``, ``poly``, ``mean`` ...) are computed as
R computes them by :mod:`.rfuncs`.  ``offset(...)`` terms are taken out of the fixed part here
and subtracted from the response in the model frame; a response such as ``log(y + 0.5)`` is
computed here too (``log(y + 1)`` is read as ``log1p(y)``, so emmeans can back-transform it).
"""

from __future__ import annotations

import ast
import difflib
import io
import keyword
import re
import tokenize
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import patsy

from .rfuncs import RFormulaError, namespace
from .rsyntax import _matching, r_to_patsy

__all__ = [
    "ParsedFormula",
    "RandomTerm",
    "parse_formula",
    "ModelFrame",
    "model_frame",
    "TRANSFORMS",
]

# Response transforms a learner may write, lme4-style or numpy-style, with the
# condition their argument must satisfy.
TRANSFORMS = {
    "log": (np.log, "positive", lambda v: v > 0),
    "log2": (np.log2, "positive", lambda v: v > 0),
    "log10": (np.log10, "positive", lambda v: v > 0),
    "log1p": (np.log1p, "greater than -1", lambda v: v > -1),
    "sqrt": (np.sqrt, "zero or positive", lambda v: v >= 0),
    "exp": (np.exp, "finite", np.isfinite),
}

# Names that may appear in a fixed-effects formula without being columns.
_FORMULA_FUNCTIONS = {
    "C", "I", "Q", "Treatment", "Sum", "Diff", "Poly", "Helmert", "Poly",
    "center", "standardize", "scale", "np", "log", "log2", "log10", "log1p",
    "exp", "sqrt", "abs", "levels", "reference", "True", "False", "None",
    "poly", "mean", "sd", "median", "min", "max", "bs", "cr", "cc",
}

# Calls whose value depends on the whole column: R computes them before dropping incomplete rows.
_DATA_DEPENDENT = re.compile(r"\b(scale|poly|mean|sd|median|min|max|center|standardize|bs|cr|cc)\s*\(")


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(expr | group)`` after expansion.

    Attributes
    ----------
    expr : str
        Right-hand side (patsy syntax) of the random-effects model matrix,
        e.g. ``"1"``, ``"1 + Days"`` or ``"0 + Days"``.
    group : str
        The grouping factor as written, e.g. ``"Subject"`` or
        ``"recipe:replicate"``.
    group_vars : tuple of str
        The data columns whose combination defines the groups.
    """

    expr: str
    group: str
    group_vars: tuple

    def __str__(self):
        return f"({self.expr} | {self.group})"


@dataclass(frozen=True)
class ParsedFormula:
    """A split lme4-style formula.

    Attributes
    ----------
    formula : str
        The formula as given.
    response : str
        The left-hand side as written, e.g. ``"log(length)"``.
    response_var : str
        The column the response is computed from, e.g. ``"length"``.
    transform : str or None
        Name of the transform applied to the response (a key of
        ``TRANSFORMS``), or None.
    fixed : str
        Right-hand side of the fixed part in patsy syntax.
    random : tuple of RandomTerm
        The random-effects terms, expanded.
    offsets : tuple of str
        The expressions of R's ``offset(...)`` terms (patsy syntax), added to the linear
        predictor with coefficient 1.
    response_code : str or None
        For a response such as ``log(y + 0.5)`` that is not one of ``TRANSFORMS`` applied to a
        column: the expression (patsy syntax) computed from ``response_var``.
    fixed_r : str
        The fixed part as written (R syntax), offsets included.
    """

    formula: str
    response: str
    response_var: str
    transform: str | None
    fixed: str
    random: tuple = field(default_factory=tuple)
    offsets: tuple = field(default_factory=tuple)
    response_code: str | None = None
    fixed_r: str = ""

    @property
    def fixed_formula_r(self):
        """The fixed part as the learner wrote it, random terms dropped."""
        return f"{self.response} ~ {self.fixed_r or self.fixed}"

    @property
    def fixed_formula(self):
        """The fixed-effects formula as statsmodels would take it."""
        lhs = _q(self.response_var)
        if self.transform is not None:
            lhs = f"np.{self.transform}({_q(self.response_var)})"
        return f"{lhs} ~ {self.fixed}"


def _split_top(text, sep):
    """Split ``text`` at ``sep`` characters that are outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"The formula has an unmatched ')' near '{text[: i + 1]}'; check the parentheses.")
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise ValueError(f"The formula '{text}' has an unmatched '('; check the parentheses.")
    parts.append(text[start:])
    return parts


def _strip_outer(text):
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        inner = text[1:-1]
        try:
            _split_top(inner, "|")
        except ValueError:
            break
        # Only strip when the parentheses enclose the whole text.
        depth = 0
        whole = True
        for i, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(text) - 1:
                whole = False
                break
        if not whole:
            break
        text = inner.strip()
    return text


_GROUP_PART = r"""Q\(\s*(?:"[^"]*"|'[^']*')\s*\)|[A-Za-z_.][\w.]*"""


def _group_vars(group):
    """Columns of a grouping factor, nesting expanded.

    ``g1/g2`` -> [(g1,), (g1, g2)]; ``g1:g2`` -> [(g1, g2)]; ``Q("my plate")`` -> [("my plate",)].
    """
    segments, current, pos = [], [], 0
    text = group.strip()
    while True:
        m = re.compile(rf"\s*({_GROUP_PART})\s*([:/]|$)").match(text, pos)
        if m is None or m.end() == pos:
            return None
        part = m.group(1)
        current.append(ast.literal_eval(part[part.index("(") + 1:part.rindex(")")].strip())
                       if part.startswith("Q(") else part)
        if m.group(2) != ":":
            segments.append(current)
            current = []
        pos = m.end()
        if m.group(2) == "":
            break
        if pos >= len(text):
            return None  # a trailing ':' or '/'
    out = []
    for i in range(len(segments)):
        out.append(tuple(v for seg in segments[: i + 1] for v in seg))
    return out


def _expr_terms(expr):
    """Split a random-effects expression into its '+' terms and intercept flag."""
    pieces = [p.strip() for p in _split_top(expr, "+")]
    has_intercept = True
    terms = []
    for piece in pieces:
        if piece in ("", "1"):
            continue
        if piece in ("0", "-1") or piece.endswith("- 1") or piece.endswith("-1"):
            has_intercept = False
            rest = re.sub(r"-\s*1$", "", piece).strip()
            if rest and rest != "0":
                terms.append(rest)
            continue
        terms.append(piece)
    return has_intercept, terms


def _parse_random(inner, formula):
    if "||" in inner:
        lhs, _, group = inner.partition("||")
        uncorrelated = True
    else:
        pieces = _split_top(inner, "|")
        if len(pieces) != 2:
            raise ValueError(
                f"The random-effects term '({inner})' in '{formula}' must have exactly one '|', "
                "like (1 | replicate) or (1 + treatment | replicate)."
            )
        lhs, group = pieces
        uncorrelated = False
    lhs, group = lhs.strip(), group.strip()
    if not lhs or not group:
        raise ValueError(
            f"The random-effects term '({inner})' needs an expression before '|' and a grouping "
            "factor after it, like (1 | replicate)."
        )
    expanded = _group_vars(group)
    if not expanded:
        raise ValueError(
            f"The grouping factor '{group}' in '({inner})' must be a column name (Q(\"name\") for any other "
            "name), or columns joined by ':' (interaction) or '/' (nesting)."
        )
    if re.search(r"\boffset\s*\(", lhs):
        raise ValueError(f"offset() belongs to the fixed part, not inside the random-effects term '({inner})'.")
    lhs = r_to_patsy(lhs, formula)
    out = []
    for gvars in expanded:
        gname = ":".join(gvars)
        if uncorrelated:
            has_intercept, terms = _expr_terms(lhs)
            if has_intercept:
                out.append(RandomTerm("1", gname, gvars))
            out.extend(RandomTerm(f"0 + {t}", gname, gvars) for t in terms)
        else:
            out.append(RandomTerm(lhs, gname, gvars))
    return out


def parse_formula(formula):
    """Split an lme4-style formula into response, fixed part and random terms.

    Parameters
    ----------
    formula : str
        For example ``"log(length) ~ treatment*gene + (1|replicate)"``.

    Returns
    -------
    ParsedFormula

    Examples
    --------
    >>> p = parse_formula("log(length) ~ treatment*gene + (1 + treatment | replicate)")
    >>> p.response_var, p.transform, p.fixed
    ('length', 'log', 'treatment*gene')
    >>> [str(t) for t in p.random]
    ['(1 + treatment | replicate)']
    >>> [str(t) for t in parse_formula("y ~ x + (x || g)").random]
    ['(1 | g)', '(0 + x | g)']
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise ValueError(
            f"The formula {formula!r} must be a string with a '~', like 'log(length) ~ treatment + (1|replicate)'."
        )
    # R quotes awkward names in backticks: `body mass` -> Q("body mass").
    lhs, _, rhs = re.sub(r"`([^`\"]*)`", r'Q("\1")', formula).partition("~")
    lhs, rhs = lhs.strip(), rhs.strip()
    if not lhs:
        raise ValueError(f"The formula '{formula}' has no response before '~'.")
    if "~" in rhs:
        raise ValueError(f"The formula '{formula}' has more than one '~'.")
    response_var, transform, response_code = _parse_response(lhs, formula)

    fixed_parts, random_terms, offsets = [], [], []
    for piece in _split_top(rhs, "+"):
        piece_s = piece.strip()
        if not piece_s:
            raise ValueError(f"The formula '{formula}' has an empty term (two '+' in a row, or a trailing '+').")
        stripped = _strip_outer(piece_s) if piece_s.startswith("(") else None
        if stripped is not None and "|" in stripped:
            random_terms.extend(_parse_random(stripped, formula))
        elif "|" in piece_s:
            raise ValueError(
                f"The random-effects term '{piece_s}' must be in parentheses, like (1 | replicate)."
            )
        elif re.fullmatch(r"offset\s*\(.*\)", piece_s, flags=re.S) and _matching(piece_s, piece_s.index("(")) == \
                len(piece_s) - 1:
            inner = piece_s[piece_s.index("(") + 1:-1].strip()
            if not inner:
                raise ValueError(f"offset() in '{formula}' needs a column or expression, e.g. offset(log(hours)).")
            offsets.append(r_to_patsy(inner, formula))
        else:
            fixed_parts.append(piece_s)
    fixed_r = " + ".join(p.strip() for p in _split_top(rhs, "+") if not (
        p.strip().startswith("(") and "|" in p))
    fixed_r = fixed_r or "1"
    fixed = " + ".join(fixed_parts) if fixed_parts else "1"
    fixed = r_to_patsy(fixed, formula)
    return ParsedFormula(formula, lhs, response_var, transform, fixed, tuple(random_terms), tuple(offsets),
                         response_code, fixed_r)


def _parse_response(lhs, formula):
    """(column, transform, code): a column, ``TRANSFORMS`` of a column, or an expression of one column."""
    name = r"[A-Za-z_][\w.]*"
    m = re.fullmatch(rf"({name})", lhs)
    if m:
        return m.group(1), None, None
    quoted = r"""Q\(\s*(?:"[^"]*"|'[^']*')\s*\)"""
    m = re.fullmatch(quoted, lhs)
    if m:
        return ast.literal_eval(lhs[2:-1].strip()), None, None
    m = re.fullmatch(rf"(?:np\.|numpy\.)?({name})\s*\(\s*({name}|{quoted})\s*\)", lhs)
    if m and m.group(1) in TRANSFORMS:
        inner = m.group(2)
        return (ast.literal_eval(inner[2:-1].strip()) if inner.startswith("Q(") else inner), m.group(1), None
    # log(y + 1) is log1p(y): emmeans can then back-transform it (as R's emmeans does).
    m = re.fullmatch(rf"(?:np\.)?log\s*\(\s*(?:({name}|{quoted})\s*\+\s*1|1\s*\+\s*({name}|{quoted}))\s*\)", lhs)
    if m:
        inner = m.group(1) or m.group(2)
        return (ast.literal_eval(inner[2:-1].strip()) if inner.startswith("Q(") else inner), "log1p", None
    known = ", ".join(f"{k}(column)" for k in TRANSFORMS)
    try:
        code = r_to_patsy(lhs, formula)
        names = list(dict.fromkeys(_formula_names(code)))
    except (ValueError, SyntaxError):
        names, code = [], None
    if len(names) == 1 and code is not None:
        return names[0], None, code
    raise ValueError(
        f"The response '{lhs}' in '{formula}' is not understood: write a column name, one of {known}, or an "
        "expression of one column such as log(y + 0.5)."
    )


def _quoted_name(tokens, i):
    """The column named by ``Q("...")`` starting at token ``i``, or None."""
    if (tokens[i].string == "Q" and i + 3 < len(tokens) and tokens[i + 1].string == "("
            and tokens[i + 2].type == tokenize.STRING and tokens[i + 3].string == ")"):
        try:
            value = ast.literal_eval(tokens[i + 2].string)
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, str) else None
    return None


def formula_names(text, columns=()):
    """Identifiers used in a formula that should be data columns.

    ``Q("body.mass")`` contributes ``body.mass``; a bare function name such as ``C`` or
    ``scale`` counts as a column when ``columns`` has one of that name and it is not called.
    """
    names = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError) as err:
        raise ValueError(f"The formula part '{text}' could not be read ({err}).") from None
    prev = None
    depth = 0
    for i, tok in enumerate(tokens):
        quoted = _quoted_name(tokens, i)
        if quoted is not None:
            names.append(quoted)
        elif tok.string == "Q" and i + 2 < len(tokens) and tokens[i + 1].string == "(" and \
                tokens[i + 2].type == tokenize.NAME:
            raise ValueError(f'Q() takes the column name in quotes: write Q("{tokens[i + 2].string}") in \'{text}\'.')
        depth += tok.string == "("
        depth -= tok.string == ")"
        if tok.type == tokenize.STRING and depth == 0:
            raise ValueError(
                f"{tok.string} in '{text}' is a text constant, not a column; write the column name bare, or "
                f'Q("name") for a name with dots, spaces or other symbols.'
            )
        if tok.type == tokenize.NAME and keyword.iskeyword(tok.string) and tok.string not in ("True", "False", "None"):
            hint = (f'; write Q("{tok.string}") to use the column of that name' if tok.string in columns
                    else "; rename the column, or write Q(\"name\") for a column whose name is a keyword")
            raise ValueError(f"'{tok.string}' in '{text}' is a Python keyword, which a formula cannot use bare{hint}.")
        if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
            nxt = tokens[i + 1].string if i + 1 < len(tokens) else ""
            is_call = nxt == "("
            is_attr = prev is not None and prev.string == "."
            is_kwarg = nxt == "=" and not (i + 2 < len(tokens) and tokens[i + 2].string == "=")
            builtin = tok.string in _FORMULA_FUNCTIONS and tok.string not in columns
            if not (is_call or is_attr or is_kwarg or builtin):
                names.append(tok.string)
        if tok.type == tokenize.OP and tok.string == "." and (prev is None or prev.type != tokenize.NAME):
            raise ValueError(
                f"The formula part '{text}' uses '.', R's shorthand for all other columns, which lmmedu does not "
                "expand; list the predictors by name, e.g. 'y ~ x1 + x2'."
            )
        prev = tok
    # String literals (e.g. Treatment("B")) are tokens of type STRING and never reach `names`.
    return names


def _dotted_names(text):
    """Dotted identifiers outside string literals, e.g. ``body.mass`` (R style) in ``y ~ body.mass``."""
    out = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError):
        return out
    i = 0
    while i < len(tokens):
        if tokens[i].type == tokenize.NAME:
            j, parts = i, [tokens[i].string]
            while (j + 2 < len(tokens) and tokens[j + 1].string == "." and tokens[j + 2].type == tokenize.NAME
                   and tokens[j + 1].start == tokens[j].end and tokens[j + 2].start == tokens[j + 1].end):
                parts.append(tokens[j + 2].string)
                j += 2
            if len(parts) > 1:
                out.append(".".join(parts))
            i = j + 1
        else:
            i += 1
    return out


def _q(name):
    """How to write a column in a formula: bare if it is a plain identifier, else Q("...")."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    return f'Q("{name}")' if '"' not in name else f"Q({name!r})"


def _check_column(name, data, role):
    if name in data.columns:
        return
    close = difflib.get_close_matches(name, [str(c) for c in data.columns], n=1)
    if not close:
        close = [str(c) for c in data.columns if str(c).startswith(name + ".")][:1]
    hint = f" Did you mean {_q(close[0])}?" if close else ""
    if close and _q(close[0]) == close[0]:
        hint = f" Did you mean '{close[0]}'?"
    cols = ", ".join(map(str, data.columns[:12])) + (", ..." if len(data.columns) > 12 else "")
    raise ValueError(
        f"The {role} column '{name}' is not in the data (columns: {cols}).{hint}"
    )


def _check_mixed_labels(values, col):
    """Refuse a text column holding e.g. both 1 and "1", or "R1" and "R1 ": distinct groups that look alike."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        uniq = list(values.cat.categories)
    elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        uniq = list(pd.unique(values.dropna()))
    else:
        return
    stripped = {}
    for u in uniq:
        if isinstance(u, str):
            other = stripped.setdefault(u.strip(), u)
            if other != u:
                raise ValueError(
                    f"The column '{col}' has labels that differ only in spaces ({other!r} and {u!r}), which would "
                    f"make separate groups; strip them first, e.g. data['{col}'] = data['{col}'].str.strip()."
                )
    if values.dtype != object:
        return
    labels = [str(u) for u in uniq]
    if len(set(labels)) < len(labels):
        seen = {}
        for u, lab in zip(uniq, labels):
            if lab in seen:
                a, b = seen[lab], u
                break
            seen[lab] = u
        raise ValueError(
            f"The column '{col}' mixes values that print alike but differ in type ({a!r} and {b!r}), which would "
            f"make separate groups with the same label; convert it first, e.g. data['{col}'] = "
            f"data['{col}'].astype(str)."
        )


def _missing(values):
    """Boolean mask of the missing entries of a column, or None when none is missing."""
    dt = values.dtype
    if isinstance(dt, pd.CategoricalDtype):
        codes = np.asarray(values.array.codes)
        return codes < 0 if len(codes) and codes.min() < 0 else None
    if isinstance(dt, np.dtype) and dt.kind in "iub":
        return None
    mask = values.isna().to_numpy() if not (isinstance(dt, np.dtype) and dt.kind == "f") else np.isnan(
        values.to_numpy())
    return mask if mask.any() else None


@dataclass
class ModelFrame:
    """The rows and columns a model uses, with the response already transformed.

    Attributes
    ----------
    data : pandas.DataFrame
        The complete rows used by the model (original columns).
    y : numpy.ndarray
        The (transformed) response.
    n_dropped : int
        How many rows were dropped because of missing values.
    offset : numpy.ndarray or None
        The sum of the formula's ``offset(...)`` terms; ``y`` is the response minus it, so
        coefficients, standard errors and likelihood are those of R's fit with the offset.
    transform_rows : pandas.DataFrame or None
        Every row of the used columns, before incomplete ones were dropped, when the formula
        has a data-dependent transform (``scale``, ``poly``, ``mean`` ...): R computes those on
        all rows (:func:`lmmedu.stats.design.fixed_design`).
    """

    parsed: ParsedFormula
    data: pd.DataFrame
    y: np.ndarray
    n_dropped: int
    offset: np.ndarray | None = None
    transform_rows: pd.DataFrame | None = None


def model_frame(parsed, data):
    """Check columns, drop incomplete rows and compute the response.

    Parameters
    ----------
    parsed : ParsedFormula
    data : pandas.DataFrame

    Returns
    -------
    ModelFrame

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"length": [1.0, 2.0, None], "g": ["a", "b", "b"]})
    >>> mf = model_frame(parse_formula("log(length) ~ 1 + (1|g)"), d)  # doctest: +SKIP
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"The data must be a pandas DataFrame, not {type(data).__name__}.")
    if len(data) == 0:
        raise ValueError("The data has no rows.")
    _check_column(parsed.response_var, data, "response")
    columns = set(map(str, data.columns))
    if re.search(r"(^|[\s+~*:(])\.($|[\s+*:)])", parsed.fixed):
        others = [_q(str(c)) for c in data.columns if str(c) != parsed.response_var][:6]
        raise ValueError(
            f"'{parsed.response} ~ .' (R's shorthand for all other columns) is not expanded by lmmedu; list the "
            f"predictors by name, e.g. '{parsed.response} ~ {' + '.join(others) or 'x'}'."
        )
    for text in [parsed.fixed] + [t.expr for t in parsed.random]:
        for dotted in _dotted_names(text):
            if dotted in columns:
                raise ValueError(
                    f"A formula reads '{dotted}' as the attribute '{dotted.split('.')[-1]}' of "
                    f"'{dotted.rsplit('.', 1)[0]}', not as the column '{dotted}'; write {_q(dotted)} instead."
                )
    used = [parsed.response_var]
    for name in _formula_names(parsed.fixed, columns):
        _check_column(name, data, "fixed-effect")
        used.append(name)
    for off in parsed.offsets:
        for name in _formula_names(off, columns):
            _check_column(name, data, "offset")
            used.append(name)
    for term in parsed.random:
        for name in _formula_names(term.expr, columns):
            _check_column(name, data, "random-effect")
            used.append(name)
        for g in term.group_vars:
            _check_column(g, data, "grouping")
            used.append(g)
    used = list(dict.fromkeys(used))
    dup = [] if data.columns.is_unique else [c for c in used if (data.columns == c).sum() > 1]
    if dup:
        raise ValueError(
            f"The data has {int((data.columns == dup[0]).sum())} columns named '{dup[0]}', so the formula is "
            "ambiguous; give the columns distinct names first (e.g. with data.columns = [...])."
        )
    shadowed = [c for c in used if c in _FORMULA_FUNCTIONS and re.search(rf"\b{re.escape(c)}\s*\(",
                                                                          parsed.fixed + " " + " ".join(
                                                                              t.expr for t in parsed.random))]
    if shadowed:
        raise ValueError(
            f"The column '{shadowed[0]}' has the name of the formula function {shadowed[0]}(), which the formula "
            f"also calls; rename the column, e.g. data.rename(columns={{'{shadowed[0]}': '{shadowed[0]}_'}})."
        )

    # pandas deep-copies attrs (here: the simulation truth) in every frame and column it hands
    # out, several times per reindex; a new frame on the same data starts without them.
    view = pd.DataFrame(data)
    view.attrs = {}
    # reindex builds the sub-frame in one step where the columns are unique (checked above for the used ones).
    sub = view.reindex(columns=used) if view.columns.is_unique else view[used]
    # Each column is fetched once; pandas' per-call overhead dominated this function on small data.
    cols = {c: sub[c] for c in used}
    for col in used[1:]:
        dt = cols[col].dtype
        _check_mixed_labels(cols[col], col)
        if pd.api.types.is_datetime64_any_dtype(dt) or pd.api.types.is_timedelta64_dtype(dt):
            raise ValueError(
                f"The column '{col}' holds dates or times, which a formula cannot use directly; make a number "
                f"first, e.g. data['{col}_days'] = (data['{col}'] - data['{col}'].min()).dt.days."
            )
    texts = " ".join([parsed.fixed] + [t.expr for t in parsed.random])
    transform_rows = None
    missing = [m for m in map(_missing, cols.values()) if m is not None]
    complete = ~np.logical_or.reduce(missing) if missing else None
    n_dropped = 0 if complete is None else int((~complete).sum())
    if n_dropped:
        if n_dropped == len(data):
            raise ValueError(
                f"Every row has a missing value in one of the columns {used}; nothing is left to fit."
            )
        warnings.warn(
            f"{n_dropped} of {len(data)} rows have missing values in {used} and were dropped.",
            UserWarning,
            stacklevel=3,
        )
        if _DATA_DEPENDENT.search(texts):
            transform_rows = _transform_rows(sub, complete, texts, columns)
        sub = sub.loc[complete]
    if not (isinstance(sub.index, pd.RangeIndex) and sub.index.start == 0 and sub.index.step == 1
            and sub.index.name is None):
        sub = sub.reset_index(drop=True)
    # Drop categories that no longer occur so that no empty level enters the design.
    for col, dt in sub.dtypes.items():
        if isinstance(dt, pd.CategoricalDtype):
            codes = np.asarray((sub[col] if n_dropped else cols[col]).array.codes)
            # After the drop no code is -1 (missing).
            if not np.bincount(codes, minlength=len(dt.categories)).all():
                sub[col] = sub[col].cat.remove_unused_categories()

    raw = sub[parsed.response_var]
    if pd.api.types.is_complex_dtype(raw):
        raise ValueError(f"The response column '{parsed.response_var}' holds complex numbers; use a real-valued "
                         "column (e.g. its absolute value or real part).")
    if not pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        raise ValueError(
            f"The response column '{parsed.response_var}' must be numeric, but it has dtype {raw.dtype}."
        )
    values = raw.to_numpy(dtype=float)
    if parsed.response_code is not None:
        values = _evaluate(parsed.response_code, sub, f"The response '{parsed.response}'")
    if parsed.transform is not None:
        func, wanted, ok = TRANSFORMS[parsed.transform]
        bad = ~ok(values)
        if bad.any():
            raise ValueError(
                f"{parsed.transform}({parsed.response_var}) needs {wanted} values, but {int(bad.sum())} of "
                f"{len(values)} rows are not (e.g. {values[bad][0]:g}); remove or correct those rows first."
            )
        values = func(values)
    if not np.all(np.isfinite(values)):
        bad = ~np.isfinite(values)
        raise ValueError(f"The response '{parsed.response}' is infinite or undefined in {int(bad.sum())} of "
                         f"{len(values)} rows (e.g. {parsed.response_var} = {raw.to_numpy()[bad][0]!r}); remove or "
                         "correct those rows first.")
    offset = None
    if parsed.offsets:
        offset = np.zeros(len(values))
        for code in parsed.offsets:
            for name in _formula_names(code, set(map(str, sub.columns))):
                dt = sub[name].dtype
                # patsy would read I(text) as a factor: one level gives a column of ones, a silent offset of 1.
                if not (pd.api.types.is_numeric_dtype(dt) and not isinstance(dt, pd.CategoricalDtype)):
                    raise ValueError(f"The offset 'offset({code})' could not be computed: the column '{name}' is "
                                     "not numeric, and an offset needs numbers (convert text first, e.g. with "
                                     "pd.to_numeric).")
            offset = offset + _evaluate(code, sub, f"The offset 'offset({code})'")
        if not np.all(np.isfinite(offset)):
            raise ValueError(f"The offset in '{parsed.formula}' is infinite or undefined in "
                             f"{int((~np.isfinite(offset)).sum())} rows; remove or correct those rows first.")
        values = values - offset
    return ModelFrame(parsed, sub, values, n_dropped, offset, transform_rows)


def _transform_rows(sub, complete, texts, columns):
    """All rows for the columns that data-dependent calls read; the complete rows only for the others.

    R computes ``scale(x)`` on every row of x, while factor levels come from the rows kept
    (``drop.unused.levels``): blanking the other (decimal) columns in the dropped rows keeps a
    level of ``factor(z)`` seen only there out of the design.
    """
    args = set()
    for m in _DATA_DEPENDENT.finditer(texts):
        start = m.end() - 1
        args.update(_formula_names(texts[start:_matching(texts, start) + 1], columns))
    rows = sub.reset_index(drop=True)
    keep = np.asarray(complete)
    for c in rows.columns:
        # Text columns get their categories from the kept rows anyway (design._align_categories);
        # an integer column would turn float (and its levels 1 into 1.0) if blanked, so it stays.
        if c not in args and isinstance(rows[c].dtype, np.dtype) and rows[c].dtype.kind == "f":
            rows[c] = rows[c].where(keep)
    return rows


def _evaluate(code, frame, what):
    """Numeric value of a formula expression (R functions) on the rows of ``frame``."""
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            mat = patsy.dmatrix(f"0 + I({code})", frame, eval_env=eval_env(), NA_action=patsy.NAAction(NA_types=[]))
    except (patsy.PatsyError, RFormulaError) as err:
        cause = err
        while cause is not None and not isinstance(cause, RFormulaError):
            cause = cause.__cause__ or cause.__context__
        msg = str(cause) if cause is not None else err.message if isinstance(err, patsy.PatsyError) else str(err)
        raise ValueError(f"{what} could not be computed: {msg}") from None
    mat = np.asarray(mat, dtype=float)
    if mat.shape[1] != 1:
        raise ValueError(f"{what} must give one number per row.")
    return mat[:, 0]


def eval_env():
    """The namespace formulas are evaluated in: R's functions as R computes them (:mod:`.rfuncs`)."""
    return patsy.EvalEnvironment([namespace()])


# The name the stats modules use; formula_names is public for the command line.
_formula_names = formula_names
