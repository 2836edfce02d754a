"""A table's data rows written straight as sheet XML, spliced into an openpyxl sheet.

openpyxl builds every cell of a write-only sheet as an object, binds its type, looks its
style up and writes it element by element: about 6 microseconds a cell, so the customer
and tier sheets of 100,000 customers (5 million cells) took a minute. Here the rows of a
table are turned into the XML openpyxl would write for them, column by column, in blocks
of rows, into a temporary file; when openpyxl closes the sheet (on save) they are copied
in before ``</sheetData>``. openpyxl still writes the workbook: the sheet's head (columns,
panes, the header row), its tail (table, print settings), styles and everything else.

The cells, as Excel reads them:
- text: an inline string (``t="inlineStr"``), always text: ``=HYPERLINK(...)`` is not a
  formula and ``#N/A`` not an error (openpyxl's type rules would make them one); ``&``,
  ``<``, ``>`` and a carriage return escaped (an XML reader turns a bare CR into LF);
  ``xml:space="preserve"`` when the text has surrounding white space;
- numbers: ``<v>`` with the shortest text that reads back as the same double (``repr``);
  a NaN or an infinity is refused, a bug upstream rather than a cell to show;
- ``True``/``False``: ``t="b"``; dates: Excel serial numbers in the workbook's epoch
  (openpyxl's ``to_excel``: days since 1899-12-30, one less before 1900-03-01);
- ``None``: an empty cell in the column's style (a value typed there later takes it).
Every cell of a column carries that column's style (font, number format, wrap), which
openpyxl registers in the workbook's style table.

Call :func:`stream_rows` once per sheet, right after its header row and before anything
else is written below it; nothing may be appended to the sheet afterwards.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._writer import ALL_TEMP_FILES, create_temporary_file

BLOCK = 5_000  # rows converted and written at a time (bounds the strings held)
_ESCAPE = re.compile(r"[&<>\r]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
ROWS_FILE = "_xl_crm_rows"  # the sheet's attribute naming the rows' temporary file


def _text(value: str) -> str:
    if _ESCAPE.search(value):
        value = _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], value)
    return value


class _Column:
    """Turns one column's values into cell XML (one style, one column letter)."""

    def __init__(self, letter: str, style_id: int, epoch: dt.datetime):
        self.letter = letter
        self.style = f' s="{style_id}"' if style_id else ""
        self.epoch = epoch
        self.serials: dict[dt.datetime, float] = {}

    def cells(self, rows: range, values: Sequence[object]) -> list[str]:
        ref, style, out = self.letter, self.style, []
        for r, v in zip(rows, values, strict=True):
            t = type(v)
            if v is None:
                out.append(f'<c r="{ref}{r}"{style}/>' if style else "")
            elif t is str:
                space = ' xml:space="preserve"' if v != v.strip() else ""
                out.append(f'<c r="{ref}{r}"{style} t="inlineStr"><is><t{space}>{_text(v)}'
                           "</t></is></c>")
            elif t is float:
                out.append(f'<c r="{ref}{r}"{style}><v>{self.number(v)}</v></c>')
            elif t is int:
                out.append(f'<c r="{ref}{r}"{style}><v>{v}</v></c>')
            elif t is bool:
                out.append(f'<c r="{ref}{r}"{style} t="b"><v>{int(v)}</v></c>')
            elif t is dt.datetime:
                out.append(f'<c r="{ref}{r}"{style}><v>{self.serial(v)}</v></c>')
            else:  # a subclass (numpy scalar, pandas Timestamp, str subclass): its base type
                out.extend(self.cells(range(r, r + 1), [_plain(v, f"{ref}{r}")]))
        return out

    def number(self, v: float) -> str:
        if not math.isfinite(v):
            raise ValueError(f"column {self.letter}: a cell cannot hold {v!r}")
        return repr(v)

    def serial(self, v: dt.datetime) -> str:
        s = self.serials.get(v)
        if s is None:
            if v.tzinfo is not None:
                raise ValueError(f"column {self.letter}: a date with a time zone ({v})")
            s = self.serials[v] = to_excel(v, self.epoch)
        return self.number(s)


def _plain(v: object, ref: str) -> object:
    """``v`` as the plain Python value of its kind, or TypeError naming the cell."""
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day, v.hour, v.minute, v.second,
                           v.microsecond, v.tzinfo)
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    raise TypeError(f"cell {ref}: cannot write {type(v).__name__} {v!r}")


def stream_rows(ws, columns: Sequence[Sequence[object]], style_ids: Sequence[int],
                heights: Sequence[float] | None = None, first: int = 2) -> int:
    """Write ``columns`` (equal lengths; values as :func:`~.layout.cell_value` returns
    them) as rows ``first``, ``first + 1``, ... of the write-only sheet ``ws``, column i
    in style ``style_ids[i]`` (0: the default style), row j ``heights[j]`` points tall
    when given. Returns the number of rows."""
    n = len(columns[0]) if columns else 0
    if any(len(c) != n for c in columns) or len(style_ids) != len(columns):
        raise ValueError("columns and styles must line up")
    epoch = ws.parent.epoch
    makers = [_Column(get_column_letter(i + 1), s, epoch) for i, s in enumerate(style_ids)]
    path = create_temporary_file(suffix=".rows")  # removed at exit if not before
    setattr(ws, ROWS_FILE, path)
    try:
        _write_blocks(path, columns, makers, heights, first)
    except BaseException:
        remove_rows_file(ws)
        raise
    _splice_on_close(ws, path)
    return n


def _write_blocks(path: str, columns: Sequence[Sequence[object]], makers: list[_Column],
                  heights: Sequence[float] | None, first: int) -> None:
    n = len(columns[0]) if columns else 0
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, n, BLOCK):
            stop = min(start + BLOCK, n)
            rows = range(first + start, first + stop)
            cells = [m.cells(rows, c[start:stop]) for m, c in zip(makers, columns)]
            if heights is None:
                out.writelines(f'<row r="{r}">{"".join(row)}</row>'
                               for r, row in zip(rows, zip(*cells)))
            else:
                out.writelines(f'<row r="{r}" ht="{h}" customHeight="1">{"".join(row)}</row>'
                               for r, h, row in zip(rows, heights[start:stop], zip(*cells)))


def _splice_on_close(ws, rows: str) -> None:
    """When openpyxl closes ``ws``, copy the rows file in before ``</sheetData>``."""
    close = ws.close

    def close_with_rows() -> None:
        close()
        out = Path(ws._writer.out)  # openpyxl's streamed sheet (WorksheetWriter.out)
        xml = out.read_bytes()  # the head, the header row and the tail: small
        at = xml.find(b"</sheetData>")
        if at < 0:
            raise ValueError(f"sheet {ws.title!r}: no rows to add the table's rows to")
        with open(out, "wb") as sheet, open(rows, "rb") as body:
            sheet.write(xml[:at])
            shutil.copyfileobj(body, sheet, 1 << 20)
            sheet.write(xml[at:])
        remove_rows_file(ws)

    ws.close = close_with_rows


def remove_rows_file(ws) -> None:
    """Delete the rows file of ``ws`` (customer data) if it is still there."""
    path = getattr(ws, ROWS_FILE, None)
    if path is None:
        return
    if os.path.exists(path):
        os.remove(path)
    if path in ALL_TEMP_FILES:
        ALL_TEMP_FILES.remove(path)
    setattr(ws, ROWS_FILE, None)
