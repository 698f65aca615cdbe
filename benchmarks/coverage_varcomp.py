"""How often do profile, bootstrap and Wald intervals for the replicate SD cover the truth?

Run from the repository root::

    python benchmarks/coverage_varcomp.py [--experiments 1000] [--replicates 4 12] [--boot 200]
                                          [--obs 100] [--n-jobs 2] [--level 0.95]

Each experiment simulates the replicate design (``lmmedu.simulate_replicates``, within design,
true replicate SD 0.2, drug effect varying between replicates with SD 0.1, residual SD 0.5,
``--obs`` measurements per gene and replicate), fits the model that matches the simulation,
``log(length) ~ treatment*gene + (1 + treatment|replicate)`` by REML, and computes a 95% interval
for ``sd_Intercept|replicate`` three ways: likelihood profile, parametric-bootstrap percentile
(``--boot`` refits) and Wald (estimate +/- 1.96 SE, cut at 0).  Printed: coverage with its binomial
SE, the median interval width and how many fits were singular.  A statistics study, not a test: the
coverage of an interval for a variance from 4 groups is what it is, and the point is to see it.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import lmmedu  # noqa: E402
from lmmedu.stats.profile import Profiler  # noqa: E402

FORMULA = "log(length) ~ treatment*gene + (1 + treatment|replicate)"
PARAM = "sd_Intercept|replicate"
TRUTH = 0.2


def one_experiment(n_replicates, seed, n_boot, obs, level):
    df = lmmedu.simulate_replicates(n_replicates=n_replicates, obs_per_replicate=obs, replicate_sd=TRUTH,
                                    seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmmedu.fit(FORMULA, df)
        lo, hi, _ = Profiler(fit).interval(PARAM, level)
        wald = lmmedu.confint(fit, method="wald", level=level).loc[PARAM]
        boot = lmmedu.bootstrap(fit, n=n_boot, seed=seed).confint(level).loc[PARAM]
    return {"replicates": n_replicates, "seed": seed, "singular": bool(fit.singular),
            "estimate": float(wald["estimate"]),
            "profile_lower": lo, "profile_upper": hi,
            "bootstrap_lower": float(boot["lower"]), "bootstrap_upper": float(boot["upper"]),
            "wald_lower": float(wald["lower"]), "wald_upper": float(wald["upper"])}


def summarise(res):
    rows = []
    for k, sub in res.groupby("replicates"):
        for method in ("profile", "bootstrap", "wald"):
            lo, hi = sub[f"{method}_lower"], sub[f"{method}_upper"]
            ok = lo.notna() & hi.notna()
            cover = ((lo <= TRUTH) & (TRUTH <= hi))[ok]
            p = cover.mean()
            rows.append({"replicates": k, "method": method, "experiments": int(ok.sum()), "coverage": p,
                         "se": np.sqrt(p * (1 - p) / max(ok.sum(), 1)), "median_width": (hi - lo)[ok].median(),
                         "lower_at_0": float((lo[ok] == 0).mean()), "singular_fits": float(sub["singular"].mean())})
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=1000)
    parser.add_argument("--replicates", type=int, nargs="+", default=[4, 12])
    parser.add_argument("--boot", type=int, default=200)
    parser.add_argument("--obs", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--out", type=Path, help="write every experiment's intervals to this CSV")
    args = parser.parse_args(argv)
    import joblib

    t0 = time.perf_counter()
    tasks = [(k, seed) for k in args.replicates for seed in range(args.experiments)]
    rows = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(one_experiment)(k, seed, args.boot, args.obs, args.level) for k, seed in tasks)
    res = pd.DataFrame(rows)
    if args.out:
        res.to_csv(args.out, index=False)
    print(f"{args.experiments} experiments per design, {args.boot} bootstrap refits each, {args.obs} "
          f"measurements per gene and replicate, level {args.level}; {time.perf_counter() - t0:.0f} s")
    print(f"model: {FORMULA}; truth {PARAM} = {TRUTH}")
    print(summarise(res).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
