"""lmmedu.compare (lmmedu.teach.comparison): the lm and the mixed model side by side.

Classification (within/between) is checked against an independent groupby on
the model matrix, the lm half against statsmodels OLS, ICC and design effect
against their formulas, and the SE/estimate behaviour against what the
designs imply (between terms lose precision, balanced data give identical
estimates).
"""

import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import lmmedu
from lmmedu.teach.comparison import Comparison, compare, design_effect, icc

FORMULA = "log(length) ~ treatment*gene + (1|replicate)"
WITHIN_TERMS = ["treatment[T.drug]", "gene[T.B]", "gene[T.C]",
                "treatment[T.drug]:gene[T.B]", "treatment[T.drug]:gene[T.C]"]


@pytest.fixture(scope="module")
def within():
    return compare(FORMULA, lmmedu.load_replicates("within"))


@pytest.fixture(scope="module")
def between():
    return compare(FORMULA, lmmedu.load_replicates("between"))


@pytest.fixture(scope="module")
def expression():
    df = lmmedu.simulate_expression(n_probesets=150, seed=5)
    return compare("values ~ week*genotype + (week|probeset) + (1|sample)", df)


def _groupby_class(cmp, group_col):
    """Independent classification: does the column take >1 value inside some group?"""
    X = pd.DataFrame(cmp.lmm.X, columns=cmp.lmm.names)
    X["_g"] = cmp.lmm.data[group_col].to_numpy()
    n_values = X.groupby("_g", observed=True).nunique()
    return {t: ("within" if (n_values[t] > 1).any() else "between") for t in cmp.lmm.names}


def test_public_names_resolve():
    df = lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=50, seed=2)
    assert isinstance(lmmedu.compare("log(length) ~ treatment + (1|replicate)", df), Comparison)
    assert lmmedu.icc is icc
    assert lmmedu.design_effect is design_effect


def test_table_layout(within):
    assert isinstance(within, Comparison)
    tab = within.table
    assert list(tab.index) == within.lmm.names
    assert list(tab.columns) == ["estimate_lm", "se_lm", "df_lm", "p_lm", "estimate_lmm", "se_lmm", "df_lmm",
                                 "p_lmm", "se_ratio", "varies_replicate", "reason"]
    np.testing.assert_allclose(tab["se_ratio"], tab["se_lmm"] / tab["se_lm"], rtol=1e-14)
    np.testing.assert_allclose(tab["se_lmm"], within.lmm.coefs["se"], rtol=1e-14)
    np.testing.assert_allclose(tab["df_lm"], within.lm.df_resid)


def test_within_design_classification(within):
    tab = within.table
    assert tab.loc["Intercept", "varies_replicate"] == "between"
    for t in WITHIN_TERMS:
        assert tab.loc[t, "varies_replicate"] == "within"
    assert tab["varies_replicate"].to_dict() == _groupby_class(within, "replicate")


def test_between_design_classification(between):
    tab = between.table
    assert tab.loc["Intercept", "varies_replicate"] == "between"
    assert tab.loc["treatment[T.drug]", "varies_replicate"] == "between"
    for t in ["gene[T.B]", "gene[T.C]"]:
        assert tab.loc[t, "varies_replicate"] == "within"
    assert tab["varies_replicate"].to_dict() == _groupby_class(between, "replicate")


def test_se_ratio_direction(within, between):
    for cmp in (within, between):
        tab = cmp.table
        b = tab["varies_replicate"] == "between"
        assert (tab.loc[b, "se_ratio"] > 1.5).all()
        # With 4 replicates the Satterthwaite df of a between term are near 4 - 1.
        assert (tab.loc[b, "df_lmm"] < 4).all()
        assert (tab.loc[~b, "se_ratio"] < 1.02).all()
        assert (tab.loc[~b, "df_lmm"] > 20000).all()


def test_reasons_follow_the_numbers(within, between):
    r = between.table.loc["treatment[T.drug]"]
    assert "between replicates" in r["reason"]
    assert "the 4 replicates" in r["reason"]
    ratio = f"{r['se_ratio']:.2f}" if r["se_ratio"] < 10 else f"{r['se_ratio']:.0f}"
    assert f"SE x{ratio}" in r["reason"]
    assert f"df {r['df_lmm']:.1f}" in r["reason"]
    w = within.table.loc["treatment[T.drug]"]
    assert "within replicates" in w["reason"] and "cancel" in w["reason"]
    assert f"SE x{w['se_ratio']:.2f}" in w["reason"]
    for reason in within.table["reason"]:
        assert reason[0].isupper() and reason.endswith(".") and "\n" not in reason


def test_balanced_data_give_lm_estimates():
    for design in ("within", "between"):
        df = lmmedu.simulate_replicates(design=design, obs_per_replicate=300, replicate_sd=0.3, seed=11)
        cmp = compare(FORMULA, df)
        np.testing.assert_allclose(cmp.table["estimate_lmm"], cmp.table["estimate_lm"], rtol=0, atol=1e-8)
        assert not any("estimate differs" in r for r in cmp.table["reason"])


def test_unbalanced_between_effect_shifts_estimate():
    df = lmmedu.simulate_replicates(design="between", replicate_sd=0.3, seed=11)
    assert df.groupby("replicate", observed=True).size().nunique() > 1
    cmp = compare(FORMULA, df)
    row = cmp.table.loc["treatment[T.drug]"]
    diff = abs(row["estimate_lmm"] - row["estimate_lm"])
    # Different weighting of unequal replicates: visible, but well inside the mixed model's SE.
    assert 1e-6 < diff < 2 * row["se_lmm"]
    assert "unbalanced" in row["reason"] and "GLS" in row["reason"]
    # Contrasts inside replicates are balanced in every replicate, so GLS = OLS for them.
    for t in ["gene[T.B]", "gene[T.C]"]:
        assert abs(cmp.table.loc[t, "estimate_lmm"] - cmp.table.loc[t, "estimate_lm"]) < 1e-8


def test_lm_part_matches_statsmodels_ols(between):
    df = lmmedu.load_replicates("between")
    ols = smf.ols(between.lm.parsed.fixed_formula, data=df).fit()
    tab = between.table
    assert list(ols.params.index) == list(tab.index)
    np.testing.assert_allclose(tab["estimate_lm"], ols.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(tab["se_lm"], ols.bse, rtol=1e-8)
    np.testing.assert_allclose(tab["p_lm"], ols.pvalues, rtol=1e-6, atol=1e-300)
    assert tab["df_lm"].iloc[0] == ols.df_resid


def _intercept_variances(cmp):
    vc = cmp.varcomp
    resid = float(vc.loc[vc["group"] == "Residual", "variance"].iloc[0])
    icpt = vc[(vc["term"] == "Intercept") & vc["term2"].isna()].set_index("group")["variance"]
    return icpt, resid


def test_icc_formula_one_group(within):
    icpt, resid = _intercept_variances(within)
    row = within.icc.loc["replicate"]
    np.testing.assert_allclose(row["icc"], icpt["replicate"] / (icpt["replicate"] + resid), rtol=1e-12)
    np.testing.assert_allclose(row["share"], row["icc"], rtol=1e-12)
    assert row["within"] == ""
    pd.testing.assert_frame_equal(icc(within.lmm), within.icc)


def test_icc_of_crossed_groups_is_the_within_one():
    # Arrays (samples) crossed with probesets: the probeset levels cancel from every comparison
    # between arrays, so the array ICC is the within-probeset one, computed by hand as in notebook 05.
    # An array SD of 0.1 (not the default 0.02, whose estimate from 150 probesets sits on the
    # boundary at zero) so that the array variance is clearly estimated.
    expression = compare("values ~ week*genotype + (week|probeset) + (1|sample)",
                         lmmedu.simulate_expression(n_probesets=150, seed=5, sample_sd=0.1))
    icpt, resid = _intercept_variances(expression)
    tab = expression.icc
    assert list(tab.index) == ["probeset", "sample"]
    assert tab.loc["sample", "within"] == "probeset" and tab.loc["probeset", "within"] == "sample"
    for g in ("probeset", "sample"):
        np.testing.assert_allclose(tab.loc[g, "icc"], icpt[g] / (icpt[g] + resid), rtol=1e-12)
        np.testing.assert_allclose(tab.loc[g, "denominator"], icpt[g] + resid, rtol=1e-12)
        np.testing.assert_allclose(tab.loc[g, "share"], icpt[g] / (icpt.sum() + resid), rtol=1e-12)
    # The share of all the variance hides the array effect behind the huge probeset variance.
    assert tab.loc["sample", "icc"] > 50 * tab.loc["sample", "share"]
    # The design effect of a between-array quantity uses the within-probeset ICC.
    d = expression.design_effect.loc["sample"]
    np.testing.assert_allclose(d["deff"], 1 + (d["mean_size"] - 1) * tab.loc["sample", "icc"], rtol=1e-12)
    pd.testing.assert_frame_equal(icc(expression.lmm), tab)


def test_icc_of_nested_groups():
    # Replicates inside labs: the lab encloses each replicate (it cancels from comparisons
    # between replicates of one lab), while the replicates nested inside a lab stay in the lab's
    # denominator (two rows of one lab are usually in different replicates).
    df = lmmedu.simulate_replicates(genes=("A",), n_replicates=8, obs_per_replicate=30, replicate_sd=0.3, seed=11)
    codes = df["replicate"].astype("category").cat.codes.to_numpy()
    df["lab"] = np.where(codes < 4, "north", "south")
    fit = lmmedu.fit("log(length) ~ treatment + (1|lab) + (1|replicate)", df)
    tab = icc(fit)
    icpt = fit.varcomp[(fit.varcomp["term"] == "Intercept") & fit.varcomp["term2"].isna()].set_index("group")
    lab, rep, resid = icpt.loc["lab", "variance"], icpt.loc["replicate", "variance"], fit.sigma**2
    assert tab.loc["replicate", "within"] == "lab" and tab.loc["lab", "within"] == ""
    np.testing.assert_allclose(tab.loc["replicate", "icc"], rep / (rep + resid), rtol=1e-12)
    np.testing.assert_allclose(tab.loc["lab", "icc"], lab / (lab + rep + resid), rtol=1e-12)
    np.testing.assert_allclose(tab["share"], tab["variance"] / (lab + rep + resid), rtol=1e-12)


def test_interpretation_and_html_say_which_icc(expression):
    lines = [line for line in expression.interpretation() if "ICC" in line]
    assert len(lines) == 2
    sample = next(line for line in lines if "sample explains" in line)
    assert sample.startswith("Within one probeset, sample explains")
    assert f"{100 * expression.icc.loc['sample', 'icc']:.3g}%" in sample
    assert "ICC within probesets" in sample
    html = expression._repr_html_()
    assert "ICC within probesets" in html and "ICC within samples" in html


def test_design_effect_formula(within):
    d = within.design_effect.loc["replicate"]
    sizes = within.lmm.data.groupby("replicate", observed=True).size().to_numpy(dtype=float)
    n = sizes.sum()
    rho = within.icc.loc["replicate", "icc"]
    assert d["n_groups"] == 4 and d["n"] == n == within.lmm.nobs
    np.testing.assert_allclose(d["mean_size"], n / 4)
    np.testing.assert_allclose(d["kish_size"], (sizes**2).sum() / n)
    np.testing.assert_allclose(d["deff"], 1 + (n / 4 - 1) * rho)
    np.testing.assert_allclose(d["deff_kish"], 1 + ((sizes**2).sum() / n - 1) * rho)
    np.testing.assert_allclose(d["n_eff"], n / d["deff"])
    np.testing.assert_allclose(d["n_eff_kish"], n / d["deff_kish"])
    # Unbalanced replicates: the size-weighted cluster size exceeds the plain mean.
    assert d["kish_size"] > d["mean_size"]


def test_expression_between_samples_within_probesets(expression):
    tab = expression.table
    for t in ["week", "genotype[T.CSB]", "week:genotype[T.CSB]"]:
        assert tab.loc[t, "varies_sample"] == "between"
        assert tab.loc[t, "varies_probeset"] == "within"
    assert tab.loc["Intercept", "varies_sample"] == "between"
    assert tab.loc["Intercept", "varies_probeset"] == "between"
    assert tab["varies_sample"].to_dict() == _groupby_class(expression, "sample")
    assert tab["varies_probeset"].to_dict() == _groupby_class(expression, "probeset")
    # week has a random slope over probesets; the reason says so.
    assert "random slope" in tab.loc["week", "reason"]
    assert "random slope" not in tab.loc["genotype[T.CSB]", "reason"]
    assert "the 23 samples" in tab.loc["genotype[T.CSB]", "reason"]


def test_summary_repr_and_html(between):
    text = between.summary()
    for piece in ["treatment[T.drug]", "between", "Variance components", "Intraclass correlation",
                  "Design effect", between.table.loc["treatment[T.drug]", "reason"]]:
        assert piece in text
    assert "treatment[T.drug]" in repr(between)
    html = between._repr_html_()
    assert "<table" in html and "treatment[T.drug]" in html
    assert "replicate explains" in html


def test_html_cells_never_wrap(within):
    # "<2e-16" broke after its hyphen onto two lines in JupyterLab's output area: every data cell
    # of the table (numbers, "within"/"between") is non-breaking; headers may still wrap.
    html = within._repr_html_()
    table = html[html.index("<table"):html.index("</table>")]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    # Every column but the reasons and the lm's df (one number for all terms, said in the lm header).
    assert len(cells) == within.table.shape[0] * (within.table.shape[1] - 2)
    assert len(re.findall(r'<td style="white-space: nowrap">', table)) == len(cells)
    assert "&lt;2e-16" in cells  # the intercept's p-value is tiny in both models
    assert "<td>" not in table


def test_singular_message_carried():
    # Replicates that respond to the drug identically: the random slope's variance is estimated
    # at the boundary (the shipped data have a real slope SD, so they are not singular).
    df = lmmedu.simulate_replicates(design="within", replicate_treatment_sd=0.0, seed=20231007)
    cmp = compare("log(length) ~ treatment*gene + (1+treatment|replicate)", df)
    assert cmp.lmm.singular
    assert cmp.lmm.singular_message in cmp.notes
    assert cmp.lmm.singular_message in cmp.summary()


def test_reml_keyword():
    df = lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=50, seed=2)
    assert compare("log(length) ~ treatment + (1|replicate)", df).lmm.reml
    assert not compare("log(length) ~ treatment + (1|replicate)", df, reml=False).lmm.reml


def test_helpers_refuse_an_lm(within):
    with pytest.raises(ValueError, match="lmmedu.fit"):
        icc(within.lm)
    with pytest.raises(ValueError, match="lmmedu.fit"):
        design_effect(within.lm)


def test_sleepstudy_random_slope_reasons():
    from pathlib import Path

    path = Path(__file__).resolve().parent / "fixtures" / "data" / "sleepstudy.csv"
    d = pd.read_csv(path, dtype={"Subject": str})
    cmp = compare("Reaction ~ Days + (Days|Subject)", d)
    tab = cmp.table
    assert tab["varies_Subject"].tolist() == ["between", "within"]
    # A random slope makes a within term pay for the spread of slopes: SE up, df about subjects - 1.
    assert tab.loc["Days", "se_ratio"] > 1.1 and tab.loc["Days", "df_lmm"] < 18
    assert "random slope" in tab.loc["Days", "reason"] and "the 18 Subjects" in tab.loc["Days", "reason"]
    # A between term whose SE barely moves: the reason says the lm's residual SD carries the subject differences.
    assert tab.loc["Intercept", "se_ratio"] < 1.1
    assert "already contains the Subject differences" in tab.loc["Intercept", "reason"]
    assert f"{cmp.lm.sigma:.3g}" in tab.loc["Intercept", "reason"]


def test_html_keeps_sentences_out_of_the_table(within):
    # A reasons column squeezes to a few characters in JupyterLab; reasons go under the table.
    html_text = within._repr_html_()
    table_part, after = html_text.split("</table>", 1)
    assert "reason" not in table_part
    for term, reason in within.table["reason"].items():
        assert reason[:40] not in table_part
        assert f"<li><code>{term}</code>: " in after


@pytest.mark.parametrize("random_part, carrier", [
    ("(1 + treatment|replicate)", "random slope"),
    ("(1|replicate) + (1|replicate:treatment)", "(replicate:treatment) term gives every replicate its own effect"),
])
def test_reason_follows_the_random_part_fitted(random_part, carrier):
    # Both spellings give every replicate its own drug effect: the drug's reason must say so, and must not claim
    # the model assumes one drug effect for all replicates; the gene terms, which neither spelling lets vary
    # between replicates, keep that assumption.
    cmp = compare(f"log(length) ~ treatment*gene + {random_part}", lmmedu.load_replicates("within"))
    drug = cmp.table.loc["treatment[T.drug]"]
    assert carrier in drug["reason"]
    assert "judged against how much that effect varies across the 4 replicates" in drug["reason"]
    assert "assumes its effect is the same" not in drug["reason"]
    assert "replicate:treatment groups, not the" not in drug["reason"]
    assert drug["se_ratio"] > 1.5 and drug["df_lmm"] < 10  # the numbers the reason explains
    for term in ("gene[T.B]", "treatment[T.drug]:gene[T.B]"):
        assert "assumes its effect is the same in every replicate" in cmp.table.loc[term, "reason"]


def test_effect_carriers_without_a_random_effect_for_the_drug(within):
    from lmmedu.teach.comparison import effect_carriers

    carriers = effect_carriers(within.lmm)["replicate"]
    assert set(carriers) == set(WITHIN_TERMS) and all(c is None for c in carriers.values())
    assert "assumes its effect is the same in every replicate" in within.table.loc["treatment[T.drug]", "reason"]
