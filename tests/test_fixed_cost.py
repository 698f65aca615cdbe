"""Shortcuts that cut the fixed cost of one fit must give the same numbers as the long way."""

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.stats import design, fit as fit_module
from lmmedu.stats.design import fixed_design, random_blocks
from lmmedu.stats.engine import LmmProblem
from lmmedu.stats.formula import model_frame, parse_formula

FORMULAS = ["log(length) ~ treatment*gene + (1|replicate)",
            "log(length) ~ treatment*gene + (1+treatment|replicate)",
            "log(length) ~ treatment + (1|replicate) + (1|gene)"]


def _parts(formula, data):
    parsed = parse_formula(formula)
    frame = model_frame(parsed, data)
    for _ in range(2):  # the second call is served by the design cache, with cells
        d = fixed_design(parsed.fixed, frame.data)
        blocks = random_blocks(parsed.random, frame.data)
    return frame, d, blocks


@pytest.mark.parametrize("formula", FORMULAS)
def test_cell_cross_products_equal_row_sums(formula):
    data = lmmedu.simulate_replicates(seed=3)
    frame, d, blocks = _parts(formula, data)
    assert d.cells is not None and all(b.cells is not None for b in blocks)
    np.testing.assert_array_equal(d.cells.rows[d.cells.cell], d.X)
    fast = LmmProblem(d.X, frame.y, blocks, x_cells=d.cells)
    slow = LmmProblem(d.X, frame.y, [b.__class__(b.term, b.Z, b.codes, b.levels, b.names) for b in blocks])
    scale = np.sqrt(np.outer(np.diag(slow.W), np.diag(slow.W)))
    np.testing.assert_allclose(fast.W / scale, slow.W / scale, rtol=0, atol=1e-13)


@pytest.mark.parametrize("formula", FORMULAS[:2])
def test_deviance_path_equals_full_solution(formula):
    frame, d, blocks = _parts(formula, lmmedu.simulate_replicates(seed=4))
    for reml in (True, False):
        prob = LmmProblem(d.X, frame.y, blocks, reml=reml, x_cells=d.cells)
        rng = np.random.default_rng(0)
        for _ in range(5):
            theta = np.abs(prob.start) * rng.uniform(0.2, 3.0, prob.n_theta)
            assert prob.deviance(theta) == prob.profiled_deviance(prob.solve(theta))


def test_fixed_design_with_cells_equals_patsy_rank_check():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"a": pd.Categorical(rng.choice(list("xyz"), 400)),
                       "b": pd.Categorical(rng.choice(list("pq"), 400))})
    # A level combination that never occurs makes one interaction column aliased.
    df = df[~((df.a == "z") & (df.b == "q"))].reset_index(drop=True)
    design._DESIGN_CACHE.clear()
    with pytest.warns(UserWarning, match="rank deficient"):
        first = fixed_design("a*b", df)
    with pytest.warns(UserWarning, match="rank deficient"):
        second = fixed_design("a*b", df)  # from the cache, with cells
    assert second.cells is not None and first.cells is not None
    assert first.names == second.names and first.dropped == second.dropped
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(second.cells.rows[second.cells.cell], second.X)


def test_exact_fit_still_refused_after_the_engine_check():
    df = lmmedu.simulate_replicates(seed=5, genes=("A",))
    means = df.groupby("replicate", observed=True)["length"].transform("mean")
    shift = np.where(df["treatment"] == "drug", 0.3, 0.0)
    df = df.assign(length=np.exp(np.log(means) + shift))
    with pytest.raises(ValueError, match="fit the response .log.length.. exactly"):
        lmmedu.fit("log(length) ~ treatment + (1|replicate)", df)


def test_engine_check_skips_the_row_pass_only_with_clear_residual():
    frame, d, blocks = _parts(FORMULAS[0], lmmedu.simulate_replicates(seed=6))
    prob = LmmProblem(d.X, frame.y, blocks, x_cells=d.cells)
    assert not fit_module._exact_fit_possible(prob)
    prob.rss_joint = 1e-9 * prob.yty
    assert fit_module._exact_fit_possible(prob)


@pytest.mark.parametrize("probs", [(0.5, 0.5), (0.995, 0.005), (0.3, 0.7)])
@pytest.mark.parametrize("full", [True, False])
def test_column_transform_from_cells_equals_rows(probs, full):
    from lmmedu.stats.groupwise import column_transform

    rng = np.random.default_rng(1)
    rows = np.array([[1.0, 0.0, 2e4], [1.0, 1.0, 2e4 + 1], [1.0, 0.0, 3e-5]])
    cell = rng.choice(3, size=5000, p=[probs[0] * 0.5, probs[1], probs[0] * 0.5])
    counts = np.bincount(cell, minlength=3)
    np.testing.assert_allclose(column_transform(rows, full, counts=counts), column_transform(rows[cell], full),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("level", [0.0, 5.0, 300.0])
def test_constant_within_groups_refused_at_any_level(level):
    rng = np.random.default_rng(3)
    g = np.repeat([f"g{i}" for i in range(8)], 20)
    values = level + rng.normal(size=8)
    df = pd.DataFrame({"y": np.repeat(values, 20), "x": rng.normal(size=160), "g": g})
    with pytest.raises(ValueError, match="constant within every level of 'g'"):
        lmmedu.fit("y ~ x + (1|g)", df)
    df["y"] += 1e-3 * rng.normal(size=160)  # small but real within-group variation
    assert lmmedu.fit("y ~ x + (1|g)", df).sigma > 0


def test_interaction_group_codes_equal_multiindex_factorize():
    """Combined integer codes give exactly the groups and level order of a MultiIndex's sorted factorize."""
    from lmmedu.stats.design import _group_codes

    rng = np.random.default_rng(3)
    n = 400
    d = pd.DataFrame({"a": rng.choice(["x", "y", "z10", "z2"], n), "b": rng.integers(0, 13, n),
                      "c": pd.Categorical(rng.choice(["q", "p", "r"], n), categories=["r", "q", "p", "unused"]),
                      "e": pd.Categorical(rng.integers(0, 20, n))})
    for cols in (["a", "b"], ["b", "a", "c"], ["c", "a"], ["e", "c"]):
        codes, levels = _group_codes(d, cols)
        want, uniques = pd.factorize(pd.MultiIndex.from_arrays([d[g] for g in cols]), sort=True)
        assert np.array_equal(codes, want)
        assert levels == [":".join(map(str, u)) for u in uniques]
