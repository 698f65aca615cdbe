"""lmmedu.ranova against lmerTest's ranova() (tests/fixtures/confint, made by tests/r/make_confint_fixtures.R)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import lmmedu
from test_confint import MODELS, load  # the same fixtures, read the same way


@pytest.mark.parametrize("model_id", MODELS)
def test_ranova_matches_lmertest(model_id):
    """Same rows and labels; LRT to 1e-5 relative (both optimisers converge to ~1e-8 in the deviance)."""
    fx, df = load(model_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmmedu.fit(fx["formula"], df)
        tab = lmmedu.ranova(fit)
    r = pd.DataFrame(fx["ranova"]).set_index("term")
    assert tab.index.tolist() == r.index.tolist()
    assert tab.columns.tolist() == ["npar", "loglik", "AIC", "LRT", "df", "p", "p_boundary"]
    np.testing.assert_array_equal(tab["npar"].to_numpy(), r["npar"].to_numpy())
    np.testing.assert_allclose(tab["loglik"], r["logLik"].astype(float), rtol=1e-7)
    np.testing.assert_allclose(tab["LRT"].iloc[1:], r["LRT"].iloc[1:].astype(float), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tab["p"].iloc[1:], r["p"].iloc[1:].astype(float), rtol=1e-4, atol=1e-12)


def test_boundary_p_is_half_for_one_variance():
    fx, df = load("pastes")
    fit = lmmedu.fit(fx["formula"], df)
    tab = lmmedu.ranova(fit)
    row = tab.loc["(1 | batch)"]
    assert row["p_boundary"] == pytest.approx(row["p"] / 2)
    assert any("50:50 mixture" in n for n in tab.attrs["notes"])
    fx, df = load("sleepstudy_slope")
    slope = lmmedu.ranova(lmmedu.fit(fx["formula"], df))
    assert np.isnan(slope["p_boundary"].iloc[1])  # reducing (Days | Subject) drops a covariance too


def test_ranova_refuses_an_lm():
    lm = lmmedu.fit_lm("log(length) ~ treatment", lmmedu.simulate_replicates(genes=("A",), seed=1))
    with pytest.raises(ValueError, match="ranova needs a mixed model"):
        lmmedu.ranova(lm)
