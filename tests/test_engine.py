"""The engine beyond the R fixtures: formula syntax, cross-checks with statsmodels and
the `mixedlm` package on randomised designs, predictions, and bad input."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.stats.formula import parse_formula

SLEEP = "tests/fixtures/data/sleepstudy.csv"


@pytest.fixture(scope="module")
def sleep():
    d = pd.read_csv(SLEEP, dtype={"Subject": str})
    return d


@pytest.fixture(scope="module")
def reps():
    return lmmedu.simulate_replicates(obs_per_replicate=(60, 80, 100, 150), seed=3)


# ----------------------------------------------------------------------------- syntax
@pytest.mark.parametrize(
    "formula, fixed, random",
    [
        ("y ~ x + (1|g)", "x", ["(1 | g)"]),
        ("y ~ x + (x|g)", "x", ["(x | g)"]),
        ("y ~ x + (1 + x | g)", "x", ["(1 + x | g)"]),
        ("y ~ x + (0 + x | g)", "x", ["(0 + x | g)"]),
        ("y ~ x + (x || g)", "x", ["(1 | g)", "(0 + x | g)"]),
        ("y ~ x + (1 + x || g)", "x", ["(1 | g)", "(0 + x | g)"]),
        ("y ~ 1 + (1|a/b)", "1", ["(1 | a)", "(1 | a:b)"]),
        ("y ~ (1|a:b)", "1", ["(1 | a:b)"]),
        ("y ~ x*z - 1 + (1|a) + (1|b)", "x*z - 1", ["(1 | a)", "(1 | b)"]),
        ("log(y) ~ factor(x) + (1|g)", "C(x)", ["(1 | g)"]),
    ],
)
def test_parse_formula(formula, fixed, random):
    p = parse_formula(formula)
    assert p.fixed == fixed
    assert [str(t) for t in p.random] == random


def test_parse_response_transforms():
    assert parse_formula("log(length) ~ 1 + (1|r)").transform == "log"
    assert parse_formula("np.log10(length) ~ 1 + (1|r)").transform == "log10"
    assert parse_formula("length ~ 1 + (1|r)").transform is None


@pytest.mark.parametrize(
    "formula, fragment",
    [
        ("y ~ x + 1|g", "must be in parentheses"),
        ("y ~ x + (1|)", "needs an expression"),
        ("y ~ x + (1|g|h)", "exactly one '|'"),
        ("y ~ x + (1|g", "unmatched '('"),
        ("y ~ x + (1|g+h)", "must be a column name"),
        ("y x", "must be a string with a '~'"),
        ("~ x", "no response"),
        ("foo(y) ~ x + (1|g)", "not understood"),
        ("y ~ x + + (1|g)", "empty term"),
    ],
)
def test_malformed_formula(formula, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_formula(formula)


def test_fixed_names_match_statsmodels(reps):
    import statsmodels.formula.api as smf

    f = "log(length) ~ treatment*gene + (1|replicate)"
    m = lmmedu.fit_lm(f, reps)
    sm = smf.ols(m.parsed.fixed_formula, reps).fit()
    assert list(m.coefs.index) == list(sm.params.index)
    np.testing.assert_allclose(m.coefs["estimate"], sm.params, rtol=1e-10)
    np.testing.assert_allclose(m.coefs["se"], sm.bse, rtol=1e-10)
    np.testing.assert_allclose(m.coefs["p"], sm.pvalues, rtol=1e-8, atol=1e-300)


# ------------------------------------------------------------------ cross-checks
def test_against_statsmodels_mixedlm(sleep, reps):
    """Our optimum is never worse than statsmodels' (same model, same criterion)."""
    import statsmodels.formula.api as smf

    cases = [
        ("Reaction ~ Days + (Days|Subject)", sleep, dict(groups="Subject", re_formula="~Days"), "Reaction ~ Days"),
        ("Reaction ~ Days + (1|Subject)", sleep, dict(groups="Subject"), "Reaction ~ Days"),
        ("log(length) ~ treatment*gene + (1|replicate)", reps, dict(groups="replicate"),
         "np.log(length) ~ treatment*gene"),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for formula, data, kw, smformula in cases:
            for reml in (True, False):
                ours = lmmedu.fit(formula, data, reml=reml)
                theirs = smf.mixedlm(smformula, data, **kw).fit(reml=reml)
                assert ours.loglik >= theirs.llf - 1e-6, (formula, reml, ours.loglik, theirs.llf)
                np.testing.assert_allclose(ours.coefs["estimate"], theirs.fe_params, rtol=1e-3, atol=1e-3)


def _random_design(rng):
    """A random unbalanced design with known structure for the cross-check."""
    n_g = int(rng.integers(4, 12))
    n_h = int(rng.integers(3, 6))
    sizes = rng.integers(3, 25, size=n_g)
    g = np.repeat(np.arange(n_g), sizes)
    n = len(g)
    h = rng.integers(0, n_h, size=n)
    x = rng.normal(size=n)
    f = rng.choice(["a", "b", "c"], size=n)
    b0 = rng.normal(0, rng.uniform(0.2, 2), n_g)
    b1 = rng.normal(0, rng.uniform(0.0, 1), n_g)
    c0 = rng.normal(0, rng.uniform(0.0, 1), n_h)
    y = 1 + 0.5 * x + (f == "b") * 0.3 + b0[g] + b1[g] * x + c0[h] + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, "x": x, "f": f, "g": [f"g{i:02d}" for i in g], "h": [f"h{i}" for i in h]})


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "formula",
    ["y ~ x + f + (1|g)", "y ~ x + (x|g)", "y ~ x * f + (1|g) + (1|h)", "y ~ x + (x||g)"],
)
def test_against_mixedlm_package(seed, formula):
    """The `mixedlm` package matches lme4 to ~1e-10; we must reach the same optimum."""
    mixedlm = pytest.importorskip("mixedlm")
    data = _random_design(np.random.default_rng(seed))
    for reml in (True, False):
        ours = lmmedu.fit(formula, data, reml=reml)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = mixedlm.lmer(formula, data, REML=reml)
        ll = float(theirs.logLik().value) if hasattr(theirs.logLik(), "value") else float(
            str(theirs.logLik()).split()[2])
        assert ours.loglik >= ll - 1e-6, (formula, seed, reml, ours.loglik, ll)
        assert ours.loglik == pytest.approx(ll, abs=1e-4)


def test_balanced_fixed_effects_equal_ols():
    df = lmmedu.simulate_replicates(obs_per_replicate=100, seed=5)
    f = "log(length) ~ treatment*gene + (1|replicate)"
    np.testing.assert_allclose(lmmedu.fit(f, df).beta, lmmedu.fit_lm(f, df).beta, rtol=1e-8, atol=1e-10)


def test_recovers_truth_at_seed001_scale_small():
    df = lmmedu.simulate_expression(n_probesets=400, seed=2)
    m = lmmedu.fit("values ~ week*genotype + (week|probeset) + (1|sample)", df, reml=False)
    vc = m.varcomp[m.varcomp["term2"].isna()].set_index(["group", "term"])
    t = lmmedu.truth(df)
    assert vc.loc[("probeset", "Intercept"), "sd"] == pytest.approx(t.probeset_sd, rel=0.15)
    assert m.sigma == pytest.approx(t.residual_sd, rel=0.02)
    # week and genotype vary only between the 23 arrays: few df, not 9,000.
    assert m.coefs.loc["genotype[T.CSB]", "df"] < 40


# ------------------------------------------------------------------ predictions
def test_predict_and_ranef(sleep):
    m = lmmedu.fit("Reaction ~ Days + (Days|Subject)", sleep)
    np.testing.assert_allclose(m.predict(sleep), m.fitted(), rtol=1e-12)
    np.testing.assert_allclose(m.predict(sleep, include_random=False), m.X @ m.beta, rtol=1e-12)
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": ["unknown", "308"]})
    pred = m.predict(new)
    assert pred[0] == pytest.approx(m.beta[0])  # unknown subject: population level
    b = m.ranef["Subject"].loc["308"]
    assert pred[1] == pytest.approx(m.beta[0] + b["Intercept"] + 5 * (m.beta[1] + b["Days"]))
    assert m.ranef["Subject"].shape == (18, 2)
    # Conditional modes of a random intercept sum to ~0 (they are shrunken deviations).
    assert abs(m.ranef["Subject"]["Intercept"].mean()) < 1e-6 * m.sigma
    assert "Random effects:" in m.summary() and "Fixed effects:" in m.summary()


# ------------------------------------------------------------------ bad input
def _one_sentence(msg):
    return msg.count(". ") <= 2 and "\n" not in msg


@pytest.mark.parametrize(
    "formula, mutate, fragment",
    [
        ("log(lenght) ~ treatment + (1|replicate)", None, "column 'lenght' is not in the data"),
        ("log(length) ~ treatmnt + (1|replicate)", None, "Did you mean 'treatment'"),
        ("log(length) ~ treatment + (1|replicat)", None, "grouping column 'replicat'"),
        ("gene ~ treatment + (1|replicate)", None, "must be numeric"),
        ("log(length) ~ treatment + (1|replicate)", "nonpositive", "needs positive values, but 3 of"),
        ("log(length) ~ treatment + (1|one)", "onelevel", "has only 1 level"),
        ("log(length) ~ treatment + (1|row)", "rowid", "random effects"),
        ("log(length) ~ treatment", None, "no random-effects term"),
    ],
)
def test_bad_input_messages(reps, formula, mutate, fragment):
    d = reps.copy()
    if mutate == "nonpositive":
        d.loc[d.index[:3], "length"] = [0.0, -1.0, 0.0]
    if mutate == "onelevel":
        d["one"] = "x"
    if mutate == "rowid":
        d["row"] = np.arange(len(d)).astype(str)
    with pytest.raises(ValueError) as err:
        lmmedu.fit(formula, d)
    assert fragment in str(err.value)
    assert _one_sentence(str(err.value))


def test_missing_values_dropped_with_count(reps):
    d = reps.copy()
    d.loc[d.index[:7], "length"] = np.nan
    with pytest.warns(UserWarning, match="7 of .* rows have missing values"):
        m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", d)
    assert m.nobs == len(d) - 7


def test_empty_cell_drops_column_with_warning(reps):
    d = reps[~((reps["gene"] == "C") & (reps["treatment"] == "drug"))]
    with pytest.warns(UserWarning, match=r"dropped: treatment\[T.drug\]:gene\[T.C\]"):
        m = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", d)
    assert "treatment[T.drug]:gene[T.C]" not in m.coefs.index
    assert len(m.coefs) == 5


def test_single_replicate_rejected(reps):
    d = reps[reps["replicate"] == "R1"]
    with pytest.raises(ValueError, match="only 1 level"):
        lmmedu.fit("log(length) ~ treatment + (1|replicate)", d)


def test_singular_fit_reported():
    df = lmmedu.simulate_replicates(replicate_sd=0.0, obs_per_replicate=50, seed=11, genes=("A",))
    m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", df)
    if m.singular:
        assert "Singular fit" in m.singular_message and "replicate" in m.singular_message
        assert "Singular fit" in m.summary()
    # Either way the variance is tiny relative to the residual.
    assert m.varcomp.iloc[0]["sd"] < 0.05


def test_unidentifiable_variance_explained():
    d = pd.read_csv("tests/fixtures/data/cake.csv", dtype={"replicate": str, "temperature": str})
    m = lmmedu.fit("angle ~ recipe + (1|recipe/replicate)", d)
    assert m.df_message and "simplify the random part" in m.df_message
    assert m.df_message in m.summary()
    ok = lmmedu.fit("angle ~ recipe + (1|recipe:replicate)", d)
    assert ok.df_message == "" and np.isfinite(ok.coefs["df"]).all()
