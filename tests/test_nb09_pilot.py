"""Notebook 09's pilot advice with its uncertainty: studies.pilot_sd_plan."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.teach.studies import PILOT_FORMULA, PILOT_PARAMETER, effect_from_percent, pilot_sd_plan, planned_power

EFFECT = effect_from_percent(10)


@pytest.fixture(scope="module")
def pilot():
    return lmmedu.simulate_replicates(genes=("A",), n_replicates=4, obs_per_replicate=400, treatment_effects=EFFECT,
                                      replicate_sd=0.2, replicate_treatment_sd=0.1, residual_sd=0.5, seed=11)


@pytest.fixture(scope="module")
def plan(pilot):
    return pilot_sd_plan(pilot, EFFECT, n_replicates=4, cells_per_replicate=2000)


def test_the_plan_rows_use_the_profile_interval_of_the_pilot(pilot, plan):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # this pilot's fit is singular, and confint says so
        ci = lmmedu.confint(lmmedu.fit(PILOT_FORMULA, pilot), method="profile").loc[PILOT_PARAMETER]
    assert plan.index.tolist() == ["lower end", "estimate", "upper end"]
    np.testing.assert_allclose(plan["drug_sd"], [ci["lower"], ci["estimate"], ci["upper"]], rtol=1e-6, atol=1e-9)
    assert plan.attrs["pilot_replicates"] == 4 and plan.attrs["level"] == 0.95


def test_every_row_is_planned_power_at_its_sd(plan):
    a = plan.attrs
    for label, row in plan.iterrows():
        truth = dict(replicate_sd=a["replicate_sd"], replicate_treatment_sd=row["drug_sd"], residual_sd=a["residual_sd"])
        p = planned_power(4, 2000, EFFECT, **truth)
        assert row["power"] == pytest.approx(p["power"]) and row["mde_percent"] == pytest.approx(p["mde_percent"])
        n = int(row["replicates_needed"])
        assert planned_power(n, 2000, EFFECT, **truth)["power"] >= 0.8
        assert n == 2 or planned_power(n - 1, 2000, EFFECT, **truth)["power"] < 0.8


def test_a_larger_sd_means_less_power_and_more_replicates(plan):
    assert plan["power"].is_monotonic_decreasing and plan["replicates_needed"].is_monotonic_increasing
    # The point of the lesson: one pilot supports very different plans.
    assert plan.loc["upper end", "replicates_needed"] >= 2 * plan.loc["estimate", "replicates_needed"]


def test_a_plan_beyond_the_search_says_so(pilot):
    out = pilot_sd_plan(pilot, 0.001, max_replicates=5)
    assert out["replicates_needed"].isna().all()


@pytest.mark.parametrize("args, message", [
    (dict(pilot=pd.DataFrame({"y": [1.0]})), "pilot must be a data frame with columns length, treatment and replicate"),
    (dict(level=1.5), "level"),
    (dict(max_replicates=1), "max_replicates must be an integer of at least 2"),
])
def test_bad_input_is_refused_in_one_sentence(pilot, args, message):
    kwargs = {"pilot": pilot, "effect": EFFECT, **args}
    with pytest.raises(ValueError, match=re.escape(message)):
        pilot_sd_plan(**kwargs)

