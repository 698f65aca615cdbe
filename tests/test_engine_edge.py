"""The mixed-model engine under awkward input (issue 10, items 2 and 3; issue 9's convergence check).

Each case gets the right number or one sentence that names the problem and the fix, never a
confident wrong number and never an internal exception.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.stats.results import Fit, is_fit, is_mixed


def groups_data(seed=0, m=8, per=10):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(m), per)
    return pd.DataFrame({"x": rng.normal(size=m * per), "g": [f"g{i}" for i in g],
                         "y": rng.normal(size=m)[g] + rng.normal(size=m * per)}), rng, g


@pytest.mark.parametrize("formula", ["y ~ x + g + (1|g)", "y ~ g + (1|g)"])
def test_random_term_repeating_a_fixed_effect_warns_and_gives_no_df(formula):
    d, _, _ = groups_data()
    with pytest.warns(UserWarning, match=r"\(1\|g\) repeats a fixed effect"):
        m = lmmedu.fit(formula, d)
    assert "drop the grouping factor from the fixed part" in m.df_message
    assert m.coefs["df"].isna().all() and m.coefs["p"].isna().all()
    assert m.df_message in m.summary()


def test_nested_term_not_taken_for_a_repeat():
    d = pd.read_csv("tests/fixtures/data/cake.csv", dtype={"replicate": str, "temperature": str})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = lmmedu.fit("angle ~ recipe + (1|recipe:replicate)", d)
    assert ok.df_message == "" and np.isfinite(ok.coefs["df"]).all()


ZERO_RESIDUAL = "same value|constant within every level|exactly|residual variance is zero"


@pytest.mark.parametrize("case", ["constant", "constant_within_groups", "constant_within_plus_x",
                                  "simulated_residual_sd_0"])
def test_zero_residual_variance_is_one_clear_error(case):
    d, rng, g = groups_data()
    formula = "y ~ x + (1|g)"
    if case == "constant":
        d["y"] = 3.0
    elif case == "constant_within_groups":
        d["y"] = rng.normal(size=8)[g]
        formula = "y ~ 1 + (1|g)"
    elif case == "constant_within_plus_x":
        d["y"] = rng.normal(size=8)[g] + 0.5 * d["x"]
    else:
        d = lmmedu.simulate_replicates(residual_sd=0, replicate_treatment_sd=0, genes=("A",))
        formula = "log(length) ~ treatment + (1|replicate)"
    # Caught up front by the model-frame checks, or by the engine when only the fit reveals it.
    with pytest.raises(ValueError, match=ZERO_RESIDUAL) as err:
        lmmedu.fit(formula, d)
    assert str(err.value).count(". ") <= 1


def test_compare_gives_the_same_error_not_zero_division():
    d, rng, g = groups_data()
    d["y"] = rng.normal(size=8)[g]
    with pytest.raises(ValueError, match=ZERO_RESIDUAL):
        lmmedu.compare("y ~ x + (1|g)", d)


def test_tiny_but_nonzero_residual_fits():
    """SD ratio 1e4: still a model with an optimum; it must be found, not refused."""
    d, rng, g = groups_data()
    d["y"] = rng.normal(size=8)[g] + 0.5 * d["x"] + 1e-4 * rng.normal(size=80)
    m = lmmedu.fit("y ~ x + (1|g)", d)
    assert m.sigma == pytest.approx(1e-4, rel=0.3)
    assert m.coefs.loc["x", "estimate"] == pytest.approx(0.5, abs=1e-4)
    assert m.coefs.loc["Intercept", "df"] == pytest.approx(7, abs=0.5)
    assert m.converged


def test_optimiser_stopping_early_is_reported(monkeypatch):
    import lmmedu.stats.fit as fitmod
    from lmmedu.stats import engine

    real = engine.optimize_theta
    monkeypatch.setattr(fitmod, "optimize_theta", lambda problem: real(problem, max_evals=3))
    d, _, _ = groups_data()
    with pytest.warns(UserWarning, match="optimiser stopped"):
        m = lmmedu.fit("y ~ x + (x|g)", d)
    assert not m.converged and m.convergence_message in m.summary()


def test_converged_fit_passes_the_gradient_check():
    sleep = pd.read_csv("tests/fixtures/data/sleepstudy.csv", dtype={"Subject": str})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = lmmedu.fit("Reaction ~ Days + (Days|Subject)", sleep)
    assert m.converged and m.convergence_message == ""
    # The profiled deviance's gradient is ~0 and its Hessian positive definite at the optimum.
    assert np.abs(m.derivatives.gradient).max() < 1e-3
    assert np.all(np.linalg.eigvalsh(m.derivatives.profiled_hessian) > 0)


def test_no_upper_bound_on_theta():
    """Issue 10, item 1: the old search could not pass theta = 1e4."""
    d, rng, g = groups_data(m=10)
    d["y"] = rng.normal(size=10)[g] + 1e-5 * rng.normal(size=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "stopped where the deviance still slopes" (issue 19)
        m = lmmedu.fit("y ~ 1 + (1|g)", d)
    assert m.theta[0] > 5e4 and m.converged
    # Balanced one-way REML: sigma_b^2 = var(group means) - sigma^2 / n.  The REML deviance's
    # curvature in log(sigma_b) is ~30 here, so stopping within 1e-12 of its minimum (the
    # optimiser's tolerance, above the deviance's rounding once X'V^-1X is computed without
    # cancellation) puts the SD within ~3e-7 of the closed form, under every BLAS kernel.
    assert m.varcomp.iloc[0]["sd"] == pytest.approx(d.groupby("g")["y"].mean().std(), rel=1e-6)


def test_one_fit_protocol():
    d, _, _ = groups_data()
    mixed = lmmedu.fit("y ~ x + (1|g)", d)
    lm = lmmedu.fit_lm("y ~ x", d)
    assert isinstance(mixed, Fit) and isinstance(lm, Fit)
    assert is_mixed(mixed) and not is_mixed(lm) and is_fit(lm) and not is_fit(d)


def test_solution_is_typed():
    from lmmedu.stats.engine import DenseFactors, Solution

    d, _, _ = groups_data()
    m = lmmedu.fit("y ~ x + (1|g)", d)
    sol = m.problem.solve(m.opt.x)
    assert isinstance(sol, Solution) and isinstance(sol.factors, DenseFactors)
    assert not hasattr(sol, "parts")


@pytest.mark.parametrize("formula, m", [("y ~ x + (x|g) + (1|h)", 140), ("y ~ x + (1|g) + (1|h) + (1|k)", 360),
                                          ("y ~ x + (1|g) + (x|h)", 340)])
def test_blocked_layout_equals_dense_layout(monkeypatch, formula, m):
    """Crossed factors in the blocked layout (sparse Z1'Z2, no shared patterns) give the dense answer.

    Also with a correlated slope among the smaller terms (a Lambda2 that is not diagonal), and
    with groups of equal size (one class of Schur-complement weights) in a random intercept.
    """
    from lmmedu.stats import engine

    monkeypatch.setattr(engine, "_DENSE_Q", 300)
    rng = np.random.default_rng(5)
    n = 1200
    g, h, k = rng.integers(0, m, n), rng.integers(0, 30, n), rng.integers(0, 5, n)
    x = rng.normal(size=n)
    y = (rng.normal(size=m)[g] + 0.5 * rng.normal(size=m)[g] * x + rng.normal(size=30)[h]
         + rng.normal(size=5)[k] + x + rng.normal(size=n))
    d = pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g], "h": [f"h{i}" for i in h],
                      "k": [f"k{i}" for i in k]})
    blocked = lmmedu.fit(formula, d)
    assert blocked.problem.layout == "blocked" and blocked.problem.pool is None
    monkeypatch.setattr(engine, "_DENSE_Q", 10**6)
    dense = lmmedu.fit(formula, d)
    assert dense.problem.layout == "dense"
    assert blocked.loglik == pytest.approx(dense.loglik, abs=1e-6)
    np.testing.assert_allclose(blocked.coefs[["estimate", "se"]], dense.coefs[["estimate", "se"]], rtol=1e-5)
    np.testing.assert_allclose(blocked.coefs["df"], dense.coefs["df"], rtol=1e-3)
    for grp in blocked.ranef:
        np.testing.assert_allclose(blocked.ranef[grp], dense.ranef[grp], atol=1e-4)


@pytest.mark.parametrize("rank_table", [True, False])
def test_schur_map_equals_the_sum_over_groups(monkeypatch, rank_table):
    """base - P @ w is the upper triangle of Z2'Z2 - sum_j sum_(b<=c) w_bcj (Ub_j'Uc_j + [b != c] Uc_j'Ub_j)."""
    import scipy.sparse as sp

    from lmmedu.stats import groupwise

    if not rank_table:
        monkeypatch.setattr(groupwise, "RANK_TABLE_MAX", 0)
    rng = np.random.default_rng(3)
    m, Q2, q1 = 40, 15, 2
    U = [sp.random(m, Q2, density=0.3, random_state=rng, format="csr") for _ in range(q1)]
    U[1].data = rng.normal(size=U[1].nnz)  # signed values, as for a slope column
    Z2tZ2 = np.diag(rng.uniform(1, 2, Q2))
    Z2tZ2[0, Q2 - 1] = Z2tZ2[Q2 - 1, 0] = 0.5  # a cell no group reaches
    classes = rng.integers(0, 4, m)
    pairs = [(0, 0), (0, 1), (1, 1)]
    w_class = rng.normal(size=(len(pairs), 4))
    cells, base, P = groupwise.schur_map(U, classes, 4, Z2tZ2)
    got = np.zeros((Q2, Q2))
    got.ravel()[cells] = base - P @ w_class.ravel()
    M = Z2tZ2.copy()
    for j in range(m):
        for k, (b, c) in enumerate(pairs):
            outer = w_class[k, classes[j]] * np.outer(U[b][j].toarray(), U[c][j].toarray())
            M -= outer if b == c else outer + outer.T
    np.testing.assert_allclose(got, np.triu(M), atol=1e-12)
