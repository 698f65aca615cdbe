"""Read a learner's table (a CSV path or the bytes of an uploaded file) into a DataFrame.

One reader for the command line and the notebooks, so a file reads the same way everywhere:

- the delimiter is guessed from the header line (comma, semicolon -- then with decimal commas
  where a column is written so --, tab, ``|`` or spaces);
- a file that is not UTF-8 (Excel on Windows saves its own code page) is read as
  Windows-1252 with a warning;
- R's ``write.csv`` output reads as R wrote it: ``NA`` is a missing value, and the unnamed
  first column of row numbers is dropped;
- a numeric column in which a few entries are text (``<0.1``, ``n/a?``) is noted with the
  file line of the first such entry, so :func:`check_numeric_text` can refuse it by name
  instead of letting it become a factor with many levels;
- every problem is one sentence (a ``ValueError``) saying what is wrong and what to do.

Text columns stay text; a model turns them into factors with their levels in sorted order.
"""

from __future__ import annotations

import csv
import io
import os
import warnings

import numpy as np
import pandas as pd

__all__ = ["read_table", "check_numeric_text", "missing_cells", "r_csv", "DELIMITER_NAMES"]

#: Delimiters the reader recognises, with the word used in messages.
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}

# Where read_table leaves what it learned about the file (small, so pandas' copies of attrs stay cheap).
_SOURCE = "lmmedu_source"


def _guess_delimiter(header):
    """The separator used most often in the header line (header names rarely contain one)."""
    counts = {d: header.count(d) for d in DELIMITER_NAMES}
    best = max(counts, key=counts.get)
    if counts[best]:
        return best
    return r"\s+" if len(header.split()) > 1 else ","


def _is_text(series):
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def _decimal_commas(data):
    """Semicolon files from European spreadsheets write 1,5 for 1.5: read those columns as numbers."""
    for col in data.columns:
        s = data[col]
        if _is_text(s):
            text = s.dropna().astype(str).str.strip()
            if len(text) and text.str.fullmatch(r"[-+]?\d*,?\d+(?:[eE][-+]?\d+)?").all() and text.str.contains(",").any():
                data[col] = pd.to_numeric(s.astype(str).str.strip().str.replace(",", ".", regex=False).where(s.notna()))
    return data


def _drop_r_row_names(data):
    """R's write.csv adds an unnamed first column numbering the rows 1..n: not a variable."""
    first = data.columns[0]
    if str(first) in ("", "Unnamed: 0") and len(data):
        values = pd.to_numeric(data[first].astype(str), errors="coerce").to_numpy()
        if np.array_equal(values, np.arange(1, len(data) + 1)):
            return data.drop(columns=first)
    return data


def _line_numbers(text, sep, n_rows):
    """File line of each data row (blank lines and quoted line breaks make it differ from row + 2)."""
    fh = io.StringIO(text, newline="")
    if sep == r"\s+":
        lines = [i + 1 for i, ln in enumerate(fh) if ln.strip()]
    else:
        reader = csv.reader(fh, delimiter=sep)
        lines, start = [], 1
        for rec in reader:
            if any(field.strip() for field in rec):
                lines.append(start)
            start = reader.line_num + 1
    if len(lines) != n_rows + 1:
        return np.arange(n_rows) + 2
    return np.asarray(lines[1:])


def _decode(raw, name):
    if raw[:4] == b"PK\x03\x04":
        raise ValueError(f"cannot read {name}: it looks like an Excel workbook (.xlsx), not a CSV file; in Excel "
                         "use File > Save As > 'CSV UTF-8 (comma delimited)'")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" in its own code page; accented labels are the usual cause.
        warnings.warn(f"{name} is not UTF-8 text, so it was read as Windows-1252 (Excel's default); check accented "
                      "labels, or save the file as 'CSV UTF-8'.", UserWarning, stacklevel=3)
        return raw.decode("cp1252", errors="replace")


def read_table(source, name=None):
    """Read a CSV file (a path, or the bytes of an uploaded file) into a DataFrame.

    Parameters
    ----------
    source : str, os.PathLike, bytes or memoryview
        A file path, or the file's content (e.g. from an ``ipywidgets.FileUpload``).
    name : str, optional
        How messages name the file; default the path in quotes, or "the uploaded file".

    Returns
    -------
    pandas.DataFrame
        Text columns stay text. ``attrs["lmmedu_source"]`` holds the name, the delimiter,
        and the file line of every row when the file has missing values or text in a numeric
        column (for the messages of :func:`check_numeric_text` and :func:`missing_cells`).

    Raises
    ------
    ValueError
        One sentence: no such file, a directory, an empty file, a header without rows, an
        Excel workbook, a file that cannot be split into columns.

    Examples
    --------
    >>> data = read_table(b'"","Sepal.Length","Species"\\n"1",5.1,"setosa"\\n"2",NA,"setosa"\\n')
    >>> list(data.columns), int(data["Sepal.Length"].isna().sum())
    (['Sepal.Length', 'Species'], 1)
    >>> read_table(b"x;y\\n1,5;a\\n2,5;b\\n")["x"].tolist()
    [1.5, 2.5]
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        name = name or "the uploaded file"
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        name = name or f"'{path}'"
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise ValueError(f"cannot read {name}: no such file") from None
        except IsADirectoryError:
            raise ValueError(f"cannot read {name}: it is a directory, not a CSV file") from None
        except OSError as err:
            raise ValueError(f"cannot read {name}: {err.strerror or err}") from None
    else:
        raise TypeError(f"read_table needs a file path or the bytes of a file, not {type(source).__name__}.")
    text = _decode(raw, name)
    if not text.strip():
        raise ValueError(f"cannot read {name}: the file is empty")
    sep = _guess_delimiter(text.lstrip("\r\n").split("\n", 1)[0])
    try:
        data = pd.read_csv(io.StringIO(text), sep=sep, engine="python" if len(sep) > 1 else "c")
    except pd.errors.EmptyDataError:
        raise ValueError(f"cannot read {name}: the file is empty") from None
    except pd.errors.ParserError as err:
        what = DELIMITER_NAMES.get(sep, "whitespace")
        raise ValueError(f"cannot read {name} as a {what}-separated file: {' '.join(str(err).split())}") from None
    if data.empty:
        raise ValueError(f"{name} has a header but no data rows")
    data = _drop_r_row_names(data)
    if sep == ";":
        data = _decimal_commas(data)
    text_in_numbers = {}
    for col in data.columns:
        if _is_text(data[col]):
            present = data[col].notna()
            numbers = pd.to_numeric(data[col].where(present), errors="coerce")
            bad = present & numbers.isna()
            if bad.any() and numbers.notna().sum() >= bad.sum():
                text_in_numbers[str(col)] = (int(np.flatnonzero(bad.to_numpy())[0]), int(bad.sum()))
    lines = None
    if text_in_numbers or data.isna().to_numpy().any():
        lines = _line_numbers(text, sep, len(data))
    data.attrs[_SOURCE] = {"name": name, "sep": sep, "lines": lines}
    return data


def _source(data):
    return data.attrs.get(_SOURCE) or {"name": "the data", "sep": ",", "lines": None}


def _file_lines(data):
    """File line of every row: from read_table when it still describes these rows, else row + 2."""
    lines = _source(data)["lines"]
    if lines is not None and len(lines) == len(data):
        return np.asarray(lines)
    return np.arange(len(data)) + 2


def check_numeric_text(data, columns):
    """Refuse a column of numbers in which a few entries are text (it would become a factor).

    Parameters
    ----------
    data : pandas.DataFrame
        From :func:`read_table` (other frames: the row number + 2 stands for the file line).
    columns : iterable of str
        The columns a model uses; others are not checked.

    Raises
    ------
    ValueError
        Naming the column, the file line and the entry.

    Examples
    --------
    >>> data = read_table(b"y,g\\n1.5,a\\n<0.1,b\\n2.5,b\\n")
    >>> check_numeric_text(data, ["g"])          # g is a real text column
    >>> check_numeric_text(data, ["y", "g"])
    Traceback (most recent call last):
    ...
    ValueError: column 'y' holds numbers but line 3 has '<0.1', so it would be read as text; correct the entry (a plain number, '.' as decimal point, no spaces or '<') or leave it empty for a missing value
    """
    for col in dict.fromkeys(map(str, columns)):
        if col not in data.columns or not _is_text(data[col]):
            continue
        present = data[col].notna()
        bad = present & pd.to_numeric(data[col].where(present), errors="coerce").isna()
        if not bad.any() or bad.sum() > (present & ~bad).sum():
            continue
        row, count = int(np.flatnonzero(bad.to_numpy())[0]), int(bad.sum())
        line = int(_file_lines(data)[row])
        more = f" ({count} such entries)" if count > 1 else ""
        raise ValueError(
            f"column '{col}' holds numbers but line {line} has {data[col].iloc[row]!r}{more}, so it would be read "
            "as text; correct the entry (a plain number, '.' as decimal point, no spaces or '<') or leave it empty "
            "for a missing value"
        )


def missing_cells(data, columns):
    """Where the given columns have empty cells (or ``NA``): one row per row of the file.

    Parameters
    ----------
    data : pandas.DataFrame
        From :func:`read_table` (other frames: the row number + 2 stands for the file line).
    columns : iterable of str

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (position in ``data``), ``line`` (in the file) and ``columns`` (the
        empty ones, comma-separated).

    Examples
    --------
    >>> missing_cells(read_table(b"y,g\\n1,a\\n,b\\n3,NA\\n"), ["y", "g"])[["line", "columns"]].values.tolist()
    [[3, 'y'], [4, 'g']]
    """
    cols = [c for c in dict.fromkeys(columns) if c in data.columns]
    empty = data[cols].isna().to_numpy()
    rows = np.flatnonzero(empty.any(axis=1))
    file_lines = _file_lines(data)[rows]
    return pd.DataFrame({"row": rows, "line": file_lines.astype(int),
                         "columns": [", ".join(c for c, e in zip(cols, empty[r]) if e) for r in rows]})


def r_csv(data):
    """The text R's ``write.csv(data)`` writes: row names first, text quoted, ``NA`` for missing values.

    For trying the reader (and a notebook) on a file as it comes out of R, without R.

    Parameters
    ----------
    data : pandas.DataFrame

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> print(r_csv(pd.DataFrame({"Sepal.Length": [5.1, None], "Species": ["setosa", "setosa"]})), end="")
    "","Sepal.Length","Species"
    "1",5.1,"setosa"
    "2",NA,"setosa"
    """
    def quote(v):
        return '"' + str(v).replace('"', '""') + '"'

    columns = []
    for col in data.columns:
        values = data[col]
        missing = values.isna().to_numpy()
        if _is_text(values) or isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(values):
            cells = [quote(v) for v in values.astype(object)]
        else:
            cells = [f"{v:.15g}" for v in values.to_numpy(dtype=float)]
        columns.append(["NA" if m else c for c, m in zip(cells, missing)])
    lines = [",".join(['""'] + [quote(c) for c in data.columns])]
    lines += [",".join([quote(i + 1), *row]) for i, row in enumerate(zip(*columns))]
    return "\n".join(lines) + "\n"


#: Public name of the line-number map, for the widget that points at a bad line of a pasted table.
file_lines = _file_lines
