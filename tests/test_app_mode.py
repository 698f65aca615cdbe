"""App mode (Voila): every widget app explains itself, and the app-mode tags are current.

The browser side (Voila renders each notebook without errors) is in tests/browser.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
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
