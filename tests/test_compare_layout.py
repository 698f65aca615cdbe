"""The HTML of lmmedu.compare (lmmedu.teach.comparison.layout): narrow enough for a notebook, nothing left out.

The real width is measured in a browser (tests/browser/test_compare_width_in_browser.py); here the
HTML is read back into cells and checked against the comparison's own numbers: every value of
:meth:`Comparison.display_table` appears once (the lm's df once, in its header), term names break
only where they should, and the ``varies`` columns are beside the numbers or in a table of their
own right under them.
"""

from html.parser import HTMLParser

import numpy as np
import pytest

import lmmedu
from lmmedu.teach.comparison import compare, layout

ONE = "log(length) ~ treatment*gene + (1|replicate)"
TWO = "values ~ week*genotype + (week|probeset) + (1|sample)"
THREE = "log(length) ~ treatment*gene + (1|lab) + (1|replicate) + (1|day)"


class _Tables(HTMLParser):
    """Every table of a page as rows of (tag, attributes, text, raw inner HTML) cells."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self._cell, self._raw = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = [tag, dict(attrs), ""]
            self._raw = []
        elif self._cell is not None:
            self._raw.append(self.get_starttag_text())

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append((*self._cell, "".join(self._raw)))
            self._cell = None
        elif self._cell is not None:
            self._raw.append(f"</{tag}>")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[2] += data
            self._raw.append(data)


def _tables(cmp):
    parser = _Tables()
    parser.feed(cmp._repr_html_())
    return parser.tables


def _body(table):
    """Term -> data cell texts, for the rows that start with a term (the body)."""
    return {row[0][2]: [c[2] for c in row[1:]] for row in table if row and row[0][0] == "th" and row[0][2]
            and all(c[0] == "td" for c in row[1:]) and len(row) > 1}


@pytest.fixture(scope="module")
def one():
    return compare(ONE, lmmedu.load_replicates("within"))


@pytest.fixture(scope="module")
def two():
    return compare(TWO, lmmedu.simulate_expression(n_probesets=150, seed=5))


@pytest.fixture(scope="module")
def three():
    # Replicates inside two labs, and an imaging day crossed with both; each with a real effect.
    d = lmmedu.simulate_replicates(n_replicates=6, obs_per_replicate=120, seed=5)
    rng = np.random.default_rng(1)
    codes = d["replicate"].astype("category").cat.codes.to_numpy()
    d["lab"] = np.where(codes < 3, "north", "south")
    day = rng.integers(0, 5, len(d))
    d["day"] = [f"d{k}" for k in day]
    d["length"] *= np.exp(np.where(codes < 3, 0.3, -0.3) + rng.normal(0, 0.3, 5)[day])
    return compare(THREE, d)


@pytest.mark.parametrize("name", ["one", "two", "three"])
def test_every_value_is_shown_once_and_the_lm_df_in_the_header(name, request):
    cmp = request.getfixturevalue(name)
    shown = cmp.display_table()
    tables = _tables(cmp)
    numbers = _body(tables[0])
    assert list(numbers) == list(shown.index)
    varies = [c for c in shown.columns if c.startswith("varies_")]
    if len(tables) == 2:
        beside = _body(tables[1])
        assert list(beside) == list(shown.index)
        rows = {t: numbers[t] + beside[t] for t in numbers}
    else:
        rows = numbers
    # The lm's df is one number (n minus the coefficients): said once, in the lm's header.
    lm_df = f"{cmp.lm.df_resid:,}"
    assert set(shown["df_lm"]) == {lm_df}
    assert f"(df {lm_df} for every term)" in " ".join(c[2] for c in tables[0][0])
    columns = [c for c in shown.columns if c != "df_lm" and c not in varies] + varies
    for term, cells in rows.items():
        assert cells == [shown.loc[term, c] for c in columns], term


@pytest.mark.parametrize("name", ["one", "two", "three"])
def test_data_cells_never_wrap(name, request):
    # "<2e-16" broke after its hyphen in JupyterLab: no data cell may wrap, in any table.
    cells = [c for table in _tables(request.getfixturevalue(name)) for row in table for c in row if c[0] == "td"]
    assert cells and all(c[1].get("style") == "white-space: nowrap" for c in cells)
    assert "<2e-16" in [c[2] for c in cells]


def test_one_and_two_factors_keep_varies_beside_the_numbers(one, two):
    for cmp, groups in ((one, ["replicate"]), (two, ["probeset", "sample"])):
        tables = _tables(cmp)
        assert len(tables) == 1
        assert [c[2] for c in tables[0][1][-len(groups):]] == [f"by {g}" for g in groups]
        assert "How each term varies" not in cmp._repr_html_()


def test_three_factors_put_varies_in_a_table_under_the_numbers(three):
    html = three._repr_html_()
    tables = _tables(three)
    assert len(tables) == 2
    assert "varies" not in " ".join(c[2] for row in tables[0] for c in row if c[0] == "th")
    assert [c[2] for c in tables[1][1]] == ["by lab", "by replicate", "by day"]
    # Right under the numbers, before the reasons.
    assert html.index("How each term varies") < html.index("Why each row moved")
    assert html.index("</table>") < html.index("How each term varies")
    assert _body(tables[1])["treatment[T.drug]"] == list(three.table.loc["treatment[T.drug]", ["varies_lab",
                                                                                               "varies_replicate",
                                                                                               "varies_day"]])


def test_term_names_break_after_colons_not_inside_a_variable(two):
    term = next(row[0] for row in _tables(two)[0] if row[0][2] == "week:genotype[T.CSB]")
    raw = term[3]
    # Two unbreakable units, "week:" and "genotype[T.CSB]", with a break opportunity between them.
    assert raw.count("<span") == 2 and raw.count("<wbr>") == 1
    assert raw.index("week:") < raw.index("<wbr>") < raw.index("genotype[T.CSB]")


def test_a_variable_too_wide_for_any_table_breaks_inside():
    room = 200.0
    short, long = "gene[T.C]", "a_very_long_covariate_name_that_a_learner_might_use[T.some_long_level]"
    assert layout._text_px(long, bold=True) > room > layout._text_px(short, bold=True)
    assert "<wbr>" not in layout._term_html(short, room)
    broken = layout._term_html(f"{short}:{long}", room)
    # One break between the variables, and inside only the long one (before '[' and after '_').
    first, rest = broken.split("</span><wbr>", 1)
    assert "<wbr>" not in first and "<wbr>[T.some" in rest and "a_<wbr>very_<wbr>long" in rest


def test_units_split_at_top_level_colons_only():
    assert layout._units("treatment[T.drug]:gene[T.C]") == ["treatment[T.drug]:", "gene[T.C]"]
    assert layout._units("I(a:b):x") == ["I(a:b):", "x"]
    assert layout._units("Intercept") == ["Intercept"]


def test_widths_come_from_dejavu_sans():
    # DejaVu Sans: every digit has the same advance (0.636 em), a '.' half of that; bold is wider.
    assert layout._text_px("0") == pytest.approx(0.636 * layout.FONT_PX, abs=0.05)
    assert layout._text_px("0123456789") == pytest.approx(10 * layout._text_px("0"))
    assert layout._text_px("between", bold=True) > layout._text_px("between")
    assert layout._text_px("iii") < layout._text_px("MMM")
    # A character outside ASCII counts as wide as an 'M', never as nothing.
    assert layout._text_px("\u00e9") == layout._text_px("M")


def test_names_are_escaped():
    assert layout._term_html("I(x<2)[T.TRUE]", 500.0) == ('<span style="display: inline-block; text-indent: 0">'
                                                         "I(x&lt;2)[T.TRUE]</span>")
    assert "a&lt;b&gt;" in layout._varies_th("a<b>") and "<b>" not in layout._varies_th("a<b>")


@pytest.mark.parametrize("name", ["two", "three"])
def test_tables_alone_for_an_app(name, request):
    cmp = request.getfixturevalue(name)
    tables = layout.comparison_tables_html(cmp)
    full = cmp._repr_html_()
    assert tables in full and tables.startswith("<table") and tables.endswith("</table>")
    assert "Why each row moved" not in tables and cmp.table["reason"].iloc[0][:40] not in tables


def test_the_df_header_names_the_df_method_the_fit_used():
    # teach asks the fit which df method it used; it does not hard-code Satterthwaite.
    from lmmedu.teach.comparison.compare import _build

    data = lmmedu.load_replicates("between")
    cmp = compare("log(length) ~ treatment + (1|replicate)", data)
    assert "(Satterthwaite in the mixed model)" in layout.comparison_html(cmp)
    kr = lmmedu.fit(cmp.formula, data, ddf="Kenward-Roger")
    html_kr = layout.comparison_html(_build(cmp.formula, cmp.lm, kr))
    assert "(Kenward-Roger in the mixed model)" in html_kr
    assert "Satterthwaite" not in html_kr.split("<p><strong>Why")[0]
