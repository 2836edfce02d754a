"""The Summary sheet, one printed page of decisions: the data window, headline figures with
their change, the top of the action list and the ABC migration (:mod:`.decision_sheets`);
and the Distributions sheet: the group tables, Pareto data, R x F heat map and charts."""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.utils import get_column_letter

from ..core.analysis import Analysis
from ..core.rfm import heat_map
from ..core.tiers import pareto_bands
from ..decisions import method_warnings
from ..i18n import text
from ..views import GROUP_KINDS, group_header, group_table
from .decision_sheets import write_summary_top
from .layout import INTEGER, PERCENT, Styler, place_chart, set_widths

CHART_COLUMN = "H"  # charts sit right of the distribution tables


def write_summary(ws, analysis: Analysis, lang: str, changes_sheet: str) -> None:
    """Write the Summary sheet (the workbook opens on it), printed on one landscape page;
    ``changes_sheet`` names the Changes sheet, whose trend table the trend chart draws."""
    s = Styler(ws, lang)
    set_widths(ws, [34, 14, 16, 12, 12, 14, 14, 52])
    log = analysis.log
    period = analysis.as_of.strftime("%Y-%m")
    ws.append([s.cell(f"{text('summary.title', lang)} — {period}", font=s.title)])
    ws.append([s.cell(f"{text('summary.source', lang)}: {log['source']}   ·   "
                      f"{text('summary.as_of', lang)}: {log['as_of']}", font=s.small)])
    rows = 2 + write_summary_top(ws, s, analysis, lang, changes_sheet)
    ws.print_area = f"A1:H{rows}"
    ws.page_setup.fitToHeight = 1  # the decisions on one page


def write_distributions(ws, analysis: Analysis, lang: str) -> None:
    """Write the Distributions sheet: customers and value per tier, segment, stage and
    quadrant, the R x F heat map, the Pareto bands, and their charts."""
    s = Styler(ws, lang)
    set_widths(ws, [30, 18, 20, 20, 18, 18, 3] + [12] * 10)
    c = analysis.customers
    ws.append([s.cell(text("sheet.distributions", lang), font=s.title)])
    ws.append([])
    row = 3  # the next row's number
    start = row
    anchors = {}
    formats = (None, INTEGER, PERCENT, INTEGER, PERCENT, INTEGER)  # money without cents
    short = method_warnings(analysis, lang)["matrix"]  # the value matrix's window
    for key in GROUP_KINDS:
        table = group_table(analysis, key, lang)
        title = text(f"summary.{key}", lang)
        if key == "quadrant" and short:
            title = "  ".join([title, *(f"⚠ {w}" for w in short)])
        ws.append([s.cell(title, font=s.bold)])
        ws.append(s.header_row(group_header(lang, analysis.options.currency)))
        anchors[key] = (row + 2, row + 1 + len(table))
        for values in table:
            ws.append([s.cell(v, f) for v, f in zip(values, formats)])
        ws.append([])
        row += len(table) + 3
    bins = analysis.options.bins
    basis = text(f"mail.basis.{analysis.value_basis}", lang)
    for how, title in (("mean", "summary.heatmap"), ("count", "summary.heatmap_counts")):
        heat = heat_map(c, bins, how=how)
        ws.append([s.cell(text(title, lang, basis=basis), font=s.bold)])
        ws.append(s.header_row(["R \\ F"] + [f"F={f}" for f in heat.columns]))
        for r, values in heat.iterrows():
            ws.append([s.cell(f"R={r}", font=s.bold)] + [s.cell(v, INTEGER) for v in values])
        last_col = get_column_letter(1 + bins)
        ws.conditional_formatting.add(
            f"B{row + 2}:{last_col}{row + 1 + bins}",
            ColorScaleRule(start_type="min", start_color="FFFFFF", mid_type="percentile",
                           mid_value=50, mid_color="BDD7EE", end_type="max",
                           end_color="5B9BD5"))
        ws.append([])
        row += bins + 3
    pareto = pareto_bands(c["value"])
    ws.append([s.cell(text("summary.pareto", lang), font=s.bold)])
    ws.append(s.header_row([text(f"summary.pareto.{k}", lang)
                            for k in ("band", "value", "cumulative")]))
    pareto_rows = (row + 2, row + 1 + len(pareto))
    for rec in pareto.itertuples(index=False):
        ws.append([s.cell(rec.band, "0%"), s.cell(rec.value, INTEGER),
                   s.cell(rec.cumulative_share, PERCENT)])
    ws.append([])
    row += len(pareto) + 3
    _charts(ws, lang, anchors, pareto_rows, start)


def _charts(ws, lang: str, anchors: dict[str, tuple[int, int]],
            pareto_rows: tuple[int, int], top: int) -> None:
    first, last = pareto_rows
    bars = BarChart()
    bars.title = text("summary.chart.pareto", lang)
    bars.add_data(Reference(ws, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
    bars.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    bars.y_axis.title = text("summary.pareto.value", lang)
    bars.y_axis.majorGridlines = None
    line = LineChart()
    line.add_data(Reference(ws, min_col=3, min_row=first - 1, max_row=last), titles_from_data=True)
    line.y_axis.axId = 200
    line.y_axis.title = text("summary.pareto.cumulative", lang)
    line.y_axis.number_format = "0%"
    line.y_axis.crosses = "max"
    bars += line
    place_chart(ws, bars, f"{CHART_COLUMN}{top}")

    _bar(ws, text("summary.chart.pyramid", lang), anchors["pyramid"],
         f"{CHART_COLUMN}{top + 18}", text("sum.customers", lang))
    _bar(ws, text("summary.chart.segment", lang), anchors["segment"],
         f"{CHART_COLUMN}{top + 36}")


def _bar(ws, title: str, rows: tuple[int, int], anchor: str, axis: str | None = None) -> None:
    """Horizontal bars of the customers column of a summary table, first group on top."""
    top, bottom = rows
    chart = BarChart()
    chart.type = "bar"
    chart.title = title
    chart.add_data(Reference(ws, min_col=2, min_row=top - 1, max_row=bottom),
                   titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=top, max_row=bottom))
    chart.x_axis.scaling.orientation = "maxMin"
    chart.legend = None
    if axis:
        chart.y_axis.title = axis
    place_chart(ws, chart, anchor)
