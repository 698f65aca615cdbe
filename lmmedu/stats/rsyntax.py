"""R's formula syntax -> patsy's: R's meaning, or one sentence saying what to write instead.

R and patsy share ``+ : * / -`` and ``0``/``1`` for the intercept.  What differs is
translated before patsy sees the formula:

* ``^`` is a power inside a function call (``I(x^2)``, ``log(x^2)``) and R's crossing
  outside one (``(a + b + c)^2``: all terms up to two-way interactions); ``x^2`` of a single
  term is that term in R, so it is fitted as ``x`` with a warning suggesting ``I(x^2)``;
* ``a %in% b`` is R's nesting, ``a:b``; ``%%`` and ``%/%`` inside ``I()`` are Python's ``%`` and ``//``;
* ``factor(x)``, ``as.factor(x)`` -> ``C(x)`` (``levels = c(...)`` -> ``levels=[...]``),
  ``relevel(f, ref = "b")`` -> ``C(f, Treatment("b"))``; ``TRUE``/``FALSE`` -> ``True``/``False``;
* a call of anything else R-only (``ns``, ``cut``, ``ifelse``, ``as.numeric``, ``interaction``,
  ``d$x`` ...) is refused with one sentence naming the piece and the spelling that works.

The functions themselves (``scale``, ``poly``, ``mean`` ...) are in :mod:`.rfuncs`.
"""

from __future__ import annotations

import os
import re
import sys
import warnings

__all__ = ["r_to_patsy"]

#: Functions a formula may call, besides numpy's ``np.<name>``: R's (computed as R does, see
#: :mod:`lmmedu.stats.rfuncs`) and patsy's own.
_CALLABLE = {"I", "Q", "C", "Treatment", "Sum", "Diff", "Poly", "Helmert", "center", "standardize", "scale",
             "poly", "log", "log2", "log10", "log1p", "exp", "sqrt", "abs", "mean", "sd", "median", "min", "max",
             "bs", "cr", "cc", "factor", "as.factor", "relevel", "offset", "levels", "reference"}

_R_HINTS = {
    "ns": "natural splines are not available; bs(x, df = 3) gives R's B-splines (splines::bs) and poly(x, 3) "
          "orthogonal polynomials",
    "cut": "make the classes as a column first, e.g. data['x_class'] = pd.cut(data['x'], 3), and use that column",
    "ifelse": "write I(np.where(x > 3, 1, 0)), or make the column first",
    "interaction": "write a:b for the combination of two factors",
    "as.numeric": "convert the column first, e.g. data['x_num'] = pd.to_numeric(data['x']), and use that column",
    "as.integer": "convert the column first, e.g. data['x_num'] = pd.to_numeric(data['x']), and use that column",
    "as.character": "a text column is a factor already; write the column name, or factor(x) for a numeric one",
    "ordered": "write factor(x) for R's default treatment contrasts, or C(x, Poly) for the polynomial contrasts "
               "R gives an ordered factor",
    "as.ordered": "write factor(x) for R's default treatment contrasts, or C(x, Poly) for the polynomial contrasts "
                  "R gives an ordered factor",
    "c": "c() is only understood inside factor(x, levels = c(...))",
    "paste": "make the combined labels as a column first, or write a:b for the combination of two factors",
}


class _RText:
    """A left-to-right translation of one formula part (fixed right-hand side or random expression)."""

    def __init__(self, formula, warn=True):
        self.formula = formula
        self.warn = warn

    def fail(self, msg):
        raise ValueError(msg)

    def translate(self, text, in_call=False):
        out, i, n = [], 0, len(text)
        last = None  # kind of the operand just written: "name", "call", "group" or None
        last_text = ""
        while i < n:
            ch = text[i]
            if ch in "\"'":
                j = _string_end(text, i)
                out.append(text[i:j])
                i, last, last_text = j, "string", text[i:j]
                continue
            m = _NUMBER.match(text, i) if (ch.isdigit() or (ch == "." and text[i + 1:i + 2].isdigit())) else None
            if m:
                out.append(m.group(1))
                i, last, last_text = m.end(), "number", m.group(1)
                continue
            m = _IDENT.match(text, i)
            if m:
                name = m.group()
                k = m.end()
                while k < n and text[k] == " ":
                    k += 1
                if k < n and text[k] == "(":
                    close = _matching(text, k)
                    piece = self.call(name, text[k + 1:close], text[i:close + 1], in_call)
                    out.append(piece)
                    i, last, last_text = close + 1, "call", text[i:close + 1]
                else:
                    out.append({"TRUE": "True", "FALSE": "False"}.get(name, name))
                    i, last, last_text = m.end(), "name", name
                continue
            if ch == "(":
                close = _matching(text, i)
                out.append("(" + self.translate(text[i + 1:close], in_call) + ")")
                i, last, last_text = close + 1, "group", text[i:close + 1]
                continue
            if ch == "^" or text.startswith("**", i):
                step = 1 if ch == "^" else 2
                power = re.match(r"\s*(\(?\s*-?\s*[\w.]+\s*\)?)", text[i + step:])
                if not in_call and power and not re.fullmatch(r"\(?\s*[1-9]\d*\s*\)?", power.group(1)):
                    self.fail(f"'^{power.group(1)}' in '{text}' crosses terms in a formula and needs a positive whole number "
                              f"(R: invalid power in formula); for a power of a number write "
                              f"I({last_text or 'x'}^{power.group(1)}).")
                if not in_call and last in ("name", "call") and self.warn:
                    power = re.match(r"\s*(\d+)", text[i + step:])
                    p = power.group(1) if power else "2"
                    warnings.warn(
                        f"In a formula R reads '{last_text}^{p}' as '{last_text}' (a power of a single term is the "
                        f"term itself), and so does lmmedu; for the square of a number write I({last_text}^{p}).",
                        UserWarning, stacklevel=_user_stacklevel())
                neg = re.match(r"\s*(\(\s*)?-\s*(\d+)(?![\w.])(\s*\))?", text[i + step:]) if in_call else None
                if neg and bool(neg.group(1)) == bool(neg.group(3)):
                    # R's ^ always gives a double; numpy refuses an integer column to a negative integer power.
                    out.append(f"** -{neg.group(2)}.0")
                    i += step + neg.end()
                    last, last_text = "number", f"-{neg.group(2)}"
                    continue
                out.append("**")
                i += step
                last = None
                continue
            if ch == "%":
                m = re.match(r"%[^%\s]*%", text[i:])
                op = m.group() if m else "%"
                if op == "%in%" and not in_call:
                    out.append(":")
                elif op == "%%" and in_call:
                    out.append("%")
                elif op == "%/%" and in_call:
                    out.append("//")
                elif op == "%in%":
                    self.fail(f"'%in%' inside a function call in '{text}' is R's membership test, which a formula "
                              "cannot use; write I(x.isin([...])) with the values in a Python list, or make the column "
                              "first.")
                elif op in ("%%", "%/%"):
                    right = re.match(r"\s*([\w.]+)", text[i + len(op):])
                    example = f"{last_text or 'x'} {op} {right.group(1) if right else '2'}"
                    self.fail(f"'{op}' in '{text}' is arithmetic, which a formula reads only inside I(); write "
                              f"I({example}).")
                else:
                    self.fail(f"The operator '{op}' in '{text}' is not a formula operator lmmedu knows; formulas use "
                              "+, -, *, :, /, ^ and %in%.")
                i += len(op)
                last = None
                continue
            if ch == "$":
                self.fail(f"'$' in '{text}' picks a column of another object, as in R's d$x; a formula reads columns "
                          "from the data you pass, so write the column name alone.")
            if ch == "~":
                self.fail(f"The formula '{self.formula}' has more than one '~'.")
            out.append(ch)
            if not ch.isspace():
                last = None
            i += 1
        return "".join(out)

    def args(self, inner):
        return [a.strip() for a in _split_top_commas(inner)] if inner.strip() else []

    def call(self, name, inner, whole, in_call):
        if name == "Q":
            return whole
        if name in ("np", "numpy") or name.startswith(("np.", "numpy.")):
            return f"{name}({self.translate(inner, True)})"
        args = self.args(inner)
        if name in ("factor", "as.factor"):
            return self.factor(name, args, whole)
        if name == "relevel":
            return self.relevel(args, whole)
        if name == "offset":
            self.fail(f"offset() in '{whole}' must be a term of its own, added to the formula, e.g. "
                      "'y ~ x + offset(o) + (1|g)'.")
        if name in _R_HINTS or name not in _CALLABLE:
            hint = _R_HINTS.get(name) or (
                "compute the column in Python first, e.g. data['new'] = ..., and use it by name; formulas understand "
                "R's factor, as.factor, relevel, scale, poly, I, log, log2, log10, exp, sqrt, mean, sd, offset and "
                "numpy's np.<function>")
            self.fail(f"{name}() in '{whole}' is not a function lmmedu's formulas know: {hint}.")
        return f"{name}({', '.join(self.translate(a, True) for a in args)})"

    def factor(self, name, args, whole):
        if not args:
            self.fail(f"{whole} needs a column, e.g. factor(x).")
        out = [self.translate(args[0], True)]
        for a in args[1:]:
            key, _, value = a.partition("=")
            if key.strip() == "levels" and value.strip().startswith("c(") and value.strip().endswith(")"):
                levels = self.args(value.strip()[2:-1])
                out.append("levels=[" + ", ".join(self.translate(v, True) for v in levels) + "]")
            else:
                self.fail(f"{whole}: lmmedu's factor() takes a column and optionally levels = c(...) (the first "
                          "level is the reference); for another reference level write relevel(x, ref = \"b\").")
        return f"C({', '.join(out)})"

    def relevel(self, args, whole):
        ref = None
        rest = []
        for a in args[1:]:
            key, eq, value = a.partition("=")
            if eq and key.strip() == "ref":
                ref = value.strip()
            elif not eq:
                rest.append(a)
        if ref is None and rest:
            ref = rest.pop(0)
        if not args or ref is None or rest:
            self.fail(f"{whole} needs a factor and its new reference level, e.g. relevel(f, ref = \"b\").")
        x = self.translate(args[0], True)
        m = re.fullmatch(r"C\((.*)\)", x)
        if m and len(_split_top_commas(m.group(1))) == 1:
            x = m.group(1).strip()  # relevel(factor(f), "b"): the factor() adds nothing
        return f"C({x}, Treatment({self.translate(ref, True)}))"


_IDENT = re.compile(r"[A-Za-z_.][\w.]*")
_NUMBER = re.compile(r"(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)L?")


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_stacklevel():
    """The stacklevel of the first caller outside lmmedu, so a warning names the learner's line (once)."""
    level, frame = 2, sys._getframe(2)  # frame 1 (level 1) is the function that warns
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def _string_end(text, i):
    quote, j = text[i], i + 1
    while j < len(text) and text[j] != quote:
        j += 2 if text[j] == "\\" else 1
    if j >= len(text):
        raise ValueError(f"The formula part '{text}' has an unclosed quote {quote}.")
    return j + 1


def _matching(text, i):
    """Index of the ')' closing the '(' at ``i`` (quotes respected)."""
    depth, j = 0, i
    while j < len(text):
        ch = text[j]
        if ch in "\"'":
            j = _string_end(text, j)
            continue
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return j
        j += 1
    raise ValueError(f"The formula part '{text}' has an unmatched '('; check the parentheses.")


def _split_top_commas(text):
    parts, depth, start, j = [], 0, 0, 0
    while j < len(text):
        ch = text[j]
        if ch in "\"'":
            j = _string_end(text, j)
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:j])
            start = j + 1
        j += 1
    parts.append(text[start:])
    return parts


def r_to_patsy(text, formula=None, warn=True):
    """Translate R formula syntax into patsy's: R's meaning, or one sentence saying what to write.

    Examples
    --------
    >>> r_to_patsy("Days + I(Days^2)")
    'Days + I(Days**2)'
    >>> r_to_patsy("(a + b)^2")
    '(a + b)**2'
    >>> r_to_patsy('relevel(f, ref = "b") + b %in% a + as.factor(x)')
    'C(f, Treatment("b")) + b : a + C(x)'
    >>> r_to_patsy("scale(x, scale = FALSE)")
    'scale(x, scale = False)'
    """
    return _RText(formula or text, warn).translate(text)
