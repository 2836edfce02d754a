"""The button job: the month's sales sheet of a workbook in, result sheets (and a report
file) out. Everything here runs without Excel; :mod:`xl_crm.macros` only hands it the
calling workbook.

The job touches a workbook only through the few xlwings members listed in
:class:`BookLike` (``sheets``, ``range(...).value``, ``used_range``, ``tables``,
``name``, ``delete``, ``add``), so tests drive it with a small in-memory stand-in.

Rules:
- **Where the sales are**: the sheet named by the ``sales_sheet`` setting, else a sheet
  called ``Sales`` or ``销售``, else the active sheet; on it, the first Excel table if
  there is one, else the used range, whose header row is found like everywhere else.
- **Settings** come from a sheet named ``Settings`` or ``设置`` (two columns, setting and
  value, under a header row; see :data:`xl_crm.options.OPTIONS` for names, defaults and meanings).
- **Output**: the sheets ``CRM Customers``, ``CRM ABC``, ``CRM Strategy``, ``CRM Log``
  (Chinese names in Chinese); only sheets with exactly these names are ever replaced, and
  a sales sheet with such a name is refused. The sales data is never written to.
- **All or nothing**: the analysis and every output table are computed first and every
  cell value is checked (control characters shown as ``[U+0007]``, see
  :func:`xl_crm.ranges.cell_text`); only then is the workbook touched: the new sheets are
  written under temporary names and swapped in only when all are written, so a failure
  leaves the workbook as it was.
- **Text stays text**: every text cell is given the text number format ``@`` before the
  values are written, because Excel types a text written through ``Range.value`` as if
  entered by hand (``=...`` a formula, ``00123`` the number 123, ``3-4`` a date).
- **Report file**: ``reports/<workbook name> customer-value-YYYY-MM.xlsx`` beside the
  workbook (the workbook's name keeps two workbooks in one folder apart), saved before the
  sheets are swapped; when it cannot be saved, the sheets are still written and the log's
  ``report`` row (and the macro's dialog) gives the one-line reason.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .core.analysis import Analysis, Options, analyze
from .core.columns import column_letter
from .core.errors import InputError, XlCrmError, show
from .core.sales import sales_from_rows
from .i18n import LANGS, text
from .options import OPTIONS, SHEET_OPTIONS, analysis_options, parse_option
from .ranges import MAX_CELL_TEXT, cell_text, has_control, text_blocks
from .report import ReportOptions, write_report
from .views import (
    GROUP_KINDS,
    customer_frame,
    excel_value,
    group_header,
    group_table,
    strategy_header,
    strategy_rows,
)

PREFIX = "CRM "
SALES_SHEETS = ("sales", "销售")
SETTINGS_SHEETS = ("settings", "设置")
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


@dataclass
class Settings:
    """The Settings sheet, parsed and checked: one field per sheet option of
    :data:`xl_crm.options.OPTIONS` (names, defaults, rules and meanings are there)."""

    sales_sheet: str = OPTIONS["sales_sheet"].default
    as_of: object = OPTIONS["as_of"].default
    bins: int = OPTIONS["bins"].default
    binning: str = OPTIONS["binning"].default
    r_thresholds: tuple[float, ...] = OPTIONS["r_thresholds"].default
    f_thresholds: tuple[float, ...] = OPTIONS["f_thresholds"].default
    m_thresholds: tuple[float, ...] = OPTIONS["m_thresholds"].default
    scheme: str = OPTIONS["scheme"].default
    a_cut: float = OPTIONS["a_cut"].default
    b_cut: float = OPTIONS["b_cut"].default
    pyramid_shares: tuple[float, ...] = OPTIONS["pyramid_shares"].default
    columns: dict[str, str] = field(default_factory=dict)
    language: str = OPTIONS["language"].default
    save_report: bool = OPTIONS["save_report"].default
    recipients: tuple[str, ...] = OPTIONS["recipients"].default
    cc: tuple[str, ...] = OPTIONS["cc"].default

    @property
    def thresholds(self) -> dict[str, tuple[float, ...]]:
        """The fixed-binning edges given, by measure."""
        return analysis_options(self._values()).thresholds or {}

    def _values(self) -> dict[str, object]:
        return {o.name: getattr(self, o.name) for o in SHEET_OPTIONS}

    def options(self) -> Options:
        """Analysis options for these settings."""
        return analysis_options(self._values())


@dataclass
class Outcome:
    """What a run did (the log sheet shows the same)."""

    analysis: Analysis
    settings: Settings
    sheets: dict[str, list[list[object]]]
    log: list[tuple[str, object]] = field(default_factory=list)
    report: Path | None = None
    report_error: str | None = None  # why the report was not saved, one line


def read_settings(rows: Sequence[Sequence[object]] | None, first_row: int = 1) -> Settings:
    """Settings from the Settings sheet's values (2-D); missing names keep their default.

    An unknown setting name or a bad value is an error naming the Settings row
    (``first_row`` is the sheet row of ``rows[0]``).
    """
    settings = Settings()
    for i, row in enumerate(rows or [], start=first_row):
        cells = list(row) + [None, None]
        name = str(cells[0] or "").strip().lower().replace(" ", "_")
        if not name or name in ("setting", "设置项"):
            continue
        if name not in OPTIONS or not OPTIONS[name].sheet:
            raise InputError(f"unknown setting {cells[0]!r}; the settings are "
                             f"{', '.join(o.name for o in SHEET_OPTIONS)}", "Settings", i)
        value = cells[1]
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            setattr(settings, name, parse_option(name, value))
        except InputError as err:
            raise InputError(err.reason, "Settings", i) from None
    return settings


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


def build_sheets(analysis: Analysis, lang: str) -> dict[str, list[list[object]]]:
    """The result sheets as 2-D lists with header rows, by sheet name."""
    frame = customer_frame(analysis, lang)
    columns = ["customer", "name", "region", "last_purchase", "recency", "frequency",
               "monetary", "value", "R", "F", "M", "RFM", "segment", "abc_tier",
               "pyramid_tier", "stage", "quadrant", "recommendation"]
    customers = [[text(f"col.{c}", lang) for c in columns]]
    customers += [[excel_value(v) for v in row] for row in frame[columns].itertuples(index=False)]
    tiers: list[list[object]] = []
    for key in GROUP_KINDS:
        if tiers:
            tiers.append([""] * 6)
        tiers += [[text(f"summary.{key}", lang)] + [""] * 5, group_header(lang)]
        tiers += group_table(analysis, key, lang)
    names = output_names(lang)
    return {names[0]: customers, names[1]: tiers, names[2]: _strategy_rows(analysis, lang)}


def output_names(lang: str) -> tuple[str, str, str, str]:
    """Names of the result sheets in ``lang``: customers, tiers, strategy, log."""
    return (f"{PREFIX}{text('sheet.customers', lang)}", f"{PREFIX}ABC",
            f"{PREFIX}{text('sheet.strategy', lang)}", f"{PREFIX}Log")


def is_output(name: str) -> bool:
    """True for a sheet this job writes (in any language); no other sheet is ever replaced."""
    return any(name == n for lang in LANGS for n in output_names(lang))


def _strategy_rows(analysis: Analysis, lang: str) -> list[list[object]]:
    return [strategy_header(lang)] + [list(r) for r in strategy_rows(analysis, lang)]


def run(book: BookLike, report_dir: Path | None = None,
        clock: Callable[[], float] = time.perf_counter) -> Outcome:
    """Read, analyse, build and check every result sheet; when ``report_dir`` is given,
    save the report file there; then write the sheets (all or nothing, see the module
    docstring). A report that cannot be saved is no error: :attr:`Outcome.report_error`
    and the log's ``report`` row say why."""
    started = clock()
    settings_sheet = find_sheet(book, SETTINGS_SHEETS)
    settings = read_settings(*range_rows(settings_sheet.used_range)) if settings_sheet \
        else Settings()
    source = sales_sheet(book, settings)
    if is_output(source.name):
        raise InputError(f"the sales sheet {source.name!r} has the name of a result sheet; "
                         "rename it or name the sales sheet in Settings")
    rows, first_row = sheet_rows(source)
    sales = sales_from_rows(rows, settings.columns or None,
                            source=f"{getattr(book, 'name', 'workbook')} [{source.name}]",
                            first_row=first_row)
    analysis = analyze(sales, settings.options())
    lang = settings.language
    sheets = build_sheets(analysis, lang)
    outcome = Outcome(analysis, settings, sheets)
    if report_dir is not None and settings.save_report:
        outcome.report, outcome.report_error = save_report(book, analysis, report_dir, lang)
    log = analysis.log
    if outcome.report is not None:
        report = str(outcome.report)
    elif outcome.report_error:
        report = f"not saved: {outcome.report_error}"
    else:
        report = ("not saved (see the save_report setting, or save the workbook on this "
                  "computer first)")
    outcome.log = [
        ("sales sheet", source.name),
        ("rows read", log["rows_read"]),
        ("blank rows skipped", len(log["blank_rows"])),
        ("rows after the analysis date left out", log["rows_after_as_of"]),
        ("analysis date", f"{log['as_of']} ({log['as_of_source']})"),
        ("customers", log["customers"]),
        ("value", analysis.value_basis),
        ("report", report),
        ("seconds", round(clock() - started, 2)),
    ]
    sheets[output_names(lang)[3]] = [["item", "value"]] + [[k, v] for k, v in outcome.log]
    replace_sheets(book, checked_sheets(sheets))
    return outcome


def report_name(book: BookLike, as_of: object) -> str:
    """``<workbook name> customer-value-YYYY-MM.xlsx``: the workbook's file name without
    its extension keeps the reports of two workbooks in one folder apart."""
    stem = Path(str(getattr(book, "name", "") or "workbook")).stem.strip() or "workbook"
    return f"{stem} customer-value-{as_of:%Y-%m}.xlsx"


def save_report(book: BookLike, analysis: Analysis, folder: Path,
                lang: str) -> tuple[Path | None, str | None]:
    """Save the report in ``folder`` (made when missing); (path, None) or, when it cannot
    be saved, (None, a one-line reason)."""
    target = folder / report_name(book, analysis.as_of)
    if folder.exists() and not folder.is_dir():
        return None, (f"{folder} is a file, not a folder; rename or move that file so that "
                      "the reports folder can be made")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = write_report(analysis, target, ReportOptions(lang=lang), overwrite=True,
                            inputs=[Path(getattr(book, "fullname", ""))])
    except XlCrmError as err:
        return None, str(err)
    except OSError as err:
        return None, f"{target} could not be written: {err.strerror or err}"
    except Exception as err:  # noqa: BLE001 - a bug in the report must not cost the sheets
        first = (str(err).splitlines() or [""])[0]
        return None, f"unexpected error ({type(err).__name__}: {first}); please report it"
    return path, None


_PLAIN = frozenset({type(None), bool, int, dt.datetime})


def checked_sheets(sheets: dict[str, list[list[object]]]) -> dict[str, list[list[object]]]:
    """Every cell of ``sheets`` checked, in place, before the workbook is touched: text
    through :func:`xl_crm.ranges.cell_text` (control characters made visible); None, bool,
    int, finite float and datetime kept; text longer than an Excel cell holds, a
    non-finite number or any other type refused naming the sheet and cell."""
    for name, rows in sheets.items():
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                kind = type(v)
                if kind is str:
                    if has_control(v):
                        row[j] = v = cell_text(v)
                    if len(v) > MAX_CELL_TEXT:
                        raise InputError(f"{name} cell {column_letter(j)}{i + 1}: {show(v)} has "
                                         f"{len(v):,} characters; an Excel cell holds at most "
                                         f"{MAX_CELL_TEXT:,}")
                elif kind is float:
                    if not math.isfinite(v):
                        raise InputError(f"{name} cell {column_letter(j)}{i + 1}: {v} cannot be "
                                         "written to a cell")
                elif kind not in _PLAIN and not isinstance(v, str | bool | int | dt.datetime):
                    raise InputError(f"{name} cell {column_letter(j)}{i + 1}: a "
                                     f"{type(v).__name__} cannot be written to a cell")
    return sheets


def replace_sheets(book: BookLike, sheets: dict[str, list[list[object]]]) -> None:
    """Write ``sheets`` under temporary names, then swap them for the old ``CRM `` sheets.

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
    for sheet in [s for s in book.sheets if is_output(s.name)]:
        sheet.delete()
    for sheet, name in created:
        sheet.name = name
