"""lmmedu's parametric-bootstrap LRT against pbkrtest's PBmodcomp given REML fits.

The fixture and its script: tests/fixtures/pbmodcomp/sleepstudy_slope.json and
tests/r/make_pbmodcomp_fixtures.R (R is not needed here).  PBmodcomp refits REML models by ML
before computing the LRT; lmmedu refits nothing silently, so PBmodcomp's numbers are lmmedu's
with ML fits, and REML fits give the REML LRT that lmmedu.anova prints.

Tolerances: the observed LRT is a difference of two optimised log-likelihoods (lme4 stops within
about 1e-8 of the optimum, see tests/test_formula_r.py): 1e-6 absolute.  Bootstrap p-values are
Monte Carlo estimates: R's from 2,000 simulations, lmmedu's from 1,000 with a fixed seed; they may
differ by 4 standard errors of the difference (binomial, sqrt(p(1 - p)/n) from each side), a bound
a correct implementation crosses about once in 16,000 seeds.
"""

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.stats.bootstrap import POSITIVE_LRT, pb_modcomp

ROOT = Path(__file__).resolve().parents[1]
FIX = json.loads((ROOT / "tests/fixtures/pbmodcomp/sleepstudy_slope.json").read_text())


@pytest.fixture(scope="module")
def data():
    path = ROOT / FIX["data_file"]
    assert hashlib.md5(path.read_bytes()).hexdigest() == FIX["data_md5"], (
        f"{path} changed since the fixture was made; re-run Rscript tests/r/make_pbmodcomp_fixtures.R")
    return pd.read_csv(path, dtype={"Subject": str}).query(FIX["subset"]).reset_index(drop=True)


def _fits(data, reml):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small data: the slope fit may be singular
        return lmmedu.fit(FIX["small"], data, reml=reml), lmmedu.fit(FIX["big"], data, reml=reml)


def _agree(ours, n_ours, theirs, n_theirs):
    se = np.sqrt(theirs * (1 - theirs) / n_theirs + ours * (1 - ours) / n_ours)
    assert abs(ours - theirs) <= 4 * se, (ours, theirs, se)


def test_pbmodcomp_reads_the_ml_lrt_of_reml_fits():
    """What the docstring of pb_modcomp says: PBmodcomp's observed LRT is that of the ML refits."""
    assert abs(FIX["tobs"] - FIX["lrt_ml"]) <= 1e-8
    assert abs(FIX["lrt_reml"] - FIX["lrt_ml"]) > 0.1  # so the test below can tell them apart


def test_ml_fits_give_pbmodcomps_numbers_within_monte_carlo_error(data):
    small, big = _fits(data, reml=False)
    res = pb_modcomp(small, big, n=1000, seed=1)
    assert abs(res["LRT"] - FIX["tobs"]) <= 1e-6
    ref = np.asarray(FIX["ref"])
    _agree(res["p"], res["n"], FIX["p_all"], FIX["nsim"])
    _agree(np.mean(res["lrt"] <= POSITIVE_LRT), res["n"], FIX["share_zero"], FIX["nsim"])
    n_pos_ours, n_pos_r = int(np.sum(res["lrt"] > POSITIVE_LRT)), int(np.sum(ref > 0))
    _agree(res["p_positive"], n_pos_ours, FIX["p_pbtest"], n_pos_r)


def test_reml_fits_are_bootstrapped_by_reml_and_the_table_says_pbmodcomp_differs(data):
    small, big = _fits(data, reml=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = lmmedu.anova(small, big, method="bootstrap", n=19, seed=1)
    assert abs(table["Chisq"].iloc[1] - FIX["lrt_reml"]) <= 1e-6
    note = [n for n in table.attrs["notes"] if "PBmodcomp refits" in n]
    assert note == ["Both fits are REML, so the bootstrap simulates and refits by REML and reads the REML LRT "
                    "above; pbkrtest's PBmodcomp refits REML models by ML first, so for its numbers fit both with "
                    "reml=False."]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = lmmedu.anova(*_fits(data, reml=False), method="bootstrap", n=19, seed=1)
    assert not [n for n in ml.attrs["notes"] if "PBmodcomp refits" in n]
