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

BLOCK = 5_000  # rows converted at a time (bounds the values held)
_ESCAPE = re.compile(r"[&<>\r{}]")
# XML's escapes, a bare CR kept as one; braces doubled for the row template's str.format
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;", "{": "{{", "}": "}}"}
ROWS_FILE = "_xl_crm_rows"  # the sheet's attribute naming the rows' temporary file
_NOT_FINITE = frozenset({"nan", "inf", "-inf"})  # repr of the floats a cell cannot hold
_PRESERVE = ' xml:space="preserve"'
_FLOATS, _INTS, _TEXTS = frozenset({float, type(None)}), frozenset({int}), frozenset({str})


def _text(value: str) -> str:
    if _ESCAPE.search(value):
        value = _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], value)
    return value


class _Column:
    """Turns one column's values into cell XML (one style, one column letter), the row
    number left open as ``{0}``."""

    def __init__(self, letter: str, style_id: int, epoch: dt.datetime):
        self.letter = letter
        self.style = f' s="{style_id}"' if style_id else ""
        self.head = f'<c r="{letter}{{0}}"{self.style}'
        self.epoch = epoch
        self.serials: dict[dt.datetime, float] = {}

    def cells(self, values: Sequence[object]) -> list[str]:
        head = self.head
        empty = head + "/>" if self.style else ""
        # a column of one kind (most are): the cells made without a choice per cell
        kinds = set(map(type, values))
        if kinds and kinds <= _FLOATS:
            texts = list(map(repr, values))  # None's is "None"
            if not _NOT_FINITE.isdisjoint(texts):  # refused, as number() refuses it
                self.number(next(v for v in values if v is not None and not math.isfinite(v)))
            return [empty if t == "None" else f"{head}><v>{t}</v></c>" for t in texts]
        if kinds == _INTS:
            return [f"{head}><v>{v}</v></c>" for v in values]
        if kinds == _TEXTS:
            plain = not _ESCAPE.search("".join(values))  # one look for the whole column
            return [f'{head} t="inlineStr"><is><t{"" if v == v.strip() else _PRESERVE}>'
                    f'{v if plain else _text(v)}</t></is></c>' for v in values]
        return self.each(values)

    def each(self, values: Sequence[object]) -> list[str]:
        """:meth:`cells` choosing the XML cell by cell, for columns of mixed kinds."""
        head, out = self.head, []
        empty = head + "/>" if self.style else ""
        for v in values:
            t = type(v)
            if v is None:
                out.append(empty)
            elif t is str:
                space = _PRESERVE if v != v.strip() else ""
                out.append(f'{head} t="inlineStr"><is><t{space}>{_text(v)}</t></is></c>')
            elif t is float:
                out.append(f"{head}><v>{self.number(v)}</v></c>")
            elif t is int:
                out.append(f"{head}><v>{v}</v></c>")
            elif t is bool:
                out.append(f'{head} t="b"><v>{int(v)}</v></c>')
            elif t is dt.datetime:
                out.append(f"{head}><v>{self.serial(v)}</v></c>")
            else:  # a subclass (numpy scalar, pandas Timestamp, str subclass): its base type
                out.extend(self.cells([_plain(v, self.letter)]))
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


def _plain(v: object, column: str) -> object:
    """``v`` as the plain Python value of its kind, or TypeError naming the column."""
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
    raise TypeError(f"column {column}: cannot write {type(v).__name__} {v!r}")


class TableRows:
    """A table's data rows as sheet XML with the row number left open: the values are
    turned into XML once (the costly part) and the rows written on any number of sheets,
    each a selection of them (a tier's customers on its sheet, every customer on
    Customers). Column i is in style ``style_ids[i]`` (0: the default style); row j is
    ``heights[j]`` points tall when heights are given. Add the rows with :meth:`add`."""

    def __init__(self, style_ids: Sequence[int], epoch: dt.datetime):
        self.columns = [_Column(get_column_letter(i + 1), s, epoch)
                        for i, s in enumerate(style_ids)]
        self.templates: list[str] = []

    def __len__(self) -> int:
        return len(self.templates)

    def add(self, columns: Sequence[Sequence[object]],
            heights: Sequence[float] | None = None) -> None:
        """Append rows given as ``columns`` (equal lengths, one per style; values as
        :func:`~.layout.cell_value` returns them)."""
        n = len(columns[0]) if columns else 0
        if len(columns) != len(self.columns) or any(len(c) != n for c in columns) \
                or (heights is not None and len(heights) != n):
            raise ValueError("columns, styles and heights must line up")
        for start in range(0, n, BLOCK):
            cells = [m.cells(c[start:start + BLOCK]) for m, c in zip(self.columns, columns)]
            if heights is None:
                self.templates.extend(f'<row r="{{0}}">{"".join(row)}</row>'
                                      for row in zip(*cells))
            else:
                self.templates.extend(
                    f'<row r="{{0}}" ht="{h}" customHeight="1">{"".join(row)}</row>'
                    for h, row in zip(heights[start:start + BLOCK], zip(*cells)))


def stream_rows(ws, rows: TableRows, select: Sequence[int] | None = None,
                first: int = 2) -> int:
    """Write ``rows`` (those at the positions ``select``, in its order, when given) as
    rows ``first``, ``first + 1``, ... of the write-only sheet ``ws``. Returns the number
    of rows written."""
    templates = rows.templates if select is None else [rows.templates[i] for i in select]
    path = create_temporary_file(suffix=".rows")  # removed at exit if not before
    setattr(ws, ROWS_FILE, path)
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(t.format(r) for r, t in enumerate(templates, start=first))
    except BaseException:
        remove_rows_file(ws)
        raise
    _splice_on_close(ws, path)
    return len(templates)


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
