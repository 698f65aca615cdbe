"""Response time of notebook 05's design effect explorer, against a peer measured in the same run.

Run from the repository root::

    python benchmarks/bench_nb05_explorer.py [--repeats 15]

One response is ``app.run()``: the exact computation (``update``) plus the redraw (``show``:
the two-panel figure as PNG, the readout and the table). It is timed at the default settings
and at the largest design (100 groups of 1,000 rows). The peer is the cheapest possible redraw
of the same size: a two-panel figure with one line each, saved as PNG the same way. Both wall
time and CPU time of this process are reported; CPU time is the better guide on a shared machine,
where wall time also counts waiting for a core. The budget is 300 ms per response at the defaults;
the script exits with status 1 if the median CPU time exceeds it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lmmedu.teach.widgets import DesignEffectExplorer  # noqa: E402

BUDGET_MS = 300.0


def peer():
    fig = Figure(figsize=(11.0, 4.0))
    axes = fig.subplots(1, 2)
    for ax in axes:
        ax.plot([0, 1], [0, 1])
    fig.savefig(io.BytesIO(), format="png", dpi=96)


def timed(func, repeats):
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        func()
        wall.append(1000 * (time.perf_counter() - w))
        cpu.append(1000 * (time.process_time() - c))
    return statistics.median(wall), statistics.median(cpu)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    sns.set_theme(style="whitegrid", palette="colorblind")  # as in the notebook
    app = DesignEffectExplorer()
    cases = {
        "peer: bare 2-panel PNG": peer,
        "explorer update only (defaults)": lambda: app.update(**app.settings()),
        "explorer run (defaults)": app.run,
        "explorer run (100 groups x 1000 rows)": lambda: app.run(n_groups=100, group_size=1000),
    }
    for func in cases.values():  # warm caches (fonts, imports)
        func()
    results = {name: timed(func, args.repeats) for name, func in cases.items()}
    peer_wall, peer_cpu = results["peer: bare 2-panel PNG"]
    print(f"{'case':42s} {'wall ms':>9s} {'cpu ms':>9s} {'cpu / peer':>11s}")
    for name, (wall, cpu) in results.items():
        print(f"{name:42s} {wall:9.1f} {cpu:9.1f} {cpu / peer_cpu:11.2f}")
    default_cpu = results["explorer run (defaults)"][1]
    ok = default_cpu <= BUDGET_MS
    print(f"budget {BUDGET_MS:.0f} ms per response at the defaults (CPU): {'met' if ok else 'EXCEEDED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
