"""Parametric bootstrap (lmmedu.bootstrap, anova(method="bootstrap")) against lme4's bootMer and pbkrtest's
PBmodcomp, within Monte Carlo error; reproducibility for any n_jobs and on a Dask cluster.

Fixtures: tests/r/make_confint_fixtures.R -> tests/fixtures/confint/ (nsim = 500 in R).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.stats.bootstrap import bootstrap_p, pb_modcomp

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "confint"
FACTORS = {"Subject", "Batch", "batch", "cask"}
N = 200  # refits here; R used 500


def load(model_id):
    fx = json.loads((FIX / f"{model_id}.json").read_text())
    return fx, pd.read_csv(ROOT / fx["data_file"], dtype={c: str for c in FACTORS})


def r_name(name):
    def coef(c):
        return "(Intercept)" if c == "Intercept" else c
    if name.startswith("sd_"):
        c, g = name[3:].split("|")
        return f"sd_{coef(c)}|{g}"
    return name if name == "sigma" else coef(name)


def quantile_se(x, p):
    """Monte Carlo SE of the p-quantile of ``x``: half the distance between the quantiles one binomial SE
    either side of p (the order-statistic interval of the sample quantile)."""
    s = np.sqrt(p * (1 - p) / len(x))
    lo, hi = np.quantile(x, [max(p - s, 0.0), min(p + s, 1.0)])
    return (hi - lo) / 2


@pytest.mark.parametrize("model_id", ["dyestuff", "sleepstudy_intercept", "pastes"])
def test_percentile_intervals_match_bootmer(model_id):
    """Each limit within 4 Monte Carlo SEs of bootMer's: SE of our 200-refit quantile, scaled by
    sqrt(1 + 200/500) for R's 500 refits (quantile SE ~ 1/sqrt(n)).  Where singular refits put R's lower
    limit at 0, ours is 0 or within the same error of it."""
    fx, df = load(model_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmmedu.fit(fx["formula"], df)
    boot = lmmedu.bootstrap(fit, n=N, seed=11)
    ci = boot.confint(0.95)
    r = pd.DataFrame(fx["boot"]).set_index("parameter")
    for name in ci.index:
        x = boot.replicates[name].to_numpy()
        for side, p in (("lower", 0.025), ("upper", 0.975)):
            ours, theirs = ci.loc[name, side], r.loc[r_name(name), side]
            se = quantile_se(x, p) * np.sqrt(1 + N / fx["boot_nsim"])
            assert abs(ours - theirs) <= 4 * se + 1e-9, (name, side, ours, theirs, se)


def within_mc_error(ours, n_ours, theirs, n_theirs):
    """4 binomial SEs of the difference of two independent estimates of one p, plus each one's 1/(n + 1) floor."""
    pool = (ours + theirs) / 2
    se = np.sqrt(pool * (1 - pool) * (1 / n_ours + 1 / n_theirs))
    return abs(ours - theirs) <= 4 * se + 1 / (n_ours + 1) + 1 / (n_theirs + 1)


@pytest.mark.parametrize("cmp_id", ["sleepstudy_fixed_days", "sleepstudy_random_slope", "pastes_cask",
                                    "pastes_batch"])
def test_pb_pvalue_matches_pbmodcomp(cmp_id):
    """Observed LRT to R's precision; ``p_boot`` against (1 + #{LRT* > LRT}) / (1 + nsim) over all of
    PBmodcomp's simulations, and ``p_positive`` against its printed PBtest (only LRT* > 0), each within
    Monte Carlo error (``within_mc_error``)."""
    fx = json.loads((FIX / "pbmodcomp.json").read_text())[cmp_id]
    df = pd.read_csv(ROOT / fx["data_file"], dtype={c: str for c in FACTORS})
    big = lmmedu.fit(fx["big"], df, reml=False)
    small = lmmedu.fit(fx["small"], df, reml=False)
    res = pb_modcomp(small, big, n=N, seed=5)
    assert res["LRT"] == pytest.approx(fx["LRT"], rel=1e-6)
    assert within_mc_error(res["p"], N, fx["p_pb_all"], fx["nsim_used"])
    n_pos = int(np.sum(res["lrt"] > 1e-6))
    assert within_mc_error(res["p_positive"], max(n_pos, 1), fx["p_pb"], max(fx["n_positive"], 1))


def test_anova_bootstrap_column():
    fx = json.loads((FIX / "pbmodcomp.json").read_text())["pastes_batch"]
    df = pd.read_csv(ROOT / fx["data_file"], dtype={c: str for c in FACTORS})
    big = lmmedu.fit(fx["big"], df, reml=False)
    small = lmmedu.fit(fx["small"], df, reml=False)
    tab = lmmedu.anova(small, big, method="bootstrap", n=40, seed=5)
    assert tab.columns[-1] == "p_boot" and np.isnan(tab["p_boot"].iloc[0])
    assert tab["p_boot"].iloc[1] == pb_modcomp(small, big, n=40, seed=5)["p"]
    assert any(n.startswith("p_boot:") for n in tab.attrs["notes"])


def small_fit():
    return lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))


def test_replicates_layout_and_reuse():
    fit = small_fit()
    boot = lmmedu.bootstrap(fit, n=10, seed=3)
    assert boot.replicates.columns.tolist() == ["sd_Intercept|replicate", "sigma", "Intercept",
                                                "treatment[T.drug]", "loglik", "singular", "converged"]
    again = lmmedu.bootstrap(fit, n=10, seed=3)
    pd.testing.assert_frame_equal(boot.replicates, again.replicates)
    # A refit on the fit's own response reproduces the fit: only y-dependent pieces were recomputed.
    prob = fit.problem.with_response(fit.y)
    assert prob.deviance(fit.opt.x) == pytest.approx(fit.deviance, rel=1e-12)


def test_same_replicates_for_any_n_jobs():
    fit = small_fit()
    one = lmmedu.bootstrap(fit, n=12, seed=7, n_jobs=1).replicates
    two = lmmedu.bootstrap(fit, n=12, seed=7, n_jobs=2).replicates
    pd.testing.assert_frame_equal(one, two)


def test_dask_cluster_gives_the_same_replicates():
    pytest.importorskip("dask", reason="dask is not installed (pip install 'lmmedu[test]' adds it)")
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    import joblib

    fit = small_fit()
    expected = lmmedu.bootstrap(fit, n=8, seed=9).replicates
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            got = lmmedu.bootstrap(fit, n=8, seed=9, n_jobs=2).replicates
    pd.testing.assert_frame_equal(expected, got)


def test_bad_input():
    fit = small_fit()
    with pytest.raises(ValueError, match="n \\(the number of bootstrap refits\\) must be a positive integer"):
        lmmedu.bootstrap(fit, n=0)
    with pytest.raises(ValueError, match="n_jobs must be a non-zero integer"):
        lmmedu.bootstrap(fit, n=5, n_jobs=0)
    with pytest.raises(ValueError, match="level must be a probability between 0 and 1"):
        lmmedu.bootstrap(fit, n=5, seed=1).confint(1.5)
    lm = lmmedu.fit_lm("log(length) ~ treatment", lmmedu.simulate_replicates(genes=("A",), seed=1))
    with pytest.raises(ValueError, match="needs a mixed model with random effects; this is an lm fit"):
        lmmedu.bootstrap(lm)
    with pytest.raises(ValueError, match="method must be 'chisq' or 'bootstrap'"):
        lmmedu.anova(fit, fit, method="bca")


def test_pb_against_an_lm():
    """The smaller model may be an lm (random intercept tested against none), as PBmodcomp allows."""
    df = lmmedu.simulate_replicates(genes=("A",), seed=1)
    big = lmmedu.fit("log(length) ~ treatment + (1|replicate)", df, reml=False)
    small = lmmedu.fit_lm("log(length) ~ treatment", df)
    res = pb_modcomp(small, big, n=19, seed=2)
    assert res["LRT"] > 0 and 0 < res["p"] <= 1 and res["n"] == 19


@pytest.mark.parametrize("formula", ["values ~ week*genotype + (week|probeset)",
                                     "values ~ week*genotype + (1|probeset) + (1|sample)"])
def test_new_response_in_the_blocked_layout(formula):
    """More than 120 random effects: the blocked layout's Z'y pieces are recomputed the same way."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmmedu.fit(formula, lmmedu.simulate_expression(n_probesets=150), reml=False)
    assert fit.problem.layout == "blocked"
    prob = fit.problem.with_response(fit.y)
    assert prob.deviance(fit.opt.x) == pytest.approx(fit.deviance, rel=1e-12)
    y2 = fit.y[::-1].copy()
    assert prob.with_response(y2).deviance(fit.opt.x) == pytest.approx(
        lmmedu.stats.engine.LmmProblem(fit.X, y2, fit.blocks, reml=False).deviance(fit.opt.x), rel=1e-10)


def test_cell_sums_are_the_rows_sufficient_statistics():
    """A factors-only design: the refit from cell sums and the within-cell sum of squares has the deviance of
    the refit from the rows (rounding of the sums only)."""
    fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate) + (1|replicate:treatment)",
                     lmmedu.simulate_replicates(seed=4))
    cells = fit.problem.response_cells()
    assert cells is not None and len(cells.first) == 4 * 2 * 3
    y = fit.y[::-1].copy()  # any response
    sums = np.bincount(cells.inverse, weights=y)
    within = float(((y - (sums / cells.counts)[cells.inverse]) ** 2).sum())
    by_cells = fit.problem.with_cell_sums(cells, sums, within, start=fit.opt.x)
    by_rows = fit.problem.with_response(y)
    for theta in (fit.opt.x, 2 * fit.opt.x + 0.1):
        assert by_cells.deviance(theta) == pytest.approx(by_rows.deviance(theta), rel=1e-10)


def test_bootstrap_p_counts_ties_and_drops_failed_refits():
    # (1 + hits) / (1 + n): an LRT* equal to the observed one (up to rounding) counts as reaching it.
    assert bootstrap_p(2.0, [2.0 - 1e-12, 0.5, 3.0, np.nan]) == {"p": 0.75, "p_positive": 0.75, "n": 3, "hits": 2}
    # Zeros are draws like any other for p; PBmodcomp's PBtest (p_positive) leaves them out.
    res = bootstrap_p(1.0, [0.0, 0.0, 0.0, 2.0])
    assert res["p"] == pytest.approx(2 / 5) and res["p_positive"] == pytest.approx(2 / 2) and res["hits"] == 1
    with pytest.raises(ValueError, match="finite"):
        bootstrap_p(np.nan, [1.0])
    with pytest.raises(ValueError, match="every refit failed"):
        bootstrap_p(1.0, [np.nan, np.inf])


def test_pb_modcomp_p_is_bootstrap_p_of_its_simulations():
    df = lmmedu.simulate_replicates(genes=("A",), seed=1)
    big = lmmedu.fit("log(length) ~ treatment + (1|replicate)", df, reml=False)
    small = lmmedu.fit("log(length) ~ 1 + (1|replicate)", df, reml=False)
    res = pb_modcomp(small, big, n=15, seed=4)
    again = bootstrap_p(res["LRT"], res["lrt"])
    assert (res["p"], res["p_positive"], res["n"]) == (again["p"], again["p_positive"], again["n"])
    # Simulation i uses the i-th child of the seed, so a shorter run repeats the first simulations.
    assert np.array_equal(pb_modcomp(small, big, n=4, seed=4)["lrt"], res["lrt"][:4])
