"""The false-positive study behind the pseudo-replication machine (notebook 01).

The statistics are checked, not only the shapes: with no true effect, the correct analyses
must reject about 5% of the time (within a binomial tolerance), the naive lm far more often in
the between design, and the degrees of freedom must be those of the replicate-level comparison.
Seeds are fixed, so every run sees the same experiments.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from lmmedu.data.simulate import simulate_replicates
from lmmedu.teach.studies import (
    ANALYSES,
    binomial_ci,
    design_problem,
    false_positive_rates,
    rates,
    simulate_p_values,
    true_design_effect,
    true_icc,
)


def _consistent_with(rate_row, alpha=0.05, tail=0.001):
    """A rate is consistent with alpha if an exact binomial test does not reject at `tail`."""
    return stats.binomtest(int(rate_row["rejections"]), int(rate_row["n_sims"]), alpha).pvalue > tail


@pytest.fixture(scope="module")
def between_rates():
    return false_positive_rates(n_replicates=6, obs_per_replicate=30, replicate_sd=0.3, design="between",
                                n_sims=300, seed=11).set_index("analysis")


@pytest.fixture(scope="module")
def within_rates():
    return false_positive_rates(n_replicates=4, obs_per_replicate=30, replicate_sd=0.3, design="within",
                                n_sims=300, seed=12).set_index("analysis")


# --- small helpers -------------------------------------------------------------


def test_binomial_ci_is_the_wilson_interval():
    k, n = 17, 200
    z = stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = binomial_ci(k, n)
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    assert binomial_ci(0, 50)[0] == pytest.approx(0.0, abs=1e-12)
    assert all(math.isnan(v) for v in binomial_ci(0, 0))
    with pytest.raises(ValueError, match="successes"):
        binomial_ci(5, 3)


def test_true_icc_and_design_effect():
    assert true_icc(0.5, 0.5) == pytest.approx(0.5)
    assert true_icc(0.0, 0.5) == 0.0
    icc = 0.2**2 / (0.2**2 + 0.5**2)
    assert true_design_effect(0.2, 1000) == pytest.approx(1 + 999 * icc)
    # A tiny ICC with big clusters still gives a large design effect (misconception 9).
    sd_for_icc_002 = 0.5 * math.sqrt(0.02 / 0.98)
    assert true_icc(sd_for_icc_002) == pytest.approx(0.02)
    assert true_design_effect(sd_for_icc_002, 1000) == pytest.approx(1 + 999 * 0.02)
    with pytest.raises(ValueError, match="replicate_sd and residual_sd"):
        true_icc(0.0, 0.0)


def test_design_problem_only_for_one_replicate_per_arm():
    assert design_problem(2, "between")
    assert design_problem(3, "between") == ""
    assert design_problem(2, "within") == ""


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"design": "crossed"}, "design"),
        ({"n_replicates": 1}, "n_replicates"),
        ({"n_replicates": 2.5}, "n_replicates"),
        ({"obs_per_replicate": 1, "design": "within"}, "obs_per_replicate"),
        ({"obs_per_replicate": 0, "design": "between"}, "obs_per_replicate"),
        ({"replicate_sd": -0.1}, "replicate_sd"),
        ({"replicate_sd": float("nan")}, "replicate_sd"),
        ({"residual_sd": 0.0}, "residual_sd"),
        ({"n_sims": 0}, "n_sims"),
        ({"progress": "yes"}, "progress"),
    ],
)
def test_bad_settings_raise_one_clear_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_p_values(**{"n_sims": 2, "obs_per_replicate": 4, **kwargs})


def test_alpha_must_be_a_probability():
    with pytest.raises(ValueError, match="alpha"):
        false_positive_rates(n_sims=2, obs_per_replicate=4, alpha=5)


# --- the p-values are those of the analyses they claim to be --------------------


def test_p_values_match_independent_implementations():
    seed_seq = np.random.SeedSequence(3).spawn(1)[0]
    df = simulate_replicates(genes=("A",), n_replicates=6, obs_per_replicate=40, design="between",
                             treatment_effects=0.0, replicate_sd=0.3, replicate_treatment_sd=0.0,
                             seed=np.random.default_rng(seed_seq))
    out = simulate_p_values(n_replicates=6, obs_per_replicate=40, replicate_sd=0.3, design="between", n_sims=1,
                            seed=3).set_index("analysis")
    ols = smf.ols("np.log(length) ~ treatment", df).fit()
    assert out.loc["naive lm", "p"] == pytest.approx(ols.pvalues["treatment[T.drug]"], rel=1e-8)
    assert out.loc["naive lm", "df"] == ols.df_resid
    means = np.log(df["length"]).groupby([df["replicate"], df["treatment"]], observed=True).mean().unstack()
    t = stats.ttest_ind(means["drug"].dropna(), means["control"].dropna())
    assert out.loc["t-test on replicate means", "p"] == pytest.approx(t.pvalue, rel=1e-10)
    assert out.loc["t-test on replicate means", "df"] == 4
    # Balanced between design: the REML mixed-model test of a replicate-level factor is the
    # t-test on replicate means (same t, same df), unless the fit is at the boundary.
    assert not out.loc["mixed model", "singular"]
    assert out.loc["mixed model", "p"] == pytest.approx(t.pvalue, rel=1e-4)
    assert out.loc["mixed model", "df"] == pytest.approx(4, abs=1e-3)


def test_within_design_uses_a_paired_t_test():
    seed_seq = np.random.SeedSequence(5).spawn(1)[0]
    df = simulate_replicates(genes=("A",), n_replicates=5, obs_per_replicate=20, design="within",
                             treatment_effects=0.0, replicate_sd=0.3, replicate_treatment_sd=0.0,
                             seed=np.random.default_rng(seed_seq))
    out = simulate_p_values(n_replicates=5, obs_per_replicate=20, replicate_sd=0.3, design="within", n_sims=1,
                            seed=5).set_index("analysis")
    means = np.log(df["length"]).groupby([df["replicate"], df["treatment"]], observed=True).mean().unstack()
    paired = stats.ttest_rel(means["drug"], means["control"])
    assert out.loc["t-test on replicate means", "p"] == pytest.approx(paired.pvalue, rel=1e-10)
    assert out.loc["t-test on replicate means", "df"] == 4


def test_same_seed_same_experiments_and_longer_runs_extend_them():
    short = simulate_p_values(n_sims=3, obs_per_replicate=10, seed=9)
    again = simulate_p_values(n_sims=3, obs_per_replicate=10, seed=9)
    longer = simulate_p_values(n_sims=5, obs_per_replicate=10, seed=9)
    pd.testing.assert_frame_equal(short, again)
    pd.testing.assert_frame_equal(short, longer.iloc[: len(short)])
    other = simulate_p_values(n_sims=3, obs_per_replicate=10, seed=10)
    assert not np.allclose(short["p"], other["p"], equal_nan=True)


def test_progress_callback_counts_every_experiment():
    calls = []
    simulate_p_values(n_sims=4, obs_per_replicate=6, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


# --- the statistics the notebook teaches ----------------------------------------


def test_between_design_naive_lm_is_far_above_five_percent(between_rates):
    naive = between_rates.loc["naive lm"]
    assert naive["n_sims"] == 300
    # ICC 0.26 and 30 rows per replicate: design effect 8.6, the lm's SE is ~3x too small.
    assert naive["rate"] > 0.3
    assert naive["ci_low"] > 0.05


@pytest.mark.parametrize("method", ["t-test on replicate means", "mixed model"])
def test_between_design_correct_methods_hold_five_percent(between_rates, method):
    row = between_rates.loc[method]
    assert row["n_sims"] >= 295
    assert _consistent_with(row), f"{method}: {row['rejections']} of {row['n_sims']} rejections"


@pytest.mark.parametrize("method", list(ANALYSES))
def test_within_design_no_method_is_anticonservative(within_rates, method):
    # Replicate intercepts cancel from drug minus control: even the naive lm is not inflated
    # (it is conservative, because it counts replicate variation as noise).
    row = within_rates.loc[method]
    assert row["rate"] <= 0.05 or _consistent_with(row), f"{method} rate {row['rate']}"


def test_more_measurements_per_replicate_make_the_naive_lm_worse():
    rate = {m: false_positive_rates(n_replicates=4, obs_per_replicate=m, replicate_sd=0.2, design="between",
                                    n_sims=100, seed=21).set_index("analysis").loc["naive lm", "rate"]
            for m in (5, 200)}
    assert rate[200] > rate[5] + 0.2


def test_degrees_of_freedom_are_those_of_the_replicates(between_rates, within_rates):
    # Between: 6 replicate means, 2 parameters -> 4 df; not 6 * 30 - 2 = 178.
    assert between_rates.loc["naive lm", "median_df"] == 178
    assert between_rates.loc["t-test on replicate means", "median_df"] == 4
    assert between_rates.loc["mixed model", "median_df"] == pytest.approx(4, abs=0.1)
    # Within: the treatment is compared inside replicates, so its df are large; the paired
    # t-test on replicate means has n_replicates - 1.
    assert within_rates.loc["t-test on replicate means", "median_df"] == 3
    assert within_rates.loc["mixed model", "median_df"] > 100


def test_one_replicate_per_arm_is_reported_not_tested():
    rates = false_positive_rates(n_replicates=2, obs_per_replicate=20, design="between", n_sims=10,
                                 seed=4).set_index("analysis")
    assert rates.attrs["problem"]
    assert rates.loc["t-test on replicate means", "n_sims"] == 0
    assert rates.loc["t-test on replicate means", "n_missing"] == 10
    assert math.isnan(rates.loc["t-test on replicate means", "rate"])
    assert rates.loc["mixed model", "n_sims"] == 0
    # The naive lm happily reports p-values: that is the danger.
    assert rates.loc["naive lm", "n_sims"] == 10


def test_rates_can_be_summarised_from_stored_p_values():
    p = simulate_p_values(n_sims=6, obs_per_replicate=10, seed=2)
    table = rates(p, alpha=0.5).set_index("analysis")
    for method in ANALYSES:
        sub = p[p["analysis"] == method]
        assert table.loc[method, "rejections"] == int((sub["p"] < 0.5).sum())
    assert table.attrs["alpha"] == 0.5
    assert table.attrs["settings"]["n_sims"] == 6


# --- rate curves ------------------------------------------------------------------


def test_rate_curve_stacks_one_table_per_value_with_the_same_seed():
    from lmmedu.teach.studies import rate_curve

    calls = []
    curve = rate_curve("obs_per_replicate", [4, 8], n_sims=3, seed=6, design="between",
                       progress=lambda done, total: calls.append((done, total)))
    assert curve["obs_per_replicate"].tolist() == [4, 4, 4, 8, 8, 8]
    assert curve["analysis"].tolist() == list(ANALYSES) * 2
    single = false_positive_rates(obs_per_replicate=8, n_sims=3, seed=6, design="between")
    pd.testing.assert_frame_equal(curve.iloc[3:].drop(columns="obs_per_replicate").reset_index(drop=True), single,
                                  check_like=True)
    assert calls[-1] == (6, 6) and len(calls) == 6
    assert curve.attrs["setting_columns"] == ["obs_per_replicate"]


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("design", ["within"]), {}, "vary"),
        (("n_replicates", [3]), {"n_replicates": 4}, "n_replicates"),
        (("replicate_sd", []), {}, "values"),
    ],
)
def test_rate_curve_rejects_bad_arguments(args, kwargs, match):
    from lmmedu.teach.studies import rate_curve

    with pytest.raises(ValueError, match=match):
        rate_curve(*args, n_sims=2, **kwargs)


# --- the one runner and the one rates table (the contract in lmmedu.teach) -------


def _normal_study(rng, n=5, shift=0.0):
    return pd.DataFrame({"y": rng.normal(loc=shift, size=n)})


def _t_test(data):
    res = stats.ttest_1samp(data["y"], 0.0)
    return {"p": res.pvalue, "estimate": data["y"].mean(), "df": len(data) - 1}


def test_run_study_has_the_documented_columns_and_records_failures():
    from lmmedu.teach.studies import RATE_COLUMNS, RESULT_COLUMNS, run_study

    def broken(data):
        raise RuntimeError("cannot analyse")

    out = run_study(_normal_study, {"t": _t_test, "broken": broken}, n_sims=4, seed=2,
                    grid=[{"n": 5}, {"n": 9}], settings={"what": "demo"})
    assert list(out.columns) == ["n", *RESULT_COLUMNS]
    assert out.attrs["setting_columns"] == ["n"]
    assert out.attrs["settings"] == {"what": "demo", "n_sims": 4, "seed": 2}
    bad = out[out["analysis"] == "broken"]
    assert bad["p"].isna().all() and (bad["error"] == "cannot analyse").all()
    # The same draws at every setting: the first 5 values of the n = 9 experiment are those of n = 5.
    first = np.random.default_rng(np.random.SeedSequence(2).spawn(4)[0]).normal(size=9)
    ok = out[out["analysis"] == "t"].set_index(["n", "sim"])
    assert ok.loc[(5, 0), "estimate"] == pytest.approx(first[:5].mean())
    assert ok.loc[(9, 0), "estimate"] == pytest.approx(first.mean())
    assert ok.loc[(9, 0), "p"] == pytest.approx(stats.ttest_1samp(first, 0.0).pvalue)
    table = rates(out, alpha=0.05)
    assert list(table.columns) == ["n", *RATE_COLUMNS]
    assert table[["n", "analysis"]].values.tolist() == [[5, "t"], [5, "broken"], [9, "t"], [9, "broken"]]
    broken_rows = table[table["analysis"] == "broken"]
    assert (broken_rows["n_sims"] == 0).all() and (broken_rows["n_missing"] == 4).all()
    assert broken_rows["rate"].isna().all()


def test_rates_count_rejections_against_alpha():
    from lmmedu.teach.studies import run_study

    out = run_study(lambda rng: _normal_study(rng, n=8, shift=1.0), {"t": _t_test}, n_sims=30, seed=4)
    table = rates(out, alpha=0.01)
    assert table.loc[0, "rejections"] == int((out["p"] < 0.01).sum())
    assert table.loc[0, "rate"] == pytest.approx(table.loc[0, "rejections"] / 30)
    low, high = binomial_ci(int(table.loc[0, "rejections"]), 30)
    assert (table.loc[0, "ci_low"], table.loc[0, "ci_high"]) == pytest.approx((low, high))
    assert table.attrs["alpha"] == 0.01
    with pytest.raises(ValueError, match="run_study"):
        rates(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="unknown key"):
        run_study(_normal_study, {"t": lambda d: {"p": 0.5, "pvalue": 0.5}}, n_sims=1)


def test_progress_callback_accepts_bool_or_callable_only():
    from lmmedu.teach.studies import progress_callback

    with progress_callback(False, 3) as tick:
        tick(1)
    with progress_callback(True, 2) as tick:
        tick(2)
    with pytest.raises(ValueError, match="progress"):
        progress_callback("yes", 3)


def test_a_true_effect_turns_the_rate_into_power():
    null = false_positive_rates(n_replicates=6, obs_per_replicate=20, design="within", n_sims=30, seed=4,
                                replicate_treatment_sd=0.05)
    real = false_positive_rates(n_replicates=6, obs_per_replicate=20, design="within", n_sims=30, seed=4,
                                replicate_treatment_sd=0.05, effect=0.5)
    assert real.attrs["settings"]["effect"] == 0.5 and null.attrs["settings"]["effect"] == 0.0
    assert (real["rate"] > null["rate"] + 0.4).all(), (null, real)
    with pytest.raises(ValueError, match="effect"):
        false_positive_rates(n_sims=2, obs_per_replicate=4, effect=float("nan"))


def test_rate_curve_can_vary_the_drug_effect_sd_within_replicates():
    from lmmedu.teach.studies import rate_curve

    curve = rate_curve("replicate_treatment_sd", [0.0, 0.3], design="within", n_sims=40, seed=5,
                       obs_per_replicate=100)
    mixed = curve[curve["analysis"] == "mixed model"].set_index("replicate_treatment_sd")["rate"]
    paired = curve[curve["analysis"] == "t-test on replicate means"].set_index("replicate_treatment_sd")["rate"]
    # (1|replicate) treats every row as evidence about the drug effect, the paired t-test does not.
    assert mixed[0.3] > 0.25 > mixed[0.0]
    assert paired[0.3] < 0.2


def test_run_study_keeps_intervals_of_analyses_that_compute_them():
    """An analysis may return an interval (lower, upper) instead of a p-value; the table gains the two columns."""
    from lmmedu.teach.studies import INTERVAL_COLUMNS, RESULT_COLUMNS, run_study

    def mean_interval(data):
        m, se = data["y"].mean(), data["y"].std(ddof=1) / np.sqrt(len(data))
        return {"estimate": m, "lower": m - 2 * se, "upper": m + 2 * se}

    def no_interval(data):
        return {"estimate": 0.0, "lower": float("nan"), "upper": 1.0}

    out = run_study(_normal_study, {"ci": mean_interval, "broken": no_interval, "t": _t_test}, n_sims=3,
                    grid=[{"n": 5}])
    assert list(out.columns) == ["n", *RESULT_COLUMNS, *INTERVAL_COLUMNS]
    ci = out[out["analysis"] == "ci"]
    assert (ci["error"] == "").all() and ci["p"].isna().all()  # no p-value is not a failure here
    assert (ci["lower"] < ci["estimate"]).all() and (ci["estimate"] < ci["upper"]).all()
    assert (out.loc[out["analysis"] == "broken", "error"] == "no interval").all()
    t = out[out["analysis"] == "t"]
    assert t["lower"].isna().all() and (t["error"] == "").all()
    # The rates table ignores the interval columns (its setting columns stay the grid's).
    assert rates(out).columns[0] == "n"
    plain = out.copy()
    plain.attrs = {}  # without attrs, rates finds the setting columns itself, past the interval columns
    assert rates(plain).columns[0] == "n" and "lower" not in rates(plain).columns
