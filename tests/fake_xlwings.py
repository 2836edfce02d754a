"""A small in-memory stand-in for the few xlwings objects the button job touches.

Only the Excel application itself is faked (no Linux machine has it); behind this seam
everything runs for real. Members mirror xlwings: ``Book.sheets`` (iterable, by name,
``.active``, ``.add(name, after=)``), ``Sheet.name`` (settable), ``Sheet.range(address)``,
``Sheet.used_range``, ``Sheet.tables``, ``Sheet.delete()``, ``Sheet.autofit()``,
``Range.value`` (reads 2-D lists, writes expand from the top-left cell),
``Range.number_format`` (per cell), ``Book.app.alert``.

Excel's entry rule (what makes a fake that forgives nothing): a ``str`` written through
``Range.value`` into a cell whose number format is not text (``@``) is typed by Excel as if
entered by hand (:func:`excel_entry`, en-US rules, the cases that bite): ``=...`` and
``+``/``-``/``@`` followed by something that is not a number become a :class:`Formula`;
numeric text becomes a float of 15 significant digits (``00123`` -> 123.0, ``1e5``,
``1,000``, ``(12)`` -> -12.0, ``50%`` -> 0.5, ``$5`` -> 5.0); date-like text (``3-4``,
``1/2``, ``3/4/2025``, ``2025-03-01``, ``4-Mar``) becomes a datetime; ``TRUE``/``FALSE``
a bool; ``""`` an empty cell. Into a ``@`` cell a str is kept exactly. Cells written
in ``rows`` when a sheet is made (``Book.add_sheet``) are kept as given: that is the
user's workbook as it already is.
"""

from __future__ import annotations

import copy
import datetime as dt
import re

TODAY = dt.date(2026, 12, 3)  # the year Excel gives a date typed without one
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_NUMBER = re.compile(r"[+-]?\$?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?%?")


class Formula(str):
    """A cell Excel turned into a formula (its text as Excel stores it, ``=...``)."""


def _number(text: str) -> float | None:
    t = text.strip()
    negative = t.startswith("(") and t.endswith(")")
    t = t[1:-1] if negative else t
    if not _NUMBER.fullmatch(t) or not any(c.isdigit() for c in t):
        return None
    percent = t.endswith("%")
    x = float(t.rstrip("%").replace("$", "").replace(",", ""))
    x = float(f"{x / 100 if percent else x:.15g}")  # Excel keeps 15 significant digits
    return -x if negative else x


def _date(text: str) -> dt.datetime | None:
    t = text.strip().lower()
    try:
        if m := re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", t):
            return dt.datetime(int(m[1]), int(m[2]), int(m[3]))
        if m := re.fullmatch(r"(\d{1,2})[-/](\d{1,2})(?:[-/](\d{4}|\d{2}))?", t):
            year = int(m[3]) if m[3] else TODAY.year
            year += 2000 if m[3] and len(m[3]) == 2 and year < 30 else 0
            year += 1900 if m[3] and len(m[3]) == 2 and year < 100 else 0
            return dt.datetime(year, int(m[1]), int(m[2]))  # month first (en-US)
        m = re.fullmatch(r"(\d{1,2})[- ]([a-z]{3})[a-z]*(?:[- ](\d{4}))?", t)
        if m and m[2] in MONTHS:
                return dt.datetime(int(m[3] or TODAY.year), MONTHS.index(m[2]) + 1, int(m[1]))
    except ValueError:  # 2/30: no such day, Excel keeps the text
        return None
    return None


def excel_entry(text: str) -> object:
    """What a cell holds after ``text`` is entered into a General-format cell."""
    if text == "":
        return None
    if text.strip().upper() in ("TRUE", "FALSE"):
        return text.strip().upper() == "TRUE"
    number = _number(text)
    if number is not None:
        return number
    if text[0] == "=" or (text[0] in "+-@" and len(text) > 1):
        return Formula(text if text[0] == "=" else "=" + text.lstrip("@"))
    day = _date(text)
    return day if day is not None else text


def _cell(address: str) -> tuple[int, int]:
    m = re.fullmatch(r"([A-Z]+)(\d+)", address)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


class Range:
    def __init__(self, sheet: Sheet, top: int, left: int, bottom: int, right: int):
        self.sheet, self.row, self.column = sheet, top, left
        self.bottom, self.right = bottom, right

    def _cells(self):
        return [(r, c) for r in range(self.row, self.bottom + 1)
                for c in range(self.column, self.right + 1)]

    @property
    def number_format(self) -> str | None:
        """The cells' format; None when they differ (as xlwings)."""
        formats = {self.sheet.formats.get(cell, "General") for cell in self._cells()}
        return formats.pop() if len(formats) == 1 else None

    @number_format.setter
    def number_format(self, value: str) -> None:
        self.sheet.book.before_write(self.sheet)
        for cell in self._cells():
            self.sheet.formats[cell] = value

    @property
    def value(self):
        rows = [[self.sheet.cells.get((r, c)) for c in range(self.column, self.right + 1)]
                for r in range(self.row, self.bottom + 1)]
        if len(rows) == 1 and len(rows[0]) == 1:
            return rows[0][0]
        if len(rows) == 1:
            return rows[0]  # like xlwings: one row is a flat list
        if all(len(r) == 1 for r in rows):
            return [r[0] for r in rows]  # and so is one column
        return rows

    @value.setter
    def value(self, rows):
        self.sheet.book.before_write(self.sheet)
        if not isinstance(rows, list):
            rows = [[rows]]
        if len({len(r) for r in rows if isinstance(r, list)}) > 1:  # as xlwings refuses them
            raise ValueError("All elements of a 2d list or tuple must be of the same length")
        for i, row in enumerate(rows):
            for j, v in enumerate(row if isinstance(row, list) else [row]):
                cell = (self.row + i, self.column + j)
                if isinstance(v, str) and self.sheet.formats.get(cell, "General") != "@":
                    v = excel_entry(v)
                if v is None:
                    self.sheet.cells.pop(cell, None)
                else:
                    self.sheet.cells[cell] = v


class Table:
    def __init__(self, rng: Range):
        self.range = rng


class Sheet:
    def __init__(self, book: Book, name: str, rows=None, first_row: int = 1):
        self.book, self._name = book, name
        self.cells: dict[tuple[int, int], object] = {}
        self.formats: dict[tuple[int, int], str] = {}  # number formats other than General
        self.tables: list[Table] = []
        for i, row in enumerate(rows or []):
            for j, v in enumerate(row):
                if v is not None:
                    self.cells[(first_row + i, 1 + j)] = v

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if any(s is not self and s.name.lower() == value.lower() for s in self.book.sheets):
            raise ValueError(f"a sheet is already called {value}")
        if value.strip().lower() == "history":  # Excel's own change-tracking sheet
            raise ValueError("History is a reserved name")
        self._name = value

    def range(self, address: str) -> Range:
        parts = address.split(":")
        top, left = _cell(parts[0])
        bottom, right = _cell(parts[-1])
        return Range(self, top, left, bottom, right)

    @property
    def used_range(self) -> Range:
        if not self.cells:
            return Range(self, 1, 1, 1, 1)
        rows = [r for r, _ in self.cells]
        cols = [c for _, c in self.cells]
        return Range(self, min(rows), min(cols), max(rows), max(cols))

    def delete(self) -> None:
        self.book.sheets.items.remove(self)

    def autofit(self) -> None:
        pass


class Sheets:
    def __init__(self, book: Book):
        self.book, self.items = book, []
        self.active_sheet = None

    def __iter__(self):
        return iter(list(self.items))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.items[key]
        return next(s for s in self.items if s.name == key)

    @property
    def active(self) -> Sheet:
        return self.active_sheet or self.items[0]

    def add(self, name: str, after: Sheet | None = None) -> Sheet:
        if name.strip().lower() == "history" or any(s.name.lower() == name.lower()
                                                    for s in self.items):
            raise ValueError(f"Excel refuses a sheet named {name}")  # reserved, or taken
        sheet = Sheet(self.book, name)
        position = self.items.index(after) + 1 if after is not None else 0
        self.items.insert(position, sheet)
        return sheet


class App:
    def __init__(self, answers=()):
        self.alerts: list[tuple[str, str, str | None]] = []
        self.answers = list(answers)

    def alert(self, prompt: str, title: str = "", buttons: str | None = None, **_):
        self.alerts.append((prompt, title, buttons))
        return self.answers.pop(0) if buttons and self.answers else "ok"


class Book:
    def __init__(self, fullname: str = "/tmp/book.xlsm", answers=()):
        self.fullname = fullname
        self.name = fullname.rsplit("/", 1)[-1]
        self.sheets = Sheets(self)
        self.app = App(answers)
        self.fail_on_write: str | None = None  # sheet name prefix whose writing fails

    def before_write(self, sheet: Sheet) -> None:
        if self.fail_on_write and sheet.name.startswith(self.fail_on_write):
            raise OSError("simulated Excel failure while writing")

    def add_sheet(self, name: str, rows=None, first_row: int = 1) -> Sheet:
        sheet = Sheet(self, name, rows, first_row)
        self.sheets.items.append(sheet)
        return sheet

    def snapshot(self):
        """Names and cells of every sheet, to prove what changed and what did not."""
        return [(s.name, copy.deepcopy(s.cells)) for s in self.sheets]
