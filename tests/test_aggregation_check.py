"""Notebook 04's aggregation cross-check (lmmedu.teach.comparison.per_gene): replicate differences,
the paired t-test beside the mixed model, and the interaction as a two-way ANOVA of the differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm

import lmmedu
from lmmedu.teach.comparison import interaction_by_hand, paired_check, replicate_differences


@pytest.fixture(scope="module")
def within():
    return lmmedu.load_replicates("within")


def test_differences_are_drug_minus_control_of_replicate_mean_logs(within):
    d = replicate_differences(within)
    rows = within[(within["gene"] == "B") & (within["replicate"] == "R3")]
    logs = np.log(rows["length"])
    expected = logs[rows["treatment"] == "drug"].mean() - logs[rows["treatment"] == "control"].mean()
    assert d.loc["R3", "B"] == pytest.approx(expected, rel=1e-12)
    assert d.columns.tolist() == ["A", "B", "C"] and d.index.tolist() == ["R1", "R2", "R3", "R4"]


def test_paired_test_is_scipys_ttest_rel(within):
    tab = paired_check(within)
    means = np.log(within["length"]).groupby([within["gene"], within["replicate"], within["treatment"]],
                                            observed=True).mean().unstack("treatment")
    for gene in ["A", "B", "C"]:
        ref = stats.ttest_rel(means.loc[gene, "drug"], means.loc[gene, "control"])
        row = tab.loc[gene]
        assert row["paired_t"] == pytest.approx(ref.statistic, rel=1e-12)
        assert row["paired_p"] == pytest.approx(ref.pvalue, rel=1e-12)
        assert row["paired_df"] == 3
        assert row["paired_estimate"] / row["paired_se"] == pytest.approx(ref.statistic, rel=1e-12)
    # Unequal replicates: the mixed model weights them by precision, so it differs, but only a little.
    assert not np.allclose(tab["paired_estimate"], tab["model_estimate"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(tab["model_estimate"], tab["paired_estimate"], atol=0.01)


def test_balanced_replicates_make_paired_and_mixed_model_agree_exactly():
    # Equal cells everywhere and a non-singular fit: REML's estimate is the mean difference and the
    # Satterthwaite df are 3 up to the optimiser's stopping point (theta to ~1e-6), hence rtol 1e-5.
    balanced = lmmedu.simulate_replicates(obs_per_replicate=800, seed=5)
    tab = paired_check(balanced)
    assert not tab["model_singular"].any()
    np.testing.assert_allclose(tab["model_estimate"], tab["paired_estimate"], rtol=1e-9)
    np.testing.assert_allclose(tab["model_t"], tab["paired_t"], rtol=1e-5)
    np.testing.assert_allclose(tab["model_p"], tab["paired_p"], rtol=1e-5)
    np.testing.assert_allclose(tab["model_df"], 3.0, rtol=1e-5)


def test_interaction_by_hand_is_the_two_way_anova(within):
    d = replicate_differences(within)
    got = interaction_by_hand(d)
    long = d.stack().rename("d").reset_index()
    ref = anova_lm(smf.ols("d ~ C(replicate) + C(gene)", long).fit()).loc["C(gene)"]
    assert got["F"] == pytest.approx(ref["F"], rel=1e-10)
    assert got["p"] == pytest.approx(ref["PR(>F)"], rel=1e-10)
    assert (got["num_df"], got["den_df"]) == (2.0, 6.0)


def test_bad_inputs_are_one_sentence(within):
    with pytest.raises(ValueError, match="not in the data"):
        replicate_differences(within.drop(columns="replicate"))
    with pytest.raises(ValueError, match="exactly two levels"):
        replicate_differences(within.assign(treatment=within["gene"]))
    with pytest.raises(ValueError, match="no NaN"):
        interaction_by_hand(pd.DataFrame({"A": [0.1, np.nan], "B": [0.2, 0.3]}))
    with pytest.raises(ValueError, match="positive"):
        replicate_differences(within.assign(length=-within["length"]))
