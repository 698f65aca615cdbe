"""What R's emmeans prints for notebook 02's gene A models: its default df method by data size, the
asymptotic method (df = Inf, z), Satterthwaite and Kenward-Roger, against tests/fixtures/emmeans_df/
(made by tests/r/make_emmeans_df_fixtures.R).

Tolerances: asymptotic and Satterthwaite SEs depend only on the variance parameters at the optimum;
lme4 stops when its objective changes by less than its tolerance, so theta agrees with lmmedu's to about
1e-5 relative here, which moves SEs by less than that (rtol 1e-4, as tests/test_kenward_roger.py) and
Satterthwaite df, a ratio of derivatives, by up to ~1e-3 (rtol 2e-3, as there). Kenward-Roger is
analytic given theta, so the same tolerances apply. Estimates are GLS solutions at nearly the same theta:
1e-6 relative.
"""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.stats.ddf import R_DF_LIMIT, r_default_ddf
from lmmedu.teach.comparison import df_methods_table, few_cells

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "emmeans_df"
IDS = sorted(p.stem for p in FIX.glob("*.json") if p.stem != "index")
CASE_DDF = {"default": None, "satterthwaite": "satterthwaite", "kenward_roger": "kenward-roger",
            "asymptotic": "asymptotic"}


def load(model_id):
    return json.loads((FIX / f"{model_id}.json").read_text())


def as_list(x):
    return x if isinstance(x, list) else [x]


def gene_a():
    df = lmmedu.load_replicates("within")
    return df[df["gene"] == "A"]


_FITS = {}


def fitted(model_id):
    if model_id not in _FITS:
        fx = load(model_id)
        data = gene_a() if fx["data"] == "gene_a" else few_cells(gene_a())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[model_id] = (fx, lmmedu.fit(fx["formula"], data))
    return _FITS[model_id]


def test_fixtures_are_there_and_current():
    assert len(IDS) == 4
    import hashlib
    for model_id in IDS:
        fx = load(model_id)
        assert hashlib.md5((ROOT / fx["data_file"]).read_bytes()).hexdigest() == fx["data_md5"], model_id


def test_few_cells_takes_the_rows_r_took():
    ours = few_cells(gene_a())
    theirs = pd.read_csv(FIX / "data" / "gene_a_few_cells.csv")
    assert len(ours) == len(theirs) == 76
    np.testing.assert_array_equal(ours["length"].to_numpy(), theirs["length"].to_numpy())
    assert ours["replicate"].astype(str).tolist() == theirs["replicate"].tolist()


def test_r_default_follows_emmeans_limits():
    index = json.loads((FIX / "index.json").read_text())
    assert index["emm_options_defaults"] == {"lmer.df": "kenward-roger", "pbkrtest.limit": R_DF_LIMIT,
                                             "lmerTest.limit": R_DF_LIMIT}
    for model_id in IDS:
        fx = load(model_id)
        said = fx["emmeans"]["default"]["df_method"].split(": ")[1]
        assert r_default_ddf(fx["nobs"]) == said, model_id
    assert r_default_ddf(3000) == "kenward-roger" and r_default_ddf(3001) == "asymptotic"
    # emmeans' own fallbacks: KR too big but Satterthwaite allowed, and the reverse.
    assert r_default_ddf(5000, lmerTest_limit=1e4) == "satterthwaite"
    assert r_default_ddf(5000, lmer_df="satterthwaite", pbkrtest_limit=1e4) == "kenward-roger"
    with pytest.raises(ValueError, match="^ddf must be"):
        r_default_ddf(10, lmer_df="containment")
    with pytest.raises(ValueError, match="^nobs must be a number of rows"):
        r_default_ddf("many")


def test_default_above_the_limit_prints_both_notes():
    fx = load("gene_a_intercept")
    notes = fx["emmeans"]["default"]["printed_notes"]
    assert fx["nobs"] > R_DF_LIMIT and fx["emmeans"]["default"]["df_is_inf"]
    assert any("pbkrtest.limit" in n for n in notes) and any("lmerTest.limit" in n for n in notes)


# pbkrtest's dense vcovAdj does not finish at 7,500 rows, so those fixtures have no Kenward-Roger case.
CASES = [(m, c) for m in IDS for c in CASE_DDF if c in load(m)["emmeans"]]


@pytest.mark.parametrize("model_id, case", CASES)
def test_emmeans_and_pairs_match_r(model_id, case):
    fx, fit = fitted(model_id)
    ref = fx["emmeans"][case]
    ddf = CASE_DDF[case] or r_default_ddf(fit.nobs)
    emm = lmmedu.emmeans(fit, "treatment", ddf=ddf)
    assert f"Degrees-of-freedom method: {ddf}" == ref["df_method"]
    tab = emm.table
    np.testing.assert_allclose(tab["emmean"], as_list(ref["emmeans"]["emmean"]), rtol=1e-6)
    np.testing.assert_allclose(tab["se"], as_list(ref["emmeans"]["se"]), rtol=1e-4)
    pairs = lmmedu.contrasts(emm, "revpairwise")
    assert pairs["contrast"].tolist() == as_list(ref["pairs"]["contrast"])
    np.testing.assert_allclose(pairs["estimate"], as_list(ref["pairs"]["estimate"]), rtol=1e-6)
    np.testing.assert_allclose(pairs["se"], as_list(ref["pairs"]["se"]), rtol=1e-4)
    np.testing.assert_allclose(pairs["t"], as_list(ref["pairs"]["ratio"]), rtol=1e-4)
    if ref["df_is_inf"]:
        assert ref["pairs"]["ratio_name"] == "z.ratio"
        assert np.isinf(tab["df"]).all() and np.isinf(pairs["df"]).all()
        # A normal tail p moves by about z^2 times z's relative error: z = 5.4 and 1e-5 give ~3e-4.
        np.testing.assert_allclose(pairs["p"], as_list(ref["pairs"]["p"]), rtol=1e-3)
    else:
        np.testing.assert_allclose(tab["df"], as_list(ref["emmeans"]["df"]), rtol=2e-3)
        np.testing.assert_allclose(pairs["df"], as_list(ref["pairs"]["df"]), rtol=2e-3)
        np.testing.assert_allclose(pairs["p"], as_list(ref["pairs"]["p"]), rtol=2e-3)


@pytest.mark.parametrize("model_id", IDS)
def test_df_methods_table_matches_lmertest_summaries(model_id):
    fx, fit = fitted(model_id)
    methods = ["satterthwaite"] + (["kenward-roger"] if fx["coefs_kenward_roger"] else [])
    tab = df_methods_table(fit, methods).set_index(["method", "term"])
    for method in methods:
        ref = pd.DataFrame(fx[f"coefs_{method.replace('-', '_')}"])
        got = tab.loc[fit.ddf_method(method).name].loc[fit.names]
        np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-6)
        np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-4)
        np.testing.assert_allclose(got["df"], ref["df"], rtol=2e-3)
        np.testing.assert_allclose(got["t"], ref["t"], rtol=1e-4)


def test_asymptotic_method_is_z_and_chi_square():
    fx, fit = fitted("gene_a_per_replicate")
    coefs = df_methods_table(fit, ["asymptotic"]).set_index("term")
    assert np.isinf(coefs["df"]).all()
    np.testing.assert_allclose(coefs["se"], fit.coefs["se"], rtol=1e-12)  # unadjusted vcov
    from scipy import stats
    np.testing.assert_allclose(coefs["p"], 2 * stats.norm.sf(np.abs(coefs["t"])), rtol=1e-12)
    joint = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates("within"))
    tab = lmmedu.anova(joint, ddf="asymptotic")
    assert np.isinf(tab["den_df"]).all() and "asymptotic" in tab.notes[0]
    np.testing.assert_allclose(tab["p"], stats.chi2.sf(tab["F"] * tab["num_df"], tab["num_df"]), rtol=1e-10)
    sat = lmmedu.anova(joint)
    np.testing.assert_allclose(tab["F"], sat["F"], rtol=1e-10)  # same Wald statistic, other reference
    assert lmmedu.fit("log(length) ~ treatment + (1|replicate)", gene_a(), reml=False, ddf="asymptotic").ddf == "asymptotic"


def test_df_methods_table_refuses_an_lm_and_unknown_methods():
    lm = lmmedu.fit_lm("log(length) ~ treatment", gene_a())
    with pytest.raises(ValueError, match="needs a mixed model"):
        df_methods_table(lm)
    _, fit = fitted("few_cells_intercept")
    with pytest.raises(ValueError, match="^ddf must be 'satterthwaite', 'kenward-roger' or 'asymptotic'"):
        df_methods_table(fit, ["containment"])


def test_few_cells_refuses_bad_share_and_columns():
    with pytest.raises(ValueError, match="share must be"):
        few_cells(gene_a(), share=0)
    with pytest.raises(ValueError, match="not in the data"):
        few_cells(gene_a(), cells=("plate",))
