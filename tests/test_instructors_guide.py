"""The instructor guide (notebooks/INSTRUCTORS.md) stays true to the notebooks it schedules.

An instructor plans a day from the guide, not from the notebooks, so its numbers must follow the
notebooks: every notebook's times equal its header ("**Estimated time**: about N minutes ... a
M-minute slot"), every notebook is in the full day, every schedule's clock adds up, the
three-hour schedule is the start page's workshop table, and every widget app of
lmmedu.teach.widgets has a paragraph that names the notebook it is used in.

Notebook 10 is written in parallel; until its file exists, only its own checks are skipped.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import nbformat
import pytest

from lmmedu.teach import widgets

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
GUIDE = NOTEBOOK_DIR / "INSTRUCTORS.md"
NUMBERED = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb") if re.match(r"^\d{2}_", p.name))
#: The notebook written in parallel with the guide; its checks skip while its file is missing.
PENDING = "10_your_own_data.ipynb"

# | [01 Title](01_file.ipynb) | 60 min | 45 min | ...
TIMES_ROW = re.compile(r"^\|\s*\[[^\]]+\]\((\d{2}_[^)]+\.ipynb)\)\s*\|\s*(\d+)\s*min\s*\|\s*(\d+)\s*min\s*\|",
                       re.MULTILINE)
# | 0:10 to 0:55 | what | 01 |   (the notebook column may be empty: breaks, questions)
SLOT_ROW = re.compile(r"^\|\s*(\d{1,2}):(\d{2})\s+to\s+(\d{1,2}):(\d{2})\s*\|[^|\n]*\|\s*(\d{2})?\s*\|", re.MULTILINE)
# #### `AppName` (notebook 01, ...
APP_HEADING = re.compile(r"^####\s+`(\w+)`\s+\(notebook\s+(\d{2})", re.MULTILINE)
SCHEDULES = {"A": "### Schedule A", "B": "### Schedule B", "C": "### Schedule C"}


def _guide():
    return GUIDE.read_text(encoding="utf-8")


def _section(text, heading):
    """The text from a heading line that starts with ``heading`` to the next heading of that level or above."""
    start = text.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    rest = text[start + len(heading):]
    stop = re.search(rf"^#{{1,{level}}}\s", rest, re.MULTILINE)
    return rest[: stop.start()] if stop else rest


def _slots(text):
    """Schedule rows as (start minute, end minute, notebook number or None)."""
    return [(int(h1) * 60 + int(m1), int(h2) * 60 + int(m2), nb)
            for h1, m1, h2, m2, nb in SLOT_ROW.findall(text)]


def _times():
    """Notebook file -> (minutes on your own, minutes in a workshop) from the guide's table."""
    return {name: (int(own), int(slot)) for name, own, slot in TIMES_ROW.findall(_guide())}


def _header_times(name):
    """(about N minutes, the workshop slot if the header states one, else None) from a notebook header."""
    header = nbformat.read(NOTEBOOK_DIR / name, as_version=4).cells[0].source
    own = re.search(r"\*\*Estimated time\*\*:\s*about\s+(\d+)\s+minutes", header)
    assert own, f"{name}: the header should say '**Estimated time**: about N minutes ...'"
    slot = re.search(r"(\d+)-minute slot|first\s+(\d+)\s+minutes of the workshop", header)
    return int(own.group(1)), (int(slot.group(1) or slot.group(2)) if slot else None)


def _need(name):
    if not (NOTEBOOK_DIR / name).exists():
        if name == PENDING:
            pytest.skip(f"{name} is not written yet")
        pytest.fail(f"the guide names {name}, which does not exist in notebooks/")


def _apps():
    return sorted(name for name, obj in vars(widgets).items()
                  if inspect.isclass(obj) and issubclass(obj, widgets.App) and obj is not widgets.App)


# --- the guide's per-notebook times ----------------------------------------------------------


def test_the_guide_lists_every_notebook_once():
    listed = [name for name, _own, _slot in TIMES_ROW.findall(_guide())]
    assert len(listed) == len(set(listed)), f"a notebook appears twice in the guide's table: {listed}"
    missing = sorted(set(NUMBERED) - set(listed))
    assert not missing, f"the guide's table of notebooks lacks {missing}"
    assert PENDING in listed, f"the guide should already plan for {PENDING}"


@pytest.mark.parametrize("name", sorted(set(NUMBERED) | {PENDING}))
def test_guide_times_equal_the_notebook_header(name):
    _need(name)
    own, slot = _times()[name]
    header_own, header_slot = _header_times(name)
    assert own == header_own, f"{name}: the header says about {header_own} minutes, the guide {own} min"
    expected_slot = header_slot if header_slot is not None else header_own
    assert slot == expected_slot, (
        f"{name}: the header gives the workshop {expected_slot} minutes, the guide {slot} min")


# --- the schedules -----------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_each_schedule_slot_starts_where_the_previous_one_ended(schedule):
    slots = _slots(_section(_guide(), SCHEDULES[schedule]))
    assert len(slots) >= 3, f"schedule {schedule}: no clock rows found"
    for (start, end, _nb), (next_start, _next_end, _next_nb) in zip(slots, slots[1:]):
        assert end > start, f"schedule {schedule}: a slot ends before it starts ({start} to {end} min)"
        assert next_start == end, f"schedule {schedule}: a slot starts at minute {next_start}, the previous ended at {end}"


@pytest.mark.parametrize("schedule", ["A", "B"])
def test_the_three_hour_schedules_run_from_0_00_to_3_00(schedule):
    slots = _slots(_section(_guide(), SCHEDULES[schedule]))
    assert slots[0][0] == 0 and slots[-1][1] == 180, (
        f"schedule {schedule} runs from minute {slots[0][0]} to {slots[-1][1]}, not 0:00 to 3:00")


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_each_notebook_slot_lasts_as_long_as_the_notebook_says(schedule):
    times = _times()
    by_number = {name[:2]: name for name in times}
    for start, end, nb in _slots(_section(_guide(), SCHEDULES[schedule])):
        if not nb:
            continue
        assert nb in by_number, f"schedule {schedule} names notebook {nb}, which is not in the guide's table"
        own, slot = times[by_number[nb]]
        assert end - start in (own, slot), (
            f"schedule {schedule}: notebook {nb} gets {end - start} min; the guide's table (and its header) "
            f"allow {slot} (workshop) or {own} (on your own)")


def test_the_schedules_cover_the_right_notebooks():
    guide = _guide()
    covered = {key: [nb for _s, _e, nb in _slots(_section(guide, h)) if nb] for key, h in SCHEDULES.items()}
    for key, notebooks in covered.items():
        assert len(notebooks) == len(set(notebooks)), f"schedule {key} has a notebook twice: {notebooks}"
    assert covered["A"] == ["00", "01", "02", "03", "04"]
    assert covered["B"] == ["00", "05", "07", "08"]
    everything = sorted(name[:2] for name in set(NUMBERED) | {PENDING})
    assert covered["C"] == everything, f"the full day must schedule every notebook in order: {covered['C']}"


def test_schedule_a_is_the_start_page_workshop_table():
    start = nbformat.read(NOTEBOOK_DIR / "00_start_here.ipynb", as_version=4)
    page = "\n".join(c.source for c in start.cells if c.cell_type == "markdown")
    on_page = _slots(_section(page, "### 2. In a three-hour workshop"))
    assert on_page, "00_start_here no longer has the three-hour workshop table the guide follows"
    assert _slots(_section(_guide(), SCHEDULES["A"])) == on_page, (
        "schedule A of the guide and the workshop table of 00_start_here differ (clock or notebook)")


# --- the widgets -------------------------------------------------------------------------------


def test_the_app_list_is_found():
    assert {"EnvironmentCheck", "PseudoReplicationMachine"} <= set(_apps())


@pytest.mark.parametrize("app", _apps())
def test_every_app_has_a_demonstration_paragraph(app):
    named = dict(APP_HEADING.findall(_guide()))
    assert app in named, f"the guide has no '#### `{app}` (notebook NN, ...)' paragraph on how to demonstrate it"


@pytest.mark.parametrize("app, number", APP_HEADING.findall(GUIDE.read_text(encoding="utf-8")))
def test_each_app_paragraph_names_the_notebook_that_uses_it(app, number):
    assert app in _apps(), f"the guide describes `{app}`, which lmmedu.teach.widgets does not have"
    files = [name for name in set(NUMBERED) | {PENDING} if name.startswith(number + "_")]
    assert files, f"the guide says `{app}` is in notebook {number}, which does not exist"
    _need(files[0])
    nb = nbformat.read(NOTEBOOK_DIR / files[0], as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(rf"\b{app}\(", code), f"{files[0]} does not create `{app}`, as the guide says it does"


# --- the parsers themselves --------------------------------------------------------------------


def test_slot_rows_are_read():
    text = "| 0:00 to 0:10 | welcome | 00 |\n| 0:55 to 1:05 | break | |\n| 9:10 to 9:55 | x | 01 |"
    assert _slots(text) == [(0, 10, "00"), (55, 65, ""), (550, 595, "01")]


def test_times_rows_are_read():
    text = "| [01 Replicates](01_replicates.ipynb) | 60 min | 45 min | `PseudoReplicationMachine` |"
    assert TIMES_ROW.findall(text) == [("01_replicates.ipynb", "60", "45")]
