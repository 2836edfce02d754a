"""The Summary sheet: key figures, group tables, Pareto data, R x F heat map, charts."""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.utils import get_column_letter

from ..core.analysis import Analysis
from ..core.rfm import heat_map
from ..core.tiers import pareto_bands
from ..i18n import text
from ..views import GROUP_KINDS, group_header, group_table
from .layout import INTEGER, MONEY, PERCENT, Styler, set_widths


def write_summary(ws, analysis: Analysis, lang: str, strategies=None) -> None:
    """Write the Summary sheet (the workbook opens on it)."""
    s = Styler(ws, lang)
    set_widths(ws, [30, 18, 20, 20, 18, 18, 3] + [12] * 10)
    log, c = analysis.log, analysis.customers
    period = analysis.as_of.strftime("%Y-%m")
    ws.append([s.cell(f"{text('summary.title', lang)} — {period}", font=s.title)])
    ws.append([s.cell(f"{text('summary.source', lang)}: {log['source']}   ·   "
                      f"{text('summary.as_of', lang)}: {log['as_of']}   ·   "
                      f"{text('summary.period', lang)}: {log['first_date']} – {log['as_of']}",
                      font=s.small)])
    ws.append([])
    abc = analysis.summaries["abc"].set_index("label")
    active_days = analysis.options.migration_period_days
    recent = int((c["recency"] <= active_days).sum())
    figures = [
        ("summary.customers", len(c), INTEGER),
        ("summary.revenue", float(c["net_sales"].sum()), INTEGER),
        (f"summary.value.{analysis.value_basis}", analysis.total_value, INTEGER),
        ("summary.tier_a", int(abc.loc["A", "customers"]), INTEGER),
        ("summary.tier_a_share", float(abc.loc["A", "value_share"]), PERCENT),
        ("summary.active", recent, INTEGER),  # label says "in the last {days} days"
    ]
    ws.append([s.cell(text(k, lang, days=active_days), font=s.bold, wrap=True)
               for k, _, _ in figures])
    ws.append([s.cell(v, fmt, font=s.big) for _, v, fmt in figures])
    ws.append([])
    row = 7
    anchors = {}
    formats = (None, INTEGER, PERCENT, MONEY, PERCENT, MONEY)
    for key in GROUP_KINDS:
        table = group_table(analysis, key, lang)
        ws.append([s.cell(text(f"summary.{key}", lang), font=s.bold)])
        ws.append(s.header_row(group_header(lang)))
        anchors[key] = (row + 2, row + 1 + len(table))
        for values in table:
            ws.append([s.cell(v, f) for v, f in zip(values, formats)])
        ws.append([])
        row += len(table) + 3
    bins = analysis.options.bins
    heat = heat_map(c, bins)
    ws.append([s.cell(text("summary.heatmap", lang), font=s.bold)])
    ws.append(s.header_row(["R \\ F"] + [f"F={f}" for f in heat.columns]))
    for r, values in heat.iterrows():
        ws.append([s.cell(f"R={r}", font=s.bold)] + [s.cell(v, MONEY) for v in values])
    last_col = get_column_letter(1 + bins)
    ws.conditional_formatting.add(
        f"B{row + 2}:{last_col}{row + 1 + bins}",
        ColorScaleRule(start_type="min", start_color="FFFFFF", mid_type="percentile",
                       mid_value=50, mid_color="BDD7EE", end_type="max", end_color="5B9BD5"))
    ws.append([])
    row += bins + 3
    pareto = pareto_bands(c["value"])
    ws.append([s.cell(text("summary.pareto", lang), font=s.bold)])
    ws.append(s.header_row([text(f"summary.pareto.{k}", lang)
                            for k in ("band", "value", "cumulative")]))
    pareto_rows = (row + 2, row + 1 + len(pareto))
    for rec in pareto.itertuples(index=False):
        ws.append([s.cell(rec.band, "0%"), s.cell(rec.value, MONEY),
                   s.cell(rec.cumulative_share, PERCENT)])
    ws.append([])
    row += len(pareto) + 3
    _charts(ws, lang, anchors, pareto_rows)


def _charts(ws, lang: str, anchors: dict[str, tuple[int, int]],
            pareto_rows: tuple[int, int]) -> None:
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
    _place(ws, bars, "H3")

    _bar(ws, text("summary.chart.pyramid", lang), anchors["pyramid"], "H21",
         text("sum.customers", lang))
    _bar(ws, text("summary.chart.segment", lang), anchors["segment"], "H39")


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
    _place(ws, chart, anchor)


def _place(ws, chart, anchor: str) -> None:
    """Size and anchor a chart, with every axis shown: openpyxl 3.1 writes axes without
    ``<c:delete val="0"/>``, and Excel then hides them and their labels."""
    chart.width, chart.height = 18, 8.5
    for part in (chart, *chart._charts):  # a combined chart keeps its parts' axes
        for axis in (part.x_axis, part.y_axis):
            axis.delete = False
    ws.add_chart(chart, anchor)
