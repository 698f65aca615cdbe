"""lmmedu against its peers, in one run: mixedlm (Rust), lme4 (R, through Rscript) and today's main.

Run from the repository root::

    python benchmarks/bench_peers.py [--baseline DIR] [--skip CASE ...] [--only CASE ...] [--no-r]
                                     [--no-statsmodels]

statsmodels' MixedLM is timed too, for information (no target), wherever it fits the same model:
one correlated random term (not the crossed models, not ``||``, not the q = 12 model).

Cases (all fits by ``lmmedu.fit`` include Satterthwaite df; mixedlm and lme4 times are
their fits alone, lme4 being ``lme4::lmer`` timed inside R after one warm-up fit):

* every R-fixture model (tests/fixtures/lmer: sleepstudy variants, Dyestuff,
  Penicillin, cake, the replicate and small expression models); target: lmmedu
  <= lme4 and <= 2x mixedlm;
* ``InstEval`` (benchmarks/data/InstEval.csv.gz, exported from lme4 by
  benchmarks/export_insteval.R), ``y ~ service + (1|s) + (1|d) + (1|dept:service)``
  by REML; target: <= mixedlm, peak memory of a fresh process fitting it <= 500 MB;
* the seed-001 design (``simulate_expression()``), ``values ~ week*genotype +
  (week|probeset)`` by ML; target >= 5x faster than mixedlm and >= 30x faster
  than lme4; with ``+ (1|sample)``: >= 5x faster than mixedlm;
* the widget models on ``load_replicates()``: ``(1|replicate)`` in <= 1/2 and
  ``(1+treatment|replicate)`` in <= 1/10 of the time of the checkout given by
  ``--baseline`` (e.g. ``git worktree add ../baseline 77090b2``), measured in a
  subprocess in the same run;
* a 12-level factor as a random slope, ``y ~ f + (f|g)`` (q = 12, 78 variance
  parameters, 1,800 rows); target <= mixedlm (slow: minutes; ``--skip q12``;
  lme4 only with ``--r-q12``).

Times are medians of repeated calls for fits under a second (more repeats for
faster ones), single calls otherwise.  Every number is a ratio measured in this
run on this machine; the load average is printed because other work inflates
times.  Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import lmmedu  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "lmer"
INSTEVAL = ROOT / "benchmarks" / "data" / "InstEval.csv.gz"
EXPR_1 = "values ~ week*genotype + (week|probeset)"
EXPR_2 = "values ~ week*genotype + (week|probeset) + (1|sample)"
WIDGET_1 = "log(length) ~ treatment*gene + (1|replicate)"
WIDGET_2 = "log(length) ~ treatment*gene + (1+treatment|replicate)"
INSTEVAL_F = "y ~ service + (1|s) + (1|d) + (1|dept:service)"
Q12_F = "y ~ f + (f|g)"


def q12_data(seed=12, groups=50, levels=12, reps=3):
    """1,800 rows: 50 groups x a 12-level factor x 3 replicates, correlated level effects per group."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), levels * reps)
    f = np.tile(np.repeat(np.arange(levels), reps), groups)
    L = rng.normal(size=(levels, levels)) * 0.3
    b = rng.normal(size=(groups, levels)) @ L.T
    y = 0.2 * f + b[g, f] + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "f": [f"f{i:02d}" for i in f], "g": [f"g{i:02d}" for i in g]})


def load_insteval():
    d = pd.read_csv(INSTEVAL, dtype=str)
    d["y"] = d["y"].astype(float)
    return d


def timed(fn, budget=1.0, max_repeats=30):
    """Median wall time of ``fn`` (one warm-up call; repeats while under ``budget`` seconds)."""
    t0 = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t0
    if first > budget:
        return first, result, 1
    n = max(3, min(max_repeats, int(budget / max(first, 1e-4))))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result, n


def quiet(fn):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    return run


def cases(selected):
    """(name, formula, data, reml, r_formula, group) for every case."""
    out = []
    index = json.loads((FIXTURES / "index.json").read_text())
    for m in index["models"]:
        fx = json.loads((FIXTURES / f"{m['model_id']}.json").read_text())
        d = pd.read_csv(ROOT / fx["data_file"], dtype={k: str for k in fx["factor_levels"]})
        for col, lev in fx["factor_levels"].items():
            d[col] = pd.Categorical(d[col], categories=lev)
        out.append((m["model_id"], fx["formula"], d, fx["REML"], "fixture"))
    if selected("insteval") and INSTEVAL.exists():
        out.append(("InstEval", INSTEVAL_F, load_insteval(), True, "insteval"))
    if selected("seed001"):
        expr = lmmedu.simulate_expression()
        out.append(("seed001 (week|probeset) ML", EXPR_1, expr, False, "seed001"))
        out.append(("seed001 + (1|sample) ML", EXPR_2, expr, False, "seed001b"))
    reps = lmmedu.load_replicates()
    out.append(("widget (1|replicate)", WIDGET_1, reps, True, "widget1"))
    out.append(("widget (1+treatment|replicate)", WIDGET_2, reps, True, "widget2"))
    if selected("q12"):
        out.append(("q12 (f|g)", Q12_F, q12_data(), True, "q12"))
    return [c for c in out if selected(c[0]) or selected(c[4])]


# ----------------------------------------------------------------------------- peers
def fit_mixedlm(formula, data, reml):
    import mixedlm

    frame = data.copy()
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype(str)
    # mixedlm's formula parser takes no function of the response: log it beforehand.
    match = re.match(r"\s*log\((\w+)\)\s*~", formula)
    if match:
        frame["log_" + match.group(1)] = np.log(frame[match.group(1)])
        formula = f"log_{match.group(1)} ~" + formula.split("~", 1)[1]
    return quiet(lambda: mixedlm.lmer(formula, frame, REML=reml))


SINGLE_TERM = re.compile(r"^(?P<fixed>[^|]+?)\s*\+\s*\((?P<re>[^|()]+)\|(?P<g>[^|()]+)\)\s*$")


def fit_statsmodels(formula, data, reml):
    """statsmodels' MixedLM for a model with one correlated random term, or None if it cannot express it.

    Crossed or uncorrelated (``||``) terms need statsmodels' variance-component
    formulas with the whole data as one group, which is not the same computation
    (and is infeasible at InstEval's size), so those cases are left out.
    """
    import statsmodels.formula.api as smf

    m = SINGLE_TERM.match(formula.strip())
    if not m:
        return None
    frame = data.copy()
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype(str)
    groups = [g.strip() for g in m.group("g").split(":")]
    key = "_".join(groups)
    frame[key] = frame[groups].astype(str).agg(":".join, axis=1) if len(groups) > 1 else frame[groups[0]]
    re_terms = [t.strip() for t in m.group("re").split("+")]
    if re_terms == ["1"]:
        re_formula = "1"
    else:
        rest = [t for t in re_terms if t not in ("1", "0")]
        re_formula = ("0 + " if "0" in re_terms else "") + " + ".join(rest)
    fixed = re.sub(r"\blog\(", "np.log(", m.group("fixed"))
    model = smf.mixedlm(fixed, frame, groups=frame[key], re_formula=re_formula)
    return quiet(lambda: model.fit(reml=reml))


R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
jobs <- jsonlite::fromJSON(args[1], simplifyDataFrame = FALSE)
for (job in jobs) {
  d <- read.csv(job$csv, stringsAsFactors = TRUE)
  for (col in job$factors) d[[col]] <- factor(d[[col]])
  f <- as.formula(job$formula)
  fit1 <- function() suppressWarnings(suppressMessages(lmer(f, data = d, REML = job$reml)))
  t0 <- proc.time()[["elapsed"]]; m <- fit1(); first <- proc.time()[["elapsed"]] - t0
  n <- if (first > 1) 0 else max(3, min(20, floor(1 / max(first, 1e-3))))
  times <- first
  if (n > 0) times <- sapply(seq_len(n), function(i) { t0 <- proc.time()[["elapsed"]]; fit1();
                                                       proc.time()[["elapsed"]] - t0 })
  cat(jsonlite::toJSON(list(name = job$name, seconds = median(times), calls = length(times),
                            logLik = as.numeric(logLik(m))), auto_unbox = TRUE, digits = NA), "\n")
}
"""


def run_lme4(jobs, tmp):
    """Times of lme4::lmer for each case, or {} without R."""
    if not shutil.which("Rscript"):
        return {}
    specs = []
    for name, formula, data, reml, _ in jobs:
        path = Path(tmp) / f"{len(specs)}.csv"
        frame = data.copy()
        factors = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        # Character columns that lme4 must treat as factors even when they look numeric (InstEval ids).
        frame.to_csv(path, index=False)
        specs.append({"name": name, "csv": str(path), "formula": formula, "reml": bool(reml), "factors": factors})
    spec_path = Path(tmp) / "jobs.json"
    spec_path.write_text(json.dumps(specs))
    script = Path(tmp) / "bench.R"
    script.write_text(R_SCRIPT)
    proc = subprocess.run(["Rscript", str(script), str(spec_path)], capture_output=True, text=True)
    out = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rec = json.loads(line)
            out[rec["name"]] = rec
    if proc.returncode != 0:
        print("Rscript failed:", proc.stderr[-2000:])
    return out


BASELINE_CHILD = r"""
import json, statistics, sys, time, warnings
sys.path.insert(0, {root!r})
import lmmedu
warnings.simplefilter("ignore")
reps = lmmedu.load_replicates()
out = {{}}
for name, formula in {cases!r}:
    lmmedu.fit(formula, reps)
    t = []
    for _ in range(30):
        t0 = time.perf_counter(); lmmedu.fit(formula, reps); t.append(time.perf_counter() - t0)
    out[name] = statistics.median(t)
print(json.dumps(out))
"""

CURRENT_CHILD = BASELINE_CHILD  # the same code run against this checkout, in a fresh process too


def run_child(root, names_formulas):
    code = BASELINE_CHILD.format(root=str(root), cases=names_formulas)
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        print(f"child at {root} failed:", proc.stderr[-2000:])
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


MEMORY_CHILD = r"""
import json, sys, warnings
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
warnings.simplefilter("ignore")
import lmmedu
from bench_peers import load_insteval
d = load_insteval()
m = lmmedu.fit({formula!r}, d)
with open("/proc/self/status") as fh:
    peak = [int(l.split()[1]) for l in fh if l.startswith("VmHWM:")][0]
print(json.dumps({{"peak_kb": peak, "loglik": m.loglik}}))
"""


def insteval_memory():
    code = MEMORY_CHILD.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), formula=INSTEVAL_F)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_kb"] / 1024


def load():
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


# ----------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description="lmmedu against mixedlm, lme4 and a baseline checkout.")
    parser.add_argument("--baseline", type=Path, help="checkout of today's main (e.g. commit 77090b2)")
    parser.add_argument("--only", nargs="*", default=[], help="case names or groups to run (substrings)")
    parser.add_argument("--skip", nargs="*", default=[], help="case names or groups to skip (e.g. q12)")
    parser.add_argument("--no-r", action="store_true", help="do not run lme4 even if Rscript is found")
    parser.add_argument("--no-mixedlm", action="store_true")
    parser.add_argument("--no-statsmodels", action="store_true",
                        help="skip statsmodels' MixedLM (about 40 s on the expression design)")
    parser.add_argument("--r-q12", action="store_true", help="also time lme4 on the q = 12 model (slow)")
    args = parser.parse_args(argv)

    def selected(name):
        name = name.lower()
        if any(s.lower() in name for s in args.skip):
            return False
        return not args.only or any(s.lower() in name for s in args.only)

    print(f"Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs; "
          f"load average at start {load()}")
    jobs = cases(selected)
    with tempfile.TemporaryDirectory() as tmp:
        r_jobs = [j for j in jobs if args.r_q12 or j[4] != "q12"]
        r_times = {} if args.no_r else run_lme4(r_jobs, tmp)
    if not args.no_r and not r_times:
        print("lme4: Rscript not found (or failed); lme4 columns are empty and their targets are not judged.")

    rows, missed = [], []
    results = {}
    for name, formula, data, reml, group in jobs:
        ours_s, fit, n = timed(quiet(lambda: lmmedu.fit(formula, data, reml=reml)))
        mx_s, mx_ll = np.nan, np.nan
        if not args.no_mixedlm:
            try:
                mx_s, mx_fit, _ = timed(fit_mixedlm(formula, data, reml))
                ll = mx_fit.logLik()
                mx_ll = float(getattr(ll, "value", ll))
            except Exception as err:  # a peer failing is reported, not fatal
                print(f"mixedlm failed on {name}: {type(err).__name__}: {err}")
        sm_s, sm_ll = np.nan, np.nan
        if not args.no_statsmodels and group != "q12":
            try:
                sm_fit = fit_statsmodels(formula, data, reml)
                if sm_fit is not None:
                    sm_s, sm_res, _ = timed(sm_fit, budget=0.5, max_repeats=10)
                    sm_ll = float(sm_res.llf)
            except Exception as err:
                print(f"statsmodels failed on {name}: {type(err).__name__}: {err}")
        r = r_times.get(name, {})
        results[name] = dict(group=group, ours=ours_s, calls=n, mixedlm=mx_s, lme4=r.get("seconds", np.nan),
                             statsmodels=sm_s, statsmodels_loglik=sm_ll,
                             loglik=fit.loglik, mixedlm_loglik=mx_ll, lme4_loglik=r.get("logLik", np.nan),
                             converged=fit.converged)
        print(f"  {name}: lmmedu {ours_s:.4f} s, mixedlm {mx_s:.4f} s, lme4 {r.get('seconds', np.nan):.4f} s, "
              f"statsmodels {sm_s:.4f} s", flush=True)

    baseline = {}
    widget_cases = [(n, f) for n, f, _, _, g in jobs if g.startswith("widget")]
    if widget_cases:
        # Alternate fresh processes of this checkout and the baseline, and keep each one's
        # best median: on a shared machine the load changes between two runs.
        current = {}
        for _ in range(3):
            for target, root in ((current, ROOT), (baseline, args.baseline)):
                if root is None:
                    continue
                for key, value in run_child(Path(root).resolve(), widget_cases).items():
                    target[key] = min(value, target.get(key, np.inf))
        for n, _ in widget_cases:
            results[n]["fresh"] = current.get(n, np.nan)
            results[n]["baseline"] = baseline.get(n, np.nan)

    mem = insteval_memory() if any(g == "insteval" for *_, g in jobs) else None

    def judge(label, ok, text):
        if ok is None:
            status = "n/a"
        else:
            status = "met" if ok else "MISSED"
            if not ok:
                missed.append(label)
        rows.append((label, text, status))

    for name, r in results.items():
        g = r["group"]
        ratio_mx = r["ours"] / r["mixedlm"]
        ratio_r = r["ours"] / r["lme4"]
        dll = r["loglik"] - np.nanmax([r["mixedlm_loglik"], r["lme4_loglik"], -np.inf])
        desc = (f"lmmedu {r['ours']:.4g} s ({r['calls']} calls), mixedlm {r['mixedlm']:.4g} s, lme4 {r['lme4']:.4g} s; "
                f"lmmedu/mixedlm {ratio_mx:.2f}, lmmedu/lme4 {ratio_r:.2f}; logLik - best peer {dll:+.2g}")
        if not np.isnan(r["statsmodels"]):
            desc += (f"; statsmodels {r['statsmodels']:.4g} s, lmmedu/statsmodels {r['ours'] / r['statsmodels']:.3f}, "
                     f"its logLik - lmmedu's {r['statsmodels_loglik'] - r['loglik']:+.2g}")
        if g == "fixture":
            ok = None if np.isnan(ratio_r) else bool(ratio_r <= 1.0 and ratio_mx <= 2.0)
            judge(f"{name}: <= lme4 and <= 2x mixedlm", ok, desc)
        elif g == "insteval":
            judge(f"{name}: <= mixedlm", None if np.isnan(ratio_mx) else bool(ratio_mx <= 1.0), desc)
            if mem is not None:
                judge(f"{name}: peak memory <= 500 MB", bool(mem <= 500), f"{mem:.0f} MB (fresh process)")
        elif g == "seed001":
            judge(f"{name}: >= 5x faster than mixedlm", None if np.isnan(ratio_mx) else bool(ratio_mx <= 0.2), desc)
            judge(f"{name}: >= 30x faster than lme4", None if np.isnan(ratio_r) else bool(ratio_r <= 1 / 30), desc)
        elif g == "seed001b":
            judge(f"{name}: >= 5x faster than mixedlm", None if np.isnan(ratio_mx) else bool(ratio_mx <= 0.2), desc)
        elif g.startswith("widget"):
            factor = 0.5 if g == "widget1" else 0.1
            ratio_b = r["fresh"] / r["baseline"]
            text = (f"fresh process: lmmedu {1e3 * r['fresh']:.2f} ms, baseline {1e3 * r['baseline']:.2f} ms, "
                    f"ratio {ratio_b:.3f}; in this process {1e3 * r['ours']:.2f} ms")
            judge(f"{name}: <= {factor:g} x baseline", None if np.isnan(ratio_b) else bool(ratio_b <= factor), text)
        elif g == "q12":
            judge(f"{name}: <= mixedlm", None if np.isnan(ratio_mx) else bool(ratio_mx <= 1.0), desc)
        if not r["converged"]:
            rows.append((f"{name}: lmmedu convergence check", "failed", "note"))

    print(f"\nload average at end {load()}\n")
    print("| target | measured | result |")
    print("|---|---|---|")
    for label, text, status in rows:
        print("| " + " | ".join(c.replace("|", "\\|") for c in (label, text, status)) + " |")
    if missed:
        print(f"\nMissed ({len(missed)}): " + "; ".join(missed))
        return 1
    print("\nEvery judged target met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
