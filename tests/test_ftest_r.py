"""lmmedu.anova(fit) against lmerTest's anova(fit), R's anova(lm), car::Anova and emmeans' joint_tests (issue 20).

The fixtures and the script that made them: tests/fixtures/ftest/ and tests/r/make_ftest_fixtures.R
(model list in tests/r/README.md); R is not needed to run these tests.

Tolerances, and why:

* mixed models: F within 2e-3 and den_df within 2e-2 relative (the issue's promise).  Both depend
  on where the optimiser stopped (F through the variance estimates, den_df through the deviance's
  curvature, which lmerTest and lmmedu differentiate numerically with different steps); on the
  converged fits they agree to about 1e-4.  num_df must be equal.
* lm: 1e-8 relative.  There is no optimiser: sums of squares are exact functions of the data, known
  to rounding (the Gram matrices of these designs have condition numbers far below 1e6).
* emmeans' joint_tests prints F to 3-4 significant digits and df to 2 decimals: F within 5e-3
  relative (half a unit in the third digit), df within 2e-2, p within 2e-3 relative.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lmmedu

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "ftest"
INDEX = json.loads((FIX / "index.json").read_text())
MODELS = [m["model_id"] for m in INDEX["models"]]

#: lme4 stops short of the optimum on nlme's Assay (it warns "Model failed to converge with
#: max|grad| = 0.0125"); lmmedu converges to a REML criterion 8e-5 lower, so the variance
#: estimates, and with them F (1e-3) and den_df (4e-3), differ more than on the other models.
#: The tolerances are the issue's, not loosened for it; the test checks that lmmedu's optimum is
#: the better one, which is why the difference is R's.
LME4_STOPS_SHORT = {"assay_reml"}
#: No drug measurements of gene C: one aliased column; lmerTest's type 3 still has an answer.
EMPTY_CELL = {"replicates_within_empty_cell_reml"}
#: Singular in R and in lmmedu (a variance at zero): F and df are still reported, with a warning.
SINGULAR = {"alfalfa_singular_reml"}


def _load(fixture):
    path = ROOT / fixture["data_file"]
    assert hashlib.md5(path.read_bytes()).hexdigest() == fixture["data_md5"], (
        f"{path} changed since the R fixtures were made; re-run Rscript tests/r/make_ftest_fixtures.R"
    )
    levels = fixture["factor_levels"]
    # "None" is a level of Alfalfa's Date, not a missing value.
    data = pd.read_csv(path, dtype={k: str for k in levels}, keep_default_na=False, na_values=["NA"])
    for col, lev in levels.items():
        data[col] = pd.Categorical(data[col], categories=lev)
    if fixture.get("subset_pandas_query"):  # the rows R kept (fixture["subset"])
        data = data.query(fixture["subset_pandas_query"]).reset_index(drop=True)
    return data


@pytest.fixture(scope="module", params=MODELS)
def case(request):
    fixture = json.loads((FIX / f"{request.param}.json").read_text())
    data = _load(fixture)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the singular fit and the aliased column warn; tested elsewhere
        fit = lmmedu.fit(fixture["formula"], data, reml=fixture["REML"])
    return request.param, fixture, data, fit


def _r(block):
    return pd.DataFrame(block).set_index("term")


def test_fixtures_cover_what_the_issue_asks():
    fixtures = [json.loads((FIX / f"{m}.json").read_text()) for m in MODELS]
    assert len(fixtures) >= 10
    assert any(not f["REML"] for f in fixtures) and any(f["isSingular"] for f in fixtures)
    assert {"ham_reml", "tvbo_reml", "carrots_slope_reml", "assay_reml", "pixel_reml", "alfalfa_reml",
            "sleepstudy_slope_reml", "cake_reml", "penicillin_reml", "pastes_reml"} <= set(MODELS)


@pytest.mark.parametrize("type_", [3, 2, 1])
def test_mixed_f_table_matches_lmertest(case, type_):
    model_id, fixture, _, fit = case
    r = _r(fixture["anova"][f"type{type_}"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = lmmedu.anova(fit, type=type_)
    assert ours.index.tolist() == r.index.tolist()  # labels and R's order (sequential for type 1)
    assert ours.columns.tolist() == ["sum_sq", "mean_sq", "num_df", "den_df", "F", "p"]
    np.testing.assert_array_equal(ours["num_df"].to_numpy(), r["num_df"].to_numpy())
    np.testing.assert_allclose(ours["F"], r["F"], rtol=2e-3)
    np.testing.assert_allclose(ours["den_df"], r["den_df"], rtol=2e-2)
    np.testing.assert_allclose(ours["sum_sq"], r["sum_sq"], rtol=2e-3)
    # p follows from F and the df; at 2e-3 in F a small p moves by more than 2e-3 relative.
    np.testing.assert_allclose(np.log(ours["p"]), np.log(r["p"]), atol=0.05)


@pytest.mark.parametrize("model_id", sorted(LME4_STOPS_SHORT))
def test_where_lme4_stops_short_lmmedu_has_the_better_optimum(model_id):
    fixture = json.loads((FIX / f"{model_id}.json").read_text())
    fit = lmmedu.fit(fixture["formula"], _load(fixture), reml=fixture["REML"])
    assert fixture["lme4_conv_messages"]
    assert fit.converged and fit.deviance < fixture["deviance"]


def test_singular_fit_still_gets_f_and_df_with_the_warning(case):
    model_id, fixture, _, fit = case
    assert fit.singular == fixture["isSingular"] == (model_id in SINGULAR)
    if model_id not in SINGULAR:
        return
    with pytest.warns(UserWarning, match="Singular fit.*F and df are still given"):
        tab = lmmedu.anova(fit)
    assert np.isfinite(tab["F"]).all() and np.isfinite(tab["den_df"]).all()
    assert any(n.startswith("Singular fit") for n in tab.notes)


@pytest.mark.parametrize("type_,key", [(1, "anova_type1"), (3, "anova_type3")])
def test_lm_table_matches_r(case, type_, key):
    model_id, fixture, data, _ = case
    if fixture["lm"][key] is None:
        assert model_id in EMPTY_CELL  # car::Anova refuses type 3 with an aliased coefficient
        pytest.skip("car has no type 3 table with an empty cell")
    r = _r(fixture["lm"][key]).drop(index="(Intercept)", errors="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # carrots: 3 rows with a missing Preference are dropped, as by R
        ours = lmmedu.anova(lmmedu.fit_lm(fixture["formula"], data), type=type_)
    assert ours.index.tolist() == r.index.tolist()  # the terms, then Residuals, as R prints
    assert ours.columns.tolist() == ["df", "sum_sq", "mean_sq", "F", "p"]
    np.testing.assert_array_equal(ours["df"].to_numpy(), r["df"].to_numpy())
    for col in ("sum_sq", "mean_sq", "F"):
        np.testing.assert_allclose(ours[col], r[col], rtol=1e-8)


def test_type3_agrees_with_emmeans_joint_tests(case):
    """joint_tests averages over the other factors with equal weights: lmerTest's type 3 when
    every term is made of factors (with a covariate, joint_tests holds it at its mean instead)."""
    model_id, fixture, _, fit = case
    if any(v not in fixture["factor_levels"] for v in _fixed_vars(fixture)):
        pytest.skip("a covariate: joint_tests tests it at the covariates' means, not as type 3")
    if model_id in EMPTY_CELL:
        pytest.skip("an empty cell: joint_tests tests only the estimable part and adds a '(confounded)' row")
    j = _r(fixture["joint_tests"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = lmmedu.anova(fit).loc[j.index]
    np.testing.assert_array_equal(ours["num_df"].to_numpy(), j["df1"].to_numpy())
    np.testing.assert_allclose(ours["F"], j["F"], rtol=5e-3)
    np.testing.assert_allclose(ours["den_df"], j["df2"], rtol=2e-2, atol=0.01)
    np.testing.assert_allclose(ours["p"], j["p"], rtol=2e-3 if model_id not in LME4_STOPS_SHORT else 2e-2)


def _fixed_vars(fixture):
    fixed = fixture["formula"].split("~")[1].split("(")[0]
    return {v.strip() for part in fixed.split("+") for v in part.replace("*", ":").split(":") if v.strip()}


# ---------------------------------------------------------------------------------------------
# The lm's type 2 table against car::Anova(lm, type = 2): tests/r/make_lm_anova_fixtures.R
# ---------------------------------------------------------------------------------------------
LM_TYPE2 = json.loads((ROOT / "tests" / "fixtures" / "lm_anova" / "type2.json").read_text())["models"]


@pytest.mark.parametrize("model", LM_TYPE2, ids=[m["id"] for m in LM_TYPE2])
def test_lm_type2_matches_car(model):
    """Sums of squares are exact functions of the data (no optimiser): 1e-8 relative, as the other lm tables."""
    data = _load(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = lmmedu.fit_lm(model["formula"], data)
    # R's NA coefficient (an empty cell) is lmmedu's dropped column, with its warning
    assert bool(model["aliased"]) == any("rank deficient" in str(w.message) for w in caught)
    assert fit.nobs == model["nobs"]
    r = _r(model["table"])
    ours = lmmedu.anova(fit, type=2)
    assert ours.index.tolist() == r.index.tolist()
    np.testing.assert_array_equal(ours["df"].to_numpy(), r["df"].to_numpy())
    np.testing.assert_allclose(ours[["sum_sq", "F", "p"]].to_numpy(dtype=float),
                               r[["sum_sq", "F", "p"]].to_numpy(dtype=float), rtol=1e-8)


def test_lm_type2_tests_a_factor_ignoring_its_interaction_with_a_covariate():
    """car's containment (recipe:temp contains recipe), not lmerTest's: recipe's row is the F test of
    angle ~ temp against angle ~ recipe + temp, by the residual mean square of the full model."""
    cake = pd.read_csv(ROOT / "tests/fixtures/data/cake.csv", dtype={"recipe": str})
    full = lmmedu.fit_lm("angle ~ recipe * temp", cake)
    small, big = lmmedu.fit_lm("angle ~ temp", cake), lmmedu.fit_lm("angle ~ recipe + temp", cake)
    np.testing.assert_allclose(lmmedu.anova(full, type=2).loc["recipe", "sum_sq"], small.rss - big.rss, rtol=1e-10)
