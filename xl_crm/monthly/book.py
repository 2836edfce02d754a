"""The workbook as the button job sees it: the few xlwings members it uses
(:class:`BookLike`), finding the sales sheet, reading a range's rows, and writing the
``CRM ...`` result sheets all or nothing (:func:`checked_sheets`, :func:`replace_sheets`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Protocol

from ..core.columns import column_letter
from ..core.errors import InputError, show
from ..i18n import LANGS, text
from ..ranges import cell_text, has_control, text_blocks
from ..views import MAX_CELL_TEXT, excel_length, fits_a_cell
from .settings import Settings

PREFIX = "CRM "


SALES_SHEETS = ("sales", "销售")


TEMP = "CRM~new~"


class RangeLike(Protocol):
    """What the job uses of ``xlwings.Range``."""

    value: object
    number_format: str


class SheetLike(Protocol):
    """What the job uses of ``xlwings.Sheet``."""

    name: str

    def range(self, address: str) -> RangeLike: ...
    def delete(self) -> None: ...
    def autofit(self) -> None: ...

    @property
    def used_range(self) -> RangeLike: ...

    @property
    def tables(self) -> Sequence: ...


class BookLike(Protocol):
    """What the job uses of ``xlwings.Book``."""

    @property
    def sheets(self): ...  # iterable; [name], .active, .add(name, after=)


def find_sheet(book: BookLike, names: Iterable[str]) -> SheetLike | None:
    """The first sheet whose name matches one of ``names`` (case-insensitive)."""
    wanted = [n.lower() for n in names]
    for sheet in book.sheets:
        if sheet.name.strip().lower() in wanted:
            return sheet
    return None


def sales_sheet(book: BookLike, settings: Settings) -> SheetLike:
    """The sheet holding the sales table (see the module docstring)."""
    if settings.sales_sheet:
        sheet = find_sheet(book, [settings.sales_sheet])
        if sheet is None:
            raise InputError(f"the settings name sales sheet {settings.sales_sheet!r}, but "
                             "the workbook has no sheet of that name")
        return sheet
    return find_sheet(book, SALES_SHEETS) or book.sheets.active


def range_rows(rng: RangeLike) -> tuple[list[list[object]], int]:
    """A range's values as a list of rows (xlwings gives a bare value for one cell and a
    flat list for one row) and the sheet row of its first row."""
    values = rng.value
    if not isinstance(values, list):
        values = [[values]]
    elif values and not isinstance(values[0], list):
        values = [values]
    return values, int(getattr(rng, "row", 1))


def sheet_rows(sheet: SheetLike) -> tuple[list[list[object]], int]:
    """The sales table's values (first Excel table, else the used range) and its first row."""
    tables = list(getattr(sheet, "tables", []) or [])
    return range_rows(tables[0].range if tables else sheet.used_range)


def output_names(lang: str) -> tuple[str, str, str, str, str, str]:
    """Names of the result sheets in ``lang``: customers, tiers, strategy, log, actions,
    changes."""
    return (f"{PREFIX}{text('sheet.customers', lang)}", f"{PREFIX}ABC",
            f"{PREFIX}{text('sheet.strategy', lang)}", f"{PREFIX}Log",
            f"{PREFIX}{text('sheet.actions', lang)}", f"{PREFIX}{text('sheet.changes', lang)}")


def is_output(name: str) -> bool:
    """True for a sheet this job writes (in any language); no other sheet is ever replaced."""
    return any(name == n for lang in LANGS for n in output_names(lang))


PLAIN_TYPES = frozenset({type(None), bool, int, dt.datetime})


def checked_sheets(sheets: dict[str, list[list[object]]]) -> dict[str, list[list[object]]]:
    """Every cell of ``sheets`` checked, in place, before the workbook is touched: text
    through :func:`xl_crm.ranges.cell_text` (control characters made visible); None, bool,
    int, finite float and datetime kept; text longer than an Excel cell holds, a
    non-finite number or any other type refused naming the sheet and cell."""
    for name, rows in sheets.items():
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                kind = type(v)
                if kind is str or isinstance(v, str):  # a subclass too (numpy's str_)
                    if has_control(v):
                        row[j] = v = cell_text(v)
                    if not fits_a_cell(v):
                        raise InputError(f"{name} cell {column_letter(j)}{i + 1}: {show(v)} has "
                                         f"{excel_length(v):,} characters; an Excel cell "
                                         f"holds at most {MAX_CELL_TEXT:,}")
                elif kind is float:
                    if not math.isfinite(v):
                        raise InputError(f"{name} cell {column_letter(j)}{i + 1}: {v} cannot be "
                                         "written to a cell")
                elif kind not in PLAIN_TYPES and not isinstance(v, str | bool | int | dt.datetime):
                    raise InputError(f"{name} cell {column_letter(j)}{i + 1}: a "
                                     f"{type(v).__name__} cannot be written to a cell")
    return sheets


def replace_sheets(book: BookLike, sheets: dict[str, list[list[object]]],
                   data: Sequence[str] = ()) -> None:
    """Write ``sheets`` under temporary names, then swap them for the old ``CRM `` sheets
    and for the sheets named in ``data`` (the History sheet; case as in the workbook).

    Text cells get the number format ``@`` before the values are written (see
    :func:`xl_crm.ranges.text_blocks`). If writing fails, the temporary sheets are
    removed and the old ones are untouched.
    """
    wanted = {n.lower() for lang in LANGS for n in output_names(lang)}
    clash = [s.name for s in book.sheets if s.name.lower() in wanted and not is_output(s.name)]
    if clash:  # Excel sheet names ignore case: refuse before changing anything
        raise InputError(f"the sheet {clash[0]!r} has the name of a result sheet (Excel ignores "
                         "case); rename it so that the results can be written")
    created = []
    try:
        for i, (name, rows) in enumerate(sheets.items()):
            sheet = book.sheets.add(f"{TEMP}{i}", after=list(book.sheets)[-1])
            created.append((sheet, name))
            if rows:
                for top, left, bottom, right in text_blocks(rows):
                    sheet.range(f"{column_letter(left - 1)}{top}:"
                                f"{column_letter(right - 1)}{bottom}").number_format = "@"
                sheet.range("A1").value = rows
            sheet.autofit()
    except Exception:
        for sheet, _ in created:
            sheet.delete()
        raise
    for sheet in [s for s in book.sheets if is_output(s.name) or s.name in data]:
        sheet.delete()
    for sheet, name in created:
        sheet.name = name
