"""Notebook 10 (your own data): the reader, the formula builder, the checklist and the app.

The app is driven as the notebook does (controls, ``run()``, ``load()``), without a browser;
every bad file or choice must end as one sentence in ``app.message``, never an exception.
"""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lmmedu
from lmmedu.data.read import check_numeric_text, missing_cells, r_csv, read_table
from lmmedu.teach.comparison import (INTERVAL_CAVEAT, PATH_STEPS, analyse_own_data, check_choices, choose_ddf,
                                     default_response, design_checklist, df_comparison, model_formula,
                                     own_data_contrasts, r_formula, simplify_random, singular_parts, software_versions,
                                     write_report)
from lmmedu.teach.widgets import OwnDataApp

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
WITHIN = DATA / "replicates_within.csv"
CHOICES = dict(response="length", log=True, fixed=["treatment", "gene"], interactions=True, groups=["replicate"])


@pytest.fixture(scope="module")
def small_within():
    """Every 20th row of the within design: the same design, fits in a blink."""
    return pd.read_csv(WITHIN).iloc[::20].reset_index(drop=True)


@pytest.fixture
def small_csv(tmp_path, small_within):
    path = tmp_path / "small.csv"
    small_within.to_csv(path, index=False)
    return path


def one_sentence(app):
    text = html.unescape(re.sub("<[^>]+>", "", app.message.value))
    assert text and "Traceback" not in text
    return text


# --- reading -------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(DATA.glob("*.csv")), ids=lambda p: p.name)
def test_every_shipped_csv_reads_like_pandas(path):
    data = read_table(path)
    plain = pd.read_csv(path)
    assert list(data.columns) == list(plain.columns) and len(data) == len(plain)
    for col in plain.columns:
        assert (pd.api.types.is_numeric_dtype(data[col]) == pd.api.types.is_numeric_dtype(plain[col]))


def test_an_r_export_reads_as_r_wrote_it(small_within):
    frame = small_within.rename(columns={"length": "cell.length", "treatment": "drug.arm"})
    frame.loc[3, "cell.length"] = np.nan
    text = r_csv(frame)
    assert text.startswith('"","replicate","gene","drug.arm","cell.length"\n"1",') and ",NA\n" in text
    data = read_table(text.encode())
    assert list(data.columns) == list(frame.columns)  # R's row names are gone
    assert data["cell.length"].isna().sum() == 1
    assert missing_cells(data, ["cell.length"])["line"].tolist() == [5]  # header is line 1, row 3 is line 5


def test_semicolon_file_with_decimal_commas(small_within):
    text = small_within.to_csv(index=False, sep=";").replace(".", ",")
    data = read_table(text.encode())
    assert data.attrs["lmmedu_source"]["sep"] == ";"
    np.testing.assert_allclose(data["length"], small_within["length"])


@pytest.mark.parametrize("source, needle", [
    (b"", "empty"), (b"a,b\n", "no data rows"), (b"PK\x03\x04rest", "Excel"),
])
def test_bad_files_are_one_sentence(source, needle):
    with pytest.raises(ValueError, match=needle):
        read_table(source)


def test_text_in_a_numeric_column_names_the_line(small_within):
    frame = small_within.astype({"length": object})
    frame.loc[6, "length"] = "<0.1"
    data = read_table(frame.to_csv(index=False).encode())
    with pytest.raises(ValueError, match=r"column 'length' holds numbers but line 8 has '<0.1'"):
        check_numeric_text(data, ["length"])
    check_numeric_text(data, ["gene"])  # a real text column is fine


# --- formulas --------------------------------------------------------------------------

def test_formula_quotes_odd_names_and_r_spelling():
    f = model_formula("cell.length", ["drug arm", "gene"], ["replicate"], log=True, slopes=["drug arm"])
    assert f == 'log(Q("cell.length")) ~ Q("drug arm") + gene + (1 + Q("drug arm") | replicate)'
    assert r_formula(f) == "log(cell.length) ~ `drug arm` + gene + (1 + `drug arm` | replicate)"
    with pytest.raises(ValueError, match="grouping factor"):
        model_formula("y", ["x"], [])
    with pytest.raises(ValueError, match="both as response and as grouping"):
        model_formula("y", [], ["y"])
    with pytest.raises(ValueError, match="fixed terms too"):
        model_formula("y", ["a"], ["g"], slopes=["b"])


# --- the checklist ----------------------------------------------------------------------

def test_checklist_between_design_counts_replicates_not_rows():
    data = lmmedu.load_replicates("between")
    check = lmmedu.checklist("log(length) ~ treatment + (1|replicate)", data)
    assert list(check.columns) == ["step", "item", "about", "finding", "verdict", "detail"]
    rows = check.set_index(["item", "about"])
    units = rows.loc[("units behind the effect", "treatment[T.drug]")]
    assert units["finding"] == "4 levels of replicate" and units["verdict"] == "caution"
    assert "2 with treatment[T.drug] = 0, 2 with treatment[T.drug] = 1" in units["detail"]
    assert rows.loc[("where it varies", "treatment / replicate"), "finding"] == "between only"
    assert "random slope" not in set(check["item"])  # the drug cannot vary within a replicate here
    df = rows.loc[("df", "treatment[T.drug]")]
    assert df["verdict"] == "caution" and float(df["finding"]) < 4


def test_checklist_suggests_a_random_slope_and_sees_a_singular_fit(small_within):
    check = design_checklist("log(length) ~ treatment + (1|replicate)", small_within)
    slope = check[check["item"] == "random slope"].iloc[0]
    assert slope["about"] == "treatment | replicate" and slope["verdict"] == "suggestion"
    assert "(1 + treatment | replicate)" in slope["detail"]
    # The shipped data have no replicate-to-replicate variation of the drug effect: the slope SD is estimated at 0.
    with_slope = lmmedu.fit("log(length) ~ treatment + (1 + treatment|replicate)", small_within)
    check2 = design_checklist("log(length) ~ treatment + (1 + treatment|replicate)", small_within, fit=with_slope)
    rows = check2.set_index("item")
    assert rows.loc["random slope", "finding"] == "in the model"
    assert (rows.loc["singular fit", "finding"] == "singular") == with_slope.singular
    assert with_slope.singular


@pytest.fixture(scope="module")
def within_data():
    return lmmedu.load_replicates("within")


def test_checklist_df_verdict_follows_the_units_behind_the_term(within_data):
    # Thousands of df for a drug effect that varies within 4 replicates, with no random slope, are a warning:
    # they count rows while 4 replicates carry the effect.
    check = lmmedu.checklist("log(length) ~ treatment*gene + (1|replicate)", within_data)
    rows = check.set_index(["item", "about"])
    df = rows.loc[("df", "treatment[T.drug]")]
    assert float(df["finding"].replace(",", "")) > 1000 and df["verdict"] == "caution"
    assert "same in every level of replicate" in df["detail"] and "nearer 3" in df["detail"]
    assert rows.loc[("units behind the effect", "treatment[T.drug]"), "finding"] == "4 levels of replicate"
    # Both spellings of a replicate-specific drug effect count as the slope being in the model, with small df.
    for random_part in ("(1 + treatment|replicate)", "(1|replicate) + (1|replicate:treatment)"):
        check = lmmedu.checklist(f"log(length) ~ treatment*gene + {random_part}", within_data)
        rows = check.set_index(["item", "about"])
        assert rows.loc[("random slope", "treatment | replicate"), "finding"] == "in the model"
        assert float(rows.loc[("df", "treatment[T.drug]"), "finding"]) < 10
        # gene's effect is still assumed the same in every replicate: its thousands of df stay a warning.
        assert rows.loc[("df", "gene[T.B]"), "verdict"] == "caution"
        assert not any(check["about"].str.contains("replicate:treatment", regex=False)
                       & (check["item"] == "random slope"))


def test_checklist_df_ok_when_the_levels_are_many():
    # A between term has df near the number of groups, and nothing is assumed away: with 20 groups (about 18
    # df, well above SMALL_DF) the df are ok.
    data = lmmedu.simulate_replicates(genes=("A",), n_replicates=20, design="between", obs_per_replicate=20, seed=4)
    check = lmmedu.checklist("log(length) ~ treatment + (1|replicate)", data)
    assert check.set_index(["item", "about"]).loc[("df", "treatment[T.drug]"), "verdict"] == "ok"


def test_checklist_says_six_variance_parameters_from_four_replicates_will_be_singular(within_data):
    check = lmmedu.checklist("log(length) ~ treatment*gene + (1|replicate)", within_data)
    rows = check.set_index(["item", "about"])
    gene = rows.loc[("random slope", "gene | replicate"), "detail"]
    assert "6 variance parameters from 4 levels" in gene and "almost surely be singular" in gene
    assert "can support" not in gene
    drug = rows.loc[("random slope", "treatment | replicate"), "detail"]
    assert "3 variance parameters from 4 levels" in drug and "may come out singular" in drug
    assert "(1 | replicate) + (1 | replicate:treatment)" in drug


def test_checklist_needs_a_grouping_factor(small_within):
    with pytest.raises(ValueError, match="grouping factor"):
        lmmedu.checklist("log(length) ~ treatment", small_within)


def test_checklist_can_fail_few_units_is_a_problem():
    data = lmmedu.simulate_replicates(genes=("A",), n_replicates=2, design="within", obs_per_replicate=30, seed=3)
    check = lmmedu.checklist("log(length) ~ treatment + (1|replicate)", data)
    units = check.set_index(["item", "about"]).loc[("units behind the effect", "treatment[T.drug]")]
    assert units["verdict"] == "problem"


# --- the app ------------------------------------------------------------------------------

def test_app_without_a_file_asks_for_one():
    app = OwnDataApp()
    assert "Load a CSV file" in one_sentence(app)
    assert app.run() is None


@pytest.mark.parametrize("name, choices", [
    ("replicates_within.csv", CHOICES),
    ("replicates_between.csv", CHOICES),
    ("expression_small.csv", dict(response="values", fixed=["week", "genotype"], interactions=True,
                                  groups=["sample"])),
])
def test_app_runs_on_every_shipped_csv(name, choices):
    app = OwnDataApp(str(DATA / name), **choices)
    assert app.message.value == "" and app.formula in html.unescape(app.formula_view.value)
    result = app.run()
    assert result is not None, app.message.value
    assert result.formula == app.formula
    assert set(result.comparison.table.index) == set(result.meanings["term"])
    assert result.checklist["verdict"].isin(["ok", "caution", "problem", "suggestion"]).all()
    for view in (app.comparison_view, app.meanings_view, app.contrasts_view, app.checklist_view):
        assert "<table" in view.value
    assert app.residual_plot.value[:4] == b"\x89PNG" and app.modes_plot.value[:4] == b"\x89PNG"
    assert "lmerTest" in result.r_code or "lmer(" in result.r_code


def test_app_on_an_r_export_with_dotted_names(tmp_path, small_within):
    frame = small_within.rename(columns={"length": "cell.length", "treatment": "drug.arm"})
    frame.loc[[3, 10], "cell.length"] = np.nan
    path = tmp_path / "from_r.csv"
    path.write_text(r_csv(frame))
    app = OwnDataApp(str(path), response="cell.length", log=True, fixed=["drug.arm"], groups=["replicate"])
    assert app.formula == 'log(Q("cell.length")) ~ Q("drug.arm") + (1 | replicate)'
    assert "lmer(log(cell.length) ~ drug.arm + (1 | replicate)" in app.formula_view.value
    assert "Empty cells: cell.length in 2 rows (the first on line 5)" in app.formula_view.value
    result = app.run()
    assert result is not None, app.message.value
    assert result.comparison.lmm.nobs == len(frame) - 2
    assert any("line 5" in n for n in result.notes)


def test_loading_another_file_clears_the_old_results(small_csv):
    app = OwnDataApp(str(DATA / "replicates_between.csv"), **CHOICES)
    assert app.run() is not None and "<table" in app.checklist_view.value
    app.path.value = str(small_csv)
    app.load_button.click()
    assert app.result is None and app.checklist_view.value == "" and app.residual_plot.value == b""
    assert len(app.data) == 1125 and app.formula == "log(length) ~ treatment * gene + (1 | replicate)"


def test_app_loads_an_upload(small_within):
    app = OwnDataApp()
    app.upload.value = ({"name": "mine.csv", "type": "text/csv", "size": 1,
                         "content": memoryview(small_within.to_csv(index=False).encode()),
                         "last_modified": datetime.datetime(2026, 1, 1)},)
    assert app.data is not None and "'mine.csv'" in html.unescape(app.source.value)
    app.groups.value = ("replicate",)
    assert app.formula == "length ~ 1 + (1 | replicate)"


def test_app_reads_a_semicolon_file(tmp_path, small_within):
    path = tmp_path / "excel.csv"
    path.write_text(small_within.to_csv(index=False, sep=";").replace(".", ","))
    app = OwnDataApp(str(path), **CHOICES)
    assert "semicolons" in app.source.value and app.message.value == ""
    result = app.run()
    reference = lmmedu.fit(app.formula, small_within)
    np.testing.assert_allclose(result.comparison.lmm.coefs["estimate"], reference.coefs["estimate"], rtol=1e-6)


def _edit(frame, **cells):
    frame = frame.copy()
    for col, (row, value) in cells.items():
        frame[col] = frame[col].astype(object)
        frame.loc[row, col] = value
    return frame


@pytest.mark.parametrize("change, needle", [
    (dict(response="gene", log=False), "The response 'gene' holds text"),
    (dict(groups=("site",)), "only one level"),
    (dict(groups=("row_id",)), "different value in every row"),
    (dict(response="nope"), "The column 'nope' is not in the loaded file"),
    (dict(slopes=("treatment",), fixed=("gene",)), "fixed terms too"),
    (dict(groups=(),), "at least one grouping factor"),
])
def test_bad_choices_are_one_sentence(small_csv, small_within, tmp_path, change, needle):
    frame = small_within.assign(site="A", row_id=range(len(small_within)))
    path = tmp_path / "plus.csv"
    frame.to_csv(path, index=False)
    app = OwnDataApp(str(path), **CHOICES)
    assert app.message.value == ""
    assert app.run(**change) is None
    assert needle in one_sentence(app)


def test_a_slope_that_cannot_vary_is_refused():
    app = OwnDataApp(str(DATA / "replicates_between.csv"), **CHOICES)
    assert app.run(slopes=("treatment",)) is None
    assert "needs treatment to vary inside the levels of replicate" in one_sentence(app)


def test_non_positive_values_under_log(tmp_path, small_within):
    path = tmp_path / "zero.csv"
    small_within.assign(length=np.where(np.arange(len(small_within)) == 4, 0.0, small_within["length"])).to_csv(
        path, index=False)
    app = OwnDataApp(str(path), **CHOICES)
    assert "log(length) needs positive values, but 1 row is zero or negative (line 6: 0)" in one_sentence(app)
    app.log.value = False  # the preview clears the message: without log the model is fine
    assert app.message.value == "" and app.formula.startswith("length ~")


def test_text_typo_in_the_response_names_its_line(tmp_path, small_within):
    path = tmp_path / "typo.csv"
    _edit(small_within, length=(9, "12,5")).to_csv(path, index=False)
    app = OwnDataApp(str(path), **CHOICES)
    assert "line 11 has '12,5'" in one_sentence(app)


@pytest.mark.parametrize("content, needle", [
    (b"", "the file is empty"),
    (b"a;b;c\n", "no data rows"),
    (b"a:b:c\n1:2:3\n4:5:6\n", "one column only"),
    (b"PK\x03\x04\x00\x00", "Excel workbook"),
])
def test_bad_files_in_the_app(content, needle):
    app = OwnDataApp()
    assert app.load(content, name="'mine.csv'") is None
    assert needle in one_sentence(app)


def test_missing_path_in_the_app(tmp_path):
    app = OwnDataApp()
    app.path.value = str(tmp_path / "nowhere.csv")
    app.load_button.click()
    assert "no such file" in one_sentence(app)


def test_every_response_choice_previews_without_raising(small_csv):
    app = OwnDataApp(str(small_csv), **CHOICES)
    for _, column in app.response.options:
        for log in (False, True):
            app.log.value = log
            app.response.value = column
            assert (app.formula is None) == bool(app.message.value)


def test_check_choices_and_contrasts_are_plain_functions(small_within):
    formula, notes = check_choices(read_table(WITHIN), **CHOICES)
    assert formula == "log(length) ~ treatment * gene + (1 | replicate)" and notes == []
    fit = lmmedu.fit(formula, small_within)
    table = own_data_contrasts(fit, log=True)
    assert table["gene"].astype(str).tolist() == ["A", "B", "C"]
    assert table["contrast"].tolist() == ["drug / control"] * 3 and "sentence" in table.columns
    diff = own_data_contrasts(lmmedu.fit("length ~ treatment + (1|replicate)", small_within))
    assert diff["contrast"].tolist() == ["drug - control"]


def test_the_analysis_is_what_the_app_shows(small_within):
    # The app's Fit is this one function plus two figures: the same formula, notes and tables.
    a = analyse_own_data(small_within, **CHOICES)
    app = OwnDataApp(small_within.to_csv(index=False).encode(), **CHOICES)
    shown = app.run()
    assert a.formula == shown.formula == "log(length) ~ treatment * gene + (1 | replicate)"
    assert a.r_code == shown.r_code and a.notes == shown.notes
    pd.testing.assert_frame_equal(a.checklist, shown.checklist)
    assert 'contrast(emmeans(m, ~ treatment | gene, type = "response"), "trt.vs.ctrl"' in a.r_code
    assert a.residuals.attrs and not any("Q(" in str(v) for v in a.residuals.attrs.values())
    with pytest.raises(ValueError, match="Pick at least one grouping factor"):
        analyse_own_data(small_within, "length", groups=())


def test_checklist_names_a_missing_column(small_within):
    with pytest.raises(ValueError, match="'treatmnt' is not in the data"):
        lmmedu.checklist("log(length) ~ treatmnt + (1|replicate)", small_within)


def test_the_command_line_reads_an_r_export_with_the_same_reader(tmp_path, small_within, capsys):
    from lmmedu.__main__ import main

    frame = small_within.rename(columns={"length": "cell.length"})
    frame.loc[2, "cell.length"] = np.nan
    path = tmp_path / "from_r.csv"
    path.write_text(r_csv(frame))
    assert main(["fit", str(path), 'log(Q("cell.length")) ~ treatment + (1|replicate)']) == 0
    captured = capsys.readouterr()
    assert f"Number of obs: {len(frame) - 1}" in captured.out
    assert captured.err.startswith("warning: 1 of")


# --- an R export as a learner brings it (tests/fixtures/own_data/r_write_csv_mice.csv) ----------
# Written as R's write.csv writes: a "" row-name column, NA for missing values, a column name with
# a space ("cell area", the measured value), a dose coded 0/1/2, a batch coded 1/2 as the last
# numeric column, 7 mice of which m7 has one row. Missing: cell area on lines 6 and 22, dose on line 16.
MICE = ROOT / "tests" / "fixtures" / "own_data" / "r_write_csv_mice.csv"
MICE_CHOICES = dict(response="cell area", log=True, fixed=["treatment", "dose"], groups=["mouse"])


def test_the_r_export_of_mice_reads_as_r_wrote_it():
    data = read_table(MICE)
    assert list(data.columns) == ["mouse", "treatment", "dose", "cell area", "batch"]
    assert data["cell area"].isna().sum() == 2 and data["dose"].isna().sum() == 1
    assert (data["mouse"] == "m7").sum() == 1 and data["mouse"].nunique() == 7


def test_a_new_file_starts_with_the_measured_column_as_response():
    # Not the last numeric column (batch 1/2), nor the dose code 0/1/2: the one with measured values.
    app = OwnDataApp(str(MICE))
    assert app.response.value == "cell area"
    assert default_response(read_table(MICE)) == "cell area"
    ids = pd.DataFrame({"id": range(1, 11), "count": [3, 9, 4, 12, 7, 5, 8, 11, 6, 10], "plate": [1, 2] * 5})
    assert default_response(ids) == "count"


def test_empty_cells_are_counted_per_column():
    notes = check_choices(read_table(MICE), **MICE_CHOICES, slopes=())[1]
    note = next(n for n in notes if n.startswith("Empty cells"))
    assert "cell area in 2 rows (the first on line 6)" in note and "dose in 1 row (line 16)" in note
    assert "(34 of 37 rows used)" in note
    # Without dose among the choices its empty cell is not counted.
    note = next(n for n in check_choices(read_table(MICE), "cell area", True, ["treatment"], False, ["mouse"])[1]
                if n.startswith("Empty cells"))
    assert "dose" not in note and "(35 of 37 rows used)" in note


def test_the_status_follows_the_fit_button():
    app = OwnDataApp(str(MICE), **MICE_CHOICES)
    seen = []
    app.status.observe(lambda change: seen.append(change["new"]), names="value")
    app.button.click()
    assert seen[0] == app.running and "Fitting" in app.running
    assert seen[-1].startswith("Fitted")
    app.groups.value = ("mouse", "batch")
    assert app.status.value == "Choices changed: press <b>Fit</b> to fit them."
    for text in (app.running, app.changed, app.status.value, *seen):
        assert "Run" not in text and "simulat" not in text, text


def test_a_failed_fit_clears_the_tabs_and_says_so_by_the_button():
    app = OwnDataApp(str(MICE), **MICE_CHOICES)
    assert app.run() is not None and "<table" in app.comparison_view.value
    app.fixed.value = ("treatment", "dose", "mouse")  # mouse is also the grouping factor
    assert app.run() is None
    assert "Could not fit" in app.message.value
    assert app.result is None and app.comparison_view.value == "" and app.residual_plot.value == b""
    assert app.status.value == app.not_fitted
    children = list(app.widget.children)
    # The message sits between the Fit button's row and the tabs, not under the tabs.
    button_row = next(i for i, c in enumerate(children) if app.button in getattr(c, "children", ()))
    assert children.index(app.message) == button_row + 1 < children.index(app.tabs)
    app.fixed.value = ("treatment", "dose")
    assert app.status.value == app.not_fitted  # nothing fitted is on screen to be current or stale
    assert app.run() is not None and app.message.value == "" and app.status.value.startswith("Fitted")


def test_figures_and_reasons_speak_the_learners_names(monkeypatch):
    import lmmedu.teach.widgets.own_data as own

    texts = []

    def capture(fig, dpi=96):
        texts.extend(t.get_text() for t in fig.findobj(own.matplotlib.text.Text) if t.get_text())
        return b"png"

    monkeypatch.setattr(own, "png", capture)
    app = OwnDataApp(str(MICE), **MICE_CHOICES)
    assert app.run() is not None, app.message.value
    assert any("log(cell area)" in t for t in texts), texts
    assert not [t for t in texts if "Q(" in t]
    shown = html.unescape(app.comparison_view.value)
    assert "the 7 mice" in shown and "mouses" not in shown


def test_diagnostics_titles_and_labels_do_not_overprint(monkeypatch):
    # Two grouping factors with a random slope each: four panels of conditional modes.
    import lmmedu.teach.widgets.own_data as own

    overlaps = []

    def check(fig, dpi=96):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for ax in fig.axes
                 for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text()]
        overlaps.extend((a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
                        if box_a.overlaps(box_b))
        own.plt.close(fig)
        return b"png"

    monkeypatch.setattr(own, "png", check)
    app = OwnDataApp(str(MICE), response="cell area", log=True, fixed=["treatment"], groups=["mouse", "batch"],
                     slopes=["treatment"])
    assert app.run() is not None, app.message.value
    assert not overlaps, overlaps


# --- the model-building path and the report -------------------------------------------------

SLOPE = "log(length) ~ treatment*gene + (1 + treatment|replicate)"


@pytest.fixture(scope="module")
def singular_slope(small_within):
    return lmmedu.fit(SLOPE, small_within)


def test_the_checklist_follows_the_path_in_order(small_within, singular_slope):
    check = design_checklist(SLOPE, small_within, fit=singular_slope)
    steps = [s.step for s in PATH_STEPS]
    assert set(check["step"]) <= set(steps)
    positions = [steps.index(s) for s in check["step"]]
    assert positions == sorted(positions)  # design first, df method last, as the path
    rows = check.set_index("item")
    assert rows.loc["singular fit", "finding"] == "singular" and "simplify" in rows.loc["singular fit", "detail"]
    assert rows.loc["REML", "verdict"] == "ok"
    # 4 replicates: the path chooses Kenward-Roger, and the checklist suggests it for a Satterthwaite fit.
    assert rows.loc["df method", "verdict"] == "suggestion" and "Kenward-Roger" in rows.loc["df method", "detail"]
    ml = lmmedu.fit("log(length) ~ treatment + (1|replicate)", small_within, reml=False)
    ml_rows = design_checklist("log(length) ~ treatment + (1|replicate)", small_within, fit=ml).set_index("item")
    assert ml_rows.loc["REML", "verdict"] == "caution" and "refit by REML" in ml_rows.loc["REML", "detail"]


def test_a_singular_slope_is_found_and_simplified_as_the_design_allows(small_within, singular_slope):
    # A singular case: on 1,125 rows the slope's correlation with the intercept is estimated at -1.
    assert singular_slope.singular
    parts = singular_parts(singular_slope)
    assert parts["parameter"].tolist() == ["correlation of Intercept and treatment[T.drug]"]
    # On the boundary by the fit's own criterion (relative Cholesky diagonal < 1e-4, lme4's isSingular): with the
    # slope SD about a tenth of the residual SD, |correlation| is within 1e-5 of 1.
    assert abs(parts["estimate"].iloc[0]) == pytest.approx(1, abs=1e-5)
    formula, why = simplify_random(singular_slope)
    assert formula == "log(length) ~ treatment*gene + (1 | replicate) + (1 | replicate:treatment)"
    assert "correlation at +/-1" in why
    simpler = lmmedu.fit(formula, small_within)
    assert not simpler.singular and singular_parts(simpler).empty
    assert simplify_random(simpler)[0] is None


def test_a_variance_at_zero_with_nothing_to_drop_is_kept():
    data = lmmedu.simulate_replicates(genes=("A",), n_replicates=4, design="within", replicate_sd=0.0,
                                      replicate_treatment_sd=0.0, obs_per_replicate=20, seed=5)
    m = lmmedu.fit("log(length) ~ treatment + (1|replicate)", data)
    if not m.singular:
        pytest.skip("this draw estimated the replicate SD above zero")
    assert singular_parts(m)["parameter"].tolist() == ["SD of Intercept"]
    formula, why = simplify_random(m)
    assert formula is None and "keep it" in why


def test_the_df_method_follows_the_number_of_groups(small_within):
    four = lmmedu.fit("log(length) ~ treatment + (1|replicate)", small_within)
    assert choose_ddf(four)[0] == "Kenward-Roger" and "only 4 levels" in choose_ddf(four)[1]
    many = lmmedu.simulate_replicates(genes=("A",), n_replicates=20, design="between", obs_per_replicate=20, seed=4)
    assert choose_ddf(lmmedu.fit("log(length) ~ treatment + (1|replicate)", many))[0] == "Satterthwaite"


def test_df_comparison_puts_both_methods_side_by_side(small_within):
    m = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate) + (1|replicate:treatment)", small_within)
    coefs = df_comparison(m)
    kr = lmmedu.fit(m.formula, small_within, ddf="KR")
    np.testing.assert_allclose(coefs["df_kenward_roger"], kr.coefs["df"], rtol=1e-10)
    np.testing.assert_allclose(coefs["df_satterthwaite"], m.coefs["df"], rtol=1e-10)
    # Kenward-Roger counts fewer df for the drug effect, which 4 replicates carry.
    drug = coefs.loc["treatment[T.drug]"]
    assert drug["df_kenward_roger"] < drug["df_satterthwaite"]
    terms = df_comparison(m, of="terms")
    assert terms.index.tolist() == ["treatment", "gene", "treatment:gene"]
    np.testing.assert_allclose(terms["df_kenward_roger"], lmmedu.anova(kr)["den_df"], rtol=1e-10)
    assert (terms["same_conclusion"] == ((terms["p_satterthwaite"] < 0.05) == (terms["p_kenward_roger"] < 0.05))).all()
    with pytest.raises(ValueError, match="Kenward-Roger needs a REML fit"):
        df_comparison(lmmedu.fit(m.formula, small_within, reml=False))
    with pytest.raises(ValueError, match="of must be 'coefficients' or 'terms'"):
        df_comparison(m, of="rows")


def test_the_report_is_filled_from_the_fit(small_within):
    m = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate) + (1|replicate:treatment)", small_within)
    check = design_checklist(m.formula, small_within, fit=m)
    report = write_report(m, log=True, checklist=check)
    text = report.markdown
    assert report.ddf == report.fit.ddf == "Kenward-Roger" and report.fit.reml
    assert "replicate: 4 levels" in text and "1,125 measurements" in text
    assert "`lmer(log(length) ~ treatment*gene + (1|replicate) + (1|replicate:treatment), data = d)`" in text
    ci = report.intervals
    assert ci.attrs["method"] == "profile"
    sd = ci.loc["sd_Intercept|replicate"]
    assert f"{sd['estimate']:.3g} (95% CI {sd['lower']:.3g} to {sd['upper']:.3g})" in text
    assert INTERVAL_CAVEAT in text and "not singular" in text
    f = report.f_table.loc["treatment"]
    assert f"treatment: F(1, {f['den_df']:.1f}) = {f['F']:.2f}" in text
    for sentence in report.effects["sentence"]:
        assert sentence in text
    versions = software_versions()
    for r in versions.itertuples():
        assert (f"{r.package} {r.version}" if r.language == "Python" else r.package) in text
    assert set(versions["package"]) >= {"lmmedu", "numpy", "scipy", "pandas", "statsmodels", "lme4", "lmerTest",
                                        "pbkrtest", "emmeans"}


def test_the_report_of_a_singular_ml_fit_says_so(small_within, singular_slope):
    ml = lmmedu.fit(SLOPE, small_within, reml=False)
    report = write_report(ml, log=True, ddf="Satterthwaite")
    assert report.fit.reml and "refitted by REML" in report.markdown
    assert "The fit is singular (correlation of Intercept and treatment[T.drug] in replicate)" in report.markdown
    assert any("Singular fit" in n for n in report.notes)


def test_the_report_needs_a_mixed_model(small_within):
    with pytest.raises(ValueError, match="write_report needs a mixed model from lmmedu.fit"):
        write_report(lmmedu.fit_lm("log(length) ~ treatment", small_within))


def test_the_app_writes_the_report_once_per_fit_on_its_button(small_csv):
    app = OwnDataApp(str(small_csv), **CHOICES, slopes=["treatment"])
    assert app.report is None and app.report_view.value == app.report_prompt
    app.report_button.click()  # at the defaults, before Fit: one sentence, no report
    assert "press Fit first" in one_sentence(app) and app.report is None
    assert app.run() is not None
    app.report_button.click()
    report = app.report
    assert report is not None and report.fit.formula == app.formula
    shown = html.unescape(re.sub("<[^>]+>", "", app.report_view.value))
    assert "Experimental units." in shown and "Software." in shown and INTERVAL_CAVEAT in shown
    assert "The fit is singular" in shown and "Notes on the intervals" in shown
    app.report_button.click()
    assert app.report is report  # computed once per fit: the profile intervals are the slow part
    app.interactions.value = False  # other choices: the report waits for a new Fit
    app.report_button.click()
    assert "press Fit first" in one_sentence(app)
    assert app.run() is not None and app.report is None and app.report_view.value == app.report_prompt


def test_the_path_matches_lmertest_pbkrtest_and_lme4():
    # tests/r/make_own_data_path_fixtures.R walks 10's path in R on the same pilot (every 20th row).
    import hashlib
    import json

    fx = json.loads((ROOT / "tests" / "fixtures" / "own_data" / "path.json").read_text())
    assert hashlib.md5((ROOT / fx["data_file"]).read_bytes()).hexdigest() == fx["data_md5"]
    pilot = read_table(ROOT / fx["data_file"]).iloc[::20].reset_index(drop=True)
    assert len(pilot) == fx["nobs"]
    m1 = lmmedu.fit(fx["slope_model"]["formula"], pilot)
    assert m1.singular == fx["slope_model"]["isSingular"]
    assert singular_parts(m1)["estimate"].iloc[0] == pytest.approx(fx["slope_model"]["corr"], abs=1e-5)
    simpler, _ = simplify_random(m1)
    m2 = lmmedu.fit(simpler, pilot)
    assert m2.singular == fx["simplified_model"]["isSingular"]
    r = pd.DataFrame(fx["simplified_model"]["coefficients"])
    ours = df_comparison(m2)
    # The REML criteria agree to 1e-11, but the surface is flat in the small replicate:treatment SD: the two
    # optimisers place its theta 3e-5 apart (relative), and the df and p move with it by up to 1e-4 and 1e-3.
    for col, rtol in [("df_satterthwaite", 2e-4), ("df_kenward_roger", 2e-4), ("p_satterthwaite", 2e-3),
                      ("p_kenward_roger", 2e-3)]:
        np.testing.assert_allclose(ours[col].to_numpy(), r[col].to_numpy(), rtol=rtol, err_msg=col)
    terms = df_comparison(m2, of="terms")
    for key, method in [("anova_satterthwaite", "satterthwaite"), ("anova_kenward_roger", "kenward_roger")]:
        a = pd.DataFrame(fx["simplified_model"][key]).set_index("term")
        np.testing.assert_allclose(terms[f"df_{method}"], a.loc[terms.index, "den_df"], rtol=2e-4)
    # Profile limits within 1% of the interval's width, as tests/test_confint.py: lme4 splines a coarse profile.
    ci = write_report(m2, log=True).intervals
    for row in fx["simplified_model"]["profile"]:
        name = row["parameter"].replace("(Intercept)", "Intercept")
        width = row["upper"] - row["lower"]
        assert ci.loc[name, "lower"] == pytest.approx(row["lower"], abs=0.01 * width), name
        assert ci.loc[name, "upper"] == pytest.approx(row["upper"], abs=0.01 * width), name
