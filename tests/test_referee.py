"""Notebook 07's referee and boundary sections: every p-value of the drug, the test of a variance, against R.

The R numbers come from tests/r/make_referee_fixtures.R (lme4, lmerTest, pbkrtest) on the experiment in
tests/fixtures/referee/experiment.csv, which is notebook 07's own simulated experiment at 6 significant digits.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lmmedu
from lmmedu.data.datasets import FLOAT_FORMAT
from lmmedu.stats.bootstrap import pb_modcomp
from lmmedu.teach.comparison import (LM_ROW, REFEREE_MODELS, REFEREE_TESTS, lrt_tails, mixture_p_value, referee_table,
                                     variance_test_table)
from lmmedu.teach.studies import referee_analyses, referee_study, simulate_groups

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "referee"
CELLS = "log(length) ~ treatment + (1|replicate) + (1|replicate:treatment)"
NO_CELLS = "log(length) ~ treatment + (1|replicate)"


def _notebook_experiment():
    return simulate_groups(np.random.default_rng(7), n_groups=4, group_size=100, icc=0.2, design="within",
                           slope_sd=0.15)


@pytest.fixture(scope="module")
def r_ref():
    return json.loads((FIXTURES / "referee.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def experiment(r_ref):
    raw = (FIXTURES / "experiment.csv").read_bytes()
    assert hashlib.md5(raw).hexdigest() == r_ref["data_md5"]  # R fitted exactly this file
    d = pd.read_csv(FIXTURES / "experiment.csv")
    d["replicate"] = pd.Categorical(d["replicate"], categories=["R1", "R2", "R3", "R4"])
    d["treatment"] = pd.Categorical(d["treatment"], categories=["control", "drug"])
    return d


@pytest.fixture(scope="module")
def table(experiment):
    return referee_table(experiment, n_boot=500, seed=1)


def _mc_tolerance(p, n):
    # Two independent bootstraps of n simulations each: the p-values differ by Monte Carlo error alone; 4 standard
    # errors of the difference plus the resolution 1/(n+1) of each p-value.
    return 4 * math.sqrt(2 * p * (1 - p) / n) + 2 / (n + 1)


def test_the_fixture_is_notebook_07s_experiment():
    d = _notebook_experiment()[["replicate", "treatment", "length"]]
    text = d.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    assert text == (FIXTURES / "experiment.csv").read_text(encoding="utf-8")


def test_referee_table_matches_lme4_lmertest_and_pbkrtest(table, r_ref):
    t = table.set_index(["model", "test"])
    lm = t.loc[LM_ROW]
    # lm: closed form, same data: agreement to R's printing precision.
    assert lm["statistic"] == pytest.approx(r_ref["lm"]["F"], rel=1e-6)
    assert lm["den_df"] == r_ref["lm"]["df_resid"]
    assert lm["p"] == pytest.approx(r_ref["lm"]["p"], rel=1e-5)
    for label, key in (("random intercept only", "random_intercept_only"), ("random slope", "random_slope")):
        r = r_ref["models"][key]
        chi = t.loc[(label, "chi-square LRT (ML)")]
        # Both optimisers stop at 1e-6-ish in the deviance: the LRT agrees to about that, its p relatively too.
        assert chi["statistic"] == pytest.approx(r["lrt"]["Chisq"], abs=1e-4)
        assert chi["p"] == pytest.approx(r["lrt"]["p"], rel=1e-3)
        boot = t.loc[(label, "parametric bootstrap LRT (ML)")]
        assert boot["statistic"] == pytest.approx(r["pb"]["LRT"], abs=1e-4)
        # PBmodcomp's PBtest and lmmedu's p_boot count the same way for a fixed effect (no simulated LRT is 0).
        assert abs(boot["p"] - r["pb"]["p_PBtest"]) <= _mc_tolerance(r["pb"]["p_PBtest"], r["pb"]["nsim"])
        for test, rk in (("F, Satterthwaite df (REML)", "satterthwaite"), ("F, Kenward-Roger df (REML)", "kr")):
            row = t.loc[(label, test)]
            # Satterthwaite df come from numerical derivatives in both programs: 1e-3 relative, as the ftest fixtures.
            assert row["statistic"] == pytest.approx(r[rk]["F"], rel=1e-4)
            assert row["den_df"] == pytest.approx(r[rk]["den_df"], rel=1e-3)
            assert row["p"] == pytest.approx(r[rk]["p"], rel=1e-3)
        kr = t.loc[(label, "F, Kenward-Roger df (REML)")]
        assert kr["statistic"] == pytest.approx(r["kr"]["KRmodcomp_F"], rel=1e-4)
        assert kr["den_df"] == pytest.approx(r["kr"]["KRmodcomp_ddf"], rel=1e-3)
        assert bool(kr["singular"]) == r["singular"]


def test_variance_test_matches_ranova_and_pbmodcomp(experiment, r_ref):
    r = r_ref["variance"]
    big, small = lmmedu.fit(CELLS, experiment), lmmedu.fit(NO_CELLS, experiment)
    tab = variance_test_table(small, big, n_boot=200, seed=2)
    assert tab.attrs["lrt"] == pytest.approx(r["ranova"]["LRT"], abs=1e-4)
    assert tab.loc["chi-square", "p"] == pytest.approx(r["ranova"]["p"], rel=1e-3)
    # The 50:50 mixture of one variance is ranova's p halved, and lmmedu.ranova's p_boundary.
    assert tab.loc["50:50 mixture", "p"] == pytest.approx(r["ranova"]["p"] / 2, rel=1e-3)
    assert tab.loc["50:50 mixture", "p"] == pytest.approx(lmmedu.ranova(big).loc["(1 | replicate:treatment)",
                                                                                 "p_boundary"], rel=1e-12)
    # PBmodcomp refits REML models by ML before computing its LRT: compare with ML fits.
    ml = pb_modcomp(lmmedu.fit(NO_CELLS, experiment, reml=False), lmmedu.fit(CELLS, experiment, reml=False),
                    n=500, seed=2)
    assert ml["LRT"] == pytest.approx(r["pb"]["LRT"], abs=1e-4)
    assert abs(ml["p_positive"] - r["pb"]["p_PBtest"]) <= _mc_tolerance(r["pb"]["p_PBtest"], r["pb"]["nsim"])


def test_referee_rows_are_the_public_tests(experiment, table):
    assert table["test"].tolist() == [LM_ROW[1]] + list(REFEREE_TESTS) * len(REFEREE_MODELS)
    assert table["model"].tolist()[1:] == [m for m in REFEREE_MODELS for _ in REFEREE_TESTS]
    boot = table[table["test"] == "parametric bootstrap LRT (ML)"]
    assert (boot["p"] >= 1 / 501 - 1e-15).all()
    # The bootstrap LRT is the chi-square one's statistic, read against simulated data sets.
    chi = table[table["test"] == "chi-square LRT (ML)"]
    np.testing.assert_allclose(boot["statistic"].to_numpy(), chi["statistic"].to_numpy())
    # The expert point of the notebook, on its experiment: without the random slope the bootstrap agrees with the
    # chi-square that the (absent) drug effect is significant; with it, the bootstrap p is larger than chi-square's.
    p = table.set_index(["model", "test"])["p"]
    assert p[("random intercept only", "parametric bootstrap LRT (ML)")] < 0.05
    assert p[("random slope", "parametric bootstrap LRT (ML)")] > p[("random slope", "chi-square LRT (ML)")]
    assert set(table.attrs["null_lrt"]) == set(REFEREE_MODELS)
    assert all(len(v) == 500 for v in table.attrs["null_lrt"].values())


def test_referee_table_refuses_bad_input(experiment):
    with pytest.raises(ValueError, match="needs a DataFrame"):
        referee_table([1, 2])
    with pytest.raises(ValueError, match="needs the columns"):
        referee_table(experiment.drop(columns="treatment"))
    with pytest.raises(ValueError, match="n_boot must be a positive whole number"):
        referee_table(experiment, n_boot=0)
    with pytest.raises(ValueError, match="models must map labels"):
        referee_table(experiment, models={"x": 1})


def test_mixture_p_value():
    assert mixture_p_value(3.84, 1) == pytest.approx(stats.chi2.sf(3.84, 1) / 2)
    assert mixture_p_value(0.0, 1) == 1.0
    assert mixture_p_value(5.0, 2) == pytest.approx(0.5 * stats.chi2.sf(5.0, 1) + 0.5 * stats.chi2.sf(5.0, 2))
    for bad in (0, 1.5, True, "1"):
        with pytest.raises(ValueError, match="df must be a whole number"):
            mixture_p_value(1.0, bad)


def test_variance_test_table_levels_and_tails(experiment):
    big, small = lmmedu.fit(CELLS, experiment), lmmedu.fit(NO_CELLS, experiment)
    tab = variance_test_table(small, big, n_boot=300, seed=4)
    null = tab.attrs["null_lrt"]
    # The boundary: a large share of exactly-zero LRTs, and chi-square rejecting fewer than its nominal 5%.
    assert tab.attrs["share_zero"] > 0.3
    assert tab.loc["chi-square", "null_rejection"] < tab.loc["50:50 mixture", "null_rejection"] <= 0.06
    assert tab.loc["chi-square", "critical_value"] == pytest.approx(stats.chi2.ppf(0.95, 1))
    assert mixture_p_value(tab.loc["50:50 mixture", "critical_value"], 1) == pytest.approx(0.05)
    # The bootstrap's own critical value rejects about 5% of its own draws (ties at a quantile: within 1/n).
    assert abs(tab.loc["parametric bootstrap", "null_rejection"] - 0.05) <= 1 / len(null) + 1e-12
    tails = lrt_tails(tab, x=[0.0, tab.attrs["lrt"]])
    assert tails["parametric bootstrap"].iloc[0] == 1.0
    assert tails["chi-square"].iloc[1] == pytest.approx(tab.loc["chi-square", "p"])
    assert tails["50:50 mixture"].iloc[1] == pytest.approx(tab.loc["50:50 mixture", "p"])
    default = lrt_tails(tab)
    assert default["lrt"].max() > tab.attrs["lrt"]
    assert (np.diff(default["parametric bootstrap"]) <= 0).all() and (np.diff(default["chi-square"]) <= 0).all()


def test_variance_test_table_refuses_bad_input(experiment):
    big, small = lmmedu.fit(CELLS, experiment), lmmedu.fit(NO_CELLS, experiment)
    with pytest.raises(ValueError, match="small must be a mixed model"):
        variance_test_table(lmmedu.fit_lm("log(length) ~ treatment", experiment), big)
    with pytest.raises(ValueError, match="same fixed effects"):
        variance_test_table(lmmedu.fit("log(length) ~ 1 + (1|replicate)", experiment), big)
    with pytest.raises(ValueError, match="alpha must be between"):
        variance_test_table(small, big, alpha=1.5)
    with pytest.raises(ValueError, match="variance_test_table"):
        lrt_tails(pd.DataFrame())


def test_referee_study_reads_one_table_per_experiment(monkeypatch):
    import lmmedu.teach.studies.referee as module

    calls = []
    real = module.referee_table

    def counting(data, **kw):
        calls.append(id(data))
        return real(data, **kw)

    monkeypatch.setattr(module, "referee_table", counting)
    out = referee_study(group_size=10, n_sims=2, n_boot=9)
    assert len(calls) == 2  # nine analyses, one table per experiment
    assert out["analysis"].unique().tolist() == list(referee_analyses())
    assert out["p"].notna().all()
    with pytest.raises(ValueError, match="slope_sd"):
        referee_study(slope_sd=-1, n_sims=1)


def test_referee_table_is_what_the_public_calls_give(experiment):
    # The notebook says each row is lmmedu.anova(m0, m1, method="bootstrap") or lmmedu.anova(m[, ddf=...]): same seed,
    # same numbers.
    tab = referee_table(experiment, n_boot=50, seed=3, models={"random slope": "(1 + treatment|replicate)"})
    t = tab.set_index("test")
    m1 = lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", experiment, reml=False)
    m0 = lmmedu.fit("log(length) ~ 1 + (1 + treatment|replicate)", experiment, reml=False)
    lrt = lmmedu.anova(m0, m1, method="bootstrap", n=50, seed=3).iloc[1]
    assert t.loc["chi-square LRT (ML)", "p"] == pytest.approx(lrt["p"], rel=1e-12)
    assert t.loc["parametric bootstrap LRT (ML)", "p"] == pytest.approx(lrt["p_boot"], rel=1e-12)
    m = lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", experiment)
    for test, ddf in (("F, Satterthwaite df (REML)", "satterthwaite"), ("F, Kenward-Roger df (REML)", "kenward-roger")):
        f = lmmedu.anova(m, ddf=ddf).loc["treatment"]
        assert t.loc[test, "statistic"] == pytest.approx(f["F"], rel=1e-10)
        assert t.loc[test, "den_df"] == pytest.approx(f["den_df"], rel=1e-8)
