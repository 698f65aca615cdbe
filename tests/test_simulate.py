"""Tests of lmmedu.data.simulate: the simulated data must carry the truth they claim to.

Statistical checks compare a simple moment estimate with the truth and allow Z = 5 standard
errors, the SE being derived from the sample sizes of the check. Under the normal model a
5-SE miss has probability 6e-7 per check, so a failure means a bug, not bad luck, while a
wrong SD, a missing term or a swapped arm moves the estimate by many SEs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lmmedu.data.simulate import (
    DEFAULT_FIXED_EFFECTS,
    ExpressionTruth,
    ReplicatesTruth,
    simulate_expression,
    simulate_replicates,
    truth,
)

Z = 5.0
N_SEEDS = 200


def _within(a, b, se, what):
    assert abs(a - b) <= Z * se, f"{what}: estimate {a:.5g} vs truth {b:.5g} (tolerance {Z * se:.3g})"


# --------------------------------------------------------------------------------------
# simulate_replicates: statistics over many seeds
# --------------------------------------------------------------------------------------

REP_KW = dict(
    n_replicates=5,
    obs_per_replicate=(20, 31, 40, 52, 60),  # odd counts exercise the "odd one to drug" rule
    replicate_sd=0.3,
    replicate_treatment_sd=0.15,
    residual_sd=0.5,
    treatment_effects={"A": 0.22, "B": 0.09, "C": 0.0},
)


def _cell_summary(df):
    """Per replicate x gene x treatment: n, mean and variance of log(length), plus the truth."""
    t = truth(df)
    d = df.assign(y=np.log(df["length"]))
    g = d.groupby(["replicate", "gene", "treatment"], observed=True)["y"]
    out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "var": g.var(ddof=1)}).reset_index()
    fixed = t.cell_means.set_index(["gene", "treatment"])["mean_log"]
    out["fixed"] = fixed.loc[list(zip(out["gene"], out["treatment"]))].to_numpy()
    re = t.replicate_effects.set_index("replicate")
    out["b0"] = re.loc[out["replicate"].astype(str), "b0"].to_numpy()
    out["b_treat"] = re.loc[out["replicate"].astype(str), "b_treat"].to_numpy()
    out["drug"] = (out["treatment"] == "drug").astype(float)
    return out


@pytest.fixture(scope="module")
def within_runs():
    return [_cell_summary(simulate_replicates(seed=s, **REP_KW)) for s in range(N_SEEDS)]


def test_within_residual_sd(within_runs):
    cells = pd.concat(within_runs)
    df_tot = (cells["n"] - 1).sum()
    var_hat = ((cells["n"] - 1) * cells["var"]).sum() / df_tot
    sigma2 = REP_KW["residual_sd"] ** 2
    # A pooled variance with df degrees of freedom has SE sigma^2 * sqrt(2 / df).
    _within(var_hat, sigma2, sigma2 * math.sqrt(2 / df_tot), "residual variance")


def test_within_replicate_sd_from_replicate_means(within_runs):
    sigma2, tau2 = REP_KW["residual_sd"] ** 2, REP_KW["replicate_sd"] ** 2
    est, var_terms = [], []
    for cells in within_runs:
        ctrl = cells[cells["treatment"] == "control"].copy()
        ctrl["sum"] = ctrl["n"] * (ctrl["mean"] - ctrl["fixed"])
        by_rep = ctrl.groupby("replicate", observed=True)[["sum", "n"]].sum()
        m = by_rep["sum"] / by_rep["n"]  # = b0 + mean error, with known mean 0
        noise = sigma2 / by_rep["n"]
        est.extend(m**2 - noise)  # E[m^2] = tau2 + noise: remove the residual contribution
        var_terms.extend(2 * (tau2 + noise) ** 2)  # Var(m^2) = 2 Var(m)^2 for a normal m
    n = len(est)
    _within(np.mean(est), tau2, math.sqrt(np.sum(var_terms)) / n, "replicate variance")


def test_within_replicate_treatment_sd_and_effects(within_runs):
    sigma2, w2 = REP_KW["residual_sd"] ** 2, REP_KW["replicate_treatment_sd"] ** 2
    te = REP_KW["treatment_effects"]
    est, var_terms = [], []
    diffs = {g: [] for g in te}
    diff_vars = {g: [] for g in te}
    for cells in within_runs:
        wide = cells.pivot_table(index=["replicate", "gene"], columns="treatment",
                                 values=["mean", "n"], observed=True)
        delta = wide["mean"]["drug"] - wide["mean"]["control"]
        noise = sigma2 * (1 / wide["n"]["drug"] + 1 / wide["n"]["control"])
        for g in te:
            dg = delta.xs(g, level="gene")
            diffs[g].extend(dg)
            diff_vars[g].extend(w2 + noise.xs(g, level="gene"))
        centred = delta - np.array([te[g] for g in delta.index.get_level_values("gene")])
        d_r = centred.groupby(level="replicate", observed=True).mean()  # b_treat + noise
        noise_r = noise.groupby(level="replicate", observed=True).sum() / len(te) ** 2
        est.extend(d_r**2 - noise_r)
        var_terms.extend(2 * (w2 + noise_r) ** 2)
    _within(np.mean(est), w2, math.sqrt(np.sum(var_terms)) / len(est), "replicate x drug variance")
    for g in te:
        n = len(diffs[g])
        _within(np.mean(diffs[g]), te[g], math.sqrt(np.sum(diff_vars[g])) / n, f"drug effect {g}")


def test_within_cell_means_match_truth(within_runs):
    sigma2, tau2, w2 = (REP_KW[k] ** 2 for k in ("residual_sd", "replicate_sd", "replicate_treatment_sd"))
    cells = pd.concat(within_runs)
    for (gene, trt), sub in cells.groupby(["gene", "treatment"], observed=True):
        # Each replicate cell mean = fixed + b0 + drug*b_treat + mean error.
        var = tau2 + (trt == "drug") * w2 + sigma2 / sub["n"]
        se = math.sqrt(var.sum()) / len(sub)
        _within(sub["mean"].mean(), sub["fixed"].iloc[0], se, f"mean log length {gene}/{trt}")


def test_realised_replicate_effects_are_in_the_data(within_runs):
    sigma2 = REP_KW["residual_sd"] ** 2
    z0 = []
    for cells in within_runs:
        r = cells["mean"] - cells["fixed"] - cells["b0"] - cells["drug"] * cells["b_treat"]
        z = r / np.sqrt(sigma2 / cells["n"])  # standard normal if the truth is the data's truth
        z0.extend(z)
    z0 = np.asarray(z0)
    n = z0.size
    _within(z0.mean(), 0.0, 1 / math.sqrt(n), "mean standardised cell residual")
    _within(z0.var(), 1.0, math.sqrt(2 / n), "variance of standardised cell residuals")


def test_truth_cell_means_follow_formula():
    df = simulate_replicates(genes=("C", "A", "Q"), baseline=3.0,
                             gene_effects={"C": 0.5, "A": 0.0, "Q": -0.2},
                             treatment_effects=0.1, seed=3)
    t = truth(df)
    cm = t.cell_means
    expected = [3.0 + {"C": 0.5, "A": 0.0, "Q": -0.2}[g] + 0.1 * (tr == "drug")
                for g, tr in zip(cm["gene"], cm["treatment"])]
    np.testing.assert_allclose(cm["mean_log"], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cm["median_length"], np.exp(expected), rtol=1e-12)
    assert t.treatment_effects == {"C": 0.1, "A": 0.1, "Q": 0.1}
    # Treatment-coded coefficients must rebuild every cell mean (reference = first level).
    c = t.coefficients
    for g, tr, mu in zip(cm["gene"], cm["treatment"], cm["mean_log"]):
        rebuilt = c["Intercept"] + c.get(f"gene[T.{g}]", 0.0)
        if tr == "drug":
            rebuilt += c["treatment[T.drug]"] + c.get(f"treatment[T.drug]:gene[T.{g}]", 0.0)
        assert rebuilt == pytest.approx(mu, abs=1e-12)
    assert list(c.index)[:2] == ["Intercept", "treatment[T.drug]"]


def test_default_truth_and_percent_change():
    t = truth(simulate_replicates(n_replicates=2, obs_per_replicate=4))
    assert t.gene_effects == {"A": 0.0, "B": 0.13, "C": -0.07}
    assert t.treatment_effects == {"A": 0.22, "B": 0.09, "C": 0.0}
    pc = t.percent_change
    assert pc["C"] == 0.0
    assert pc["A"] == pytest.approx(100 * (math.exp(0.22) - 1))
    assert t.coefficients["treatment[T.drug]:gene[T.B]"] == pytest.approx(0.09 - 0.22)
    assert isinstance(t, ReplicatesTruth)


def test_residual_part_is_exact_in_one_data_set():
    """log(length) minus the realised structure is pure error with the stated SD."""
    df = simulate_replicates(replicate_treatment_sd=0.1, seed=11)
    t = truth(df)
    fixed = t.cell_means.set_index(["gene", "treatment"])["mean_log"]
    re = t.replicate_effects.set_index("replicate")
    drug = (df["treatment"] == "drug").to_numpy()
    rep = df["replicate"].astype(str)
    mu = (fixed.loc[list(zip(df["gene"], df["treatment"]))].to_numpy()
          + re.loc[rep, "b0"].to_numpy() + drug * re.loc[rep, "b_treat"].to_numpy())
    e = np.log(df["length"].to_numpy()) - mu
    n = e.size
    _within(e.mean(), 0.0, 0.5 / math.sqrt(n), "mean error")
    _within(e.var(), 0.25, 0.25 * math.sqrt(2 / n), "error variance")
    # The error must not carry the drug arm (a misplaced effect would show up here).
    _within(e[drug].mean() - e[~drug].mean(), 0.0, 0.5 * math.sqrt(1 / drug.sum() + 1 / (~drug).sum()),
            "error difference drug - control")


# --------------------------------------------------------------------------------------
# simulate_replicates: between design
# --------------------------------------------------------------------------------------

def test_between_design_arms_and_effects():
    kw = dict(n_replicates=6, obs_per_replicate=30, design="between", replicate_sd=0.2,
              replicate_treatment_sd=0.1, residual_sd=0.5)
    te = {"A": 0.22, "B": 0.09, "C": 0.0}
    est = {g: [] for g in te}
    for s in range(N_SEEDS):
        df = simulate_replicates(seed=s, **kw)
        if s == 0:
            arms = df.groupby("replicate", observed=True)["treatment"].agg(lambda x: set(x))
            assert [a for (a,) in arms] == ["control", "drug"] * 3
            assert truth(df).replicate_effects["arm"].tolist() == ["control", "drug"] * 3
            assert (df.groupby(["replicate", "gene"], observed=True).size() == 30).all()
        m = (np.log(df["length"]).groupby([df["gene"], df["treatment"]], observed=True).mean())
        for g in te:
            est[g].append(m[(g, "drug")] - m[(g, "control")])
    # Difference of 3 drug vs 3 control replicate means (equal sizes, so plain means):
    # Var = (sd0^2 + sd_treat^2)/3 + sd0^2/3 + 2 * residual^2 / (3 * 30).
    var = (0.04 + 0.01) / 3 + 0.04 / 3 + 2 * 0.25 / 90
    for g in te:
        _within(np.mean(est[g]), te[g], math.sqrt(var / N_SEEDS), f"between-design drug effect {g}")


# --------------------------------------------------------------------------------------
# simulate_replicates: structure
# --------------------------------------------------------------------------------------

def test_default_replicates_structure():
    df = simulate_replicates()
    assert df.shape == (22500, 4)
    assert list(df.columns) == ["replicate", "gene", "treatment", "length"]
    assert list(df["replicate"].cat.categories) == ["R1", "R2", "R3", "R4"]
    assert list(df["gene"].cat.categories) == ["A", "B", "C"]
    assert list(df["treatment"].cat.categories) == ["control", "drug"]
    sizes = df.groupby(["replicate", "gene", "treatment"], observed=True).size()
    assert sizes[("R1", "A", "control")] == 500 and sizes[("R4", "C", "drug")] == 1750
    assert (df.groupby("gene", observed=True).size() == 7500).all()
    assert (df["length"] > 0).all() and np.isfinite(df["length"]).all()
    t = truth(df)
    assert t.n_obs == len(df) and t.obs_per_replicate == (1000, 1200, 1800, 3500)
    assert t.replicate_effects["n_obs"].tolist() == [3000, 3600, 5400, 10500]
    # Sorted by replicate, gene, treatment.
    codes = np.column_stack([df[c].cat.codes for c in ("replicate", "gene", "treatment")])
    assert (np.lexsort(codes[:, ::-1].T) == np.arange(len(df))).all()


def test_odd_count_goes_to_drug_and_defaults_for_other_n():
    df = simulate_replicates(n_replicates=2, obs_per_replicate=(3, 5), genes=("A",))
    sizes = df.groupby(["replicate", "treatment"], observed=True).size().tolist()
    assert sizes == [1, 2, 2, 3]
    t = truth(simulate_replicates(n_replicates=6, obs_per_replicate=None))
    assert t.obs_per_replicate == (1000, 1800, 2600, 3400, 4200, 5000)
    t = truth(simulate_replicates(n_replicates=3, obs_per_replicate=7))
    assert t.obs_per_replicate == (7, 7, 7)


def test_level_order_many_replicates_and_custom_genes():
    df = simulate_replicates(genes=("C", "A", "B"), n_replicates=12, obs_per_replicate=2,
                             gene_effects={"A": 0, "B": 0, "C": 0})
    assert list(df["replicate"].cat.categories) == [f"R{i}" for i in range(1, 13)]
    assert list(df["gene"].cat.categories) == ["C", "A", "B"]
    assert df["gene"].iloc[0] == "C"
    # Genes without a default get no effect.
    t = truth(simulate_replicates(genes=("A", "X"), n_replicates=2, obs_per_replicate=2))
    assert t.gene_effects == {"A": 0.0, "X": 0.0} and t.treatment_effects == {"A": 0.22, "X": 0.0}


def test_replicates_reproducible_and_seed_sensitive():
    a = simulate_replicates(n_replicates=3, obs_per_replicate=50, seed=5)
    b = simulate_replicates(n_replicates=3, obs_per_replicate=50, seed=5)
    c = simulate_replicates(n_replicates=3, obs_per_replicate=50, seed=6)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(truth(a).replicate_effects, truth(b).replicate_effects)
    assert not np.allclose(a["length"], c["length"])


def test_changing_an_sd_rescales_the_same_draws():
    kw = dict(n_replicates=3, obs_per_replicate=40, replicate_sd=0.0, replicate_treatment_sd=0.0, seed=9)
    y1 = np.log(simulate_replicates(residual_sd=0.5, **kw)["length"])
    y2 = np.log(simulate_replicates(residual_sd=1.0, **kw)["length"])
    t = truth(simulate_replicates(residual_sd=0.5, **kw))
    fixed = t.cell_means["mean_log"].to_numpy()
    # Both minus the same fixed part: the error of the second is exactly twice the first.
    df = simulate_replicates(residual_sd=0.5, **kw)
    f = fixed[df["gene"].cat.codes.to_numpy() * 2 + df["treatment"].cat.codes.to_numpy()]
    np.testing.assert_allclose(y2 - f, 2 * (y1 - f), rtol=1e-9, atol=1e-9)


def test_zero_sds_give_cell_means_exactly():
    df = simulate_replicates(n_replicates=2, obs_per_replicate=4, replicate_sd=0, replicate_treatment_sd=0, residual_sd=0)
    t = truth(df)
    means = t.cell_means.set_index(["gene", "treatment"])["median_length"]
    np.testing.assert_allclose(df["length"], means.loc[list(zip(df["gene"], df["treatment"]))], rtol=1e-12)


def test_truth_helper_errors():
    with pytest.raises(ValueError, match="df"):
        truth(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="df"):
        truth([1, 2])


REPLICATE_BAD = [
    ({"genes": "ABC"}, "genes"),
    ({"genes": ()}, "genes"),
    ({"genes": ("A", "A")}, "genes"),
    ({"genes": ("A", "")}, "genes"),
    ({"n_replicates": 1}, "n_replicates"),
    ({"n_replicates": 2.5}, "n_replicates"),
    ({"n_replicates": True}, "n_replicates"),
    ({"obs_per_replicate": 0}, "obs_per_replicate"),
    ({"obs_per_replicate": 1}, "obs_per_replicate"),  # within needs one per arm
    ({"obs_per_replicate": (10, 10, 10)}, "obs_per_replicate"),
    ({"obs_per_replicate": (10, 10, 10, -1)}, "obs_per_replicate"),
    ({"obs_per_replicate": (10, 10, 10, 2.5)}, "obs_per_replicate"),
    ({"obs_per_replicate": "many"}, "obs_per_replicate"),
    ({"design": "crossed"}, "design"),
    ({"design": "between", "obs_per_replicate": 0}, "obs_per_replicate"),
    ({"baseline": float("nan")}, "baseline"),
    ({"baseline": "4.3"}, "baseline"),
    ({"gene_effects": {"A": 0.0, "B": 0.1}}, "gene_effects"),
    ({"gene_effects": {"A": 0.0, "B": 0.1, "C": 0.0, "D": 1.0}}, "gene_effects"),
    ({"gene_effects": 0.1}, "gene_effects"),
    ({"gene_effects": {"A": 0.0, "B": "x", "C": 0.0}}, "gene_effects"),
    ({"treatment_effects": {"A": 0.2}}, "treatment_effects"),
    ({"treatment_effects": float("inf")}, "treatment_effects"),
    ({"treatment_effects": [0.1, 0.2, 0.3]}, "treatment_effects"),
    ({"replicate_sd": -0.1}, "replicate_sd"),
    ({"replicate_treatment_sd": -1}, "replicate_treatment_sd"),
    ({"residual_sd": -0.5}, "residual_sd"),
    ({"residual_sd": float("nan")}, "residual_sd"),
    ({"seed": -1}, "seed"),
    ({"seed": "abc"}, "seed"),
]


@pytest.mark.parametrize("kwargs, name", REPLICATE_BAD, ids=[f"{n}-{i}" for i, (_, n) in enumerate(REPLICATE_BAD)])
def test_replicates_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        simulate_replicates(**kwargs)


# --------------------------------------------------------------------------------------
# simulate_expression: statistics
# --------------------------------------------------------------------------------------

def _sample_design(df):
    """Per-sample frame: mean of values, scaled week, CSB indicator."""
    g = df.groupby("sample", observed=True)
    out = pd.DataFrame({"mean": g["values"].mean(), "week": g["week"].first(),
                        "csb": (g["genotype"].first() == truth(df).genotypes[1]).astype(float)})
    out["X"] = list(np.column_stack([np.ones(len(out)), out["week"], out["csb"], out["week"] * out["csb"]]))
    return out


@pytest.mark.parametrize("sample_sd", [0.0, 0.02, 0.1])
def test_expression_sample_sd_from_sample_means(sample_sd):
    n_ps, n_seeds, sigma = 200, 100, 0.217
    est, var_terms = [], []
    for s in range(n_seeds):
        df = simulate_expression(n_probesets=n_ps, sample_sd=sample_sd, seed=s)
        t = truth(df)
        per = _sample_design(df)
        fe = t.fixed_effects
        fixed = (fe["Intercept"] + fe["week"] * per["week"] + fe["genotype"] * per["csb"]
                 + fe["week:genotype"] * per["week"] * per["csb"])
        r = per["mean"] - fixed  # = mean(u0) + mean(u1)*week + s + mean(e)
        A = np.column_stack([np.ones(len(r)), per["week"]])
        resid = r - A @ np.linalg.lstsq(A, r, rcond=None)[0]  # removes the probeset averages
        dof = len(r) - 2
        expected = sample_sd**2 + sigma**2 / n_ps
        est.append(resid @ resid / dof - sigma**2 / n_ps)
        var_terms.append(2 * expected**2 / dof)  # a variance with dof degrees of freedom
    _within(np.mean(est), sample_sd**2, math.sqrt(np.sum(var_terms)) / n_seeds, "sample variance")


def test_expression_fixed_effects_from_sample_means():
    fe = {"Intercept": 5.0, "week": 0.3, "genotype": -0.5, "week:genotype": 0.2}
    n_ps, n_seeds = 200, 100
    sd0, sd1, ss, sigma = 2.27, 0.071, 0.05, 0.217
    coefs, var_terms = [], []
    for s in range(n_seeds):
        df = simulate_expression(n_probesets=n_ps, fixed_effects=fe, sample_sd=ss, seed=s)
        per = _sample_design(df)
        X = np.vstack(per["X"])
        coefs.append(np.linalg.lstsq(X, per["mean"].to_numpy(), rcond=None)[0])
        C = np.linalg.inv(X.T @ X)
        # Mean over probesets of u0 shifts only the intercept, of u1 only the week slope.
        var_terms.append((ss**2 + sigma**2 / n_ps) * np.diag(C) + np.array([sd0**2, sd1**2, 0, 0]) / n_ps)
    mean, se = np.mean(coefs, axis=0), np.sqrt(np.sum(var_terms, axis=0)) / n_seeds
    for k, name in enumerate(["Intercept", "week", "genotype", "week:genotype"]):
        _within(mean[k], fe[name], se[k], f"fixed effect {name}")


@pytest.fixture(scope="module")
def probeset_fit():
    df = simulate_expression(n_probesets=8000, seed=21)
    t = truth(df)
    wide = df.pivot(index="sample", columns="probeset", values="values")
    per = _sample_design(df).loc[wide.index]
    X = np.vstack(per["X"])
    B = np.linalg.lstsq(X, wide.to_numpy(), rcond=None)[0]  # 4 x probesets
    return t, B, np.linalg.inv(X.T @ X)


def test_expression_probeset_slopes_recover_sd_and_corr(probeset_fit):
    t, B, C = probeset_fit
    P, s2 = B.shape[1], t.residual_sd**2
    sd0, sd1, rho = t.probeset_sd, t.probeset_week_sd, t.probeset_corr
    # Per-probeset OLS: coefficient = fixed + shared sample part + u + error part with
    # covariance sigma^2 * (X'X)^-1; only u and the error part vary between probesets.
    a, b = sd0**2 + s2 * C[0, 0], sd1**2 + s2 * C[1, 1]
    c = rho * sd0 * sd1 + s2 * C[0, 1]
    v0, v1 = np.var(B[0], ddof=1), np.var(B[1], ddof=1)
    cov = np.cov(B[0], B[1])[0, 1]
    # SE of a sample variance: v*sqrt(2/(P-1)); of a sample covariance: sqrt((ab+c^2)/(P-1)).
    _within(v0 - s2 * C[0, 0], sd0**2, a * math.sqrt(2 / (P - 1)), "probeset intercept variance")
    _within(v1 - s2 * C[1, 1], sd1**2, b * math.sqrt(2 / (P - 1)), "probeset slope variance")
    _within(cov - s2 * C[0, 1], rho * sd0 * sd1, math.sqrt((a * b + c**2) / (P - 1)),
            "probeset intercept-slope covariance")
    corr = (cov - s2 * C[0, 1]) / math.sqrt((v0 - s2 * C[0, 0]) * (v1 - s2 * C[1, 1]))
    # Delta method for cov / sqrt(v0 v1), bounding the unknown cross terms by Cauchy-Schwarz
    # (the SD of a sum is at most the sum of the SDs).
    se_corr = (math.sqrt((a * b + c**2) / (P - 1)) / (sd0 * sd1)
               + abs(rho) / 2 * math.sqrt(2 / (P - 1)) * (a / sd0**2 + b / sd1**2))
    _within(corr, rho, se_corr, "probeset intercept-slope correlation")


def test_expression_realised_effects_are_in_the_data(probeset_fit):
    t, B, C = probeset_fit
    u = t.probeset_effects
    P = B.shape[1]
    assert list(u.columns) == ["Intercept", "week"] and len(u) == P
    # Realised effects follow the parameters: SE(sd) ~ sd/sqrt(2P), SE(r) ~ (1-rho^2)/sqrt(P).
    _within(u["Intercept"].std(), t.probeset_sd, t.probeset_sd / math.sqrt(2 * P), "sd(u0)")
    _within(u["week"].std(), t.probeset_week_sd, t.probeset_week_sd / math.sqrt(2 * P), "sd(u1)")
    _within(u.corr().iloc[0, 1], t.probeset_corr, (1 - t.probeset_corr**2) / math.sqrt(P), "corr(u0,u1)")
    # The OLS slope minus the realised u1 leaves only a shared constant and the error part.
    left = B[1] - u["week"].to_numpy()
    v = t.residual_sd**2 * C[1, 1]
    _within(np.var(left, ddof=1), v, v * math.sqrt(2 / (P - 1)), "slope error variance")


def test_expression_residual_part_is_exact():
    df = simulate_expression(n_probesets=300, sample_sd=0.1, seed=4)
    t = truth(df)
    fe, u = t.fixed_effects, t.probeset_effects
    csb = (df["genotype"] == t.genotypes[1]).to_numpy()
    w = df["week"].to_numpy()
    ps = df["probeset"].astype(str)
    mu = (fe["Intercept"] + fe["week"] * w + fe["genotype"] * csb + fe["week:genotype"] * w * csb
          + u.loc[ps, "Intercept"].to_numpy() + u.loc[ps, "week"].to_numpy() * w
          + t.sample_effects.loc[df["sample"].astype(str)].to_numpy())
    e = df["values"].to_numpy() - mu
    n, sigma = e.size, t.residual_sd
    _within(e.mean(), 0.0, sigma / math.sqrt(n), "mean residual")
    _within(e.var(), sigma**2, sigma**2 * math.sqrt(2 / n), "residual variance")
    # Sample effects are shared by all probesets: per-sample residual means are ~0.
    per = pd.Series(e).groupby(df["sample"].to_numpy()).mean()
    assert (per.abs() < Z * sigma / math.sqrt(300)).all()
    _within(t.sample_effects.std(), 0.1, 0.1 / math.sqrt(2 * t.n_samples), "sd of realised s")


# --------------------------------------------------------------------------------------
# simulate_expression: structure
# --------------------------------------------------------------------------------------

def test_expression_small_structure():
    df = simulate_expression(n_probesets=50, seed=2)
    t = truth(df)
    assert isinstance(t, ExpressionTruth)
    assert list(df.columns) == ["probeset", "sample", "genotype", "weeks", "week", "values"]
    assert t.n_samples == 23 and len(t.dropped) == 7 and t.n_obs == len(df) == 50 * 23
    assert df["sample"].nunique() == 23 and not set(t.dropped) & set(df["sample"].astype(str))
    assert list(df["genotype"].cat.categories) == ["B6", "CSB"]
    assert list(df["probeset"].cat.categories[:2]) == ["ps00001", "ps00002"]
    assert df["weeks"].dtype == np.int64
    # Every week x genotype cell keeps a profile; each sample is one mouse: one week, one genotype.
    cells = df.groupby(["genotype", "weeks"], observed=True)["sample"].nunique()
    assert len(cells) == 10 and cells.min() >= 1 and cells.sum() == 23
    per = df.groupby("sample", observed=True)[["genotype", "weeks", "week"]].nunique()
    assert (per == 1).all().all()
    assert (df.groupby("sample", observed=True).size() == 50).all()
    for lab, g, w in df.groupby("sample", observed=True)[["genotype", "weeks"]].first().itertuples():
        assert lab.startswith(f"{g}_w{w:02d}_r")
    # week: the age scaled over the distinct time points (mean 0, SD 1 with ddof=1).
    pts = df.groupby("weeks")["week"].first()
    assert pts.index.tolist() == [2, 4, 8, 12, 16]
    assert pts.mean() == pytest.approx(0, abs=1e-12) and pts.std(ddof=1) == pytest.approx(1)
    np.testing.assert_allclose(pts, (pts.index - t.week_center) / t.week_scale)
    assert list(t.sample_effects.index) == list(df["sample"].cat.categories)
    assert t.coefficients["week:genotype[T.CSB]"] == DEFAULT_FIXED_EFFECTS["week:genotype"]


def test_expression_dropping_variants():
    t = truth(simulate_expression(n_probesets=3, n_dropped=0))
    assert t.n_samples == 30 and t.dropped == ()
    t = truth(simulate_expression(n_probesets=3, n_replicates=2, n_dropped=10))
    assert t.n_samples == 10  # the maximum: one profile per cell
    # Nested: dropping one more keeps the earlier choices, and kept profiles keep their data.
    a = simulate_expression(n_probesets=20, n_dropped=7, seed=8)
    b = simulate_expression(n_probesets=20, n_dropped=8, seed=8)
    assert set(truth(a).dropped) < set(truth(b).dropped)
    keep = b["sample"].astype(str)
    sub = a[a["sample"].astype(str).isin(set(keep))]["values"].to_numpy()
    np.testing.assert_array_equal(sub, b["values"].to_numpy())


def test_expression_other_designs():
    df = simulate_expression(n_probesets=10, weeks=(20, 5, 10), genotypes=("wt", "ko"),
                             n_replicates=2, n_dropped=1, fixed_effects={"week:genotype": 0.3})
    t = truth(df)
    assert t.weeks == (5, 10, 20) and list(df["genotype"].cat.categories) == ["wt", "ko"]
    assert t.fixed_effects == {**DEFAULT_FIXED_EFFECTS, "week:genotype": 0.3}
    assert t.coefficients["week:genotype[T.ko]"] == 0.3
    assert len(df) == 10 * 11 and df["sample"].cat.categories[0] == "wt_w05_r1"


def test_expression_reproducible_and_seed_sensitive():
    a = simulate_expression(n_probesets=30, seed=1)
    b = simulate_expression(n_probesets=30, seed=1)
    c = simulate_expression(n_probesets=30, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert truth(a).dropped == truth(b).dropped
    pd.testing.assert_series_equal(truth(a).sample_effects, truth(b).sample_effects)
    assert not np.allclose(a["values"], c["values"])


def test_full_default_size_once():
    df = simulate_expression()
    t = truth(df)
    assert df.shape == (414345, 6) and t.n_obs == 414345
    assert t.n_samples == 23 and len(t.dropped) == 7
    assert df["probeset"].cat.categories.size == 18015 and df["probeset"].cat.categories[-1] == "ps18015"
    # Integer codes keep the frame small: 2-byte probeset codes, 1-2 byte others.
    assert df["probeset"].cat.codes.dtype.itemsize <= 2
    assert df["sample"].cat.codes.dtype.itemsize <= 2
    assert df["values"].dtype == np.float64
    # The seed-001 scale: total SD of values near sqrt(2.27^2 + ...) ~ 2.28.
    assert 2.0 < df["values"].std() < 2.6


EXPRESSION_BAD = [
    ({"n_probesets": 1}, "n_probesets"),
    ({"n_probesets": 10.0}, "n_probesets"),
    ({"weeks": (2,)}, "weeks"),
    ({"weeks": (2, 2, 4)}, "weeks"),
    ({"weeks": (2, -4)}, "weeks"),
    ({"weeks": (2.5, 4)}, "weeks"),
    ({"weeks": "2,4"}, "weeks"),
    ({"genotypes": ("B6",)}, "genotypes"),
    ({"genotypes": ("B6", "CSB", "X")}, "genotypes"),
    ({"genotypes": ("B6", "B6")}, "genotypes"),
    ({"n_replicates": 0}, "n_replicates"),
    ({"n_dropped": -1}, "n_dropped"),
    ({"n_dropped": 21}, "n_dropped"),
    ({"n_replicates": 1, "n_dropped": 1}, "n_dropped"),
    ({"fixed_effects": {"slope": 1.0}}, "fixed_effects"),
    ({"fixed_effects": {"week": "x"}}, "fixed_effects"),
    ({"fixed_effects": 1.0}, "fixed_effects"),
    ({"probeset_sd": -1}, "probeset_sd"),
    ({"probeset_week_sd": -0.1}, "probeset_week_sd"),
    ({"probeset_corr": 1.5}, "probeset_corr"),
    ({"probeset_corr": float("nan")}, "probeset_corr"),
    ({"sample_sd": -0.02}, "sample_sd"),
    ({"residual_sd": -1}, "residual_sd"),
    ({"seed": -3}, "seed"),
]


@pytest.mark.parametrize("kwargs, name", EXPRESSION_BAD, ids=[f"{n}-{i}" for i, (_, n) in enumerate(EXPRESSION_BAD)])
def test_expression_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        simulate_expression(**{"n_probesets": 5, **kwargs})
