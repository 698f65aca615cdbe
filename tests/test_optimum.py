"""The optimum is never worse than mixedlm's: a randomised battery, and the issue-10 reproducers.

mixedlm (a Rust port of lme4) is an independent optimiser of the same
criterion, so on any data set our (RE)ML log-likelihood must be at least its
value minus 1e-6.  The battery draws designs (random intercept, correlated
and uncorrelated slopes, crossed and nested factors) x REML/ML x covariates
shifted (x + 1000, calendar years) and scaled (x * 1e-6 ... x * 1e12) x
group/residual SD ratios from 1e-3 to 1e5.  Hypothesis runs derandomised, so
the examples are the same on every run.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lmmedu

mixedlm = pytest.importorskip("mixedlm")

DESIGNS = {
    "intercept": "y ~ x + (1|g)",
    "slope": "y ~ x + (x|g)",
    "uncorrelated": "y ~ x + (x||g)",
    "crossed": "y ~ x + (1|g) + (1|h)",
    "nested": "y ~ x + (1|g/h)",
}


def make_data(design, shift, scale, ratio, seed, n_groups=10, per_group=10):
    """y = 0.5 x + group effects (SD ``ratio``) + noise (SD 1), x then shifted and scaled."""
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    g = np.repeat(np.arange(n_groups), per_group)
    h = np.tile(np.arange(per_group) % 4, n_groups) if design == "crossed" else rng.integers(0, 3, n)
    x = rng.normal(size=n)
    y = 0.5 * x + ratio * rng.normal(size=n_groups)[g] + rng.normal(size=n)
    if design in ("slope", "uncorrelated"):
        y = y + 0.5 * ratio * rng.normal(size=n_groups)[g] * x
    if design in ("crossed", "nested"):
        y = y + ratio * rng.normal(size=4)[h % 4] * (0.5 if design == "crossed" else 1.0)
    return pd.DataFrame({"y": y, "x": x * scale + shift, "g": [f"g{i}" for i in g], "h": [f"h{i}" for i in h]})


def mixedlm_loglik(formula, data, reml):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = mixedlm.lmer(formula, data, REML=reml)
        return float(m.logLik().value) if hasattr(m.logLik(), "value") else float(m.logLik())
    except Exception:  # mixedlm failing on an extreme case is not our concern here
        return None


def ours_loglik(formula, data, reml):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lmmedu.fit(formula, data, reml=reml).loglik


@settings(max_examples=36, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(design=st.sampled_from(sorted(DESIGNS)), reml=st.booleans(),
       shift=st.sampled_from([0.0, 1000.0, 2010.0, 1e6]),
       scale=st.sampled_from([1.0, 1e-6, 1e3, 1e12]),
       ratio=st.sampled_from([1e-3, 0.3, 1.0, 30.0, 1e5]),
       seed=st.integers(0, 10_000))
def test_never_worse_than_mixedlm(design, reml, shift, scale, ratio, seed):
    data = make_data(design, shift, scale, ratio, seed)
    formula = DESIGNS[design]
    if design == "uncorrelated" and shift:
        # Shifting x changes this model (the intercept variance is that at x = 0), so only
        # mixedlm's fit of these very data is a reference.
        ref = mixedlm_loglik(formula, data, reml)
    else:
        # Shifting and scaling x leaves every other model the same: the ML optimum is
        # unchanged and the REML one moves by -log(scale) (log det X'V^-1X). mixedlm's own
        # log-likelihood on x + 1e6 is off by up to 3e-4 (rounding), so the reference is
        # its fit of the well-scaled data.
        ref = mixedlm_loglik(formula, make_data(design, 0.0, 1.0, ratio, seed), reml)
        if ref is not None and reml:
            ref -= np.log(scale)
    ours = ours_loglik(formula, data, reml)
    # With effects 1e5 residual SDs, Lambda'Z'Z Lambda + I has a condition number near 1e11,
    # and the reference's deviance is only defined to about 1e-5: mixedlm (as lme4) forms
    # X'V^-1X as X'X - RZX'RZX, which then loses 11 of its 16 digits. (On the slope design,
    # seed 247, mixedlm reports -351.5696598 at its optimum, where the log-likelihood
    # computed without that cancellation is -351.5696757, 1.6e-5 lower, and lmmedu's
    # optimum is higher than that.) There the bound is 1e-4.
    tol = 1e-4 if ratio > 1e3 else 1e-6
    # x stored as shift + scale * z keeps z only to eps * |shift| / scale (1e-4 for x 1e6 +
    # 1e-6 z): lmmedu fits data that differ from the reference's by that much, which moves
    # the log-likelihood by a sum of n residual-weighted terms of random sign, about
    # sqrt(n) * 0.5 * that (seen: 2.2e-4 under Prescott); the bound is ten times that.
    tol = max(tol, 10 * np.sqrt(len(data)) * np.finfo(float).eps * abs(shift) / scale)
    if ref is not None and np.isfinite(ref):
        assert ours >= ref - tol, (design, reml, shift, scale, ratio, seed, ours, ref)


@pytest.mark.parametrize("ratio", [1e5, 3e4, 1e3])
def test_variance_search_not_capped(ratio):
    """Issue 10, item 1: groups differ far more than the noise within them."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 10)
    x = rng.normal(size=100)
    y = 0.5 * x + rng.normal(size=10)[g] + (1.0 / ratio) * rng.normal(size=100)
    d = pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})
    m = lmmedu.fit("y ~ x + (1|g)", d)
    means = d.groupby("g")["y"].mean()
    group_sd = m.varcomp.iloc[0]["sd"]
    # The group SD is about the SD of the group means, not capped at theta = 1e4.
    assert group_sd == pytest.approx(means.std(), rel=0.1)
    assert m.theta[0] > 0.5 * ratio
    # The intercept's SE is that of a mean of 10 group means, with about 9 df.
    assert m.coefs.loc["Intercept", "se"] == pytest.approx(means.std() / np.sqrt(10), rel=0.1)
    assert m.coefs.loc["Intercept", "df"] == pytest.approx(9, abs=0.5)
    ref = mixedlm_loglik("y ~ x + (1|g)", d, True)
    assert m.loglik >= ref - 1e-6
    assert m.converged


@pytest.mark.parametrize("transform", ["plus1000", "years", "times1e12", "sd_ratio_1e5"])
@pytest.mark.parametrize("reml", [True, False])
def test_badly_scaled_random_slopes(transform, reml):
    """Issue 10, item 4: shifted or scaled covariates in (x|g) reach the same optimum, on the user's scale."""
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(12), 12)
    x = np.tile(np.arange(12.0), 12) if transform == "years" else rng.normal(size=144)
    b0, b1 = rng.normal(size=12), 0.3 * rng.normal(size=12)
    noise = 1e-5 if transform == "sd_ratio_1e5" else 1.0
    y = 1 + 0.5 * x + b0[g] + b1[g] * (x - x.mean()) + noise * rng.normal(size=144)
    shift, factor = {"plus1000": (1000.0, 1.0), "years": (2000.0, 1.0), "times1e12": (0.0, 1e12),
                     "sd_ratio_1e5": (0.0, 1.0)}[transform]
    base = pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})
    moved = base.assign(x=x * factor + shift)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning either
        ref = lmmedu.fit("y ~ x + (x|g)", base, reml=reml)
        m = lmmedu.fit("y ~ x + (x|g)", moved, reml=reml)
    # ML is invariant to shifting and scaling x; REML moves by -log(factor) (log det X'V^-1X).
    assert m.loglik == pytest.approx(ref.loglik - (np.log(factor) if reml else 0.0), abs=1e-6)
    peer = mixedlm_loglik("y ~ x + (x|g)", moved, reml)
    if shift == 0.0 and factor == 1.0 and peer is not None:
        # At a group/residual SD ratio of 1e5 the reference's own deviance is good to ~1e-5 only
        # (see test_never_worse_than_mixedlm); under the Prescott kernel it ends 1.5e-6 above.
        assert m.loglik >= peer - (1e-4 if transform == "sd_ratio_1e5" else 1e-6)
    # Reported on the user's scale.
    assert m.coefs.loc["x", "estimate"] == pytest.approx(ref.coefs.loc["x", "estimate"] / factor, rel=1e-5)
    assert m.coefs.loc["x", "se"] == pytest.approx(ref.coefs.loc["x", "se"] / factor, rel=1e-4)
    assert m.coefs.loc["x", "df"] == pytest.approx(ref.coefs.loc["x", "df"], rel=1e-2)
    vc, vr = m.varcomp.set_index(["group", "term"]), ref.varcomp.set_index(["group", "term"])
    assert vc.loc[("g", "x"), "sd"] == pytest.approx(vr.loc[("g", "x"), "sd"] / factor, rel=1e-3)
    assert m.sigma == pytest.approx(ref.sigma, rel=1e-4)
    np.testing.assert_allclose(m.ranef["g"]["x"], ref.ranef["g"]["x"] / factor, rtol=1e-3,
                               atol=1e-3 * np.abs(ref.ranef["g"]["x"]).max() / factor)


def factor_slope_data(seed, groups=30, levels=7, reps=3):
    """A 7-level factor as a random slope, (f|g): 28 variance parameters, correlated level effects per group."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), levels * reps)
    f = np.tile(np.repeat(np.arange(levels), reps), groups)
    L = rng.normal(size=(levels, levels)) * 0.3
    b = rng.normal(size=(groups, levels)) @ L.T
    y = 0.2 * f + b[g, f] + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "f": [f"f{i}" for i in f], "g": [f"g{i:02d}" for i in g]})


@pytest.mark.parametrize("seed", [7, 8])
def test_many_variance_parameters_reach_the_optimum_or_say_so(seed):
    # More than MANY_PARAMETERS: the gradient-based search. Seed 7 reaches mixedlm's optimum.
    # On seed 8 (a singular fit) the first search stops where lme4 does, on a face of the bounds
    # 0.007 below mixedlm's optimum in log-likelihood (whether the gradient check then warned
    # depended on the BLAS kernel); the second search from that face reaches mixedlm's.
    # 1e-6 is far above either optimiser's stopping precision and far below that 0.007. Should
    # lmmedu still end below the peer, it must say that it may not have reached the optimum.
    from lmmedu.stats.optimize import MANY_PARAMETERS

    d = factor_slope_data(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = lmmedu.fit("y ~ f + (f|g)", d)
        peer = mixedlm.lmer("y ~ f + (f|g)", d, REML=True)
    assert ours.problem.n_theta > MANY_PARAMETERS
    ll = peer.logLik()
    peer_ll = float(getattr(ll, "value", ll))
    if ours.loglik < peer_ll - 1e-6:
        assert not ours.converged
        assert any("optimum" in str(w.message) for w in caught)
    assert ours.converged and ours.loglik >= peer_ll - 1e-6
