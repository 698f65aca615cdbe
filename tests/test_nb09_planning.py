"""Notebook 09 (planning an experiment): closed-form power, the tests on unit means, the studies and the planner.

The closed form is checked against statsmodels' power functions and against simulation (a binomial
test on the simulated power), the t-test on replicate means against the mixed model it stands for,
and the planner at its defaults and at every end of every control, without a browser.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from statsmodels.stats.power import TTestIndPower, TTestPower  # noqa: E402

import lmmedu  # noqa: E402
from lmmedu.teach import plots, studies  # noqa: E402
from lmmedu.teach.widgets import PowerPlanner, plan_readout  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _consistent(k, n, p, tail=0.001):
    """k rejections out of n are consistent with a rate p (exact binomial test)."""
    return stats.binomtest(int(k), int(n), p).pvalue > tail


# --- small conversions ------------------------------------------------------------------


def test_icc_and_percent_conversions_invert_each_other():
    for icc in (0.0, 0.02, 0.14, 0.5):
        assert studies.true_icc(studies.replicate_sd_for_icc(icc, 0.5), 0.5) == pytest.approx(icc, abs=1e-12)
    for pct in (-50.0, 0.0, 10.0, 80.0):
        assert studies.percent_from_effect(studies.effect_from_percent(pct)) == pytest.approx(pct, abs=1e-10)


@pytest.mark.parametrize("call, words", [
    (lambda: studies.replicate_sd_for_icc(1.0), "icc"),
    (lambda: studies.effect_from_percent(-100), "percent"),
    (lambda: studies.planned_power(design="crossed"), "design"),
    (lambda: studies.planned_power(n_replicates=1), "n_replicates"),
    (lambda: studies.planned_power(cells_per_replicate=1), "cells_per_replicate"),
    (lambda: studies.planned_power(cells_per_replicate=(10, 10)), "one per replicate"),
    (lambda: studies.planned_power(alpha=0.05, target=0.04), "target"),
    (lambda: studies.planned_power(residual_sd=0.0), "residual_sd"),
    (lambda: studies.replicate_power_study(points=[{"design": "between"}]), "design point"),
    (lambda: studies.array_power(1, 100, 0.02, weeks=(2, 4)), "arrays leave no df"),
])
def test_bad_input_gives_one_sentence(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# --- the closed form --------------------------------------------------------------------


def test_within_design_power_is_the_paired_t_test_power_of_statsmodels():
    plan = studies.planned_power(5, 400, 0.12, replicate_treatment_sd=0.1)
    sd_diff = math.sqrt(0.1**2 + 0.5**2 * (1 / 200 + 1 / 200))
    assert plan["se"] == pytest.approx(sd_diff / math.sqrt(5), rel=1e-12)
    assert plan["df"] == 4
    expected = TTestPower().power(effect_size=0.12 / sd_diff, nobs=5, alpha=0.05, alternative="two-sided")
    assert plan["power"] == pytest.approx(expected, abs=1e-8)


def test_between_design_power_is_the_two_sample_t_test_power_when_the_effect_does_not_vary():
    plan = studies.planned_power(8, 50, 0.3, design="between", replicate_sd=0.2, replicate_treatment_sd=0.0)
    sd_mean = math.sqrt(0.2**2 + 0.5**2 / 50)
    expected = TTestIndPower().power(effect_size=0.3 / sd_mean, nobs1=4, ratio=1.0, alpha=0.05,
                                     alternative="two-sided")
    assert plan["df"] == 6
    assert plan["power"] == pytest.approx(expected, abs=1e-8)
    # Kish's design effect of a between-replicate comparison.
    assert plan["design_effect"] == pytest.approx(studies.true_design_effect(0.2, 50), rel=1e-12)


def test_within_design_with_a_constant_effect_beats_independent_cells():
    # The replicate levels cancel from drug minus control: a design effect below 1.
    plan = studies.planned_power(4, 1000, 0.1, replicate_sd=0.3, replicate_treatment_sd=0.0)
    assert plan["design_effect"] < 1
    assert plan["n_effective"] > plan["n_cells"]


def test_minimum_detectable_effect_has_the_target_power_and_shrinks_with_replicates():
    mdes = []
    for n in (3, 4, 8, 16):
        plan = studies.planned_power(n, 2000, 0.1)
        again = studies.planned_power(n, 2000, plan["mde"])
        assert again["power"] == pytest.approx(0.8, abs=1e-6)
        assert plan["mde_percent"] == pytest.approx(100 * math.expm1(plan["mde"]), rel=1e-12)
        mdes.append(plan["mde"])
    assert all(a > b for a, b in zip(mdes, mdes[1:]))


def test_between_design_with_one_replicate_per_arm_has_no_test():
    plan = studies.planned_power(2, 1000, 0.2, design="between")
    assert math.isnan(plan["power"]) and math.isnan(plan["mde"])
    assert plan["problem"] == studies.design_problem(2, "between") != ""


def test_power_curves_collapse_once_the_effect_varies_between_replicates():
    curve = studies.power_curve(range(3, 13), (100, 1000, 10000, 1000000), 0.1, replicate_treatment_sd=0.1)
    wide = curve.pivot(index="n_replicates", columns="cells_per_replicate", values="power")
    assert (wide.diff().dropna() > 0).all().all(), "power must grow with replicates"
    assert (wide[1000000] - wide[1000]).max() < 0.06, "past 1,000 cells the curves lie on top of each other"
    assert (wide[1000] - wide[100]).max() > 0.1, "from 100 to 1,000 cells there is still a gain"
    summary = studies.power_curve_summary(curve, at=4)
    assert summary["power_low"] == pytest.approx(wide.loc[4, 100])
    assert summary["power_high"] == pytest.approx(wide.loc[4, 1000000])
    assert summary["needed"][1000] == int(wide.index[wide[1000] >= 0.8].min())
    # Without variation of the effect, cells do help: no collapse.
    flat = studies.power_curve([4], (100, 10000), 0.1, replicate_treatment_sd=0.0)
    assert flat["power"].iloc[1] - flat["power"].iloc[0] > 0.5


# --- the tests on unit means ------------------------------------------------------------


@pytest.mark.parametrize("design, formula", [
    ("between", "log(length) ~ treatment + (1|replicate)"),
    ("within", "log(length) ~ treatment + (1 + treatment|replicate)"),
])
def test_replicate_means_test_is_the_mixed_model_for_balanced_designs(design, formula):
    for seed in (5, 6):
        df = lmmedu.simulate_replicates(genes=("A",), n_replicates=6, obs_per_replicate=400, design=design,
                                        treatment_effects=0.1, replicate_treatment_sd=0.1, seed=seed)
        mixed = lmmedu.fit(formula, df)
        assert not mixed.singular
        c = mixed.coefs.loc["treatment[T.drug]"]
        row = studies.replicate_means_test(df)
        assert row["estimate"] == pytest.approx(c["estimate"], abs=1e-6)
        assert row["se"] == pytest.approx(c["se"], rel=1e-4)
        assert row["df"] == pytest.approx(c["df"], abs=0.01)
        assert row["p"] == pytest.approx(c["p"], abs=1e-4)


def test_naive_lm_test_is_lm_on_every_cell():
    df = lmmedu.simulate_replicates(genes=("A",), replicate_treatment_sd=0.1, treatment_effects=0.05, seed=2)
    lm = lmmedu.fit_lm("log(length) ~ treatment", df).coefs.loc["treatment[T.drug]"]
    row = studies.naive_lm_test(df)
    for key in ("estimate", "se", "df", "p"):
        assert row[key] == pytest.approx(lm[key], rel=1e-9, abs=1e-300)


def test_replicate_means_test_refuses_a_mixed_design_and_a_design_without_df():
    within = lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=20, seed=1)
    mixed_arms = within[~((within["replicate"] == "R1") & (within["treatment"] == "drug"))]
    with pytest.raises(ValueError, match="some replicates have both arms"):
        studies.replicate_means_test(mixed_arms)
    two = lmmedu.simulate_replicates(genes=("A",), n_replicates=2, obs_per_replicate=20, design="between", seed=1)
    with pytest.raises(ValueError, match="single replicate"):
        studies.replicate_means_test(two)


def test_unit_tests_read_plain_columns_as_categorical_ones_and_refuse_missing_units():
    df = lmmedu.simulate_replicates(genes=("A",), n_replicates=5, obs_per_replicate=30, seed=3)
    plain = df.astype({"replicate": str, "treatment": str})
    for test in (studies.replicate_means_test, studies.naive_lm_test):
        assert test(plain) == test(df)
    missing = df.astype({"replicate": object})
    missing.loc[0, "replicate"] = None
    with pytest.raises(ValueError, match="missing values"):
        studies.replicate_means_test(missing)
    with pytest.raises(ValueError, match="missing values"):
        studies.replicate_means_test(missing.astype({"replicate": "category"}))


# --- the studies ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def within_study():
    return studies.replicate_power_study(0.15, n_replicates=5, cells_per_replicate=200, replicate_treatment_sd=0.1,
                                         n_sims=300, seed=21)


def test_study_table_follows_the_contract(within_study):
    assert within_study.attrs["setting_columns"] == ["n_replicates", "cells_per_replicate", "effect"]
    assert list(within_study.columns[3:]) == list(studies.RATE_COLUMNS)
    assert within_study["analysis"].unique().tolist() == list(studies.PLAN_ANALYSES[:2])
    assert within_study.attrs["settings"]["replicate_treatment_sd"] == 0.1


def test_simulated_power_and_false_positives_match_the_closed_form(within_study):
    wide = studies.power_and_false_positives(within_study).set_index("analysis")
    means = wide.loc["t-test on replicate means"]
    plan = studies.planned_power(5, 200, 0.15, replicate_treatment_sd=0.1)
    assert _consistent(round(means["power"] * means["n_sims"]), means["n_sims"], plan["power"])
    assert _consistent(round(means["false_positive_rate"] * means["n_sims"]), means["n_sims"], 0.05)
    naive = wide.loc["naive lm"]
    assert naive["fp_low"] > 0.15, "counting cells ignores the variation of the effect: too many false positives"
    assert means["median_df"] == 4


def test_between_study_matches_the_closed_form_and_reports_no_test_with_two_replicates():
    table = studies.replicate_power_study(0.3, design="between", cells_per_replicate=50, replicate_treatment_sd=0.0,
                                          points=[{"n_replicates": 8}, {"n_replicates": 2}], n_sims=200, seed=3)
    wide = studies.power_and_false_positives(table)
    means = wide[(wide["analysis"] == "t-test on replicate means")].set_index("n_replicates")
    plan = studies.planned_power(8, 50, 0.3, design="between", replicate_treatment_sd=0.0)
    assert _consistent(round(means.loc[8, "power"] * 200), 200, plan["power"])
    assert means.loc[2, "n_sims"] == 0 and math.isnan(means.loc[2, "power"])


def test_mixed_model_option_adds_the_random_intercept_model():
    table = studies.replicate_power_study(0.1, cells_per_replicate=40, mixed=True, n_sims=4, seed=1)
    assert table["analysis"].unique().tolist() == list(studies.PLAN_ANALYSES)
    assert table.loc[table["analysis"] == "mixed model (1|replicate)", "n_sims"].eq(4).all()


def test_unbalanced_cells_per_replicate_pass_through():
    table = studies.replicate_power_study(0.1, cells_per_replicate=(100, 120, 180, 350), n_sims=3, seed=1)
    assert table["cells_per_replicate"].iloc[0] == (100, 120, 180, 350)
    plan = studies.planned_power(4, (100, 120, 180, 350), 0.1)
    assert plan["n_cells"] == 750


def test_power_alone_skips_the_no_effect_experiments_and_keeps_the_same_draws():
    points = [{"n_replicates": 4}, {"n_replicates": 6, "cells_per_replicate": 30}]
    both = studies.replicate_power_study(0.2, cells_per_replicate=40, points=points, n_sims=12, seed=3)
    alone = studies.replicate_power_study(0.2, cells_per_replicate=40, points=points, n_sims=12, seed=3,
                                          false_positives=False)
    assert alone["effect"].unique().tolist() == [0.2]
    pd.testing.assert_frame_equal(alone.reset_index(drop=True),
                                  both[both["effect"] == 0.2].reset_index(drop=True), check_like=True)
    wide = studies.power_and_false_positives(alone)
    full = studies.power_and_false_positives(both)
    assert wide["false_positive_rate"].isna().all() and wide["n_sims"].eq(12).all()
    for column in ("power", "power_low", "power_high"):
        assert wide[column].tolist() == full[column].tolist()
    with pytest.raises(ValueError, match="nothing to simulate"):
        studies.replicate_power_study(0.0, false_positives=False, n_sims=2)
    with pytest.raises(ValueError, match="True or False"):
        studies.replicate_power_study(0.2, false_positives="no", n_sims=2)


def test_effect_zero_runs_only_the_no_effect_experiments():
    table = studies.replicate_power_study(0.0, cells_per_replicate=20, n_sims=5)
    assert table["effect"].unique().tolist() == [0.0]
    wide = studies.power_and_false_positives(table)
    assert wide["power"].isna().all() and wide.attrs["effect"] == 0.0


# --- the array design -------------------------------------------------------------------


def test_balanced_array_layout_is_the_simulators():
    g, w = studies.array_planning._plan_array_layout(3, 0, (2, 4, 8, 12, 16), 0)
    sim = lmmedu.simulate_expression(n_probesets=2, n_dropped=0).drop_duplicates("sample")
    mine = sorted(zip(g.tolist(), np.round(w, 12).tolist()))
    theirs = sorted(zip(sim["genotype"].cat.codes.tolist(), np.round(sim["week"].to_numpy(), 12).tolist()))
    assert mine == theirs


def test_array_means_test_is_lm_on_array_means():
    data = lmmedu.simulate_expression(n_probesets=30, fixed_effects={"week:genotype": 0.03}, seed=4)
    means = data.groupby("sample", observed=True).agg(values=("values", "mean"), week=("week", "first"),
                                                      genotype=("genotype", "first")).reset_index()
    lm = lmmedu.fit_lm("values ~ week*genotype", means).coefs.loc["week:genotype[T.CSB]"]
    row = studies.array_means_test(data)
    for key in ("estimate", "se", "df", "p"):
        assert row[key] == pytest.approx(lm[key], rel=1e-8)


def test_array_closed_form_matches_simulation_and_probesets_barely_help():
    table = studies.array_power_study(0.02, n_probesets=20, mixed=False, n_sims=300, seed=8)
    wide = studies.power_and_false_positives(table).iloc[0]
    plan = studies.array_power(3, 20, 0.02, n_dropped=7).iloc[0]
    assert _consistent(round(wide["power"] * 300), 300, plan["power"], tail=1e-4)
    assert _consistent(round(wide["false_positive_rate"] * 300), 300, 0.05)
    curve = studies.array_power([3, 6], [1000, 18015, 100000], 0.02)
    by = curve.pivot(index="n_mice", columns="n_probesets", values="power")
    assert (by[100000] - by[1000]).max() < 0.05
    assert (by.loc[6] - by.loc[3]).min() > 0.1
    assert np.allclose(curve["power"], [studies.planning._plan_power(n, d, 0.05) for n, d in zip(curve["ncp"], curve["df"])])
    assert np.allclose(curve["mde"], [studies.planning._plan_ncp(d, 0.05, 0.8) * s
                                      for d, s in zip(curve["df"], curve["se"])], rtol=1e-7)


# --- plots ------------------------------------------------------------------------------


def test_power_curve_plot_titles_state_the_computed_finding():
    curve = studies.power_curve([3, 4, 8], (100, 1000000), 0.1)
    summary = studies.power_curve_summary(curve, at=4)
    ax = plots.power_curve_plot(curve, at=4)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert f"{summary['power_low']:.0%}" in ax.get_title() and f"{summary['power_high']:.0%}" in ax.get_title()
    assert "barely" not in ax.get_title()  # 100 vs a million cells still differ by more than 10 points here
    collapsed = studies.power_curve([3, 4, 8], (1000, 1000000), 0.1)
    assert "barely help" in plots.power_curve_plot(collapsed, at=4).get_title()


def test_power_rates_plot_marks_untestable_analyses():
    table = studies.replicate_power_study(0.2, design="between", n_replicates=2, cells_per_replicate=20, n_sims=5)
    ax = plots.power_rates_plot(studies.power_and_false_positives(table))
    assert any("not testable" in t.get_text() for t in ax.texts)
    assert ax.get_xlabel() == "share of experiments with p < 0.05"


# --- the planner ------------------------------------------------------------------------


def _check_result(app, settings):
    result = app.result
    assert result is not None and app.message.value == ""
    expected_plan = studies.planned_power(
        settings["n_replicates"], settings["cells_per_replicate"], studies.effect_from_percent(settings["percent"]),
        design=settings["design"], replicate_sd=studies.replicate_sd_for_icc(settings["icc"]),
        replicate_treatment_sd=settings["replicate_treatment_sd"])
    pd.testing.assert_series_equal(result.plan.drop("problem").astype(object),
                                   expected_plan.drop("problem").astype(object))
    assert "<table>" in app.table.value and app.plot.value[:4] == b"\x89PNG"
    for row in result.table.itertuples():
        assert row.analysis in app.table.value


def test_planner_default_preview_and_run_show_the_tested_functions():
    app = PowerPlanner()
    assert app.readout.value == plan_readout(**app.settings())
    assert "24%" in app.readout.value or f"{studies.planned_power(4, 2000, studies.effect_from_percent(10))['mde_percent']:.0f}%" in app.readout.value
    result = app.run(n_sims=30)
    _check_result(app, {**app.settings(), "n_sims": 30})
    expected = studies.power_and_false_positives(studies.replicate_power_study(
        studies.effect_from_percent(10), cells_per_replicate=2000, replicate_sd=studies.replicate_sd_for_icc(0.14),
        replicate_treatment_sd=0.1, n_sims=30, seed=app.seed))
    pd.testing.assert_frame_equal(result.table, expected)
    assert app.progress.value == app.progress.max == 60
    app.n_replicates.value = 6
    assert "Settings changed" in app.status.value


CONTROL_ENDS = {
    "n_replicates": ("min", "max"),
    "cells_per_replicate": ("first", "last"),
    "icc": ("min", "max"),
    "replicate_treatment_sd": ("min", "max"),
    "percent": ("min", "max"),
}


@pytest.mark.parametrize("design", ["within", "between"])
@pytest.mark.parametrize("name", list(CONTROL_ENDS))
@pytest.mark.parametrize("end", [0, 1])
def test_planner_never_crashes_at_a_control_end(design, name, end):
    app = PowerPlanner(design=design)
    control = getattr(app, name)
    which = CONTROL_ENDS[name][end]
    value = {"min": getattr(control, "min", None), "max": getattr(control, "max", None),
             "first": control.options[0] if hasattr(control, "options") else None,
             "last": control.options[-1] if hasattr(control, "options") else None}[which]
    control.value = value
    assert app.readout.value and app.message.value == ""
    # Few experiments: this checks that every end computes and shows, not the rates themselves.
    n_sims = 3 if (name, which) in (("n_replicates", "max"), ("cells_per_replicate", "last")) else 10
    app.run(n_sims=n_sims)
    _check_result(app, {**app.settings(), "n_sims": n_sims})
    if design == "between" and name == "n_replicates" and which == "min":
        assert "single replicate" in app.readout.value and "not testable" in app.table.value
    if name == "percent" and which == "min":
        assert result_has_no_power(app)


def result_has_no_power(app):
    return app.result.table["power"].isna().all() and "only false positives" in app.status.value


@pytest.mark.parametrize("n_sims", PowerPlanner.SIM_OPTIONS[:1])
def test_planner_runs_at_the_smallest_number_of_experiments(n_sims):
    app = PowerPlanner(cells_per_replicate=100)
    app.n_sims.value = n_sims
    app.run()
    assert int(app.result.table["n_sims"].iloc[0]) == n_sims


def test_ratio_of_icc_only_matters_in_the_between_design():
    low, high = (plan_readout(icc=v) for v in (0.0, 0.5))
    assert low.split("<br>")[-1] == high.split("<br>")[-1], "within: the ICC does not move the power"
    low_b, high_b = (plan_readout(design="between", icc=v) for v in (0.0, 0.5))
    assert low_b.split("<br>")[-1] != high_b.split("<br>")[-1]


def test_power_curve_summary_compares_the_lines_asked_for():
    curve = studies.power_curve([4], (100, 1000, 1000000), 0.1)
    s = studies.power_curve_summary(curve, at=4, compare=(1000, 1000000))
    assert (s["low"], s["high"]) == (1000, 1000000)
    assert s["power_low"] == pytest.approx(float(curve.loc[curve["cells_per_replicate"] == 1000, "power"].iloc[0]))
    with pytest.raises(ValueError, match="compare"):
        studies.power_curve_summary(curve, compare=(5, 1000))
    assert "barely help" in plots.power_curve_plot(curve, compare=(1000, 1000000)).get_title()


def test_array_means_test_is_the_mixed_model_with_probeset_slopes_and_an_array_effect():
    # The claim of the notebook: on a complete design (every array measures every probeset) the
    # interaction's test on array means is that of (week|probeset) + (1|sample).
    data = lmmedu.simulate_expression(n_probesets=60, fixed_effects={"week:genotype": 0.02}, seed=3)
    mixed = lmmedu.fit("values ~ week*genotype + (week|probeset) + (1|sample)", data)
    assert not mixed.singular
    c = mixed.coefs.loc["week:genotype[T.CSB]"]
    row = studies.array_means_test(data)
    assert row["estimate"] == pytest.approx(c["estimate"], abs=1e-9)
    assert row["se"] == pytest.approx(c["se"], rel=1e-4)
    assert row["df"] == pytest.approx(c["df"], abs=0.01)
    assert row["p"] == pytest.approx(c["p"], abs=1e-5)
