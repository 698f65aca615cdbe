"""Time and memory of the two simulators at their full default sizes.

Run from the repository root::

    python benchmarks/bench_simulate.py [--repeats 7]

Time: median (and min/max) wall time of ``--repeats`` calls. Memory, measured two ways:

- tracemalloc peak: Python and numpy allocations made during one call (numpy reports its
  buffers to tracemalloc);
- RSS growth: in a fresh subprocess, the peak resident set size after one call minus the
  resident set size just before it (after the imports), i.e. what the call adds to the
  process high-water mark. On Linux both come from /proc/self/status (VmHWM, VmRSS):
  ``ru_maxrss`` is inherited from the parent across fork/exec, so a child started by a
  parent that already holds a large frame would report the parent's peak.

The budget for the full seed-001 size is 2 s and 300 MB (Binder gives 2 GB in all); the
script exits with status 1 if a budget is exceeded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lmmedu.data.simulate import simulate_expression, simulate_replicates  # noqa: E402

CASES = {
    "simulate_expression()": (simulate_expression, {}),
    "simulate_expression(n_probesets=500)": (simulate_expression, {"n_probesets": 500}),
    "simulate_replicates()": (simulate_replicates, {}),
    "simulate_replicates(design='between')": (simulate_replicates, {"design": "between"}),
}
BUDGET = {"simulate_expression()": (2.0, 300.0)}  # seconds, MB

# Executed in a fresh interpreter so the high-water mark belongs to one call only.
_RSS_CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
from lmmedu.data.simulate import simulate_expression, simulate_replicates

def kb(key):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux

before = kb("VmRSS")
df = {call}
after = kb("VmHWM")
print(json.dumps({{"before_kb": before, "after_kb": after, "rows": len(df),
                   "frame_mb": df.memory_usage(deep=True).sum() / 1e6}}))
"""


def _rss_growth(label: str) -> dict:
    code = _RSS_CHILD.format(root=str(ROOT), call=label)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _tracemalloc_peak(fn, kwargs) -> float:
    tracemalloc.start()
    try:
        df = fn(**kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del df
    return peak / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the lmmedu simulators.")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    rows = []
    for label, (fn, kwargs) in CASES.items():
        fn(**kwargs)  # warm-up: imports, caches
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn(**kwargs)
            times.append(time.perf_counter() - t0)
        rss = _rss_growth(label)
        rows.append({
            "call": label,
            "rows": rss["rows"],
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "tracemalloc_mb": _tracemalloc_peak(fn, kwargs),
            "rss_growth_mb": (rss["after_kb"] - rss["before_kb"]) * 1024 / 1e6,
            "frame_mb": rss["frame_mb"],
        })

    head = f"{'call':<40} {'rows':>8} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MB':>8} {'RSS+ MB':>8} {'frame MB':>9}"
    print(f"Python {sys.version.split()[0]}, {args.repeats} repeats")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['call']:<40} {r['rows']:>8,} {r['median_s']:>9.3f} {r['min_s']:>7.3f} {r['max_s']:>7.3f} "
              f"{r['tracemalloc_mb']:>8.1f} {r['rss_growth_mb']:>8.1f} {r['frame_mb']:>9.1f}")

    status = 0
    for r in rows:
        if r["call"] in BUDGET:
            max_s, max_mb = BUDGET[r["call"]]
            mem = max(r["tracemalloc_mb"], r["rss_growth_mb"])
            ok = r["median_s"] < max_s and mem < max_mb
            print(f"budget {r['call']}: < {max_s} s and < {max_mb:.0f} MB -> {'OK' if ok else 'EXCEEDED'}")
            status |= not ok
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
