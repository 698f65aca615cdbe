"""App mode (Voila): every widget app explains itself, and the app-mode tags are current.

The browser side (Voila renders each notebook without errors) is in tests/browser.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import re
from pathlib import Path

import nbformat
import pytest

from lmmedu.teach import widgets
from lmmedu.teach.widgets import App

ROOT = Path(__file__).resolve().parents[1]
APPS = sorted((obj for _, obj in inspect.getmembers(widgets, inspect.isclass)
               if issubclass(obj, App) and obj is not App), key=lambda c: c.__name__)


def _tagger():
    spec = importlib.util.spec_from_file_location("tag_app_cells", ROOT / "scripts" / "tag_app_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("app", APPS, ids=lambda c: c.__name__)
def test_every_app_has_a_title_line(app):
    # A title that is only markup (or missing) would leave a projected app without its question.
    assert app.title.strip(), f"{app.__name__} has no title"
    text = app.title.replace("<b>", "").replace("</b>", "").replace("<i>", "").replace("</i>", "")
    assert len(text.split()) >= 5 and ":" in text, app.title


def test_the_title_is_the_first_thing_an_app_shows():
    app = widgets.EnvironmentCheck()
    assert app.widget.children[0] is app.header
    assert "Widget check" in app.header.value
    assert "lmmedu-title" in app.header._dom_classes


def test_voila_config_removes_the_app_hide_tag():
    tagger = _tagger()
    config = json.loads((ROOT / "voila.json").read_text())
    assert config["VoilaExporter"]["TagRemovePreprocessor"]["remove_cell_tags"] == [tagger.TAG]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name[:2])
def test_app_mode_tags_are_current(path):
    # The lead re-runs scripts/tag_app_cells.py after merges; this says when that is needed.
    nb = nbformat.read(path, as_version=4)
    tagger = _tagger()
    expected = tagger.hidden_cells(nb)
    tagged = {c.id for c in nb.cells if tagger.TAG in c.metadata.get("tags", [])}
    assert tagged == expected, f"run: python scripts/tag_app_cells.py {path.relative_to(ROOT)}"


# What a cell says when it asks the learner to change code or run a cell: app mode (code hidden,
# no way to edit or run a cell) must never show it. A learner's guess (`my_...`) is named only in
# the cells that app mode leaves out.
ASKS_FOR_AN_EDIT = re.compile(r"\b[Rr]e-?run\b|\b[Rr]un (?:this|the|both|all)(?: next)? cells?\b|\b[Rr]un the check\b"
                              r"|\b(?:[Ww]rite|[Pp]ut|[Tt]ype)\b[^.]* into `|\bSet `|\bFill in `|`my_\w+`")


def _shown_text(cell):
    """What a cell kept in app mode can show: its markdown, or the string literals of its code."""
    if cell.cell_type == "markdown":
        return [cell.source]
    tree = _tagger()._parse(cell.source)
    if tree is None:
        return [cell.source]
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_the_edit_detector_finds_the_phrases_of_a_guess_check():
    for text in ("Set `my_n_units` above and rerun this cell.", "Write a share into `my_rate`, then run the check.",
                 "Write your predictions into the cell above and run both cells again.",
                 "write a number into `my_effect_", "Set `L_B` to a list of 6 numbers",
                 "Predict before you run the next cells: the lab can afford"):
        assert ASKS_FOR_AN_EDIT.search(text), text
    for text in ("Press <b>Run</b> to simulate.", "The data set `load_replicates(\"between\")` simulates this",
                 "Settings changed: press <b>Fit</b> to fit them."):
        assert not ASKS_FOR_AN_EDIT.search(text), text


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name[:2])
def test_app_mode_never_asks_for_an_edit(path):
    # A cell kept in app mode that says "set my_x and rerun" asks for what the page cannot do.
    tagger = _tagger()
    nb = nbformat.read(path, as_version=4)
    hidden = tagger.hidden_cells(nb)
    asking = [f"{cell.id}: {m.group(0)!r} in {text.strip()[:80]!r}" for cell in nb.cells if cell.id not in hidden
              for text in _shown_text(cell) for m in [ASKS_FOR_AN_EDIT.search(text)] if m]
    assert not asking, "cells kept in app mode ask for an edit:\n" + "\n".join(asking)


def test_a_check_that_asks_for_an_edit_is_hidden_with_its_guess():
    from nbformat.v4 import new_code_cell, new_notebook

    tagger = _tagger()
    nb = new_notebook(cells=[
        new_code_cell("data = 1", id="a"), new_code_cell("my_n = None", id="guess"),
        new_code_cell("units = data + 1\nprint(units)", id="fact"),
        new_code_cell("print('Set `my_n` and rerun.' if my_n is None else my_n == units)", id="verdict"),
        new_code_cell("print(units * 2)", id="later"),
    ])
    assert tagger.hidden_cells(nb) == {"guess", "verdict"}


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name[:2])
def test_app_mode_runs_no_check_against_an_empty_guess(path):
    # Nothing can be typed in app mode: a kept cell that reads `my_...` shows a verdict on a guess never made.
    tagger = _tagger()
    nb = nbformat.read(path, as_version=4)
    kept = tagger.checks_kept(nb)
    assert not kept, (f"app mode keeps {kept}, which read a learner's guess: split each verdict off into a cell "
                      "of its own that only reads the guess (see scripts/tag_app_cells.py)")
    guesses = [c.id for c in nb.cells if c.cell_type == "code" and c.id not in tagger.hidden_cells(nb)
               and tagger._is_guess(tagger._parse(c.source))]
    assert not guesses, f"app mode keeps the guess cells {guesses}"


def test_a_check_kept_for_its_names_is_reported():
    from nbformat.v4 import new_code_cell, new_notebook

    tagger = _tagger()
    together = new_notebook(cells=[
        new_code_cell("my_n = None", id="guess"),
        new_code_cell("units = 3\nprint(units, '' if my_n is None else my_n == units)", id="check"),
        new_code_cell("print(units * 2)", id="later"),
    ])
    assert tagger.checks_kept(together) == ["check"]
    apart = new_notebook(cells=[
        new_code_cell("my_n = None", id="guess"), new_code_cell("units = 3\nprint(units)", id="answer"),
        new_code_cell("print('No prediction entered.' if my_n is None else my_n == units)", id="verdict"),
        new_code_cell("print(units * 2)", id="later"),
    ])
    assert tagger.checks_kept(apart) == []
    assert tagger.hidden_cells(apart) == {"guess", "verdict"}
