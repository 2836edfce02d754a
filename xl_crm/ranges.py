"""What Excel hands a worksheet function, turned into plain columns and back.

A range argument arrives as a list of rows (2-D list), a single cell as a scalar, or a
1-D list (xlwings Lite). Rows are counted from the first cell of the range (row 1), so
for a range that starts on sheet row 1 the row in a message is the sheet row.

Header rows: the first cell of a typed argument (dates, amounts, scores) that is text
and not a valid value is a header; then the first row of *every* range argument of the
call is skipped, because the ranges cover the same rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import repeat, zip_longest

import numpy as np
import pandas as pd

from .core.errors import InputError
from .core.values import CELL_ERROR_TEXTS, parse_amounts, parse_dates
from .views import series_values

# Cell errors as classic xlwings hands them to a worksheet function (COM error codes, int)
# and as xlwings Lite does (text, :data:`~xl_crm.core.values.CELL_ERROR_TEXTS`).
CELL_ERRORS = {
    -2146826281: "#DIV/0!", -2146826246: "#N/A", -2146826259: "#NAME?",
    -2146826288: "#NULL!", -2146826252: "#NUM!", -2146826265: "#REF!", -2146826273: "#VALUE!",
}

def cells(arg: object) -> list[list[object]]:
    """Any argument as a list of rows."""
    if isinstance(arg, list | tuple):
        if not arg:
            return []
        if all(isinstance(r, list | tuple) for r in arg):
            return [list(r) for r in arg]
        return [[v] for v in arg]
    return [[arg]]


def cell_error(value: object) -> str | None:
    """The error a cell shows (``#N/A``...) when ``value`` is how xlwings passes one: an
    ``int`` COM error code (classic; numbers arrive as float there) or the error's text
    (Lite). None for any other value."""
    if type(value) is int and value in CELL_ERRORS:
        return CELL_ERRORS[value]
    if isinstance(value, str) and value.strip().upper() in CELL_ERROR_TEXTS:
        return value.strip().upper()
    return None


def refuse_error(value: object, name: str, row: int | None = None) -> None:
    """Refuse a cell error: ``amounts row 3: the cell shows #N/A; correct or clear it``."""
    error = cell_error(value)
    if error:
        raise InputError(f"the cell shows {error}; correct or clear it", name, row)


def check_errors(rows: Sequence[Sequence[object]], name: str) -> None:
    """Refuse a range holding a cell error, naming the first one's range row."""
    for i, row in enumerate(rows, start=1):
        for v in row:
            refuse_error(v, name, i)


def _refuse_errors(values: Sequence[object], name: str) -> None:
    """:func:`check_errors` of a flat column (position i is range row i), with a cheap
    test first: only an int (a COM error code) or a text holding "#" can be one."""
    for i, v in enumerate(values, start=1):
        kind = type(v)
        if (kind is int and v in CELL_ERRORS) or (kind is str and "#" in v):
            refuse_error(v, name, i)


def one_cell(value: object, name: str) -> object:
    """A one-cell argument's value (a range of one cell too); a cell error or a range of
    several cells is refused."""
    if isinstance(value, list | tuple):
        flat = column(value, name)
        if len(flat) != 1:
            raise InputError(f"must be one cell, not {len(flat)}", name)
        value = flat[0]
    refuse_error(value, name)
    return value


def column(arg: object, name: str) -> list[object]:
    """A one-column (or one-row) range as a flat list; a wider block is an error, and so
    is a cell error (:func:`check_errors`)."""
    if isinstance(arg, list) and arg and all(type(r) is list and len(r) == 1 for r in arg):
        flat = [r[0] for r in arg]  # a column, as xlwings hands it over: no copy of rows
        _refuse_errors(flat, name)
        return flat
    rows = cells(arg)
    if not rows:
        raise InputError("is an empty range", name)
    width = max(len(r) for r in rows)
    if width == 1:
        flat = [r[0] if r else None for r in rows]
        _refuse_errors(flat, name)
        return flat
    if len(rows) == 1:
        flat = list(rows[0])
        _refuse_errors(flat, name)
        return flat
    raise InputError(f"must be one column or one row, not {len(rows)} x {width} cells", name)


def is_blank(v: object) -> bool:
    """Empty cell: None, NaN or white-space text."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or (
        isinstance(v, str) and not v.strip())


def is_header_cell(value: object, kind: str = "number") -> bool:
    """True for non-empty text that is not a ``kind`` ("date" or "number") value at all.

    Text that reads as a value the readers refuse (``1500-01-01``, a date before 1900;
    ``1e400``, too large; a cell error) is not a header: its own message is the one to
    give."""
    if not isinstance(value, str) or not value.strip() or cell_error(value):
        return False
    try:
        (parse_dates if kind == "date" else parse_amounts)([value])
    except InputError as err:
        return f" is not a {kind}" in err.reason
    return False


def strip_header(columns: dict[str, list[object]], typed: dict[str, str]) -> int:
    """Drop a header row from every column when the typed ones start with a header.

    ``typed`` maps argument names to ``"date"`` or ``"number"``. The first row is a header
    only when *every* typed argument's first cell is text that is not a value; when only
    some are, the ranges do not start on the same row and that is an error (so no data row
    is ever dropped silently). Returns the range row of the first data row (1 or 2).
    """
    present = {name: kind for name, kind in typed.items() if columns[name]}
    heads = {name: is_header_cell(columns[name][0], kind) for name, kind in present.items()}
    if heads and all(heads.values()):
        for name in columns:
            columns[name] = columns[name][1:]
        return 2
    if any(heads.values()):
        header = next(name for name, h in heads.items() if h)
        value = next(name for name, h in heads.items() if not h)
        kind = "date" if present[header] == "date" else "number"
        raise InputError(f"{columns[header][0]!r} is not a {kind} ({value} row 1 holds the "
                         f"value {columns[value][0]!r}, so row 1 is data; if it is a header, "
                         "select every range with its header row)", header, 1)
    return 1


def scalar(value: object, name: str, default: float | None = None,
           integer: bool = False) -> float | None:
    """A number argument (one cell); blank gives ``default``."""
    value = one_cell(value, name)
    if is_blank(value):
        return default
    number = float(parse_amounts([value], name)[0])
    if integer:
        if number != int(number):
            raise InputError(f"must be a whole number, not {value}", name)
        return int(number)
    return number


def flag(value: object, name: str, default: bool) -> bool:
    """A TRUE/FALSE argument (also 1/0 and the words true/false, yes/no)."""
    value = one_cell(value, name)
    if is_blank(value):
        return default
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "是"):
        return True
    if text in ("false", "no", "0", "否"):
        return False
    raise InputError(f"must be TRUE or FALSE, not {value!r}", name)


def table(frame: pd.DataFrame, header: Sequence[str]) -> list[list[object]]:
    """A frame as a spilling 2-D list with a header row (converted column by column,
    :func:`xl_crm.views.series_values`)."""
    columns = [series_values(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return [list(header)] + [list(row) for row in zip(*columns)]


# C0 controls other than tab, line feed and carriage return (which cells hold), and DEL
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def cell_text(value: str) -> str:
    """Text as a cell shows it: each control character (NUL, BEL, ESC...; not tab or line
    breaks) written visibly as ``[U+0007]``, so nothing is dropped and no cell gets a
    character Excel or the file format cannot hold."""
    return _CONTROL.sub(lambda m: f"[U+{ord(m.group()):04X}]", value)


def has_control(value: str) -> bool:
    """True when :func:`cell_text` would change ``value``."""
    return _CONTROL.search(value) is not None


_BLANK, _TEXT, _OTHER = 0, 1, 2
_CELL_CODES = {type(None): _BLANK, str: _TEXT}


def text_blocks(rows: Sequence[Sequence[object]]) -> list[tuple[int, int, int, int]]:
    """Rectangles (top, left, bottom, right; 1-based, from the first cell of ``rows``)
    covering every ``str`` cell and no cell of another type but blanks (None), for the
    text number format ``@`` that makes Excel keep them as written. Per column, maximal
    runs of str/None rows holding a str; neighbouring columns with the same run merged."""
    runs: dict[tuple[int, int], list[int]] = {}  # (top, bottom) -> columns
    for j, column in enumerate(zip_longest(*rows)):
        kinds = set(map(type, column))
        if not any(issubclass(kind, str) for kind in kinds):
            continue  # no text in the column
        if all(kind is str or not issubclass(kind, str) for kind in kinds):
            # each cell's code from its type, looked up in C
            codes = np.fromiter(map(_CELL_CODES.get, map(type, column), repeat(_OTHER)),
                                np.int8, len(column))
        else:  # a subclass of str: isinstance, cell by cell
            codes = np.fromiter((_TEXT if isinstance(v, str) else _BLANK if v is None
                                 else _OTHER for v in column), np.int8, len(column))
        texts = np.flatnonzero(codes == _TEXT)
        segment = np.cumsum(codes == _OTHER)[texts]  # texts between the same two others
        first = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
        last = np.r_[first[1:] - 1, len(texts) - 1]
        for top, bottom in zip(texts[first].tolist(), texts[last].tolist()):
            runs.setdefault((top + 1, bottom + 1), []).append(j + 1)
    blocks = []
    for (top, bottom), cols in runs.items():
        start = cols[0]
        for col, after in zip(cols, cols[1:] + [None]):
            if after != col + 1:
                blocks.append((top, start, bottom, col))
                start = after
    return sorted(blocks, key=lambda b: (b[1], b[0]))
