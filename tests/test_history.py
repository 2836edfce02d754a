"""Several monthly exports analysed as one history (xl_crm.core.history, files.sales_files,
engines.analyze_path with several inputs): the same analysis as the single file."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLE, frame
from xl_crm.cli import main
from xl_crm.core.errors import InputError
from xl_crm.core.history import combine_sales
from xl_crm.core.sales import sales_from_frame
from xl_crm.engines import analyze_path
from xl_crm.files import sales_files

TODAY = dt.date(2026, 11, 22)
CHINESE = {"Customer ID": "客户编号", "Date": "日期", "Net Sales": "金额", "Order ID": "订单号",
           "Cost": "成本", "Customer Name": "客户名称"}


@pytest.fixture(scope="module")
def sample_rows() -> pd.DataFrame:
    return pd.read_excel(SAMPLE, sheet_name="Sales", engine="calamine")  # 10 x openpyxl


@pytest.fixture(scope="module")
def monthly_folder(sample_rows, tmp_path_factory):
    """The sample as one file per month: CSV, two months as .xlsx with Chinese headers,
    one month exported twice (a re-export with the next month's first week, which is in
    its own file too)."""
    folder = tmp_path_factory.mktemp("exports")
    months = sample_rows["Date"].dt.to_period("M")
    for i, (month, rows) in enumerate(sample_rows.groupby(months)):
        if i in (3, 4):
            rows.rename(columns=CHINESE).to_excel(folder / f"sales-{month}.xlsx",
                                                  sheet_name="销售", index=False)
        else:
            rows.to_csv(folder / f"sales-{month}.csv", index=False)
    march = sample_rows[months == pd.Period("2026-03")]
    april_week = sample_rows[(sample_rows["Date"] >= "2026-04-01")
                             & (sample_rows["Date"] <= "2026-04-07")]
    pd.concat([march, april_week]).to_csv(folder / "sales-2026-03_again.csv", index=False)
    (folder / "~$sales-2026-01.xlsx").write_bytes(b"lock")  # Excel's lock file: not sales
    (folder / "notes.txt").write_text("not sales")
    return folder


def _same(a, b) -> None:
    def by_id(c):
        return c.sort_values("customer").reset_index(drop=True)

    pd.testing.assert_frame_equal(by_id(a.customers), by_id(b.customers))
    for key in a.summaries:
        pd.testing.assert_frame_equal(a.summaries[key], b.summaries[key])
    pd.testing.assert_frame_equal(a.changes.abc, b.changes.abc)
    pd.testing.assert_frame_equal(a.trend, b.trend)
    assert a.total_value == b.total_value


@pytest.fixture(scope="module")
def folder_analysis(monthly_folder):
    return analyze_path(monthly_folder, today=TODAY)


def test_a_year_in_monthly_files_and_a_re_export_is_the_single_file(monthly_folder,
                                                                     folder_analysis,
                                                                     sample_analysis,
                                                                     sample_rows):
    months = folder_analysis
    _same(sample_analysis, months)  # the sample read whole, as of TODAY
    march = (sample_rows["Date"].dt.to_period("M") == pd.Period("2026-03")).sum()
    week = ((sample_rows["Date"] >= "2026-04-01") & (sample_rows["Date"] <= "2026-04-07")).sum()
    log = months.log
    # the re-export sorts after sales-2026-03.csv: March's lines there are the repeats;
    # its April week comes before sales-2026-04.csv, which holds those orders too
    assert log["repeated_lines"] == march + week
    assert log["rows_read"] == len(sample_rows) + march + week
    assert len(log["files"]) == 25 and "notes.txt" not in log["files"]
    assert not any(f.startswith("~$") for f in log["files"])
    repeats = {r[0]: r for r in log["repeats"]}
    assert repeats["sales-2026-03.csv"][1] == march
    assert repeats["sales-2026-03.csv"][3] == "sales-2026-03_again.csv"
    assert repeats["sales-2026-03_again.csv"][1] == week
    assert repeats["sales-2026-03_again.csv"][3] == "sales-2026-04.csv"
    assert log["source"].startswith("25 files: sales-2024-11.csv, ")


def test_files_listed_one_by_one_are_the_folder(monthly_folder, folder_analysis):
    files = sales_files([monthly_folder])
    assert [p.name for p in files][:2] == ["sales-2024-11.csv", "sales-2024-12.csv"]
    _same(analyze_path(files, today=TODAY), folder_analysis)


def test_without_order_ids_overlapping_files_are_refused_naming_both(tmp_path):
    frame([("a", "2026-01-05", 10), ("b", "2026-01-31", 5)]).to_csv(tmp_path / "jan.csv",
                                                                    index=False)
    frame([("a", "2026-01-20", 10), ("c", "2026-02-10", 5)]).to_csv(tmp_path / "jan-feb.csv",
                                                                    index=False)
    with pytest.raises(InputError) as err:
        analyze_path(tmp_path, today=TODAY)
    message = str(err.value)
    assert "jan-feb.csv and jan.csv overlap from 2026-01-20 to 2026-01-31" in message
    assert "no order id column" in message and "\n" not in message


def test_without_order_ids_files_of_separate_months_add_up(tmp_path):
    frame([("a", "2026-01-05", 10), ("b", "2026-01-31", 5)]).to_csv(tmp_path / "jan.csv",
                                                                    index=False)
    frame([("a", "2026-02-01", 10), ("c", "2026-02-10", 5)]).to_csv(tmp_path / "feb.csv",
                                                                    index=False)
    result = analyze_path(tmp_path, today=TODAY)
    c = result.customers.set_index("customer")
    assert c.loc["a", "frequency"] == 2 and c.loc["a", "net_sales"] == 20
    assert result.log["repeated_lines"] == 0 and result.total_value == 30


def test_blank_order_ids_in_an_overlap_are_refused(tmp_path):
    cols = ("Customer", "Date", "Amount", "Order")
    frame([("a", "2026-01-05", 10, "o1"), ("b", "2026-01-31", 5, "")], cols).to_csv(
        tmp_path / "a.csv", index=False)
    frame([("a", "2026-01-05", 10, "o1")], cols).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputError, match=r"a.csv and b.csv overlap from 2026-01-05 to "
                       r"2026-01-05, and a.csv has 1 lines without an order id"):
        analyze_path(tmp_path, today=TODAY)


def test_files_with_and_without_cost_are_refused(tmp_path):
    frame([("a", "2026-01-05", 10, 4)], ("Customer", "Date", "Amount", "Cost")).to_csv(
        tmp_path / "a.csv", index=False)
    frame([("a", "2026-02-05", 10)]).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputError, match="a.csv has a cost column but b.csv has no cost or "
                       "profit column: a customer's value would mix profit and net sales"):
        analyze_path(tmp_path, today=TODAY)


def test_the_same_file_twice_is_refused(tmp_path):
    path = tmp_path / "a.csv"
    frame([("a", "2026-01-05", 10)]).to_csv(path, index=False)
    with pytest.raises(InputError, match="a.csv is given twice"):
        analyze_path([path, path], today=TODAY)


def test_files_of_one_name_in_two_folders_are_told_apart(tmp_path):
    for year, day in (("2025", "2025-06-01"), ("2026", "2026-06-01")):
        (tmp_path / year).mkdir()
        frame([("a", day, 10)]).to_csv(tmp_path / year / "sales.csv", index=False)
    result = analyze_path([tmp_path / "2025" / "sales.csv", tmp_path / "2026" / "sales.csv"],
                          today=TODAY)
    assert result.log["files"] == ["2025/sales.csv", "2026/sales.csv"]


def test_a_folder_without_sales_files_is_refused(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InputError, match="holds no sales file"):
        analyze_path(tmp_path, today=TODAY)


def test_a_bad_row_is_named_with_its_file(tmp_path):
    frame([("a", "2026-01-05", 10)]).to_csv(tmp_path / "a.csv", index=False)
    frame([("a", "2026-02-05", "ten")]).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputError, match=r"^b.csv: Amount \(column C\) row 2: 'ten' is not a number"):
        analyze_path(tmp_path, today=TODAY)


def test_lines_after_the_analysis_date_are_named_by_file_and_row(tmp_path):
    frame([("a", "2026-01-05", 10), ("a", "2026-01-20", 10)]).to_csv(tmp_path / "a.csv",
                                                                     index=False)
    frame([("b", "2026-02-05", 10), ("b", "2026-03-05", 10)]).to_csv(tmp_path / "b.csv",
                                                                     index=False)
    from xl_crm.core.analysis import Options

    result = analyze_path(tmp_path, Options(as_of="2026-02-28"), today=TODAY)
    assert result.log["rows_after_as_of"] == 1
    assert result.log["rows_after_as_of_first"] == ["b.csv row 3"]


def test_duckdb_takes_one_file(monthly_folder):
    with pytest.raises(InputError, match="engine: --engine duckdb reads one file, not 25"):
        analyze_path(monthly_folder, engine="duckdb", today=TODAY)


def test_a_folder_of_one_file_is_that_file(tmp_path):
    frame([("a", "2026-01-05", 10)]).to_csv(tmp_path / "a.csv", index=False)
    result = analyze_path(tmp_path, engine="duckdb", today=TODAY)
    assert result.log["source"] == "a.csv (DuckDB)" and result.total_value == 10


def _sales(rows, name):
    return sales_from_frame(pd.DataFrame(rows, columns=["Customer", "Date", "Amount", "Order"]),
                            source=name, today=TODAY)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 60),
                          st.integers(-50, 200).filter(bool), st.integers(1, 3)),
                min_size=1, max_size=25),
       st.lists(st.integers(0, 3), min_size=25, max_size=25),
       st.lists(st.sets(st.integers(0, 3), max_size=2), min_size=25, max_size=25))
def test_orders_spread_over_files_with_copies_combine_to_the_orders(lines, home, copies):
    """Every order in its own file (home) and copied whole into other files: the
    combined lines are the orders' lines, each once."""
    orders: dict[str, list] = {}
    for i, (customer, day, amount, lines_n) in enumerate(lines):
        date = (dt.date(2026, 1, 1) + dt.timedelta(days=day)).isoformat()
        orders[f"o{i}"] = [(customer, date, amount, f"o{i}")] * lines_n
    files: list[list] = [[] for _ in range(4)]
    for i, (order, rows) in enumerate(orders.items()):
        for f in {home[i], *copies[i]}:
            files[f] += rows
    used = [(f"f{i}.csv", rows) for i, rows in enumerate(files) if rows]
    history = combine_sales([_sales(r, n) for n, r in used], [n for n, _ in used])
    tx = history.sales.transactions
    got = sorted(zip(tx["order_id"].astype(str), tx["amount"]))
    want = sorted((o, float(r[2])) for o, rows in orders.items() for r in rows)
    assert got == want
    total = sum(len(r) for _, r in used)
    assert history.repeated_lines == total - len(want)
    assert np.all(tx["file"].cat.categories == [n for n, _ in used])


def test_cli_report_on_a_folder_and_not_into_it(monthly_folder, tmp_path, capsys):
    out = tmp_path / "report.xlsx"
    assert main(["report", str(monthly_folder), "-o", str(out)]) == 0
    assert out.exists()
    assert main(["analyze", str(monthly_folder / "sales-2026-01.csv"),
                 str(monthly_folder / "sales-2026-02.csv")]) == 0
    shown = capsys.readouterr().out
    assert "customer value of 2 files: sales-2026-01.csv, sales-2026-02.csv" in shown
    assert main(["report", str(monthly_folder), "-o", str(monthly_folder / "report.xlsx")]) == 1
    assert "read as sales on the next run" in capsys.readouterr().err
    assert not (monthly_folder / "report.xlsx").exists()


# ---- the button's History sheet ----------------------------------------------------

def _zh_rows():
    from tests.test_monthly import sales_rows

    return sales_rows()


def _months(header, lines):
    """The calendar month of each line, as the reader parses its date."""
    from xl_crm.core.sales import sales_from_rows

    tx = sales_from_rows([header, *lines]).transactions
    assert len(tx) == len(lines)
    return list(tx["date"].dt.strftime("%Y-%m"))


def _button_book(tmp_path, rows):
    from tests.fake_xlwings import Book

    book = Book(fullname=str(tmp_path / "monthly.xlsm"))
    book.add_sheet("Sales", rows)
    return book


def _paste(book, rows):
    sheet = book.sheets["Sales"]
    sheet.cells.clear()
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row, start=1):
            if v is not None:
                sheet.cells[(i, j)] = v


def test_the_button_keeps_a_history_month_by_month(tmp_path):
    from xl_crm.monthly import run

    header, *lines = _zh_rows()
    of = _months(header, lines)
    months = sorted(set(of))
    last = months[-1]
    before = [r for r, m in zip(lines, of) if m < last]
    book = _button_book(tmp_path, [header, *before])
    first = run(book)  # the first press: the history so far, pasted once
    assert [c.before for c in first.months] == [0] * (len(months) - 1)
    month = [r for r, m in zip(lines, of) if m == last]
    _paste(book, [header, *month])
    outcome = run(book)
    whole = run(_button_book(tmp_path, [header, *lines]))
    pd.testing.assert_frame_equal(outcome.analysis.customers, whole.analysis.customers)
    assert outcome.months[-1].month == last and outcome.months[-1].before == 0
    history = book.sheets["Sales History"].used_range.value
    assert len(history) - 1 == len(lines)
    assert history[0][:3] == ["Customer ID", "Customer Name", "Date"]
    log = dict(book.sheets["CRM Log"].used_range.value[1:])
    assert log[f"history {last}"].startswith("added: ")

    # the same month pressed again: the same history, the same analysis
    snapshot = book.sheets["Sales History"].used_range.value
    again = run(book)
    assert book.sheets["Sales History"].used_range.value == snapshot
    pd.testing.assert_frame_equal(again.analysis.customers, outcome.analysis.customers)
    log = dict(book.sheets["CRM Log"].used_range.value[1:])
    n = len(month)
    assert log[f"history {last}"] == f"replaced: {n:,} lines before, {n:,} now"

    # a corrected export of the month (one line fewer) replaces it whole
    _paste(book, [header, *month[1:]])
    run(book)
    assert len(book.sheets["Sales History"].used_range.value) - 1 == len(lines) - 1


def test_a_failed_press_leaves_the_history_as_it_was(tmp_path):
    from xl_crm.monthly import run

    header, *lines = _zh_rows()
    book = _button_book(tmp_path, [header, *lines[:500]])
    run(book)
    before = book.snapshot()
    _paste(book, [header, *lines[500:600]])
    book.sheets["Sales"].cells[(3, 8)] = "十二"
    with pytest.raises(InputError, match="'十二' is not a number"):
        run(book)
    sales = book.sheets["Sales"].cells.copy()
    after = dict(book.snapshot())
    assert after["Sales History"] == dict(before)["Sales History"]
    assert book.sheets["Sales"].cells == sales
    book.fail_on_write = "CRM~new~6"  # the History sheet, written last
    _paste(book, [header, *lines[500:600]])
    with pytest.raises(OSError, match="simulated"):
        run(book)
    assert dict(book.snapshot())["Sales History"] == dict(before)["Sales History"]


def test_history_keeps_ids_as_text_and_reads_back_exactly(tmp_path):
    from xl_crm.monthly import run

    rows = [["Customer", "Date", "Amount", "Order", "Name"],
            ["00123", dt.datetime(2026, 1, 5), 10.25, "0001", "=HYPERLINK(\"x\")"],
            ["1e5", dt.datetime(2026, 1, 4), -2.5, "2", "TRUE"]]
    book = _button_book(tmp_path, rows)
    run(book)
    history = book.sheets["Sales History"].used_range.value
    assert [r[0] for r in history[1:]] == ["00123", "1e5"]
    assert [r[4] for r in history[1:]] == [10.25, -2.5]
    again = run(book)
    assert sorted(again.analysis.customers["customer"]) == ["00123", "1e5"]
    assert book.sheets["Sales History"].used_range.value == history


def test_the_history_sheet_is_not_the_sales_sheet(tmp_path):
    from xl_crm.monthly import run
    from xl_crm.monthly.settings import read_settings  # noqa: F401 (settings name the sheet)

    book = _button_book(tmp_path, [["Customer", "Date", "Amount"],
                                   ["a", dt.datetime(2026, 1, 5), 1.0]])
    book.sheets["Sales"].name = "Sales History"
    with pytest.raises(InputError, match="is the History sheet"):
        run(book)


def test_a_history_sheet_named_as_excel_reserves_is_read_and_moved(tmp_path):
    # Excel refuses a sheet named History (its change-tracking sheet; the fake Excel
    # refuses it too): the button writes "Sales History", and a History sheet another
    # program made is read, then replaced by it
    from xl_crm.monthly import run

    book = _button_book(tmp_path, [["Customer", "Date", "Amount"],
                                   ["b", dt.datetime(2026, 2, 5), 7.0]])
    book.add_sheet("History", [["Customer ID", "Date", "Net Sales"],
                               ["a", dt.datetime(2026, 1, 5), 10.0]])
    outcome = run(book)
    names = [s.name for s in book.sheets]
    assert "History" not in names and names.count("Sales History") == 1
    assert book.sheets["Sales History"].used_range.value[1:] == [
        ["a", dt.datetime(2026, 1, 5), 10.0], ["b", dt.datetime(2026, 2, 5), 7.0]]
    assert sorted(outcome.analysis.customers["customer"]) == ["a", "b"]
    with pytest.raises(ValueError, match="reserved"):
        book.sheets["Sales History"].name = "history"


def test_a_bad_line_in_the_history_sheet_names_the_sheet_and_row(tmp_path):
    from xl_crm.monthly import run

    book = _button_book(tmp_path, [["Customer", "Date", "Amount"],
                                   ["a", dt.datetime(2026, 2, 5), 1.0]])
    book.add_sheet("History", [["Customer ID", "Date", "Net Sales"],
                               ["a", dt.datetime(2026, 1, 5), "ten"]])
    before = book.snapshot()
    with pytest.raises(InputError) as err:
        run(book)
    assert str(err.value) == "sheet History: Net Sales (column C) row 2: 'ten' is not a number"
    assert book.snapshot() == before


@pytest.mark.parametrize("first", ["History", "Sales History"])
def test_two_history_sheets_are_refused_whatever_their_order(tmp_path, first):
    # which one holds the history is the user's to say: none is read over, none deleted
    from xl_crm.monthly import run

    book = _button_book(tmp_path, [["Customer", "Date", "Amount"],
                                   ["b", dt.datetime(2026, 2, 5), 7.0]])
    other = "Sales History" if first == "History" else "History"
    book.add_sheet(first, [["Customer ID", "Date", "Net Sales"],
                           ["a", dt.datetime(2026, 1, 5), 10.0]])
    book.add_sheet(other, [["Customer ID", "Date", "Net Sales"],
                           ["z", dt.datetime(2025, 12, 5), 3.0]])
    before = book.snapshot()
    with pytest.raises(InputError, match=r"^the workbook has two history sheets, '[A-Za-z ]+' "
                                         r"and '[A-Za-z ]+'; keep the one that holds the "
                                         r"history$"):
        run(book)
    assert book.snapshot() == before
