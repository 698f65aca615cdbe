"""Profile and Wald intervals (lmmedu.confint, lmmedu.profile) against lme4's confint(), and bad input.

Fixtures: tests/r/make_confint_fixtures.R -> tests/fixtures/confint/<model>.json.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import lmmedu

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "confint"
FACTORS = {"Subject", "Batch", "plate", "sample", "replicate", "recipe", "temperature", "batch", "cask", "Consumer",
           "Product", "Information", "Homesize", "Block", "dilut", "Dog", "Side", "gene", "treatment"}
MODELS = sorted(p.stem for p in FIX.glob("*.json") if p.stem not in ("index", "pbmodcomp"))


def load(model_id):
    """The fixture and the data it was fitted to (factors as strings, as R read them)."""
    fx = json.loads((FIX / f"{model_id}.json").read_text())
    path = ROOT / fx["data_file"]
    if not path.exists():
        pytest.skip(f"{fx['data_file']} is missing")
    df = pd.read_csv(path, dtype={c: str for c in FACTORS})
    return fx, df


def r_name(name):
    """lme4's oldNames = FALSE name of an lmmedu row (see lmmedu.stats.sdcor)."""
    def coef(c):
        return "(Intercept)" if c == "Intercept" else c.replace("[T.", "").replace("]", "")
    if name.startswith("sd_"):
        c, g = name[3:].split("|")
        return f"sd_{coef(c)}|{g}"
    if name.startswith("cor_"):
        pair, g = name[4:].split("|")
        a, b = pair.split(".")
        return f"cor_{coef(b)}.{coef(a)}|{g}"
    return name if name == "sigma" else ":".join(coef(p) for p in name.split(":"))


def fixture_table(fx, key):
    return pd.DataFrame(fx[key]).set_index("parameter")


@pytest.fixture(scope="module")
def profiles():
    out = {}
    for model_id in MODELS:
        fx, df = load(model_id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = lmmedu.fit(fx["formula"], df)
            out[model_id] = (fx, fit, lmmedu.confint(fit))
    return out


def test_enough_models():
    assert len(MODELS) >= 10


@pytest.mark.parametrize("model_id", MODELS)
def test_profile_matches_lme4(profiles, model_id):
    """Within 1% of the interval's width; lme4's spline interpolation and optimiser tolerances are the error.

    Parameters whose profile lme4 itself called non-monotonic or badly splined (it then falls back to
    linear interpolation) are checked by the next test instead.
    """
    fx, fit, ci = profiles[model_id]
    r = fixture_table(fx, "profile")
    assert sorted(r_name(n) for n in ci.index) == sorted(r.index)
    width = r["upper"] - r["lower"]
    bad = {w.rsplit(" for ", 1)[1].split(":")[0] for w in fx["profile_warnings"] if " for " in w}
    for name in ci.index:
        rn = r_name(name)
        if rn in bad:
            continue
        for side in ("lower", "upper"):
            assert abs(ci.loc[name, side] - r.loc[rn, side]) <= 0.01 * width[rn], (name, side)


def test_nonmonotonic_lme4_profiles_are_right_here(profiles):
    """lme4 warned 'non-monotonic profile' (carrots, pixel): lmmedu's limits lie where zeta is exactly +/-z."""
    from lmmedu.stats.profile import Profiler

    z = scipy.stats.norm.ppf(0.975)
    checked = 0
    for model_id in ("carrots", "pixel"):
        if model_id not in profiles:
            continue
        fx, fit, ci = profiles[model_id]
        assert any("non-monotonic" in w for w in fx["profile_warnings"])
        pr = Profiler(fit)
        bad = {w.rsplit(" for ", 1)[1].split(":")[0] for w in fx["profile_warnings"] if " for " in w}
        for name in [n for n in ci.index if r_name(n) in bad]:
            # A fresh profiler (no warm starts from the search) re-evaluates the deviance at the limits.
            assert pr.zeta(name, ci.loc[name, "lower"]) == pytest.approx(-z, abs=2e-3)
            assert pr.zeta(name, ci.loc[name, "upper"]) == pytest.approx(z, abs=2e-3)
            checked += 1
    assert checked


@pytest.mark.parametrize("model_id", ["sleepstudy_slope", "cake", "penicillin"])
def test_wald_fixed_effects_match_lme4(model_id):
    """lme4's Wald intervals exist only for fixed effects: estimate +/- z SE, to R's printed precision."""
    fx, df = load(model_id)
    fit = lmmedu.fit(fx["formula"], df)
    ci = lmmedu.confint(fit, method="wald")
    r = fixture_table(fx, "wald").dropna()
    for name in fit.names:
        np.testing.assert_allclose(ci.loc[name, ["lower", "upper"]].to_numpy(float),
                                   r.loc[r_name(name), ["lower", "upper"]].to_numpy(float), rtol=1e-5)
    # Variance parameters get a Wald interval here (lme4 gives NA); it contains the estimate.
    sd = ci.loc["sigma"]
    assert sd["lower"] < sd["estimate"] < sd["upper"]


def test_profile_table_and_lower_limit_zero():
    fx, df = load("pastes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmmedu.fit(fx["formula"], df)
    ci = lmmedu.confint(fit)
    assert ci.loc["sd_Intercept|batch", "lower"] == 0.0
    assert "sd_Intercept|batch" in ci.attrs["at_zero"]
    assert any(n.startswith("sd_Intercept|batch:") for n in ci.attrs["notes"])
    pr = lmmedu.profile(fit, which=["sigma"], n_points=3)
    assert set(pr.columns) == {"parameter", "value", "zeta"}
    assert np.all(np.diff(pr["zeta"]) > -1e-6)  # optimiser tolerance
    assert pr["zeta"].min() < -2.5 and pr["zeta"].max() > 2.5


def test_singular_fit_still_gets_intervals():
    df = lmmedu.simulate_replicates(genes=("A",), seed=3, replicate_sd=0.0, replicate_treatment_sd=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmmedu.fit("log(length) ~ treatment + (1|replicate)", df)
    if not fit.singular:
        pytest.skip("this simulation did not give a singular fit")
    with pytest.warns(UserWarning, match="Singular fit.*Intervals are still given"):
        ci = lmmedu.confint(fit)
    assert ci.loc["sd_Intercept|replicate", "lower"] == 0.0
    assert ci.loc["sd_Intercept|replicate", "upper"] > 0.0


@pytest.fixture(scope="module")
def small_fit():
    return lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))


@pytest.mark.parametrize("kwargs, message", [
    ({"level": 1.5}, "level must be a probability between 0 and 1"),
    ({"method": "bca"}, "method must be one of 'profile', 'bootstrap', 'wald'"),
    ({"method": "bootstrap", "n": 0}, "n \\(the number of bootstrap refits\\) must be a positive integer"),
])
def test_bad_arguments(small_fit, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lmmedu.confint(small_fit, **kwargs)


def test_lm_and_non_fits_are_refused():
    lm = lmmedu.fit_lm("log(length) ~ treatment", lmmedu.simulate_replicates(genes=("A",), seed=1))
    with pytest.raises(ValueError, match="needs a mixed model with random effects; this is an lm fit"):
        lmmedu.confint(lm)
    with pytest.raises(ValueError, match="needs a fit made by lmmedu.fit, not DataFrame"):
        lmmedu.confint(pd.DataFrame())
    with pytest.raises(ValueError, match="needs a mixed model"):
        lmmedu.profile(lm)


@pytest.mark.parametrize("model_id", MODELS)
def test_profile_deviance_is_lme4s(profiles, model_id):
    """The deviance the profiles are measured from is lme4's ML deviance (refitML) at its optimum, to 1e-8
    relative (both optimisers stop within ~1e-10 of it), so zeta here is zeta there."""
    from lmmedu.stats.profile import Profiler

    fx, fit, _ = profiles[model_id]
    assert Profiler(fit).dev_min == pytest.approx(-2 * fx["ml_logLik"], rel=1e-8)
