"""Terms of a fitted model: which data columns its fixed part uses, and how.

The helpers below read a fit's patsy design once, for the interpretation modules
(:mod:`~lmmedu.stats.explain`, :mod:`~lmmedu.stats.emmeans`): the categorical variables
and their levels, the numeric covariates, the full model matrix for new rows (including
columns dropped as aliased), and :class:`ResultTable`, the DataFrame their results come in.
Column names are found with the formula module's tokenizer (``formula._formula_names``),
the one place that knows which identifiers of a formula are data columns.
"""

from __future__ import annotations

import html
import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .formula import _formula_names
from .results import is_fit

__all__ = ["ResultTable", "result_table", "names_in", "model_vars"]


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
        :func:`lmmedu.teach.comparison.per_group_vs_joint`, the weights in :func:`explain`).
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
        with pd.option_context("display.max_colwidth", None, "display.max_columns", None):
            out = pd.DataFrame._repr_html_(self)
        notes = self._notes()
        if notes:
            out += "<p style='font-size:90%'>" + "<br>".join(html.escape(n) for n in notes) + "</p>"
        return out


def result_table(frame, notes=None, extras=None):
    out = ResultTable(frame)
    out.notes = list(notes or [])
    out.extras = dict(extras or {})
    return out


def _type_name(x):
    return type(x).__name__


# ---------------------------------------------------------------------------
# The model's variables, read from its patsy design.
# ---------------------------------------------------------------------------


def names_in(code, columns):
    """Data columns named in a patsy factor's code (``C(gene, Sum)`` -> ``['gene']``).

    Examples
    --------
    >>> names_in("C(gene, Sum)", {"gene", "treatment"})
    ['gene']
    """
    try:
        names = _formula_names(code)
    except ValueError:  # not Python: a column name patsy quoted as is
        return [code] if code in columns else []
    return [n for n in dict.fromkeys(names) if n in columns]


@dataclass
class _Vars:
    """Variables of a fitted model's fixed part."""

    cat: dict  # data column -> tuple of levels (first = reference under treatment coding)
    factor_var: dict  # categorical patsy factor -> data column
    num_factors: list  # numerical patsy factors, in order
    num_vars: list  # data columns used by numerical factors
    plain: bool  # every numerical factor is a data column itself
    order: list = field(default_factory=list)  # all variables in order of appearance


def model_vars(fit):
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
    """All columns of the fixed design for ``frame``, including columns dropped as aliased."""
    every = np.arange(len(fit.design.design_info.column_names))
    return dataclasses.replace(fit.design, keep=every).matrix_for(frame)


def _label(value):
    return str(value)


def _check_fit(fit):
    if not is_fit(fit):
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


# The names the stats modules use; the public ones serve the teaching layer.
_result, _names_in, _model_vars = result_table, names_in, model_vars
