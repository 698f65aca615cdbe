"""Bad and awkward input: every case gives the right number or one sentence naming the problem.

Each test asserts either a number (against statsmodels, or against the same model written in
a plain way) or a key phrase of the message, and that the exception is lmmedu's own
ValueError/TypeError, never an internal one (numpy's LinAlgError is a ValueError subclass,
so the type is compared exactly).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import lmmedu
from lmmedu.__main__ import main


def clean_error(fn, phrase, kind=ValueError):
    """Run fn, expect exactly `kind` (not a subclass such as LinAlgError) with `phrase` in one line."""
    with pytest.raises(Exception) as info:
        fn()
    err = info.value
    assert type(err) is kind, f"{type(err).__name__}: {err}"
    text = str(err)
    assert phrase in text, text
    assert "\n" not in text
    return text


@pytest.fixture(scope="module")
def grouped():
    """10 groups of 10, y = 0.5 x + group effect + noise."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 10)
    x = rng.normal(size=100)
    y = 0.5 * x + rng.normal(size=10)[g] + rng.normal(size=100)
    return pd.DataFrame({"y": y, "x": x, "g": [f"G{i}" for i in g], "f": np.tile(["a", "b"], 50)})


def lm_quiet(formula, data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a well-posed lm must not warn
        return lmmedu.fit_lm(formula, data)


# ---------------------------------------------------------------------------------------------
# Least squares: right numbers for badly scaled and aliased columns
# ---------------------------------------------------------------------------------------------

def test_lm_matches_statsmodels_ols(grouped):
    ours = lm_quiet("y ~ x * f", grouped)
    ref = smf.ols("y ~ x * f", grouped).fit()
    np.testing.assert_allclose(ours.coefs["estimate"], ref.params[ours.names], rtol=1e-10)
    np.testing.assert_allclose(ours.coefs["se"], ref.bse[ours.names], rtol=1e-10)
    np.testing.assert_allclose(ours.coefs["p"], ref.pvalues[ours.names], rtol=1e-8)


def test_lm_without_intercept_matches_statsmodels(grouped):
    ours = lm_quiet("y ~ 0 + x", grouped)
    ref = smf.ols("y ~ 0 + x", grouped).fit()
    np.testing.assert_allclose(ours.coefs["se"].to_numpy(), ref.bse.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("shift", [1e4, 1e8, -1e8])
def test_lm_shifted_covariate_keeps_its_slope(grouped, shift):
    centred = smf.ols("y ~ x", grouped).fit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = lmmedu.fit_lm("y ~ x", grouped.assign(x=grouped["x"] + shift))
    # Far from zero, the coefficients stay right but SEs of combinations cannot: say so.
    assert [str(w.message) for w in caught if "far from zero" in str(w.message)] == ([] if abs(shift) < 1e5 else [
        str(caught[0].message)])
    assert ours.names == ["Intercept", "x"]
    np.testing.assert_allclose(ours.coefs.loc["x", ["estimate", "se", "t"]],
                               [centred.params["x"], centred.bse["x"], centred.tvalues["x"]], rtol=1e-6)
    np.testing.assert_allclose(ours.coefs.loc["Intercept", "estimate"],
                               centred.params["Intercept"] - shift * centred.params["x"], rtol=1e-6)


def test_lm_years_as_covariate(grouped):
    years = grouped.assign(year=2000 + np.arange(100) % 21, y=grouped["y"] + 0.03 * (np.arange(100) % 21))
    ours = lm_quiet("y ~ year", years)
    ref = smf.ols("y ~ I(year - 2000)", years).fit()
    np.testing.assert_allclose(ours.coefs.loc["year", "estimate"], ref.params["I(year - 2000)"], rtol=1e-8)


def test_lm_tiny_scale_covariate(grouped):
    ours = lm_quiet("y ~ x", grouped.assign(x=grouped["x"] * 1e-12))
    ref = smf.ols("y ~ x", grouped).fit()
    np.testing.assert_allclose(ours.coefs.loc["x", "estimate"], ref.params["x"] * 1e12, rtol=1e-8)
    np.testing.assert_allclose(ours.coefs.loc["x", "t"], ref.tvalues["x"], rtol=1e-8)


def test_aliased_column_dropped_with_message_naming_it(grouped):
    with pytest.warns(UserWarning, match=r"rank deficient, so 1 column\(s\) were dropped: x2"):
        ours = lmmedu.fit_lm("y ~ x + x2", grouped.assign(x2=2 * grouped["x"]))
    assert ours.names == ["Intercept", "x"]
    ref = smf.ols("y ~ x", grouped).fit()
    np.testing.assert_allclose(ours.coefs["se"], ref.bse, rtol=1e-10)


def test_alias_tolerance_is_that_of_r_lm(grouped):
    rng = np.random.default_rng(5)
    near = grouped["x"] + 1e-9 * rng.normal(size=100)  # 1e-9 of its length outside span(1, x): aliased at 1e-7
    with pytest.warns(UserWarning, match="dropped: x2"):
        lmmedu.fit_lm("y ~ x + x2", grouped.assign(x2=near))
    apart = grouped["x"] + 1e-4 * rng.normal(size=100)
    fit = lm_quiet("y ~ x + x2", grouped.assign(x2=apart))
    assert fit.names == ["Intercept", "x", "x2"]


def test_column_equal_to_the_intercept_is_dropped(grouped):
    with pytest.warns(UserWarning, match="dropped: one"):
        fit = lmmedu.fit_lm("y ~ x + one", grouped.assign(one=1.0))
    assert fit.names == ["Intercept", "x"]


def test_mixed_model_drops_aliased_columns_too(grouped):
    with pytest.warns(UserWarning, match="dropped: x2"):
        m = lmmedu.fit("y ~ x + x2 + (1|g)", grouped.assign(x2=-grouped["x"]))
    ref = lmmedu.fit("y ~ x + (1|g)", grouped)
    # The same model: the same deviance at the same theta, up to rounding (1e-13 of ~300).
    assert m.problem.deviance(ref.theta) == pytest.approx(ref.problem.deviance(ref.theta), rel=1e-13)
    # Two searches of it stop within the optimiser's deviance tolerance (1e-12) of the optimum;
    # with the deviance's curvature in theta of ~35 here, theta is fixed to ~sqrt(2e-12 / 35)
    # = 2.4e-7 (3e-7 of theta), and estimates, SEs, df and p values move with theta at most a few
    # times that. (Under other BLAS kernels the two stops differ by 1e-8; a tolerance of that
    # size would test the kernel, not the aliasing.)
    np.testing.assert_allclose(m.coefs.to_numpy(), ref.coefs.to_numpy(), rtol=1e-5)


def test_empty_cell_downstream_emmeans_explain_compare():
    df = lmmedu.simulate_replicates(obs_per_replicate=20, seed=2)
    df = df[~((df.gene == "C") & (df.treatment == "drug"))]
    formula = "log(length) ~ treatment*gene + (1|replicate)"
    with pytest.warns(UserWarning, match=r"treatment\[T.drug\]:gene\[T.C\]"):
        m = lmmedu.fit(formula, df)
    emm = lmmedu.emmeans(m, ["treatment", "gene"])
    assert emm.table["emmean"].isna().sum() == 1
    assert "not estimable" in str(emm)
    assert "treatment[T.drug]:gene[T.C]" not in lmmedu.explain(m)["term"].tolist()
    with pytest.warns(UserWarning, match="rank deficient"):
        assert "treatment[T.drug]:gene[T.C]" not in lmmedu.compare(formula, df).table.index


def test_mixed_shifted_covariate_never_a_bare_linalg_error(grouped):
    shifted = grouped.assign(x=grouped["x"] + 1e8)
    try:
        with pytest.warns(UserWarning, match="far from zero"):
            m = lmmedu.fit("y ~ x + (1|g)", shifted)
    except ValueError as err:
        assert type(err) is ValueError and "centre" in str(err)
    else:
        ref = lmmedu.fit("y ~ x + (1|g)", grouped)
        np.testing.assert_allclose(m.coefs.loc["x", "estimate"], ref.coefs.loc["x", "estimate"], rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# Zero residual variation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fitter, formula", [(lmmedu.fit_lm, "y ~ x"), (lmmedu.fit, "y ~ x + (1|g)")])
def test_constant_response_refused(grouped, fitter, formula):
    clean_error(lambda: fitter(formula, grouped.assign(y=3.0)), "same value (3) in all 100 rows")


def test_constant_log_response_refused(grouped):
    clean_error(lambda: lmmedu.fit_lm("log(y) ~ x", grouped.assign(y=7.0)), "'log(y)' has the same value")


def test_perfect_lm_fit_warns_and_gives_no_t(grouped):
    exact = grouped.assign(y=1 + 2 * grouped["x"])
    with pytest.warns(UserWarning, match="fits the response exactly"):
        fit = lmmedu.fit_lm("y ~ x", exact)
    np.testing.assert_allclose(fit.coefs["estimate"], [1, 2], rtol=1e-12)
    assert fit.coefs[["se", "t", "p"]].isna().all().all()
    assert np.isnan(fit.contrast([[0, 1]])["se"]).all()
    assert "nan" in fit.summary()


def test_response_constant_within_groups_refused(grouped):
    means = grouped.groupby("g")["y"].transform("mean")
    clean_error(lambda: lmmedu.fit("y ~ x + (1|g)", grouped.assign(y=means)), "constant within every level of 'g'")


def test_simulated_without_residual_noise_refused():
    df = lmmedu.simulate_replicates(obs_per_replicate=20, residual_sd=0, replicate_treatment_sd=0)
    formula = "log(length) ~ treatment*gene + (1|replicate)"
    clean_error(lambda: lmmedu.fit(formula, df), "fit the response 'log(length)' exactly")
    clean_error(lambda: lmmedu.compare(formula, df), "residual variation zero")


def test_small_residual_variation_is_not_refused(grouped):
    # 1e-3 noise is small but real: the up-front checks must let it through to the engine.
    rng = np.random.default_rng(3)
    y = 0.5 * grouped["x"] + grouped["g"].str[1:].astype(int) + 1e-3 * rng.normal(size=100)
    m = lmmedu.fit("y ~ x + (1|g)", grouped.assign(y=y))
    assert abs(m.coefs.loc["x", "estimate"] - 0.5) < 1e-2


# ---------------------------------------------------------------------------------------------
# Argument types
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reml", ["no", 0, 1, None, "False"])
def test_reml_must_be_bool(grouped, reml):
    clean_error(lambda: lmmedu.fit("y ~ x + (1|g)", grouped, reml=reml), "reml must be True", TypeError)


def test_reml_numpy_bool_accepted(grouped):
    a = lmmedu.fit("y ~ x + (1|g)", grouped, reml=np.False_)
    b = lmmedu.fit("y ~ x + (1|g)", grouped, reml=False)
    assert not a.reml and a.loglik == pytest.approx(b.loglik, abs=1e-10)


def test_data_must_be_a_dataframe():
    clean_error(lambda: lmmedu.fit_lm("y ~ x", {"y": [1, 2], "x": [1, 2]}), "pandas DataFrame")


def test_formula_must_be_a_string(grouped):
    clean_error(lambda: lmmedu.fit_lm(42, grouped), "must be a string with a '~'")


# ---------------------------------------------------------------------------------------------
# Column names
# ---------------------------------------------------------------------------------------------

def test_q_of_dotted_name_matches_plain_name(grouped):
    dotted = grouped.rename(columns={"x": "body.mass"})
    a = lm_quiet('y ~ Q("body.mass")', dotted)
    b = lm_quiet("y ~ x", grouped)
    np.testing.assert_allclose(a.coefs.to_numpy(), b.coefs.to_numpy(), rtol=1e-12)
    assert a.names == ["Intercept", 'Q("body.mass")']


def test_q_of_plain_name(grouped):
    a = lm_quiet('y ~ Q("x")', grouped)
    np.testing.assert_allclose(a.coefs["estimate"], lm_quiet("y ~ x", grouped).coefs["estimate"], rtol=1e-12)


def test_keyword_column_through_q(grouped):
    kw = grouped.rename(columns={"x": "lambda"})
    a = lm_quiet('y ~ Q("lambda")', kw)
    np.testing.assert_allclose(a.coefs["estimate"], lm_quiet("y ~ x", grouped).coefs["estimate"], rtol=1e-12)
    clean_error(lambda: lmmedu.fit_lm("y ~ lambda", kw), 'write Q("lambda")')


def test_dotted_name_suggests_q(grouped):
    dotted = grouped.rename(columns={"x": "body.mass"})
    clean_error(lambda: lmmedu.fit_lm("y ~ body.mass", dotted), 'write Q("body.mass") instead')
    clean_error(lambda: lmmedu.fit("y ~ 1 + (body.mass|g)", dotted), 'write Q("body.mass") instead')


def test_misspelt_dotted_name_suggests_q(grouped):
    dotted = grouped.rename(columns={"x": "body.mass"})
    clean_error(lambda: lmmedu.fit_lm("y ~ body", dotted), 'Did you mean Q("body.mass")?')


def test_dot_shorthand_refused(grouped):
    text = clean_error(lambda: lmmedu.fit_lm("y ~ .", grouped), "shorthand for all other columns")
    assert "y ~ x + g + f" in text


def test_duplicated_column_names_refused(grouped):
    dup = pd.concat([grouped, grouped[["x"]]], axis=1)
    clean_error(lambda: lmmedu.fit_lm("y ~ x", dup), "2 columns named 'x'")


@pytest.mark.parametrize("name", ["C", "scale", "center", "I"])
def test_columns_named_like_formula_functions(grouped, name):
    a = lm_quiet(f"y ~ {name}", grouped.rename(columns={"x": name}))
    np.testing.assert_allclose(a.coefs["estimate"], lm_quiet("y ~ x", grouped).coefs["estimate"], rtol=1e-12)


def test_column_c_and_function_c_together(grouped):
    clean_error(lambda: lmmedu.fit_lm("y ~ C + C(g)", grouped.rename(columns={"x": "C"})), "rename the column")


def test_r_backticks(grouped):
    spaced = grouped.rename(columns={"x": "body mass", "y": "the y", "g": "my group"})
    m = lmmedu.fit("`the y` ~ `body mass` + (1|`my group`)", spaced)
    ref = lmmedu.fit("y ~ x + (1|g)", grouped)
    np.testing.assert_allclose(m.coefs.to_numpy(), ref.coefs.to_numpy(), rtol=1e-10)
    assert list(m.ngroups) == ["my group"]


def test_q_in_response_and_grouping(grouped):
    odd = grouped.assign(y=np.exp(grouped["y"])).rename(columns={"y": "y.1", "g": "g.g"})
    m = lmmedu.fit('log(Q("y.1")) ~ x + (1|Q("g.g"))', odd)
    ref = lmmedu.fit("y ~ x + (1|g)", grouped)
    # exp then log changes y in the last bits; the optimiser's stopping point follows them
    np.testing.assert_allclose(m.coefs.to_numpy(), ref.coefs.to_numpy(), rtol=1e-5)


def test_emmeans_with_q_factor(grouped):
    odd = grouped.rename(columns={"f": "f.f"})
    m = lmmedu.fit('y ~ x + Q("f.f") + (1|g)', odd)
    ref = lmmedu.fit("y ~ x + f + (1|g)", grouped)
    a, b = lmmedu.emmeans(m, "f.f").table, lmmedu.emmeans(ref, "f").table
    np.testing.assert_allclose(a["emmean"], b["emmean"], rtol=1e-10)


def test_grouping_mixing_number_and_text_refused(grouped):
    mixed = grouped.assign(g=pd.Series([1, "1", 2, "2"] * 25, dtype=object))
    clean_error(lambda: lmmedu.fit("y ~ x + (1|g)", mixed), "(1 and '1')")
    clean_error(lambda: lmmedu.fit_lm("y ~ x + g", mixed), "astype(str)")


def test_grouping_mixing_number_and_other_text_is_fine(grouped):
    mixed = grouped.assign(g=pd.Series([1, "a", 2, "b"] * 25, dtype=object))
    assert lmmedu.fit("y ~ x + (1|g)", mixed).ngroups == {"g": 4}


def test_bad_grouping_syntax(grouped):
    clean_error(lambda: lmmedu.fit("y ~ x + (1|g/)", grouped), "must be a column name")
    clean_error(lambda: lmmedu.fit("y ~ x + (1|g f)", grouped), "must be a column name")


def test_unknown_function_is_a_value_error(grouped):
    clean_error(lambda: lmmedu.fit_lm("y ~ foo(x)", grouped), "foo() in 'foo(x)' is not a function lmmedu's formulas know")


# ---------------------------------------------------------------------------------------------
# Transforms of predictors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, shown", [(0.0, "x = 0.0"), (-2.0, "x = -2.0"), (np.inf, "x = inf")])
def test_log_of_bad_predictor_names_column(grouped, bad, shown):
    x = grouped["x"].abs() + 0.1
    x.iloc[3] = bad
    text = clean_error(lambda: lmmedu.fit_lm("y ~ log(x)", grouped.assign(x=x)), "column 'log(x)'")
    assert shown in text and "row 3" in text


def test_infinite_plain_predictor(grouped):
    x = grouped["x"].copy()
    x.iloc[0] = -np.inf
    clean_error(lambda: lmmedu.fit_lm("y ~ x", grouped.assign(x=x)), "column 'x' is infinite")


def test_log_of_bad_random_slope(grouped):
    x = grouped["x"].abs() + 0.1
    x.iloc[0] = 0
    clean_error(lambda: lmmedu.fit("y ~ 1 + (log(x)|g)", grouped.assign(x=x)), "random-effects term")


def test_log_of_non_positive_response(grouped):
    clean_error(lambda: lmmedu.fit_lm("log(y) ~ x", grouped), "log(y) needs positive values")


def test_no_fixed_effects_summary(grouped):
    m = lmmedu.fit("y ~ 0 + (1|g)", grouped)
    text = m.summary()
    assert "no fixed effects" in text and "Random effects" in text
    assert m.coefs.empty


# ---------------------------------------------------------------------------------------------
# Simulators
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("baseline", [800, -800])
def test_simulator_refuses_overflowing_baseline(baseline):
    clean_error(lambda: lmmedu.simulate_replicates(baseline=baseline), "give them as logs")


def test_simulator_refuses_overflowing_noise():
    clean_error(lambda: lmmedu.simulate_replicates(residual_sd=300, obs_per_replicate=50), "overflow or underflow")


def test_forty_thousand_replicates():
    df = lmmedu.simulate_replicates(n_replicates=40_000, obs_per_replicate=2, genes=("A",))
    assert df["replicate"].nunique() == 40_000
    assert df["replicate"].iloc[-1] == "R40000"
    assert (df.groupby("replicate", observed=True).size() == 2).all()


def test_too_many_rows_refused_before_allocating():
    clean_error(lambda: lmmedu.simulate_replicates(n_replicates=40_000), "GiB of memory")


def test_expression_memory_refused():
    import tracemalloc

    tracemalloc.start()
    try:
        clean_error(lambda: lmmedu.simulate_expression(n_probesets=10**9), "lower n_probesets")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_expression_float_count_refused():
    clean_error(lambda: lmmedu.simulate_expression(n_probesets=1e9), "must be an integer")


def test_expression_many_probesets_codes():
    df = lmmedu.simulate_expression(n_probesets=40_000, weeks=(1, 2), n_replicates=1, n_dropped=0)
    assert df["probeset"].nunique() == 40_000 and df["probeset"].iloc[-1] == "ps40000"


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def csv_frame(grouped):
    out = grouped.copy()
    out["y"] = (out["y"] + 5).round(4)
    out["x"] = out["x"].round(4)
    return out


def cli(args, capsys):
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def slope_line(out):
    return [ln for ln in out.splitlines() if ln.startswith("x ")]


@pytest.mark.parametrize("sep, decimal", [(";", "."), (";", ","), ("\t", "."), ("|", "."), (" ", ".")])
def test_cli_guesses_delimiter(tmp_path, capsys, csv_frame, sep, decimal):
    ref_path, path = tmp_path / "ref.csv", tmp_path / "other.csv"
    csv_frame.to_csv(ref_path, index=False)
    csv_frame.to_csv(path, index=False, sep=sep, decimal=decimal)
    status, out, err = cli(["fit", str(path), "y ~ x + (1|g)"], capsys)
    assert status == 0 and err == ""
    _, ref_out, _ = cli(["fit", str(ref_path), "y ~ x + (1|g)"], capsys)
    assert slope_line(out) == slope_line(ref_out) != []


def write_with(frame, column, row, value, path):
    bad = frame.astype({column: object})
    bad.loc[row, column] = value
    bad.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("value", ["<0.1", "n/a?", "5,3", "1e", "--"])
def test_cli_text_in_numeric_column(tmp_path, capsys, csv_frame, value):
    path = write_with(csv_frame, "x", 7, value, tmp_path / "bad.csv")
    status, out, err = cli(["fit", str(path), "y ~ x + (1|g)"], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: column 'x'") and "line 9" in err and err.count("\n") == 1


def test_cli_text_in_response_line_with_blank_lines(tmp_path, capsys, csv_frame):
    path = write_with(csv_frame, "y", 4, "<0.1", tmp_path / "bad.csv")
    path.write_text(path.read_text().replace("\n", "\n\n", 2))
    status, _, err = cli(["compare", str(path), "y ~ x + (1|g)"], capsys)
    assert status == 2 and "column 'y'" in err and "line 8" in err


def test_cli_number_with_trailing_space_is_a_number(tmp_path, capsys, csv_frame):
    spaced = write_with(csv_frame, "x", 7, f"{csv_frame.loc[7, 'x']} ", tmp_path / "spaced.csv")
    plain = tmp_path / "plain.csv"
    csv_frame.to_csv(plain, index=False)
    s1, out1, err1 = cli(["fit", str(spaced), "y ~ x + (1|g)"], capsys)
    s2, out2, _ = cli(["fit", str(plain), "y ~ x + (1|g)"], capsys)
    assert s1 == s2 == 0 and err1 == "" and slope_line(out1) == slope_line(out2) != []


def test_cli_text_in_grouping_column_is_a_label(tmp_path, capsys, csv_frame):
    path = write_with(csv_frame.assign(g=csv_frame["g"].str[1:]), "g", 7, "3b", tmp_path / "g.csv")
    status, _, err = cli(["fit", str(path), "y ~ x + (1|g)"], capsys)
    assert status == 0 and err == ""


@pytest.mark.parametrize("formula, transform, needle", [
    ("y ~ x + (1|g)", lambda d: d.assign(y=2.0), "same value"),
    ("y ~ . + (1|g)", lambda d: d, "shorthand"),
    ("y ~ lambda + (1|g)", lambda d: d.rename(columns={"x": "lambda"}), 'Q("lambda")'),
    ("y ~ x + (1|g)", lambda d: d.assign(y="text"), "must be numeric"),
    ("log(y) ~ log(x) + (1|g)", lambda d: d, "log(x)"),
    ("y ~ body.mass + (1|g)", lambda d: d.rename(columns={"x": "body.mass"}), 'Q("body.mass")'),
])
def test_cli_bad_data_one_line_exit_2(tmp_path, capsys, csv_frame, formula, transform, needle):
    path = tmp_path / "d.csv"
    transform(csv_frame).to_csv(path, index=False)
    status, out, err = cli(["fit", str(path), formula], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err and "unexpected" not in err


def test_cli_reml_fits_match_library(tmp_path, capsys, csv_frame):
    path = tmp_path / "d.csv"
    csv_frame.assign(g=csv_frame["g"]).to_csv(path, index=False, sep=";")
    status, out, _ = cli(["fit", str(path), "y ~ x + (1|g)", "--ml"], capsys)
    m = lmmedu.fit("y ~ x + (1|g)", csv_frame, reml=False)
    assert status == 0 and f"{m.loglik:8.1f}" in out


# ---------------------------------------------------------------------------------------------
# More awkward inputs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [pd.date_range("2020-01-01", periods=100),
                                    pd.to_timedelta(np.arange(100), "D")])
def test_dates_as_predictor(grouped, values):
    clean_error(lambda: lmmedu.fit("y ~ x + (1|g)", grouped.assign(x=values)), ".dt.days")


def test_complex_response(grouped):
    clean_error(lambda: lmmedu.fit_lm("y ~ x", grouped.assign(y=grouped["y"] + 1j)), "complex numbers")


def test_quoted_column_without_q(grouped):
    clean_error(lambda: lmmedu.fit_lm('y ~ "x"', grouped), "text constant, not a column")


def test_q_without_quotes(grouped):
    clean_error(lambda: lmmedu.fit_lm("y ~ Q(x)", grouped), 'write Q("x")')


def test_compare_checks_reml_too(grouped):
    clean_error(lambda: lmmedu.compare("y ~ x + (1|g)", grouped, reml="yes"), "reml must be True", TypeError)


def test_level_argument_strings_still_work(grouped):
    a = lm_quiet('y ~ C(f, Treatment("b"))', grouped)
    ref = smf.ols('y ~ C(f, Treatment("b"))', grouped).fit()
    np.testing.assert_allclose(a.coefs["estimate"], ref.params[a.names], rtol=1e-10)


def test_far_from_zero_warning_names_column_and_centring(grouped):
    with pytest.warns(UserWarning, match=r"'x' is far from zero .* centre it first, e.g. x - 1e\+08"):
        lmmedu.fit_lm("y ~ x + f", grouped.assign(x=grouped["x"] + 1e8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lmmedu.fit_lm("y ~ year", grouped.assign(year=2000 + np.arange(100) % 21))  # years are fine


def test_emmeans_se_exact_for_moderate_shift(grouped):
    a = lmmedu.emmeans(lm_quiet("y ~ x + f", grouped.assign(x=grouped["x"] + 1e4)), "f").table
    b = lmmedu.emmeans(lm_quiet("y ~ x + f", grouped), "f").table
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-6)


def test_no_fixed_effects_downstream(grouped):
    m = lmmedu.fit("y ~ 0 + (1|g)", grouped)
    clean_error(lambda: lmmedu.explain(m), "no fixed effects")
    assert lmmedu.compare("y ~ 0 + (1|g)", grouped).table.empty
    lm = lmmedu.fit_lm("y ~ 0", grouped)
    assert lm.sigma == pytest.approx(np.sqrt(np.mean(grouped["y"] ** 2)), rel=1e-12)
    assert "no fixed effects" in lm.summary()


def test_cli_windows_encoding_read_with_a_warning(tmp_path, capsys, csv_frame):
    path = tmp_path / "latin.csv"
    frame = csv_frame.assign(f=csv_frame["f"].map({"a": "café", "b": "thé"}))
    frame.to_csv(path, index=False, encoding="cp1252")
    status, out, err = cli(["fit", str(path), "y ~ x + f + (1|g)"], capsys)
    assert status == 0 and "f[T.thé]" in out
    assert err.startswith("warning: ") and "Windows-1252" in err and err.count("\n") == 1


def test_cli_ragged_semicolon_file_names_the_delimiter(tmp_path, capsys):
    path = tmp_path / "ragged.csv"
    path.write_text("y;x;g\n1;2;a\n2;3;b;extra\n")
    status, out, err = cli(["fit", str(path), "y ~ x"], capsys)
    assert status == 2 and out == "" and "semicolon-separated" in err and err.count("\n") == 1


def test_exact_fit_by_crossed_groups_and_slopes_refused():
    rng = np.random.default_rng(4)
    g, h = np.repeat(np.arange(8), 12), np.tile(np.arange(12), 8)
    x = rng.normal(size=96)
    data = pd.DataFrame({"g": [f"g{i}" for i in g], "h": [f"h{i}" for i in h], "x": x})
    crossed = data.assign(y=rng.normal(size=8)[g] + rng.normal(size=12)[h])
    clean_error(lambda: lmmedu.fit("y ~ 1 + (1|g) + (1|h)", crossed), "of 'g', 'h' fit the response")
    slopes = data.assign(y=rng.normal(size=8)[g] + rng.normal(size=8)[g] * x)
    clean_error(lambda: lmmedu.fit("y ~ x + (x|g)", slopes), "exactly")
    noisy = crossed.assign(y=crossed["y"] + 0.1 * rng.normal(size=96))
    assert lmmedu.fit("y ~ 1 + (1|g) + (1|h)", noisy).sigma > 0.05


def test_labels_differing_only_in_spaces(grouped, tmp_path, capsys):
    spaced = grouped.assign(g=grouped["g"].where(grouped.index != 5, grouped["g"] + " "))
    clean_error(lambda: lmmedu.fit("y ~ x + (1|g)", spaced), "differ only in spaces ('G0' and 'G0 ')")
    clean_error(lambda: lmmedu.fit_lm("y ~ x + g", spaced.astype({"g": "category"})), ".str.strip()")
    path = tmp_path / "spaced.csv"
    spaced.to_csv(path, index=False)
    status, _, err = cli(["compare", str(path), "y ~ x + (1|g)"], capsys)
    assert status == 2 and "differ only in spaces" in err and err.count("\n") == 1
