"""lmmedu.anova with one fit (F tables, issue 20): what it refuses, in one sentence each, and what it promises.

The numbers are checked against R in test_ftest_r.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.__main__ import main
from lmmedu.stats.ftest import term_contrasts

CAKE = pd.read_csv("tests/fixtures/data/cake.csv", dtype={"replicate": str, "temperature": str})
CAKE_FORMULA = "angle ~ recipe * temperature + (1 | recipe:replicate)"


@pytest.fixture(scope="module")
def cake():
    return lmmedu.fit(CAKE_FORMULA, CAKE)


@pytest.fixture(scope="module")
def cake_ml():
    return lmmedu.fit(CAKE_FORMULA, CAKE, reml=False)


@pytest.mark.parametrize("bad", [4, 0, "III", 3.5, True])
def test_unknown_type_is_one_sentence(cake, bad):
    with pytest.raises(ValueError, match=r"^type must be 3 \(the default, as lmerTest\), 2 or 1 \(sequential\), "
                                         r"not .*\.$"):
        lmmedu.anova(cake, type=bad)


def test_unknown_ddf_is_one_sentence(cake):
    with pytest.raises(ValueError, match=r"^ddf must be 'satterthwaite', 'kenward-roger' or 'asymptotic' .*'containment'\.$"):
        lmmedu.anova(cake, ddf="containment")


def test_kenward_roger_on_an_ml_fit_is_refused_not_refitted(cake_ml):
    with pytest.raises(ValueError, match=r"^Kenward-Roger df need a REML fit .*reml=True.*\.$"):
        lmmedu.anova(cake_ml, ddf="kenward-roger")


def test_a_term_not_in_the_model_is_named_with_the_model_terms(cake):
    with pytest.raises(ValueError, match=r"^The term 'gene' is not in the model's fixed part; its terms are "
                                         r"'recipe', 'temperature', 'recipe:temperature'\.$"):
        lmmedu.anova(cake, terms=["gene"])


def test_terms_pick_rows_in_either_order_of_an_interaction(cake):
    tab = lmmedu.anova(cake, terms=["temperature : recipe", "recipe"])
    assert tab.index.tolist() == ["recipe:temperature", "recipe"]
    np.testing.assert_array_equal(tab.loc["recipe"], lmmedu.anova(cake).loc["recipe"])


def test_two_fits_stay_the_likelihood_ratio_test(cake_ml):
    small = lmmedu.fit("angle ~ recipe + temperature + (1 | recipe:replicate)", CAKE, reml=False)
    tab = lmmedu.anova(small, cake_ml, names=["additive", "interaction"])
    assert tab.columns.tolist() == ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "p"]
    assert tab["Df"].iloc[1] == 10
    with pytest.raises(ValueError, match="^type, ddf and terms choose the F table of one fit"):
        lmmedu.anova(small, cake_ml, type=1)
    with pytest.raises(ValueError, match="^names is an option of the likelihood-ratio test of two fits"):
        lmmedu.anova(cake_ml, names=["a", "b"])
    with pytest.raises(ValueError, match="^anova compares two fits by likelihood ratio, not 3"):
        lmmedu.anova(small, cake_ml, small)


def test_type3_does_not_depend_on_the_coding(cake):
    # lmerTest's type 3 tests the same hypotheses under treatment and sum-to-zero coding.
    summed = lmmedu.fit("angle ~ C(recipe, Sum) * C(temperature, Sum) + (1 | recipe:replicate)", CAKE)
    a, b = lmmedu.anova(cake), lmmedu.anova(summed)
    np.testing.assert_allclose(b["F"].to_numpy(), a["F"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(b["den_df"].to_numpy(), a["den_df"].to_numpy(), rtol=1e-4)


def test_in_a_balanced_design_all_three_types_agree(cake):
    # cake is balanced: sequential, type 2 and type 3 sums of squares coincide (lmerTest prints the same).
    tabs = [lmmedu.anova(cake, type=t) for t in (1, 2, 3)]
    for t in tabs[1:]:
        np.testing.assert_allclose(t["sum_sq"], tabs[0]["sum_sq"], rtol=1e-8)


def test_one_df_term_is_the_squared_t_of_its_coefficient():
    sleep = pd.read_csv("tests/fixtures/data/sleepstudy.csv", dtype={"Subject": str})
    m = lmmedu.fit("Reaction ~ Days + (Days | Subject)", sleep)
    row = lmmedu.anova(m).loc["Days"]
    assert row["F"] == pytest.approx(m.coefs.loc["Days", "t"] ** 2, rel=1e-10)
    assert row["den_df"] == pytest.approx(m.coefs.loc["Days", "df"], rel=1e-10)


def test_contrasts_have_one_row_per_tested_df(cake):
    shapes = {k: v.shape for k, v in term_contrasts(cake, 3).items()}
    assert shapes == {"recipe": (2, 18), "temperature": (5, 18), "recipe:temperature": (10, 18)}


def test_lm_table_has_the_residuals_row_and_ignores_ddf():
    lm = lmmedu.fit_lm("angle ~ recipe * temperature", CAKE)
    tab = lmmedu.anova(lm, type=1, ddf="kenward-roger")  # an lm has one error stratum: any method gives it
    assert tab.index[-1] == "Residuals"
    assert tab.loc["Residuals", "df"] == lm.df_resid
    assert tab.loc["Residuals", "sum_sq"] == pytest.approx(lm.rss)
    assert tab["sum_sq"].sum() == pytest.approx(float(((lm.y - lm.y.mean()) ** 2).sum()), rel=1e-10)
    with pytest.raises(ValueError, match="ddf must be"):
        lmmedu.anova(lm, ddf="containment")


def test_intercept_only_model_has_an_empty_table():
    sleep = pd.read_csv("tests/fixtures/data/sleepstudy.csv", dtype={"Subject": str})
    tab = lmmedu.anova(lmmedu.fit("Reaction ~ 1 + (1 | Subject)", sleep))
    assert len(tab) == 0 and tab.columns.tolist() == ["sum_sq", "mean_sq", "num_df", "den_df", "F", "p"]


def test_the_notes_name_the_table_and_the_method(cake):
    tab = lmmedu.anova(cake, type=2)
    assert tab.notes[0] == ("Type II analysis of variance table with Satterthwaite's method "
                            "(as lmerTest's anova(fit, type = 2))")
    assert tab.attrs["notes"] == tab.notes


def test_not_a_fit_is_one_sentence():
    with pytest.raises(ValueError, match="^fit must be a model from lmmedu.fit or lmmedu.fit_lm, not DataFrame.$"):
        lmmedu.anova(CAKE)


def test_cli_prints_the_f_table(tmp_path, capsys):
    path = tmp_path / "cake.csv"
    CAKE.to_csv(path, index=False)
    assert main(["anova", str(path), CAKE_FORMULA, "--type", "1"]) == 0
    out = capsys.readouterr().out
    assert "recipe:temperature" in out and "Type I analysis of variance table with Satterthwaite's method" in out
    assert main(["anova", str(path), CAKE_FORMULA, "--type", "4"]) == 2
    assert capsys.readouterr().err.startswith("error: type must be 3")
    assert main(["anova", str(path), CAKE_FORMULA, "--ddf", "kenward-roger", "--ml"]) == 2
    assert "need a REML fit" in capsys.readouterr().err
    assert main(["anova", str(path), "angle ~ recipe * temperature"]) == 0
    assert "Residuals" in capsys.readouterr().out
    assert main(["fit", str(path), "angle ~ recipe * temperature", "--ddf", "containment"]) == 2
    assert capsys.readouterr().err.startswith("error: ddf must be")


def test_emmeans_names_the_method_it_was_given(cake):
    emm = lmmedu.emmeans(cake, "recipe", ddf="Satterthwaite")
    assert "Degrees-of-freedom method: satterthwaite" in emm.notes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = lmmedu.stats.emmeans.contrasts(emm)
    assert "Degrees-of-freedom method: satterthwaite" in tab.notes
    with pytest.raises(ValueError, match="^ddf must be"):
        lmmedu.emmeans(cake, "recipe", ddf="containment")


def test_empty_cell_is_noted_and_an_exact_lm_gives_nan_not_an_error():
    r = lmmedu.load_replicates()
    r = r[~((r["gene"] == "C") & (r["treatment"] == "drug"))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the aliased column is announced by fit
        m = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", r)
    tab = lmmedu.anova(m)
    assert tab.loc["treatment:gene", "num_df"] == 1  # one estimable interaction df is left
    assert any("interpret them with care" in n for n in tab.notes)
    d = pd.DataFrame({"x": np.arange(10.0), "g": list("ab" * 5)})
    d["y"] = 2 * d["x"] + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit_lm warns of the exact fit
        exact = lmmedu.anova(lmmedu.fit_lm("y ~ x + g", d))
    assert exact.loc[["x", "g"], "F"].isna().all()
