"""Suite-wide pytest hook: a notebook that nbmake runs also fails on errors its cells do not raise.

nbmake fails a notebook when a cell raises, or when a cell's own outputs hold an error (a display
formatter that raises, e.g. pandas' HTML repr on an infinite value, is reported that way by IPython).
Two kinds of error pass it silently, though the learner sees them:

- errors inside an app: what an ``ipywidgets.Output`` captures (an app's tables, figures and messages)
  is stored in the notebook's widget state, not in the cell's outputs, so a formatter that raises
  there leaves the cell clean;
- tracebacks printed as text (``traceback.print_exc()``, a library that logs a caught exception).

After nbmake has run a notebook, :func:`hidden_errors` reads both places and the notebook fails with
the first one found, through nbmake's own failure report. The notebooks are executed once, by nbmake
(``--nbmake``); nothing here runs them again.
"""

from __future__ import annotations

TRACEBACK = "Traceback (most recent call last)"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _problem(output):
    """A one-line summary and the text of an output that shows an error, or None."""
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}", "\n".join(output.get("traceback", []))
    if output.get("output_type") == "stream" and TRACEBACK in output.get("text", ""):
        text = output["text"]
        last = [line for line in text.splitlines() if line.strip()][-1]
        return f"traceback printed to {output.get('name')}: {last}", text
    return None


def hidden_errors(nb):
    """Errors an executed notebook shows: in its cells' outputs and in its Output widgets.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        An executed notebook (its outputs and ``metadata.widgets``, as nbclient stores them).

    Returns
    -------
    list of (int, str, str)
        ``(cell index, summary, full text)`` per error; the cell index is -1 for an error inside a
        widget (the stored widget state does not say which cell displayed it).

    Examples
    --------
    >>> from nbformat.v4 import new_notebook, new_code_cell, new_output
    >>> nb = new_notebook(cells=[new_code_cell("df", outputs=[new_output("error", ename="OverflowError",
    ...                          evalue="cannot convert float infinity to integer", traceback=[])])])
    >>> [(i, s) for i, s, _ in hidden_errors(nb)]
    [(0, 'OverflowError: cannot convert float infinity to integer')]
    """
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            problem = _problem(output)
            if problem:
                found.append((index, *problem))
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for model in models.values():
        if model.get("model_name") != "OutputModel":
            continue
        for output in model.get("state", {}).get("outputs", []):
            problem = _problem(output)
            if problem:
                found.append((-1, f"in a widget's output: {problem[0]}", problem[1]))
    return found


def pytest_configure(config):
    try:
        from nbmake.nb_result import NotebookError
        from nbmake.nb_run import NotebookRun
    except ImportError:  # no nbmake: no notebooks are run
        return
    if getattr(NotebookRun.execute, "checks_hidden_errors", False):
        return
    run = NotebookRun.execute

    def execute(self):
        result = run(self)
        if result.error is None:
            errors = hidden_errors(result.nb)
            if errors:
                index, summary, text = errors[0]
                where = f"cell {index}" if index >= 0 else "an Output widget (an app's display)"
                result.error = NotebookError(
                    summary=summary, failing_cell_index=index,
                    trace=f"{len(errors)} error(s) shown without failing a cell; the first, in {where}:\n{text}")
        return result

    execute.checks_hidden_errors = True
    NotebookRun.execute = execute
