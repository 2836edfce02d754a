"""Reading sales tables: header detection, blank rows, bad input, files on disk."""

from __future__ import annotations

import csv
import datetime as dt
import io
from itertools import zip_longest

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from xl_crm.core.columns import detect_columns, normalize_header
from xl_crm.core.errors import InputError
from xl_crm.core.sales import sales_from_columns, sales_from_frame, sales_from_rows
from xl_crm.engines import analyze_path
from xl_crm.files import csv_delimiter, read_sales

from .conftest import SAMPLE_ZH

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize("headers,expected", [
    (["Customer ID", "Order Date", "Net Sales"], {"customer": 0, "date": 1, "amount": 2}),
    (["客户编号", "订单日期", "销售额", "成本"], {"customer": 0, "date": 1, "amount": 2, "cost": 3}),
    (["  customer_id ", "DATE", "Amount", "Order No."], {"customer": 0, "date": 1, "amount": 2,
                                                       "order_id": 3}),
    (["金额", "客户", "日期", "客户名称", "地区"], {"amount": 0, "customer": 1, "date": 2, "name": 3,
                                             "region": 4}),
])
def test_headers_found_in_english_and_chinese(headers, expected):
    assert detect_columns(headers) == expected


def test_normalize_header_ignores_case_spaces_and_width():
    assert normalize_header(" Customer_ID ") == normalize_header("ＣＵＳＴＯＭＥＲ ID") == "customerid"


def test_duplicate_and_missing_headers_are_explained():
    with pytest.raises(InputError, match=r"'Customer' \(column A\) and 'Client' \(column D\)"):
        detect_columns(["Customer", "Date", "Amount", "Client"])
    with pytest.raises(InputError, match="'Amount' \\(column C\\) and 'Amount' \\(column D\\)"):
        detect_columns(["Customer", "Date", "Amount", "Amount"])
    with pytest.raises(InputError, match="no column for amount"):
        detect_columns(["Customer", "Date", "Qty"])
    # an explicit mapping resolves the ambiguity
    assert detect_columns(["Customer", "Date", "Amount", "Client"],
                          {"customer": "Client"})["customer"] == 3


def test_rows_with_title_rows_blank_rows_and_mixed_types():
    rows = [
        ["Monthly sales export", None, None],
        [None, None, None],
        ["Customer", "Date", "Amount"],
        ["C1", dt.datetime(2025, 3, 1), 100.0],
        [None, None, None],
        [1001.0, "2025/3/2", "1,200.50"],
        ["", "", ""],
        ["C1", 45719, -20],
    ]
    sales = sales_from_rows(rows, today=TODAY)
    tx = sales.transactions
    assert list(tx["customer"]) == ["C1", "1001", "C1"]
    assert list(tx["amount"]) == [100.0, 1200.5, -20.0]
    assert list(tx["row"]) == [4, 6, 8]
    assert sales.blank_rows == (5, 7)
    assert list(tx["date"]) == [pd.Timestamp("2025-03-01"), pd.Timestamp("2025-03-02"),
                                pd.Timestamp("2025-03-03")]


@pytest.mark.parametrize("row,message", [
    (["C1", "2025-03-01", "abc"], "Amount (column C) row 3: 'abc' is not a number"),
    (["C1", "yesterday", 5], "Date (column B) row 3: 'yesterday' is not a date"),
    (["", "2025-03-01", 5], "Customer (column A) row 3: is empty but the row has other data"),
    (["C1", None, 5], "Date (column B) row 3: is empty"),
    (["C1", "2025-03-01", None], "Amount (column C) row 3: is empty"),
    (["C1", "2099-01-01", 5], "Date (column B) row 3: 2099-01-01 is in the future"),
])
def test_bad_cells_name_column_and_row(row, message):
    rows = [["Customer", "Date", "Amount"], ["C0", "2025-03-01", 1], row]
    with pytest.raises(InputError) as err:
        sales_from_rows(rows, today=TODAY)
    assert message in str(err.value)


def test_header_only_and_empty_tables():
    with pytest.raises(InputError, match="no data rows"):
        sales_from_rows([["Customer", "Date", "Amount"]], today=TODAY)
    with pytest.raises(InputError, match="empty"):
        sales_from_rows([], today=TODAY)


def test_frame_is_not_modified_and_ids_are_text():
    df = pd.DataFrame({"Customer": [1001, 1002], "Date": ["2025-03-01", "2025-03-02"],
                       "Amount": ["5", "6"]})
    before = df.copy()
    sales = sales_from_frame(df, today=TODAY)
    pd.testing.assert_frame_equal(df, before)
    assert list(sales.transactions["customer"]) == ["1001", "1002"]
    assert sales.value_basis == "net sales"


def test_columns_must_have_equal_heights():
    with pytest.raises(InputError, match="customers row 3: is missing"):
        sales_from_columns({"customer": ["a", "b"], "date": [45000] * 3, "amount": [1] * 3},
                           {"customer": "customers", "date": "dates", "amount": "amounts"},
                           today=TODAY)


def test_formula_like_names_are_kept_as_text():
    rows = [["Customer", "Customer Name", "Date", "Amount"],
            ["C1", '=HYPERLINK("http://x","y")', "2025-03-01", 1]]
    tx = sales_from_rows(rows, today=TODAY).transactions
    assert tx["name"].iloc[0] == '=HYPERLINK("http://x","y")'


def _write_xlsx(path, rows, sheet="Data"):
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    wb.save(path)


def test_read_xlsx_picks_the_sales_sheet_and_never_writes(tmp_path):
    path = tmp_path / "book.xlsx"
    wb = Workbook()
    wb.active.title = "Notes"
    wb.active.append(["not sales"])
    ws = wb.create_sheet("Sales")
    ws.append(["Report title"])
    ws.append(["Customer", "Date", "Amount"])
    ws.append(["C1", dt.datetime(2025, 3, 1), 10])
    ws.append(["C2", dt.datetime(2025, 3, 2), "x"])
    wb.save(path)
    before = path.read_bytes()
    with pytest.raises(InputError, match=r"book.xlsx \[Sales\]: Amount \(column C\) row 4"):
        read_sales(path, today=TODAY)
    assert path.read_bytes() == before


def test_read_csv_utf8_bom_and_gb18030(tmp_path):
    text = "客户编号,日期,销售额\nC1,2025/3/1,\"1,000.50\"\n\nC2,2025年3月2日,20\n"
    for encoding in ("utf-8-sig", "gb18030"):
        path = tmp_path / f"s-{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        sales = read_sales(path, today=TODAY)
        assert list(sales.transactions["amount"]) == [1000.5, 20.0]
        assert list(sales.transactions["row"]) == [2, 4]
        assert sales.blank_rows == (3,)


def test_read_csv_with_duplicate_headers_is_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("Customer,Date,Amount,Amount\nC1,2025-03-01,1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="could both be the amount column"):
        read_sales(path, today=TODAY)
    # the DuckDB engine too (DuckDB itself would rename the second one Amount_1)
    with pytest.raises(InputError, match="could both be the amount column"):
        analyze_path(path, engine="duckdb", today=TODAY)


def test_read_unsupported_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_sales(tmp_path / "none.xlsx")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported"):
        read_sales(tmp_path / "a.txt")


def test_sample_workbooks_read_cleanly(sample_sales):
    tx = sample_sales.transactions
    assert sample_sales.rows_read == 36546
    assert tx["customer"].nunique() == 3000
    assert (tx["amount"] < 0).sum() > 0
    zh = read_sales(SAMPLE_ZH, today=TODAY)
    assert len(zh.blank_rows) == 2
    assert zh.columns["amount"] == "销售额"
    assert not np.isnat(zh.transactions["date"].to_numpy()).any()


def test_csv_with_a_ragged_row_or_only_a_header(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("Customer,Date,Amount\nC1,2025-03-01,12\nC2,2025-03-02,3,4,5\n")
    with pytest.raises(InputError, match="ragged.csv: row 3: has 5 cells but the header has 3"):
        read_sales(ragged, today=TODAY)
    header = tmp_path / "header.csv"
    header.write_text("Customer,Date,Amount\n")
    with pytest.raises(InputError, match="no data rows"):
        read_sales(header, today=TODAY)


header_cells = st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=12)
data_cells = st.text(alphabet=st.sampled_from("ab1.,;\t -/é张"), max_size=10)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(",;\t"), st.integers(2, 6), st.data())
def test_the_delimiter_is_the_one_that_splits_every_line_alike(delimiter, width, data):
    # headers of letters, cells holding the other delimiters (and this one, quoted)
    header = data.draw(st.lists(header_cells, min_size=width, max_size=width))
    rows = data.draw(st.lists(st.lists(data_cells, min_size=width, max_size=width),
                              max_size=40))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    assert csv_delimiter(buffer.getvalue()) == delimiter


def test_the_delimiter_defaults_to_a_comma_and_ignores_title_rows():
    assert csv_delimiter("Customer\nC1\n") == csv_delimiter("") == ","
    title = "Sales, March 2025\nCustomer;Date;Amount\nC1;2025-03-01;1,5\nC2;2025-03-02;2\n"
    assert csv_delimiter(title) == ";"


def test_blank_order_ids_are_orders_of_their_own():
    from xl_crm.core.rfm import customer_measures

    rows = [["Customer", "Date", "Amount", "Order ID"], ["a", "2025-01-01", 10, None],
            ["a", "2025-01-02", 10, ""], ["a", "2025-01-03", 10, "o1"],
            ["a", "2025-01-03", 5, "o1"]]
    tx = sales_from_rows(rows, today=TODAY).transactions
    assert customer_measures(tx).table.loc["a", "frequency"] == 3  # two blanks + o1


def test_empty_columns_parse_to_empty_arrays():
    from xl_crm.core.values import parse_amounts, parse_dates

    assert len(parse_amounts([])) == 0 and len(parse_dates([])) == 0


table_cells = st.one_of(st.none(), st.sampled_from(["", " ", "x", "C1", "12", "-3.5"]),
                        st.integers(-5, 50), st.floats(-1e3, 1e3, allow_nan=False),
                        st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2026, 6, 1)))
role_cells = {"Customer": st.sampled_from(["C1", "C2", " c3 ", 7]),
              "Date": st.one_of(st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2026, 6, 1)),
                                st.just("2025-03-01")),
              "Amount": st.one_of(st.integers(-5, 500), st.floats(-1e3, 1e3, allow_nan=False),
                                  st.just("12.5"))}


@st.composite
def sales_tables(draw):
    """A header (the roles in any order, title rows above it) and rows of mostly valid
    cells: some short, some with empty or (refused) filled cells beyond the header."""
    header = draw(st.permutations(list(role_cells)))
    rows = [draw(st.lists(table_cells, max_size=3)) for _ in range(draw(st.integers(0, 2)))]
    rows.append(list(header))
    for _ in range(draw(st.integers(0, 15))):
        odd = draw(st.integers(0, 99))  # one row in twelve or so is odd
        row = [draw(table_cells if odd == 0 else role_cells[role]) for role in header]
        cut = {1: 1, 2: 2, 3: 0}.get(odd)  # short rows, blank rows
        extra = {4: [None], 5: [""], 6: [None, " "], 7: ["x"]}.get(odd, [])
        rows.append((row if cut is None else row[:cut]) + extra)
    return rows


@settings(max_examples=100, deadline=None)
@given(sales_tables())
def test_rows_read_alike_with_their_columns_given_or_made(rows):
    # the fast workbook reader hands over the rows transposed: any table, title rows,
    # short rows and cells beyond the header included, reads the same, or is refused alike
    def read(**kw):
        try:
            return sales_from_rows(rows, today=TODAY, **kw)
        except InputError as err:
            return str(err)

    made, given_ = read(), read(columns=list(zip_longest(*rows)))
    if isinstance(made, str):
        assert made == given_
    else:
        pd.testing.assert_frame_equal(made.transactions, given_.transactions)
        assert (made.columns, made.blank_rows) == (given_.columns, given_.blank_rows)
