"""Notebook 07's pieces: Wald z vs Satterthwaite t, coverage, the selection study, residuals, the app.

The statistics are checked, not only the shapes: z and t share estimate and SE, the z p-value
is the normal one, coverage and rejection are dual, the selection analysis picks the model its
LRT says, residual tables reproduce the fit, and REML comparisons of different fixed effects are
refused while the hand-made REML statistic really does depend on the units of a predictor.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

import lmmedu
from lmmedu.teach.comparison import residual_means, residual_table
from lmmedu.teach.plots import (qq_plot, rates_at_setting_plot, rates_vs_setting_plot, residuals_by_group_plot,
                                residuals_vs_fitted_plot)
from lmmedu.teach.studies import (SATTERTHWAITE_T, SELECTION_ANALYSES, WALD_Z, coverage, icc_to_replicate_sd,
                                  rates, rates_and_coverage, selection_analyses, selection_study, simulate_groups,
                                  true_icc, wald_and_t_tests, wald_vs_t_study)
from lmmedu.teach.widgets import WaldVsTMachine, wald_vs_t_preview

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def zt():
    return wald_vs_t_study(n_groups=(4, 16), group_size=10, icc=0.3, n_sims=60, seed=5)


# --- the simulator -----------------------------------------------------------------


def test_icc_round_trip_and_bad_values():
    for icc in (0.0, 0.05, 0.5, 0.9):
        assert true_icc(icc_to_replicate_sd(icc)) == pytest.approx(icc)
    for bad in (-0.1, 1.0, "0.2", True):
        with pytest.raises(ValueError, match="icc"):
            icc_to_replicate_sd(bad)


def test_simulate_groups_design_and_truth():
    df = simulate_groups(np.random.default_rng(0), n_groups=6, group_size=8, icc=0.4, design="between", effect=0.3)
    t = lmmedu.truth(df)
    assert df.groupby("replicate", observed=True).size().tolist() == [8] * 6
    assert t.replicate_sd == pytest.approx(icc_to_replicate_sd(0.4))
    assert t.treatment_effects["A"] == 0.3
    # between design: every replicate holds one arm only
    assert (df.groupby("replicate", observed=True)["treatment"].nunique() == 1).all()


# --- Wald z and t --------------------------------------------------------------------


def test_wald_and_t_share_one_fit_and_match_statsmodels():
    data = simulate_groups(np.random.default_rng(2027), n_groups=4, group_size=20, icc=0.2)
    tests = wald_and_t_tests()
    z, t = tests[WALD_Z](data), tests[SATTERTHWAITE_T](data)
    assert z["estimate"] == t["estimate"] and z["se"] == t["se"]
    assert math.isinf(z["df"]) and t["df"] == pytest.approx(2.0, abs=0.05)
    assert z["p"] == pytest.approx(2 * stats.norm.sf(abs(z["estimate"] / z["se"])))
    assert z["p"] < t["p"]
    sm = smf.mixedlm("np.log(length) ~ treatment", data, groups="replicate").fit(reml=True)
    assert z["p"] == pytest.approx(float(sm.pvalues["treatment[T.drug]"]), rel=1e-3)


def test_fit_is_shared_between_the_two_analyses(monkeypatch):
    import lmmedu.teach.studies as studies

    calls = []
    real = studies.pvalues.fit
    monkeypatch.setattr(studies.pvalues, "fit", lambda *a, **k: calls.append(1) or real(*a, **k))
    data = simulate_groups(np.random.default_rng(1), n_groups=4, group_size=5)
    tests = wald_and_t_tests()
    tests[WALD_Z](data)
    tests[SATTERTHWAITE_T](data)
    assert len(calls) == 1


def test_z_rejects_more_than_t_with_few_groups(zt):
    table = rates_and_coverage(zt).set_index(["n_groups", "analysis"])
    # same experiments, same estimates and SEs: z rejects whenever t does, and more
    assert table.loc[(4, WALD_Z), "rejections"] > table.loc[(4, SATTERTHWAITE_T), "rejections"]
    assert table.loc[(4, SATTERTHWAITE_T), "median_df"] < table.loc[(16, SATTERTHWAITE_T), "median_df"]
    wide = zt.pivot_table(index=["n_groups", "sim"], columns="analysis", values="p")
    assert (wide[WALD_Z] <= wide[SATTERTHWAITE_T] + 1e-12).all()


def test_coverage_is_one_minus_rate_at_the_truth(zt):
    table = rates_and_coverage(zt)
    assert np.allclose(table["rate"] + table["coverage"], 1.0)
    assert (table["coverage_low"] <= table["coverage"]).all() and (table["coverage"] <= table["coverage_high"]).all()


def test_coverage_counts_by_hand():
    res = pd.DataFrame({"sim": [0, 1, 2], "analysis": "t", "estimate": [0.5, 1.5, 0.1], "se": 0.5,
                        "df": [3.0, 3.0, 3.0], "p": [0.4, 0.1, float("nan")], "singular": False,
                        "error": ["", "", "x"]})
    q = stats.t.ppf(0.975, 3)
    out = coverage(res, truth=0.0).iloc[0]
    assert out["n_intervals"] == 2 and out["covered"] == int(0.5 <= q * 0.5) + int(1.5 <= q * 0.5)
    with pytest.raises(ValueError, match="truth"):
        coverage(res)
    with pytest.raises(ValueError, match="run_study"):
        coverage(pd.DataFrame({"x": [1]}), truth=0)


def test_study_rejects_bad_settings():
    with pytest.raises(ValueError, match="n_groups"):
        wald_vs_t_study(n_groups=1, n_sims=2)
    with pytest.raises(ValueError, match="group_size"):
        wald_vs_t_study(group_size=0, n_sims=2)
    with pytest.raises(ValueError, match="icc"):
        wald_vs_t_study(icc=1.2, n_sims=2)
    with pytest.raises(ValueError, match="n_sims"):
        wald_vs_t_study(n_sims=0)


# --- choosing the random slope by a test ----------------------------------------------


def test_selection_follows_its_lrt():
    data = simulate_groups(np.random.default_rng(4), n_groups=5, group_size=40, design="within", slope_sd=0.3)
    out = {k: f(data) for k, f in selection_analyses().items()}
    assert list(out) == list(SELECTION_ANALYSES)
    small = lmmedu.fit("log(length) ~ treatment + (1|replicate)", data)
    big = lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", data)
    p_lrt = float(lmmedu.anova(small, big)["p"].iloc[1])
    assert out["LRT of the random slope"]["p"] == pytest.approx(p_lrt)
    kept = "random slope always" if p_lrt < 0.05 else "random intercept only"
    assert out["slope kept if LRT p < 0.05"]["p"] == out[kept]["p"]


def test_selection_study_table():
    res = selection_study(n_groups=4, group_size=20, n_sims=3, seed=1)
    table = rates(res)
    assert table["analysis"].tolist() == list(SELECTION_ANALYSES)
    assert res.attrs["settings"]["truth"] == 0.0
    with pytest.raises(ValueError, match="slope_sd"):
        selection_study(slope_sd=-1, n_sims=1)
    with pytest.raises(ValueError, match="n_groups"):
        selection_study(n_groups=2, n_sims=1)


# --- REML comparisons (the notebook's Exercise 2, checked here) -------------------------


def test_reml_comparison_is_refused_and_depends_on_units():
    expr = lmmedu.simulate_expression(n_probesets=40, seed=3)
    small_f, big_f = "values ~ week + genotype + (1|probeset)", "values ~ week*genotype + (1|probeset)"
    with pytest.raises(ValueError, match="REML"):
        lmmedu.anova(lmmedu.fit(small_f, expr), lmmedu.fit(big_f, expr))
    stat = {}
    for scale in (1.0, 100.0):
        d = expr.assign(week=expr["week"] * scale)
        ml = 2 * (lmmedu.fit(big_f, d, reml=False).loglik - lmmedu.fit(small_f, d, reml=False).loglik)
        reml = 2 * (lmmedu.fit(big_f, d).loglik - lmmedu.fit(small_f, d).loglik)
        stat[scale] = (ml, reml)
    assert stat[1.0][0] == pytest.approx(stat[100.0][0], abs=1e-6)
    # one more column involving week: the REML difference shifts by -2 log(scale)
    assert stat[100.0][1] - stat[1.0][1] == pytest.approx(-2 * math.log(100.0), abs=1e-3)


# --- residuals ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slope_data():
    return simulate_groups(np.random.default_rng(11), n_groups=5, group_size=200, design="within", effect=0.2,
                           slope_sd=0.3)


def test_residual_table_reproduces_the_fit(slope_data):
    m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", slope_data)
    tab = residual_table(m, by="treatment")
    assert np.allclose(tab["fitted"] + tab["residual"], np.log(slope_data["length"]))
    assert np.allclose(tab["scaled"], tab["residual"] / m.sigma)
    assert tab["group"].tolist() == slope_data["replicate"].tolist()
    assert np.all(np.diff(tab.sort_values("scaled")["normal_quantile"]) > 0)
    lm_fit = lmmedu.fit_lm("log(length) ~ treatment", slope_data)
    lm_tab = residual_table(lm_fit, group=slope_data["replicate"])
    assert "by" not in lm_tab and lm_tab["group"].nunique() == 5
    with pytest.raises(ValueError, match="not a column"):
        residual_table(m, by="colour")
    with pytest.raises(ValueError, match="not a column"):
        residual_table(lm_fit, group="replicate")
    with pytest.raises(ValueError, match="one per row"):
        residual_table(lm_fit, group=[1, 2, 3])
    with pytest.raises(ValueError, match="lmmedu.fit"):
        residual_table("a fit")


def test_missing_slope_shows_in_residual_means(slope_data):
    means = {}
    for name, formula in (("int", "log(length) ~ treatment + (1|replicate)"),
                          ("slope", "log(length) ~ treatment + (1 + treatment|replicate)")):
        means[name] = residual_means(residual_table(lmmedu.fit(formula, slope_data), by="treatment"))
    rms = {k: float(np.sqrt((m["mean_residual"] ** 2).mean())) for k, m in means.items()}
    assert rms["int"] > 2 * rms["slope"]
    # a random intercept centres each replicate's residuals as a whole
    by_group = residual_table(lmmedu.fit("log(length) ~ treatment + (1|replicate)", slope_data)).groupby("group")
    assert by_group["residual"].mean().abs().max() < means["int"]["mean_residual"].abs().max()


# --- plots: ax in, ax out -----------------------------------------------------------------


def test_plots_return_axes(zt, slope_data):
    import matplotlib.pyplot as plt

    table = rates_and_coverage(zt)
    axes = rates_vs_setting_plot(table)
    assert len(axes) == 2 and axes[0].get_xscale() == "log"
    one = table[table["n_groups"] == 4]
    ax = rates_at_setting_plot(one, "coverage")
    assert "contain the truth" in ax.get_xlabel()
    with pytest.raises(ValueError, match="column"):
        rates_at_setting_plot(one, "power")
    tab = residual_table(lmmedu.fit("log(length) ~ treatment + (1|replicate)", slope_data), by="treatment")
    assert residuals_vs_fitted_plot(tab).get_ylabel().startswith("residual")
    assert qq_plot(tab).get_xlabel().startswith("normal quantile")
    assert len(residuals_by_group_plot(tab, max_groups=3)) == 3
    plt.close("all")


# --- the app -----------------------------------------------------------------------------


def test_preview_is_cheap_text_at_every_end():
    assert "about 2 df" in wald_vs_t_preview(4, 20, 0.2)
    assert "no df" in wald_vs_t_preview(2, 20, 0.2)
    assert "singular" in wald_vs_t_preview(6, 2, 0.0)
    assert "38 df" in wald_vs_t_preview(40, 200, 0.9)


def test_app_default_and_slider_ends():
    app = WaldVsTMachine(n_sims=6)
    assert app.result is None and "about 2 df" in app.readout.value  # preview only: a Run button app
    app.n_groups.value = 6
    assert app.result is None and "about 4 df" in app.readout.value
    result = app.run()
    assert result is app.result and result.table["analysis"].tolist() == [WALD_Z, SATTERTHWAITE_T]
    assert result.figure[:4] == b"\x89PNG" and "<table" in app.table.value and app.message.value == ""
    ends = [dict(n_groups=2, group_size=2, icc=0.0), dict(n_groups=40, group_size=200, icc=0.9),
            dict(n_groups=2, group_size=200, icc=0.9), dict(n_groups=40, group_size=2, icc=0.0)]
    for setting in ends:
        for name, value in setting.items():
            getattr(app, name).value = value
        out = app.run()
        assert out is not None, app.message.value
        assert app.message.value == ""
        if setting["n_groups"] == 2:
            # one replicate per arm: t has nothing to test with, z still prints p-values
            rows = out.table.set_index("analysis")
            assert rows.loc[SATTERTHWAITE_T, "n_sims"] == 0 and rows.loc[WALD_Z, "n_sims"] > 0
            assert "no usable test" in out.summary


def test_app_reports_an_impossible_setting_without_raising():
    app = WaldVsTMachine(n_sims=2)
    assert app.run(icc=1.0) is None
    assert "icc" in app.message.value


def test_spread_ratio_sees_the_funnel_of_the_raw_scale(slope_data):
    from lmmedu.teach.comparison import residual_spread_ratio

    raw = residual_table(lmmedu.fit("length ~ treatment + (1|replicate)", slope_data))
    logged = residual_table(lmmedu.fit("log(length) ~ treatment + (1|replicate)", slope_data))
    assert residual_spread_ratio(raw) > 1.2 > residual_spread_ratio(logged) > 0.8
    assert raw.attrs["response"] == "length" and logged.attrs["response"] == "log(length)"
