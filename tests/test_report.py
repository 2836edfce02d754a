"""The report workbook read back with openpyxl: sheets, values, tables, formats, safety."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile

import pytest
from openpyxl import load_workbook

from tests.readback import tables
from xl_crm.core.analysis import analyze
from xl_crm.core.sales import sales_from_rows
from xl_crm.decisions import action_count, action_header, action_list
from xl_crm.output import OutputError
from xl_crm.report import ReportOptions, read_summary, write_report
from xl_crm.report.clv_sheet import ROWS


@pytest.fixture(scope="module")
def report(sample_report):
    return load_workbook(sample_report), sample_report


def rows(ws):
    return [[c.value for c in r] for r in ws.iter_rows()]


def test_sheets_and_opening_sheet(report):
    book, _ = report
    visible = [ws.title for ws in book.worksheets if ws.sheet_state == "visible"]
    assert visible == ["Summary", "Actions", "Changes", "Distributions", "Tier A", "Tier B",
                       "Tier C", "Customers", "CLV", "Strategy", "Notes"]
    assert book.sheetnames[len(visible):] == ["xl_crm data"]  # the key figures, for mail
    assert book["xl_crm data"].sheet_state == "veryHidden"
    assert book.active.title == "Summary"


def test_every_customer_exactly_once_across_tier_sheets(report, sample_analysis):
    book, _ = report
    seen = []
    for name in ("Tier A", "Tier B", "Tier C"):
        data = rows(book[name])
        assert data[0][0] == "Customer"
        tier_col = data[0].index("ABC tier")
        assert {r[tier_col] for r in data[1:]} == {name}
        seen += [r[0] for r in data[1:]]
    assert sorted(seen) == sorted(sample_analysis.customers["customer"])
    customers = rows(book["Customers"])
    assert len(customers) - 1 == len(sample_analysis.customers)


def test_values_and_number_formats(report, sample_analysis):
    book, _ = report
    ws = book["Customers"]
    header = [c.value for c in ws[1]]
    first = sample_analysis.customers.iloc[0]
    row = {h: c for h, c in zip(header, ws[2])}
    assert row["Customer"].value == first["customer"]
    assert row["Value"].value == pytest.approx(first["value"])
    assert row["Value"].number_format == "#,##0.00"
    assert row["Last purchase"].value == first["last_purchase"].to_pydatetime()
    assert row["Last purchase"].number_format == "yyyy-mm-dd"
    assert row["Cumulative share"].number_format == "0.0%"
    assert row["Recency (days)"].number_format == "#,##0"
    assert row["Segment"].value == first["segment"]
    # the next action comes from the action table, not from the segment
    assert first["action"] == "a-keep"
    assert row["Next action"].value == "Keep close: personal contact and priority service"
    assert row["Priority"].value == 3 and row["Sales rep"].value == first["rep"] != ""
    assert row["Value at risk"].value == 0
    # no column repeats another: Monetary is Net sales (total), Profit is Value (profit basis)
    assert "Monetary" not in header and "Profit" not in header
    assert {"Net sales", "Value", "Cost"} <= set(header)


def test_tables_filters_frozen_panes_and_print_settings(report):
    book, _ = report
    for name in ("Tier A", "Customers", "Strategy"):
        ws = book[name]
        assert len(ws.tables) == 1
        table = next(iter(ws.tables.values()))
        assert table.ref.startswith("A1:") and table.autoFilter is not None
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == "$1:$1"
        assert "&P" in ws.oddFooter.right.text
        # the footer names the report, its month and the sheet (Excel's &A)
        assert ws.oddFooter.left.text == "xl_crm customer value report 2026-10 · &A"
    assert book["Tier A"].freeze_panes == "C2"  # customer and name stay in view
    customers = book["Customers"]
    assert customers.print_area == f"'Customers'!$A$1:$M${customers.max_row}"
    assert [c.value for c in customers[1]][:13] == [
        "Customer", "Name", "Sales rep", "Region", "ABC tier", "Pyramid tier",
        "Lifecycle stage", "Value", "Value at risk", "Last purchase", "Recency (days)",
        "Priority", "Next action"]


def test_summary_puts_decisions_first_on_one_page(report, sample_analysis):
    book, _ = report
    ws = book["Summary"]
    a, c = sample_analysis, sample_analysis.customers
    assert ws["A1"].value == "Customer value report — 2026-10"
    assert ws["A3"].value == ("24 months of data, 2024-11-01 to 2026-10-31   ·   "
                              "Change since 2026-09-30")
    values = rows(ws)
    figures = {r[0]: r[1:5] for r in values[5:16]}
    assert values[4][:5] == ["Figure", "Now", "Previous", "Change", "Change %"]
    assert figures["Customers"][:3] == [3000, 2966, 34]
    assert figures["Value at risk"][0] == pytest.approx(c["value_at_risk"].sum())
    assert figures["VIPs at risk"][0] == 14
    assert ws.cell(8, 4).number_format == "+#,##0;-#,##0;0"
    at = next(i for i, r in enumerate(values) if r[0] == "Action list: whom to contact")
    assert values[at][1] == "579 customers to contact (priority 1: this week, 2: this month)"
    assert values[at + 1][:3] == ["Name", "Priority", "Sales rep"]
    assert [r[0] for r in values[at + 2:at + 12]] == list(
        c.set_index("customer").loc[[r[1] for r in action_list(a, "en", 10)], "name"])
    assert values[at + 2][1] == 1
    matrix = next(i for i, r in enumerate(values) if r[0] == "Previous \\ now")
    assert values[matrix + 1][:5] == ["Tier A", 670, 14, 0, 684]
    assert values[matrix + 4][:5] == ["new", 2, 4, 31, 37]
    assert ws.print_area == "'Summary'!$A$1:$H$" + str(len(values))
    assert ws.page_setup.fitToHeight == 1 and ws.page_setup.fitToWidth == 1


def test_actions_and_changes_sheets(report, sample_analysis):
    book, _ = report
    a = sample_analysis
    actions = rows(book["Actions"])
    assert actions[0] == action_header("en")
    assert actions[1:] == action_list(a, "en")
    assert len(actions) - 1 == action_count(a) == 579
    assert book["Actions"].freeze_panes == "D2"
    # a printed page: priority ... action; the reason and the rest follow on screen
    assert book["Actions"].print_area == f"'Actions'!$A$1:$I${len(actions)}"
    changes = rows(book["Changes"])
    titles = [r[0] for r in changes]
    for key in ("ABC tiers (Pareto)", "Customer pyramid", "RFM segments", "Lifecycle stages"):
        assert f"Customers moving between {key}" in titles
        assert f"Value moving between {key}" in titles
    at = titles.index("Value moving between ABC tiers (Pareto)") + 2
    assert changes[at][:5] == ["Tier A"] + [pytest.approx(v) for v in
                                            [*a.changes.values["abc"].loc["A"],
                                             a.changes.values["abc"].loc["A"].sum()]]
    dwyer = titles.index("Repurchase probability by months since the last purchase "
                         "(Dwyer migration model)")
    assert changes[dwyer + 1][0] == "Periods since the last purchase (90-day periods)"
    assert changes[dwyer + 2][:3] == [1, 872, pytest.approx(539 / 872)]
    movers = titles.index("Movers")
    assert {r[0] for r in changes[movers + 2:] if r[0] in (
        "Entered tier A", "Left tier A", "Became lost", "New customer")} == {
        "Entered tier A", "Left tier A", "Became lost", "New customer"}


def test_distributions_have_tables_charts_and_heat_map(report, sample_analysis):
    book, _ = report
    ws = book["Distributions"]
    assert len(ws._charts) == 3
    assert len(ws.conditional_formatting) == 2  # mean value and customer count grids
    values = rows(ws)
    c = sample_analysis.customers
    at = next(i for i, r in enumerate(values) if str(r[0]).startswith("Customers by R score"))
    grid = {(6 - i, f): values[at + 1 + i][f] for i in range(1, 6) for f in range(1, 6)}
    assert sum(grid.values()) == len(c)  # every customer in one cell
    assert grid[(5, 5)] == ((c["R"] == 5) & (c["F"] == 5)).sum()
    at = next(i for i, r in enumerate(values)
              if str(r[0]).startswith("Average customer value (profit)"))
    top = c[(c["R"] == 5) & (c["F"] == 5)]["value"].mean()
    assert values[at + 2][5] == pytest.approx(top)  # R=5 row, F=5 column: the same basis
    tier_a = next(r for r in values if r[0] == "Tier A")
    abc = sample_analysis.summaries["abc"].set_index("label")
    assert tier_a[1] == abc.loc["A", "customers"]
    assert tier_a[3] == pytest.approx(abc.loc["A", "value"])


def test_formula_like_names_are_text(report):
    book, _ = report
    ws = book["Customers"]
    cells = [r[1] for r in ws.iter_rows(min_row=2)
             if isinstance(r[1].value, str) and r[1].value[:1] in "=+-@"]
    assert {c.value[:5] for c in cells} >= {"=HYPE", "+Plus", "@Home"}
    assert all(c.data_type == "s" for c in cells)


def test_clv_sheet_has_inputs_and_formulas(report):
    book, _ = report
    ws = book["CLV"]
    labels = [r[0] for r in rows(ws)]
    assert labels[0] == "Tier A — Dwyer customer lifetime value"
    assert labels.count("Lifetime value per customer") == 3
    retained = labels.index("Retained customers") + 1
    assert ws.cell(retained, 2).value.startswith("=$B$")
    assert ws.cell(retained, 3).value.startswith("=B")
    assert ws.cell(labels.index("Customers in the group") + 1, 2).fill.fgColor.rgb.endswith(
        "FFF2CC")
    assert all(f"{row}" in labels for row in ("Gross profit", "Cumulative NPV"))
    assert len(ws.row_breaks.brk) == 3  # each tier's table prints on its own page
    assert len(ROWS) == 14


def test_strategy_and_notes(report, sample_analysis):
    book, _ = report
    strategy = rows(book["Strategy"])
    labels = {r[1] for r in strategy[1:]}
    assert {"A", "B", "C", "VIP", "Important value", "Lost", "Value"} <= labels
    ws = book["Strategy"]
    bullets = [c.value for c in ws[2]][6]  # the actions, one per line, wrapped in the cell
    assert ws.cell(2, 7).alignment.wrap_text and bullets.count("\n") >= 2
    assert ws.row_dimensions[2].height >= (bullets.count("\n") + 1) * 13.5  # sized to fit
    notes = {r[0]: r[1] for r in rows(book["Notes"])[1:]}
    assert notes["Rows read"] == "36,546"
    assert notes["Blank rows skipped"] == "0"
    assert "latest purchase date" in notes["Analysis date (as of)"]
    assert "retention measured" in notes["CLV inputs, A"]


def test_chinese_report(sample_analysis, tmp_path):
    path = write_report(sample_analysis, tmp_path / "zh.xlsx", ReportOptions(lang="zh"))
    book = load_workbook(path, read_only=True)  # a sheet is parsed when it is read
    assert book.sheetnames[:7] == ["摘要", "行动清单", "变化", "客户分布", "A类客户", "B类客户",
                                   "C类客户"]
    assert book["摘要"]["A1"].font.name == "Microsoft YaHei"
    # Notes in Chinese too: items, rules and sources
    zh_notes = {r[0]: r[1] for r in rows(book["说明"])[1:]}
    assert zh_notes["读取行数"] == f"{sample_analysis.log['rows_read']:,}"
    assert zh_notes["数据期间"] == "2024-11-01 至 2026-10-31"
    assert zh_notes["客户分类方案"].startswith("value8; 高/低为原始指标与其均值比较")
    assert "测得" in zh_notes["CLV 输入：A"] and "measured" not in zh_notes["CLV 输入：A"]
    assert zh_notes["变化数据"] == "与 2026-09-30 相比"
    english = [v for v in zh_notes.values() if "high/low" in v or " while " in v]
    assert english == []
    # Excel tables named readably, in Chinese (not T_____)
    in_sheets = tables(path)
    assert in_sheets["行动清单"] == ["行动清单"] and in_sheets["A类客户"] == ["A类客户"]
    header = next(book["客户明细"].iter_rows(max_row=1, values_only=True))
    assert header[:2] == ("客户编号", "客户名称")
    assert read_summary(path).tiers[0].name == "A类客户"


def test_same_input_same_file(sample_analysis, sample_report, tmp_path):
    # every part of the file byte for byte (cells, styles, charts, tables), but for the
    # time the file was written (docProps/core.xml)
    again = write_report(sample_analysis, tmp_path / "b.xlsx")
    with zipfile.ZipFile(sample_report) as a, zipfile.ZipFile(again) as b:
        assert a.namelist() == b.namelist()
        differ = [n for n in a.namelist() if a.read(n) != b.read(n)]
    assert set(differ) <= {"docProps/core.xml"}  # the same second: no difference at all


def test_refuses_to_overwrite_and_never_writes_the_input(sample_analysis, sample_report,
                                                         tmp_path):
    path = tmp_path / "r.xlsx"
    shutil.copyfile(sample_report, path)
    before = path.read_bytes()
    with pytest.raises(OutputError, match="exists"):
        write_report(sample_analysis, path)
    assert path.read_bytes() == before
    with pytest.raises(OutputError, match="input file"):
        write_report(sample_analysis, path, overwrite=True, inputs=[path])
    write_report(sample_analysis, path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]  # no temporary files left


def test_large_tier_continues_on_next_sheet(tmp_path):
    data = [["Customer", "Date", "Amount"]] + [
        [f"C{i:04d}", "2025-03-01", 100 + (i % 7)] for i in range(25)]
    result = analyze(sales_from_rows(data, today=dt.date(2026, 11, 22)))
    path = write_report(result, tmp_path / "split.xlsx", ReportOptions(max_rows=11))
    book = load_workbook(path)
    customer_sheets = [n for n in book.sheetnames if n.startswith("Customers")]
    assert customer_sheets == ["Customers", "Customers (2)", "Customers (3)"]
    ids = [r[0] for n in customer_sheets for r in rows(book[n])[1:]]
    assert sorted(ids) == [f"C{i:04d}" for i in range(25)]
    assert all(book[n].max_row <= 11 for n in customer_sheets)
    notes = [r[1] for r in rows(book["Notes"]) if r[0] == "Sheets split"]
    assert any("Customers: 25 rows on 3 sheets" in n for n in notes)


def test_summary_round_trip(report, sample_analysis):
    _, path = report
    summary = read_summary(path)
    assert summary.period == "2026-10" and summary.customers == 3000
    assert summary.value == pytest.approx(sample_analysis.total_value)
    assert [t.label for t in summary.tiers] == ["A", "B", "C"]


def test_a_currency_is_shown_on_every_money_header(sample_analysis, tmp_path):
    import dataclasses

    from xl_crm.decisions import report_summary as summary_of
    from xl_crm.mail.message import _text_body, mail_texts

    options = dataclasses.replace(sample_analysis.options, currency="EUR")
    a = dataclasses.replace(sample_analysis, options=options)
    book = load_workbook(write_report(a, tmp_path / "eur.xlsx"), read_only=True)
    customers = next(book["Customers"].iter_rows(max_row=1, values_only=True))
    assert {"Value (EUR)", "Value at risk (EUR)", "Net sales (EUR)", "Cost (EUR)",
            "Current value (EUR)"} <= set(customers)
    assert "Customer" in customers and "Recency (days)" in customers  # no money, no EUR
    actions = next(book["Actions"].iter_rows(max_row=1, values_only=True))
    assert "Value at risk (EUR)" in actions
    summary = [r[0] for r in book["Summary"].iter_rows(values_only=True) if r]
    assert "Value at risk (EUR)" in summary and "VIPs at risk" in summary
    body = _text_body(summary_of(a), "eur.xlsx", mail_texts("en"))
    assert "Net sales (EUR):" in body and "Value (EUR)" in body
