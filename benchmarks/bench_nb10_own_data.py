"""Response times of notebook 10's app (your own data), against peers measured in the same run.

Run from the repository root::

    python benchmarks/bench_nb10_own_data.py [--repeats 5]

Three responses of :class:`~lmmedu.teach.widgets.OwnDataApp`, on the shipped within design
(22,500 rows) and on one row in 20 of it (1,125 rows, the notebook's model-building path):

- **preview**: what every control change does (``check_choices``: the formula and the R line,
  no fit). Budget: 100 ms, CPU, on the full file; the script exits with status 1 above it.
- **Fit**: the lm and the mixed model with every tab filled, figures included (a button).
- **report**: the **Write the report** button, profile intervals included (once per fit).

Peers, same data, same run: statsmodels' ``ols`` of the fixed part (what a formula costs without
any random part) for the preview, and statsmodels' ``mixedlm`` of the random-intercept model
(the fit alone, no tables, no figures) for Fit and report. Wall and CPU time of this process are
reported; CPU time is the better guide on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402

from lmmedu import read_table  # noqa: E402
from lmmedu.teach.widgets import OwnDataApp  # noqa: E402

# One timing loop (median wall and CPU ms) for the widget benchmarks: notebook 05's.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nb05_explorer import timed  # noqa: E402

BUDGET_MS = 100.0
CHOICES = dict(response="length", log=True, fixed=["treatment", "gene"], interactions=True, groups=["replicate"])


def report_once(app):
    app.report = None  # the button computes once per fit; time that one computation
    app.write_report()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # singular fits warn; their time is what is measured
    full = read_table(ROOT / "data" / "replicates_within.csv")
    pilot = full.iloc[::20].reset_index(drop=True)
    rows = {}
    for label, data, slopes in (("22,500 rows, (1|replicate)", full, ()),
                                ("1,125 rows, (1 + treatment|replicate)", pilot, ("treatment",))):
        app = OwnDataApp(data.to_csv(index=False).encode(), **CHOICES, slopes=slopes)
        frame = data.assign(log_length=np.log(data["length"]))

        def toggle(app=app):
            app.interactions.value = not app.interactions.value  # one control change: the preview runs

        cases = {
            f"peer: statsmodels ols, fixed part [{label}]": lambda f=frame: smf.ols(
                "log_length ~ treatment * gene", f).fit(),
            f"preview, one control change [{label}]": toggle,
            f"peer: statsmodels mixedlm, (1|replicate) [{label}]": lambda f=frame: smf.mixedlm(
                "log_length ~ treatment * gene", f, groups=f["replicate"]).fit(),
            f"Fit: both models, every tab [{label}]": app.run,
            f"report: profile intervals, F, contrasts [{label}]": lambda app=app: report_once(app),
        }
        app.interactions.value = True
        app.run()
        for func in cases.values():  # warm caches (fonts, imports)
            func()
        app.interactions.value = True
        app.run()
        rows[label] = {name: timed(func, args.repeats) for name, func in cases.items()}
    print(f"{'case':72s} {'wall ms':>9s} {'cpu ms':>9s} {'cpu / peer':>11s}")
    ok = True
    for label, results in rows.items():
        names = list(results)
        for name, (wall, cpu) in results.items():
            peer = names[0] if name.startswith("preview") else names[2] if not name.startswith("peer") else name
            print(f"{name:72s} {wall:9.1f} {cpu:9.1f} {cpu / results[peer][1]:11.2f}")
        preview_cpu = results[names[1]][1]
        ok = ok and preview_cpu <= BUDGET_MS
    print(f"budget {BUDGET_MS:.0f} ms per control change (preview, CPU): {'met' if ok else 'EXCEEDED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
