"""What the apps of notebooks 04, 07 and 09 show, computed in lmmedu.teach.studies and checked here.

The apps only hold controls, call these functions and display (tests/test_architecture.py
checks that no widget computes); every number in a readout is recomputed here from its source.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import lmmedu  # noqa: E402
from lmmedu.teach import studies  # noqa: E402
from lmmedu.teach.widgets import InteractionExplorer, PowerPlanner, WaldVsTMachine  # noqa: E402


# ----------------------------------------------------------------------------------------
# Notebook 07: Wald z against t
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_groups", [3, 4, 10, 40])
def test_wald_vs_t_preview_gives_the_z_tests_error_under_the_t_distribution(n_groups):
    text = studies.wald_vs_t_preview(n_groups, 20, 0.2)
    df = n_groups - 2
    assert f"about {df} df" in text
    z_error = 2 * stats.t.sf(stats.norm.ppf(0.975), df)
    assert f"about {z_error:.0%} of the time instead of 5%" in text
    assert f"design effect 1 + (20 - 1) x 0.20 = {1 + 19 * 0.2:.1f}" in text


def test_wald_vs_t_preview_says_when_the_t_test_has_no_df_or_fits_are_singular():
    assert "no df" in studies.wald_vs_t_preview(2, 20, 0.2)
    assert "about" not in studies.wald_vs_t_preview(2, 20, 0.2)
    assert "singular" in studies.wald_vs_t_preview(6, 2, 0.0)
    assert "singular" not in studies.wald_vs_t_preview(6, 2, 0.1)
    with pytest.raises(ValueError, match="icc"):
        studies.wald_vs_t_preview(4, 20, 1.0)


def test_wald_vs_t_run_is_the_study_summarised():
    run = studies.wald_vs_t_run(4, 5, 0.2, n_sims=6, seed=3)
    expected = studies.rates_and_coverage(studies.wald_vs_t_study(n_groups=4, group_size=5, icc=0.2, n_sims=6, seed=3))
    pd.testing.assert_frame_equal(run.table, expected)
    rows = run.table.set_index("analysis")
    for name in (studies.WALD_Z, studies.SATTERTHWAITE_T):
        assert f"{name}: {rows.loc[name, 'rate']:.1%} false positives" in run.summary
        assert f"cover the truth {rows.loc[name, 'coverage']:.1%}" in run.summary
    # One replicate per arm: the t test has no df, and the sentence says so instead of a rate.
    none = studies.wald_vs_t_run(2, 5, 0.2, n_sims=3)
    assert f"{studies.SATTERTHWAITE_T}: no usable test (3 experiments without df)" in none.summary


def test_wald_vs_t_machine_shows_what_the_run_computes():
    app = WaldVsTMachine(n_sims=4)
    result = app.run(n_groups=4, group_size=5)
    run = studies.wald_vs_t_run(4, 5, app.icc.value, n_sims=4, seed=app.seed)
    assert result.summary == run.summary
    pd.testing.assert_frame_equal(result.table, run.table)
    assert app.readout.value == studies.wald_vs_t_preview(**app.settings())


# ----------------------------------------------------------------------------------------
# Notebook 09: the planner
# ----------------------------------------------------------------------------------------

def _plan(design="within", n_replicates=4, cells=2000, icc=0.14, slope_sd=0.1, percent=10.0):
    return studies.planned_power(n_replicates, cells, studies.effect_from_percent(percent), design=design,
                                 replicate_sd=studies.replicate_sd_for_icc(icc),
                                 replicate_treatment_sd=slope_sd)


@pytest.mark.parametrize("design", ["within", "between"])
def test_plan_readout_prints_the_closed_form(design):
    text = studies.plan_readout(design=design, n_replicates=6, cells_per_replicate=200, icc=0.2,
                                replicate_treatment_sd=0.1, percent=20.0)
    plan = _plan(design, 6, 200, 0.2, 0.1, 20.0)
    assert f"design effect of the drug comparison is {plan['design_effect']:.2f}" in text
    assert f"as {plan['n_effective']:,.0f} independent cells" in text
    assert f"({plan['df']:.0f} df) for a 20% change: <b>{plan['power']:.0%}</b>" in text
    assert f"80% power: <b>{plan['mde_percent']:.0f}%</b>" in text
    assert ("ICC does not enter" in text) == (design == "within")


def test_plan_readout_names_a_design_problem_instead_of_a_power():
    plan = _plan("between", 2)
    assert plan["problem"]
    text = studies.plan_readout(design="between", n_replicates=2)
    assert plan["problem"] in text and "Closed-form power" not in text


def test_plan_run_is_the_study_summarised():
    result = studies.plan_run(n_replicates=3, cells_per_replicate=20, percent=30.0, n_sims=8, seed=4)
    rates = studies.replicate_power_study(studies.effect_from_percent(30.0), design="within", n_replicates=3,
                                          cells_per_replicate=20, replicate_sd=studies.replicate_sd_for_icc(0.14),
                                          replicate_treatment_sd=0.1, n_sims=8, seed=4)
    pd.testing.assert_frame_equal(result.rates, rates)
    pd.testing.assert_frame_equal(result.table, studies.power_and_false_positives(rates))
    pd.testing.assert_series_equal(result.plan, _plan(n_replicates=3, cells=20, percent=30.0))
    for r in result.table.itertuples():
        assert f"{r.analysis}: {r.false_positive_rate:.0%} false positives, {r.power:.0%} power" in result.summary
    assert result.summary.startswith("Ran 8 experiments without and 8 with a 30% effect (within design, 3 replicates")
    no_effect = studies.plan_run(cells_per_replicate=20, percent=0.0, n_sims=4)
    assert no_effect.summary.endswith("With no effect, only false positives are counted.")


def test_power_planner_shows_what_the_run_computes():
    app = PowerPlanner()
    result = app.run(n_sims=100, cells_per_replicate=20)
    expected = studies.plan_run(**{**app.settings(), "n_sims": 100, "cells_per_replicate": 20}, seed=app.seed)
    assert result.summary == expected.summary
    assert app.readout.value == studies.plan_readout(**app.settings())


# ----------------------------------------------------------------------------------------
# Notebook 04: the interaction explorer
# ----------------------------------------------------------------------------------------

def test_interaction_genes_are_the_simulators_with_their_default_effects():
    genes = studies.interaction_genes(seed=2, obs_per_replicate=10)
    data = lmmedu.simulate_replicates(seed=2, obs_per_replicate=10)
    assert list(genes) == list(lmmedu.truth(data).genes)
    assert genes == {g: lmmedu.data.simulate.DEFAULT_TREATMENT_EFFECTS.get(g, 0.0) for g in genes}


def test_interaction_view_moves_only_the_coefficient_whose_truth_moved():
    effects = {"A": 0.22, "B": 0.09, "C": 0.0}
    first = studies.interaction_view(effects, seed=3, obs_per_replicate=40)
    assert not first.table["moved"].any()
    data = studies.interaction_data(effects, 3, obs_per_replicate=40)
    np.testing.assert_allclose(first.table["truth"], lmmedu.truth(data).coefficients[first.table.index])
    assert (first.table[["truth_change", "estimate_change"]] == 0).all().all()
    fit = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", data)
    np.testing.assert_allclose(first.table["estimate"], fit.coefs["estimate"], rtol=1e-12)
    second = studies.interaction_view({**effects, "C": 0.3}, first.table, seed=3, obs_per_replicate=40)
    assert second.table.index[second.table["moved"]].tolist() == ["treatment[T.drug]:gene[T.C]"]
    assert second.table.loc["treatment[T.drug]:gene[T.C]", "truth_change"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="effect of gene B must be a finite number"):
        studies.interaction_view({**effects, "B": float("inf")})


def test_interaction_explorer_shows_what_the_view_computes():
    app = InteractionExplorer(seed=3, obs_per_replicate=40)
    view = studies.interaction_view(app.effects, seed=3, obs_per_replicate=40)
    pd.testing.assert_frame_equal(app.result.table, view.table)
    assert re.search(r"<td>treatment\[T\.drug\]</td><td>\+0\.220</td>", app.table.value)
