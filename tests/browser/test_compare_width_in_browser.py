"""``lmmedu.compare`` tables fit JupyterLab's output area, with one, two and three grouping factors.

A notebook written for this test shows :func:`lmmedu.compare` for notebook 02's one-factor model,
the two-factor expression model (``(week|probeset) + (1|sample)``) and two three-factor models: one
with the seed data's names (``treatment[T.drug]:gene[T.C]``, lab, replicate, day), one with the long
column, level and term names a learner's own data may have
(``treatment_group[T.high_dose]:cell_line[T.HEK293T_knockout]``, ``replicate_culture``). It runs in JupyterLab in a
1,280-px-wide window with the file browser open (an output area of about 848 px), and each output,
and the table inside it, must be no wider than the output area, with every data cell on one line
(``<2e-16`` must not break after its hyphen).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from test_notebooks_in_browser import LABEL_LAB_CELLS_JS, LAB_STATE_JS, OVERFLOW_JS, RUN_TIMEOUT_MS, _open_lab

ROOT = Path(__file__).resolve().parents[2]
NAME = "compare_widths.ipynb"

SETUP = f"""\
import numpy as np
import lmmedu
DATA = {str(ROOT / "data")!r}"""

ONE = """\
df = lmmedu.load_replicates("within", directory=DATA)
lmmedu.compare("log(length) ~ treatment + (1|replicate)", df[df["gene"] == "A"])"""

TWO = """\
d = lmmedu.read_table(DATA + "/expression_small.csv")
lmmedu.compare("values ~ week*genotype + (week|probeset) + (1|sample)", d)"""

# A learner's own data: long column and level names, a replicate inside a laboratory and an
# imaging session crossed with both, each with a real effect (so the fit is not singular).
THREE = """\
d = lmmedu.simulate_replicates(genes=("wild_type", "HEK293T_knockout", "HEK293T_rescue"), n_replicates=6, seed=5)
d = d.rename(columns={"treatment": "treatment_group", "gene": "cell_line", "replicate": "replicate_culture"})
d["treatment_group"] = d["treatment_group"].astype(str).replace({"drug": "high_dose"})
rng = np.random.default_rng(1)
codes = d["replicate_culture"].astype("category").cat.codes.to_numpy()
d["laboratory"] = np.where(codes < 3, "north_campus", "south_campus")
session = rng.integers(0, 5, len(d))
d["imaging_session"] = [f"session_{k}" for k in session]
d["length"] *= np.exp(np.where(codes < 3, 0.3, -0.3) + rng.normal(0, 0.2, 5)[session])
lmmedu.compare("log(length) ~ treatment_group*cell_line + (1|laboratory) + (1|replicate_culture) "
               "+ (1|imaging_session)", d)"""

# The names of the seed data, three grouping factors: 'treatment[T.drug]:gene[T.C]' and short groups.
THREE_SHORT = """\
d = lmmedu.simulate_replicates(n_replicates=6, seed=5)
rng = np.random.default_rng(1)
codes = d["replicate"].astype("category").cat.codes.to_numpy()
d["lab"] = np.where(codes < 3, "north", "south")
day = rng.integers(0, 5, len(d))
d["day"] = [f"d{k}" for k in day]
d["length"] *= np.exp(np.where(codes < 3, 0.3, -0.3) + rng.normal(0, 0.2, 5)[day])
lmmedu.compare("log(length) ~ treatment*gene + (1|lab) + (1|replicate) + (1|day)", d)"""

CELLS = {"one-factor": ONE, "two-factors": TWO, "three-factors": THREE, "three-short-names": THREE_SHORT}

# Per compare() output: the output area's width, the widest thing in it, the data cells whose
# text takes more than one line, and the term names' variables broken over lines.
WIDTHS_JS = """() => {
  const out = {};
  document.querySelectorAll('[data-lmmedu-cell]').forEach(cell => {
    const area = cell.querySelector('.jp-OutputArea-output');
    const tables = area ? Array.from(area.querySelectorAll('table')) : [];
    if (!tables.length) return;
    const table = tables.reduce((a, b) => (b.scrollWidth > a.scrollWidth ? b : a));
    const lines = el => {
      const range = document.createRange();
      range.selectNodeContents(el);
      return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size;
    };
    const wrapped = Array.from(area.querySelectorAll('td')).filter(td => lines(td) > 1).map(td => td.innerText);
    // A variable of a term name (one inline-block) that the browser still broke over lines.
    const broken = Array.from(area.querySelectorAll('tbody th > span')).filter(u => lines(u) > 1)
      .map(u => u.innerText);
    const columns = Array.from(table.querySelectorAll('tbody tr:first-child > *')).map(c => c.offsetWidth);
    out[cell.getAttribute('data-lmmedu-cell')] = {area: area.clientWidth, output: area.scrollWidth,
                                                  table: table.scrollWidth, tables: tables.length, wrapped: wrapped, broken: broken,
                                                  columns: columns};
  });
  return out;
}"""


def _write_notebook(root):
    # With a kernelspec, JupyterLab starts the kernel instead of asking which one.
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                                           "language": "python", "name": "python3"}})
    nb.cells = [nbformat.v4.new_code_cell(SETUP, id="setup")]
    nb.cells += [nbformat.v4.new_code_cell(source, id=key) for key, source in CELLS.items()]
    nbformat.write(nb, Path(root) / NAME)


def _screenshots(page):
    """With ``LMMEDU_SCREENSHOTS=DIR``, one PNG per compare() output, for a person to judge how it reads."""
    folder = os.environ.get("LMMEDU_SCREENSHOTS")
    if not folder:
        return
    out = Path(folder) / "compare"
    out.mkdir(parents=True, exist_ok=True)
    for key in CELLS:
        page.locator(f'[data-lmmedu-cell="{key}"] .jp-Cell-outputWrapper').first.screenshot(
            path=str(out / f"{key}.png"))


def test_compare_tables_fit_the_output_area(browser, lab):
    _write_notebook(lab[2])
    page = _open_lab(browser, lab, NAME)
    try:
        page.wait_for_function(f"(n) => ['done', 'error'].includes(({LAB_STATE_JS})(n).state)", arg=NAME,
                               timeout=RUN_TIMEOUT_MS, polling=500)
        state = page.evaluate(LAB_STATE_JS, NAME)
        assert state["state"] == "done", f"cell {state.get('cell')}: {state.get('error')}"
        page.evaluate(LABEL_LAB_CELLS_JS)
        widths = page.evaluate(WIDTHS_JS)
        print("\ncompare() widths at 1,280 px:", widths)
        _screenshots(page)
        assert set(widths) == set(CELLS), f"compare() tables rendered: {sorted(widths)}"
        # The window and the open file browser leave JupyterLab's usual output area (about 848 px).
        assert all(800 <= w["area"] <= 900 for w in widths.values()), widths
        for key, w in widths.items():
            assert w["table"] <= w["area"] and w["output"] <= w["area"] + 2, f"{key}: {w}"
            assert not w["wrapped"], f"{key}: data cells on more than one line: {w['wrapped']}"
            # Term names break between variables (after ':'), not inside one.
            assert not w["broken"], f"{key}: variables of term names broken over lines: {w['broken']}"
        overflow = page.evaluate(OVERFLOW_JS)
        assert not overflow, "\n".join(overflow)
    finally:
        page.context.close()
