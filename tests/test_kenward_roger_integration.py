"""Kenward-Roger through the public functions: fit(..., ddf=), anova(fit, ddf=), emmeans(..., ddf=).

Against the same R fixtures as tests/test_kenward_roger.py (lmerTest's summary and anova with
ddf = "Kenward-Roger", emmeans' Kenward-Roger df), at lmmedu's own optimum, so with the
tolerances that file justifies: SEs 1e-4 (5e-4 where lme4 stops short of the optimum), df 2e-3,
F 2e-2 relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from test_kenward_roger import FIX, MODELS, ROOT, SE_RTOL, as_list, fit_names, load, r_to_lmmedu

import lmmedu
from lmmedu.stats.emmeans import contrasts

_FITS = {}


def kr_fit(model_id):
    if model_id not in _FITS:
        fx = load(model_id)
        data = pd.read_csv(ROOT / fx["data_file"], keep_default_na=False, na_values=["NA"],
                           dtype={f: str for f in fx["factors"]})
        for f in fx["factors"]:
            data[f] = pd.Categorical(data[f], categories=fx["levels"][f])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[model_id] = (fx, lmmedu.fit(fx["formula"], data, ddf="kenward-roger"))
    return _FITS[model_id]


def test_fixtures_are_there():
    assert (FIX / "index.json").exists() and len(MODELS) >= 10


@pytest.mark.parametrize("model_id", MODELS)
def test_fit_coefs_match_lmertest_summary_kr(model_id):
    fx, fit = kr_fit(model_id)
    assert fit.ddf == "Kenward-Roger"
    assert "Kenward-Roger" in str(fit.summary())
    ref = pd.DataFrame(fx["coefs"])
    ref.index = [r_to_lmmedu(fx, t) for t in ref["term"]]
    ref = ref.loc[fit_names(fit)]
    np.testing.assert_allclose(fit.coefs["se"], ref["se"], rtol=SE_RTOL.get(model_id, 1e-4))
    np.testing.assert_allclose(fit.coefs["df"], ref["df"], rtol=2e-3)


@pytest.mark.parametrize("model_id", [m for m in MODELS if load(m)["anova_kr"]])
def test_anova_matches_lmertest_anova_kr(model_id):
    fx, fit = kr_fit(model_id)
    # Asked of a Satterthwaite fit too: ddf= picks the method for this table only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sat_fit = lmmedu.fit(fx["formula"], fit.data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the singular replicates_within fit warns on every table
        tables = (lmmedu.anova(fit), lmmedu.anova(sat_fit, ddf="kenward-roger"))
    for tab in tables:
        for row in fx["anova_kr"]:
            got = tab.loc[row["term"]]
            assert got["num_df"] == row["num_df"], row["term"]
            np.testing.assert_allclose(got["den_df"], row["den_df"], rtol=2e-3, err_msg=row["term"])
            np.testing.assert_allclose(got["F"], row["F"], rtol=2e-2, err_msg=row["term"])
            if "mean_sq" in row:
                np.testing.assert_allclose(got["mean_sq"], row["mean_sq"], rtol=2e-2, err_msg=row["term"])


def _spec(text):
    """emmeans' '~ treatment | gene' as lmmedu's (specs, by)."""
    rhs = text.replace("~", "").strip()
    spec, _, by = rhs.partition("|")
    return spec.strip(), (by.strip() or None)


@pytest.mark.parametrize("model_id", [m for m in MODELS if load(m)["emmeans"] and load(m)["emmeans"]["spec"] != "~ 1"])
def test_emmeans_match_emmeans_kr(model_id):
    fx, fit = kr_fit(model_id)
    specs, by = _spec(fx["emmeans"]["spec"])
    emm = lmmedu.emmeans(fit, specs, by=by)
    tab = emm.table
    np.testing.assert_allclose(np.asarray(tab["se"], dtype=float), as_list(fx["emmeans"]["se"]),
                               rtol=SE_RTOL.get(model_id, 1e-4))
    np.testing.assert_allclose(np.asarray(tab["df"], dtype=float), as_list(fx["emmeans"]["df"]), rtol=2e-3)
    if fx["emmeans"].get("pairs"):
        pairs = contrasts(emm)
        ref = fx["emmeans"]["pairs"]
        np.testing.assert_allclose(np.asarray(pairs["se"], dtype=float), as_list(ref["se"]),
                                   rtol=SE_RTOL.get(model_id, 1e-4))
        np.testing.assert_allclose(np.asarray(pairs["df"], dtype=float), as_list(ref["df"]), rtol=2e-3)
    # The same through a Satterthwaite fit with ddf= on the call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sat_fit = lmmedu.fit(fx["formula"], fit.data)
    emm2 = lmmedu.emmeans(sat_fit, specs, by=by, ddf="kenward-roger")
    tab2 = emm2.table
    np.testing.assert_allclose(np.asarray(tab2["df"], dtype=float), np.asarray(tab["df"], dtype=float), rtol=1e-9)
