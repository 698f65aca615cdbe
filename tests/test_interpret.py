"""lmmedu.stats.explain, lmmedu.stats.emmeans, lmmedu.stats.multiplicity and the teaching layer's
per_group_vs_joint and report sentences (lmmedu.contrasts).

The meanings that explain() prints are checked against numbers computed here without
its help: raw cell averages (a saturated lm reproduces them exactly), the fit's own
predictions on a grid, and statsmodels' multipletests for p-value adjustment.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.stats.multitest import multipletests

import lmmedu
from lmmedu import contrasts  # lmmedu.stats.emmeans.contrasts plus report sentences
from lmmedu.stats.emmeans import EMM, emmeans
from lmmedu.stats.explain import explain, set_reference
from lmmedu.stats.multiplicity import adjust_pvalues
from lmmedu.teach.comparison import per_group_vs_joint

FIX = Path(__file__).resolve().parent / "fixtures"


@lru_cache(maxsize=None)
def rep():
    return lmmedu.load_replicates(with_truth=False)


@lru_cache(maxsize=None)
def mixed():
    return lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", rep())


@lru_cache(maxsize=None)
def three_way():
    """A small 2 x 3 x 2 design (dose x strain x time) with unequal cell sizes."""
    rng = np.random.default_rng(7)
    rows = []
    for i, dose in enumerate(["lo", "hi"]):
        for j, strain in enumerate(["x", "y", "z"]):
            for k, time in enumerate(["early", "late"]):
                mu = 1 + 0.5 * i - 0.3 * j + 0.2 * k + 0.4 * i * j - 0.6 * i * k * (j == 2)
                n = 3 + (i + 2 * j + k) % 4
                rows += [(dose, strain, time, mu + e) for e in rng.normal(0, 0.3, n)]
    d = pd.DataFrame(rows, columns=["dose", "strain", "time", "y"])
    d["dose"] = pd.Categorical(d["dose"], ["lo", "hi"])
    d["time"] = pd.Categorical(d["time"], ["early", "late"])
    d["w"] = rng.uniform(2, 8, len(d))
    d["wc"] = d["w"] - d["w"].mean()
    d["y"] = d["y"] + 0.3 * d["w"] * (d["dose"] == "hi")
    return d


def raw_cell_means(data, response, cols):
    """Observed averages per cell, keyed like explain's weights ('drug,B')."""
    y = data.eval(response) if "(" not in response else np.log(data["length"])
    keys = data[cols].astype(str).agg(",".join, axis=1)
    return y.groupby(keys).mean()


def check_weights_on(table, cell_means):
    """Every coefficient equals its explain() weights applied to the given cell means."""
    for _, row in table.iterrows():
        w = table.extras["weights"][row["term"]]
        value = float((w * cell_means.reindex(w.index)).sum())
        assert value == pytest.approx(row["estimate"], rel=1e-9, abs=1e-10), row["term"]


# ---------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------


def test_explain_treatment_coding_interaction_model():
    tab = explain(mixed()).set_index("term")
    assert list(tab.columns) == ["estimate", "meaning", "cell_mean_formula", "from_cell_means", "check_ok"]
    assert tab.loc["Intercept", "cell_mean_formula"] == "μ[control,A]"
    assert "treatment = control, gene = A" in tab.loc["Intercept", "meaning"]
    assert tab.loc["treatment[T.drug]", "cell_mean_formula"] == "μ[drug,A] − μ[control,A]"
    assert "for gene = A only" in tab.loc["treatment[T.drug]", "meaning"]
    inter = tab.loc["treatment[T.drug]:gene[T.B]"]
    assert inter["cell_mean_formula"] == "μ[drug,B] − μ[control,B] − (μ[drug,A] − μ[control,A])"
    assert "difference of differences" in inter["meaning"]
    assert "for gene B differs from that for gene A" in inter["meaning"]
    assert tab["check_ok"].all()
    np.testing.assert_allclose(tab["estimate"], mixed().coefs["estimate"], rtol=0, atol=0)
    # Independent check: the weights applied to the mixed model's own predictions on a grid.
    cells = pd.DataFrame([(t, g) for t in ["control", "drug"] for g in "ABC"], columns=["treatment", "gene"])
    pred = pd.Series(mixed().predict(cells, include_random=False),
                     index=cells["treatment"] + "," + cells["gene"])
    check_weights_on(explain(mixed()), pred)


def test_explain_saturated_lm_matches_raw_cell_means_and_reference_change():
    data = rep()
    fit = lmmedu.fit_lm("log(length) ~ treatment*gene", data)
    cells = raw_cell_means(data, "log(length)", ["treatment", "gene"])
    check_weights_on(explain(fit), cells)

    moved = set_reference(data, "gene", "B")
    fit_b = lmmedu.fit_lm("log(length) ~ treatment*gene", moved)
    tab = explain(fit_b).set_index("term")
    assert "treatment[T.drug]:gene[T.A]" in tab.index
    assert tab.loc["treatment[T.drug]", "cell_mean_formula"] == "μ[drug,B] − μ[control,B]"
    assert "for gene = B only" in tab.loc["treatment[T.drug]", "meaning"]
    assert tab["check_ok"].all()
    check_weights_on(explain(fit_b), cells)
    # The drug effect for gene B is now a coefficient; before it was a sum of two.
    before = fit.coefs["estimate"]
    assert tab.loc["treatment[T.drug]", "estimate"] == pytest.approx(
        before["treatment[T.drug]"] + before["treatment[T.drug]:gene[T.B]"], rel=1e-10)


def test_explain_sum_coding():
    data = rep()
    fit = lmmedu.fit_lm("log(length) ~ treatment*C(gene, Sum)", data)
    tab = explain(fit).set_index("term")
    assert tab.loc["Intercept", "cell_mean_formula"] == "μ[control,·]"
    assert tab.loc["treatment[T.drug]", "cell_mean_formula"] == "μ[drug,·] − μ[control,·]"
    assert "averaged over the gene levels" in tab.loc["treatment[T.drug]", "meaning"]
    assert tab.loc["C(gene, Sum)[S.A]", "cell_mean_formula"] == "μ[control,A] − μ[control,·]"
    assert "average over all gene levels" in tab.loc["C(gene, Sum)[S.A]", "meaning"]
    assert (tab.loc["treatment[T.drug]:C(gene, Sum)[S.B]", "cell_mean_formula"]
            == "μ[drug,B] − μ[control,B] − (μ[drug,·] − μ[control,·])")
    assert tab["check_ok"].all()
    cells = raw_cell_means(data, "log(length)", ["treatment", "gene"])
    check_weights_on(explain(fit), cells)
    # The sum-coded drug effect is the average of the three per-gene drug effects.
    per_gene = [cells[f"drug,{g}"] - cells[f"control,{g}"] for g in "ABC"]
    assert tab.loc["treatment[T.drug]", "estimate"] == pytest.approx(np.mean(per_gene), rel=1e-9)


def test_explain_three_way_interaction():
    d = three_way()
    fit = lmmedu.fit_lm("y ~ dose*strain*time", d)
    tab = explain(fit).set_index("term")
    assert len(tab) == 12 and tab["check_ok"].all()
    three = tab.loc["dose[T.hi]:strain[T.z]:time[T.late]"]
    assert three["cell_mean_formula"] == (
        "(μ[hi,z,late] − μ[lo,z,late] − (μ[hi,x,late] − μ[lo,x,late])) − "
        "(μ[hi,z,early] − μ[lo,z,early] − (μ[hi,x,early] − μ[lo,x,early]))")
    assert "three-way interaction" in three["meaning"]
    two = tab.loc["dose[T.hi]:strain[T.y]"]
    assert "for time = early only" in two["meaning"]
    assert "for strain = x and time = early only" in tab.loc["dose[T.hi]", "meaning"]
    cells = raw_cell_means(d, "y", ["dose", "strain", "time"])
    check_weights_on(explain(fit), cells)


def test_explain_additive_model_says_the_difference_is_assumed_equal():
    fit = lmmedu.fit_lm("log(length) ~ treatment + gene", rep())
    tab = explain(fit).set_index("term")
    assert "the model assumes it is the same for every gene" in tab.loc["treatment[T.drug]", "meaning"]
    assert tab["check_ok"].all()


def test_explain_numeric_covariate_centred_or_not():
    d = three_way()
    raw = explain(lmmedu.fit_lm("y ~ dose*w", d)).set_index("term")
    cen = explain(lmmedu.fit_lm("y ~ dose*wc", d)).set_index("term")
    assert raw["check_ok"].all() and cen["check_ok"].all()
    assert "at w = 0" in raw.loc["dose[T.hi]", "meaning"]
    assert "extrapolation" in raw.loc["dose[T.hi]", "meaning"]
    assert raw.loc["dose[T.hi]", "cell_mean_formula"] == "μ[hi] − μ[lo], at w = 0"
    assert "wc is centred, so wc = 0 is its mean" in cen.loc["dose[T.hi]", "meaning"]
    assert raw.loc["w", "cell_mean_formula"] == "slope_w[lo]"
    assert "Slope of y per unit of w" in raw.loc["w", "meaning"]
    assert raw.loc["dose[T.hi]:w", "cell_mean_formula"] == "slope_w[hi] − slope_w[lo]"
    # Centring moves the main effect (difference at x = 0 vs at the mean), not the slopes.
    assert raw.loc["w", "estimate"] == pytest.approx(cen.loc["wc", "estimate"], rel=1e-9)
    assert abs(raw.loc["dose[T.hi]", "estimate"] - cen.loc["dose[T.hi]", "estimate"]) > 0.5
    fit = lmmedu.fit_lm("y ~ dose*w", d)
    at0 = fit.predict(pd.DataFrame({"dose": ["lo", "hi"], "w": [0.0, 0.0]}))
    atmean = fit.predict(pd.DataFrame({"dose": ["lo", "hi"], "w": [d["w"].mean()] * 2}))
    assert raw.loc["dose[T.hi]", "estimate"] == pytest.approx(at0[1] - at0[0], rel=1e-9)
    assert cen.loc["dose[T.hi]", "estimate"] == pytest.approx(atmean[1] - atmean[0], rel=1e-9)
    # Without the interaction the difference does not depend on w, and explain says so.
    add = explain(lmmedu.fit_lm("y ~ dose + w", d)).set_index("term")
    assert "the same at every w" in add.loc["dose[T.hi]", "meaning"]


def test_explain_keeps_working_with_an_empty_cell():
    data = rep()
    d = data[~((data["gene"] == "C") & (data["treatment"] == "drug"))]
    with pytest.warns(UserWarning, match="rank deficient"):
        fit = lmmedu.fit_lm("log(length) ~ treatment*gene", d)
    tab = explain(fit)
    assert tab["check_ok"].all() and len(tab) == 5
    emm = emmeans(fit, "treatment", by="gene")
    assert np.isnan(emm.table["emmean"].iloc[5]) and np.isfinite(emm.table["emmean"].iloc[:5]).all()


def test_set_reference_changes_coefficients_not_the_model():
    data = rep()
    moved = set_reference(data, "treatment", "drug")
    assert list(moved["treatment"].cat.categories) == ["drug", "control"]
    assert list(data["treatment"].cat.categories) == ["control", "drug"]  # the input is untouched
    a = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", data)
    b = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", moved)
    np.testing.assert_allclose(a.fitted(), b.fitted(), rtol=0, atol=1e-8)
    def cell_means(fit):
        tab = emmeans(fit, ["treatment", "gene"]).table
        return tab.set_index(tab["treatment"].astype(str) + "," + tab["gene"].astype(str))["emmean"]

    ea, eb = cell_means(a), cell_means(b)
    np.testing.assert_allclose(ea.to_numpy(), eb.reindex(ea.index).to_numpy(), rtol=0, atol=1e-8)
    assert "treatment[T.control]" in b.names
    assert b.coefs.loc["treatment[T.control]", "estimate"] == pytest.approx(
        -a.coefs.loc["treatment[T.drug]", "estimate"], rel=1e-6)
    assert not np.allclose(a.coefs["estimate"].to_numpy(), b.coefs["estimate"].to_numpy())
    plain = data.assign(gene=data["gene"].astype(str))
    assert list(set_reference(plain, "gene", "C")["gene"].cat.categories) == ["C", "A", "B"]


# ---------------------------------------------------------------------------
# emmeans
# ---------------------------------------------------------------------------


def test_emmeans_are_equal_weight_averages_of_the_grid():
    fit = lmmedu.fit_lm("log(length) ~ treatment*gene", rep())
    cells = raw_cell_means(rep(), "log(length)", ["treatment", "gene"])
    emm = emmeans(fit, "gene")
    assert isinstance(emm, EMM)
    for g in "ABC":  # unweighted average of the two treatment cells, whatever their sizes
        expected = (cells[f"control,{g}"] + cells[f"drug,{g}"]) / 2
        assert emm.table.set_index("gene").loc[g, "emmean"] == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(emm.L.to_numpy() @ fit.beta, emm.table["emmean"], rtol=1e-12)
    assert "averaged over the levels of: treatment" in repr(emm)
    by = emmeans(fit, "treatment", by="gene")
    r_style = emmeans(fit, "~ treatment | gene")
    pd.testing.assert_frame_equal(by.table, r_style.table)
    assert by.table[["treatment", "gene"]].astype(str).agg(" ".join, axis=1).tolist() == [
        "control A", "drug A", "control B", "drug B", "control C", "drug C"]


def test_emmeans_response_scale_is_geometric_mean():
    fit = mixed()
    link = emmeans(fit, "treatment", by="gene").table
    resp = emmeans(fit, "treatment", by="gene", type="response").table
    np.testing.assert_allclose(resp["response"], np.exp(link["emmean"]), rtol=1e-12)
    np.testing.assert_allclose(resp["ci_low"], np.exp(link["ci_low"]), rtol=1e-12)
    np.testing.assert_allclose(resp["se"], np.exp(link["emmean"]) * link["se"], rtol=1e-12)
    # log2 response: back-transform with base 2.
    fit2 = lmmedu.fit_lm("log2(length) ~ treatment*gene", rep())
    t2 = emmeans(fit2, "gene", type="response").table
    t1 = emmeans(lmmedu.fit_lm("log(length) ~ treatment*gene", rep()), "gene", type="response").table
    np.testing.assert_allclose(t2["response"], t1["response"], rtol=1e-10)


# ---------------------------------------------------------------------------
# contrasts
# ---------------------------------------------------------------------------


def test_contrast_methods_labels_and_values():
    fit = lmmedu.fit_lm("log(length) ~ treatment*gene", rep())
    emm = emmeans(fit, "gene", by="treatment")
    m = emm.table.set_index(["treatment", "gene"])["emmean"]
    pw = contrasts(emm, "pairwise")
    assert pw["contrast"].tolist()[:3] == ["A - B", "A - C", "B - C"]
    rv = contrasts(emm, "revpairwise")
    assert rv["contrast"].tolist()[:3] == ["B - A", "C - A", "C - B"]
    tc = contrasts(emm, "trt.vs.ctrl")
    assert tc["contrast"].tolist()[:2] == ["B - A", "C - A"]
    assert tc["estimate"].iloc[1] == pytest.approx(m["control", "C"] - m["control", "A"], rel=1e-10)
    tc_b = contrasts(emm, "trt.vs.ctrl", ref="B")
    assert tc_b["contrast"].tolist()[:2] == ["A - B", "C - B"]
    np.testing.assert_allclose(rv["estimate"].iloc[:3], -pw["estimate"].iloc[:3], rtol=1e-12)
    row = pw.iloc[4]  # drug: A - C
    assert row["treatment"] == "drug" and row["contrast"] == "A - C"
    assert row["estimate"] == pytest.approx(m["drug", "A"] - m["drug", "C"], rel=1e-10)
    t = row["estimate"] / row["se"]
    assert row["p"] == pytest.approx(2 * scipy.stats.t.sf(abs(t), fit.df_resid), rel=1e-8)
    q = scipy.stats.t.ppf(0.975, fit.df_resid)
    assert row["ci_high"] == pytest.approx(row["estimate"] + q * row["se"], rel=1e-12)
    # by=None: every pair of the six cells.
    assert len(contrasts(emm, "pairwise", by=None)) == 15


@pytest.mark.parametrize("adjust,sm", [("holm", "holm"), ("bonferroni", "bonferroni"), ("fdr", "fdr_bh")])
def test_adjustments_match_statsmodels(adjust, sm):
    fit = lmmedu.fit_lm("y ~ dose*strain*time", three_way())
    emm = emmeans(fit, "strain", by=["dose", "time"])
    raw = contrasts(emm, "pairwise")
    tab = contrasts(emm, "pairwise", adjust=adjust)
    np.testing.assert_allclose(tab["p"], raw["p"], rtol=1e-12)
    for _, grp in tab.groupby(["dose", "time"], observed=True):  # family = one by-group (3 tests)
        assert len(grp) == 3
        np.testing.assert_allclose(grp["p_adj"], multipletests(grp["p"], method=sm)[1], rtol=1e-10)
    all_ = contrasts(emm, "pairwise", adjust=adjust, family="all")
    np.testing.assert_allclose(all_["p_adj"], multipletests(all_["p"], method=sm)[1], rtol=1e-10)
    assert not np.allclose(all_["p_adj"], tab["p_adj"])
    # Confidence limits widen to Bonferroni's over the family, as emmeans does.
    q = scipy.stats.t.ppf(1 - 0.05 / (2 * 3), fit.df_resid)
    np.testing.assert_allclose(tab["ci_high"] - tab["estimate"], q * tab["se"], rtol=1e-10)
    np.testing.assert_allclose(adjust_pvalues(raw["p"], adjust), multipletests(raw["p"], method=sm)[1],
                               rtol=1e-10)


def test_tukey_matches_r_for_cake():
    fx = json.loads((FIX / "interpret" / "cake_factor.json").read_text())["tables"]["pairs_recipe_tukey"]
    d = pd.read_csv(FIX / "data" / "cake.csv", dtype={"replicate": str, "recipe": str, "temperature": str})
    d["temperature"] = pd.Categorical(d["temperature"], ["175", "185", "195", "205", "215", "225"])
    fit = lmmedu.fit("angle ~ recipe*temperature + (1|recipe:replicate)", d)
    tab = contrasts(emmeans(fit, "recipe"), "pairwise", adjust="tukey")
    R = pd.DataFrame(fx["table"])
    np.testing.assert_allclose(tab["p_adj"], R["p.value"], atol=1e-6)
    np.testing.assert_allclose(tab["ci_low"], R["lower.CL"], rtol=1e-4)
    # Tukey is between unadjusted and Bonferroni.
    bonf = contrasts(emmeans(fit, "recipe"), "pairwise", adjust="bonferroni")
    assert np.all((tab["p"] < tab["p_adj"]) & (tab["p_adj"] < bonf["p_adj"]))


def test_seed000_three_liner_reads_like_a_report():
    fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", lmmedu.load_replicates())
    emm = lmmedu.emmeans(fit, "treatment", by="gene")
    tab = lmmedu.contrasts(emm, "revpairwise", type="response", adjust="holm")
    assert tab.columns.tolist() == ["gene", "contrast", "ratio", "se", "df", "t", "p", "p_adj", "ci_low",
                                    "ci_high", "percent", "sentence"]
    assert tab["contrast"].tolist() == ["drug / control"] * 3
    log = lmmedu.contrasts(emm, "revpairwise", family="all", adjust="holm")
    np.testing.assert_allclose(tab["ratio"], np.exp(log["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(tab["ci_low"], np.exp(log["ci_low"]), rtol=1e-12)
    np.testing.assert_allclose(tab["percent"], 100 * (tab["ratio"] - 1), rtol=1e-12)
    # Holm over the three genes (each gene alone would be a family of one).
    np.testing.assert_allclose(tab["p_adj"], multipletests(tab["p"], method="holm")[1], rtol=1e-10)
    assert any("because each gene has only one" in n for n in tab.notes)
    s = tab.set_index("gene")["sentence"]
    assert s["A"].startswith("drug lengthens gene A by 2") and "95% CI" in s["A"]
    assert s["B"].startswith("drug lengthens gene B by")
    assert s["C"].startswith("no clear change in length of gene C with drug")
    assert "adjusted for 3 comparisons" in s["C"]
    text = repr(tab)
    assert s["A"] in text and "holm" in text  # the full sentence is shown, not cut at 50 characters
    # The other direction reads as shortening.
    rev = lmmedu.contrasts(emm, "pairwise", type="response")
    assert rev.set_index("gene").loc["A", "sentence"].startswith("control shortens gene A by")


def test_response_sentence_words_follow_the_interval():
    fit = lmmedu.fit_lm("log(length) ~ treatment*gene", rep())
    tab = contrasts(emmeans(fit, "gene", by="treatment"), "trt.vs.ctrl", type="response")
    words = []
    for _, row in tab.iterrows():
        lo, hi = row["ci_low"], row["ci_high"]
        word = "higher" if lo > 1 else "lower" if hi < 1 else "no clear difference"
        words.append(word)
        assert word in row["sentence"], row["sentence"]
        # gene is not the model's first factor, so it is not made the subject of a verb.
        assert row["sentence"].endswith(")") and f"in treatment {row['treatment']}" in row["sentence"]
    assert {"higher", "lower"} <= set(words)
    # Without by-variables, the treatment (first factor) is the subject.
    one = contrasts(emmeans(fit, "treatment"), "revpairwise", type="response")
    assert one["sentence"].iloc[0].startswith("drug increases length by")


# ---------------------------------------------------------------------------
# per_group_vs_joint
# ---------------------------------------------------------------------------


def test_per_group_vs_joint_columns_and_values():
    data = rep()
    tab = per_group_vs_joint("log(length) ~ treatment + (1|replicate)", data, group="gene", effect="treatment")
    cols = ["gene", "contrast", "n"] + [f"{a}_{s}" for a in ("separate", "joint")
                                        for s in ("estimate", "se", "df", "p", "p_adj", "sigma")]
    assert tab.columns.tolist() == cols
    assert tab["gene"].tolist() == ["A", "B", "C"] and tab["n"].sum() == len(data)
    assert tab.extras["joint_formula"] == "log(length) ~ (treatment) * gene + (1 | replicate)"
    for g in "ABC":
        own = lmmedu.fit("log(length) ~ treatment + (1|replicate)", data[data["gene"] == g])
        row = tab.set_index("gene").loc[g]
        assert row["separate_estimate"] == pytest.approx(own.coefs.loc["treatment[T.drug]", "estimate"], rel=1e-10)
        assert row["separate_se"] == pytest.approx(own.coefs.loc["treatment[T.drug]", "se"], rel=1e-10)
    joint = contrasts(emmeans(mixed(), "treatment", by="gene"), "revpairwise", adjust="holm", family="all")
    np.testing.assert_allclose(tab["joint_estimate"], joint["estimate"], rtol=1e-6)
    np.testing.assert_allclose(tab["joint_p_adj"], joint["p_adj"], rtol=1e-6)
    np.testing.assert_allclose(tab["separate_p_adj"], multipletests(tab["separate_p"], method="holm")[1])
    assert tab["joint_sigma"].nunique() == 1  # one pooled residual SD


# ---------------------------------------------------------------------------
# Bad input: one clear ValueError each
# ---------------------------------------------------------------------------


def _one_sentence(err):
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith(".") and msg.count(". ") == 0, msg
    return msg


def test_bad_input_messages():
    fit = lmmedu.fit_lm("log(length) ~ treatment*gene", rep())
    with pytest.raises(ValueError) as err:
        emmeans(fit, "genes")
    assert "'genes'" in _one_sentence(err) and "treatment, gene" in str(err.value)
    with pytest.raises(ValueError) as err:
        emmeans(fit, "treatment", by="replicate")
    assert "'replicate'" in _one_sentence(err)
    with pytest.raises(ValueError) as err:
        emmeans(fit, "treatment", at={"gene": "D"})
    assert "'D'" in _one_sentence(err) and "gene" in str(err.value)
    with pytest.raises(ValueError) as err:
        set_reference(rep(), "gene", "D")
    assert "'D'" in _one_sentence(err)
    with pytest.raises(ValueError) as err:
        set_reference(rep(), "genes", "A")
    assert "'genes'" in _one_sentence(err)

    d = three_way()
    cov = lmmedu.fit_lm("y ~ dose*w", d)
    with pytest.raises(ValueError) as err:
        contrasts(emmeans(cov, "w", at={"w": [2, 4]}), "pairwise")
    assert "'w' is a numeric covariate" in _one_sentence(err)
    with pytest.raises(ValueError) as err:
        emmeans(cov, "dose", type="response")
    assert "'y'" in _one_sentence(err) and "not transformed" in str(err.value)
    with pytest.raises(ValueError) as err:
        contrasts(emmeans(cov, "dose"), "pairwise", type="response")
    _one_sentence(err)
    with pytest.raises(ValueError) as err:
        contrasts(emmeans(fit, "gene"), "pairwise", adjust="sidak")
    assert "sidak" in _one_sentence(err)
    with pytest.raises(ValueError) as err:
        contrasts(emmeans(fit, "gene"), "trt.vs.ctrl", ref="D")
    assert "'D'" in _one_sentence(err)


def test_emmeans_with_an_empty_cell_mark_it_not_estimable_and_keep_the_others():
    # Gene C never gets the drug: treatment*gene has an aliased column, dropped like lme4.
    df = lmmedu.simulate_replicates(obs_per_replicate=40, seed=3)
    df = df[~((df["gene"] == "C") & (df["treatment"] == "drug"))]
    with pytest.warns(UserWarning, match="rank deficient"):
        fit = lmmedu.fit_lm("log(length) ~ treatment*gene", df)
    assert fit.design.dropped
    tab = emmeans(fit, "treatment", by="gene").table.set_index(["gene", "treatment"])
    assert np.isnan(tab.loc[("C", "drug"), "emmean"])
    raw = np.log(df["length"]).groupby([df["gene"], df["treatment"]], observed=True).mean()
    for cell, value in raw.items():
        assert tab.loc[cell, "emmean"] == pytest.approx(value, abs=1e-10)
    assert any("not estimable" in note for note in emmeans(fit, "treatment", by="gene").notes)


def test_statistics_contrasts_carry_no_prose_and_the_teaching_layer_adds_it():
    from lmmedu.stats.emmeans import contrasts as stats_contrasts
    from lmmedu.teach.prose import contrast_sentences

    emm = emmeans(lmmedu.fit_lm("log(length) ~ treatment*gene", rep()), "treatment", by="gene")
    plain = stats_contrasts(emm, "revpairwise", type="response", adjust="holm", family="all")
    assert "sentence" not in plain.columns
    worded = contrasts(emm, "revpairwise", type="response", adjust="holm", family="all")
    pd.testing.assert_frame_equal(worded.drop(columns="sentence"), plain)
    assert worded["sentence"].tolist() == contrast_sentences(plain)
    with pytest.raises(ValueError, match="ratios"):
        contrast_sentences(stats_contrasts(emm, "revpairwise"))
