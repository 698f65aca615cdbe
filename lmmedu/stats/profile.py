"""Likelihood profiles of a mixed model's parameters, and the intervals read from them.

As lme4's ``profile()``: each parameter in turn (every random-effect SD and correlation,
the residual SD and every fixed effect) is held at a value while all the others are
re-optimised, and ``zeta = sign(value - estimate) * sqrt(deviance(value) - deviance(estimate))``
is the signed square root of the deviance lost.  A 95% interval is where zeta crosses
+/-1.96.  Like lme4 the profile uses the maximum-likelihood deviance (a REML fit is
profiled at its ML refit).

lme4 traces each profile on a grid and reads the interval off a spline, which fails when
the traced profile is not monotonic; here the crossing is found by root finding on zeta
itself: step outwards from the estimate until |zeta| passes the target, then bisect
(Brent) on the bracket.  A step that *lowers* |zeta| is recorded (the profile is not
monotonic there) and the search simply continues to the first crossing beyond it.

A fixed effect needs no refit per value: for given variance parameters the penalised
residual sum of squares is quadratic in beta, so holding beta_j at b adds
``(b - beta_j(theta))^2 / V_jj(theta)`` to it (V the unscaled covariance of beta), and only
theta is optimised.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import scipy.optimize
import scipy.stats

from .engine import optimize_theta, single_threaded_blas
from .results import is_fit, is_mixed
from .sdcor import VarPar, ml_deviance

__all__ = ["Profiler", "profile", "profile_notes", "check_level", "check_mixed"]

_LOG2PI = np.log(2 * np.pi)


def check_mixed(fit, what):
    """Refuse anything but a mixed-model fit, in one sentence."""
    if is_fit(fit) and not is_mixed(fit):
        raise ValueError(f"{what} needs a mixed model with random effects; this is an lm fit, whose intervals "
                         "are the t intervals in fit.coefs (ci_low, ci_high).")
    if not is_mixed(fit):
        raise ValueError(f"{what} needs a fit made by lmmedu.fit, not {type(fit).__name__}.")


def check_level(level):
    """Refuse a confidence level outside (0, 1)."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise ValueError(f"level must be a probability between 0 and 1, such as 0.95, not {level!r}.")
    return float(level)


def _minimise(f, x0, lower, upper, scale):
    """BOBYQA (nlopt) on coordinates scaled by ``scale``; returns (x, f(x))."""
    import nlopt

    k = len(x0)
    if k == 0:
        return x0, f(x0)
    best = {"x": np.asarray(x0, float), "f": np.inf}

    def objective(z, grad):
        x = z * scale
        val = f(x)
        if val < best["f"]:
            best["f"], best["x"] = val, x
        return val if math.isfinite(val) else 1e300

    opt = nlopt.opt(nlopt.LN_BOBYQA, k)
    opt.set_lower_bounds(lower / scale)
    opt.set_upper_bounds(upper / scale)
    opt.set_min_objective(objective)
    opt.set_ftol_abs(1e-10)
    opt.set_xtol_abs(1e-9)
    opt.set_initial_step(np.full(k, 0.05))
    opt.set_maxeval(200 * (k + 1) ** 2)
    z0 = np.clip(np.asarray(x0, float), lower, upper) / scale
    try:
        opt.optimize(z0)
    except (nlopt.RoundoffLimited, RuntimeError, ValueError):
        pass
    return best["x"], best["f"]


class Profiler:
    """Profiles of one fit's parameters, computed on demand.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit

    Attributes
    ----------
    names : list of str
        Random-part names (see :mod:`lmmedu.stats.sdcor`), then the fixed effects.
    estimate_ml : pandas.Series
        The maximum-likelihood estimates the profiles are centred on.
    points : dict of str -> list of (value, zeta)
        Every point evaluated so far.
    nonmonotonic : set of str
        Parameters whose traced |zeta| fell somewhere while moving away from the estimate.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> pr = Profiler(m)
    >>> lo, hi, _ = pr.interval("sigma", 0.95)
    >>> bool(lo < pr.estimate_ml["sigma"] < hi)
    True
    """

    def __init__(self, fit):
        check_mixed(fit, "A profile")
        self.fit = fit
        prob = fit.problem
        if fit.reml:
            ml = copy.copy(prob)
            ml.reml = False  # the criterion only; every cross-product is the same
        else:
            ml = prob
        self.ml = ml
        with single_threaded_blas():
            opt = optimize_theta(ml, start=fit.opt.x) if fit.reml else fit.opt
            sol = ml.solve(opt.x)
        self.theta_hat = np.asarray(opt.x, float)
        self.sigma_hat = ml.sigma(sol)
        self.dev_min = ml_deviance(ml, self.theta_hat, self.sigma_hat)
        self.vp = VarPar(ml, fit.blocks)
        self.phi_hat = self.vp.from_theta(self.theta_hat, self.sigma_hat)
        self.beta_hat = np.asarray(sol.beta, float)
        self.se_beta = np.sqrt(np.diag(sol.vcov_unscaled)) * self.sigma_hat
        self.n_random = len(self.vp.names)
        self.names = list(self.vp.names) + list(fit.names)
        self.kind = np.concatenate([self.vp.kind, np.full(len(fit.names), "fixed")])
        self.estimate_ml = pd.Series(np.concatenate([self.phi_hat, self.beta_hat]), index=self.names)
        self.points = {name: [] for name in self.names}
        self._starts = {name: [] for name in self.names}
        self.nonmonotonic = set()
        self.better_found = False
        self._phi_scale = np.where(self.vp.kind == "cor", 1.0,
                                   np.maximum(np.abs(self.phi_hat), 0.05 * self.sigma_hat))
        self._theta_scale = np.maximum(np.abs(self.theta_hat), 0.05)

    # ------------------------------------------------------------------
    def _nearest_start(self, name, value, default):
        starts = self._starts[name]
        if not starts:
            return default
        vals = np.array([v for v, _ in starts])
        return starts[int(np.argmin(np.abs(vals - value)))][1]

    def deviance_at(self, name, value):
        """The ML deviance with parameter ``name`` held at ``value`` and all others optimised."""
        k = self.names.index(name)
        if k < self.n_random:
            free = np.arange(self.n_random) != k
            x0 = self._nearest_start(name, value, self.phi_hat[free])
            lower, upper = self.vp.lower_bounds()[free], self.vp.upper_bounds()[free]
            lower = np.where(self.vp.kind[free] == "sigma", 1e-8 * self.sigma_hat, lower)
            phi = self.phi_hat.copy()
            phi[k] = value

            def f(x):
                phi[free] = x
                theta = self.vp.to_theta(phi)
                if theta is None:
                    return np.inf
                return ml_deviance(self.ml, theta, phi[-1])

            x, dev = _minimise(f, x0, lower, upper, self._phi_scale[free])
        else:
            j = k - self.n_random
            x0 = self._nearest_start(name, value, self.theta_hat)
            lower = np.where(np.isfinite(self.ml.lower), 0.0, -np.inf)
            n = self.ml.n

            def f(theta):
                try:
                    s = self.ml.solve(theta)
                    r2 = s.r2 + (value - s.beta[j]) ** 2 / s.vcov_unscaled[j, j]
                except np.linalg.LinAlgError:
                    return np.inf
                return float(s.logdet_L + n * (1.0 + _LOG2PI + np.log(r2 / n)))

            x, dev = _minimise(f, x0, lower, np.full(len(x0), np.inf), self._theta_scale)
        self._starts[name].append((value, np.array(x, float)))
        return dev

    def zeta(self, name, value):
        """Signed square root of the deviance lost by holding ``name`` at ``value``."""
        with single_threaded_blas():
            dev = self.deviance_at(name, value)
        gap = dev - self.dev_min
        if gap < -1e-6:
            self.better_found = True  # the ML optimum was not the optimum; zeta is then clipped at 0
        est = self.estimate_ml[name]
        z = math.copysign(math.sqrt(max(gap, 0.0)), value - est) if value != est else 0.0
        if not math.isfinite(dev):
            z = math.copysign(np.inf, value - est)
        self.points[name].append((float(value), float(z)))
        return z

    def _step(self, name):
        k = self.names.index(name)
        kind = self.kind[k]
        est = self.estimate_ml[name]
        if kind == "sd":
            return 0.3 * est if est > 1e-8 * self.sigma_hat else 0.1 * self.sigma_hat
        if kind == "cor":
            return 0.2
        if kind == "sigma":
            return est / math.sqrt(2.0 * self.ml.n)
        return self.se_beta[k - self.n_random]

    def _limits(self, name):
        kind = self.kind[self.names.index(name)]
        if kind == "sd":
            return 0.0, np.inf
        if kind == "cor":
            return -1.0, 1.0
        if kind == "sigma":
            return 1e-8 * self.sigma_hat, np.inf
        return -np.inf, np.inf

    def bound(self, name, direction, z):
        """Where zeta of ``name`` reaches ``direction * z`` (direction -1 or +1).

        Returns (value, at_limit): ``at_limit`` when the parameter's own limit (an SD of 0,
        a correlation of +/-1) is reached before |zeta| reaches ``z``; the limit is then the bound.
        """
        est = self.estimate_ml[name]
        lo, hi = self._limits(name)
        limit = lo if direction < 0 else hi
        if est == limit:
            return float(limit), True
        h = self._step(name)
        prev_v, prev_z = est, 0.0
        for it in range(80):
            v = est + direction * h * 2.0 ** it
            if (v - limit) * direction >= 0:
                v = limit
            zv = self.zeta(name, v)
            if abs(zv) < abs(prev_z) - 1e-7:
                self.nonmonotonic.add(name)
            if abs(zv) >= z:
                def g(x):
                    return abs(self.zeta(name, x)) - z

                root = scipy.optimize.brentq(g, prev_v, v, xtol=1e-7 * h, rtol=1e-10, maxiter=100)
                return float(root), False
            if v == limit:
                return float(limit), True
            prev_v, prev_z = v, zv
        return np.nan, False

    def interval(self, name, level):
        """(lower, upper, set of flags) of the profile interval at ``level``."""
        z = float(scipy.stats.norm.ppf(0.5 + level / 2.0))
        lower, lo_lim = self.bound(name, -1, z)
        upper, hi_lim = self.bound(name, +1, z)
        flags = set()
        if lo_lim:
            flags.add("lower at limit")
        if hi_lim:
            flags.add("upper at limit")
        return lower, upper, flags

    def table(self):
        """Every evaluated point as a tidy DataFrame: ``parameter``, ``value``, ``zeta``."""
        rows = []
        for name in self.names:
            rows.append((name, float(self.estimate_ml[name]), 0.0))
            rows.extend((name, v, z) for v, z in self.points[name])
        out = pd.DataFrame(rows, columns=["parameter", "value", "zeta"]).drop_duplicates(["parameter", "value"])
        order = {n: i for i, n in enumerate(self.names)}
        out = out.assign(_o=out["parameter"].map(order)).sort_values(["_o", "value"]).drop(columns="_o")
        return out.reset_index(drop=True)


def profile(fit, level=0.99, n_points=6, which=None):
    """The likelihood profile of every parameter, for plotting: one row per evaluated point.

    Each parameter is held at a series of values while all others are re-optimised
    (maximum likelihood, as lme4's ``profile()``); ``zeta`` is the signed square root of the
    deviance lost, so a straight line means a symmetric, Wald-like interval and |zeta| = 1.96
    marks the 95% limits.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit
    level : float, default 0.99
        The profile reaches |zeta| of this level's normal quantile (2.58 for 0.99, lme4's
        ``alphamax = 0.01``) on each side, or the parameter's limit (an SD of 0, a
        correlation of +/-1).
    n_points : int, default 6
        Extra evenly spaced points on each side between the estimate and that limit.
    which : list of str, optional
        Parameter names (as :func:`lmmedu.confint` names them); default all.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter``, ``value``, ``zeta``, sorted by parameter and value;
        ``attrs["estimate"]`` holds the ML estimates (zeta = 0) and ``attrs["notes"]``
        remarks (non-monotonic profiles).

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", lmmedu.simulate_replicates(genes=("A",), seed=1))
    >>> pr = lmmedu.profile(m, which=["sigma"], n_points=2)
    >>> pr.columns.tolist()
    ['parameter', 'value', 'zeta']
    >>> bool(pr["zeta"].is_monotonic_increasing)
    True
    """
    level = check_level(level)
    pr = Profiler(fit)
    names = pr.names if which is None else list(which)
    unknown = [n for n in names if n not in pr.names]
    if unknown:
        raise ValueError(f"Unknown parameter(s) {unknown}; the fit's parameters are {pr.names}.")
    for name in names:
        lo, hi, _ = pr.interval(name, level)
        est = pr.estimate_ml[name]
        for end in (lo, hi):
            if np.isfinite(end):
                for v in np.linspace(est, end, n_points + 2)[1:-1]:
                    pr.zeta(name, v)
    out = pr.table()
    out = out[out["parameter"].isin(names)].reset_index(drop=True)
    out.attrs["estimate"] = pr.estimate_ml[names].to_dict()
    out.attrs["notes"] = profile_notes(pr)
    return out


def profile_notes(pr):
    """What a learner should know about the profiles ``pr`` traced: non-monotonic ones, a better optimum found.

    Shared by :func:`profile` and the profile intervals of :func:`lmmedu.stats.confint.confint`.
    """
    notes = []
    for name in pr.names:
        if name in pr.nonmonotonic:
            notes.append(f"{name}: the profile is not monotonic (|zeta| falls somewhere moving away from the "
                         "estimate); the interval limit is the first crossing found by root finding beyond it.")
    if pr.better_found:
        notes.append("Holding a parameter fixed found a higher likelihood than the ML fit's optimum, so the fit had "
                     "not quite converged; zeta there is taken as 0.")
    return notes
