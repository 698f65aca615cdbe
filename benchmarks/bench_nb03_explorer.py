"""Response time of notebook 03's coding explorer, against a peer measured in the same run.

Run from the repository root::

    python benchmarks/bench_nb03_explorer.py [--repeats 15]

One response is what a control move costs, ``app.run(<control>=<value>)``: the coding's
numbers (``update``) plus the redraw (``show``: the note, the two tables and the cell-means
figure as PNG). It is timed on notebook 03's data (``load_replicates("within")``, a mixed
model) at the defaults and with each control at each end of its options (the others at their
defaults), each a median over ``--repeats``; and as a first visit (a new explorer's first move
to the last reference gene), which includes any fit not done before. Building the explorer
(every fit it makes up front, and its first drawing) is reported too: it is paid once, when
the notebook cell runs, not on a move. The peer is the plainest redraw of the same picture
size: a new bare figure of the explorer's 5.5 x 3.6 inches with one line, saved as PNG at the
explorer's 96 dpi. Wall and CPU time of this process are reported; CPU time is the better
guide on a shared machine (the load average is printed before and after). The budget is
100 ms of CPU per response (the developers' guide: widgets answer within 100 ms); the script
exits with status 1 if any response's median exceeds it.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lmmedu  # noqa: E402
from lmmedu.teach.widgets import CodingExplorer  # noqa: E402
from bench_nb05_explorer import report, timed  # noqa: E402

BUDGET_MS = 100.0
SIZE = (5.5, 3.6)  # the explorer's figure, in inches
PEER = "peer: new bare figure as PNG"


def peer():
    fig = Figure(figsize=SIZE)
    fig.subplots().plot([0, 1], [0, 1])
    fig.savefig(io.BytesIO(), format="png", dpi=96)


def ends(widget):
    """The first and last option of a control."""
    values = [v[1] if isinstance(v, tuple) else v for v in widget.options]
    return values[0], values[-1]


def cases(app):
    """Name -> one response of ``app``, each checked once to answer without a message."""
    out = {"explorer update only (defaults)": lambda: app.update(**app.settings()),
           "explorer run (defaults)": app.run}
    for control in app.controls:
        for value in ends(getattr(app, control)):
            out[f"explorer run ({control} = {value})"] = (lambda control=control, value=value:
                                                          app.run(**{control: value}))
    for name, func in out.items():
        func()  # warm caches (fonts, imports) and check that every setting answers
        if app.message.value:
            raise SystemExit(f"{name}: {app.message.value}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--first-visits", type=int, default=5,
                        help="new explorers built for the first-visit and build timings (default 5)")
    args = parser.parse_args(argv)
    sns.set_theme(style="whitegrid", palette="colorblind")  # as in the notebook
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    data = lmmedu.load_replicates("within")
    app = CodingExplorer(data)
    last_gene = ends(app.reference_gene)[1]
    responses = cases(app)
    peer()
    results = {PEER: timed(peer, args.repeats)}
    results.update({name: timed(func, args.repeats) for name, func in responses.items()})
    results[f"explorer run, first visit (reference_gene = {last_gene})"] = timed(
        lambda fresh: fresh.run(reference_gene=last_gene), args.first_visits, setup=lambda: CodingExplorer(data))
    results["building the explorer (once per notebook run)"] = timed(lambda: CodingExplorer(data), args.first_visits)
    ok = report(results, PEER, BUDGET_MS, "at the defaults, every control end and a first visit", width=60)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
