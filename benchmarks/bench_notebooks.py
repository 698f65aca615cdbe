"""Run notebooks top to bottom in a fresh kernel; report run time and the kernel's peak memory.

Run from the repository root::

    python benchmarks/bench_notebooks.py                       # every notebooks/NN_*.ipynb
    python benchmarks/bench_notebooks.py notebooks/08_*.ipynb  # some of them
    python benchmarks/bench_notebooks.py --slowest 5 --json out.json notebooks/08_case_study_gene_expression.ipynb

Each notebook runs in its own new kernel (as ``jupyter nbconvert --execute`` or nbmake would), with
this checkout first on ``PYTHONPATH`` so the kernel imports this checkout's lmmedu, and with the
notebook's folder as working directory.  After the last cell one extra cell, not part of the
notebook, reads the kernel's peak resident memory (``ru_maxrss`` of the kernel process and of any
children it waited for, and ``VmHWM`` from /proc where available), so the figure is the peak of
the kernel that ran the notebook, imports included.

Reported per notebook:

- ``run s``: from the first cell's start to the last cell's end (what a learner waits for after
  "Run all"; kernel start-up excluded), from the cells' execution timestamps;
- ``wall s``: the whole execution including kernel start-up and shutdown;
- ``kernel CPU s``: CPU time of the kernel (imports included). On a busy machine ``run s`` is
  inflated by other work; the CPU time is not, and with one busy thread at a time an idle
  machine runs the notebook in about that time;
- ``peak MB``: the kernel's peak resident memory;
- the slowest cells (``--slowest N``), by cell id, so one knows where the time goes.

Budgets: 20 s for every notebook (issue 9: top to bottom on 2 cores, with room for Binder's
slower CPUs) and 1.5 GB of memory for each (Binder gives 2 GB in all); the last lines give the
largest peak.  The machine's load average is printed before and after, since other work on the
machine inflates the times.  Exit status 1 if a
notebook fails or misses a budget.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: Seconds allowed per notebook, by number; others get DEFAULT_SECONDS.  Empty: issue 9 holds
#: every notebook, the full-scale case study 08 included, to the same 20 s.
SECONDS_BUDGET: dict[str, float] = {}
DEFAULT_SECONDS = 20.0
MEMORY_BUDGET_MB = 1536.0

# Runs in the kernel after the notebook's last cell.
_PROBE = """
import json as _json, resource as _resource
def _vm_hwm_kb():
    try:
        with open("/proc/self/status") as _fh:
            for _line in _fh:
                if _line.startswith("VmHWM:"):
                    return int(_line.split()[1])
    except OSError:
        return None
_self = _resource.getrusage(_resource.RUSAGE_SELF)
_children = _resource.getrusage(_resource.RUSAGE_CHILDREN)
print("__bench__" + _json.dumps({
    "memory_kb": {"self": _self.ru_maxrss, "children": _children.ru_maxrss, "vm_hwm": _vm_hwm_kb()},
    "cpu_s": _self.ru_utime + _self.ru_stime + _children.ru_utime + _children.ru_stime,
}))
"""


def default_notebooks() -> list[Path]:
    """The numbered notebooks ``notebooks/NN_*.ipynb``, in name order."""
    return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if re.match(r"^\d{2}_", p.name))


def budget_seconds(path: Path) -> float:
    return SECONDS_BUDGET.get(path.name[:2], DEFAULT_SECONDS)


def _stamp(cell, key):
    value = cell.get("metadata", {}).get("execution", {}).get(key)
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _kernel_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def run_notebook(path: Path, timeout: int = 600, kernel_name: str = "python3") -> dict:
    """Execute ``path`` in a fresh kernel; return timings, peak memory and any error.

    Parameters
    ----------
    path : Path
        The notebook.
    timeout : int
        Seconds allowed per cell.
    kernel_name : str
        Jupyter kernel to start.

    Returns
    -------
    dict
        ``notebook``, ``run_s``, ``wall_s``, ``peak_mb``, ``cpu_s``, ``cells`` (list of (id, seconds)),
        ``error`` (str, empty when the notebook ran to the end).
    """
    nb = nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)
    probe = nbformat.v4.new_code_cell(_PROBE)
    probe.id = "bench-probe"
    nb.cells.append(probe)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    old_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(_kernel_env())  # the kernel inherits the environment of this process
    error = ""
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as exc:  # a failing cell: report it, keep benchmarking the others
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    finally:
        wall = time.perf_counter() - start
        os.environ.clear()
        os.environ.update(old_env)

    timings = []
    for cell in nb.cells[:n_cells]:
        if cell.cell_type != "code":
            continue
        begin, end = _stamp(cell, "iopub.execute_input"), _stamp(cell, "shell.execute_reply")
        if begin and end:
            timings.append((cell.get("id", "?"), begin, end))
    run = (timings[-1][2] - timings[0][1]).total_seconds() if timings else float("nan")
    peak_kb, cpu = None, float("nan")
    for out in nb.cells[-1].get("outputs", []):
        text = out.get("text", "")
        if "__bench__" in text:
            info = json.loads(text.split("__bench__", 1)[1].splitlines()[0])
            peak_kb = max(v for v in info["memory_kb"].values() if v is not None)
            cpu = float(info["cpu_s"])
    return {
        "notebook": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
        "run_s": run,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mb": peak_kb / 1024 if peak_kb else float("nan"),
        "cells": [(cid, (e - b).total_seconds()) for cid, b, e in timings],
        "error": error,
    }


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    parser.add_argument("--slowest", type=int, default=3, help="how many of the slowest cells to list (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    paths = [p.resolve() for p in args.notebooks] or default_notebooks()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"no such notebook(s): {missing}", file=sys.stderr)
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"python {platform.python_version()}, {cores} cores, load average before: {_load()}")
    results, status = [], 0
    for path in paths:
        res = run_notebook(path, timeout=args.timeout)
        res["budget_s"], res["budget_mb"] = budget_seconds(path), MEMORY_BUDGET_MB
        over = []
        if res["error"]:
            over.append(f"FAILED ({res['error']})")
        if not res["run_s"] <= res["budget_s"]:
            over.append(f"over {res['budget_s']:.0f} s")
        if not res["peak_mb"] <= MEMORY_BUDGET_MB:
            over.append(f"over {MEMORY_BUDGET_MB:.0f} MB")
        status |= bool(over)
        slow = sorted(res["cells"], key=lambda c: -c[1])[:args.slowest]
        print(f"{path.name}: run {res['run_s']:.1f} s (budget {res['budget_s']:.0f} s), wall {res['wall_s']:.1f} s, "
              f"kernel CPU {res['cpu_s']:.1f} s, "
              f"kernel peak {res['peak_mb']:.0f} MB (budget {MEMORY_BUDGET_MB:.0f} MB)"
              + (f"  <-- {'; '.join(over)}" if over else "  ok"))
        if slow:
            print("    slowest cells: " + ", ".join(f"{cid} {s:.1f} s" for cid, s in slow))
        results.append(res)
    measured = [r for r in results if r["peak_mb"] == r["peak_mb"]]
    if measured:
        top = max(measured, key=lambda r: r["peak_mb"])
        total = sum(r["wall_s"] for r in results)
        print(f"largest kernel peak: {top['peak_mb']:.0f} MB ({Path(top['notebook']).name}; budget "
              f"{MEMORY_BUDGET_MB:.0f} MB); {len(results)} notebooks, {total:.0f} s wall in all")
    print(f"load average after: {_load()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
