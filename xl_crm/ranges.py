"""What Excel hands a worksheet function, turned into plain columns and back.

A range argument arrives as a list of rows (2-D list), a single cell as a scalar, or a
1-D list (xlwings Lite). Rows are counted from the first cell of the range (row 1), so
for a range that starts on sheet row 1 the row in a message is the sheet row.

Header rows: the first cell of a typed argument (dates, amounts, scores) that is text
and not a valid value is a header; then the first row of *every* range argument of the
call is skipped, because the ranges cover the same rows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .core.errors import InputError
from .core.values import parse_amounts, parse_dates


def cells(arg: object) -> list[list[object]]:
    """Any argument as a list of rows."""
    if isinstance(arg, list | tuple):
        if not arg:
            return []
        if all(isinstance(r, list | tuple) for r in arg):
            return [list(r) for r in arg]
        return [[v] for v in arg]
    return [[arg]]


def column(arg: object, name: str) -> list[object]:
    """A one-column (or one-row) range as a flat list; a wider block is an error."""
    rows = cells(arg)
    if not rows:
        raise InputError("is an empty range", name)
    width = max(len(r) for r in rows)
    if width == 1:
        return [r[0] if r else None for r in rows]
    if len(rows) == 1:
        return list(rows[0])
    raise InputError(f"must be one column or one row, not {len(rows)} x {width} cells", name)


def is_blank(v: object) -> bool:
    """Empty cell: None, NaN or white-space text."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or (
        isinstance(v, str) and not v.strip())


def is_header_cell(value: object, kind: str = "number") -> bool:
    """True for non-empty text that is not a valid ``kind`` ("date" or "number") value."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        (parse_dates if kind == "date" else parse_amounts)([value])
    except InputError:
        return True
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
    if isinstance(value, list | tuple):
        flat = column(value, name)
        if len(flat) != 1:
            raise InputError(f"must be one cell, not {len(flat)}", name)
        value = flat[0]
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


def excel_value(v: object) -> object:
    """A value Excel can show: NaN/NaT to empty, numpy scalars to Python, dates to datetime."""
    if v is None:
        return None
    if isinstance(v, float | np.floating):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(v)
        return None if pd.isna(stamp) else stamp.to_pydatetime()
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)
    return v


def table(frame: pd.DataFrame, header: Sequence[str]) -> list[list[object]]:
    """A frame as a spilling 2-D list with a header row."""
    body = [[excel_value(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return [list(header)] + body
