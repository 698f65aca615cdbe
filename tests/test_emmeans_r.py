"""lmmedu.emmeans / lmmedu.contrasts against R's emmeans with lmerTest Satterthwaite df.

Reference tables were computed by R (see tests/r/README.md, tests/r/make_fixtures.R and
tests/r/make_interpret_fixtures.R); R is not needed to run these tests.

Tolerances (from the task): estimates, SEs and confidence limits within 1e-4 relative,
df within 1e-2 relative, p-values within 1e-3 absolute.  For estimates, confidence limits
and t that happen to lie near zero, "relative" is taken relative to max(|R value|, SE)
(max(|t|, 1) for t): lme4 and lmmedu stop their optimisers at slightly different points
(about 1e-7 relative), which is a large *relative* error only for a number close to 0.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import pytest

import lmmedu
from lmmedu.stats.emmeans import contrasts, emmeans
from lmmedu.teach.comparison import per_group_vs_joint

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
TEMPS = ["175", "185", "195", "205", "215", "225"]
DESIGNS = ["within", "between"]
RANDOM = {"intercept": "(1|replicate)", "slope": "(1+treatment|replicate)"}

EST_RTOL, DF_RTOL, P_ATOL = 1e-4, 1e-2, 1e-3
#: Models whose variance parameters lme4 itself cannot identify (degenerate Hessian), as in test_engine_r.py.
UNIDENTIFIED = {"replicates_between_slope_reml"}


def _json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _fresh(fixture):
    """The fixture was computed from the data file as it is now."""
    assert _md5(ROOT / fixture["data_file"]) == fixture["data_md5"], (
        f"{fixture['data_file']} changed since the R fixtures were made; re-run the R scripts in tests/r/."
    )


@lru_cache(maxsize=None)
def cake():
    d = pd.read_csv(FIX / "data" / "cake.csv", dtype={"replicate": str, "recipe": str, "temperature": str})
    d["temperature"] = pd.Categorical(d["temperature"], categories=TEMPS)
    d["recipe"] = pd.Categorical(d["recipe"], categories=["A", "B", "C"])
    return d


@lru_cache(maxsize=None)
def cake_fit(kind="factor"):
    term = "temperature" if kind == "factor" else "temp"
    return lmmedu.fit(f"angle ~ recipe*{term} + (1|recipe:replicate)", cake())


@lru_cache(maxsize=None)
def replicates(design):
    return lmmedu.load_replicates(design, with_truth=False)


@lru_cache(maxsize=None)
def rep_fit(design, random):
    if random == "lm":
        return lmmedu.fit_lm("log(length) ~ treatment*gene", replicates(design))
    return lmmedu.fit(f"log(length) ~ treatment*gene + {RANDOM[random]}", replicates(design))


def _close(ours, theirs, rtol, what, scale=None):
    """Relative agreement; ``scale`` (the SE) stands in for values that happen to be near zero."""
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    assert ours.shape == theirs.shape, what
    ref = np.abs(theirs) if scale is None else np.maximum(np.abs(theirs), np.asarray(scale, float))
    err = np.abs(ours - theirs) / ref
    assert np.all(err <= rtol), f"{what}: max relative difference {err.max():.3g} (ours {ours}, R {theirs})"


def compare(ours, r_entry, keys=(), value="estimate", r_value="estimate", p_col="p_adj", df_identified=True):
    """Compare an lmmedu table with an R emmeans table row by row.

    ``df_identified=False`` for a model whose variance parameters are not identified (lme4 reports a degenerate
    Hessian): lmerTest's df there rest on that Hessian, so only estimates and SEs are reference values, as in
    tests/test_engine_r.py.
    """
    R = pd.DataFrame(r_entry["table"])
    call = r_entry["call"]
    assert len(ours) == len(R), call
    for key in keys:
        assert [str(v) for v in ours[key]] == [str(v) for v in R[key]], f"{call}: column {key}"
    se = R["SE"].to_numpy(float)
    _close(ours[value], R[r_value], EST_RTOL, f"{call}: {r_value}", scale=se)
    _close(ours["se"], R["SE"], EST_RTOL, f"{call}: SE")
    if not df_identified:
        return
    _close(ours["df"], R["df"], DF_RTOL, f"{call}: df")
    if "lower.CL" in R:
        # The df are checked above to DF_RTOL. Near df = 1-2 (a between-replicate effect with 4 replicates) the
        # t quantile is steep, so that df difference moves the interval ends by more than EST_RTOL: allow exactly
        # the shift it causes, on the scale of the table (ratios: the delta method, as emmeans does).
        shift = np.abs(scipy.stats.t.ppf(0.975, ours["df"].to_numpy(float)) - scipy.stats.t.ppf(0.975, R["df"]))
        for col, r_col in (("ci_low", "lower.CL"), ("ci_high", "upper.CL")):
            width = se if value not in ("ratio", "response") else (
                np.abs(R[r_col].to_numpy(float)) * se / np.abs(R[r_value].to_numpy(float)))
            diff = np.abs(ours[col].to_numpy(float) - R[r_col].to_numpy(float))
            allowed = EST_RTOL * np.maximum(np.abs(R[r_col].to_numpy(float)), se) + shift * width
            assert np.all(diff <= allowed), f"{call}: {r_col} differs by {diff} (allowed {allowed})"
    if "t.ratio" in R:
        _close(ours["t"], R["t.ratio"], EST_RTOL, f"{call}: t.ratio", scale=np.ones(len(R)))
    if "p.value" in R:
        diff = np.abs(ours[p_col].to_numpy(float) - R["p.value"].to_numpy(float))
        assert np.all(diff <= P_ATOL), f"{call}: p differs by up to {diff.max():.3g}"


def _labels(tab):
    return [c.replace("temperature", "") for c in tab]


# ---------------------------------------------------------------------------
# cake: tests/fixtures/lmer/cake_reml.json
# ---------------------------------------------------------------------------


def test_cake_emmeans_match_r():
    fx = _json(FIX / "lmer" / "cake_reml.json")
    emm_fx = fx["emmeans"]
    fit = cake_fit()
    compare(emmeans(fit, "recipe").table, emm_fx["emm_recipe"], keys=["recipe"], value="emmean",
            r_value="emmean")
    compare(emmeans(fit, "temperature").table, emm_fx["emm_temperature"], keys=["temperature"],
            value="emmean", r_value="emmean")
    compare(emmeans(fit, "~ recipe | temperature").table, emm_fx["emm_recipe_by_temperature"],
            keys=["recipe", "temperature"], value="emmean", r_value="emmean")


def test_cake_tukey_matches_r():
    fx = _json(FIX / "lmer" / "cake_reml.json")["emmeans"]["pairs_recipe_tukey"]
    tab = contrasts(emmeans(cake_fit(), "recipe"), "pairwise", adjust="tukey")
    assert tab["contrast"].tolist() == fx["table"]["contrast"] == ["A - B", "A - C", "B - C"]
    compare(tab, fx)
    # Tukey really adjusts: the adjusted p-values exceed the raw ones.
    assert np.all(tab["p_adj"] > tab["p"])


@pytest.mark.parametrize("adjust", ["none", "holm", "fdr", "bonferroni", "tukey"])
def test_cake_adjustments_and_their_intervals_match_r(adjust):
    fx = _json(FIX / "interpret" / "cake_factor.json")
    _fresh(fx)
    entry = fx["tables"][f"pairs_recipe_{adjust}"]
    tab = contrasts(emmeans(cake_fit(), "recipe"), "pairwise", adjust=adjust)
    compare(tab, entry, keys=["contrast"])


def test_cake_revpairwise_and_trt_vs_ctrl_match_r():
    fx = _json(FIX / "interpret" / "cake_factor.json")["tables"]
    fit = cake_fit()
    tab = contrasts(emmeans(fit, "recipe"), "revpairwise", adjust="tukey")
    assert tab["contrast"].tolist() == ["B - A", "C - A", "C - B"]
    compare(tab, fx["revpairs_recipe"], keys=["contrast"])
    emm = emmeans(fit, "temperature")
    for adjust in ("none", "holm"):
        tab = contrasts(emm, "trt.vs.ctrl", adjust=adjust)
        entry = fx[f"trt_vs_ctrl_temperature_{adjust}"]
        assert tab["contrast"].tolist() == _labels(entry["table"]["contrast"])
        compare(tab, entry)


def test_cake_tukey_within_by_groups_and_holm_across_them_match_r():
    fx = _json(FIX / "interpret" / "cake_factor.json")["tables"]
    emm = emmeans(cake_fit(), "temperature", by="recipe")
    tab = contrasts(emm, "pairwise", adjust="tukey")
    assert len(tab) == 45  # 15 pairs of 6 temperatures in each of 3 recipes
    compare(tab, fx["pairs_temperature_by_recipe_tukey"], keys=["recipe"])
    tab = contrasts(emm, "pairwise", adjust="holm", family="all")
    compare(tab, fx["pairs_temperature_by_recipe_holm_all"], keys=["recipe"])


def test_cake_covariate_at_mean_and_at_values_match_r():
    fx = _json(FIX / "interpret" / "cake_covariate.json")
    _fresh(fx)
    t = fx["tables"]
    fit = cake_fit("covariate")
    compare(emmeans(fit, "recipe").table, t["emm_recipe"], keys=["recipe"], value="emmean", r_value="emmean")
    at = {"temp": [175, 225]}
    tab = emmeans(fit, "recipe", by="temp", at=at).table
    compare(tab, t["emm_recipe_by_temp_at"], keys=["recipe"], value="emmean", r_value="emmean")
    assert tab["temp"].tolist() == [175.0, 175.0, 175.0, 225.0, 225.0, 225.0]
    compare(emmeans(fit, "recipe", at=at).table, t["emm_recipe_avg_at"], keys=["recipe"], value="emmean",
            r_value="emmean")
    # At temp = 0 the recipe differences are the recipe coefficients: "the difference at x = 0".
    tab = contrasts(emmeans(fit, "recipe", at={"temp": 0}), "revpairwise")
    compare(tab, t["revpairs_recipe_at_0"], keys=["contrast"])
    coef = pd.DataFrame(t["coefficients"]["table"])["Estimate"].to_numpy()
    np.testing.assert_allclose(tab["estimate"].to_numpy()[:2], coef[1:3], rtol=1e-6)


# ---------------------------------------------------------------------------
# The simulated replicate designs (seed 000)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("random", list(RANDOM))
@pytest.mark.parametrize("design", DESIGNS)
def test_replicates_emmeans_and_contrasts_match_r(design, random):
    # The between design's slope model is not identified (each replicate has one arm): see UNIDENTIFIED.
    identified = f"replicates_{design}_{random}_reml" not in UNIDENTIFIED
    fx = _json(FIX / "lmer" / f"replicates_{design}_{random}_reml.json")
    _fresh(fx)
    e = fx["emmeans"]
    fit = rep_fit(design, random)
    emm = emmeans(fit, "treatment", by="gene")
    compare(emm.table, e["emm_treatment_by_gene"], keys=["treatment", "gene"], value="emmean", r_value="emmean", df_identified=identified)
    compare(emmeans(fit, "gene").table, e["emm_gene"], keys=["gene"], value="emmean", r_value="emmean", df_identified=identified)
    compare(emmeans(fit, "treatment").table, e["emm_treatment"], keys=["treatment"], value="emmean",
            r_value="emmean", df_identified=identified)

    tab = contrasts(emm, "revpairwise", family="by")
    compare(tab, e["revpairs_by_gene"], keys=["contrast", "gene"], df_identified=identified)
    tab = contrasts(emm, "revpairwise", adjust="holm", family="all")
    compare(tab, e["revpairs_by_gene_holm"], keys=["contrast", "gene"], df_identified=identified)
    compare(contrasts(emmeans(fit, "treatment"), "pairwise"), e["pairs_treatment"], keys=["contrast"], df_identified=identified)
    compare(contrasts(emmeans(fit, "treatment"), "revpairwise"), e["revpairs_treatment"], keys=["contrast"], df_identified=identified)

    ratio = contrasts(emm, "revpairwise", type="response", family="by")
    assert ratio["contrast"].tolist() == e["revpairs_by_gene_ratio"]["table"]["contrast"]
    compare(ratio, e["revpairs_by_gene_ratio"], keys=["gene"], value="ratio", r_value="ratio", df_identified=identified)


@pytest.mark.parametrize("random", list(RANDOM))
@pytest.mark.parametrize("design", DESIGNS)
def test_seed000_three_liner_matches_r(design, random):
    """The per-gene question: drug/control ratios per gene, Holm over the three genes."""
    # The between design's slope model is not identified (each replicate has one arm): see UNIDENTIFIED.
    identified = f"replicates_{design}_{random}_reml" not in UNIDENTIFIED
    fx = _json(FIX / "interpret" / f"replicates_{design}_{random}.json")
    _fresh(fx)
    t = fx["tables"]
    fit = rep_fit(design, random)
    emm = emmeans(fit, "treatment", by="gene")
    tab = contrasts(emm, "revpairwise", type="response", adjust="holm")
    # R: summary(pairs(emm, reverse = TRUE), by = NULL, adjust = "holm", infer = c(TRUE, TRUE))
    compare(tab, t["revpairs_by_gene_ratio_holm"], keys=["gene"], value="ratio", r_value="ratio", df_identified=identified)
    assert any("holm method for 3 tests" in n for n in t["revpairs_by_gene_ratio_holm"]["notes"])
    compare(emmeans(fit, "treatment", by="gene", type="response").table, t["emm_treatment_by_gene_response"],
            keys=["treatment", "gene"], value="response", r_value="response", df_identified=identified)
    by_treatment = emmeans(fit, "gene", by="treatment")
    compare(contrasts(by_treatment, "trt.vs.ctrl"), t["trt_vs_ctrl_gene_by_treatment"],
            keys=["contrast", "treatment"], df_identified=identified)
    compare(contrasts(by_treatment, "pairwise", adjust="tukey"), t["pairs_gene_by_treatment_tukey"],
            keys=["contrast", "treatment"], df_identified=identified)


@pytest.mark.parametrize("design", DESIGNS)
def test_lm_fits_match_r(design):
    fx = _json(FIX / "interpret" / f"replicates_{design}_lm.json")
    _fresh(fx)
    t = fx["tables"]
    fit = rep_fit(design, "lm")
    emm = emmeans(fit, "treatment", by="gene")
    compare(emm.table, t["emm_treatment_by_gene"], keys=["treatment", "gene"], value="emmean", r_value="emmean")
    assert np.all(emm.table["df"] == fit.df_resid)
    compare(emmeans(fit, "gene").table, t["emm_gene"], keys=["gene"], value="emmean", r_value="emmean")
    compare(contrasts(emm, "revpairwise", type="response", adjust="holm"), t["revpairs_by_gene_ratio_holm"],
            keys=["gene"], value="ratio", r_value="ratio")


@pytest.mark.parametrize("design", DESIGNS)
def test_per_group_vs_joint_matches_r(design):
    sep = _json(FIX / "interpret" / f"per_gene_{design}.json")
    _fresh(sep)
    R = pd.DataFrame(sep["table"])
    tab = per_group_vs_joint("log(length) ~ treatment + (1|replicate)", replicates(design), group="gene",
                             effect="treatment", adjust="holm")
    assert tab["gene"].tolist() == R["gene"].tolist()
    _close(tab["separate_estimate"], R["estimate"], EST_RTOL, "separate estimate")
    _close(tab["separate_se"], R["SE"], EST_RTOL, "separate SE")
    _close(tab["separate_df"], R["df"], DF_RTOL, "separate df")
    _close(tab["separate_sigma"], R["sigma"], EST_RTOL, "separate sigma")
    assert np.all(np.abs(tab["separate_p"] - R["p"]) <= P_ATOL)
    assert np.all(np.abs(tab["separate_p_adj"] - R["p_holm"]) <= P_ATOL)
    # The joint column is the interaction model's per-gene contrast, Holm over genes.
    joint = _json(FIX / "lmer" / f"replicates_{design}_intercept_reml.json")["emmeans"]["revpairs_by_gene_holm"]
    J = pd.DataFrame(joint["table"])
    _close(tab["joint_estimate"], J["estimate"], EST_RTOL, "joint estimate")
    _close(tab["joint_se"], J["SE"], EST_RTOL, "joint SE")
    _close(tab["joint_df"], J["df"], DF_RTOL, "joint df")
    assert np.all(np.abs(tab["joint_p_adj"] - J["p.value"]) <= P_ATOL)
