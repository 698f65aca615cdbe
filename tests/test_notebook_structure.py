"""Every numbered notebook is an episode a learner can follow alone and an instructor can teach from.

Checks the conventions of the notebooks (Carpentries-style episodes, PDSH-style navigation):
a header with questions, objectives and a time estimate; navigation links that lead to files
that exist; key points at the end; at least two exercises, each with a hidden solution; a
"predict, then check" moment; instructor notes marked as such; and no typed-in results in prose
(numbers in markdown should come from code).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NUMBERED = sorted(p for p in NOTEBOOK_DIR.glob("*.ipynb") if re.match(r"^\d{2}_", p.name))

NAV_CONTENTS = "[contents](00_start_here.ipynb)"
EXERCISE = re.compile(r"^###\s+Exercise\s+\d+", re.MULTILINE)
# A markdown link target: [text](target "optional title").
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# A decimal with three or more decimals looks like a result pasted from output.
TYPED_RESULT = re.compile(r"(?<![\w.])\d+\.\d{3,}(?![\w.])")
FENCED = re.compile(r"```.*?```", re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def _load(path):
    return nbformat.read(path, as_version=4)


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _prose(source):
    """Markdown without code blocks and inline code (code may quote numbers verbatim)."""
    return INLINE_CODE.sub("", FENCED.sub("", source))


@pytest.fixture(params=NUMBERED, ids=[p.name for p in NUMBERED])
def notebook(request):
    return request.param, _load(request.param)


def test_the_first_three_lessons_exist():
    names = {p.name for p in NUMBERED}
    for name in ("00_start_here.ipynb", "01_replicates_and_pseudoreplication.ipynb",
                 "02_one_gene_lm_vs_lmer.ipynb"):
        assert name in names


def test_header_has_questions_objectives_time_and_navigation(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{path.name}: the first cell must be markdown"
    assert first.source.lstrip().startswith("# "), f"{path.name}: the first cell must start with a # title"
    for word in ("**Questions**", "**Objectives**", "**Estimated time**"):
        assert word in first.source, f"{path.name}: the first cell lacks {word}"
    assert NAV_CONTENTS in first.source, f"{path.name}: the first cell lacks the nav line with {NAV_CONTENTS}"
    if path.name != "00_start_here.ipynb":
        assert "[previous" in first.source, f"{path.name}: the nav line lacks a [previous](...) link"


def test_last_cell_has_key_points_and_navigation(notebook):
    path, nb = notebook
    last = nb.cells[-1]
    assert last.cell_type == "markdown", f"{path.name}: the last cell must be markdown"
    assert "Key points" in last.source, f"{path.name}: the last cell must list the Key points"
    assert NAV_CONTENTS in last.source, f"{path.name}: the last cell lacks the nav line"


def test_nav_lines_agree_and_follow_the_numbering(notebook):
    path, nb = notebook
    nav = [line for line in nb.cells[0].source.splitlines() if NAV_CONTENTS in line]
    assert nav and nav[0] in nb.cells[-1].source, f"{path.name}: first and last nav lines differ"
    number = int(path.name[:2])
    links = LINK.findall(nav[0])
    later = [p for p in NUMBERED if int(p.name[:2]) == number + 1]
    if later:
        assert later[0].name in links, f"{path.name}: the nav line does not link to the next notebook {later[0].name}"
    earlier = [p for p in NUMBERED if int(p.name[:2]) == number - 1]
    if earlier:
        assert earlier[0].name in links, f"{path.name}: the nav line does not link to {earlier[0].name}"


def test_every_local_link_points_to_an_existing_file(notebook):
    path, nb = notebook
    broken = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for target in LINK.findall(_prose(cell.source)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # web links and anchors
            local = unquote(target.split("#", 1)[0])
            if local and not (path.parent / local).exists():
                broken.append((i, target))
    assert not broken, f"{path.name}: links to missing files (cell, target): {broken}"


def test_at_least_two_exercises_each_with_a_solution(notebook):
    path, nb = notebook
    cells = nb.cells
    starts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and EXERCISE.search(c.source)]
    assert len(starts) >= 2, f"{path.name}: needs at least two '### Exercise N' cells, found {len(starts)}"
    for i in starts:
        # The solution comes after the exercise and before the next exercise or section.
        solved = False
        for cell in cells[i + 1:]:
            if "solution" in _tags(cell):
                solved = True
                break
            if cell.cell_type == "markdown" and (EXERCISE.search(cell.source) or cell.source.startswith("## ")):
                break
        assert solved, f"{path.name}: exercise in cell {i} has no solution-tagged cell after it"


def test_solutions_are_collapsed(notebook):
    path, nb = notebook
    for i, cell in enumerate(nb.cells):
        if "solution" not in _tags(cell):
            continue
        if cell.cell_type == "code":
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, (
                f"{path.name}: solution code cell {i} must have metadata jupyter.source_hidden = true"
            )
        else:
            assert "<details>" in cell.source and "<summary>" in cell.source, (
                f"{path.name}: solution markdown cell {i} must be a <details><summary>Solution</summary> block"
            )


def test_there_is_a_predict_then_check_moment(notebook):
    path, nb = notebook
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"\bPredict\b", prose), f"{path.name}: no 'Predict' prompt in the markdown"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code" and "solution" not in _tags(c))
    assert re.search(r"^my_\w+\s*=", code, re.MULTILINE), (
        f"{path.name}: no cell where the learner writes a prediction (a variable named my_...)"
    )


def test_instructor_notes_are_tagged(notebook):
    path, nb = notebook
    for i, cell in enumerate(nb.cells):
        is_note = cell.cell_type == "markdown" and cell.source.lstrip().startswith("> **Instructor note:**")
        tagged = "instructor" in _tags(cell)
        assert is_note == tagged, (
            f"{path.name}: cell {i} must both start with '> **Instructor note:**' and carry the 'instructor' tag"
        )


def test_no_typed_results_in_markdown(notebook):
    path, nb = notebook
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found += [(i, m) for m in TYPED_RESULT.findall(_prose(cell.source))]
    assert not found, (
        f"{path.name}: markdown holds numbers that look typed in from output (cell, number): {found}; "
        "compute them in code and show them with display(Markdown(...))"
    )


# --- the heuristics themselves ------------------------------------------------------


def test_typed_result_heuristic():
    assert TYPED_RESULT.findall(_prose("the SE was 0.0123 and df 3.489")) == ["0.0123", "3.489"]
    assert TYPED_RESULT.findall(_prose("ICC 0.05, 4 replicates, 22,500 rows, version 3.11.2")) == []
    assert TYPED_RESULT.findall(_prose("code `x = 0.12345` and\n```\n1.23456\n```\n")) == []


def test_link_pattern_reads_targets():
    text = "< [previous](01_a.ipynb) | [contents](00_start_here.ipynb) | [web](https://x.org/a) >"
    assert LINK.findall(text) == ["01_a.ipynb", "00_start_here.ipynb", "https://x.org/a"]


def test_start_page_times_match_the_notebook_headers():
    # The self-paced table in 00 lists each notebook's time; each header says "about N minutes".
    start = _load(NOTEBOOK_DIR / "00_start_here.ipynb")
    table = "\n".join(c.source for c in start.cells if c.cell_type == "markdown")
    listed = dict(re.findall(r"^\|\s*\[[^\]]+\]\(([^)]+\.ipynb)\)\s*\|[^|]*\|\s*(\d+)\s*min\s*\|", table, re.MULTILINE))
    assert set(listed) == {p.name for p in NUMBERED}, "the self-paced table must list every numbered notebook"
    for path in NUMBERED:
        header = _load(path).cells[0].source
        stated = re.search(r"\*\*Estimated time\*\*:\s*about\s+(\d+)\s+minutes", header)
        assert stated, f"{path.name}: the header should say 'Estimated time: about N minutes ...'"
        assert stated.group(1) == listed[path.name], (
            f"{path.name} says {stated.group(1)} minutes but 00_start_here lists {listed[path.name]}"
        )
