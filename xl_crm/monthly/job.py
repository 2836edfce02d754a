"""The button job itself (:func:`run`): settings, sales rows, analysis, result sheets and
the report file beside the workbook.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import decisions
from ..core.analysis import Analysis, analyze
from ..core.errors import InputError, XlCrmError
from ..core.history import MonthChange
from ..core.sales import Sales, sales_from_rows
from ..i18n import text
from ..managers import MANAGER_SHEETS, Manager, parse_managers
from ..plaintext import shown_share
from ..report import ReportOptions, write_report
from ..views import (
    GROUP_KINDS,
    customer_frame,
    excel_value,
    group_header,
    group_table,
    strategy_header,
    strategy_rows,
)
from .book import (
    BookLike,
    checked_sheets,
    find_sheet,
    is_output,
    output_names,
    range_rows,
    replace_sheets,
    sales_sheet,
    sheet_rows,
)
from .history import (
    HISTORY_SHEETS,
    history_name,
    history_rows,
    history_sheets,
    month_lines,
    with_history,
)
from .settings import SETTINGS_SHEETS, Settings, read_settings


@dataclass
class Outcome:
    """What a run did (the log sheet shows the same)."""

    analysis: Analysis
    settings: Settings
    sheets: dict[str, list[list[object]]]
    log: list[tuple[str, object]] = field(default_factory=list)
    report: Path | None = None
    report_error: str | None = None  # why the report was not saved, one line
    months: tuple[MonthChange, ...] = ()  # what the run did to the History sheet
    sales: Sales | None = None  # the history analysed (for the managers' reports)
    source: dict = field(default_factory=dict)
    managers: list[Manager] = field(default_factory=list)  # of the Managers sheet


def build_sheets(analysis: Analysis, lang: str) -> dict[str, list[list[object]]]:
    """The result sheets as 2-D lists with header rows, by sheet name."""
    frame = customer_frame(analysis, lang)
    columns = ["customer", "name", "region", "rep", "last_purchase", "recency", "frequency",
               "monetary", "value", "R", "F", "M", "RFM", "segment", "abc_tier",
               "pyramid_tier", "stage", "quadrant", "value_at_risk", "p_alive",
               "predicted_clv", "priority", "recommendation"]
    customers = [[text(f"col.{c}", lang) for c in columns]]
    customers += [[excel_value(v) for v in row] for row in frame[columns].itertuples(index=False)]
    tiers: list[list[object]] = []
    for key in GROUP_KINDS:
        if tiers:
            tiers.append([""] * 6)
        tiers += [[text(f"summary.{key}", lang)] + [""] * 5,
                  group_header(lang, analysis.options.currency)]
        tiers += group_table(analysis, key, lang)
    names = output_names(lang)
    currency = analysis.options.currency
    return {names[4]: [decisions.action_header(lang, currency),
                       *decisions.action_list(analysis, lang)],
            names[5]: _rectangular(_changes_rows(analysis, lang)),
            names[0]: customers, names[1]: tiers, names[2]: _strategy_rows(analysis, lang)}


def _rectangular(rows: list[list[object]]) -> list[list[object]]:
    """Rows padded with empty cells to one width: a range takes a rectangle of values."""
    width = max((len(r) for r in rows), default=0)
    return [list(r) + [None] * (width - len(r)) for r in rows]


def _changes_rows(analysis: Analysis, lang: str) -> list[list[object]]:
    """The CRM Changes sheet: what is compared, the headline figures with their change,
    the four migration matrices (customer counts) and the movers."""
    warnings = decisions.method_warnings(analysis, lang)
    rows: list[list[object]] = [[decisions.comparison_note(analysis, lang)],
                                [decisions.data_window(analysis, lang)],
                                # the comparison note says why there are no changes
                                *([w] for k in ("trend", "migration") for w in warnings[k]),
                                [],
                                [text(f"fig.{k}", lang) for k in decisions.FIGURE_COLUMNS]]
    rows += [[f.label, f.current, f.previous, f.change,
              None if f.change_share is None else shown_share(f.change_share)]
             for f in decisions.headline_figures(analysis, lang)]  # "+2.1%": no formats here
    for key in decisions.MIGRATION_KEYS:
        matrix = decisions.migration_table(analysis, key, lang)
        if matrix is not None:
            rows += [[], [text("changes.counts", lang, name=text(f"summary.{key}", lang))],
                     *matrix]
    movers = decisions.movers_table(analysis, lang)
    if movers:
        rows += [[], [text("changes.movers", lang)],
                 decisions.movers_header(lang, analysis.options.currency),
                 *movers]
    return rows


def _strategy_rows(analysis: Analysis, lang: str) -> list[list[object]]:
    return [strategy_header(lang, analysis.options.currency)] + [
        list(r) for r in strategy_rows(analysis, lang)]


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
    if source.name.strip().lower() in (n.lower() for n in HISTORY_SHEETS):
        raise InputError(f"the sales sheet {source.name!r} is the History sheet; paste the "
                         "month's sales into a sheet named Sales")
    rows, first_row = sheet_rows(source)
    sales = sales_from_rows(rows, settings.columns or None,
                            source=f"{getattr(book, 'name', 'workbook')} [{source.name}]",
                            first_row=first_row)
    managers = book_managers(book, settings.split_by)  # a bad Managers sheet: before work
    history, months = with_history(book, sales, source.name)
    analysis = analyze(history, settings.options())
    lang = settings.language
    sheets = build_sheets(analysis, lang)
    outcome = Outcome(analysis, settings, sheets, months=months, sales=history,
                      source=history.log_fields(), managers=managers)
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
        ("rows read", sales.rows_read),
        ("history", (f"{analysis.log['rows_read']:,} lines, {log['first_date']} to "
                     f"{log['as_of']}, kept in the sheet {history_name(book)}")),
        *month_lines(months),
        ("blank rows skipped", len(log["blank_rows"])),
        ("rows after the analysis date left out", log["rows_after_as_of"]),
        ("analysis date", f"{log['as_of']} ({log['as_of_source']})"),
        ("customers", log["customers"]),
        ("value", analysis.value_basis),
        ("report", report),
        *(("warning", w) for w in decisions.data_warnings(analysis, lang)),
        ("seconds", round(clock() - started, 2)),
    ]
    sheets[output_names(lang)[3]] = [["item", "value"]] + [[k, v] for k, v in outcome.log]
    sheets[history_name(book)] = history_rows(history)  # swapped in with the results
    replace_sheets(book, checked_sheets(sheets), data=history_sheets(book))
    return outcome


def book_managers(book: BookLike, split_by: str) -> list[Manager]:
    """The Managers sheet's rows (:mod:`xl_crm.managers`) when the split_by setting is
    set; a split without a Managers sheet, or a bad row, is refused naming it."""
    if not split_by:
        return []
    sheet = find_sheet(book, MANAGER_SHEETS)
    if sheet is None:
        raise InputError(f"the setting split_by = {split_by} needs a sheet named Managers "
                         f"(columns {split_by}, email, name, language)")
    rows, _ = sheet_rows(sheet)
    return parse_managers(rows, split_by, sheet.name)


def send_to_managers(outcome: Outcome, dry_run: bool = False) -> tuple[list[str], bool]:
    """Each manager of the Managers sheet gets a report of only their customers, beside
    the saved report (:mod:`xl_crm.split_reports`): (lines saying what happened, True
    when every one went out)."""
    from ..split_reports import plan, send_split

    if outcome.report is None or not outcome.managers:
        return [], True
    by, lang = outcome.settings.split_by, outcome.settings.language
    deliveries, lines = plan(outcome.analysis, outcome.sales, outcome.source,
                             outcome.managers, by, outcome.settings.options(), lang)
    ok = send_split(deliveries, outcome.report, by, tiers=("abc",), dry_run=dry_run,
                    overwrite=True, inputs=(), say=lines.append, complain=lines.append)
    return lines, ok


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
