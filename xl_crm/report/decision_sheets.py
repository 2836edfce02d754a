"""The report's decision parts, rendered from :mod:`xl_crm.decisions`: the top of the
Summary (headline figures with their change, the top of the action list, the ABC
migration), the Actions sheet and the Changes sheet."""

from __future__ import annotations

from openpyxl.chart import LineChart, Reference
from openpyxl.utils import get_column_letter

from .. import decisions as views
from ..core.analysis import Analysis
from ..i18n import money_header, text
from .layout import (
    DATE,
    INTEGER,
    PERCENT,
    Styler,
    cell_value,
    place_chart,
    set_widths,
    table_rows,
    write_table,
)

TREND_ROW = 5  # the trend table's header row on the Changes sheet (the Summary chart's data)
CHANGE = "+#,##0;-#,##0;0"  # a change in whole currency or customers, with its sign
CHANGE_SHARE = "+0.0%;-0.0%;0.0%"
SUMMARY_ACTIONS = 10  # action-list rows on the Summary page
# the Summary's short action list: columns of decisions.ACTION_COLUMNS
SUMMARY_ACTION_COLUMNS = ("name", "priority", "rep", "recency", "abc_tier", "stage",
                          "value_at_risk", "action")
ACTION_FORMATS = {"priority": INTEGER, "customer": "text", "name": "text", "rep": "text",
                  "region": "text", "last_purchase": DATE, "recency": INTEGER,
                  "value_at_risk": INTEGER, "current_value": INTEGER,
                  "action": "text", "reason": "text"}  # the action table is the user's
ACTION_WIDTHS = {"priority": 8, "customer": 11, "name": 28, "rep": 14, "region": 10,
                 "last_purchase": 12, "recency": 10, "abc_tier": 9, "pyramid_tier": 14,
                 "stage": 15, "value_at_risk": 12, "current_value": 14, "action": 50,
                 "reason": 70}


def write_summary_top(ws, s: Styler, analysis: Analysis, lang: str, changes_sheet: str) -> int:
    """The decision part of the Summary, from row 3: headline figures with their change
    (the 12-month trend chart beside them, drawn from the Changes sheet ``changes_sheet``),
    the top of the action list and the ABC migration; returns the number of the last row
    written with content, less 2 (the rows before it)."""
    rows = filled = 0

    def put(cells: list) -> None:
        nonlocal rows, filled
        ws.append(cells)
        rows += 1
        filled = rows if cells else filled

    window = views.data_window(analysis, lang)
    put([s.cell(f"{window}   ·   {views.comparison_note(analysis, lang)}", font=s.small)])
    for warning in views.data_warnings(analysis, lang):
        put([s.cell(f"⚠ {warning}", font=s.warning)])
    put([])
    if len(views.trend_table(analysis, lang)) > 1:
        _trend_chart(ws, lang, changes_sheet, f"F{rows + 3}")
    for cells in _headline_rows(s, analysis, lang):
        put(cells)
    put([])
    count = views.action_count(analysis)
    put([s.cell(text("act.title", lang), font=s.bold),
         s.cell(text("act.count", lang, count=f"{count:,}") if count else
                text("act.none", lang), font=s.small)])
    header, *listed = views.short_actions(analysis, lang, SUMMARY_ACTIONS,
                                          SUMMARY_ACTION_COLUMNS)
    put(s.header_row(header))
    for row in listed:
        put([s.cell(v, ACTION_FORMATS.get(c)) for v, c in zip(row, SUMMARY_ACTION_COLUMNS)])
    put([])
    matrix = views.migration_table(analysis, "abc", lang)
    if matrix is not None:
        put([s.cell(text("changes.counts", lang, name=text("summary.abc", lang)),
                    font=s.bold)])
        put(s.header_row(matrix[0]))
        for r in matrix[1:]:
            put([s.cell(r[0], font=s.bold), *(s.cell(v, INTEGER) for v in r[1:])])
    return filled


def _trend_chart(ws, lang: str, sheet: str, anchor: str) -> None:
    """Net sales per month, this year's 12 months and the year before, as two lines; the
    data is the trend table of the Changes sheet (rows TREND_ROW + 1 ...)."""
    chart = LineChart()
    chart.title = text("trend.chart", lang)
    quoted = "'" + sheet.replace("'", "''") + "'"
    last = TREND_ROW + 12
    chart.add_data(Reference(range_string=f"{quoted}!$B${TREND_ROW}:$C${last}"),
                   titles_from_data=True)
    chart.set_categories(Reference(range_string=f"{quoted}!$A${TREND_ROW + 1}:$A${last}"))
    for series in chart.series:
        series.smooth = False  # months are points, not a curve
    chart.y_axis.number_format = "#,##0"
    chart.y_axis.majorGridlines = None
    chart.legend.position = "b"
    place_chart(ws, chart, anchor, width=14.5, height=6.5)  # within columns F-H, printed


def _trend_rows(s: Styler, analysis: Analysis, lang: str) -> list[list]:
    """The trend table (header row TREND_ROW of the Changes sheet), styled."""
    rows = views.trend_table(analysis, lang)
    formats = (None, INTEGER, INTEGER, INTEGER, INTEGER, INTEGER, INTEGER)
    return [s.header_row(rows[0])] + [[s.cell(v, f) for v, f in zip(r, formats)]
                                      for r in rows[1:]]


def _headline_rows(s: Styler, analysis: Analysis, lang: str) -> list[list]:
    """The headline figures as styled rows under their header: now, previous, change."""
    out = [s.header_row([text(f"fig.{k}", lang) for k in views.FIGURE_COLUMNS])]
    for f in views.headline_figures(analysis, lang):
        out.append([s.cell(f.label, font=s.bold), s.cell(f.current, INTEGER),
                    s.cell(f.previous, INTEGER), s.cell(f.change, CHANGE),
                    s.cell(f.change_share, CHANGE_SHARE)])
    return out


def write_actions_sheet(ws, analysis: Analysis, lang: str, tables: set[str],
                        name: str) -> None:
    """The whole action list as a filterable table (priority 1 and 2, ordered)."""
    s = Styler(ws, lang)
    set_widths(ws, [ACTION_WIDTHS[c] for c in views.ACTION_COLUMNS])
    rows = views.action_list(analysis, lang)
    columns = ([[cell_value(v) for v in c] for c in zip(*rows)] if rows
               else [[] for _ in views.ACTION_COLUMNS])
    table = table_rows(s, columns, [ACTION_FORMATS.get(c) for c in views.ACTION_COLUMNS])
    n = write_table(ws, s, views.action_header(lang, analysis.options.currency), table, name,
                    tables, freeze="D2")  # priority, customer and name stay visible
    ws.print_area = f"A1:{get_column_letter(views.PRINTED_ACTIONS)}{n + 1}"


def write_changes_sheet(ws, analysis: Analysis, lang: str) -> None:
    """Deltas, the migration matrices (counts and value) of ABC, pyramid, segment and
    stage, the movers, and Dwyer's repurchase probabilities by recency state."""
    s = Styler(ws, lang)
    set_widths(ws, [30, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14])
    ws.append([s.cell(text("sheet.changes", lang), font=s.title)])
    warnings = views.method_warnings(analysis, lang)
    ws.append([s.cell("  ·  ".join([views.comparison_note(analysis, lang),
                                    *(f"⚠ {w}" for w in warnings["trend"])]), font=s.small)])
    ws.append([])
    ws.append([s.cell(text("trend.title", lang), font=s.bold)])  # row TREND_ROW - 1
    for cells in _trend_rows(s, analysis, lang):
        ws.append(cells)
    ws.append([])
    if analysis.changes is not None:
        for cells in _headline_rows(s, analysis, lang):
            ws.append(cells)
        ws.append([])
        for key in views.MIGRATION_KEYS:
            for values in (False, True):
                matrix = views.migration_table(analysis, key, lang, values=values)
                title = text("changes.values" if values else "changes.counts", lang,
                             name=text(f"summary.{key}", lang))
                if values:
                    title = money_header(title, analysis.options.currency)
                ws.append([s.cell(title, font=s.bold)])
                ws.append(s.header_row(matrix[0]))
                for r in matrix[1:]:
                    ws.append([s.cell(r[0], font=s.bold),
                               *(s.cell(v, INTEGER) for v in r[1:])])
                ws.append([])
        movers = views.movers_table(analysis, lang)
        ws.append([s.cell(text("changes.movers", lang), font=s.bold)])
        ws.append(s.header_row(views.movers_header(lang, analysis.options.currency)))
        for r in movers:
            ws.append([s.cell(r[0]), s.cell(r[1]), s.cell(r[2]), s.cell(r[3]), s.cell(r[4]),
                       s.cell(r[5], INTEGER)])
        ws.append([])
    for w in warnings["migration"]:
        ws.append([s.cell(f"⚠ {w}", font=s.small)])
    _dwyer_matrix(ws, s, analysis, lang)


def _dwyer_matrix(ws, s: Styler, analysis: Analysis, lang: str) -> None:
    """Dwyer's migration model as a matrix: per recency state (periods since the last
    purchase) the probability of buying in the next period and of moving on."""
    m = analysis.migration
    period = analysis.options.migration_period_days
    ws.append([s.cell(text("changes.dwyer", lang), font=s.bold)])
    ws.append(s.header_row([text("dwyer.state", lang, days=period), text("sum.customers", lang),
                            text("dwyer.buys", lang), text("dwyer.moves", lang),
                            text("dwyer.value", lang)]))
    for r in m.itertuples(index=False):
        p = None if r.probability != r.probability else float(r.probability)
        ws.append([s.cell(int(r.state), INTEGER), s.cell(int(r.customers), INTEGER),
                   s.cell(p, PERCENT), s.cell(None if p is None else 1 - p, PERCENT),
                   s.cell(r.value, INTEGER)])
