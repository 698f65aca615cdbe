"""Response time of notebook 05's design effect explorer, against a peer measured in the same run.

Run from the repository root::

    python benchmarks/bench_nb05_explorer.py [--repeats 15]

One response is what a slider move costs, ``app.run(<control>=<value>)``: the exact computation
(``update``) plus the redraw (``show``: the two-panel figure as PNG, the readout and the table).
It is timed at the defaults, with each control at each end of its range (the others at their
defaults), and at the largest design (100 groups of 1,000 rows, the two sliders' ends together).
The peer is the plainest redraw of the same picture size: a new two-panel figure of the
explorer's size with one line per panel, saved as PNG at the explorer's 96 dpi (what
redrawing from scratch costs before anything is drawn on it). Both wall time and CPU time of
this process are reported, medians over ``--repeats``; CPU time is the better guide on a
shared machine, where wall time also counts waiting for a core (the load average is printed
before and after). The budget is 100 ms of CPU per response (the developers' guide: widgets
answer within 100 ms); the script exits with status 1 if any case's median exceeds it.
"""

from __future__ import annotations

import argparse
import io
import os
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

from lmmedu.teach.plots import design_effect_axes  # noqa: E402
from lmmedu.teach.widgets import DesignEffectExplorer  # noqa: E402

BUDGET_MS = 100.0
PEER = "peer: new bare 2-panel figure as PNG"


def peer(size):
    fig = Figure(figsize=size)
    axes = fig.subplots(1, 2)
    for ax in axes:
        ax.plot([0, 1], [0, 1])
    fig.savefig(io.BytesIO(), format="png", dpi=96)


def timed(func, repeats, setup=None):
    """Median wall and CPU milliseconds of ``func()`` (or ``func(setup())``, ``setup`` not timed)."""
    wall, cpu = [], []
    for _ in range(repeats):
        arg = setup() if setup else None
        w, c = time.perf_counter(), time.process_time()
        func(arg) if setup else func()
        wall.append(1000 * (time.perf_counter() - w))
        cpu.append(1000 * (time.process_time() - c))
    return statistics.median(wall), statistics.median(cpu)


def report(results, peer_name, budget_ms, where, width=46):
    """Print every case against the peer and the slowest "explorer run"; True if it is within the budget."""
    _, peer_cpu = results[peer_name]
    print(f"{'case':{width}s} {'wall ms':>9s} {'cpu ms':>9s} {'cpu / peer':>11s}")
    for name, (wall, cpu) in results.items():
        print(f"{name:{width}s} {wall:9.1f} {cpu:9.1f} {cpu / peer_cpu:11.2f}")
    runs = {name: cpu for name, (_, cpu) in results.items() if name.startswith("explorer run")}
    worst = max(runs, key=runs.get)
    ok = runs[worst] <= budget_ms
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"slowest response: {worst}, {runs[worst]:.1f} ms CPU ({runs[worst] / peer_cpu:.2f} x the peer)")
    print(f"budget {budget_ms:.0f} ms CPU per response, {where}: {'met' if ok else 'EXCEEDED'}")
    return ok


def ends(widget):
    """The two ends of a control's range (a slider's min and max, a selection's first and last option)."""
    if hasattr(widget, "options") and not hasattr(widget, "min"):
        values = [v[1] if isinstance(v, tuple) else v for v in widget.options]
        return values[0], values[-1]
    return widget.min, widget.max


def cases(app):
    """Name -> one response of ``app``, each checked once to answer without a message."""
    out = {"explorer update only (defaults)": lambda: app.update(**app.settings()),
           "explorer run (defaults)": app.run}
    for control in app.controls:
        for value in ends(getattr(app, control)):
            out[f"explorer run ({control} = {value})"] = lambda control=control, value=value: app.run(**{control: value})
    out["explorer run (100 groups x 1000 rows)"] = lambda: app.run(n_groups=100, group_size=1000)
    for name, func in out.items():
        func()  # warm caches (fonts, imports) and check that every setting answers
        if app.message.value:
            raise SystemExit(f"{name}: {app.message.value}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    sns.set_theme(style="whitegrid", palette="colorblind")  # as in the notebook
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    app = DesignEffectExplorer()
    size = tuple(design_effect_axes(pyplot=False)[0].figure.get_size_inches())
    responses = cases(app)
    peer(size)
    results = {PEER: timed(lambda: peer(size), args.repeats)}
    results.update({name: timed(func, args.repeats) for name, func in responses.items()})
    ok = report(results, PEER, BUDGET_MS, "at the defaults and every slider end")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
