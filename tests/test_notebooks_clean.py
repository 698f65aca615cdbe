"""Notebooks are committed clean: valid nbformat 4, no outputs, a python3 kernel.

Outputs in git make diffs unreadable, can leak paths or stale numbers that
disagree with the code, and would be shown on Binder before a learner runs
anything. `make strip` clears them.
"""

from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _ids(paths):
    return [str(p.relative_to(NOTEBOOK_DIR)) for p in paths]


def test_there_are_notebooks_to_check():
    assert any(p.name == "00_start_here.ipynb" for p in NOTEBOOKS), "notebooks/00_start_here.ipynb is missing"


@pytest.fixture(params=NOTEBOOKS, ids=_ids(NOTEBOOKS))
def notebook(request):
    path = request.param
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    return path, nb


def test_is_valid_nbformat_v4(notebook):
    path, nb = notebook
    assert nb.nbformat == 4, f"{path.name} is nbformat {nb.nbformat}, expected 4"
    nbformat.validate(nb)


def test_code_cells_have_no_outputs_or_execution_counts(notebook):
    path, nb = notebook
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: code cells {dirty} carry outputs or execution counts; run `make strip`"


def test_no_saved_widget_state(notebook):
    # Saved widget state is an output in disguise: it shows stale values on load.
    path, nb = notebook
    assert "widgets" not in nb.metadata, f"{path.name} has saved widget state in its metadata; remove metadata.widgets"


def test_kernelspec_is_python3(notebook):
    path, nb = notebook
    spec = nb.metadata.get("kernelspec", {})
    assert spec.get("name") == "python3", f"{path.name} kernelspec is {spec.get('name')!r}, expected 'python3'"
    assert spec.get("language") == "python", f"{path.name} kernelspec language is {spec.get('language')!r}"
