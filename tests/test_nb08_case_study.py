"""Notebook 08 (the expression experiment at full scale): its study, its numbers and its figures.

The statistics are checked, not only the shapes: the smaller copies of the experiment must keep
the standard errors of the interaction whatever their number of probesets, the model without an
array effect must find the (absent) interaction far too often and the model with one about 5% of
the time, and the seed the notebook uses must tell the story the notebook tells.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import lmmedu  # noqa: E402
from lmmedu.teach import plots  # noqa: E402
from lmmedu.stats.bootstrap import bootstrap_p  # noqa: E402
from lmmedu.teach.studies import (  # noqa: E402
    EXPRESSION_MODELS,
    FULL_PROBESETS,
    REFEREE_COLUMNS,
    array_spread,
    interaction_referee,
    interaction_study,
    load_study,
    rates,
    reduced_expression_settings,
    referee_bootstrap_study,
    residual_means,
    without_interaction,
)

TERM = "week:genotype[T.CSB]"
ARRAY_MODEL = "(week|probeset) + (1|sample)"


# --- reduced_expression_settings ---------------------------------------------------------------

def test_smaller_copies_keep_the_noise_of_an_array_average():
    for n in (50, 300, 5000):
        s = reduced_expression_settings(n)
        for name, full in (("probeset_sd", 2.27), ("probeset_week_sd", 0.071), ("residual_sd", 0.217)):
            assert s[name] ** 2 / n == pytest.approx(full ** 2 / FULL_PROBESETS, rel=1e-12)
        assert s["sample_sd"] == 0.02 and s["n_probesets"] == n
    assert reduced_expression_settings(FULL_PROBESETS)["residual_sd"] == pytest.approx(0.217)
    assert reduced_expression_settings(100, residual_sd=0.5)["residual_sd"] == pytest.approx(
        0.5 * math.sqrt(100 / FULL_PROBESETS))


@pytest.mark.parametrize("kwargs, word", [
    ({"n_probesets": 20000}, "must not exceed"),
    ({"n_probesets": 1}, "at least 2"),
    ({"n_probesets": 2.5}, "integer"),
    ({"sample_sd": -1}, "sample_sd"),
    ({"residual_sd": float("nan")}, "residual_sd"),
    ({"noise": 1.0}, "unknown setting"),
])
def test_smaller_copies_refuse_bad_settings_in_one_sentence(kwargs, word):
    with pytest.raises(ValueError, match=word):
        reduced_expression_settings(**kwargs)


# --- interaction_study ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study():
    seen = []
    res = interaction_study(n_sims=20, n_probesets=200, seed=3, progress=lambda done, total: seen.append((done, total)))
    return res, seen


def test_study_table_follows_the_contract(study):
    res, seen = study
    assert list(res.columns) == ["sim", "analysis", "estimate", "se", "df", "p", "singular", "error"]
    assert res["analysis"].unique().tolist() == list(EXPRESSION_MODELS)
    assert len(res) == 20 * len(EXPRESSION_MODELS)
    assert res.attrs["truth"] == 0.0 and res.attrs["term"] == TERM
    assert res.attrs["settings"]["n_probesets"] == 200 and res.attrs["settings"]["n_sims"] == 20
    assert seen[-1] == (20, 20) and [d for d, _ in seen] == list(range(1, 21))
    assert (res["error"] == "").all()


def test_the_same_experiment_gives_every_model_the_same_estimate(study):
    # Every probeset sits on every array: all three models estimate the interaction from the array averages alike.
    res, _ = study
    wide = res.pivot(index="sim", columns="analysis", values="estimate")
    assert np.allclose(wide.to_numpy(), wide[["lm"]].to_numpy(), atol=1e-8)


def test_without_the_array_the_absent_interaction_is_found_far_too_often(study):
    res, _ = study
    table = rates(res).set_index("analysis")
    probe = table.loc["(week|probeset)"]
    assert probe["rate"] > 0.5, "the model without an array effect should reject far more than 5% of the time"
    assert probe["median_df"] > 1000
    array = table.loc[ARRAY_MODEL]
    assert stats.binomtest(int(array["rejections"]), int(array["n_sims"]), 0.05).pvalue > 0.001
    # df of a between-array comparison: 23 arrays minus the 4 fixed effects, about.
    assert 15 < array["median_df"] < 23
    assert table.loc["lm", "rate"] < probe["rate"]


def test_smaller_copies_of_different_sizes_have_the_same_standard_errors():
    # The point of the scaling: the SE of the interaction does not depend on how many probesets the copy has.
    models = {"lm": EXPRESSION_MODELS["lm"], ARRAY_MODEL: EXPRESSION_MODELS[ARRAY_MODEL]}
    small = rates(interaction_study(n_sims=6, n_probesets=100, seed=5, models=models)).set_index("analysis")
    large = rates(interaction_study(n_sims=6, n_probesets=1200, seed=5, models=models)).set_index("analysis")
    for name in models:
        assert small.loc[name, "median_se"] == pytest.approx(large.loc[name, "median_se"], rel=0.15), name


def test_study_refuses_bad_models():
    with pytest.raises(ValueError, match="models must be"):
        interaction_study(n_sims=1, models={})
    with pytest.raises(ValueError, match="models must be"):
        interaction_study(n_sims=1, models={"lm": 3})


# --- the referee: every test of the interaction side by side -------------------------------------

MIXED = [name for name in EXPRESSION_MODELS if name != "lm"]


def referee_fits(df):
    return {name: (lmmedu.fit(EXPRESSION_MODELS[name], df),
                   lmmedu.fit(without_interaction(EXPRESSION_MODELS[name]), df, reml=False),
                   lmmedu.fit(EXPRESSION_MODELS[name], df, reml=False)) for name in MIXED}


@pytest.fixture(scope="module")
def copy_referee():
    df = lmmedu.simulate_expression(n_probesets=60, seed=2)  # probeset SDs as posted: no singular fit
    lm = lmmedu.fit_lm(EXPRESSION_MODELS["lm"], df)
    fits = referee_fits(df)
    return df, lm, fits, interaction_referee(lm, fits, n_boot=19, seed=3)


def test_referee_table_is_each_tests_own_answer(copy_referee):
    _, lm, fits, tab = copy_referee
    assert tuple(tab.columns) == REFEREE_COLUMNS
    assert tab["model"].tolist() == ["lm"] + [m for m in MIXED for _ in range(4)]
    by = tab.set_index(["model", "test"])
    # The lm's 1-df F test is its t-test squared, with the residual df.
    lm_coef = lm.coefs.loc[TERM]
    assert by.loc[("lm", "lm F"), "statistic"] == pytest.approx(lm_coef["t"] ** 2, rel=1e-10)
    assert by.loc[("lm", "lm F"), "p"] == pytest.approx(lm_coef["p"], rel=1e-8)
    assert by.loc[("lm", "lm F"), "den_df"] == lm.df_resid
    for name, (reml, small, big) in fits.items():
        lrt = lmmedu.anova(small, big)
        chi = by.loc[(name, "chi-square LRT (ML)")]
        assert (chi["statistic"], chi["num_df"], chi["p"]) == (lrt["Chisq"].iloc[1], 1.0, lrt["p"].iloc[1])
        assert chi["den_df"] == math.inf  # the chi-square is the F test with unlimited denominator df
        boot = by.loc[(name, "parametric bootstrap (ML)")]
        # The same simulations as lmmedu.anova(small, big, method="bootstrap") with the same n and seed.
        assert boot["p"] == lmmedu.anova(small, big, method="bootstrap", n=19, seed=3)["p_boot"].iloc[1]
        assert math.isnan(boot["den_df"]) and boot["statistic"] == chi["statistic"]
        # A 1-df F test with Satterthwaite df is the t-test of the REML coefficient table.
        sat = by.loc[(name, "Satterthwaite F (REML)")]
        coef = reml.coefs.loc[TERM]
        assert sat["statistic"] == pytest.approx(coef["t"] ** 2, rel=1e-8)
        assert sat["den_df"] == pytest.approx(coef["df"], rel=1e-6) and sat["p"] == pytest.approx(coef["p"], rel=1e-6)
        kr = lmmedu.anova(reml, terms="week:genotype", ddf="kenward-roger").iloc[0]
        assert by.loc[(name, "Kenward-Roger F (REML)"), "den_df"] == kr["den_df"]
        info = tab.attrs["bootstrap"][name]
        assert info["n"] == 19 and info["mc_low"] <= boot["p"] <= info["mc_high"]
        assert boot["p"] == pytest.approx((1 + info["hits"]) / 20)


def test_referee_uses_simulations_it_is_given(copy_referee):
    _, lm, fits, tab = copy_referee
    name = MIXED[0]
    observed = tab.set_index(["model", "test"]).loc[(name, "chi-square LRT (ML)"), "statistic"]
    given = {name: [observed + 1.0, observed - 1.0, 0.0, np.nan]}
    again = interaction_referee(lm, {name: fits[name]}, simulated_lrt=given)
    assert again.set_index("test").loc["parametric bootstrap (ML)", "p"] == pytest.approx(2 / 4)
    assert again.attrs["bootstrap"][name]["n"] == 3


def test_referee_refuses_what_it_cannot_compare(copy_referee):
    df, lm, fits, _ = copy_referee
    reml, small, big = fits[ARRAY_MODEL]
    with pytest.raises(ValueError, match="lm made by lmmedu.fit_lm"):
        interaction_referee(reml, fits)
    with pytest.raises(ValueError, match="three fits"):
        interaction_referee(lm, {"m": (reml, small)})
    with pytest.raises(ValueError, match="REML"):
        interaction_referee(lm, {"m": (big, small, big)})
    with pytest.raises(ValueError, match="REML"):  # anova refuses a REML fit in a likelihood-ratio test of fixed effects
        interaction_referee(lm, {"m": (reml, small, reml)})
    with pytest.raises(ValueError, match="not in fits"):
        interaction_referee(lm, {ARRAY_MODEL: fits[ARRAY_MODEL]}, simulated_lrt={"other": [1.0]})
    with pytest.raises(ValueError, match="week\\*genotype"):
        without_interaction("values ~ week + genotype")


def test_referee_study_is_the_bootstrap_of_anova():
    models = {"m": "values ~ week*genotype + (1|probeset)"}
    seen = []
    res = referee_bootstrap_study(n_sims=5, seed=1, data_seed=3, n_probesets=40, models=models,
                                  progress=lambda done, total: seen.append((done, total)))
    assert list(res.columns) == ["sim", "analysis", "estimate", "se", "df", "p", "singular", "error"]
    assert seen[-1] == (5, 5)
    df = lmmedu.simulate_expression(n_probesets=40, seed=3)
    small = lmmedu.fit("values ~ week + genotype + (1|probeset)", df, reml=False)
    big = lmmedu.fit(models["m"], df, reml=False)
    tab = lmmedu.anova(small, big, method="bootstrap", n=5, seed=1)
    assert bootstrap_p(tab["Chisq"].iloc[1], res["estimate"])["p"] == tab["p_boot"].iloc[1]
    assert res.attrs["observed"]["m"] == pytest.approx(tab["Chisq"].iloc[1], rel=1e-12)
    assert np.allclose(res["p"], stats.chi2.sf(res["estimate"].clip(lower=0), 1))
    with pytest.raises(ValueError, match="at least one mixed model"):
        referee_bootstrap_study(n_sims=1, models={"lm": EXPRESSION_MODELS["lm"]})


REFEREE_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "expression_referee" / "expression_referee.json"


def test_referee_table_matches_r_on_a_subsample():
    """lm F, Satterthwaite and Kenward-Roger F, the chi-square LRT against lm/lmerTest/pbkrtest to R's printed
    precision (1e-4 relative on F and df: two optimisers' REML optima); the bootstrap p against PBmodcomp's over
    all its simulations within Monte Carlo error (4 binomial SEs of the difference, plus each one's 1/(n + 1) floor),
    with fewer simulations here to keep the test short."""
    fx = json.loads(REFEREE_FIXTURE.read_text(encoding="utf-8"))
    root = REFEREE_FIXTURE.parents[3]
    assert hashlib.md5((root / fx["data_file"]).read_bytes()).hexdigest() == fx["data_md5"]
    df = lmmedu.load_expression_small()
    keep = sorted(df["probeset"].astype(str).unique())[:fx["n_probesets"]]
    sub = df[df["probeset"].astype(str).isin(keep)].copy()
    sub["probeset"] = sub["probeset"].cat.remove_unused_categories()
    assert len(sub) == fx["nobs"]
    n_boot = 60
    tab = interaction_referee(lmmedu.fit_lm(EXPRESSION_MODELS["lm"], sub), referee_fits(sub), n_boot=n_boot, seed=1)
    by = tab.set_index(["model", "test"])
    lm_row = by.loc[("lm", "lm F")]
    assert lm_row["statistic"] == pytest.approx(fx["lm"]["F"], rel=1e-8)
    assert lm_row["den_df"] == fx["lm"]["den_df"] and lm_row["p"] == pytest.approx(fx["lm"]["p"], rel=1e-8)
    for name, r in fx["models"].items():
        for test, key in (("Satterthwaite F (REML)", "satterthwaite"), ("Kenward-Roger F (REML)", "kenward_roger")):
            row = by.loc[(name, test)]
            assert row["statistic"] == pytest.approx(r[key]["F"], rel=1e-4), (name, test)
            assert row["den_df"] == pytest.approx(r[key]["den_df"], rel=1e-4), (name, test)
            assert row["p"] == pytest.approx(r[key]["p"], rel=1e-3, abs=1e-12), (name, test)
        chi = by.loc[(name, "chi-square LRT (ML)")]
        assert chi["statistic"] == pytest.approx(r["chisq"]["LRT"], rel=1e-5, abs=1e-6)
        assert chi["p"] == pytest.approx(r["chisq"]["p"], rel=1e-4, abs=1e-12)
        boot = r["bootstrap"]
        ours = by.loc[(name, "parametric bootstrap (ML)"), "p"]
        theirs, n_theirs = boot["p_all"], boot["nsim_used"]
        pool = (ours + theirs) / 2
        se = math.sqrt(pool * (1 - pool) * (1 / n_boot + 1 / n_theirs))
        assert abs(ours - theirs) <= 4 * se + 1 / (n_boot + 1) + 1 / (n_theirs + 1), (name, ours, theirs)


# --- residual_means and array_spread -------------------------------------------------------------

@pytest.fixture(scope="module")
def small_expression():
    # A smaller copy, so that an array's average is as precise as in the full experiment.
    return lmmedu.simulate_expression(**reduced_expression_settings(60), seed=2)


def test_residual_means_are_group_averages(small_expression):
    df = small_expression
    res = np.random.default_rng(0).normal(size=len(df))
    cells = residual_means(df, res)
    manual = pd.Series(res, index=df.index).groupby([df["genotype"], df["weeks"]], observed=True).mean()
    assert np.allclose(cells["mean_residual"].to_numpy(), manual.to_numpy())
    assert list(cells.columns) == ["genotype", "weeks", "n_rows", "mean_residual"]
    arrays = residual_means(df, res, by=["sample", "genotype", "weeks"])
    assert len(arrays) == df["sample"].nunique() and (arrays["n_rows"] == 60).all()


def test_residual_means_refuse_mismatched_input(small_expression):
    with pytest.raises(ValueError, match="rows"):
        residual_means(small_expression, np.zeros(5))
    with pytest.raises(ValueError, match="columns"):
        residual_means(small_expression, np.zeros(len(small_expression)), by=["mouse"])
    with pytest.raises(ValueError, match="DataFrame"):
        residual_means([1, 2], [1, 2])


def test_array_spread_is_the_pooled_sd_within_cells():
    a = pd.DataFrame({"genotype": ["x"] * 3 + ["y"] * 2, "weeks": 2, "mean_residual": [1.0, 2.0, 6.0, 0.0, 2.0]})
    ss = ((np.array([1, 2, 6]) - 3) ** 2).sum() + ((np.array([0, 2]) - 1) ** 2).sum()
    assert array_spread(a) == pytest.approx(math.sqrt(ss / (5 - 2)))
    assert math.isnan(array_spread(a.groupby("genotype").head(1)))
    with pytest.raises(ValueError, match="column"):
        array_spread(a.drop(columns="weeks"))


def test_array_averages_recover_the_true_array_shifts(small_expression):
    # What the notebook's dots show: an array's average residual is its true shift plus a common trend.
    df = small_expression
    t = lmmedu.truth(df)
    m = lmmedu.fit("values ~ 1 + (week|probeset)", df, reml=False)
    arrays = residual_means(df, m.residuals(), by=["sample", "genotype", "weeks"]).set_index("sample")
    fitted_cells = arrays.groupby(["genotype", "weeks"], observed=True)["mean_residual"].transform("mean")
    true = t.sample_effects.reindex(arrays.index)
    true_cells = true.groupby([arrays["genotype"], arrays["weeks"]], observed=True).transform("mean")
    assert np.corrcoef(arrays["mean_residual"] - fitted_cells, true - true_cells)[0, 1] > 0.9


# --- figures ---------------------------------------------------------------------------------------

def test_residual_pattern_plot_centres_each_strain_and_states_the_spread(small_expression):
    df = small_expression
    res = np.random.default_rng(1).normal(scale=0.1, size=len(df))
    cells = residual_means(df, res)
    arrays = residual_means(df, res, by=["sample", "genotype", "weeks"])
    ax = plots.residual_pattern_plot(cells, arrays=arrays, truth_cells=cells)
    assert f"{array_spread(arrays):.3f}" in ax.get_title()
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-" and len(line.get_xdata()) > 2]
    assert len(solid) == 2 and all(abs(np.mean(line.get_ydata())) < 1e-12 for line in solid)
    assert "expression units" in ax.get_ylabel() and ax.get_xlabel() == "age (weeks)"
    plt.close(ax.figure)
    raw = plots.residual_pattern_plot(cells, center=False)
    b6 = cells[cells["genotype"] == "B6"].sort_values("weeks")["mean_residual"].to_numpy()
    assert np.allclose(raw.get_lines()[0].get_ydata(), b6)
    plt.close(raw.figure)


def test_analysis_rates_plot_draws_one_setting():
    r = pd.DataFrame({"analysis": ["a", "b"], "rate": [0.1, 0.8], "ci_low": [0.05, 0.7], "ci_high": [0.2, 0.9],
                      "n_sims": [40, 40]})
    ax = plots.analysis_rates_plot(r)
    assert ax.get_title().startswith("b: 80% false positives")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="one setting"):
        plots.analysis_rates_plot(pd.concat([r, r]))


# --- the notebook's first example ------------------------------------------------------------------

def test_the_notebooks_data_set_tells_the_story_it_tells():
    # Notebook 08 uses seed 6: lm not significant, (week|probeset) overwhelming, + (1|sample) not significant,
    # with df on the scale of the 23 arrays. If the simulator or the engine changes this, the prose must change.
    df = lmmedu.simulate_expression(seed=6)
    assert df.shape[0] == 414_345 and df["probeset"].nunique() == 18_015 and df["sample"].nunique() == 23
    lm = lmmedu.fit_lm(EXPRESSION_MODELS["lm"], df).coefs.loc[TERM]
    # t-tests come from REML fits, as the notebook reports them (ML only for its likelihood-ratio test).
    probe = lmmedu.fit(EXPRESSION_MODELS["(week|probeset)"], df).coefs.loc[TERM]
    array = lmmedu.fit(EXPRESSION_MODELS[ARRAY_MODEL], df).coefs.loc[TERM]
    assert lm["p"] > 0.2 and probe["p"] < 1e-8 and array["p"] > 0.2
    assert array["se"] / probe["se"] > 5
    assert 15 < array["df"] < 30 and probe["df"] > 100_000
    # With every probeset on every array the REML array model is the lm on the 23 array means (exercise 2
    # says "equal"): same estimate, SE, df and p. 1e-3 relative: the REML optimum, not the algebra, limits it.
    means = df.groupby(["sample", "genotype", "week"], observed=True, as_index=False)["values"].mean()
    on_means = lmmedu.fit_lm("values ~ week*genotype", means).coefs.loc[TERM]
    for col in ("estimate", "se", "df", "p"):
        assert array[col] == pytest.approx(on_means[col], rel=1e-3), col
