"""Building blocks of the report workbook: styles, formats, safe cells, big tables.

Every sheet is written with openpyxl's write-only worksheets (rows streamed in order, so
100,000 customers stay small in memory). The rows of the big tables (:func:`write_table`)
bypass openpyxl's per-cell objects: :mod:`.sheet_rows` writes them as sheet XML, column by
column, and adds them to the sheet when openpyxl saves it.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from copy import copy

import pandas as pd
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from ..i18n import text
from ..plaintext import width as display_width
from ..views import MAX_CELL_TEXT, excel_prefix, excel_value, fits_a_cell, series_values
from .sheet_rows import TableRows, stream_rows

MONEY = "#,##0.00"
PERCENT = "0.0%"
DATE = "yyyy-mm-dd"
INTEGER = "#,##0"
RATE = "0.00"
EXCEL_MAX_ROWS = 1_048_576
FONTS = {"en": "Calibri", "zh": "Microsoft YaHei"}  # LibreOffice falls back to Noto CJK
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
# what a workbook cannot hold: openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE, plus XML's
# non-characters and lone surrogates
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_OOXML_ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")


class _Cell(Cell):
    """A cell whose repr is cheap: openpyxl's write-only ``append`` formats ``repr(cell)``
    into an exception message for every styled cell it is given (before catching it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<cell>"


def new_cell(ws, value: object = None) -> Cell:
    """A write-only cell (openpyxl's ``WriteOnlyCell``, with a cheap repr)."""
    return _Cell(ws, row=1, column=1, value=value)


class Styler:
    """Fonts for one language; cells are created through it so every cell gets the font."""

    def __init__(self, ws, lang: str):
        self.ws = ws
        self.lang = lang
        self.name = FONTS.get(lang, "Calibri")
        self.plain = Font(name=self.name, size=10)
        self.bold = Font(name=self.name, size=10, bold=True)
        self.header = Font(name=self.name, size=10, bold=True, color="FFFFFF")
        self.title = Font(name=self.name, size=16, bold=True, color="1F4E78")
        self.big = Font(name=self.name, size=16, bold=True, color="1F4E78")
        self.small = Font(name=self.name, size=9, italic=True, color="595959")
        self.warning = Font(name=self.name, size=10, bold=True, color="C00000")
        # (format, font, fill, wrap) -> (font, fill, the workbook's style ids for them)
        self._styles: dict[tuple, tuple[Font, PatternFill | None, StyleArray]] = {}

    def cell(self, value: object, fmt: str | None = None, font: Font | None = None,
             fill: PatternFill | None = None, wrap: bool = False) -> Cell:
        """One styled cell; text from users is always stored as text, never a formula.
        ``fmt``: a number format, or the layouts' markers ``"text"`` (user text: no
        number format; Excel would repair a format spelled "text") and ``"wrap"``."""
        if fmt in ("text", "wrap"):
            fmt, wrap = None, wrap or fmt == "wrap"
        c = new_cell(self.ws, cell_value(value))
        if isinstance(value, str) and not isinstance(value, Formula):
            c.data_type = "s"
        if fmt is None and c.is_date:  # the date format openpyxl gave it
            fmt = c.number_format
        c._style = copy(self._style(fmt, font or self.plain, fill, wrap))
        return c

    def formula(self, expr: str, fmt: str | None = None, font: Font | None = None) -> Cell:
        """A formula cell (only ever built by the report, never from user text)."""
        c = new_cell(self.ws, cell_value(Formula(expr)))
        c._style = copy(self._style(fmt, font or self.plain, None, False))
        return c

    def _style(self, fmt: str | None, font: Font, fill: PatternFill | None,
               wrap: bool) -> StyleArray:
        """The workbook's style ids of a format, font, fill and wrap, registered once per
        combination: openpyxl looks every font and fill it is given up by a hash of all
        their fields, most of a styled cell's cost. Keyed by the objects' identity, which
        the cache keeps alive."""
        key = (fmt, id(font), id(fill), wrap)
        hit = self._styles.get(key)
        if hit is not None:
            return hit[2]
        c = new_cell(self.ws)
        c.font = font
        if fmt:
            c.number_format = fmt
        if fill:
            c.fill = fill
        if wrap:
            c.alignment = Alignment(wrap_text=True, vertical="top")
        self._styles[key] = (font, fill, c._style)
        return c._style

    def column_styles(self, formats: Sequence[str | None]) -> list[int]:
        """The workbook's style ids of table columns in ``formats``: a number format,
        ``"text"`` for user text, ``"wrap"`` for text wrapped in its column, or None."""
        return [self.cell(None, fmt).style_id for fmt in formats]

    def header_row(self, labels: Sequence[str]) -> list[Cell]:
        """A row of header cells (white bold on dark blue)."""
        return [self.cell(h, font=self.header, fill=HEADER_FILL) for h in labels]


class Formula(str):
    """Marks a string as a formula written by the report itself."""


def cell_value(v: object) -> object:
    """A value openpyxl can write: formulas of the report get their "=", text goes through
    :func:`cell_text`, the rest as for a worksheet function's result
    (:func:`xl_crm.ranges.excel_value`)."""
    if isinstance(v, Formula):
        return "=" + v.lstrip("=")
    if isinstance(v, str):
        return cell_text(v)
    return excel_value(v)


def cell_text(value: str) -> str:
    """``value`` as a cell must store it so that Excel shows exactly the stored text.

    Rules (the written text is what Excel, LibreOffice and any reader show):

    - control characters that a workbook cannot hold (U+0000-U+0008, U+000B, U+000C,
      U+000E-U+001F: openpyxl refuses them, Excel cannot show them) become their visible
      Unicode control pictures, U+2400 + code: BEL is "\u2407", NUL "\u2400", ESC
      "\u241b"; tab, line feed and carriage return stay;
    - characters XML cannot hold at all (U+FFFE, U+FFFF, lone surrogates) become U+FFFD;
    - a literal ``_xHHHH_`` (OOXML's escape, which Excel and LibreOffice decode) is
      written as ``_x005F_xHHHH_`` so that it shows as typed;
    - text longer than a cell holds (32,767 characters as Excel counts them, UTF-16
      units: an emoji counts 2) is cut to 32,766 and ends in "…".
    """
    if _BAD_TEXT.search(value):
        value = _BAD_TEXT.sub(_visible, value)
    if "_x" in value:
        value = _OOXML_ESCAPE.sub(r"_x005F\1", value)
    if not fits_a_cell(value):
        value = excel_prefix(value, MAX_CELL_TEXT - 1) + "…"
    return value


def _visible(match: re.Match) -> str:
    code = ord(match.group(0))
    return chr(0x2400 + code) if code < 0x20 else "\ufffd"


def safe_sheet_name(name: str, taken: Iterable[str] = ()) -> str:
    """Excel-valid sheet name: no []:*?/\\, at most 31 characters, unique in ``taken``."""
    base = _BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"
    base = base[:31]
    taken_lower = {t.lower() for t in taken}
    candidate, n = base, 2
    while candidate.lower() in taken_lower:
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)] + suffix
        n += 1
    return candidate


_CELL_LIKE = re.compile(r"[A-Za-z]{1,3}\d+|[RrCc]\d*|[Rr]\d+[Cc]\d+")


def table_name(name: str, taken: set[str]) -> str:
    """A unique Excel table name, readable in any language: letters (Chinese ones too),
    digits and underscores, starting with a letter and not shaped like a cell reference
    (``C1``, ``R1C1``), which Excel refuses."""
    base = re.sub(r"\W", "_", name) or "Table"
    if not base[0].isalpha() or _CELL_LIKE.fullmatch(base):
        base = "T_" + base
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def setup_print(ws, footer: str, title_rows: str | None = "1:1") -> None:
    """Landscape, fit to one page wide, header rows repeated, footer with page numbers.

    Call before the first row is written (write-only sheets write their head first)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.left.text = footer
    ws.oddFooter.right.text = "&P / &N"


def set_widths(ws, widths: Sequence[float]) -> None:
    """Column widths in characters, from column A."""
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width


def column_values(series: pd.Series) -> list[object]:
    """A column as Python values ready for cells (dates as datetime, NaN as empty, text
    through :func:`cell_value`). A column of text (and empty cells) that
    :func:`cell_text` would leave as it is, the most common kind, is looked at once."""
    dtype = series.dtype
    if dtype == object or isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
        values = series.tolist()
        if set(map(type, values)) <= _TEXT_OR_BLANK:  # blanks are None or NaN
            plain = [None if type(v) is float and math.isnan(v) else v for v in values]
            if texts_as_they_are([v for v in plain if type(v) is str]):
                return plain  # cell_value's values: the floats stay, NaN is empty
        return [cell_value(v) for v in values]
    return series_values(series, cell_value)


_TEXT_OR_BLANK = frozenset({str, type(None), float})


def texts_as_they_are(texts: Sequence[str]) -> bool:
    """Whether :func:`cell_text` leaves each of ``texts`` as it is (looked at together)."""
    joined = "".join(texts)
    return not _BAD_TEXT.search(joined) and "_x" not in joined and (
        max(map(len, texts), default=0) <= MAX_CELL_TEXT // 2 or all(map(fits_a_cell, texts)))


def table_rows(styler: Styler, columns: Sequence[list[object]],
               formats: Sequence[str | None], widths: Sequence[float] | None = None
               ) -> TableRows:
    """A table's data rows, ready for :func:`write_table`.

    ``columns``: the values as :func:`cell_value` makes them (:func:`column_values` for
    a pandas column); text is always stored as text (:mod:`.sheet_rows`).
    ``formats[i]`` is the format of column i (:meth:`Styler.column_styles`). ``widths``
    (the column widths, characters): each row is made as tall as its wrapped text needs
    (:func:`row_height`), since neither Excel nor LibreOffice sizes the rows of a file
    they open.
    """
    heights = None
    wrap_cols = [i for i, f in enumerate(formats) if f == "wrap"]
    if wrap_cols and widths and columns:
        heights = [row_height([(columns[i][j], widths[i]) for i in wrap_cols])
                   for j in range(len(columns[0]))]
    rows = TableRows(styler.column_styles(formats), styler.ws.parent.epoch)
    rows.add(columns, heights)
    return rows


def write_table(ws, styler: Styler, headers: Sequence[str], rows: TableRows, name: str,
                taken: set[str], freeze: str = "B2", select: Sequence[int] | None = None
                ) -> int:
    """Header row plus data rows (``rows``, or those at the positions ``select``) as an
    Excel table with filters; returns the data rows written. ``freeze``: the first cell
    that scrolls (the header row and the columns left of it stay visible)."""
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = freeze  # before the first row: write-only sheets write their head first
    ws.append(styler.header_row(headers))
    n = stream_rows(ws, rows, select)
    last = get_column_letter(len(headers))
    table = Table(displayName=table_name(name, taken), ref=f"A1:{last}{max(n, 1) + 1}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    # a column's name is its header cell's text as stored (escapes, control pictures),
    # which Excel reads alike; a name that differs makes Excel repair the table
    stored = [cell_text(h) for h in headers]
    table.tableColumns = [TableColumn(id=i + 1, name=_unique_header(h, stored[:i]))
                          for i, h in enumerate(stored)]
    table.autoFilter = AutoFilter(ref=table.ref)
    with warnings.catch_warnings():  # openpyxl warns in write-only mode; columns are set above
        warnings.simplefilter("ignore", UserWarning)
        ws.add_table(table)
    return n


def _unique_header(header: str, before: Sequence[str]) -> str:
    count = sum(1 for h in before if h == header)
    return header if not count else f"{header}{count + 1}"


def notes_footer(lang: str, period: str = "") -> str:
    """Page footer text: the report, its month and the sheet's name (Excel's ``&A``)."""
    return f"{text('notes.footer', lang)} {period} · &A".replace("  ", " ")


def place_chart(ws, chart, anchor: str, width: float = 18, height: float = 8.5) -> None:
    """Size (cm) and anchor a chart, with every axis shown: openpyxl 3.1 writes axes without
    ``<c:delete val="0"/>``, and Excel then hides them and their labels."""
    chart.width, chart.height = width, height
    for part in (chart, *chart._charts):  # a combined chart keeps its parts' axes
        for axis in (part.x_axis, part.y_axis):
            axis.delete = False
    ws.add_chart(chart, anchor)


LINE_POINTS = 13.5  # the height of a line of 10-point text, in points


def row_height(cells: Sequence[tuple[object, float]]) -> float:
    """The height in points a row needs for its wrapped ``(text, column width)`` cells:
    lines per cell = its paragraphs, each as many lines as its display width (East
    Asian characters count 2) over the column's width, the tallest cell deciding."""
    lines = 1
    for value, size in cells:
        if isinstance(value, str) and value:
            per = max(size - 1, 1)
            lines = max(lines, sum(max(1, math.ceil(display_width(p) / per))
                                   for p in value.split("\n")))
    return lines * LINE_POINTS


def ignore_numbers_as_text(ws, ref: str) -> None:
    """Turn off Excel's green "number stored as text" marks on ``ref`` (e.g. ``Q2:Q3001``),
    for codes that are text by rule (RFM cells such as "545"). openpyxl writes no
    ``<ignoredErrors>``; the element is added where the sheet's tail holds it, after the
    page breaks and before the drawing (ECMA-376 order). Call before the sheet is saved."""
    from openpyxl.xml.functions import Element, SubElement

    ws._get_writer()  # write-only: the writer exists once rows are written
    writer = ws._writer
    write_breaks = writer.write_breaks

    def breaks_then_ignored() -> None:
        write_breaks()
        element = Element("ignoredErrors")
        SubElement(element, "ignoredError", sqref=ref, numberStoredAsText="1")
        writer.xf.send(element)

    writer.write_breaks = breaks_then_ignored
