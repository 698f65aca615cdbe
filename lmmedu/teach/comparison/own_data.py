"""Your own data (notebook 10): a formula from choices, and everything the app reads from its fit.

Part of :mod:`lmmedu.teach.comparison`; see the contract in :mod:`lmmedu.teach`.

:func:`model_formula` writes the lme4 formula for a response, fixed terms and grouping
factors (``Q("Sepal.Length")`` for names that are not plain identifiers), :func:`r_formula`
the same for R. :func:`check_choices` checks the app's choices against the data and writes the
formula without fitting; :func:`analyse_own_data` fits it and computes everything the app shows
(comparison, meanings, :func:`own_data_contrasts`, the checklist of :mod:`.own_data_checklist`,
residuals).
"""

from __future__ import annotations

import keyword
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...data.read import check_numeric_text, file_lines
from ...stats.emmeans import emmeans
from ...stats.explain import explain
from ...stats.terms import model_vars
from ..prose import contrasts
from .compare import compare
from .own_data_checklist import design_checklist
from .pvalues import residual_table

__all__ = ["model_formula", "r_formula", "plain_names", "FEW_DISTINCT", "is_text_column", "default_response",
           "check_choices", "own_data_contrasts", "OwnDataAnalysis", "analyse_own_data"]


def _q(name):
    name = str(name)
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    return f'Q("{name}")' if '"' not in name else f"Q({name!r})"


def model_formula(response, fixed=(), groups=(), log=False, interactions=False, slopes=()):
    """The lme4-style formula for a response, fixed terms, grouping factors and random slopes.

    Parameters
    ----------
    response : str
        Column of the response.
    fixed : sequence of str
        Columns of the fixed terms (none: intercept only).
    groups : sequence of str
        Grouping factors; each gets a random intercept.
    log : bool, default False
        Model ``log(response)``.
    interactions : bool, default False
        ``a*b`` (all interactions) instead of ``a + b``.
    slopes : sequence of str, or dict of str -> sequence of str
        Fixed columns whose effect may differ between the levels of every grouping factor
        (``(1 + x | g)`` instead of ``(1 | g)``), or per grouping factor.

    Returns
    -------
    str

    Examples
    --------
    >>> model_formula("Sepal.Length", ["Species"], ["plot"], log=True)
    'log(Q("Sepal.Length")) ~ Species + (1 | plot)'
    >>> model_formula("length", ["treatment", "gene"], ["replicate"], interactions=True, slopes=["treatment"])
    'length ~ treatment * gene + (1 + treatment | replicate)'
    >>> model_formula("values", ["week"], ["probeset", "sample"], slopes={"probeset": ["week"]})
    'values ~ week + (1 + week | probeset) + (1 | sample)'
    """
    if not isinstance(response, str) or not response:
        raise ValueError("Pick a response: the column of the measured values.")
    fixed, groups = list(fixed), list(groups)
    per_group = ({g: list(v) for g, v in slopes.items()} if isinstance(slopes, dict)
                 else {g: list(slopes) for g in groups})
    if not groups:
        raise ValueError("Pick at least one grouping factor (the replicates, animals, plates... that rows share).")
    for name, role in [(response, "response")] + [(f, "fixed term") for f in fixed]:
        if name in groups:
            raise ValueError(f"'{name}' is chosen both as {role} and as grouping factor; a column can be only one.")
    if response in fixed:
        raise ValueError(f"'{response}' is the response, so it cannot also be a fixed term.")
    odd = [s for v in per_group.values() for s in v if s not in fixed]
    if odd:
        raise ValueError(f"A random slope needs its column among the fixed terms too; add {odd[0]!r} to the fixed "
                         "terms or drop the slope.")
    lhs = f"log({_q(response)})" if log else _q(response)
    rhs = (" * " if interactions else " + ").join(_q(f) for f in fixed) or "1"
    random = " + ".join(f"({' + '.join(['1', *(_q(s) for s in per_group.get(g, ()))])} | {_q(g)})" for g in groups)
    return f"{lhs} ~ {rhs} + {random}"


_R_NAME = re.compile(r"^(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*$")


def r_formula(formula):
    """The same formula for R: ``Q("x y")`` becomes `` `x y` ``, ``Q("Sepal.Length")`` a bare name.

    Examples
    --------
    >>> r_formula('log(Q("Sepal.Length")) ~ Q("body mass") + (1 | plot)')
    'log(Sepal.Length) ~ `body mass` + (1 | plot)'
    """
    def repl(match):
        name = match.group(2)
        return name if _R_NAME.match(name) else f"`{name}`"

    return re.sub(r"""Q\(\s*(["'])(.*?)\1\s*\)""", repl, formula)


def plain_names(text):
    """Text for a learner: every ``Q("cell area")`` of a formula becomes the column's own name.

    patsy needs ``Q(...)`` around a name with a space or a dot; axis labels, titles and tables
    show the name as the learner wrote it in the file.

    Examples
    --------
    >>> plain_names('units of log(Q("cell area"))')
    'units of log(cell area)'
    >>> plain_names('units of log(Q("cell\\narea"))')
    'units of log(cell area)'
    """
    # A name a figure broke over two lines reads as one name again.
    return re.sub(r"""Q\(\s*(["'])(.*?)\1\s*\)""", lambda m: " ".join(m.group(2).split()), str(text),
                  flags=re.S)


#: A numeric fixed term with this few distinct whole numbers is probably a code for groups.
FEW_DISTINCT = 4


def is_text_column(series):
    """Whether a column holds text (or categories): a factor, never a number.

    Examples
    --------
    >>> import pandas as pd
    >>> is_text_column(pd.Series(["a", "b"])), is_text_column(pd.Series([1.5, 2.0]))
    (True, False)
    """
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype) or isinstance(
        series.dtype, pd.CategoricalDtype)


def _whole_numbers(series):
    values = series.dropna().to_numpy(dtype=float)
    return bool(len(values)) and bool(np.all(values == np.round(values)))


def default_response(data):
    """The column a freshly loaded file starts with as the response: the first measured value.

    The rule: the first numeric column holding a number that is not whole (a length, an area,
    an expression value); if every numeric column holds whole numbers only, the first of them
    with more than :data:`FEW_DISTINCT` distinct values that is not a row counter (1, 2, 3...);
    else the first numeric column, else the first column. Whole numbers with few values are
    codes (a dose 0/1/2, a batch 1/2) and row counters are IDs: neither is what was measured.

    Examples
    --------
    >>> import pandas as pd
    >>> default_response(pd.DataFrame({"id": [1, 2, 3, 4, 5, 6], "area": [1.5, 2.0, 2.5, 3.0, 1.0, 2.2],
    ...                                "batch": [1, 1, 1, 2, 2, 2]}))
    'area'
    >>> default_response(pd.DataFrame({"dose": [0, 1, 2, 0, 1, 2], "count": [12, 30, 7, 18, 25, 41]}))
    'count'
    """
    columns = [str(c) for c in data.columns]
    numeric = [c for c in columns if not is_text_column(data[c]) and not pd.api.types.is_bool_dtype(data[c])]
    for c in numeric:
        if not _whole_numbers(data[c]):
            return c
    for c in numeric:
        values = data[c].dropna()
        counter = values.is_monotonic_increasing and values.is_unique and values.nunique() == len(data)
        if values.nunique() > FEW_DISTINCT and not counter:
            return c
    return numeric[0] if numeric else columns[0]


def _missing_note(data, columns):
    """Where the chosen columns have empty cells, counted per column (one sentence), or None."""
    columns = [c for c in dict.fromkeys(columns) if c in data.columns]
    empty = data[columns].isna()
    if not empty.to_numpy().any():
        return None
    lines = file_lines(data)
    parts = []
    for c in columns:
        rows = np.flatnonzero(empty[c].to_numpy())
        if len(rows) == 1:
            parts.append(f"{c} in 1 row (line {lines[rows[0]]})")
        elif len(rows):
            parts.append(f"{c} in {len(rows)} rows (the first on line {lines[rows[0]]})")
    used = int((~empty.any(axis=1)).sum())
    return (f"Empty cells: {'; '.join(parts)}. Rows with an empty cell in a chosen column are left out of the model "
            f"({used:,} of {len(data):,} rows used).")


def check_choices(data, response, log=False, fixed=(), interactions=False, groups=(), slopes=()):
    """Check the app's choices against the data and write the formula; fit nothing.

    The checks follow the first steps of the model-building path
    (:data:`~lmmedu.teach.comparison.PATH_STEPS`): the design (a numeric response, its log,
    the fixed terms), then the units rows share (the grouping factors), then the random part
    (a random slope only where its column varies inside a unit).

    Parameters
    ----------
    data : pandas.DataFrame or None
        From :func:`lmmedu.read_table`.
    response, log, fixed, interactions, groups, slopes
        As in :func:`lmmedu.teach.comparison.model_formula`; a random slope goes to every
        grouping factor within whose levels its column varies.

    Returns
    -------
    formula : str
    notes : list of str
        Things to know that do not stop the fit (rows with empty cells, slopes left out).

    Raises
    ------
    ValueError
        One sentence: what is wrong with the choices and what to pick instead.

    Examples
    --------
    >>> import lmmedu
    >>> from lmmedu.data.datasets import data_dir
    >>> d = lmmedu.read_table(data_dir() / "replicates_within.csv")
    >>> check_choices(d, "length", True, ["treatment"], False, ["replicate"], ["treatment"])[0]
    'log(length) ~ treatment + (1 + treatment | replicate)'
    >>> check_choices(d, "gene", False, ["treatment"], False, ["replicate"])
    Traceback (most recent call last):
    ...
    ValueError: The response 'gene' holds text (e.g. 'A'), not numbers; pick the column of measured values as the response.
    """
    if data is None:
        raise ValueError("Load a CSV file first: type its path and press Load, or use the upload button.")
    fixed, groups, slopes = list(fixed), list(groups), list(slopes)
    if not response:
        raise ValueError("Pick a response: the column of measured values.")
    columns = list(map(str, data.columns))
    for col in [response, *fixed, *groups, *slopes]:
        if col not in columns:
            shown = ", ".join(columns[:10]) + (", ..." if len(columns) > 10 else "")
            raise ValueError(f"The column '{col}' is not in the loaded file (its columns: {shown}); pick one of those.")
    y = data[response]
    if is_text_column(y) or pd.api.types.is_bool_dtype(y):
        check_numeric_text(data, [response])  # a column of numbers with a typo gets its line number
        example = y.dropna().iloc[0] if y.notna().any() else ""
        raise ValueError(f"The response '{response}' holds text (e.g. {example!r}), not numbers; pick the column of "
                         "measured values as the response.")
    check_numeric_text(data, fixed)
    if log:
        values = y.to_numpy(dtype=float)
        bad = np.flatnonzero(values <= 0)
        if len(bad):
            line = int(file_lines(data)[bad[0]])
            many = f"{len(bad)} rows are zero or negative (the first, line {line}, is" if len(bad) > 1 else \
                f"1 row is zero or negative (line {line}:"
            raise ValueError(f"log({response}) needs positive values, but {many} {values[bad[0]]:g}); untick 'log' or "
                             "correct the data.")
    # The design is checked; next the units the rows share, then the random part.
    if not groups:
        raise ValueError("Pick at least one grouping factor: the column naming the replicates (animals, plates, "
                         "arrays...) that rows share.")
    for g in groups:
        levels = data[g].dropna().unique()
        if len(levels) < 2:
            only = f" ({levels[0]!r})" if len(levels) else ""
            raise ValueError(f"The grouping factor '{g}' has only one level{only}, so no groups can be compared; pick "
                             "the column that names the replicates (animals, plates...).")
        if len(levels) == data[g].notna().sum():
            raise ValueError(f"The grouping factor '{g}' has a different value in every row, so no rows share a group; "
                             "pick the column that names the replicates (animals, plates...).")
    # 2. the random part: a slope only where the design lets the effect vary inside a unit.
    notes = []
    per_group = {}
    for s in slopes:
        varies = [g for g in groups if (data.groupby(g, observed=True)[s].nunique() > 1).any()]
        if not varies:
            raise ValueError(f"A random slope for '{s}' needs {s} to vary inside the levels of "
                             f"{' or '.join(groups)}, but each level has one value of it; untick the slope.")
        for g in groups:
            if g in varies:
                per_group.setdefault(g, []).append(s)
            else:
                notes.append(f"No random slope of {s} for {g}: {s} does not vary inside the levels of {g}.")
    formula = model_formula(response, fixed, groups, log, interactions, per_group)
    missing = _missing_note(data, [response, *fixed, *groups, *slopes])
    if missing:
        notes.append(missing)
    for f in fixed:
        values = data[f].dropna()
        if (not is_text_column(values) and not pd.api.types.is_bool_dtype(values)
                and 3 <= values.nunique() <= FEW_DISTINCT and _whole_numbers(values)):
            notes.append(f"'{f}' holds numbers, so it enters as a straight line (one slope); if its values are codes "
                         f"for groups, make it a factor: C({f}) in code, or a text column in the file.")
    return formula, notes


def own_data_contrasts(fit, log=False):
    """Per-group contrasts: each level of the first factor against its first level, within every level of the others.

    Parameters
    ----------
    fit : MixedFit
    log : bool
        The response is on the log scale: report ratios and percent changes.

    Returns
    -------
    ResultTable or None
        :func:`lmmedu.contrasts` with ``"trt.vs.ctrl"``, Holm-adjusted over the whole table;
        None when the fixed part has no factor.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
    >>> own_data_contrasts(m, log=True)[["gene", "contrast"]].values.tolist()[0]
    ['A', 'drug / control']
    """
    factors = list(model_vars(fit).cat)
    if not factors:
        return None
    emm = emmeans(fit, factors[0], by=factors[1:] or None, type="response" if log else None)
    return contrasts(emm, "trt.vs.ctrl", adjust="holm", family="all")


def _r_code(formula, log_ratios):
    r = r_formula(formula)
    lines = ["library(lmerTest); library(emmeans)", "d <- read.csv(\"your_file.csv\")",
             f"m <- lmer({r}, data = d)   # lm(...) without the (...|...) terms for the lm",
             "summary(m); ranef(m, condVar = TRUE)"]
    if log_ratios is not None:
        lines.append(log_ratios)
    return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class OwnDataAnalysis:
    """What :func:`analyse_own_data` computes for one set of choices (notebook 10's app shows it)."""

    #: The lme4-style formula fitted (Python spelling, ``Q("...")`` for odd names).
    formula: str
    #: The R lines that fit the same model and its contrasts.
    r_code: str
    #: :func:`lmmedu.compare` of the formula.
    comparison: Any = field(repr=False)
    #: :func:`lmmedu.explain` of the mixed model.
    meanings: pd.DataFrame = field(repr=False)
    #: :func:`own_data_contrasts` (None without a factor).
    contrasts: Any = field(repr=False)
    #: :func:`design_checklist` of the design.
    checklist: pd.DataFrame = field(repr=False)
    #: :func:`residual_table` of the mixed model, its labels in the learner's column names.
    residuals: pd.DataFrame = field(repr=False)
    #: Notes on the data and the fit (rows left out, singular fit, ...).
    notes: tuple = ()


def analyse_own_data(data, response, log=False, fixed=(), interactions=False, groups=(), slopes=()):
    """Everything notebook 10's app shows for one set of choices: fit the lm and the mixed model and read them.

    Parameters
    ----------
    data : pandas.DataFrame or None
        From :func:`lmmedu.read_table`.
    response, log, fixed, interactions, groups, slopes
        As in :func:`check_choices`.

    Returns
    -------
    OwnDataAnalysis

    Raises
    ------
    ValueError
        From :func:`check_choices` (one sentence), or from the fit.

    Examples
    --------
    >>> import lmmedu
    >>> from lmmedu.data.datasets import data_dir
    >>> d = lmmedu.read_table(data_dir() / "replicates_between.csv")
    >>> a = analyse_own_data(d, "length", True, ["treatment"], False, ["replicate"])
    >>> a.formula, a.comparison.table.loc["treatment[T.drug]", "varies_replicate"]
    ('log(length) ~ treatment + (1 | replicate)', 'between')
    """
    formula, notes = check_choices(data, response, log, fixed, interactions, groups, slopes)
    with warnings.catch_warnings():
        # Rows dropped for empty cells are already one of the notes.
        warnings.filterwarnings("ignore", message=".*missing values.*")
        cmp = compare(formula, data)
    model = cmp.lmm
    meanings = explain(model)
    try:
        table = own_data_contrasts(model, log=log)
    except ValueError as exc:
        table = None
        notes.append(f"No contrasts: {exc}")
    checklist = design_checklist(formula, data, fit=model)
    residuals = residual_table(model)
    # The learner's names before a figure lays out its labels: Q("cell area") broken over two lines would no
    # longer be found afterwards.
    residuals.attrs = {k: plain_names(v) if isinstance(v, str) else v for k, v in residuals.attrs.items()}
    notes = notes + list(cmp.notes)
    emm_line = None
    factors = list(model_vars(model).cat)
    if factors:
        by = f" | {' + '.join(factors[1:])}" if len(factors) > 1 else ""
        kind = ', type = "response"' if log else ""
        emm_line = (f"contrast(emmeans(m, ~ {factors[0]}{by}{kind}), \"trt.vs.ctrl\", adjust = \"holm\", "
                    "by = NULL)")
    return OwnDataAnalysis(formula=formula, r_code=_r_code(formula, emm_line), comparison=cmp, meanings=meanings,
                           contrasts=table, checklist=checklist, residuals=residuals, notes=tuple(notes))
