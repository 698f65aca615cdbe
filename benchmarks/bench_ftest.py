"""Time of lmmedu.anova(fit) (type III, Satterthwaite) against lmerTest's anova(fit), in one run.

Usage::

    .venv/bin/python benchmarks/bench_ftest.py [--no-r]

For each model the fit is made once and the F table timed alone (best of 5 for lmmedu, of 3 for
lmerTest; lmerTest's Satterthwaite derivatives are computed when the model is fitted, so its time
here is the contrasts and the F tests only, while lmmedu's includes nothing more either: its
derivatives are also made with the fit).  Reported: the seconds and the ratio lmmedu / lmerTest.
Target: at most twice lmerTest's time on every model (ratio <= 2): on the small models both take
10-20 ms, mostly fixed costs (patsy and pandas here, R's model frames there), and the table is
printed once per question, so parity is what matters; the script exits non-zero if it is missed.  Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lmmedu  # noqa: E402

MODELS = [
    ("cake", "tests/fixtures/data/cake.csv", "angle ~ recipe * temperature + (1 | recipe:replicate)",
     {"replicate": None, "recipe": None, "temperature": None}),
    ("ham", "tests/fixtures/ftest/data/ham.csv",
     "Informed.liking ~ Gender + Information * Product + (1 | Consumer) + (1 | Consumer:Product)",
     {"Consumer": None, "Product": None, "Information": None, "Gender": None}),
    ("replicates_within (22,500 rows)", "data/replicates_within.csv",
     "log(length) ~ treatment * gene + (1 + treatment | replicate)", {"replicate": None}),
]

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lmerTest))
spec <- jsonlite::fromJSON(commandArgs(TRUE)[1], simplifyVector = FALSE)
out <- list()
for (m in spec) {
  d <- read.csv(m$path, stringsAsFactors = TRUE, colClasses = unlist(m$classes))
  fit <- lmer(as.formula(m$formula), data = d)
  times <- replicate(3, system.time(anova(fit))[["elapsed"]])
  out[[m$name]] <- min(times)
}
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))
"""


def _lmmedu_time(path, formula, factors):
    data = pd.read_csv(ROOT / path, dtype={k: str for k in factors})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmmedu.fit(formula, data)
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            lmmedu.anova(fit)
            best = min(best, time.perf_counter() - t)
    return best


def _r_times():
    spec = []
    for name, path, formula, factors in MODELS:
        classes = {k: "factor" for k in factors}
        spec.append({"name": name, "path": str(ROOT / path), "formula": formula, "classes": classes})
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run(["Rscript", str(script), str(spec_path)], capture_output=True, text=True)
    if proc.returncode != 0:
        print("Rscript failed:", proc.stderr[-2000:])
        return {}
    return json.loads(proc.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-r", action="store_true", help="do not run lmerTest even if Rscript is found")
    args = parser.parse_args(argv)
    r = {} if args.no_r or not shutil.which("Rscript") else _r_times()
    ok = True
    print(f"{'model':<34} {'lmmedu s':>10} {'lmerTest s':>11} {'ratio':>7}")
    for name, path, formula, factors in MODELS:
        ours = _lmmedu_time(path, formula, factors)
        theirs = r.get(name)
        ratio = ours / theirs if theirs else float("nan")
        if theirs and ratio > 2:
            ok = False
        print(f"{name:<34} {ours:10.4f} {theirs if theirs else float('nan'):11.4f} {ratio:7.2f}")
    print("target: ratio <= 2 on every model:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
