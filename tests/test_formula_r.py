"""R's formula idioms in lmmedu.fit and lmmedu.fit_lm, against R (lm and lmerTest::lmer).

The fixtures come from tests/r/make_formula_fixtures.R (see tests/r/README.md); R is not
needed here.  Each formula was fitted by R's ``lm`` (its fixed part) and by
``lmerTest::lmer(..., REML = TRUE)``.

Tolerances:

* lm: the estimates are least-squares solutions computed by QR in both programs, so they
  agree to rounding times the conditioning of X; differences are measured in units of the
  SE (1e-8 SE) and SEs relative (1e-8).  The worst case here, ``(recipe + temp + I(temp^2))^2``
  with temp ~ 200, agrees to 7e-11 relative.
* lmer: lme4's optimiser (nloptwrap, ftol_abs = 1e-8 on the deviance in lme4 1.1-31) stops
  where the deviance no longer changes by 1e-8, which pins the variance parameters only to
  about 1e-4 relative along flat directions.  The fixed effects, GLS estimates given those
  variances, move by far less than their SE (1e-6 SE allowed; measured <= 2e-7); their SEs
  follow the variances (1e-4 relative allowed; measured <= 6.4e-5, for the random slope of
  ``scale(Days)``); the REML log-likelihood to 1e-6 absolute (measured <= 2.3e-7).
"""

import hashlib
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lmmedu

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "formula"
FIXTURE = json.loads((FIX / "models.json").read_text())
MODELS = {m["id"]: m for m in FIXTURE["models"]}

# lmmedu's coefficient names, in R's order: the mapping a learner reads.  R prints
# I(Days^2), factor(Days)1, poly(Days, 2)1, relevel(recipe, ref = "C")A, recipeA:temp;
# lmmedu prints statsmodels' names for the same columns.
NAMES = {
    "quadratic": ["Intercept", "Days", "I(Days ** 2)"],
    "cubic": ["Intercept", "Days", "I(Days ** 2)", "I(Days ** 3)"],
    "power_of_single_term": ["Intercept", "Days"],
    "scale": ["Intercept", "scale(Days)"],
    "scale_no_spread": ["Intercept", "scale(Days, scale=False)"],
    "scale_no_centre": ["Intercept", "scale(Days, center=False)"],
    "poly2": ["Intercept", "poly(Days, 2)[1]", "poly(Days, 2)[2]"],
    "poly3_raw": ["Intercept", "poly(Days, 3, raw=True)[1]", "poly(Days, 3, raw=True)[2]",
                  "poly(Days, 3, raw=True)[3]"],
    "centre_by_mean": ["Intercept", "I(Days - mean(Days))"],
    "log_y_plus_1": ["Intercept", "Days"],
    "log10_sqrt_exp": ["Intercept", "sqrt(Days)", "exp(Days / 10)"],
    "log2_response": ["Intercept", "log2(Days + 1)"],
    "factor": ["Intercept"] + [f"C(Days)[T.{k}]" for k in range(1, 10)],
    "as_factor": ["Intercept"] + [f"C(Days)[T.{k}]" for k in range(1, 10)],
    "offset": ["Intercept", "Days"],
    "offset_log": ["Intercept", "Days"],
    "random_scale": ["Intercept", "Days"],
    "random_zero_plus": ["Intercept", "Days"],
    "bs": ["Intercept"] + [f"bs(Days, df=4)[{k}]" for k in range(1, 5)],
    "na_scale": ["Intercept", "scale(Days)"],
    "na_poly": ["Intercept", "poly(Days, 2)[1]", "poly(Days, 2)[2]"],
    "na_centre_by_mean": ["Intercept", "I(Days - mean(Days))"],
    "crossing_power": ["Intercept", "recipe[T.B]", "recipe[T.C]", "temp", "recipe[T.B]:temp", "recipe[T.C]:temp"],
    "crossing_power_three": ["Intercept", "recipe[T.B]", "recipe[T.C]", "temp", "I(temp ** 2)", "recipe[T.B]:temp",
                             "recipe[T.C]:temp", "recipe[T.B]:I(temp ** 2)", "recipe[T.C]:I(temp ** 2)",
                             "temp:I(temp ** 2)"],
    "relevel_ref": ["Intercept", 'C(recipe, Treatment("C"))[T.A]', 'C(recipe, Treatment("C"))[T.B]', "temp"],
    "relevel_positional": ["Intercept", 'C(recipe, Treatment("B"))[T.A]', 'C(recipe, Treatment("B"))[T.C]', "temp",
                           'C(recipe, Treatment("B"))[T.A]:temp', 'C(recipe, Treatment("B"))[T.C]:temp'],
    "nesting_in": ["Intercept", "recipe[T.B]", "recipe[T.C]", "temp:recipe[A]", "temp:recipe[B]", "temp:recipe[C]"],
    "nesting_slash": ["Intercept", "recipe[T.B]", "recipe[T.C]", "recipe[A]:temp", "recipe[B]:temp", "recipe[C]:temp"],
    "no_intercept_zero": ["recipe[A]", "recipe[B]", "recipe[C]", "temp"],
    "no_intercept_minus": ["recipe[A]", "recipe[B]", "recipe[C]", "scale(temp)"],
    "poly_by_factor": ["Intercept", "recipe[T.B]", "recipe[T.C]", "poly(temp, 2)[1]", "poly(temp, 2)[2]",
                       "recipe[T.B]:poly(temp, 2)[1]", "recipe[T.C]:poly(temp, 2)[1]",
                       "recipe[T.B]:poly(temp, 2)[2]", "recipe[T.C]:poly(temp, 2)[2]"],
    "scale_with_factor": ["Intercept", "recipe[T.B]", "recipe[T.C]", "scale(temp)"],
    "mt_crossing_three": ["Intercept", "wt", "hp", "qsec", "wt:hp", "wt:qsec", "hp:qsec"],
    "mt_relevel_numeric": ["Intercept", 'C(cyl, Treatment("6"))[T.4]', 'C(cyl, Treatment("6"))[T.8]', "wt"],
    "mt_poly_log": ["Intercept", "poly(hp, 2)[1]", "poly(hp, 2)[2]", "log(disp)"],
    "tooth_factor_dose": ["Intercept", "supp[T.VC]", "C(dose)[T.1.0]", "C(dose)[T.2.0]",
                          "supp[T.VC]:C(dose)[T.1.0]", "supp[T.VC]:C(dose)[T.2.0]"],
    "tooth_relevel_poly": ["Intercept", 'C(supp, Treatment("VC"))[T.OJ]', "poly(dose, 2)[1]", "poly(dose, 2)[2]",
                           'C(supp, Treatment("VC"))[T.OJ]:poly(dose, 2)[1]',
                           'C(supp, Treatment("VC"))[T.OJ]:poly(dose, 2)[2]'],
    # R's ^ gives a double: a negative power of an integer column is a float power
    "negative_power": ["Intercept", "I((Days + 1) ** -1.0)"],
    "mt_negative_power": ["Intercept", "I(cyl ** -1.0)", "I(wt ** -2.0)"],
    # (a + b)/c is a + b + a:b:c, the factor coded by all its levels there (R: recipeA:temp:I(temp^2))
    "nesting_slash_sum": ["Intercept", "recipe[T.B]", "recipe[T.C]", "temp", "recipe[A]:temp:I(temp ** 2)",
                          "recipe[B]:temp:I(temp ** 2)", "recipe[C]:temp:I(temp ** 2)"],
    "mt_nesting_slash_sum": ["Intercept", "wt", "hp", "wt:hp:qsec"],
    "crossing_power_over": ["Intercept", "recipe[T.B]", "recipe[T.C]", "temp", "recipe[T.B]:temp", "recipe[T.C]:temp"],
    "crossing_power_three_factors": (
        ["Intercept", "Gender[T.2]", "Information[T.2]"] + [f"Product[T.{k}]" for k in (2, 3, 4)]
        + ["Gender[T.2]:Information[T.2]"] + [f"Gender[T.2]:Product[T.{k}]" for k in (2, 3, 4)]
        + [f"Information[T.2]:Product[T.{k}]" for k in (2, 3, 4)]
        + [f"Gender[T.2]:Information[T.2]:Product[T.{k}]" for k in (2, 3, 4)]),
    "random_double_bar_numeric": ["Intercept", "Days"],
    "random_double_bar_factor": ["Intercept", "Information[T.2]"],
    "random_double_bar_intercept_factor": ["Intercept", "Information[T.2]"],
}

# Formulas whose fit warns on purpose (R reads x^2 as x), and the data sets' own warnings.
EXPECTED_WARNING = {"power_of_single_term": "R reads 'Days^2' as 'Days'"}


def _data(name, path, md5):
    file = ROOT / path
    assert hashlib.md5(file.read_bytes()).hexdigest() == md5, (
        f"{file} changed since the fixtures were made; re-run Rscript tests/r/make_formula_fixtures.R")
    if name.startswith("sleepstudy"):
        d = pd.read_csv(file, dtype={"Subject": str})
        if name == "sleepstudy_na":  # R: Reaction[seq_len(n) %% 17 == 1] <- NA (1-based rows)
            d.loc[np.arange(len(d)) % 17 == 0, "Reaction"] = np.nan
        return d
    if name == "cake":
        return pd.read_csv(file, dtype={"replicate": str, "recipe": str, "temperature": str})
    if name == "ham":
        return pd.read_csv(file, dtype={c: str for c in ("Consumer", "Product", "Information", "Gender")})
    if name == "toothgrowth":
        return pd.read_csv(file, dtype={"supp": str})
    return pd.read_csv(file)


def _fit(model, kind):
    data = _data(model["data"], model["data_file"], model["data_md5"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = (lmmedu.fit if kind == "lmer" else lmmedu.fit_lm)(model["formula"], data)
    texts = [str(w.message) for w in caught]
    expected = EXPECTED_WARNING.get(model["id"])
    unexpected = [t for t in texts if not (expected and expected in t) and "rows have missing values" not in t]
    assert not unexpected, unexpected
    if expected:
        assert any(expected in t for t in texts), texts
    return fit


def _compare(fit, ref, model_id, est_se, se_rtol):
    """Coefficients named as NAMES says (in R's order there), estimates within est_se SEs, SEs to se_rtol."""
    names = NAMES[model_id]
    assert sorted(fit.coefs.index) == sorted(names)
    assert len(ref["term"]) == len(names)
    ours = fit.coefs.loc[names]
    se = np.asarray(ref["se"])
    assert np.max(np.abs(ours["estimate"].to_numpy() - np.asarray(ref["estimate"])) / se) <= est_se
    np.testing.assert_allclose(ours["se"], se, rtol=se_rtol)


@pytest.mark.parametrize("model_id", list(MODELS))
def test_lm_matches_r(model_id):
    model = MODELS[model_id]
    ref = model["lm"]
    fit = _fit(model, "lm")
    assert fit.nobs == ref["nobs"]
    _compare(fit, ref["coefficients"], model_id, est_se=1e-8, se_rtol=1e-8)
    np.testing.assert_allclose(fit.sigma, ref["sigma"], rtol=1e-8)
    np.testing.assert_allclose(fit.loglik, ref["logLik"], rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("model_id", [m for m in MODELS if "lmer" in MODELS[m]])
def test_lmer_matches_r(model_id):
    model = MODELS[model_id]
    ref = model["lmer"]
    fit = _fit(model, "lmer")
    assert fit.nobs == ref["nobs"]
    _compare(fit, ref["coefficients"], model_id, est_se=1e-6, se_rtol=1e-4)
    assert abs(fit.loglik - ref["logLik"]) <= 1e-6
    np.testing.assert_allclose(fit.sigma, ref["sigma"], rtol=1e-4)


def test_every_model_has_its_names():
    assert set(NAMES) == set(MODELS)


@pytest.mark.parametrize("model_id", ["poly_by_factor", "scale_with_factor"])
def test_emmeans_reevaluates_the_transform_at_the_grid(model_id):
    """R's emmeans evaluates poly(temp, 2) and scale(temp) at the grid's temp with the fit's coefficients."""
    model = MODELS[model_id]
    fit = _fit(model, "lmer")
    ours = lmmedu.emmeans(fit, "recipe").table
    ref = pd.DataFrame(model["emmeans"]["emm_recipe"]["table"])
    assert ours["recipe"].astype(str).tolist() == ref["recipe"].tolist()
    se = ref["SE"].to_numpy()
    assert np.max(np.abs(ours["emmean"].to_numpy() - ref["emmean"].to_numpy()) / se) <= 1e-6
    np.testing.assert_allclose(ours["se"], se, rtol=1e-4)
    np.testing.assert_allclose(ours["df"], ref["df"], rtol=1e-3)  # Satterthwaite df: R's are numerical


# ---------------------------------------------------------------------------------------------
# Without fixtures: R's meaning where it is certain, and the sentences
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def sleep():
    return pd.read_csv(ROOT / "tests/fixtures/data/sleepstudy.csv", dtype={"Subject": str})


def test_power_inside_I_is_a_power_for_decimals(sleep):
    """Python's ^ is XOR: an error for decimals and a wrong number for integers."""
    d = sleep.assign(x=sleep["Days"] * 0.5 + 0.25)
    fit = lmmedu.fit_lm("Reaction ~ x + I(x^2)", d)
    X = np.column_stack([np.ones(len(d)), d["x"], d["x"] ** 2])
    beta = np.linalg.lstsq(X, d["Reaction"], rcond=None)[0]
    np.testing.assert_allclose(fit.coefs["estimate"], beta, rtol=1e-9)


def test_poly_predicts_with_the_fit_coefficients(sleep):
    """poly() on new rows uses the fit's alpha and norm2 (R's predict), not new ones from those rows."""
    fit = lmmedu.fit_lm("Reaction ~ poly(Days, 2)", sleep)
    new = pd.DataFrame({"Days": [2.0, 2.0]})
    X = fit.model_matrix(new)
    at_fit = fit.model_matrix()[sleep["Days"].to_numpy() == 2][0]
    np.testing.assert_allclose(X[0], at_fit, rtol=1e-12)


def _sentence(err):
    text = str(err)
    assert "\n" not in text and text.endswith("."), text
    for leak in ("NameError", "PatsyError", "Traceback", "Python keyword", "xor", "TypeError", "patsy"):
        assert leak not in text, text
    return text


@pytest.mark.parametrize(
    "rhs, piece, fix",
    [
        ("ns(Days, 3)", "ns()", "bs(x, df = 3)"),
        ("cut(Days, 3)", "cut()", "pd.cut"),
        ("ifelse(Days > 3, 1, 0)", "ifelse()", "I(np.where("),
        ("interaction(Days, Subject)", "interaction()", "a:b"),
        ("as.numeric(Subject)", "as.numeric()", "pd.to_numeric"),
        ("ordered(Days)", "ordered()", "C(x, Poly)"),
        ("foo(Days)", "foo()", "data['new']"),
        ("Days %% 2", "'%%'", "I(Days %% 2)"),
        ("d$Days", "'$'", "column name alone"),
        ("I(Days %in% c(1, 2))", "'%in%'", "isin"),
        ("Days %o% Days", "'%o%'", "+, -, *, :, /, ^ and %in%"),
        ("factor(Days, labels = c('a'))", "factor(Days, labels", "relevel"),
        ("relevel(Subject)", "relevel(Subject)", 'ref = "b"'),
        ('relevel(Subject, ref = "999")', "'999'", "levels: 308"),
        ("log(Days)", "'log(Days)'", "log(x + 1)"),
        ("poly(Days, 10)", "poly()", "lower degree"),
        ("I(Days * 0) + scale(I(Days * 0))", "scale()", "scale = FALSE"),
        ("x + offset(Days) * 2", "offset()", "term of its own"),
        ("I(Subject^2)", "'I(Subject**2)'", "pd.to_numeric"),
        ("poly(Days, Subject)", "poly(x, degree)", "poly(x, 2) * poly(z, 2)"),
        ("sd(Days)", "'sd(Days)' is one number", "I(x / sd(x))"),
        ("Days^2.5", "'^2.5'", "I(Days^2.5)"),
    ],
)
def test_r_only_pieces_get_one_sentence(sleep, rhs, piece, fix):
    for fitter, tail in ((lmmedu.fit_lm, ""), (lmmedu.fit, " + (1|Subject)")):
        with pytest.raises(ValueError) as info:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitter(f"Reaction ~ {rhs}{tail}", sleep.assign(x=sleep["Days"] * 1.0))
        assert type(info.value) is ValueError
        text = _sentence(info.value)
        assert piece in text and fix in text, text


def test_poly_refuses_missing_x_as_r_does(sleep):
    d = sleep.assign(Days=sleep["Days"].where(sleep.index != 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError) as info:
            lmmedu.fit_lm("Reaction ~ poly(Days, 2)", d)
    assert "missing values" in _sentence(info.value)


def test_power_of_a_single_term_warns_and_fits_the_term(sleep):
    with pytest.warns(UserWarning, match=re.escape("for the square of a number write I(Days^2)")):
        fit = lmmedu.fit_lm("Reaction ~ Days^2", sleep)
    assert list(fit.coefs.index) == ["Intercept", "Days"]


def test_random_terms_take_r_idioms(sleep):
    fit = lmmedu.fit("Reaction ~ Days + (1 + scale(Days) | Subject)", sleep)
    assert fit.blocks[0].names == ["Intercept", "scale(Days)"]
    fit = lmmedu.fit("Reaction ~ Days + (0 + Days | Subject) + (1 | Subject)", sleep)
    assert [b.names for b in fit.blocks] == [["Days"], ["Intercept"]]
    with pytest.raises(ValueError) as info:
        lmmedu.fit("Reaction ~ Days + (1 + offset(Days) | Subject)", sleep)
    assert "offset() belongs to the fixed part" in _sentence(info.value)
    with pytest.raises(ValueError) as info:
        lmmedu.fit("Reaction ~ Days + (1 + ns(Days, 2) | Subject)", sleep)
    assert "ns()" in _sentence(info.value)


def test_response_expressions(sleep):
    fit = lmmedu.fit_lm("log(Reaction + 0.5) ~ Days", sleep)
    ref = lmmedu.fit_lm("y ~ Days", sleep.assign(y=np.log(sleep["Reaction"] + 0.5)))
    np.testing.assert_allclose(fit.coefs["estimate"], ref.coefs["estimate"], rtol=1e-12)
    assert lmmedu.fit_lm("log(Reaction + 1) ~ Days", sleep).transform == "log1p"
    mixed = lmmedu.fit("log(Reaction + 0.5) ~ Days + (1|Subject)", sleep)
    with pytest.raises(ValueError) as info:
        lmmedu.emmeans(mixed, "Days", type="response")
    assert "cannot back-transform the response 'log(Reaction + 0.5)'" in _sentence(info.value)
    with pytest.raises(ValueError) as info:
        lmmedu.fit_lm("log(Reaction - 300) ~ Days", sleep)
    assert "infinite or undefined" in _sentence(info.value)


def test_offset_in_emmeans_and_explain_is_refused(sleep):
    fit = lmmedu.fit("Reaction ~ Days + offset(10 * Days) + (1|Subject)", sleep)
    for call in (lambda: lmmedu.emmeans(fit, "Days"), lambda: lmmedu.explain(fit)):
        with pytest.raises(ValueError) as info:
            call()
        assert "offset" in _sentence(info.value)


def test_compare_and_cli_take_r_idioms(sleep, tmp_path):
    table = lmmedu.compare("Reaction ~ poly(Days, 2) + relevel(factor(Days > 4), ref = 'True') + (1|Subject)",
                           sleep)
    assert "poly(Days, 2)[2]" in table.table.index
    path = tmp_path / "sleep.csv"
    sleep.to_csv(path, index=False)
    for formula, wanted in (("Reaction ~ I(Days^2) + scale(Days) + (1|Subject)", "I(Days ** 2)"),
                            ("Reaction ~ ns(Days, 2) + (1|Subject)", "ns() in 'ns(Days, 2)'")):
        run = subprocess.run([sys.executable, "-m", "lmmedu", "compare", str(path), formula], capture_output=True,
                             text=True, cwd=ROOT, timeout=120)
        out = run.stdout + run.stderr
        assert wanted in out, out
        assert "Traceback" not in out, out


def test_levels_seen_only_in_dropped_rows_stay_out(sleep):
    """scale() reads every row of its column (as R does); a factor's levels come from the rows kept."""
    d = sleep.assign(z=sleep["Days"] * 1.0, Reaction=sleep["Reaction"].where(sleep["Days"] != 9))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = lmmedu.fit_lm("Reaction ~ factor(z) + scale(Days)", d.assign(Days=np.arange(len(d)) % 7))
    assert "C(z)[T.9.0]" not in fit.coefs.index and "C(z)[T.8.0]" in fit.coefs.index
    assert not [w for w in caught if "rank deficient" in str(w.message)]


@pytest.mark.parametrize("column", ["Subject", "label"])
def test_offset_of_a_text_column_is_refused_in_one_sentence(sleep, column):
    """R stops on offset(text); patsy would read it as a factor (one level: a silent offset of 1)."""
    for fitter, tail in ((lmmedu.fit_lm, ""), (lmmedu.fit, " + (1|Subject)")):
        with pytest.raises(ValueError) as info:
            fitter(f"Reaction ~ Days + offset({column}){tail}", sleep.assign(label="a"))
        assert _sentence(info.value) == (
            f"The offset 'offset({column})' could not be computed: the column '{column}' is not numeric, and an offset "
            "needs numbers (convert text first, e.g. with pd.to_numeric).")


@pytest.mark.parametrize("model_id", ["random_double_bar_numeric", "random_double_bar_factor",
                                      "random_double_bar_intercept_factor"])
def test_double_bar_splits_terms_not_a_factors_columns_as_lme4(model_id):
    """lme4's || makes one block per term written: a factor's levels stay one correlated block, so
    the number of variance parameters (theta) and the REML criterion are R's."""
    model = MODELS[model_id]
    fit = _fit(model, "lmer")
    assert sum(len(b.names) * (len(b.names) + 1) // 2 for b in fit.blocks) == len(model["lmer"]["theta"])
    # singular fits in R (a correlation at 1): lme4 stops within 1e-8 of the criterion, see the header
    assert abs(fit.deviance - model["lmer"]["REMLcrit"]) <= 1e-6
    assert fit.singular == model["lmer"]["isSingular"]


def test_negative_power_of_an_integer_column_is_a_float_power(sleep):
    """R's ^ gives a double; numpy refuses an integer to a negative integer power."""
    assert sleep["Days"].dtype.kind == "i"
    fit = lmmedu.fit_lm("Reaction ~ I((Days + 1)^-1) + I((Days + 1)^(-2))", sleep)
    as_float = lmmedu.fit_lm("Reaction ~ I(x^-1) + I(x^(-2))", sleep.assign(x=sleep["Days"] + 1.0))
    np.testing.assert_allclose(fit.coefs["estimate"].to_numpy(), as_float.coefs["estimate"].to_numpy(), rtol=1e-12)


def test_zero_to_a_negative_power_is_refused_as_r_does(sleep):
    """R's 0^-1 is Inf and lm() then stops ("NA/NaN/Inf in 'x'"): one sentence naming the column and row."""
    for fitter, tail in ((lmmedu.fit_lm, ""), (lmmedu.fit, " + (1|Subject)")):
        with pytest.raises(ValueError) as info:
            fitter(f"Reaction ~ I(Days^-1){tail}", sleep)
        text = _sentence(info.value)
        assert text.startswith("The fixed-effects column 'I(Days ** -1.0)' is infinite or undefined in 18 of 180 "
                               "rows (first in row 0: Days = 0)") and "x^-1 non-zero" in text, text
    with pytest.raises(ValueError) as info:
        lmmedu.fit_lm("Reaction ~ Days^-1", sleep)
    assert _sentence(info.value) == ("'^-1' in 'Days^-1' crosses terms in a formula and needs a positive whole "
                                     "number (R: invalid power in formula); for a power of a number write "
                                     "I(Days^-1).")
