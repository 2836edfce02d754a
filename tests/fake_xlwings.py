"""A small in-memory stand-in for the few xlwings objects the button job touches.

Only the Excel application itself is faked (no Linux machine has it); behind this seam
everything runs for real. Members mirror xlwings: ``Book.sheets`` (iterable, by name,
``.active``, ``.add(name, after=)``), ``Sheet.name`` (settable), ``Sheet.range(address)``,
``Sheet.used_range``, ``Sheet.tables``, ``Sheet.delete()``, ``Sheet.autofit()``,
``Range.value`` (reads 2-D lists, writes expand from the top-left cell), ``Book.app.alert``.
"""

from __future__ import annotations

import copy
import re


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
        self.number_format = "General"

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
        for i, row in enumerate(rows):
            for j, v in enumerate(row if isinstance(row, list) else [row]):
                self.sheet.cells[(self.row + i, self.column + j)] = v


class Table:
    def __init__(self, rng: Range):
        self.range = rng


class Sheet:
    def __init__(self, book: Book, name: str, rows=None, first_row: int = 1):
        self.book, self._name = book, name
        self.cells: dict[tuple[int, int], object] = {}
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
