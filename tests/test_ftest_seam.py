"""The df-method seam (issue 20): one interface for Satterthwaite and Kenward-Roger, asked of the fit.

The numbers themselves are checked against lmerTest in test_engine_r.py (t tables) and
test_ftest_r.py (F tables); here: the registry, what the fit, emmeans and the summary say
about the method, and the one-sentence refusals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.stats import ddf as ddf_mod
from lmmedu.stats.convergence import convergence_message
from lmmedu.stats.satterthwaite import Satterthwaite, f_denominator_df

SLEEP = pd.read_csv("tests/fixtures/data/sleepstudy.csv", dtype={"Subject": str})
FORMULA = "Reaction ~ Days + (Days|Subject)"


@pytest.fixture(scope="module")
def sleep_fit():
    return lmmedu.fit(FORMULA, SLEEP)


@pytest.mark.parametrize("spelling,key", [("satterthwaite", "satterthwaite"), ("Satterthwaite", "satterthwaite"),
                                          ("kenward-roger", "kenward-roger"), ("Kenward-Roger", "kenward-roger"),
                                          ("KR", "kenward-roger"), ("kenward_roger", "kenward-roger")])
def test_registry_accepts_r_and_user_spellings(spelling, key):
    assert ddf_mod.resolve(spelling).key == key


@pytest.mark.parametrize("bad", ["containment", "lme4", "", None, 3])
def test_unknown_ddf_is_one_sentence_naming_the_accepted_ones(bad):
    with pytest.raises(ValueError, match=r"^ddf must be 'satterthwaite', 'kenward-roger' or 'asymptotic'.*not .*\.$"):
        lmmedu.fit(FORMULA, SLEEP, ddf=bad)


def test_kenward_roger_on_ml_is_refused_before_fitting():
    with pytest.raises(ValueError, match=r"^Kenward-Roger df need a REML fit .*reml=True.*\.$"):
        lmmedu.fit(FORMULA, SLEEP, reml=False, ddf="kenward-roger")


def test_kenward_roger_on_an_ml_fit_is_refused_by_the_fit_too():
    m = lmmedu.fit(FORMULA, SLEEP, reml=False)
    with pytest.raises(ValueError, match="need a REML fit"):
        m.df_for([[0, 1]], ddf="KR")
    with pytest.raises(ValueError, match="need a REML fit"):
        lmmedu.emmeans(m, "Days", ddf="kenward-roger")


def test_default_fit_reports_satterthwaite_everywhere(sleep_fit):
    m = sleep_fit
    assert m.ddf == "Satterthwaite"
    assert "Satterthwaite df as lmerTest" in m.summary().splitlines()[0]
    method = m.ddf_method()
    assert isinstance(method, Satterthwaite) and method.name == m.ddf
    # The table's SEs and df are the method's, to the last bit.
    np.testing.assert_array_equal(m.vcov.to_numpy(), method.vcov())
    np.testing.assert_array_equal(m.coefs["df"].to_numpy(), method.df(np.eye(2)))
    assert m.ddf_method("satterthwaite") is method  # built once
    note = [n for n in lmmedu.emmeans(m, "Days").notes if n.startswith("Degrees-of-freedom")]
    assert note == ["Degrees-of-freedom method: satterthwaite"]


def test_the_convergence_check_does_not_need_satterthwaite(sleep_fit):
    # The check reads the shared derivatives; a converged fit passes it.
    assert convergence_message(sleep_fit.problem, sleep_fit.derivatives) == ""
    assert sleep_fit.derivatives is sleep_fit.ddf_method().derivatives  # computed once, shared


def test_one_row_ftest_is_the_squared_t(sleep_fit):
    m = sleep_fit
    F, num_df, den_df = m.ddf_method().ftest([[0.0, 1.0]], m.beta)
    row = m.coefs.loc["Days"]
    assert num_df == 1
    assert F == pytest.approx(row["t"] ** 2, rel=1e-12)
    assert den_df == pytest.approx(row["df"], rel=1e-12)


def test_f_denominator_df_follows_lmertest():
    # lmerTest's get_Fstat_ddf: 2E/(E - q) with E = sum nu/(nu - 2); 2 when any nu <= 2; mean when all equal.
    nu = np.array([4.0, 9.0, 30.0])
    E = np.sum(nu / (nu - 2))
    assert f_denominator_df(nu) == pytest.approx(2 * E / (E - 3))
    assert f_denominator_df([1.5, 40.0]) == 2.0
    assert f_denominator_df([7.0, 7.0 + 1e-10]) == pytest.approx(7.0)


def test_lm_accepts_a_ddf_name_but_keeps_its_residual_df():
    lm = lmmedu.fit_lm("Reaction ~ Days", SLEEP)
    assert lm.df_for([[0, 1]], ddf="KR")[0] == lm.df_resid
    with pytest.raises(ValueError, match="ddf must be"):
        lm.df_for([[0, 1]], ddf="containment")


class _ScaledMethod:
    """A stand-in df method (for the seam, before Kenward-Roger lands): Satterthwaite's df halved, V doubled."""

    name = "Kenward-Roger"

    def __init__(self, problem, solution, reml):
        self.base = Satterthwaite(problem, solution, reml)

    def vcov(self):
        return 2.0 * self.base.vcov()

    def df(self, L):
        return self.base.df(L) / 2.0

    def ftest(self, L, beta):
        F, q, den = self.base.ftest(L, beta)
        return F / 2.0, q, den / 2.0


@pytest.fixture
def stand_in_kr(monkeypatch):
    import dataclasses

    methods = tuple(dataclasses.replace(m, cls=_ScaledMethod) if m.key == "kenward-roger" else m
                    for m in ddf_mod.METHODS)
    monkeypatch.setattr(ddf_mod, "METHODS", methods)


def test_a_second_method_plugs_into_every_caller(stand_in_kr, sleep_fit):
    m = lmmedu.fit(FORMULA, SLEEP, ddf="KR")
    assert m.ddf == "Kenward-Roger"
    assert "Kenward-Roger df as lmerTest/pbkrtest" in m.summary().splitlines()[0]
    np.testing.assert_allclose(m.vcov.to_numpy(), 2.0 * sleep_fit.vcov.to_numpy())
    np.testing.assert_allclose(m.coefs["se"], np.sqrt(2.0) * sleep_fit.coefs["se"])
    np.testing.assert_allclose(m.coefs["df"], sleep_fit.coefs["df"] / 2.0)
    emm = lmmedu.emmeans(m, "Days")
    assert "Degrees-of-freedom method: kenward-roger" in emm.notes
    tab = lmmedu.anova(m)
    ref = lmmedu.anova(sleep_fit)
    assert tab.notes[0].startswith("Type III analysis of variance table with Kenward-Roger's method")
    np.testing.assert_allclose(tab["F"], ref["F"] / 2.0)
    np.testing.assert_allclose(tab["den_df"], ref["den_df"] / 2.0)
    # The other method on the same fit, on request, without refitting:
    np.testing.assert_allclose(lmmedu.anova(m, ddf="satterthwaite")["F"], ref["F"])
    np.testing.assert_allclose(m.contrast([[0, 1]], ddf="satterthwaite")["se"], sleep_fit.coefs["se"].iloc[1])
    np.testing.assert_allclose(lmmedu.emmeans(sleep_fit, "Days", ddf="KR").table["se"],
                               np.sqrt(2.0) * lmmedu.emmeans(sleep_fit, "Days").table["se"])


def test_summary_random_effects_columns_stay_aligned_with_long_group_names():
    # A nested group such as Consumer:Product is longer than the 10 characters R's own layout
    # starts from; every row's Variance column must still end where the header's does.
    data = pd.read_csv("tests/fixtures/ftest/data/ham.csv").astype({"Consumer": str, "Product": str})
    fit = lmmedu.fit("Informed.liking ~ Product + (1 | Consumer) + (1 | Consumer:Product)", data)
    lines = str(fit.summary()).splitlines()
    start = lines.index("Random effects:") + 1
    block = lines[start:start + 4]
    end = block[0].index("Variance") + len("Variance")
    for line in block[1:]:
        assert line[end - 1] != " " and line[end] == " ", line
