"""Execute notebooks and record what they show, to check that a refactor changed nothing.

Writes a JSON file with, per notebook, the SHA-256 of every PNG figure and the text of every
output (HTML with pandas' random Styler ids replaced); ``--compare A.json B.json`` lists the
figures and outputs that differ, ignoring numbers followed by a time unit. seaborn's strip-plot
jitter draws from numpy's global random state, unseeded, so every cell runs after
``numpy.random.seed(0)``; otherwise the same code draws different figures on every run.
A table of measured times (notebook 08's fit-time table) differs by nature; read the cells
listed before concluding anything. Give notebook paths as absolute paths.

Usage (from a checkout, with the lab environment)::

    PYTHONPATH=$PWD python scripts/notebook_outputs.py before.json notebooks/01_*.ipynb ...
    python scripts/notebook_outputs.py --compare before.json after.json
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

PREAMBLE = "import numpy as _np\nget_ipython().events.register('pre_run_cell', lambda *a: _np.random.seed(0))"
TIMING = re.compile(r"\d+(\.\d+)?\s*(s|ms|seconds|sec|min)\b")
STYLER_ID = re.compile(r"T_[0-9a-f]{5}")


def record(paths):
    import nbformat
    from nbclient import NotebookClient

    out = {}
    for path in map(Path, paths):
        node = nbformat.read(path, as_version=4)
        node.cells.insert(0, nbformat.v4.new_code_cell(PREAMBLE))
        NotebookClient(node, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        figs, texts = [], []
        for i, cell in enumerate(node.cells[1:]):
            for o in cell.get("outputs", []):
                data = o.get("data", {})
                if "image/png" in data:
                    figs.append([i, hashlib.sha256(base64.b64decode(data["image/png"])).hexdigest()])
                for kind in ("text/html", "text/plain"):
                    if kind in data:
                        texts.append([i, STYLER_ID.sub("T_id", data[kind])])
                        break
                if o.get("output_type") == "stream":
                    texts.append([i, o["text"]])
        out[path.name] = {"figs": figs, "texts": texts}
        print(f"{path.name}: {len(figs)} figures, {len(texts)} outputs", flush=True)
    return out


def compare(a, b):
    same = True
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            print(f"{name}: only in one file")
            same = False
            continue
        figs = a[name]["figs"] == b[name]["figs"]
        ta = [[i, TIMING.sub("T", t)] for i, t in a[name]["texts"]]
        tb = [[i, TIMING.sub("T", t)] for i, t in b[name]["texts"]]
        cells = sorted({x[0] for x, y in zip(ta, tb) if x != y}) + ([] if len(ta) == len(tb) else ["count"])
        print(f"{name}: {len(a[name]['figs'])} figures {'identical' if figs else 'DIFFER'}; "
              f"outputs differing in cells {cells}" if cells else
              f"{name}: {len(a[name]['figs'])} figures {'identical' if figs else 'DIFFER'}; outputs identical")
        same &= figs and not cells
    return same


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        sys.exit(0 if compare(*(json.loads(Path(p).read_text()) for p in sys.argv[2:4])) else 1)
    Path(sys.argv[1]).write_text(json.dumps(record(sys.argv[2:]), indent=1))
