"""Cost of notebook 07 top to bottom, cell by cell, and of its widget's preview and default run.

Run from the repository root::

    python benchmarks/bench_nb07.py

The notebook's code cells run in one in-process IPython shell (figures are drawn and closed, not
rendered to PNG, so nbmake adds the PNG encoding and the kernel start on top). For every cell
the script prints CPU time and wall time; on a machine shared with other work, wall time grows
and CPU time does not, so both are shown. As a peer measured in the same run, the script times
one ``log(length) ~ treatment + (1|replicate)`` fit of the notebook's first example and reports
the notebook's CPU time as a number of such fits, a figure that does not depend on the machine.

Budgets: the notebook within 20 s on 2 cores (issue 9); the widget's preview within 0.3 s (issue 12).
The script exits with status 1 if the CPU time exceeds 20 s or the preview 0.3 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOTEBOOK = ROOT / "notebooks" / "07_pvalues_and_model_comparison.ipynb"
BUDGET_NOTEBOOK_S, BUDGET_PREVIEW_S = 20.0, 0.3


def _reference_fit_seconds(repeats=15):
    import numpy as np

    import lmmedu
    from lmmedu.teach.studies import simulate_groups

    data = simulate_groups(np.random.default_rng(2027), n_groups=4, group_size=20, icc=0.2)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        lmmedu.fit("log(length) ~ treatment + (1|replicate)", data)
        times.append(time.process_time() - start)
    return statistics.median(times)


def _run_notebook():
    import matplotlib
    import nbformat

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell

    plt.show = lambda *args, **kwargs: plt.close("all")
    shell = InteractiveShell.instance()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    rows = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cpu, wall = time.process_time(), time.perf_counter()
        result = shell.run_cell(cell.source, silent=True)
        if result.error_in_exec is not None or result.error_before_exec is not None:
            raise SystemExit(f"cell {cell.id} failed: {result.error_in_exec or result.error_before_exec}")
        rows.append((cell.id, time.process_time() - cpu, time.perf_counter() - wall))
    return rows


def _widget():
    from lmmedu.teach.widgets import WaldVsTMachine

    app = WaldVsTMachine()
    times = []
    for value in (5, 6, 4, 8, 4):
        start = time.perf_counter()
        app.n_groups.value = value  # a Run-button app: a slider change only previews
        times.append(time.perf_counter() - start)
    cpu, wall = time.process_time(), time.perf_counter()
    app.run()
    return statistics.median(times), time.process_time() - cpu, time.perf_counter() - wall


def main() -> int:
    import io
    import contextlib

    unit = _reference_fit_seconds()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rows = _run_notebook()
    cpu = sum(r[1] for r in rows)
    wall = sum(r[2] for r in rows)
    print(f"{'cell':32s} {'cpu s':>7s} {'wall s':>7s}")
    for cell_id, c, w in sorted(rows, key=lambda r: -r[1])[:8]:
        print(f"{cell_id:32s} {c:7.2f} {w:7.2f}")
    print(f"{'all ' + str(len(rows)) + ' code cells':32s} {cpu:7.2f} {wall:7.2f}")
    print(f"peer: one (1|replicate) fit = {unit * 1000:.1f} ms CPU; the notebook costs {cpu / unit:,.0f} such fits")
    preview, run_cpu, run_wall = _widget()
    print(f"widget preview (median of 5 slider moves): {preview * 1000:.1f} ms; default Run: {run_cpu:.2f} s CPU, "
          f"{run_wall:.2f} s wall ({run_cpu / unit:,.0f} reference fits)")
    ok = cpu <= BUDGET_NOTEBOOK_S and preview <= BUDGET_PREVIEW_S
    if not ok:
        print("over budget", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
