"""Cells: the tables a coefficient table is read against.

A model with categorical predictors describes the mean of every *cell* (one gene under one
treatment); a coefficient table is only one way of writing those cell means down, and the
*coding* chooses the way. The functions here compute the plain numbers notebooks 01-04 show
and test (the figures in :mod:`lmmedu.teach.plots` draw them, never compute them):

- :func:`cell_table` and :func:`model_matrix_table`: cell means and model-matrix rows;
- :func:`replicate_means`: the mean of every replicate in every cell;
- :func:`length_skewness`: why the models use ``log(length)``;
- :func:`replicate_weighting`: why lm and a mixed model estimate a cell mean slightly
  differently when replicates are unbalanced (row counts vs precision weights);
- :func:`interaction_readings`: the right reading of an interaction coefficient (a
  difference of differences) against a common wrong one (the gap between two cells).

Marginal means and contrasts (emmeans-style) live in :mod:`lmmedu.stats.emmeans`; here only
the cell means of saturated models are used, which need no averaging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..stats.explain import explain, set_reference
from ..stats.fit import fit, fit_lm

__all__ = [
    "levels",
    "cell_table",
    "model_matrix_table",
    "CODINGS",
    "CodingView",
    "coding_formula",
    "coding_view",
    "replicate_means",
    "length_skewness",
    "ReplicateWeighting",
    "replicate_weighting",
    "interaction_readings",
]


# --------------------------------------------------------------------------------------
# Argument checks and level order (the one _levels of the teaching layer)
# --------------------------------------------------------------------------------------

def check_columns(data: pd.DataFrame, columns: Sequence[str], argument: str) -> None:
    """Raise one ValueError naming the missing columns (and the ones there are)."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{argument} needs a pandas DataFrame, got {type(data).__name__}.")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(
            f"{argument} needs the column(s) {missing}, which the data do not have; available columns are "
            f"{list(data.columns)}."
        )


def levels(series: pd.Series) -> list:
    """Levels of a column in display order: the categories present, else sorted values.

    Examples
    --------
    >>> levels(pd.Series(["b", "a", "b"]))
    ['a', 'b']
    >>> levels(pd.Series(pd.Categorical(["x"], categories=["z", "x"])))
    ['x']
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [c for c in series.cat.categories if c in present]
    values = list(pd.unique(series.dropna()))
    try:
        return sorted(values)
    except TypeError:  # mixed types: keep the order of first appearance
        return values


def check_level(name: str, value: Any, allowed: Sequence) -> Any:
    """``value`` if it is one of ``allowed``, else one ValueError listing them."""
    if value not in list(allowed):
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}.")
    return value


# --------------------------------------------------------------------------------------
# Cells, model matrix rows, replicate means
# --------------------------------------------------------------------------------------

def cell_table(model, factors: Sequence[str] = ("gene", "treatment")) -> pd.DataFrame:
    """Observed and fitted mean of every cell (combination of factor levels).

    Parameters
    ----------
    model : LmFit or MixedFit
        A fit from :func:`lmmedu.fit` or :func:`lmmedu.fit_lm` whose fixed part uses only the
        columns in ``factors``.
    factors : sequence of str, default ("gene", "treatment")
        Categorical columns that define the cells.

    Returns
    -------
    pandas.DataFrame
        One row per cell present in the data, in level order: the factor columns, ``n``
        (measurements), ``observed_mean`` (mean of the transformed response, e.g. of
        log(length)) and ``fitted_mean`` (the model's population-level mean of the cell,
        ``x_cell @ beta``, without random effects).

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(obs_per_replicate=20)
    >>> lm = lmmedu.fit_lm("log(length) ~ treatment*gene", df)
    >>> tab = cell_table(lm)
    >>> len(tab), bool(np.allclose(tab["observed_mean"], tab["fitted_mean"]))
    (6, True)
    """
    factors = list(factors)
    check_columns(model.data, factors, "factors")
    data = model.data
    y = pd.Series(np.asarray(model.y, dtype=float), index=data.index, name="y")
    grouped = y.groupby([data[f] for f in factors], observed=True, sort=True)
    tab = grouped.agg(["size", "mean"]).reset_index()
    tab.columns = [*factors, "n", "observed_mean"]
    tab["n"] = tab["n"].astype(int)
    tab["fitted_mean"] = model.design.matrix_for(tab[factors]) @ np.asarray(model.beta)
    return tab


def model_matrix_table(model, factors: Sequence[str] = ("gene", "treatment")) -> pd.DataFrame:
    """The model matrix row shared by all measurements of each cell.

    Every measurement of gene B under drug gets the same row of 0/1 columns (treatment
    coding) or -1/0/1 columns (sum coding); this table shows one row per cell.

    Parameters
    ----------
    model : LmFit or MixedFit
    factors : sequence of str, default ("gene", "treatment")

    Returns
    -------
    pandas.DataFrame
        The factor columns, then one column per coefficient (its model matrix entry).

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(obs_per_replicate=20)
    >>> lm = lmmedu.fit_lm("log(length) ~ treatment*gene", df)
    >>> row = model_matrix_table(lm).iloc[3]  # gene B, drug
    >>> row["gene"], row["treatment"], int(row["treatment[T.drug]:gene[T.B]"])
    ('B', 'drug', 1)
    """
    cells = cell_table(model, factors)[list(factors)]
    X = model.design.matrix_for(cells)
    mat = pd.DataFrame(X, columns=model.names)
    if np.all(X == np.round(X)):
        mat = mat.astype(int)
    return pd.concat([cells.reset_index(drop=True), mat], axis=1)


def replicate_means(data: pd.DataFrame, response: str = "length",
                    cells: Sequence[str] = ("gene", "treatment"), group: str = "replicate") -> pd.DataFrame:
    """Mean of ``log(response)`` for every replicate in every cell: what a replicate-level analysis sees.

    Parameters
    ----------
    data : pandas.DataFrame
        Measurements with ``response``, ``group`` and the ``cells`` columns (a missing
        ``gene`` column is allowed: one gene).
    response : str, default "length"
        Positive column; its natural log is averaged.
    cells : sequence of str, default ("gene", "treatment")
    group : str, default "replicate"

    Returns
    -------
    pandas.DataFrame
        The cell columns present, ``group``, ``mean_log`` and ``n`` (measurements), sorted.

    Examples
    --------
    >>> import lmmedu
    >>> means = replicate_means(lmmedu.simulate_replicates(obs_per_replicate=20, seed=1))
    >>> list(means.columns), len(means)
    (['gene', 'treatment', 'replicate', 'mean_log', 'n'], 24)
    """
    cells = [c for c in cells if c in data.columns or c != "gene"]
    check_columns(data, [*cells, group, response], "replicate_means")
    values = data[response].to_numpy(dtype=float)
    if np.any(~(values > 0)):
        raise ValueError(f"{response} must be positive to take its log; found {int(np.sum(~(values > 0)))} "
                         "values that are not.")
    logs = pd.Series(np.log(values), index=data.index)
    out = logs.groupby([data[c] for c in [*cells, group]], observed=True).agg(["mean", "size"]).reset_index()
    out.columns = [*cells, group, "mean_log", "n"]
    out["n"] = out["n"].astype(int)
    return out


def length_skewness(data: pd.DataFrame, gene: str | None = None) -> dict[str, float]:
    """Sample skewness of ``length`` and of ``log(length)`` (for one gene): why the models take logs.

    Examples
    --------
    >>> import lmmedu
    >>> skew = length_skewness(lmmedu.simulate_replicates(obs_per_replicate=50, seed=1), gene="A")
    >>> skew["length"] > 1 > abs(skew["log_length"])
    True
    """
    check_columns(data, ["length"], "length_skewness")
    if gene is not None:
        check_columns(data, ["gene"], "length_skewness with a gene")
        check_level("gene", gene, levels(data["gene"]))
        data = data[data["gene"] == gene]
    length = data["length"].to_numpy(dtype=float)
    return {"length": float(stats.skew(length)), "log_length": float(stats.skew(np.log(length)))}


# --------------------------------------------------------------------------------------
# One data set under every coding (notebook 03)
# --------------------------------------------------------------------------------------

#: Codings :func:`coding_view` offers: treatment (dummy, R's default) and sum coding.
CODINGS = ("treatment", "sum")


@dataclass(frozen=True, eq=False)
class CodingView:
    """One coding of one data set, as returned by :func:`coding_view`.

    Attributes
    ----------
    coding : str
        ``"treatment"`` or ``"sum"``.
    reference_gene, reference_treatment : str or None
        Reference levels (None under sum coding, which has no reference level).
    formula : str
        The formula that was fitted.
    coefficients : pandas.DataFrame
        ``term``, ``estimate``, ``se``, ``df``, ``p``.
    cell_means : pandas.DataFrame
        Gene, treatment, ``n``, ``observed_mean``, ``fitted_mean``, in the original level
        order whatever the reference, so two views can be compared row by row.
    model_matrix : pandas.DataFrame
        One model matrix row per cell (see :func:`model_matrix_table`).
    meanings : pandas.DataFrame
        ``term``, ``meaning``, ``cell_mean_formula``, ``check_ok`` from :func:`lmmedu.explain`.
    fitted : numpy.ndarray
        Fitted value of every measurement, in the row order of the data (including the
        replicate effects for a mixed model).
    note : str
        What the intercept means under this coding, in one sentence.
    model : LmFit or MixedFit
        The fit itself.
    """

    coding: str
    reference_gene: str | None
    reference_treatment: str | None
    formula: str
    coefficients: pd.DataFrame
    cell_means: pd.DataFrame
    model_matrix: pd.DataFrame
    meanings: pd.DataFrame
    fitted: np.ndarray = field(repr=False)
    note: str
    model: Any = field(repr=False)


def coding_formula(coding: str = "treatment", response: str = "log(length)", random: str | None = "(1|replicate)",
                   gene: str = "gene", treatment: str = "treatment") -> str:
    """The formula of a two-factor model under ``coding``.

    Examples
    --------
    >>> coding_formula("sum", random=None)
    'log(length) ~ C(treatment, Sum)*C(gene, Sum)'
    """
    check_level("coding", coding, CODINGS)
    rhs = f"{treatment}*{gene}" if coding == "treatment" else f"C({treatment}, Sum)*C({gene}, Sum)"
    return f"{response} ~ {rhs}" + (f" + {random}" if random else "")


def coding_view(data: pd.DataFrame, reference_gene: str | None = None, reference_treatment: str | None = None,
                coding: str = "treatment", response: str = "log(length)", random: str | None = "(1|replicate)",
                gene: str = "gene", treatment: str = "treatment") -> CodingView:
    """Fit one data set under one coding and return its tables.

    Choosing another reference gene or treatment, or sum coding, rewrites the coefficient
    table, but the model is the same: every cell mean and every fitted value stays put.

    Parameters
    ----------
    data : pandas.DataFrame
        Measurements with the response, ``gene`` and ``treatment`` columns (and the grouping
        column of ``random``).
    reference_gene, reference_treatment : str, optional
        Reference levels for treatment coding; default the first level. Ignored (and
        reported as None) under sum coding.
    coding : {"treatment", "sum"}, default "treatment"
    response : str, default "log(length)"
    random : str or None, default "(1|replicate)"
        Random-effects term(s); None fits an ordinary linear model.
    gene, treatment : str
        Names of the two factor columns.

    Returns
    -------
    CodingView

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(obs_per_replicate=20)
    >>> a = coding_view(df, "A", "control", random=None)
    >>> b = coding_view(df, "C", "drug", random=None)
    >>> bool(np.allclose(a.fitted, b.fitted)), bool(np.allclose(a.coefficients["estimate"], b.coefficients["estimate"]))
    (True, False)
    """
    check_columns(data, [gene, treatment], "coding_view")
    if random is not None and not (isinstance(random, str) and "|" in random):
        raise ValueError(f"random must be a random-effects term such as '(1|replicate)' or None, got {random!r}.")
    check_level("coding", coding, CODINGS)
    genes, treatments = levels(data[gene]), levels(data[treatment])
    if coding == "sum":
        reference_gene = reference_treatment = None
    else:
        reference_gene = genes[0] if reference_gene is None else check_level("reference_gene", reference_gene, genes)
        reference_treatment = (treatments[0] if reference_treatment is None
                               else check_level("reference_treatment", reference_treatment, treatments))
        data = set_reference(set_reference(data, gene, reference_gene), treatment, reference_treatment)
    formula = coding_formula(coding, response, random, gene, treatment)
    model = fit(formula, data) if random else fit_lm(formula, data)
    factors = [gene, treatment]
    cells = cell_table(model, factors)
    # The original level order whatever the reference, so two views compare row by row.
    order = {g: i for i, g in enumerate(genes)}, {t: i for i, t in enumerate(treatments)}
    cells = (cells.assign(_g=cells[gene].map(order[0]).astype(int), _t=cells[treatment].map(order[1]).astype(int))
             .sort_values(["_g", "_t"]).drop(columns=["_g", "_t"]).reset_index(drop=True))
    for f, lev in ((gene, genes), (treatment, treatments)):
        cells[f] = pd.Categorical(cells[f].astype(object), categories=lev)
    if coding == "sum":
        note = (f"Sum coding has no reference cell: the intercept is the plain (unweighted) average of the "
                f"{len(cells)} cell means, and each other coefficient is a deviation from an average.")
    else:
        note = (f"Treatment coding: the intercept is the mean of the reference cell (gene {reference_gene}, "
                f"{reference_treatment}); every other coefficient is a difference from it.")
    return CodingView(
        coding=coding, reference_gene=reference_gene, reference_treatment=reference_treatment, formula=formula,
        coefficients=model.coefs[["estimate", "se", "df", "p"]].reset_index(), cell_means=cells,
        model_matrix=model_matrix_table(model, factors),
        meanings=pd.DataFrame(explain(model))[["term", "meaning", "cell_mean_formula", "check_ok"]],
        fitted=np.asarray(model.fitted(), dtype=float), note=note, model=model,
    )


# --------------------------------------------------------------------------------------
# lm vs lmm weighting of unbalanced replicates (notebook 03)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ReplicateWeighting:
    """How lm and a mixed model average the replicates of one cell.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per replicate: ``replicate``, ``n`` (measurements), ``mean`` (replicate mean
        of the response), ``row_weight`` (n / total: lm's weight), ``equal_weight`` (1 / number
        of replicates) and ``precision_weight`` (the mixed model's weight,
        ``1 / (replicate_variance + residual_variance / n)``, normalised).
    summary : pandas.Series
        ``lm estimate``, ``row-weighted mean``, ``mixed-model estimate``,
        ``precision-weighted mean``, ``unweighted mean of replicate means``.
    replicate_variance, residual_variance : float
        Variance components estimated by the mixed model.
    lm, lmm : LmFit, MixedFit
        ``response ~ 1`` and ``response ~ 1 + (1|group)`` fitted to the cell.
    """

    table: pd.DataFrame
    summary: pd.Series
    replicate_variance: float
    residual_variance: float
    lm: Any = field(repr=False)
    lmm: Any = field(repr=False)


def replicate_weighting(data: pd.DataFrame, cell: Mapping[str, Any] | None = None,
                        response: str = "log(length)", group: str = "replicate") -> ReplicateWeighting:
    """Compare lm's and the mixed model's estimate of one cell mean, replicate by replicate.

    Within one cell (e.g. gene A under control) ``lm`` estimates the mean as the average of
    all measurements, so each replicate counts in proportion to its row count. The mixed
    model ``response ~ 1 + (1|group)`` estimates it by generalised least squares: replicate
    ``r`` gets weight ``1 / (s_b^2 + s^2 / n_r)``, the inverse variance of its mean. When the
    replicate variance ``s_b^2`` dominates, the weights are nearly equal (a replicate is one
    unit of evidence, however many rows it has); when it is 0 they are the row counts.

    Parameters
    ----------
    data : pandas.DataFrame
    cell : dict, optional
        Column -> level selecting the cell, default the first level of ``gene`` and
        ``treatment``.
    response : str, default "log(length)"
    group : str, default "replicate"

    Returns
    -------
    ReplicateWeighting
        ``summary["mixed-model estimate"]`` equals ``summary["precision-weighted mean"]`` up to
        rounding; ``summary["lm estimate"]`` equals the row-weighted mean.

    Examples
    --------
    >>> import lmmedu
    >>> w = replicate_weighting(lmmedu.simulate_replicates(seed=1))
    >>> s = w.summary
    >>> bool(abs(s["mixed-model estimate"] - s["precision-weighted mean"]) < 1e-8)
    True
    """
    if cell is None:
        check_columns(data, ["gene", "treatment"], "cell (default gene/treatment)")
        cell = {"gene": levels(data["gene"])[0], "treatment": levels(data["treatment"])[0]}
    if not isinstance(cell, Mapping) or not cell:
        raise ValueError(f"cell must be a dict of column -> level such as {{'gene': 'A'}}, got {cell!r}.")
    check_columns(data, [*cell, group], "cell/group")
    mask = np.ones(len(data), dtype=bool)
    for column, level in cell.items():
        check_level(f"cell[{column!r}]", level, levels(data[column]))
        mask &= (data[column] == level).to_numpy()
    sub = data.loc[mask]
    groups = levels(sub[group])
    if len(groups) < 2:
        raise ValueError(f"cell {dict(cell)} has measurements from {len(groups)} {group}(s); it needs at least 2.")

    lm = fit_lm(f"{response} ~ 1", sub)
    lmm = fit(f"{response} ~ 1 + (1|{group})", sub)
    y = pd.Series(np.asarray(lmm.y, dtype=float), index=lmm.data.index)
    agg = y.groupby(lmm.data[group], observed=True).agg(["size", "mean"])
    n = agg["size"].to_numpy(dtype=float)
    means = agg["mean"].to_numpy(dtype=float)
    vc = lmm.varcomp
    sb2 = float(vc.loc[(vc["group"] == group) & (vc["term"] == "Intercept"), "variance"].iloc[0])
    s2 = float(lmm.sigma**2)
    precision = 1.0 / (sb2 + s2 / n)
    table = pd.DataFrame({
        group: [str(g) for g in agg.index],
        "n": n.astype(int),
        "mean": means,
        "row_weight": n / n.sum(),
        "equal_weight": np.full(len(n), 1.0 / len(n)),
        "precision_weight": precision / precision.sum(),
    })
    summary = pd.Series({
        "lm estimate": float(lm.beta[0]),
        "row-weighted mean": float(np.sum(table["row_weight"] * means)),
        "mixed-model estimate": float(lmm.beta[0]),
        "precision-weighted mean": float(np.sum(table["precision_weight"] * means)),
        "unweighted mean of replicate means": float(means.mean()),
    }, name="estimate")
    return ReplicateWeighting(table=table, summary=summary, replicate_variance=sb2, residual_variance=s2,
                              lm=lm, lmm=lmm)


# --------------------------------------------------------------------------------------
# Reading an interaction coefficient (notebook 04)
# --------------------------------------------------------------------------------------

def interaction_readings(model, gene: str = "B", true_cell_means: pd.DataFrame | None = None,
                         gene_col: str = "gene", treatment_col: str = "treatment") -> pd.DataFrame:
    """Check two readings of an interaction coefficient against the fitted cell means.

    For ``treatment*gene`` with reference gene ``R`` and reference treatment ``c``, the
    coefficient ``treatment[T.d]:gene[T.g]`` is a *difference of differences*:
    ``(mean(g, d) - mean(g, c)) - (mean(R, d) - mean(R, c))`` -- how much larger the drug
    effect is in gene ``g`` than in the reference gene. A common wrong reading takes it for
    the gap between two cells, ``mean(g, d) - mean(R, c)``.

    Parameters
    ----------
    model : LmFit or MixedFit
        A fit of ``... ~ treatment*gene ...`` with treatment coding.
    gene : str, default "B"
        A non-reference gene.
    true_cell_means : pandas.DataFrame, optional
        Columns gene, treatment and ``mean_log`` (``lmmedu.truth(df).cell_means``); adds a
        ``truth`` column computed the same way.
    gene_col, treatment_col : str

    Returns
    -------
    pandas.DataFrame
        Rows ``coefficient``, ``difference of differences``, ``gap between two cells``;
        columns ``recipe``, ``estimate``, ``equals_coefficient`` (within 1e-8), and ``truth``
        if given.

    Examples
    --------
    >>> import lmmedu
    >>> df = lmmedu.simulate_replicates(obs_per_replicate=20)
    >>> lm = lmmedu.fit_lm("log(length) ~ treatment*gene", df)
    >>> interaction_readings(lm)["equals_coefficient"].tolist()
    [True, True, False]
    """
    factors = [gene_col, treatment_col]
    cells = cell_table(model, factors)
    genes = levels(model.data[gene_col])
    treatments = levels(model.data[treatment_col])
    if len(treatments) != 2:
        raise ValueError(f"{treatment_col} must have exactly 2 levels, got {treatments}.")
    ref_g, (ref_t, alt_t) = genes[0], treatments
    check_level("gene", gene, genes[1:])
    term = f"{treatment_col}[T.{alt_t}]:{gene_col}[T.{gene}]"
    if term not in model.names:
        raise ValueError(
            f"The model has no coefficient {term!r}; fit a treatment-coded interaction such as "
            f"'{treatment_col}*{gene_col}'."
        )

    def mean_of(tab, column, g, t):
        row = tab[(tab[gene_col].astype(str) == str(g)) & (tab[treatment_col].astype(str) == str(t))]
        return float(row[column].iloc[0])

    def readings(tab, column):
        m = {(g, t): mean_of(tab, column, g, t) for g in (gene, ref_g) for t in (ref_t, alt_t)}
        did = (m[gene, alt_t] - m[gene, ref_t]) - (m[ref_g, alt_t] - m[ref_g, ref_t])
        gap = m[gene, alt_t] - m[ref_g, ref_t]
        return did, gap

    coef = float(model.coefs.loc[term, "estimate"])
    did, gap = readings(cells, "fitted_mean")
    out = pd.DataFrame({
        "recipe": [
            term,
            f"({gene},{alt_t} - {gene},{ref_t}) - ({ref_g},{alt_t} - {ref_g},{ref_t})",
            f"{gene},{alt_t} - {ref_g},{ref_t}",
        ],
        "estimate": [coef, did, gap],
    }, index=pd.Index(["coefficient", "difference of differences", "gap between two cells"], name="reading"))
    out["equals_coefficient"] = np.abs(out["estimate"] - coef) < 1e-8
    if true_cell_means is not None:
        check_columns(true_cell_means, [gene_col, treatment_col, "mean_log"], "true_cell_means")
        t_did, t_gap = readings(true_cell_means, "mean_log")
        out["truth"] = [t_did, t_did, t_gap]
    return out
