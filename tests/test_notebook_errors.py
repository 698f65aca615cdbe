"""Errors a notebook shows without failing a cell fail nbmake too (the hook in the root conftest.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
RAISING_REPR = ("class Table:\n    def _repr_html_(self):\n"
                "        raise OverflowError('cannot convert float infinity to integer')\n"
                "    def __repr__(self):\n        return 'Table'\n")


def _hook():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _with_output_widget(outputs):
    nb = new_notebook(cells=[new_code_cell("out", outputs=[])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "m1": {"model_name": "OutputModel", "state": {"outputs": outputs}},
        "m2": {"model_name": "HTMLModel", "state": {"value": "Traceback (most recent call last) is only text here"}},
    }}}
    return nb


def test_an_error_inside_an_output_widget_is_found():
    error = new_output("error", ename="OverflowError", evalue="cannot convert float infinity to integer",
                       traceback=["OverflowError: cannot convert float infinity to integer"])
    found = _hook().hidden_errors(_with_output_widget([error]))
    assert [(i, s) for i, s, _ in found] == [(-1, "in a widget's output: OverflowError: cannot convert float "
                                                  "infinity to integer")]


def test_a_printed_traceback_is_found_and_a_clean_notebook_passes():
    hook = _hook()
    printed = new_output("stream", name="stderr", text="Traceback (most recent call last):\n  File \"x\", line 1\n"
                                                        "ZeroDivisionError: division by zero\n")
    nb = new_notebook(cells=[new_code_cell("x", outputs=[new_output("stream", name="stdout", text="fine\n")]),
                             new_code_cell("y", outputs=[printed])])
    assert [(i, s) for i, s, _ in hook.hidden_errors(nb)] == [
        (1, "traceback printed to stderr: ZeroDivisionError: division by zero")]
    nb.cells.pop()
    assert hook.hidden_errors(nb) == []
    assert hook.hidden_errors(_with_output_widget([new_output("stream", name="stdout", text="ok\n")])) == []


def test_nbmake_fails_a_notebook_whose_app_display_raises(tmp_path):
    # One small kernel run: the formatter raises inside an Output widget, where nbmake alone sees nothing.
    pytest.importorskip("nbmake")
    from nbmake.nb_run import NotebookRun

    assert getattr(NotebookRun.execute, "checks_hidden_errors", False), "the root conftest.py hook is not installed"
    nb = new_notebook(cells=[new_code_cell(RAISING_REPR + "import ipywidgets\nout = ipywidgets.Output()\n"
                                           "with out:\n    display(Table())\nout")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "raising.ipynb"
    nbformat.write(nb, path)
    result = NotebookRun(path, 120).execute()
    assert result.error is not None, "an error inside an Output widget passed"
    assert "OverflowError" in result.error.summary and "Output widget" in result.error.trace
