"""What the restarts from the other faces of a singular fit cost, on notebook 06's 4-replicate experiments.

Run from the repository root::

    python benchmarks/bench_optimum_faces.py [--experiments 30] [--boot 50] [--repeats 3] [--r]

Experiments: one gene in 4 replicates of 100 cells (``lmmedu.simulate_replicates``, replicate SD 0.2,
drug-effect SD cycling through 0.1, 0.2, 0.4, cell SD 0.5), fitted with
``y ~ treatment + (1 + treatment | replicate)`` (REML), as in ``sd_interval_study``.  Each case is timed
with the optimizer as it is (``optimize_theta``: one search, and for a singular end, searches from the
other faces) and as it was (the first search alone), alternately, in the same run:

1. fresh fits (``lmmedu.fit``) of every experiment;
2. ``lmmedu.bootstrap(fit, n=--boot)`` of the first 5 experiments (refits from cell sums, started at the fit).

Printed per case: the time with and without the restarts and their ratio, how many fits ended singular
(and so paid for restarts), and how many ended lower (by more than 1e-6 in -2 log-likelihood) with them.
``--r`` also times lme4's ``lmer`` on the same experiments in one Rscript run (excluding R's start-up)
and prints lmmedu's time over lme4's.  The machine load average is printed, since other work inflates
the times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lmmedu  # noqa: E402
import lmmedu.stats.bootstrap as bootmod  # noqa: E402
import lmmedu.stats.fit as fitmod  # noqa: E402
from lmmedu.stats import optimize  # noqa: E402

FORMULA = "y ~ treatment + (1 + treatment|replicate)"


def first_search_only(problem, start=None, ftol=1e-12, max_evals=None):
    """The optimizer before the restarts (for at most MANY_PARAMETERS parameters): the first search alone."""
    start = np.asarray(problem.start if start is None else start, dtype=float)
    limit = int(max_evals or 1000 * (problem.n_theta + 1) ** 1.5)
    return optimize._search(problem, start, ftol, limit)


def experiments(n):
    rng = np.random.default_rng(2026)
    out = []
    for k in range(n):
        d = lmmedu.simulate_replicates(genes=("A",), n_replicates=4, obs_per_replicate=100, treatment_effects=0.1,
                                       replicate_sd=0.2, replicate_treatment_sd=(0.1, 0.2, 0.4)[k % 3],
                                       residual_sd=0.5, seed=rng)
        out.append(pd.DataFrame({"y": np.log(d["length"].to_numpy()), "treatment": d["treatment"].astype(str),
                                 "replicate": d["replicate"].astype(str)}))
    return out


def timed(fn, optimizer, repeats):
    """Median seconds of ``fn()`` with ``optimizer`` in place of optimize_theta, and its last result."""
    saved = fitmod.optimize_theta, bootmod.optimize_theta
    fitmod.optimize_theta = bootmod.optimize_theta = optimizer
    try:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
    finally:
        fitmod.optimize_theta, bootmod.optimize_theta = saved
    return statistics.median(times), result


def compare(name, fn, repeats, summarise):
    new_t, old_t = [], []
    for _ in range(repeats):  # alternate, so that load changes hit both alike
        t, new = timed(fn, optimize.optimize_theta, 1)
        new_t.append(t)
        t, old = timed(fn, first_search_only, 1)
        old_t.append(t)
    new_s, old_s = statistics.median(new_t), statistics.median(old_t)
    print(f"{name}: with restarts {new_s:.3f} s, first search only {old_s:.3f} s, ratio {new_s / old_s:.2f}; "
          + summarise(new, old))
    return new_s


def lme4_seconds(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "d.csv")
        pd.concat([d.assign(id=k) for k, d in enumerate(data)]).to_csv(path, index=False)
        script = (
            "suppressMessages(library(lme4)); d <- read.csv(commandArgs(TRUE)[1]); s <- split(d, d$id);"
            "f <- function() for (x in s) suppressMessages(suppressWarnings("
            "lmer(y ~ treatment + (1 + treatment | replicate), x, REML = TRUE)));"
            "f(); t <- replicate(3, system.time(f())[['elapsed']]); cat(median(t))")
        out = subprocess.run(["Rscript", "-e", script, path], capture_output=True, text=True, check=True)
        return float(out.stdout.strip().split()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=int, default=30)
    ap.add_argument("--boot", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--r", action="store_true", help="also time lme4 on the same experiments")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    data = experiments(args.experiments)
    warnings.simplefilter("ignore")

    def fits():
        return [lmmedu.fit(FORMULA, d) for d in data]

    def summarise_fits(new, old):
        lower = sum(-2 * a.loglik < -2 * b.loglik - 1e-6 for a, b in zip(new, old))
        return (f"{sum(b.singular for b in old)} of {len(old)} ended singular on the first search, "
                f"{lower} ended lower with the restarts")

    fit_s = compare(f"1. {len(data)} fresh fits", fits, args.repeats, summarise_fits)
    models = [lmmedu.fit(FORMULA, d) for d in data[:5]]

    def boots():
        return [lmmedu.bootstrap(m, n=args.boot, seed=1).replicates for m in models]

    def summarise_boots(new, old):
        a, b = pd.concat(new), pd.concat(old)
        lower = int(np.sum(-2 * a["loglik"].to_numpy() < -2 * b["loglik"].to_numpy() - 1e-6))
        return (f"{int(b['singular'].sum())} of {len(b)} refits ended singular on the first search, "
                f"{lower} ended lower with the restarts")

    compare(f"2. bootstrap n={args.boot} of 5 fits", boots, args.repeats, summarise_boots)
    if args.r:
        r_s = lme4_seconds(data)
        print(f"lme4: {len(data)} fresh fits {r_s:.3f} s; lmmedu with restarts / lme4 = {fit_s / r_s:.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
