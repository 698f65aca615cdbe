"""The reused patsy coding (design._design_matrix) must give exactly patsy's matrices and names."""

import numpy as np
import pandas as pd
import patsy
import pytest

from lmmedu.stats import design
from lmmedu.stats.formula import eval_env


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "g": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        "h": pd.Categorical(rng.choice(["x", "y"], n), categories=["y", "x"]),
        "w": pd.Categorical(rng.choice(["p", "q", "r", "s"], n), ordered=True),
        "x": rng.normal(size=n),
        "k": rng.integers(0, 5, n),
    })


FORMULAS = ["1", "0 + g", "g", "x", "g + x", "g*h", "g*x", "0 + g:h", "g*h*w", "x + k + g:x", "h + w + h:w:x",
            "0 + x", "g + h + g:h:x + k:w", "log(x**2 + 1) + g", "C(k) + g", "center(x) + g"]


@pytest.mark.parametrize("rhs", FORMULAS)
def test_cached_design_equals_patsy(rhs):
    design._DESIGN_CACHE.clear()
    for seed in range(3):
        data = _data(seed)
        expected = patsy.dmatrix(rhs, data, eval_env=eval_env(), NA_action=design._KEEP_NAN)
        for _ in range(2):  # first call fills the cache, second uses it
            X, info = design._design_matrix(rhs, data)
            assert info.column_names == expected.design_info.column_names
            np.testing.assert_array_equal(X, np.asarray(expected))
            assert X.dtype == float and X.shape == expected.shape


def test_cache_only_for_plain_columns():
    design._DESIGN_CACHE.clear()
    design._design_matrix("center(x) + g", _data())
    design._design_matrix("g + x", _data())
    assert [key[0] for key in design._DESIGN_CACHE] == ["g + x"]


def test_new_levels_are_not_served_from_the_cache():
    design._DESIGN_CACHE.clear()
    d = _data()
    design._design_matrix("g", d)
    d2 = d.copy()
    d2["g"] = pd.Categorical(d2["g"].astype(str).replace("c", "z"))
    X, info = design._design_matrix("g", d2)
    assert info.column_names == ["Intercept", "g[T.b]", "g[T.z]"]
    np.testing.assert_array_equal(X, np.asarray(patsy.dmatrix("g", d2)))


@pytest.mark.parametrize("categories,ordered", [(["b", "a", "c"], False), (["b", "a", "c"], True), ([3, 1, 2], False)])
def test_group_codes_of_a_categorical_equal_factorize(categories, ordered):
    s = pd.Series(pd.Categorical(np.random.default_rng(1).choice(categories, 50), categories=categories,
                                 ordered=ordered))
    codes, uniques = pd.factorize(s, sort=True)
    got_codes, got_levels = design._group_codes(pd.DataFrame({"g": s}), ["g"])
    np.testing.assert_array_equal(got_codes, codes)
    assert got_levels == [str(u) for u in uniques]


def test_categorise_leaves_the_input_alone():
    d = pd.DataFrame({"t": ["a", "b"], "x": [1.0, 2.0]})
    out = design._categorise(d)
    assert isinstance(out["t"].dtype, pd.CategoricalDtype) and d["t"].dtype != out["t"].dtype
    plain = pd.DataFrame({"t": pd.Categorical(["a", "b"]), "x": [1.0, 2.0]})
    assert design._categorise(plain) is plain


def test_t_table_equals_scipy_stats():
    import scipy.stats

    from lmmedu.stats.satterthwaite import t_table

    df = np.array([np.nan, np.inf, 0.5, 1.0, 2.7, 30.0, 1e6, 1e12, 0.0, -1.0])
    est = np.linspace(-3, 40, df.size)
    se = np.full(df.size, 0.7)
    for level in (0.95, 0.9, 0.5):
        tab = t_table(est, se, df, level=level)
        q = scipy.stats.t.ppf(0.5 + level / 2, df)
        np.testing.assert_array_equal(tab["p"], 2 * scipy.stats.t.sf(np.abs(est / se), df))
        np.testing.assert_array_equal(tab["ci_low"], est - q * se)
        np.testing.assert_array_equal(tab["ci_high"], est + q * se)
