"""Notebooks 03 and 04: cell tables and codings (lmmedu.teach.cells), the coding and interaction
apps and the random-slope study and machine built on them, checked against raw cell means and the
simulated truth."""

import io
import itertools

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import lmmedu  # noqa: E402
from lmmedu.teach import studies, widgets  # noqa: E402
from lmmedu.teach.cells import (  # noqa: E402
    cell_table,
    coding_view,
    interaction_readings,
    model_matrix_table,
    replicate_weighting,
)
from lmmedu.teach.plots import (LOG_LABEL, cell_means_plot, drug_effects_plot, interaction_plot,  # noqa: E402
                                rates_plot, replicate_means_plot)
from lmmedu.teach.studies import SLOPE_STUDY_MODELS, random_slope_p_values, random_slope_rates, rates  # noqa: E402
from lmmedu.teach.widgets import CodingExplorer, InteractionExplorer, RandomSlopeMachine  # noqa: E402
from lmmedu.teach.widgets.app import png  # noqa: E402

FORMULA = "log(length) ~ treatment*gene + (1|replicate)"
# Unbalanced like seed 000 but a tenth of the size: quick fits, same structure.
SMALL_OBS = (100, 120, 180, 350)


@pytest.fixture(scope="module")
def small():
    return lmmedu.simulate_replicates(obs_per_replicate=SMALL_OBS, seed=11)


@pytest.fixture(scope="module", params=["(1|replicate)", None], ids=["lmm", "lm"])
def explorer(request, small):
    return CodingExplorer(small, random=request.param)


def _all_codings(explorer):
    combos = [(g, t, "treatment") for g, t in itertools.product(explorer.genes, explorer.treatments)]
    return combos + [(None, None, "sum")]


# --------------------------------------------------------------------------------------
# Cells and model matrix
# --------------------------------------------------------------------------------------

def test_cell_table_lm_fitted_means_are_raw_cell_means(small):
    lm = lmmedu.fit_lm("log(length) ~ treatment*gene", small)
    tab = cell_table(lm)
    y = np.log(small["length"])
    raw = y.groupby([small["gene"], small["treatment"]], observed=True).mean()
    assert len(tab) == 6
    np.testing.assert_allclose(tab["observed_mean"], raw.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(tab["fitted_mean"], raw.to_numpy(), rtol=0, atol=1e-10)
    assert tab["n"].sum() == len(small)


def test_model_matrix_rows_are_the_cell_indicators(small):
    lm = lmmedu.fit_lm("log(length) ~ treatment*gene", small)
    mm = model_matrix_table(lm).set_index(["gene", "treatment"])
    assert set(np.unique(mm.to_numpy())) == {0, 1}
    assert mm.loc[("A", "control")].tolist() == [1, 0, 0, 0, 0, 0]
    row = mm.loc[("B", "drug")]
    assert row[["Intercept", "treatment[T.drug]", "gene[T.B]", "treatment[T.drug]:gene[T.B]"]].tolist() == [1] * 4
    assert row[["gene[T.C]", "treatment[T.drug]:gene[T.C]"]].tolist() == [0, 0]
    # Each cell's fitted mean is its row times beta.
    cells = cell_table(lm).set_index(["gene", "treatment"])
    np.testing.assert_allclose(mm.to_numpy() @ lm.beta, cells.loc[mm.index, "fitted_mean"], atol=1e-12)


# --------------------------------------------------------------------------------------
# Coding explorer
# --------------------------------------------------------------------------------------

def test_coding_changes_coefficients_but_not_fitted_values_or_cell_means(explorer):
    base = explorer.update()
    for ref_gene, ref_trt, cod in _all_codings(explorer):
        view = explorer.update(ref_gene, ref_trt, cod)
        np.testing.assert_allclose(view.fitted, base.fitted, rtol=0, atol=1e-8)
        np.testing.assert_allclose(view.cell_means["fitted_mean"], base.cell_means["fitted_mean"], rtol=0, atol=1e-8)
        np.testing.assert_array_equal(view.cell_means["observed_mean"], base.cell_means["observed_mean"])
        assert view.cell_means[["gene", "treatment"]].astype(str).equals(base.cell_means[["gene", "treatment"]].astype(str))
        assert view.meanings["check_ok"].all()
        if (ref_gene, ref_trt, cod) != (explorer.genes[0], explorer.treatments[0], "treatment"):
            assert np.max(np.abs(view.coefficients["estimate"].to_numpy() - base.coefficients["estimate"].to_numpy())) > 1e-3


def test_intercept_is_the_reference_cell_mean_or_the_average_of_cells(explorer):
    for ref_gene, ref_trt, cod in _all_codings(explorer):
        view = explorer.update(ref_gene, ref_trt, cod)
        cells = view.cell_means.set_index(["gene", "treatment"])["fitted_mean"]
        intercept = view.coefficients.set_index("term").loc["Intercept", "estimate"]
        expected = cells.mean() if cod == "sum" else cells.loc[(ref_gene, ref_trt)]
        assert intercept == pytest.approx(expected, abs=1e-8)
        if cod == "treatment":
            # A gene coefficient is that gene minus the reference gene, in the reference treatment.
            other = next(g for g in explorer.genes if g != ref_gene)
            coef = view.coefficients.set_index("term").loc[f"gene[T.{other}]", "estimate"]
            assert coef == pytest.approx(cells.loc[(other, ref_trt)] - cells.loc[(ref_gene, ref_trt)], abs=1e-8)


def test_coding_explorer_rejects_unknown_levels(explorer):
    with pytest.raises(ValueError, match="reference_gene"):
        explorer.update("Z", "control")
    with pytest.raises(ValueError, match="coding"):
        explorer.update(coding="helmert")


def test_coding_widget_every_choice_runs_and_reports_zero_change(small):
    ex = CodingExplorer(small)
    for g, t in itertools.product(ex.reference_gene.options, ex.reference_treatment.options):
        ex.reference_gene.value, ex.reference_treatment.value = g, t
        assert (ex.result.reference_gene, ex.result.reference_treatment) == (g, t)
        assert f"gene {g}, {t}" in ex.note.value
        assert "numerical zero" in ex.note.value
        assert bytes(ex.plot.value).startswith(b"\x89PNG")
    ex.coding.value = "sum"
    assert ex.result.coding == "sum"
    assert ex.reference_gene.disabled and "no reference cell" in ex.note.value and "numerical zero" in ex.note.value
    ex.coding.value = "treatment"
    assert not ex.reference_gene.disabled
    assert ex.message.value == ""


def test_coding_view_matches_the_explorer(small):
    view = coding_view(small, "B", "drug", random=None)
    ex = CodingExplorer(small, random=None)
    same = ex.update("B", "drug")
    pd.testing.assert_frame_equal(view.coefficients, same.coefficients)
    assert view.formula == "log(length) ~ treatment*gene"


def test_cell_means_plot_does_not_move_between_codings(explorer):
    limits = []
    for ref_gene, ref_trt, cod in [(explorer.genes[0], explorer.treatments[0], "treatment"),
                                   (explorer.genes[-1], explorer.treatments[-1], "treatment"), (None, None, "sum")]:
        view = explorer.update(ref_gene, ref_trt, cod)
        ax = cell_means_plot(view.cell_means, intercept=view.coefficients["estimate"].iloc[0])
        limits.append(ax.get_ylim())
        matplotlib.pyplot.close(ax.figure)
    np.testing.assert_allclose(limits[0], limits[1], atol=1e-8)
    np.testing.assert_allclose(limits[0], limits[2], atol=1e-8)


def _pixels(png):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _fresh_png(view):
    """The explorer's figure as a new figure draws it (its drawing before it kept one figure):
    what every move must look like."""
    label = (f"intercept = mean of the {len(view.cell_means)} cell means" if view.coding == "sum"
             else f"intercept = cell ({view.reference_gene}, {view.reference_treatment})")
    ax = cell_means_plot(view.cell_means, intercept=float(view.coefficients["estimate"].iloc[0]),
                         intercept_label=label)
    ax.figure.set_size_inches(5.5, 3.6)
    return png(ax.figure)


def _ends(control):
    values = [v[1] if isinstance(v, tuple) else v for v in control.options]
    return values[0], values[-1]


def test_coding_explorer_redraws_in_place_exactly_as_a_new_figure(small):
    # The explorer keeps one figure, laid out and cropped once, and moves its intercept line:
    # at the defaults and after every control end, reached one after another so that each
    # picture follows another, its pixels are those of a new figure of the same view.
    ex = CodingExplorer(small)
    figure = ex._frames.fig
    moves = [(None, None)] + [(control, value) for control in CodingExplorer.controls
                              for value in _ends(getattr(ex, control))] + [("coding", "sum"), ("coding", "treatment")]
    seen = set()
    for control, value in moves:
        if control is not None:
            getattr(ex, control).value = value
        assert ex.message.value == "", ex.message.value
        shown = _pixels(ex.plot.value)
        np.testing.assert_array_equal(shown, _pixels(_fresh_png(ex.result)), err_msg=f"{control}={value}")
        seen.add(shown.tobytes())
    assert len(seen) >= 3  # the intercept line did move (the comparison would catch a frozen picture)
    assert ex._frames.fig is figure
    assert len(figure.axes) == 1 and len(figure.axes[0].get_lines()) == len(ex.treatments) + 1  # moved, not added


def test_coding_explorer_fits_every_coding_up_front(small, monkeypatch):
    # A first visit to a coding would otherwise add a whole fit to that move.
    ex = CodingExplorer(small, random=None)

    def no_fit(*args, **kwargs):
        raise AssertionError("the explorer fitted on a move")

    monkeypatch.setattr("lmmedu.teach.widgets.coding.coding_view", no_fit)
    for g, t in itertools.product(ex.genes, ex.treatments):
        ex.reference_gene.value, ex.reference_treatment.value = g, t
        assert ex.message.value == "" and (ex.result.reference_gene, ex.result.reference_treatment) == (g, t)
    ex.coding.value = "sum"
    assert ex.message.value == "" and ex.result.coding == "sum"
    assert ex.update() is ex.update(ex.genes[0], ex.treatments[0])  # the default levels: one fit, not two


def test_cell_means_plot_moves_its_artists_on_axes_it_drew(small):
    cells = coding_view(small, random=None).cell_means
    ax = cell_means_plot(cells, intercept=4.0, intercept_label="first")
    lines = list(ax.get_lines())
    again = cell_means_plot(cells.assign(fitted_mean=cells["fitted_mean"] + 1.0), intercept=5.0,
                            intercept_label="second", ax=ax)
    assert again is ax and list(ax.get_lines()) == lines
    assert list(lines[-1].get_ydata()) == [5.0, 5.0]
    assert ax.get_legend().get_texts()[-1].get_text() == "second" and lines[-1].get_label() == "second"
    np.testing.assert_allclose(lines[0].get_ydata(), cells["fitted_mean"].to_numpy()[::2] + 1.0, rtol=0, atol=0)
    assert ax.get_ylim()[0] > 4.0  # limits follow the means
    # Other cells on the same Axes are drawn, not forced onto the old artists.
    cell_means_plot(cells[cells["gene"] != cells["gene"].iloc[0]], intercept=4.0, ax=ax)
    assert len(ax.get_lines()) > len(lines)
    matplotlib.pyplot.close(ax.figure)


# --------------------------------------------------------------------------------------
# lm vs lmm: balanced and unbalanced replicates
# --------------------------------------------------------------------------------------

def test_replicate_weighting_reproduces_both_estimates():
    df = lmmedu.simulate_replicates(obs_per_replicate=SMALL_OBS, seed=5)
    w = replicate_weighting(df)
    s, tab = w.summary, w.table
    assert s["mixed-model estimate"] == pytest.approx(s["precision-weighted mean"], abs=1e-8)
    assert s["lm estimate"] == pytest.approx(s["row-weighted mean"], abs=1e-10)
    for col in ("row_weight", "equal_weight", "precision_weight"):
        assert tab[col].sum() == pytest.approx(1.0)
    # Bigger replicates get more weight, but the mixed model's weights are much flatter than lm's.
    assert np.all(np.diff(tab.sort_values("n")["precision_weight"]) > 0)
    assert np.ptp(tab["precision_weight"]) < np.ptp(tab["row_weight"]) / 3
    assert abs(s["lm estimate"] - s["mixed-model estimate"]) > 1e-3
    # The cell is gene A under control: the n column counts its rows per replicate.
    assert tab["n"].tolist() == [n // 2 for n in SMALL_OBS]


def test_replicate_weighting_no_replicate_variance_gives_row_weights():
    df = lmmedu.simulate_replicates(obs_per_replicate=SMALL_OBS, replicate_sd=0.0, seed=2)
    w = replicate_weighting(df)
    if w.replicate_variance == 0:
        np.testing.assert_allclose(w.table["precision_weight"], w.table["row_weight"], atol=1e-12)
    # Either way, tiny replicate variance pulls the weights to the row counts.
    np.testing.assert_allclose(w.table["precision_weight"], w.table["row_weight"], atol=0.02)


def test_balanced_replicates_make_lm_and_lmm_coefficients_identical():
    balanced = lmmedu.simulate_replicates(obs_per_replicate=300, seed=4)
    unbalanced = lmmedu.simulate_replicates(obs_per_replicate=(100, 150, 250, 700), seed=4)
    diffs = {}
    for name, df in (("balanced", balanced), ("unbalanced", unbalanced)):
        lm, lmm = lmmedu.fit_lm(FORMULA, df), lmmedu.fit(FORMULA, df)
        diffs[name] = (lmm.coefs["estimate"] - lm.coefs["estimate"]).abs()
    assert diffs["balanced"].max() < 1e-8
    assert diffs["unbalanced"]["Intercept"] > 1e-3
    w = replicate_weighting(balanced).summary
    assert w["lm estimate"] == pytest.approx(w["mixed-model estimate"], abs=1e-8)


def test_replicate_weighting_bad_input(small):
    with pytest.raises(ValueError, match="cell"):
        replicate_weighting(small, cell={"gene": "Z"})
    with pytest.raises(ValueError, match="cell"):
        replicate_weighting(small, cell={"colour": "red"})


# --------------------------------------------------------------------------------------
# Interactions
# --------------------------------------------------------------------------------------

def test_interaction_is_a_difference_of_differences_not_a_gap(small):
    m = lmmedu.fit(FORMULA, small)
    true_cells = lmmedu.truth(small).cell_means
    true_coef = lmmedu.truth(small).coefficients
    for gene in ("B", "C"):
        tab = interaction_readings(m, gene, true_cell_means=true_cells)
        term = f"treatment[T.drug]:gene[T.{gene}]"
        assert tab.loc["coefficient", "estimate"] == pytest.approx(m.coefs.loc[term, "estimate"])
        assert tab.loc["difference of differences", "equals_coefficient"]
        assert not tab.loc["gap between two cells", "equals_coefficient"]
        assert tab.loc["difference of differences", "truth"] == pytest.approx(true_coef[term])
        # In the truth the two readings differ by the drug effect of the reference gene (0.22)
        # minus the gene's own baseline difference: clearly not the same quantity.
        true_gap = tab.loc["gap between two cells", "truth"]
        assert abs(true_gap - true_coef[term]) > 0.1
        assert true_gap == pytest.approx(true_cells.set_index(["gene", "treatment"]).loc[(gene, "drug"), "mean_log"]
                                         - true_cells.set_index(["gene", "treatment"]).loc[("A", "control"), "mean_log"])
    with pytest.raises(ValueError, match="gene"):
        interaction_readings(m, "A")


def test_interaction_plot_draws_estimates_and_truth(small):
    m = lmmedu.fit(FORMULA, small)
    tab = cell_table(m).rename(columns={"fitted_mean": "emmean"})
    tab["ci_low"], tab["ci_high"] = tab["emmean"] - 0.1, tab["emmean"] + 0.1
    ax = interaction_plot(tab, truth=lmmedu.truth(small).cell_means)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "gene B (truth)" in labels and "gene B (estimate)" in labels
    assert "log" in ax.get_ylabel() and ax.get_xlabel() == "treatment"
    matplotlib.pyplot.close(ax.figure)


def test_one_y_label_across_the_notebooks():
    # 01 and 02 label log lengths "log length (log µm)"; 03 and 04 use the same words for means.
    assert LOG_LABEL == "mean log length (log µm)"


def test_replicate_means_are_never_hidden_behind_the_cell_mean(small):
    ax = replicate_means_plot(small, truth=lmmedu.truth(small).cell_means)
    reps, cells = ax.collections[0], ax.collections[1]  # control: replicate dots, then cell means
    cell_x = cells.get_offsets()[:, 0]
    rep_x = reps.get_offsets()[:, 0]
    # Every replicate dot sits left of its cell mean, and the replicates of one cell do not share an x.
    gap = np.min(np.abs(rep_x[:, None] - cell_x[None, :]), axis=1)
    assert gap.min() > 0.03
    n_rep = small["replicate"].nunique()
    assert len(np.unique(np.round(rep_x, 6))) == len(rep_x) == n_rep * len(cell_x)
    assert ax.get_ylabel() == LOG_LABEL
    matplotlib.pyplot.close(ax.figure)


def test_drug_effects_plot_counts_intervals_that_exclude_zero(small):
    m = lmmedu.fit("log(length) ~ treatment*gene + (1 + treatment|replicate)", small)
    table = lmmedu.contrasts(lmmedu.emmeans(m, "treatment", by="gene"), "revpairwise")
    ax = drug_effects_plot(table, truth=lmmedu.truth(small).treatment_effects)
    excluded = int(((table["ci_low"] > 0) | (table["ci_high"] < 0)).sum())
    assert ax.get_title() == f"{excluded} of {len(table)} intervals exclude 0"
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"gene {g}" for g in table["gene"]]
    assert "log" in ax.get_ylabel()
    matplotlib.pyplot.close(ax.figure)
    with pytest.raises(ValueError, match="ci_low"):
        drug_effects_plot(table.drop(columns="ci_low"))


@pytest.fixture(scope="module")
def inter():
    return InteractionExplorer(seed=3, obs_per_replicate=SMALL_OBS)


def test_interaction_explorer_moves_only_the_right_coefficients(inter):
    inter.update(A=0.22, B=0.09, C=0.0)
    base = inter.update(A=0.22, B=0.09, C=0.0).table
    assert not base["moved"].any()
    np.testing.assert_allclose(base["truth"], lmmedu.truth(inter.simulate(inter.effects)).coefficients[base.index])

    # Gene B only: its interaction moves by exactly the change, nothing else moves.
    view = inter.update(B=0.39)
    tab = view.table
    assert tab.index[tab["moved"]].tolist() == ["treatment[T.drug]:gene[T.B]"]
    assert tab.loc["treatment[T.drug]:gene[T.B]", "estimate_change"] == pytest.approx(0.30, abs=1e-6)
    others = tab.drop(index="treatment[T.drug]:gene[T.B]")["estimate_change"].abs()
    assert others.max() < 1e-6

    # Gene A (the reference gene): its drug coefficient and every interaction move.
    tab = inter.update(A=0.02).table
    assert tab.loc["treatment[T.drug]", "estimate_change"] == pytest.approx(-0.20, abs=1e-6)
    for g in ("B", "C"):
        assert tab.loc[f"treatment[T.drug]:gene[T.{g}]", "estimate_change"] == pytest.approx(0.20, abs=1e-6)
    assert tab.loc[["Intercept", "gene[T.B]", "gene[T.C]"], "estimate_change"].abs().max() < 1e-6
    assert set(tab.index[tab["moved"]]) == {"treatment[T.drug]", "treatment[T.drug]:gene[T.B]",
                                           "treatment[T.drug]:gene[T.C]"}


def test_interaction_explorer_estimates_track_truth(inter):
    view = inter.update(A=0.1, B=-0.3, C=0.4)
    tab = view.table
    z = (tab["estimate"] - tab["truth"]) / tab["se"]
    assert z.abs().max() < 4
    assert view.model.coefs.loc["treatment[T.drug]:gene[T.C]", "estimate"] == pytest.approx(0.3, abs=0.15)


def test_interaction_widget_slider_ends_never_raise(inter):
    sliders = list(inter.sliders.values())
    assert all(not s.continuous_update for s in sliders)
    for s in sliders:
        for value in (s.min, s.max, s.value):
            s.value = value
            assert "<table>" in inter.table.value and inter.message.value == ""
            assert inter.result.effects == {g: w.value for g, w in inter.sliders.items()}
    for value in ("min", "max"):
        for s in sliders:
            s.value = getattr(s, value)
        assert "<table>" in inter.table.value
    assert widgets.app._HIGHLIGHT in inter.table.value


def test_interaction_explorer_bad_input(inter):
    with pytest.raises(ValueError, match="unknown gene"):
        inter.update(D=0.1)
    with pytest.raises(ValueError, match="finite"):
        inter.update(A=float("nan"))
    with pytest.raises(ValueError, match="seed"):
        InteractionExplorer(seed=1, treatment_effects=0.0)


# --------------------------------------------------------------------------------------
# Random slopes: false positives of the random-intercept model
# --------------------------------------------------------------------------------------

def test_random_slope_study_intercept_only_model_inflates_type_one_error():
    results = random_slope_p_values(n_sims=80, obs_per_replicate=50, replicate_treatment_sd=0.25, seed=2024)
    table = rates(results).set_index("analysis")
    assert table["n_sims"].tolist() == [80, 80]
    assert len(results) == 160
    intercept, slope = table.loc["(1|replicate)"], table.loc["(1+treatment|replicate)"]
    # Clearly above 0.05: the whole 95% interval lies above it.
    assert intercept["ci_low"] > 0.15
    # Near the nominal rate.
    assert slope["rate"] <= 0.12
    # Why: the intercept-only model claims a much smaller SE, with thousands of df.
    assert slope["median_se"] > 1.5 * intercept["median_se"]
    assert intercept["median_df"] > 100 > 20 > slope["median_df"]
    # Rates are the share of p-values below alpha.
    res = results[results["analysis"] == "(1|replicate)"]
    assert intercept["rejections"] == int((res["p"] < 0.05).sum())
    assert intercept["median_se"] == pytest.approx(res["se"].median())


def test_random_slope_study_is_reproducible_and_validates():
    a = random_slope_p_values(n_sims=2, obs_per_replicate=20, seed=7)
    b = random_slope_p_values(n_sims=2, obs_per_replicate=20, seed=7)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="n_sims"):
        random_slope_p_values(n_sims=0)
    with pytest.raises(ValueError, match="replicate_treatment_sd"):
        random_slope_p_values(n_sims=2, replicate_treatment_sd=-0.1)
    with pytest.raises(ValueError, match="alpha"):
        random_slope_rates(n_sims=2, alpha=1.5)


def test_random_slope_machine_slider_ends(monkeypatch):
    calls = []
    real = studies.random_slope_rates

    def cheap(**kwargs):
        calls.append(dict(kwargs))
        # The real study on the slider's settings, but only 2 experiments to stay quick.
        return real(**{**kwargs, "n_sims": 2})

    monkeypatch.setattr(studies, "random_slope_rates", cheap)
    machine = RandomSlopeMachine(obs_per_replicate=20)
    assert len(calls) == 0, "an app with a Run button must not simulate before it is pressed"
    for n in (machine.n_sims.min, machine.n_sims.max):
        for sd in (machine.replicate_treatment_sd.min, machine.replicate_treatment_sd.max):
            machine.n_sims.value, machine.replicate_treatment_sd.value = n, sd
            machine.button.click()
            assert machine.message.value == "", machine.message.value
            assert calls[-1]["n_sims"] == n and calls[-1]["replicate_treatment_sd"] == pytest.approx(sd)
            for row in machine.result.itertuples():
                assert f"<td>{row.rejections}</td>" in machine.table.value
            bar = machine.progress_bar
            assert bar.value == bar.max == 2 and not machine.button.disabled
    assert len(calls) == 4


def test_rates_plot_labels():
    table = random_slope_rates(n_sims=2, obs_per_replicate=20, seed=1)
    ax = rates_plot(table)
    assert ax.get_xlabel().startswith("false-positive rate")
    assert [t.get_text() for t in ax.get_yticklabels()] == list(SLOPE_STUDY_MODELS)
    matplotlib.pyplot.close(ax.figure)
