"""lmmedu.anova: likelihood-ratio tests, against their definition and against R.

R reference: tests/fixtures/anova/sleepstudy_anova.json, written by
``Rscript tests/r/make_anova_fixtures.R`` (lme4's anova(); calls in the file).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import lmmedu
from lmmedu.stats.anova import anova

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "anova" / "sleepstudy_anova.json"
COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "p"]
BIG = "values ~ week*genotype + (week|probeset)"
SMALL = "values ~ week + genotype + (week|probeset)"


@pytest.fixture(scope="module")
def expr():
    return lmmedu.simulate_expression(n_probesets=300)


@pytest.fixture(scope="module")
def expr_ml(expr):
    return lmmedu.fit(BIG, expr, reml=False), lmmedu.fit(SMALL, expr, reml=False)


@pytest.fixture(scope="module")
def sleep():
    return pd.read_csv(ROOT / "tests" / "fixtures" / "data" / "sleepstudy.csv", dtype={"Subject": str})


@pytest.fixture(scope="module")
def reference():
    return json.loads(FIXTURE.read_text())


def test_lazy_name():
    # lmmedu.anova is the one entry point: one fit -> F table (lmmedu.stats.ftest), two -> this test.
    from lmmedu.stats.ftest import anova as entry

    assert lmmedu.anova is entry


def test_chisq_is_twice_the_loglik_gain(expr_ml):
    big, small = expr_ml
    tab = anova(big, small)
    assert list(tab.columns) == COLUMNS
    assert list(tab.index) == [SMALL, BIG]  # ordered by number of parameters
    assert list(tab["npar"]) == [4 + 3 + 1 - 1, 4 + 3 + 1]
    chisq = 2 * (big.loglik - small.loglik)
    assert chisq > 0
    np.testing.assert_allclose(tab["Chisq"].iloc[1], chisq, rtol=1e-12)
    assert tab["Df"].iloc[1] == 1
    np.testing.assert_allclose(tab["p"].iloc[1], scipy.stats.chi2.sf(chisq, 1), rtol=1e-12)
    assert tab[["Chisq", "Df", "p"]].iloc[0].isna().all()
    np.testing.assert_allclose(tab["logLik"], [small.loglik, big.loglik], rtol=1e-14)
    np.testing.assert_allclose(tab["deviance"], -2 * tab["logLik"], rtol=1e-14)
    np.testing.assert_allclose(tab["AIC"], [small.aic, big.aic], rtol=1e-12)
    np.testing.assert_allclose(tab["BIC"], [small.bic, big.bic], rtol=1e-12)
    # Argument order does not matter.
    pd.testing.assert_frame_equal(anova(small, big), tab)


def test_reml_fits_with_different_fixed_effects_are_refused(expr, expr_ml):
    big_reml = lmmedu.fit(BIG, expr)
    small_reml = lmmedu.fit(SMALL, expr)
    with pytest.raises(ValueError, match="reml=False"):
        anova(big_reml, small_reml)
    with pytest.raises(ValueError, match="reml=False"):
        anova(big_reml, expr_ml[1])  # one REML, one ML, different fixed effects


def test_reml_and_ml_with_same_fixed_effects_are_refused(sleep):
    a = lmmedu.fit("Reaction ~ Days + (1|Subject)", sleep, reml=True)
    b = lmmedu.fit("Reaction ~ Days + (Days|Subject)", sleep, reml=False)
    with pytest.raises(ValueError, match="REML and the other by ML"):
        anova(a, b)


@pytest.mark.parametrize("case", ["fixed_days_ml", "random_slope_reml", "lm_vs_intercept_ml"])
def test_matches_r(case, sleep, reference):
    ref = reference["comparisons"][case]
    fits = {}
    for role, m in ref["models"].items():
        if m["kind"] == "lm":
            fits[role] = lmmedu.fit_lm(m["formula"], sleep)
        else:
            fits[role] = lmmedu.fit(m["formula"], sleep, reml=m["REML"])
    tab = anova(fits["large"], fits["small"], names=["large", "small"])
    r = pd.DataFrame(ref["table"], index=ref["rows"])
    assert list(tab.index) == list(r.index) == ["small", "large"]
    np.testing.assert_array_equal(tab["npar"], r["npar"])
    for col in ["AIC", "BIC", "logLik", "deviance"]:
        np.testing.assert_allclose(tab[col], r[col], rtol=1e-7, err_msg=col)
    np.testing.assert_allclose(tab["Chisq"].iloc[1], r["Chisq"].iloc[1], rtol=1e-5)
    assert tab["Df"].iloc[1] == r["Df"].iloc[1]
    np.testing.assert_allclose(tab["p"].iloc[1], r["p"].iloc[1], rtol=1e-4)


def test_fixture_is_for_the_committed_data(reference):
    import hashlib

    path = ROOT / reference["data_file"]
    assert hashlib.md5(path.read_bytes()).hexdigest() == reference["data_md5"]


def test_random_terms_by_reml_are_allowed_with_a_boundary_note(sleep):
    a = lmmedu.fit("Reaction ~ Days + (1|Subject)", sleep)
    b = lmmedu.fit("Reaction ~ Days + (Days|Subject)", sleep)
    tab = anova(a, b)
    notes = " ".join(tab.attrs["notes"])
    assert "refit = FALSE" in notes
    assert "conservative" in notes
    assert tab["Df"].iloc[1] == 2


def test_fixed_effect_test_has_no_boundary_note(expr_ml):
    assert not any("conservative" in n for n in anova(*expr_ml).attrs["notes"])


def test_lm_against_reml_mixed_model_is_refused(sleep):
    lm = lmmedu.fit_lm("Reaction ~ Days", sleep)
    mixed = lmmedu.fit("Reaction ~ Days + (1|Subject)", sleep)
    with pytest.raises(ValueError, match="reml=False"):
        anova(lm, mixed)
    with pytest.raises(ValueError, match="ordinary linear models"):
        anova(lm, lm)


def test_different_rows_or_response_are_refused(sleep):
    full = lmmedu.fit("Reaction ~ Days + (1|Subject)", sleep, reml=False)
    part = lmmedu.fit("Reaction ~ Days + (Days|Subject)", sleep.iloc[:-10], reml=False)
    with pytest.raises(ValueError, match="same rows"):
        anova(full, part)
    other = sleep.assign(logR=np.log(sleep["Reaction"]))
    logfit = lmmedu.fit("logR ~ Days + (Days|Subject)", other, reml=False)
    with pytest.raises(ValueError, match="same response"):
        anova(full, logfit)
    shuffled = sleep.assign(Reaction=sleep["Reaction"].to_numpy()[::-1])
    with pytest.raises(ValueError, match="different values"):
        anova(full, lmmedu.fit("Reaction ~ Days + (Days|Subject)", shuffled, reml=False))


def test_non_nested_models_are_refused(sleep):
    d = sleep.assign(z=np.sin(np.arange(len(sleep))))
    a = lmmedu.fit("Reaction ~ Days + (1|Subject)", d, reml=False)
    b = lmmedu.fit("Reaction ~ z + (Days|Subject)", d, reml=False)
    with pytest.raises(ValueError, match="not nested"):
        anova(a, b)
    c = lmmedu.fit("Reaction ~ z + (1|Subject)", d, reml=False)
    with pytest.raises(ValueError, match="parameters"):
        anova(a, c)


def test_bad_arguments(sleep):
    a = lmmedu.fit("Reaction ~ Days + (1|Subject)", sleep, reml=False)
    with pytest.raises(ValueError, match="fit_b"):
        anova(a, "not a fit")
