"""Reading a coefficient table: coding, cell means, interactions and random slopes.

The logic behind notebooks 03 and 04. A model with categorical predictors describes the mean
of every *cell* (one gene under one treatment); a coefficient table is only one way of
writing those cell means down, and the *coding* (which level is the reference, or sum
coding) chooses the way. This module makes that concrete:

- :func:`cell_table` and :func:`model_matrix_table` show the cell means and the model matrix
  row of every cell (what each coefficient *means* comes from :func:`lmmedu.explain`);
- :class:`CodingExplorer` refits one data set under every coding: the coefficients change,
  the cell means and fitted values do not;
- :func:`replicate_weighting` shows why a mixed model and ``lm`` estimate a cell mean
  slightly differently when replicates are unbalanced (precision weights vs row counts);
- :func:`interaction_readings` checks the right reading of an interaction coefficient (a
  difference of differences) against a common wrong one (the gap between two cells);
- :class:`InteractionExplorer` re-simulates with chosen true drug effects per gene and
  shows which coefficients move;
- :func:`random_slope_study` and :class:`RandomSlopeMachine` count false positives of a
  random-intercept model when the drug effect varies between replicates.

Marginal means and contrasts (emmeans-style) live in :mod:`lmmedu.stats.interpret`; this module
only uses the cell means of saturated models, which need no averaging.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..stats.interpret import explain, set_reference
from ..stats.fit import fit, fit_lm
from ..data.simulate import DEFAULT_TREATMENT_EFFECTS, _count, _finite, _sd, simulate_replicates, truth
from .studies import binomial_ci

__all__ = [
    "CODINGS",
    "cell_table",
    "model_matrix_table",
    "CodingView",
    "CodingExplorer",
    "ReplicateWeighting",
    "replicate_weighting",
    "interaction_readings",
    "InteractionView",
    "InteractionExplorer",
    "SLOPE_STUDY_MODELS",
    "RandomSlopeStudy",
    "random_slope_study",
    "RandomSlopeMachine",
]

#: Codings the :class:`CodingExplorer` offers: treatment (dummy, R's default) and sum coding.
CODINGS = ("treatment", "sum")

#: Random-effects structures compared by :func:`random_slope_study`, label -> formula.
SLOPE_STUDY_MODELS = {
    "(1|replicate)": "log(length) ~ treatment*gene + (1|replicate)",
    "(1+treatment|replicate)": "log(length) ~ treatment*gene + (1+treatment|replicate)",
}

# Background of highlighted rows in widget tables: a pale yellow that reads on light themes
# and does not rely on red/green.
_HIGHLIGHT = "#fde68a"


# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------

def _check_columns(data: pd.DataFrame, columns: Sequence[str], argument: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(
            f"{argument} names column(s) {missing} that the data do not have; available columns are "
            f"{list(data.columns)}."
        )


def _levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [c for c in series.cat.categories if c in present]
    return sorted(series.dropna().unique())


def _check_level(name: str, value: Any, levels: Sequence) -> Any:
    if value not in list(levels):
        raise ValueError(f"{name} must be one of {list(levels)}, got {value!r}.")
    return value


# --------------------------------------------------------------------------------------
# Cells, model matrix rows and what each coefficient is made of
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
    _check_columns(model.data, factors, "factors")
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


# --------------------------------------------------------------------------------------
# Coding explorer (notebook 03)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CodingView:
    """One coding of one data set, as returned by :meth:`CodingExplorer.update`.

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


class CodingExplorer:
    """Refit one data set under different codings and compare what changes.

    Choosing another reference gene or treatment, or sum coding, rewrites the coefficient
    table, but the model is the same: every cell mean and every fitted value stays put.

    Parameters
    ----------
    data : pandas.DataFrame
        Measurements with the response, ``gene`` and ``treatment`` columns (and the grouping
        column of ``random``).
    response : str, default "log(length)"
        Left-hand side of the formula.
    random : str or None, default "(1|replicate)"
        Random-effects term(s) of the mixed model; None fits an ordinary linear model.
    gene, treatment : str
        Names of the two factor columns.

    Examples
    --------
    >>> import lmmedu
    >>> explorer = CodingExplorer(lmmedu.simulate_replicates(obs_per_replicate=20), random=None)
    >>> a = explorer.update("A", "control")
    >>> b = explorer.update("C", "drug")
    >>> bool(np.allclose(a.fitted, b.fitted)), bool(np.allclose(a.coefficients["estimate"], b.coefficients["estimate"]))
    (True, False)
    """

    def __init__(self, data: pd.DataFrame, response: str = "log(length)", random: str | None = "(1|replicate)",
                 gene: str = "gene", treatment: str = "treatment"):
        _check_columns(data, [gene, treatment], "gene/treatment")
        if random is not None and not (isinstance(random, str) and "|" in random):
            raise ValueError(f"random must be a random-effects term such as '(1|replicate)' or None, got {random!r}.")
        self.data = data
        self.response = response
        self.random = random
        self.gene = gene
        self.treatment = treatment
        self.genes = _levels(data[gene])
        self.treatments = _levels(data[treatment])
        self._cache: dict[tuple, CodingView] = {}

    def formula(self, coding: str = "treatment") -> str:
        """The formula fitted under ``coding``."""
        coding = _check_level("coding", coding, CODINGS)
        a, b = self.treatment, self.gene
        rhs = f"{a}*{b}" if coding == "treatment" else f"C({a}, Sum)*C({b}, Sum)"
        random = f" + {self.random}" if self.random else ""
        return f"{self.response} ~ {rhs}{random}"

    def _fit(self, formula: str, data: pd.DataFrame):
        return fit(formula, data) if self.random else fit_lm(formula, data)

    def update(self, reference_gene: str | None = None, reference_treatment: str | None = None,
               coding: str = "treatment") -> CodingView:
        """Fit under one coding and return its tables.

        Parameters
        ----------
        reference_gene, reference_treatment : str, optional
            Reference levels for treatment coding; default the first level. Ignored (and
            reported as None) under sum coding.
        coding : {"treatment", "sum"}, default "treatment"

        Returns
        -------
        CodingView
        """
        coding = _check_level("coding", coding, CODINGS)
        if coding == "sum":
            reference_gene = reference_treatment = None
        else:
            reference_gene = self.genes[0] if reference_gene is None else reference_gene
            reference_treatment = self.treatments[0] if reference_treatment is None else reference_treatment
            _check_level("reference_gene", reference_gene, self.genes)
            _check_level("reference_treatment", reference_treatment, self.treatments)
        key = (coding, reference_gene, reference_treatment)
        if key in self._cache:
            return self._cache[key]

        data = self.data
        if coding == "treatment":
            data = set_reference(set_reference(data, self.gene, reference_gene),
                                 self.treatment, reference_treatment)
        formula = self.formula(coding)
        model = self._fit(formula, data)
        factors = [self.gene, self.treatment]

        cells = cell_table(model, factors)
        order = {g: i for i, g in enumerate(self.genes)}, {t: i for i, t in enumerate(self.treatments)}
        cells = (cells.assign(_g=cells[self.gene].map(order[0]).astype(int),
                              _t=cells[self.treatment].map(order[1]).astype(int))
                 .sort_values(["_g", "_t"]).drop(columns=["_g", "_t"]).reset_index(drop=True))
        for f, levels in ((self.gene, self.genes), (self.treatment, self.treatments)):
            cells[f] = pd.Categorical(cells[f].astype(object), categories=levels)

        coefs = model.coefs[["estimate", "se", "df", "p"]].reset_index()
        view = CodingView(
            coding=coding,
            reference_gene=reference_gene,
            reference_treatment=reference_treatment,
            formula=formula,
            coefficients=coefs,
            cell_means=cells,
            model_matrix=model_matrix_table(model, factors),
            meanings=pd.DataFrame(explain(model))[["term", "meaning", "cell_mean_formula", "check_ok"]],
            fitted=np.asarray(model.fitted(), dtype=float),
            note=self._note(coding, reference_gene, reference_treatment, len(cells)),
            model=model,
        )
        self._cache[key] = view
        return view

    @staticmethod
    def _note(coding, ref_gene, ref_treatment, n_cells):
        if coding == "sum":
            return (f"Sum coding has no reference cell: the intercept is the plain (unweighted) average of the "
                    f"{n_cells} cell means, and each other coefficient is a deviation from an average.")
        return (f"Treatment coding: the intercept is the mean of the reference cell (gene {ref_gene}, "
                f"{ref_treatment}); every other coefficient is a difference from it.")

    # ---------------------------------------------------------------- widget
    def widget(self):
        """An ipywidgets app: choose the reference gene, the reference treatment or sum coding.

        Shows the coefficient table (changes), the cell means and the largest change of any
        fitted value since the default coding (stays at numerical zero), and a plot of the
        cell means with the intercept drawn as a line.

        Returns
        -------
        ipywidgets.VBox
        """
        import ipywidgets as w
        from IPython.display import display

        from .coding_plots import cell_means_plot

        gene_dd = w.Dropdown(options=self.genes, value=self.genes[0], description="reference gene",
                             style={"description_width": "initial"})
        trt_dd = w.Dropdown(options=self.treatments, value=self.treatments[0],
                            description="reference treatment", style={"description_width": "initial"})
        coding_tb = w.ToggleButtons(options=[("treatment coding", "treatment"), ("sum coding", "sum")],
                                    value="treatment", description="coding")
        note = w.HTML()
        coef_html = w.HTML()
        cell_html = w.HTML()
        plot_out = w.Output()
        default = self.update()

        def refresh(change=None):
            try:
                view = self.update(gene_dd.value, trt_dd.value, coding_tb.value)
            except (ValueError, np.linalg.LinAlgError) as exc:
                note.value = f"<b>Cannot fit this coding:</b> {exc}"
                return
            gene_dd.disabled = trt_dd.disabled = view.coding == "sum"
            moved_fit = float(np.max(np.abs(view.fitted - default.fitted)))
            moved_cell = float(np.max(np.abs(view.cell_means["fitted_mean"].to_numpy()
                                              - default.cell_means["fitted_mean"].to_numpy())))
            verdict = ("numerical zero: the same model" if max(moved_cell, moved_fit) < 1e-6
                       else "the model itself changed")
            note.value = (f"<p><code>{view.formula}</code><br>{view.note}<br>Largest change since the "
                          f"default coding: any cell mean {moved_cell:.1e}, any fitted value {moved_fit:.1e} "
                          f"({verdict}).</p>")
            coef_html.value = "<b>Coefficients (these change)</b>" + _coef_html(view)
            cell_html.value = "<b>Cell means (these stay put)</b>" + _cells_html(view)
            plot_out.clear_output(wait=True)
            with plot_out:
                import matplotlib.pyplot as plt

                fig, ax = plt.subplots(figsize=(5.5, 3.6))
                cell_means_plot(view.cell_means, intercept=float(view.coefficients["estimate"].iloc[0]),
                                intercept_label=(f"intercept = mean of the {len(view.cell_means)} cell means"
                                                 if view.coding == "sum"
                                                 else f"intercept = cell ({view.reference_gene}, "
                                                      f"{view.reference_treatment})"),
                                gene=self.gene, treatment=self.treatment, ax=ax)
                plt.tight_layout()
                display(fig)
                plt.close(fig)

        for control in (gene_dd, trt_dd, coding_tb):
            control.observe(refresh, names="value")
        refresh()
        controls = w.HBox([gene_dd, trt_dd])
        cell_html.layout.margin = "0 0 0 24px"
        tables = w.HBox([coef_html, cell_html])
        return w.VBox([controls, coding_tb, note, tables, plot_out])


def _coef_html(view: CodingView) -> str:
    tab = view.coefficients[["term", "estimate", "se"]].copy()
    tab["in cell means (μ[treatment,gene])"] = view.meanings["cell_mean_formula"].to_numpy()
    return tab.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)


def _cells_html(view: CodingView) -> str:
    return view.cell_means.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)


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
        _check_columns(data, ["gene", "treatment"], "cell (default gene/treatment)")
        cell = {"gene": _levels(data["gene"])[0], "treatment": _levels(data["treatment"])[0]}
    if not isinstance(cell, Mapping) or not cell:
        raise ValueError(f"cell must be a dict of column -> level such as {{'gene': 'A'}}, got {cell!r}.")
    _check_columns(data, [*cell, group], "cell/group")
    mask = np.ones(len(data), dtype=bool)
    for column, level in cell.items():
        _check_level(f"cell[{column!r}]", level, _levels(data[column]))
        mask &= (data[column] == level).to_numpy()
    sub = data.loc[mask]
    groups = _levels(sub[group])
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
    genes = _levels(model.data[gene_col])
    treatments = _levels(model.data[treatment_col])
    if len(treatments) != 2:
        raise ValueError(f"{treatment_col} must have exactly 2 levels, got {treatments}.")
    ref_g, (ref_t, alt_t) = genes[0], treatments
    _check_level("gene", gene, genes[1:])
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
        _check_columns(true_cell_means, [gene_col, treatment_col, "mean_log"], "true_cell_means")
        t_did, t_gap = readings(true_cell_means, "mean_log")
        out["truth"] = [t_did, t_did, t_gap]
    return out


# --------------------------------------------------------------------------------------
# Interaction explorer (notebook 04)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class InteractionView:
    """One setting of the true drug effects, as returned by :meth:`InteractionExplorer.update`.

    Attributes
    ----------
    effects : dict
        Gene -> true drug effect used for the simulation.
    table : pandas.DataFrame
        Index: coefficient names. Columns ``truth``, ``estimate``, ``se``, ``truth_change``
        and ``estimate_change`` (since the previous update; 0 on the first), ``moved`` (the
        true coefficient changed).
    message : str
        Empty, or why the fit could not be made.
    seconds : float
        Time to simulate and fit.
    model : MixedFit or LmFit or None
    """

    effects: dict
    table: pd.DataFrame
    message: str
    seconds: float
    model: Any = field(repr=False, default=None)


class InteractionExplorer:
    """Set the true drug effect of each gene, re-simulate with a fixed seed, refit, compare.

    The same seed gives the same replicate effects and the same measurement noise, so moving
    one gene's true drug effect shifts only the drug measurements of that gene: the learner
    sees exactly which coefficients of ``treatment*gene`` follow.

    Parameters
    ----------
    seed : int, default 1
        Seed of :func:`lmmedu.simulate_replicates`.
    formula : str, default "log(length) ~ treatment*gene + (1|replicate)"
        Fitted with :func:`lmmedu.fit` if it has a random term, else :func:`lmmedu.fit_lm`.
    effect_range : (float, float), default (-0.5, 0.5)
        Slider range of each drug effect (log scale).
    step : float, default 0.01
        Slider step.
    **simulate_kwargs
        Passed to :func:`lmmedu.simulate_replicates` (not ``treatment_effects`` or ``seed``).

    Examples
    --------
    >>> ex = InteractionExplorer(obs_per_replicate=40)
    >>> _ = ex.update()
    >>> view = ex.update(B=0.30)
    >>> view.table.index[view.table["moved"]].tolist()
    ['treatment[T.drug]:gene[T.B]']
    """

    def __init__(self, seed: int = 1, formula: str = "log(length) ~ treatment*gene + (1|replicate)",
                 effect_range: tuple[float, float] = (-0.5, 0.5), step: float = 0.01, **simulate_kwargs):
        for bad in ("treatment_effects", "seed"):
            if bad in simulate_kwargs:
                raise ValueError(f"{bad} is set by the explorer; pass seed=... to the explorer and use update() "
                                 f"for the drug effects.")
        low, high = (_finite("effect_range[0]", effect_range[0]), _finite("effect_range[1]", effect_range[1]))
        if not low < high:
            raise ValueError(f"effect_range must be (low, high) with low < high, got {effect_range!r}.")
        self.seed = seed
        self.formula = formula
        self.effect_range = (low, high)
        self.step = _finite("step", step)
        self.simulate_kwargs = dict(simulate_kwargs)
        probe = simulate_replicates(seed=seed, **{**self.simulate_kwargs, "obs_per_replicate": 2})
        self.genes = list(truth(probe).genes)
        self.defaults = {g: float(DEFAULT_TREATMENT_EFFECTS.get(g, 0.0)) for g in self.genes}
        self.effects = dict(self.defaults)
        self._previous: pd.DataFrame | None = None

    def simulate(self, effects: Mapping[str, float]) -> pd.DataFrame:
        """The data set for ``effects`` (gene -> true drug effect), same seed every time."""
        return simulate_replicates(seed=self.seed, treatment_effects=dict(effects), **self.simulate_kwargs)

    def update(self, **effects: float) -> InteractionView:
        """Re-simulate with new true drug effects and refit.

        Parameters
        ----------
        **effects : float
            Gene name -> true drug effect on log(length); genes not given keep their
            current value.

        Returns
        -------
        InteractionView
        """
        unknown = [g for g in effects if g not in self.genes]
        if unknown:
            raise ValueError(f"update() got unknown gene(s) {unknown}; the genes are {self.genes}.")
        new = dict(self.effects)
        new.update({g: _finite(f"effect of gene {g}", v) for g, v in effects.items()})
        start = time.perf_counter()
        df = self.simulate(new)
        true = truth(df).coefficients
        try:
            model = fit(self.formula, df) if "|" in self.formula else fit_lm(self.formula, df)
        except (ValueError, np.linalg.LinAlgError) as exc:
            table = pd.DataFrame({"truth": true})
            return InteractionView(effects=new, table=table, message=f"The model could not be fitted: {exc}",
                                   seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        table = pd.DataFrame({"truth": true.reindex(model.names), "estimate": model.coefs["estimate"],
                              "se": model.coefs["se"]})
        if self._previous is None:
            table["truth_change"] = 0.0
            table["estimate_change"] = 0.0
        else:
            table["truth_change"] = table["truth"] - self._previous["truth"]
            table["estimate_change"] = table["estimate"] - self._previous["estimate"]
        table["moved"] = np.abs(table["truth_change"]) > 1e-12
        self._previous = table[["truth", "estimate"]]
        self.effects = new
        return InteractionView(effects=new, table=table, message="", seconds=seconds, model=model)

    def widget(self):
        """Sliders for the true drug effect of each gene and a table of what moved.

        Returns
        -------
        ipywidgets.VBox
        """
        import ipywidgets as w

        low, high = self.effect_range
        sliders = {
            g: w.FloatSlider(value=min(max(self.defaults[g], low), high), min=low, max=high, step=self.step,
                             description=f"drug effect {g}", continuous_update=False, readout_format=".2f",
                             style={"description_width": "initial"})
            for g in self.genes
        }
        out = w.HTML()

        def refresh(change=None):
            try:
                view = self.update(**{g: s.value for g, s in sliders.items()})
            except ValueError as exc:
                out.value = f"<b>Cannot simulate this setting:</b> {exc}"
                return
            out.value = _interaction_html(view)

        for s in sliders.values():
            s.observe(refresh, names="value")
        self._previous = None
        self.effects = {g: s.value for g, s in sliders.items()}
        refresh()
        return w.VBox([w.HBox(list(sliders.values())), out])


def _interaction_html(view: InteractionView) -> str:
    if view.message:
        return f"<p><b>{view.message}</b></p>"
    tab = view.table
    rows = []
    for term, r in tab.iterrows():
        style = f' style="background:{_HIGHLIGHT};font-weight:bold"' if r["moved"] else ""
        rows.append(
            f"<tr{style}><td>{term}</td><td>{r['truth']:+.3f}</td><td>{r['estimate']:+.3f}</td>"
            f"<td>{r['se']:.3f}</td><td>{r['truth_change']:+.3f}</td><td>{r['estimate_change']:+.3f}</td></tr>"
        )
    effects = ", ".join(f"{g}: {v:+.2f}" for g, v in view.effects.items())
    head = ("<tr><th>term</th><th>true value</th><th>estimate</th><th>SE</th>"
            "<th>true change</th><th>estimate change</th></tr>")
    return (f"<p>True drug effects {effects} (log scale). Highlighted: coefficients whose true value moved "
            f"with the last slider move. Simulated and fitted in {1000 * view.seconds:.0f} ms.</p>"
            f"<table>{head}{''.join(rows)}</table>")


# --------------------------------------------------------------------------------------
# Random slopes and false positives (notebook 04)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class RandomSlopeStudy:
    """Result of :func:`random_slope_study`.

    Attributes
    ----------
    results : pandas.DataFrame
        One row per simulated experiment and model: ``sim``, ``model``, ``estimate``, ``se``,
        ``df``, ``p`` of the drug effect of the reference gene (``treatment[T.drug]``; its
        true value is 0), ``singular``.
    rates : pandas.DataFrame
        One row per model: ``model``, ``n_sims``, ``false_positives``, ``rate`` (type I error
        at ``alpha``), ``ci_low``, ``ci_high`` (Wilson 95% interval), ``median_se``,
        ``median_df``, ``singular_rate``.
    settings : dict
        The arguments of the run.
    """

    results: pd.DataFrame
    rates: pd.DataFrame
    settings: dict


def random_slope_study(n_sims: int = 50, n_replicates: int = 4, obs_per_replicate: int = 200,
                       replicate_sd: float = 0.2, replicate_treatment_sd: float = 0.15,
                       residual_sd: float = 0.5, alpha: float = 0.05, seed: int = 0,
                       progress: bool = True,
                       callback: Callable[[int, int], None] | None = None) -> RandomSlopeStudy:
    """Type I error of the drug effect with and without a random slope for treatment.

    Every simulated experiment has **no true drug effect** in any gene, but the drug effect of
    each replicate deviates from 0 by ``N(0, replicate_treatment_sd**2)``. Both models of
    :data:`SLOPE_STUDY_MODELS` are fitted and the drug effect of the reference gene is tested
    at ``alpha`` (Satterthwaite t-test). Without the random slope the model treats thousands
    of measurements as independent evidence about the drug effect, although only
    ``n_replicates`` replicates carry it.

    Parameters
    ----------
    n_sims : int, default 50
        Simulated experiments.
    n_replicates : int, default 4
    obs_per_replicate : int, default 200
        Measurements per gene in each replicate (split between the arms). Smaller than the
        seed-000 sizes to keep the run quick; the false positives do not need many rows.
    replicate_sd, replicate_treatment_sd, residual_sd : float
        SDs of the replicate intercepts, of the replicate drug effects and of the measurements.
    alpha : float, default 0.05
    seed : int, default 0
        Each experiment gets its own stream spawned from this seed, so runs are reproducible.
    progress : bool, default True
        Show a tqdm progress bar.
    callback : callable, optional
        Called as ``callback(done, n_sims)`` after each experiment (e.g. to move a widget bar).

    Returns
    -------
    RandomSlopeStudy

    Examples
    --------
    >>> study = random_slope_study(n_sims=3, obs_per_replicate=20, progress=False)
    >>> study.rates["model"].tolist()
    ['(1|replicate)', '(1+treatment|replicate)']
    """
    n_sims = _count("n_sims", n_sims, 1)
    n_replicates = _count("n_replicates", n_replicates, 3)
    obs_per_replicate = _count("obs_per_replicate", obs_per_replicate, 2)
    replicate_sd = _sd("replicate_sd", replicate_sd)
    replicate_treatment_sd = _sd("replicate_treatment_sd", replicate_treatment_sd)
    residual_sd = _sd("residual_sd", residual_sd)
    if residual_sd == 0:
        raise ValueError("residual_sd must be greater than 0, so that measurements within a replicate differ.")
    alpha = _finite("alpha", alpha)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    settings = dict(n_sims=n_sims, n_replicates=n_replicates, obs_per_replicate=obs_per_replicate,
                    replicate_sd=replicate_sd, replicate_treatment_sd=replicate_treatment_sd,
                    residual_sd=residual_sd, alpha=alpha, seed=seed)
    try:
        streams = np.random.SeedSequence(seed).spawn(n_sims)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.") from exc

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_sims, desc="simulated experiments", leave=False)
    term = "treatment[T.drug]"
    rows = []
    try:
        for i, stream in enumerate(streams):
            df = simulate_replicates(n_replicates=n_replicates, obs_per_replicate=obs_per_replicate,
                                     treatment_effects=0.0, replicate_sd=replicate_sd,
                                     replicate_treatment_sd=replicate_treatment_sd,
                                     residual_sd=residual_sd, seed=np.random.default_rng(stream))
            for label, formula in SLOPE_STUDY_MODELS.items():
                m = fit(formula, df)
                c = m.coefs.loc[term]
                rows.append({"sim": i, "model": label, "estimate": c["estimate"], "se": c["se"],
                             "df": c["df"], "p": c["p"], "singular": bool(m.singular)})
            if bar is not None:
                bar.update(1)
            if callback is not None:
                callback(i + 1, n_sims)
    finally:
        if bar is not None:
            bar.close()
    results = pd.DataFrame(rows)
    return RandomSlopeStudy(results=results, rates=_rates(results, alpha), settings=settings)


def _rates(results: pd.DataFrame, alpha: float) -> pd.DataFrame:
    out = []
    for label in SLOPE_STUDY_MODELS:
        sub = results[results["model"] == label]
        hits = int((sub["p"] < alpha).sum())
        n = len(sub)
        ci_low, ci_high = binomial_ci(hits, n)
        out.append({"model": label, "n_sims": n, "false_positives": hits, "rate": hits / n,
                    "ci_low": ci_low, "ci_high": ci_high,
                    "median_se": float(sub["se"].median()), "median_df": float(sub["df"].median()),
                    "singular_rate": float(sub["singular"].mean())})
    return pd.DataFrame(out)


class RandomSlopeMachine:
    """A Run button around :func:`random_slope_study`, with sliders and a progress bar.

    Parameters
    ----------
    n_sims : int, default 40
        Initial number of experiments per run.
    replicate_treatment_sd : float, default 0.15
        Initial SD of the replicate drug effects.
    **study_kwargs
        Other fixed arguments of :func:`random_slope_study`.

    Examples
    --------
    >>> machine = RandomSlopeMachine(n_sims=2, obs_per_replicate=20)
    >>> machine.run(progress=False).rates["n_sims"].tolist()
    [2, 2]
    """

    #: Slider ranges: (min, max, step).
    N_SIMS_RANGE = (10, 200, 10)
    SLOPE_SD_RANGE = (0.0, 0.3, 0.01)

    def __init__(self, n_sims: int = 40, replicate_treatment_sd: float = 0.15, **study_kwargs):
        for bad in ("n_sims", "replicate_treatment_sd", "progress", "callback"):
            if bad in study_kwargs:
                raise ValueError(f"{bad} is set by the machine itself; do not pass it in study_kwargs.")
        self.n_sims = _count("n_sims", n_sims, 1)
        self.replicate_treatment_sd = _sd("replicate_treatment_sd", replicate_treatment_sd)
        self.study_kwargs = dict(study_kwargs)
        self.last: RandomSlopeStudy | None = None

    def run(self, n_sims: int | None = None, replicate_treatment_sd: float | None = None,
            progress: bool = True, callback: Callable[[int, int], None] | None = None) -> RandomSlopeStudy:
        """Run the study with the current (or given) settings and keep the result in ``last``."""
        if n_sims is not None:
            self.n_sims = _count("n_sims", n_sims, 1)
        if replicate_treatment_sd is not None:
            self.replicate_treatment_sd = _sd("replicate_treatment_sd", replicate_treatment_sd)
        self.last = random_slope_study(n_sims=self.n_sims, replicate_treatment_sd=self.replicate_treatment_sd,
                                       progress=progress, callback=callback, **self.study_kwargs)
        return self.last

    def widget(self):
        """Sliders (experiments, SD of the replicate drug effects), a Run button and a progress bar.

        Returns
        -------
        ipywidgets.VBox
        """
        import ipywidgets as w

        lo, hi, st = self.N_SIMS_RANGE
        n_slider = w.IntSlider(value=min(max(self.n_sims, lo), hi), min=lo, max=hi, step=st,
                               description="experiments", continuous_update=False)
        lo, hi, st = self.SLOPE_SD_RANGE
        sd_slider = w.FloatSlider(value=min(max(self.replicate_treatment_sd, lo), hi), min=lo, max=hi, step=st,
                                  description="SD of replicate drug effects", continuous_update=False,
                                  readout_format=".2f", style={"description_width": "initial"})
        button = w.Button(description="Run", button_style="primary", icon="play")
        bar = w.IntProgress(value=0, min=0, max=n_slider.value, description="0 done")
        out = w.HTML(_rates_html(self.last) if self.last is not None else
                     "<p>Press <b>Run</b> to simulate experiments with no true drug effect.</p>")

        def step(done, total):
            bar.max, bar.value, bar.description = total, done, f"{done} done"

        def on_click(_=None):
            button.disabled = True
            try:
                study = self.run(n_sims=n_slider.value, replicate_treatment_sd=sd_slider.value,
                                 progress=False, callback=step)
                out.value = _rates_html(study)
            except ValueError as exc:
                out.value = f"<b>Cannot run this setting:</b> {exc}"
            finally:
                button.disabled = False

        button.on_click(on_click)
        ui = w.VBox([w.HBox([n_slider, sd_slider]), w.HBox([button, bar]), out])
        ui.run = on_click  # lets tests and headless runs press the button
        return ui


def _rates_html(study: RandomSlopeStudy) -> str:
    s = study.settings
    tab = study.rates.rename(columns={"rate": "false-positive rate", "ci_low": "95% CI low",
                                      "ci_high": "95% CI high", "singular_rate": "singular fits"})
    return (f"<p>{s['n_sims']} experiments with no true drug effect, {s['n_replicates']} replicates, SD of the "
            f"replicate drug effects {s['replicate_treatment_sd']:.2f}; a correct test rejects in about "
            f"{100 * s['alpha']:.0f}% of them.</p>"
            + tab.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0))
