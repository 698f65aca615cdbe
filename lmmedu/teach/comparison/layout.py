"""The HTML of a :class:`~lmmedu.teach.comparison.Comparison`: a table that fits a notebook's output area.

JupyterLab's output area is 848 px wide in a 1,280-px window with the file browser open, and an
HTML output keeps 20 px of it as right padding, so a table has about 828 px. The numbers (estimate,
SE, df, p of both models and the SE ratio) take about 540 px of that; what is left goes to the term
names and to one ``varies`` column per grouping factor. So that everything fits without hiding
anything:

* the lm's df, the same for every term (n minus the number of coefficients), is said once in the
  ``lm`` header instead of repeated in a column;
* a term name wraps only after a ``:`` (between the variables of an interaction); a single
  variable breaks (before its ``[level]``, after a ``_``) only when it alone is wider than the room
  the numbers leave;
* when the ``varies`` columns would still not fit (three grouping factors, long names), they move
  into a table of their own right under the numbers, with the term names again.

The width is estimated from the text, with the character widths of DejaVu Sans (matplotlib ships
it; JupyterLab uses it on Linux, and it is wider than the usual sans-serif fonts of Windows and
macOS, which only make the table narrower).
Data cells never wrap (a browser would break ``<2e-16`` after its hyphen); headers may.
"""

from __future__ import annotations

import functools
import html
import re

from ..prose import format_comparison_table, icc_sentence

__all__: list[str] = []  # reached as lmmedu.teach.comparison.layout

#: Width (px) a table may take in JupyterLab's output area (848 px at 1,280 px, minus 20 px padding),
#: less a margin for rounding.
TABLE_BUDGET_PX = 818
#: Font size of JupyterLab's table cells (px).
FONT_PX = 13
#: Left plus right padding of a cell in JupyterLab (0.5em each).
PAD_PX = FONT_PX

NOWRAP_TD = '<td style="white-space: nowrap">'
_LIST = "<ul style='max-width: 60em'>"
_TERM_TH = '<th style="text-align: left; padding-left: 1.5em; text-indent: -1em">'
# A variable (with its level) as one unit: a term breaks between the variables of an interaction,
# and inside a variable (before its "[level]") only when that alone is too wide for the table.
_UNIT = '<span style="display: inline-block; text-indent: 0">'
_NUMBER_HEADERS = {"estimate": "estimate", "se": "SE", "df": "df", "p": "p"}
_TITLES = {
    "estimate": "the coefficient",
    "se": "standard error of the coefficient",
    "df": "degrees of freedom of its t-test ({ddf} in the mixed model)",  # the fit names its df method
    "p": "p-value of its t-test",
}


def comparison_html(cmp):
    """The comparison as HTML: the table of numbers, then reasons, ICC lines and notes as text.

    Parameters
    ----------
    cmp : lmmedu.teach.comparison.Comparison

    Returns
    -------
    str
    """
    parts = [f"<p><strong>lm vs mixed model</strong>: <code>{html.escape(cmp.formula)}</code></p>",
             comparison_tables_html(cmp)]
    reasons = "".join(f"<li><code>{html.escape(str(term))}</code>: {html.escape(str(reason))}</li>"
                      for term, reason in cmp.table["reason"].items())
    parts.append(f"<p><strong>Why each row moved</strong></p>{_LIST}{reasons}</ul>")
    iccs = "".join(f"<li>{html.escape(icc_sentence(g, cmp.icc.loc[g], cmp.design_effect.loc[g]))}</li>"
                   for g in cmp.icc.index)
    if iccs:
        parts.append(f"<p><strong>How alike rows of one group are (ICC)</strong></p>{_LIST}{iccs}</ul>")
    parts += [f"<p><em>{html.escape(n)}</em></p>" for n in cmp.notes]
    return "".join(parts)


def comparison_tables_html(cmp):
    """Only the numbers of a comparison as HTML: its table, and the ``varies`` table when that goes under it.

    For an app that shows the sentences its own way (as lists in a tab) but wants the table
    that fits a notebook's output area.

    Parameters
    ----------
    cmp : lmmedu.teach.comparison.Comparison

    Returns
    -------
    str
    """
    shown = format_comparison_table(cmp.table)
    groups = [c[len("varies_"):] for c in shown.columns if c.startswith("varies_")]
    lm_df = shown["df_lm"].unique()
    # OLS has one error stratum: one df for every term, said once in the header.
    lm_df = str(lm_df[0]) if len(lm_df) == 1 else None
    sides = {"lm": ["estimate", "se", "p"] if lm_df is not None else ["estimate", "se", "df", "p"],
             "lmm": ["estimate", "se", "df", "p"]}
    inline, room = _layout(shown, sides, groups)
    out = _numbers_table(shown, sides, groups if inline else [], lm_df, room, cmp.lmm.ddf)
    if not inline:
        out += ("<p>How each term varies: <em>within</em> a grouping factor (it changes between rows of one "
                "group) or only <em>between</em> its groups; this is what moves the SE ratio above.</p>"
                + _varies_table(shown, groups, room))
    return out


# ----------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------
def _numbers_table(shown, sides, groups, lm_df, room, ddf):
    lm_head = "lm" if lm_df is None else f'lm <span style="font-weight: normal">(df {lm_df} for every term)</span>'
    top = ['<th rowspan="2"></th>', f'<th colspan="{len(sides["lm"])}" style="text-align: center">{lm_head}</th>',
           f'<th colspan="{len(sides["lmm"])}" style="text-align: center">mixed model</th>',
           '<th rowspan="2" title="the mixed model\'s SE divided by the lm\'s">SE ratio</th>']
    if groups:
        top.append(_varies_top(len(groups)))
    sub = [f'<th title="{_TITLES[stat].format(ddf=ddf)}">{_NUMBER_HEADERS[stat]}</th>' for side in ("lm", "lmm")
           for stat in sides[side]]
    sub += [_varies_th(g) for g in groups]
    columns = [f"{stat}_{side}" for side in ("lm", "lmm") for stat in sides[side]] + ["se_ratio"]
    columns += [f"varies_{g}" for g in groups]
    return _table(shown, columns, [top, sub], room)


def _varies_table(shown, groups, room):
    head = ['<th rowspan="2"></th>', _varies_top(len(groups))]
    return _table(shown, [f"varies_{g}" for g in groups], [head, [_varies_th(g) for g in groups]], room)


def _varies_top(k):
    return (f'<th colspan="{k}" style="text-align: center" title="within: the term changes between rows of one '
            'group, so the group effect cancels from it; between: it is the same for every row of a group, so '
            f'it is judged against the groups">varies</th>')


def _varies_th(group):
    name = html.escape(str(group))
    return (f'<th title="within or between {name}">by '
            f"{_breakable(name, after='_.:')}</th>")


def _table(shown, columns, header_rows, room):
    head = "".join(f"<tr>{''.join(row)}</tr>" for row in header_rows)
    body = "".join(f"<tr>{_TERM_TH}{_term_html(term, room)}</th>"
                   + "".join(f"{NOWRAP_TD}{html.escape(str(shown.loc[term, c]))}</td>" for c in columns) + "</tr>"
                   for term in shown.index)
    return f'<table border="1" class="dataframe"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _term_html(term, room):
    """A term that wraps after each ':'; a variable wider than ``room`` px also before its '[level]' and after '_'."""
    return "<wbr>".join(_UNIT + (_breakable(html.escape(u), before="[", after="_") if _text_px(u, bold=True) > room
                                 else html.escape(u)) + "</span>"
                        for u in _units(str(term)))


def _units(term):
    """The variables of a term, each with the ':' that follows it (none inside brackets or calls)."""
    units, depth, start = [], 0, 0
    for i, ch in enumerate(term):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == ":" and depth == 0:
            units.append(term[start:i + 1])
            start = i + 1
    units.append(term[start:])
    return [u for u in units if u]


def _breakable(text, before="", after=""):
    """``text`` with an optional line break (<wbr>) before each character of ``before`` and after each of ``after``."""
    out = text
    if before:
        out = re.sub(f"(?<=.)(?=[{re.escape(before)}])", "<wbr>", out)
    if after:
        out = re.sub(f"(?<=[{re.escape(after)}])(?=.)", "<wbr>", out)
    return out


# ----------------------------------------------------------------------
# Width
# ----------------------------------------------------------------------
@functools.cache
def _advances(bold):
    """Character -> advance width (px) in 13-px DejaVu Sans (matplotlib's copy of the font), and the fallback."""
    from matplotlib import font_manager, ft2font

    prop = font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")
    font = ft2font.FT2Font(font_manager.findfont(prop, fallback_to_default=False))
    font.set_size(FONT_PX, 72)  # at 72 dpi a point is a pixel
    flags = ft2font.LoadFlags.NO_HINTING if hasattr(ft2font, "LoadFlags") else ft2font.LOAD_NO_HINTING
    widths = {chr(c): font.load_char(c, flags=flags).linearHoriAdvance / 65536 for c in range(32, 127)}
    return widths, widths["M"]


def _text_px(text, bold=False):
    widths, other = _advances(bold)
    return sum(widths.get(ch, other) for ch in text)


def _min_width(texts, bold=False):
    """The narrowest a column can get (px): its widest piece without a break opportunity, plus padding."""
    return max((_text_px(piece, bold) for t in texts for piece in str(t).split()), default=0.0) + PAD_PX


def _layout(shown, sides, groups):
    """Whether the ``varies`` columns fit beside the numbers, and the room (px) left for a term's variable."""
    numbers = sum(max(_min_width([_NUMBER_HEADERS[stat]], bold=True), _min_width(shown[f"{stat}_{side}"]))
                  for side in ("lm", "lmm") for stat in sides[side])
    numbers += max(_min_width(["SE", "ratio"], bold=True), _min_width(shown["se_ratio"]))
    varies = sum(max(_min_width(["by", *re.split(r"(?<=[_.:])", str(g))], bold=True),
                     _min_width(shown[f"varies_{g}"])) for g in groups)
    # The term column: its widest variable, plus padding and the hanging indent of wrapped lines.
    units = [unit for term in shown.index for unit in _units(str(term))]
    terms = max(_text_px(u, bold=True) for u in units) + PAD_PX + FONT_PX
    inline = terms + numbers + varies <= TABLE_BUDGET_PX
    room = TABLE_BUDGET_PX - numbers - (varies if inline else 0.0) - PAD_PX - FONT_PX
    return inline, room
