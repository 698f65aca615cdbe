"""What the parametric bootstrap of notebook 08's interaction test costs, and why it is cached.

Run from the repository root::

    python benchmarks/bench_nb08_referee.py [--k 3] [--r-probesets 100] [--r-nsim 20] [--no-r]

Measured in one run:

* **full scale** (``simulate_expression(seed=6)``, 414,345 rows, notebook 08's data set), for each
  mixed model of the referee table: the two ML fits, and seconds per simulated data set of
  ``lmmedu.anova(small, big, method="bootstrap")`` (:func:`~lmmedu.stats.bootstrap.pb_modcomp`:
  two refits from the rows, ``--k`` data sets); whether the cell-sum shortcut of
  ``lmmedu.bootstrap`` could apply (it needs far fewer distinct (X row, groups, Z rows) cells than
  rows; here every row is its own cell once ``(1|sample)`` is in, and a probeset's 23 rows form 10
  cells without it), and ``lmmedu.bootstrap(big)``'s seconds per refit. From these: the minutes the
  notebook would wait for ``n = 200`` (what ``data/expression_referee_study.csv`` holds);
* **peer**: R's ``pbkrtest::PBmodcomp`` against lmmedu's ``pb_modcomp`` on a subsample that keeps
  all 23 arrays (the first ``--r-probesets`` probesets), ``--r-nsim`` simulations each, timed inside R;
* **what a cell-sum shortcut buys where it applies**: on the 22,500-row replicate design
  (factors only) ``lmmedu.bootstrap`` (cell sums) against ``pb_modcomp`` (rows), per refit.

Every ratio is measured in this run; the load average is printed because other work inflates times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lmmedu  # noqa: E402
from lmmedu.stats.bootstrap import pb_modcomp  # noqa: E402
from lmmedu.teach.studies import EXPRESSION_MODELS, without_interaction  # noqa: E402

MIXED = {name: f for name, f in EXPRESSION_MODELS.items() if "|" in f}

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(pbkrtest)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$genotype <- factor(d$genotype, levels = c("B6", "CSB"))
d$probeset <- factor(d$probeset); d$sample <- factor(d$sample)
nsim <- as.integer(args[2])
forms <- list(probeset = values ~ week * genotype + (week | probeset),
              array = values ~ week * genotype + (week | probeset) + (1 | sample))
for (nm in names(forms)) {
  big <- lmer(forms[[nm]], data = d, REML = FALSE)
  small <- update(big, . ~ . - week:genotype)
  t0 <- proc.time()[["elapsed"]]
  pb <- suppressWarnings(suppressMessages(PBmodcomp(big, small, nsim = nsim, seed = 1)))
  cat(sprintf("%s %.6f %.6g\n", nm, (proc.time()[["elapsed"]] - t0) / nsim, pb$test["PBtest", "p.value"]))
}
"""


def seconds(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def ml_pair(formula, data):
    t_big, big = seconds(lambda: lmmedu.fit(formula, data, reml=False))
    t_small, small = seconds(lambda: lmmedu.fit(without_interaction(formula), data, reml=False))
    return small, big, t_small + t_big


def run_r(path, nsim, timeout):
    if not shutil.which("Rscript"):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT)
        script = fh.name
    try:
        proc = subprocess.run(["Rscript", script, str(path), str(nsim)], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"Rscript stopped after {timeout} s")
        return None
    finally:
        os.unlink(script)
    if proc.returncode != 0:
        print("Rscript failed:", proc.stderr[-2000:])
        return None
    return {name: float(t) for name, t, _ in (line.split() for line in proc.stdout.strip().splitlines())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=3, help="simulated data sets timed at full scale (default 3)")
    parser.add_argument("--r-probesets", type=int, default=100, help="probesets of the subsample timed against R")
    parser.add_argument("--r-nsim", type=int, default=20, help="simulations of the peer comparison")
    parser.add_argument("--r-timeout", type=float, default=900.0, help="seconds before R is stopped")
    parser.add_argument("--no-r", action="store_true", help="do not run R even if Rscript is found")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))

    expr = lmmedu.simulate_expression(seed=6)
    expr.attrs = {}
    print(f"\nfull scale: {len(expr):,} rows, {expr['probeset'].nunique():,} probesets, "
          f"{expr['sample'].nunique()} arrays")
    total_minutes = 0.0
    for name, formula in MIXED.items():
        small, big, fit_s = ml_pair(formula, expr)
        cells = big.problem.response_cells()
        t_pb, _ = seconds(lambda: pb_modcomp(small, big, n=args.k, seed=1))
        t_boot, _ = seconds(lambda: lmmedu.bootstrap(big, n=args.k, seed=1))
        per_set = t_pb / args.k
        total_minutes += 200 * per_set / 60
        print(f"  {name}: two ML fits {fit_s:.2f} s; anova(method='bootstrap') {per_set:.2f} s per simulated data "
              f"set (two refits from the rows); cell-sum shortcut "
              f"{'applies' if cells is not None else 'does not apply (cells not fewer than rows / 4)'}; "
              f"lmmedu.bootstrap {t_boot / args.k:.2f} s per refit")
    print(f"  n = 200 for both models: about {total_minutes:.1f} minutes of refits (notebook budget: 20 s in all)")

    sub = expr[expr["probeset"].cat.codes < args.r_probesets].copy()
    sub["probeset"] = sub["probeset"].cat.remove_unused_categories()
    print(f"\npeer: the first {args.r_probesets} probesets, all {sub['sample'].nunique()} arrays ({len(sub):,} rows), "
          f"{args.r_nsim} simulations")
    ours = {}
    for name, formula in MIXED.items():
        small, big, _ = ml_pair(formula, sub)
        t, res = seconds(lambda: pb_modcomp(small, big, n=args.r_nsim, seed=1))
        ours[name] = t / args.r_nsim
    r = None
    if not args.no_r:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sub.csv"
            sub.to_csv(path, index=False)
            r = run_r(path, args.r_nsim, args.r_timeout)
    for (name, t), r_key in zip(ours.items(), ("probeset", "array")):
        line = f"  {name}: lmmedu {1000 * t:.0f} ms per simulated data set"
        if r:
            line += f", PBmodcomp {1000 * r[r_key]:.0f} ms: lmmedu {r[r_key] / t:.0f}x faster"
        print(line)

    rep = lmmedu.load_replicates("within")
    f_big = "log(length) ~ treatment*gene + (1|replicate)"
    big = lmmedu.fit(f_big, rep, reml=False)
    small = lmmedu.fit("log(length) ~ treatment + gene + (1|replicate)", rep, reml=False)
    n = 40
    t_rows, _ = seconds(lambda: pb_modcomp(small, big, n=n, seed=1))
    t_cells, _ = seconds(lambda: lmmedu.bootstrap(big, n=n, seed=1))
    per_row_refit, per_cell_refit = t_rows / (2 * n), t_cells / n
    print(f"\nfactors only ({len(rep):,} rows, {f_big}): a refit from the rows (pb_modcomp) "
          f"{1000 * per_row_refit:.2f} ms, from cell sums (lmmedu.bootstrap) {1000 * per_cell_refit:.2f} ms: "
          f"{per_row_refit / per_cell_refit:.1f}x")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
