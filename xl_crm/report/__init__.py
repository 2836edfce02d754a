"""The management report workbook (openpyxl): Summary, Actions, Changes, Distributions,
one sheet per tier, Customers, CLV, Strategy and Notes, in English or Chinese.

:func:`write_report` writes to a temporary file beside the target and renames it; it
refuses to overwrite an existing report unless told to, and never writes over an input.
Same analysis and options, same cells: nothing depends on the clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.escape import unescape
from openpyxl.workbook.properties import CalcProperties
from openpyxl.writer.excel import ExcelWriter

from .. import __version__
from ..core.analysis import Analysis
from ..core.errors import InputError, user_path
from ..decisions import method_warnings, report_summary
from ..i18n import check_lang, method_name, money_header, text
from ..keyfigures import FigureRow, ReportSummary, TierRow
from ..notes import notes, split_note
from ..output import atomic_output, check_target
from ..views import (
    MAX_CELL_TEXT,
    customer_frame,
    group_kind,
    strategy_columns,
    strategy_header,
    strategy_rows,
)
from .cached import close_with_values
from .clv_sheet import formula_values, write_clv_sheet, write_predicted
from .decision_sheets import write_actions_sheet, write_changes_sheet
from .layout import (
    DATE,
    EXCEL_MAX_ROWS,
    INTEGER,
    MONEY,
    PERCENT,
    Styler,
    cell_value,
    column_values,
    ignore_numbers_as_text,
    notes_footer,
    row_height,
    safe_sheet_name,
    set_widths,
    setup_print,
    table_rows,
    write_table,
)
from .sheet_rows import BLOCK, TableRows, remove_rows_file
from .summary import write_distributions, write_summary

SUMMARY_PROPERTY = "xl_crm.summary"  # where reports before 0.2 kept the key figures (JSON)
DATA_SHEET = "xl_crm data"  # very hidden sheet: the key figures as JSON, for mailing a report
# Excel's calculation-engine id (Excel 2019 / Microsoft 365). With the computed values
# stored and this id, Excel opens the report without recalculating it and does not ask
# to save an unchanged file; an Excel with a newer engine recalculates (same values).
EXCEL_CALC_ID = 191029
# zlib level of the workbook's parts. openpyxl uses zlib's default, 6; 3 deflates the
# sample report's 10 MB of sheet XML in 0.07 s instead of 0.16 s, for a file 12 % larger
# (1.74 MB instead of 1.55 MB; level 1 would be 0.05 s and 26 % larger).
DEFLATE_LEVEL = 3
TIER_SETS = {"abc": ("abc_tier", "abc"), "pyramid": ("pyramid_tier", "pyramid")}

# customers-table columns: (analysis column, number format or "text"/None, width). The
# first PRINTED ones are what a page shows (a manager's view: who, tier, stage, value, risk,
# next action); the rest are on screen and in the filters, right of them.
COLUMNS = (
    ("customer", "text", 11), ("name", "text", 26), ("rep", "text", 13),
    ("region", "text", 9), ("abc_tier", None, 8), ("pyramid_tier", None, 10),
    ("stage", None, 11), ("value", MONEY, 12), ("value_at_risk", MONEY, 12),
    ("last_purchase", DATE, 11), ("recency", INTEGER, 8), ("priority", INTEGER, 7),
    ("recommendation", "text", 44),
    ("segment", None, 20), ("p_alive", PERCENT, 10), ("expected_purchases", "0.0", 11),
    ("expected_value", MONEY, 12), ("predicted_clv", MONEY, 13),
    ("first_purchase", DATE, 12), ("frequency", INTEGER, 10),
    ("monetary", MONEY, 13), ("net_sales", MONEY, 13), ("cost", MONEY, 13),
    ("profit", MONEY, 13), ("R", INTEGER, 5), ("F", INTEGER, 5), ("M", INTEGER, 5),
    ("RFM", None, 6), ("score", INTEGER, 7), ("abc_rank", INTEGER, 8),
    ("abc_share", "0.000%", 10), ("abc_cumulative_share", PERCENT, 11),
    ("current_value", MONEY, 13), ("potential_value", MONEY, 13), ("quadrant", None, 14),
)
PRINTED = 13  # columns of COLUMNS a printed page shows (customer ... recommendation)


def customer_columns(analysis: Analysis) -> tuple[tuple[str, str | None, int], ...]:
    """The customer sheets' columns without the ones that repeat another: Monetary is Net
    sales when it is the total, Profit is Value when value is profit; Sales rep only when
    the data names one; the predicted columns only when their models converged."""
    same = {"monetary"} if analysis.options.monetary == "total" else set()
    if analysis.value_basis == "profit":
        same.add("profit")
    if not (analysis.customers["rep"] != "").any():
        same.add("rep")
    prediction = analysis.prediction
    if prediction is None or not prediction.usable:  # the CLV sheet says why
        same |= {"p_alive", "expected_purchases", "expected_value", "predicted_clv"}
    elif not prediction.valued:
        same |= {"expected_value", "predicted_clv"}
    return tuple(c for c in COLUMNS if c[0] not in same)


@dataclass(frozen=True)
class ReportOptions:
    """How the report is written."""

    lang: str = "en"
    tiers: tuple[str, ...] = ("abc",)  # tier sheets: "abc" and/or "pyramid"
    max_rows: int = EXCEL_MAX_ROWS  # rows per sheet, header included (Excel's limit)
    summary_only: bool = False  # no tier and customer sheets (a small workbook for mail)


def write_report(analysis: Analysis, path: str | Path, options: ReportOptions = ReportOptions(),
                 overwrite: bool = False, inputs: Sequence[Path] = ()) -> Path:
    """Write the report workbook to ``path``; returns the path written."""
    check_lang(options.lang)
    for tier_set in options.tiers:
        if tier_set not in TIER_SETS:
            raise InputError(f"unknown tier set {tier_set!r}; use abc or pyramid", "tiers")
    path = check_target(Path(path), overwrite, inputs)  # refuse before any work
    book = build_workbook(analysis, options)
    try:
        with atomic_output(path, overwrite, inputs) as tmp:
            save_book(book, tmp)
    except BaseException:  # interrupted or failed
        discard(book)
        raise
    return user_path(path).resolve()


def save_book(book: Workbook, path: Path) -> None:
    """Save ``book`` to ``path`` as openpyxl's ``Workbook.save`` does (modified time: now,
    UTC), its parts deflated at :data:`DEFLATE_LEVEL`."""
    book.properties.modified = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True,
                         compresslevel=DEFLATE_LEVEL) as archive:
        ExcelWriter(book, archive).write_data()


def discard(book: Workbook) -> None:
    """Close the streamed sheets of a write-only workbook that will not be saved and delete
    openpyxl's temporary sheet files now (they hold customer data; openpyxl deletes them
    only when Python exits normally). A sheet left open is finalised at exit after its
    file, and Python prints "Exception ignored ... I/O operation on closed file"."""
    for ws in book.worksheets:
        for stream in (getattr(ws, "_rows", None), getattr(ws._writer, "xf", None)):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
        if ws._writer is not None:
            with contextlib.suppress(Exception):
                ws._writer.cleanup()
        with contextlib.suppress(Exception):
            remove_rows_file(ws)


def build_workbook(analysis: Analysis, options: ReportOptions = ReportOptions()) -> Workbook:
    """The report as an unsaved write-only openpyxl workbook (discarded on any failure)."""
    book = Workbook(write_only=True)
    try:
        _fill_workbook(book, analysis, options)
    except BaseException:
        discard(book)
        raise
    return book


def _fill_workbook(book: Workbook, analysis: Analysis, options: ReportOptions) -> None:
    lang = options.lang
    book.calculation = CalcProperties(calcId=EXCEL_CALC_ID, fullCalcOnLoad=False)
    created = analysis.as_of.to_pydatetime()
    book.properties.created = book.properties.modified = created
    book.properties.title = f"{text('summary.title', lang)} {analysis.as_of:%Y-%m}"
    book.properties.creator = f"xl_crm {__version__}"
    footer = notes_footer(lang, analysis.as_of.strftime("%Y-%m"))
    names: list[str] = []
    tables: set[str] = set()
    split_notes: list[str] = []

    ws = _sheet(book, text("sheet.summary", lang), names, footer, title_rows=None)
    # the Summary's trend chart draws from the Changes sheet, made two sheets later: its
    # name is the one _sheet will give it (names are made unique the same way)
    actions = safe_sheet_name(text("sheet.actions", lang), names)
    changes = safe_sheet_name(text("sheet.changes", lang), [*names, actions])
    write_summary(ws, analysis, lang, changes)
    ws = _sheet(book, text("sheet.actions", lang), names, footer)
    write_actions_sheet(ws, analysis, lang, tables, names[-1])
    ws = _sheet(book, text("sheet.changes", lang), names, footer, title_rows=None)
    assert ws.title == changes, (ws.title, changes)  # the chart's data is on this sheet
    write_changes_sheet(ws, analysis, lang)
    ws = _sheet(book, text("sheet.distributions", lang), names, footer, title_rows=None)
    write_distributions(ws, analysis, lang)

    if not options.summary_only:
        shown = customer_columns(analysis)
        table = _customer_rows(Styler(ws, lang), customer_frame(analysis, lang), shown)
        every = np.arange(len(table))
        for tier_set in options.tiers:
            column, kind = TIER_SETS[tier_set]
            labels = analysis.customers[column].to_numpy()
            for tier in pd.unique(labels):  # in order of first appearance
                if pd.isna(tier):
                    continue
                split_notes += _write_split(book, names, tables, method_name(tier, kind, lang),
                                            table, every[labels == tier], lang,
                                            options.max_rows, footer, shown,
                                            analysis.options.currency)
        split_notes += _write_split(book, names, tables, text("sheet.customers", lang), table,
                                    every, lang, options.max_rows, footer, shown,
                                    analysis.options.currency)

    ws = _sheet(book, text("sheet.clv", lang), names, footer, title_rows=None)
    group = analysis.options.clv_group
    kind = "region" if group == "region" else group_kind(group, analysis.options.scheme)
    groups = {g: (method_name(g, kind, lang), inputs) for g, inputs in analysis.clv.items()}
    warnings = method_warnings(analysis, lang)["clv"]
    cells = write_clv_sheet(ws, groups, lang, warnings)
    write_predicted(ws, analysis, lang)
    close_with_values(ws, formula_values(cells, groups))

    ws = _sheet(book, text("sheet.strategy", lang), names, footer)
    _strategy_sheet(ws, analysis, lang, tables)

    ws = _sheet(book, text("sheet.notes", lang), names, footer)
    _notes_sheet(ws, analysis, lang, split_notes)
    _data_sheet(book, report_summary(analysis, lang))


def _data_sheet(book: Workbook, summary: ReportSummary) -> None:
    """The very hidden sheet holding the key figures as JSON text in column A (split over
    rows when longer than a cell holds), read back by :func:`read_summary`. A sheet, not a
    custom document property: Office limits those to 255 characters."""
    ws = book.create_sheet(DATA_SHEET)
    ws.sheet_state = "veryHidden"
    # ASCII JSON with "_x" written as \u005fx (it occurs only inside JSON strings): each
    # cell then stores its part exactly, nothing for cell_text to escape, replace or cut
    data = json.dumps(dataclasses.asdict(summary)).replace("_x", "\\u005fx")
    s = Styler(ws, "en")
    for start in range(0, len(data), MAX_CELL_TEXT):
        ws.append([s.cell(data[start:start + MAX_CELL_TEXT])])


def _sheet(book: Workbook, name: str, names: list[str], footer: str,
           title_rows: str | None = "1:1"):
    """A new sheet with a unique valid name and the print settings."""
    title = safe_sheet_name(name, names)
    names.append(title)
    ws = book.create_sheet(title)
    setup_print(ws, footer, title_rows)
    return ws


def _customer_rows(styler: Styler, frame: pd.DataFrame, shown: Sequence[tuple]) -> TableRows:
    """Every customer's row, turned into sheet XML once for the tier sheets and Customers
    (the workbook's styles: any sheet's ``styler`` gives the same)."""
    table = TableRows(styler.column_styles([f for _, f, _ in shown]),
                      styler.ws.parent.epoch)
    for start in range(0, len(frame), BLOCK):  # a block's values held at a time
        part = frame.iloc[start:start + BLOCK]
        table.add([column_values(part[col]) for col, _, _ in shown])
    return table


def _write_split(book, names, tables, title: str, table: TableRows, select: np.ndarray,
                 lang: str, max_rows: int, footer: str, shown: Sequence[tuple],
                 currency: str = "") -> list[str]:
    """Write the customers at positions ``select`` of ``table`` on as many sheets as
    Excel's row limit needs; notes on any split."""
    per_sheet = max_rows - 1
    parts = [select[i:i + per_sheet] for i in range(0, max(len(select), 1), per_sheet)]
    for i, part in enumerate(parts):
        ws = _sheet(book, title if i == 0 else f"{title} ({i + 1})", names, footer)
        _customer_sheet(ws, table, part, lang, tables, names[-1], shown, currency)
    if len(parts) > 1:
        return [split_note(title, len(select), names[-len(parts):], lang)]
    return []


def _customer_sheet(ws, table: TableRows, select: np.ndarray, lang: str, tables: set[str],
                    name: str, shown: Sequence[tuple], currency: str) -> None:
    s = Styler(ws, lang)
    headers = [money_header(text(f"col.{col}", lang), currency) if fmt == MONEY
               else text(f"col.{col}", lang) for col, fmt, _ in shown]
    set_widths(ws, [w for _, _, w in shown])
    rows = write_table(ws, s, headers, table, name, tables, freeze="C2",
                       select=select)  # the customer and its name stay visible
    printed = sum(1 for c in shown if c in COLUMNS[:PRINTED])
    ws.print_area = f"A1:{get_column_letter(printed)}{rows + 1}"
    rfm = get_column_letter(1 + [c for c, _, _ in shown].index("RFM"))
    ignore_numbers_as_text(ws, f"{rfm}2:{rfm}{max(rows, 1) + 1}")  # "545" is a code, text


def _strategy_sheet(ws, analysis: Analysis, lang: str, tables: set[str]) -> None:
    s = Styler(ws, lang)
    rows = strategy_rows(analysis, lang)
    headers = strategy_header(lang, analysis.options.currency)
    keys = strategy_columns(lang)
    widths = [STRATEGY_LAYOUT[k][1] for k in keys]
    set_widths(ws, widths)
    columns = ([[cell_value(v) for v in col] for col in zip(*rows)] if rows
               else [[] for _ in headers])
    table = table_rows(s, columns, [STRATEGY_LAYOUT[k][0] for k in keys], widths)
    write_table(ws, s, headers, table, text("sheet.strategy", lang), tables)


# strategy column -> (format, width)
STRATEGY_LAYOUT = {"strategy.kind": (None, 14), "strategy.label": ("text", 18),
                   "strategy.name": ("text", 20), "sum.customers": (INTEGER, 11),
                   "sum.value": (INTEGER, 14), "strategy.goal": ("wrap", 45),
                   "strategy.actions": ("wrap", 70), "strategy.resources": ("wrap", 45)}


def _notes_sheet(ws, analysis: Analysis, lang: str, split_notes: list[str]) -> None:
    s = Styler(ws, lang)
    set_widths(ws, [34, 100])
    ws.append(s.header_row([text("notes.item", lang), text("notes.value", lang)]))
    for i, (item, value) in enumerate(notes(analysis, split_notes, lang), start=2):
        ws.row_dimensions[i].height = row_height([(item, 34), (value, 100)])
        ws.append([s.cell(item, font=s.bold, wrap=True), s.cell(value, wrap=True)])


def read_summary(path: str | Path) -> ReportSummary:
    """The key figures stored in a report written by :func:`write_report`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"report not found: {path}")
    try:
        book = load_workbook(path, read_only=True)
    except Exception as err:  # openpyxl raises several types for damaged files
        raise InputError(f"{path.name} is not a readable workbook: {err}") from err
    try:
        if DATA_SHEET in book.sheetnames:
            stored = "".join(str(row[0]) for row in book[DATA_SHEET].iter_rows(values_only=True)
                             if row and row[0] is not None)
            stored = unescape(stored)  # the _xHHHH_ escapes of layout.cell_text, as Excel
        else:  # a report written before the key figures moved to the hidden sheet
            stored = {p.name: p.value for p in book.custom_doc_props.props}.get(SUMMARY_PROPERTY)
    finally:
        book.close()
    if not stored:
        raise InputError(f"{path.name} is not an xl_crm report (no key figures stored in it)")
    try:
        data = json.loads(stored)
        data["tiers"] = tuple(TierRow(**t) for t in data["tiers"])
        data["figures"] = tuple(FigureRow(**f) for f in data.get("figures", ()))
        data["action_header"] = tuple(data.get("action_header", ()))
        data["actions"] = tuple(tuple(r) for r in data.get("actions", ()))
        data["warnings"] = tuple(data.get("warnings", ()))
        return ReportSummary(**data)
    except (ValueError, TypeError, KeyError) as err:
        raise InputError(f"{path.name}: the key figures stored in the report are damaged "
                         "(was it edited by another program?); write the report again with "
                         "xl-crm report") from err
