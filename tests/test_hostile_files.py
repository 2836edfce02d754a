"""Hostile sales files (issue 15): each is read right or refused with one exact line.

Every file is written to ``tmp_path`` by the test (CSV bytes, openpyxl workbooks, pyarrow
Parquet) and read through the real readers: ``xl_crm.files.read_sales``,
``xl_crm.engines.analyze_path`` and the CLI in-process.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from xl_crm import cli
from xl_crm.core.errors import InputError
from xl_crm.core.values import MAX_AMOUNT
from xl_crm.engines import analyze_path
from xl_crm.files import csv_encoding, read_sales

TODAY = dt.date(2025, 6, 30)
TABLE = "Customer,Date,Amount\nMüller,2025-03-01,12.50\nZoë,2025-03-02,3\n"
CHINESE = "客户,日期,金额\n张三,2025-03-01,12.50\n李四,2025-03-02,3\n"
HEAD = "Customer,Date,Amount\n"
FORMULA = ("holds a formula without a computed value (the file was saved by a program that "
           "does not calculate): open and save it in Excel or LibreOffice first")
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DUCKDB = "duckdb"  # both engines give the same figures and the same messages


def totals(sales) -> dict[str, float]:
    """Net amount per customer, as read."""
    tx = sales.transactions
    return tx.groupby("customer", observed=True)["amount"].sum().to_dict()


def refusal(path: Path) -> str:
    with pytest.raises(InputError) as err:
        read_sales(path, today=TODAY)
    return str(err.value)


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def workbook(path: Path, rows: list[list], epoch=None) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Sales"
    if epoch is not None:
        book.epoch = epoch
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def parquet(path: Path, columns: dict) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table(columns), path)
    return path


# ---- encodings (rule 6) ---------------------------------------------------------------

@pytest.mark.parametrize(("text", "codec", "expected"), [
    (TABLE, "utf-8", "utf-8"),
    (TABLE, "utf-8-sig", "utf-8-sig"),
    (TABLE, "utf-16", "utf-16"),
    (TABLE, "utf-16-le", "utf-16-le"),
    (TABLE, "utf-16-be", "utf-16-be"),
    (TABLE, "cp1252", "cp1252"),
    (CHINESE, "gb18030", "gb18030"),
    (CHINESE, "utf-16-le", "utf-16-le"),
    ("Customer,Date,Amount\nC1,2025-03-01,1\n", "ascii", "utf-8"),
    # a few Western words decode as GB18030 too ('舗gstr鰉'); found by the property test
    ("Customer,Date,Amount\nÅngström,2025-03-01,1\n", "cp1252", "cp1252"),
    ("Customer,Date,Amount\nBjörk,2025-03-01,1\nÉmile,2025-03-01,1\n", "cp1252", "cp1252"),
    ("客户,日期,金额\n堃,2025-03-01,1\n", "gb18030", "gb18030"),  # outside GB2312
    # and a few Chinese names decode as Windows-1252 ('ÁõÑó'); found by the property test
    (("Customer,Date,Amount\r\n刘洋,2000-01-01,0.00\r\n刘洋,2000-01-01,0.00\r\n"
      "C0,2000-01-01,-0.01\r\n"), "gb18030", "gb18030"),
    ("Customer,Date,Amount\n陈明,2025-03-01,1\niPhone手机壳,2025-03-01,1\n", "gb18030",
     "gb18030"),
    # one character after Latin letters at the end of a cell (found by review)
    ("Customer,Date,Amount,Item,Size\n王芳,2025-03-01,59,T恤,L码\n", "gb18030", "gb18030"),
    ("客户,日期,金额,商品\n上海,2025-03-01,1,LED灯\n刘洋,2025-03-01,1,XL码\n", "gb18030",
     "gb18030"),
    # Portuguese pairs of accented letters are GB18030 characters too ('Concei玢o')
    ("Customer,Date,Amount\nConceição,2025-03-01,1\nAÇÃO LDA,2025-03-01,1\n", "cp1252",
     "cp1252"),
])
def test_csv_encoding_strict_rules_first(text, codec, expected):
    assert csv_encoding(text.encode(codec)) == expected


def test_csv_encoding_accepts_a_character_cut_at_the_end_of_the_head():
    assert csv_encoding(CHINESE.encode("utf-8")[:-2] + "张".encode()[:2]) == "utf-8"


@pytest.mark.parametrize(("raw", "message"), [
    (b"\xff\xfe\x00\x00C\x00\x00\x00", "is UTF-32 text; save it as CSV UTF-8"),
    (b"C,D\n\x00\x00\x00x\x81\n", "holds NUL bytes but is not UTF-16 text; save it as CSV UTF-8"),
])
def test_csv_encoding_refuses_in_one_line(raw, message):
    with pytest.raises(InputError) as err:
        csv_encoding(raw)
    assert str(err.value) == message


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                   "cp1252"])
def test_western_csv_reads_its_names_in_every_encoding(tmp_path, codec):
    path = write(tmp_path / "west.csv", TABLE, codec)
    assert totals(read_sales(path, today=TODAY)) == {"Müller": 12.5, "Zoë": 3.0}


@pytest.mark.parametrize("codec", ["utf-8", "gb18030", "utf-16-le"])
def test_chinese_csv_reads_its_names(tmp_path, codec):
    path = write(tmp_path / "zh.csv", CHINESE, codec)
    assert totals(read_sales(path, today=TODAY)) == {"张三": 12.5, "李四": 3.0}


WESTERN = ["Müller", "José Núñez", "François", "Zoë", "Søren Ørsted", "Björk", "Ångström",
           "Œuvre SA", "Café Noël", "Smith", "O'Brien & Co", "Straße 5"]
HANZI = ["张三", "李四", "王五", "赵六", "陈明", "刘洋", "北京贸易有限公司", "上海", "黄小姐"]
REPERTOIRE = {"utf-8": WESTERN + HANZI, "utf-8-sig": WESTERN + HANZI, "utf-16": WESTERN + HANZI,
              "utf-16-le": WESTERN + HANZI, "utf-16-be": WESTERN + HANZI, "cp1252": WESTERN,
              "gb18030": HANZI}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(codec=st.sampled_from(sorted(REPERTOIRE)), delimiter=st.sampled_from([",", ";", "\t"]),
       data=st.data())
def test_any_table_reads_back_in_every_encoding_and_delimiter(tmp_path, codec, delimiter, data):
    n = data.draw(st.integers(1, 12))
    names = data.draw(st.lists(st.sampled_from(REPERTOIRE[codec]) | st.from_regex(
        r"C[0-9]{1,6}", fullmatch=True), min_size=n, max_size=n))
    days = data.draw(st.lists(st.dates(dt.date(1900, 3, 1), TODAY), min_size=n, max_size=n))
    cents = data.draw(st.lists(st.integers(-10**8, 10**8), min_size=n, max_size=n))
    buffer = io.StringIO(newline="")
    out = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    out.writerow(["Customer", "Date", "Amount"])
    for name, day, cent in zip(names, days, cents):
        out.writerow([name, day.isoformat(), f"{cent / 100:.2f}"])
    path = write(tmp_path / "random.csv", buffer.getvalue(), codec)
    tx = read_sales(path, today=TODAY).transactions
    assert list(tx["customer"]) == names
    assert list(tx["date"].dt.date) == days
    assert np.allclose(tx["amount"], [c / 100 for c in cents], rtol=0, atol=1e-9)
    assert list(tx["row"]) == list(range(2, n + 2))


# ---- ragged rows and row numbers (rule 3) -----------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    (HEAD + "C1,2025-03-01,5,x\nC2,2025-03-02,6\n",
     "ragged.csv: row 2: has 4 cells but the header has 3"),
    (HEAD + "C1,2025-03-01,5\nC2,2025-03-02,6\nC3,2025-03-02,6,7,8\n",
     "ragged.csv: row 4: has 5 cells but the header has 3"),
    ("Sales 2025\n\n" + HEAD + "C1,2025-03-01,5\n",
     None),
    ("Sales 2025\n\n" + HEAD + 'C1,"2025-03-01",5\nC2,2025-03-02,6,,7\n',
     "ragged.csv: row 5: has 5 cells but the header has 3"),
    (HEAD + '"C1","2025-03-01",5\nC2,"2025-03-02","6\n",7\n',
     "ragged.csv: row 3: has 4 cells but the header has 3"),
])
def test_a_row_with_more_cells_than_the_header_is_named(tmp_path, text, message):
    path = write(tmp_path / "ragged.csv", text)
    if message is None:
        assert totals(read_sales(path, today=TODAY)) == {"C1": 5.0}
    else:
        assert refusal(path) == message


def test_trailing_empty_cells_are_tolerated_and_short_rows_are_blank(tmp_path):
    path = write(tmp_path / "excel.csv", HEAD + "C1,2025-03-01,5,\nC2,2025-03-02,6,,\n")
    sales = read_sales(path, today=TODAY)
    assert totals(sales) == {"C1": 5.0, "C2": 6.0} and list(sales.transactions["row"]) == [2, 3]
    short = write(tmp_path / "short.csv", HEAD + "C1,2025-03-01,5\nC2,2025-03-02\n")
    assert refusal(short) == ("short.csv: Amount (column C) row 3: is empty but the row has "
                              "other data")


def test_rows_are_records_as_excel_shows_them(tmp_path):
    # a quoted line break stays in its cell; blank lines are rows; the title row counts
    text = ('Sales 2025\nCustomer,Name,Date,Amount\nC1,"Anna\nSmith",2025-03-01,5\n\n'
            'C2,Bo,2025-03-02,x\n')
    path = write(tmp_path / "quoted.csv", text)
    assert refusal(path) == "quoted.csv: Amount (column D) row 5: 'x' is not a number"
    path = write(tmp_path / "fine.csv", text.replace(",x\n", ",7\n"))
    sales = read_sales(path, today=TODAY)
    assert list(sales.transactions["row"]) == [3, 5] and sales.blank_rows == (4,)
    assert list(sales.transactions["name"]) == ["Anna\nSmith", "Bo"]


@pytest.mark.parametrize("seed", range(20))
def test_seeded_ragged_files_name_the_first_wide_row(tmp_path, seed):
    rng = random.Random(seed)
    n = rng.randint(1, 40)
    lines = [f"C{i},2025-03-{i % 28 + 1:02d},{i}" for i in range(n)]
    wide = rng.randrange(n)
    extra = rng.randint(1, 3)
    lines[wide] += ",," * (extra - 1) + "," + "z"  # the last extra cell is not blank
    titles = rng.randint(0, 3)
    text = "Report\n" * titles + HEAD + "\n".join(lines) + "\n"
    path = write(tmp_path / "seeded.csv", text)
    cells = 3 + 2 * (extra - 1) + 1
    assert refusal(path) == (f"seeded.csv: row {titles + 2 + wide}: has {cells} cells but the "
                             "header has 3")


# ---- dates (rule 1), amounts (rules 2, 7), ids (rule 4), control characters ---------------

@pytest.mark.parametrize(("cell", "message"), [
    ("3025-03-02", "3025-03-02 is in the future (today is 2025-06-30)"),
    ("0202-03-01", "0202-03-01 is before 1900-01-01, the earliest date accepted"),
    ("1500/1/2", "1500-01-02 is before 1900-01-01, the earliest date accepted"),
    ("1899-12-31", "1899-12-31 is before 1900-01-01, the earliest date accepted"),
    ("2958465", "9999-12-31 is in the future (today is 2025-06-30)"),
    ("2263-01-01", "2263-01-01 is in the future (today is 2025-06-30)"),
    ("25-03-01", "'25-03-01' has a two-digit year; write the year in full (e.g. 2025-03-01)"),
    ("3/1/25", "'3/1/25' has a two-digit year; write the year in full (e.g. 2025-03-01)"),
    ("2025-02-30", "'2025-02-30' is not a real date"),
])
def test_dates_outside_the_range_are_refused_not_wrapped(tmp_path, cell, message):
    path = write(tmp_path / "d.csv", HEAD + f"C0,2025-01-01,1\nC1,{cell},5\n")
    assert refusal(path) == f"d.csv: Date (column B) row 3: {message}"


@pytest.mark.parametrize(("cell", "message"), [
    ("1e308", "'1e308' is too large: amounts must be below 1,000,000,000,000"),
    ("-1000000000000", "'-1000000000000' is too large: amounts must be below 1,000,000,000,000"),
    ("1e400", "'1e400' is not a finite number"),
])
def test_too_large_amounts_are_refused(tmp_path, cell, message):
    path = write(tmp_path / "a.csv", HEAD + f"C1,2025-03-01,{cell}\n")
    assert refusal(path) == f"a.csv: Amount (column C) row 2: {message}"
    assert MAX_AMOUNT == 1e12


def test_returns_text_formulas_and_largest_amount_read_as_written(tmp_path):
    text = HEAD + ('C1,2025-03-01,5\nC1,2025-03-02,-2\n"=HYPERLINK(""x"")",2025-03-01,'
                   '999999999999.99\n')
    sales = read_sales(write(tmp_path / "t.csv", text), today=TODAY)
    assert totals(sales) == {"C1": 3.0, '=HYPERLINK("x")': 999999999999.99}


@pytest.mark.parametrize(("cell", "code"), [("C\x071", "0007"), ("C\x001", "0000"),
                                           ("C\x1b[31m", "001B")])
def test_control_characters_in_ids_are_refused(tmp_path, cell, code):
    path = write(tmp_path / "c.csv", HEAD + f"C0,2025-03-01,1\n{cell},2025-03-01,5\n")
    assert refusal(path) == (f"c.csv: Customer (column A) row 3: {cell!r} holds a control "
                             f"character (U+{code}); ids must be plain text")


def test_control_characters_in_names_are_kept(tmp_path):
    path = write(tmp_path / "n.csv", "Customer,Name,Date,Amount\nC1,A\x07b,2025-03-01,5\n")
    assert list(read_sales(path, today=TODAY).transactions["name"]) == ["A\x07b"]


def test_header_misses_and_duplicates_say_how_to_name_columns(tmp_path):
    path = write(tmp_path / "h.csv", "Kunde,Datum,Wert\nC1,2025-03-01,5\n")
    assert refusal(path) == (
        "h.csv: no header row found in the first 30 rows: no column for customer, date, amount "
        "among the headers ['Kunde', 'Datum', 'Wert']; rename a header (e.g. customer, date, "
        "amount) or name the column with --columns customer=HEADER,date=HEADER,amount=HEADER "
        "(in the workbook: a columns row in Settings)")
    path = write(tmp_path / "dup.csv", "Customer,Customer,Date,Amount\nC1,C1,2025-03-01,5\n")
    assert refusal(path) == (
        "dup.csv: no header row found in the first 30 rows: 'Customer' (column A) and "
        "'Customer' (column B) could both be the customer column; keep one or name the column "
        "with --columns customer=HEADER (in the workbook: a columns row in Settings)")


# ---- workbooks ------------------------------------------------------------------------

H = ["Customer", "Date", "Amount"]
D = dt.date(2025, 3, 1)


@pytest.mark.parametrize(("rows", "where"), [
    ([H, ["C1", D, 5], ["=A2", "=B2", "=C2*2"]], "column A row 3"),  # vanished before
    ([H, ["C1", D, 5], ["C2", D, "=C2*2"]], "column C row 3"),  # "is empty" before
    ([["=TODAY()"], H, ["C1", D, 5]], "column A row 1"),
])
def test_formulas_without_computed_values_are_refused(tmp_path, rows, where):
    path = workbook(tmp_path / "f.xlsx", rows)
    assert refusal(path) == f"f.xlsx [Sales]: {where}: {FORMULA}"


def _rewrite_sheet(path: Path, old: bytes, new: bytes) -> Path:
    """The workbook with a piece of its sheet XML replaced (as Excel would have saved it)."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    if old not in parts[sheet]:  # openpyxl writing through lxml: <v></v> for <v />
        old = old.replace(b"<v />", b"<v></v>")
    assert old in parts[sheet]
    parts[sheet] = parts[sheet].replace(old, new)
    with zipfile.ZipFile(path, "w") as out:
        for name, data in parts.items():
            out.writestr(name, data)
    return path


def test_formulas_with_stored_values_are_read_as_excel_saved_them(tmp_path):
    rows = [H + ["Name"], ["C1", D, 5, "a"], ["C2", D, "=C2*2", '=IF(1,"","")']]
    path = workbook(tmp_path / "excel.xlsx", rows)
    path = _rewrite_sheet(path, b"<f>C2*2</f><v /></c>", b"<f>C2*2</f><v>10</v></c>")
    path = _rewrite_sheet(path, b'<c r="D3"><f>IF(1,"","")</f><v /></c>',
                          b'<c r="D3" t="str"><f>IF(1,"","")</f><v></v></c>')
    sales = read_sales(path, today=TODAY)
    assert totals(sales) == {"C1": 5.0, "C2": 10.0}
    assert list(sales.transactions["name"]) == ["a", ""]


def test_workbook_values_dates_and_decimals(tmp_path):
    rows = [H, ["C1", dt.datetime(2025, 3, 1, 13, 5), Decimal("12.50")], [1001, D, 2],
            [1.0e18, D, 1], ["C1", 45717, -2.5]]
    sales = read_sales(workbook(tmp_path / "v.xlsx", rows), today=TODAY)
    assert totals(sales) == {"C1": 10.0, "1001": 2.0, "1000000000000000000": 1.0}
    assert set(sales.transactions["date"].dt.date) == {D}


def test_a_1904_workbook_reads_its_serials_in_its_own_system(tmp_path):
    # a serial typed as text too (the 1900 system would read it four years off); a
    # compact date (20250301) is no serial
    rows = [H, ["C1", D, 5], ["C2", 45717 - 1462, 6], ["C3", f" {45717 - 1462} ", 7],
            ["C4", "20250301", 8], ["C5", "４４２５５", 9]]  # full-width digits too
    sales = read_sales(workbook(tmp_path / "mac.xlsx", rows, CALENDAR_MAC_1904), today=TODAY)
    assert list(sales.transactions["date"].dt.date) == [D, D, D, dt.date(2025, 3, 1), D]


def test_a_workbook_date_before_1900_is_refused(tmp_path):
    path = workbook(tmp_path / "y.xlsx", [H, ["C1", dt.datetime(202, 3, 1), 5]])
    assert refusal(path) == ("y.xlsx [Sales]: Date (column B) row 2: 0202-03-01 is before "
                             "1900-01-01, the earliest date accepted")


@pytest.mark.parametrize(("data", "message"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
     "x.xlsx is password-protected (or an old .xls): save it without a password as .xlsx"),
    (b"Customer,Date,Amount\n",
     ("x.xlsx is not an .xlsx workbook (another kind of file renamed?): save it from Excel as "
     ".xlsx")),
])
def test_encrypted_or_renamed_workbooks_are_named(tmp_path, data, message):
    assert refusal(write(tmp_path / "x.xlsx", data)) == message


# ---- Parquet ---------------------------------------------------------------------------

def _pa():
    return pytest.importorskip("pyarrow")


def test_parquet_64_bit_and_float_ids_keep_every_digit(tmp_path):
    pa = _pa()
    day = pa.array([D] * 3, pa.date32())
    path = parquet(tmp_path / "ids.parquet", {
        "Customer": pa.array([2**53, 2**53 + 1, 12345678901234567891], pa.uint64()),
        "Date": day, "Amount": pa.array([1.0, 2.0, 3.0])})
    assert totals(read_sales(path, today=TODAY)) == {
        "9007199254740992": 1.0, "9007199254740993": 2.0, "12345678901234567891": 3.0}
    path = parquet(tmp_path / "floats.parquet", {
        "Customer": pa.array([1.2345678901234567e18, 0.5, 3.0]), "Date": day,
        "Amount": pa.array([1.0, 2.0, 3.0])})
    assert totals(read_sales(path, today=TODAY)) == {"1234567890123456768": 1.0, "0.5": 2.0,
                                                      "3": 3.0}


def test_parquet_decimal_amounts_and_ids_are_numbers(tmp_path):
    pa = _pa()
    path = parquet(tmp_path / "dec.parquet", {
        "Customer": pa.array([Decimal(1001), Decimal("1001.50"), Decimal("1001.00")],
                             pa.decimal128(10, 2)),
        "Date": pa.array([D] * 3, pa.date32()),
        "Amount": pa.array([Decimal("12.50"), Decimal("0.10"), Decimal("-0.20")],
                           pa.decimal128(12, 2)),
        "Cost": pa.array([Decimal("1.25"), Decimal(0), Decimal(0)], pa.decimal128(12, 2))})
    sales = read_sales(path, today=TODAY)
    assert totals(sales) == {"1001": 12.3, "1001.5": 0.1}
    assert list(sales.transactions["cost"]) == [1.25, 0.0, 0.0]


@pytest.mark.parametrize(("kind", "value", "message"), [
    ("date32", dt.date(3025, 3, 2), "3025-03-02 is in the future (today is 2025-06-30)"),
    ("date32", dt.date(202, 3, 1), "0202-03-01 is before 1900-01-01, the earliest date accepted"),
    ("ms", dt.datetime(3025, 3, 1), "3025-03-01 is in the future (today is 2025-06-30)"),
    ("us", dt.datetime(202, 3, 1), "0202-03-01 is before 1900-01-01, the earliest date accepted"),
])
def test_parquet_dates_outside_the_range_are_refused(tmp_path, kind, value, message):
    pa = _pa()
    kinds = {"date32": pa.date32(), "ms": pa.timestamp("ms"), "us": pa.timestamp("us")}
    path = parquet(tmp_path / "dates.parquet", {
        "Customer": pa.array(["a", "b"]),
        "Date": pa.array([D if kind == "date32" else dt.datetime(2025, 3, 1), value], kinds[kind]),
        "Amount": pa.array([1.0, 2.0])})
    assert refusal(path) == f"dates.parquet: Date (column B) row 3: {message}"


TZ_SCRIPT = """
import datetime as dt, sys, time, os
time.tzset()
from xl_crm.files import read_sales
tx = read_sales(sys.argv[1], today=dt.date(2025, 6, 30)).transactions
print(",".join(d.isoformat() for d in tx["date"].dt.date))
"""


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"])
def test_zoned_timestamps_give_their_own_calendar_date_whatever_tz(tmp_path, tz):
    pa = _pa()
    utc = dt.UTC
    stamps = [dt.datetime(2025, 3, 1, 15, 30, tzinfo=utc),
              dt.datetime(2025, 3, 1, 14, 0, tzinfo=utc)]
    path = parquet(tmp_path / "tz.parquet", {
        "Customer": pa.array(["a", "b"]),
        "Date": pa.array(stamps, pa.timestamp("us", tz="Asia/Tokyo")),  # 00:30 and 23:00
        "Amount": pa.array([1.0, 2.0])})
    env = dict(os.environ, TZ=tz)
    done = subprocess.run([sys.executable, "-c", TZ_SCRIPT, str(path)], env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "2025-03-02,2025-03-01"
    assert time.tzname  # the test process itself keeps its zone


# ---- the whole path: analyze_path and the CLI --------------------------------------------

@pytest.mark.parametrize("engine", ["pandas", DUCKDB])
def test_analyze_path_gives_hand_computed_totals_for_awkward_csvs(tmp_path, engine):
    text = (HEAD + "Müller,2025-03-01,12.50\nMüller,2025-03-02,-2.50\nZoë,2025-03-02,3,\n"
            "\n9007199254740993,2025-03-03,1\n9007199254740992,2025-03-03,4\n")
    path = write(tmp_path / "awkward.csv", text, "cp1252")
    customers = analyze_path(path, engine=engine, today=TODAY).customers.set_index("customer")
    assert customers["net_sales"].to_dict() == {"Müller": 10.0, "Zoë": 3.0,
                                                "9007199254740993": 1.0,
                                                "9007199254740992": 4.0}


@pytest.mark.parametrize("engine", ["pandas", DUCKDB])
@pytest.mark.parametrize(("text", "message"), [
    (HEAD + "C1,2025-03-01,5,x\nC2,2025-03-02,6\n",
     "e.csv: row 2: has 4 cells but the header has 3"),
    (HEAD + "C1,3025-03-02,5\n",
     "e.csv: Date (column B) row 2: 3025-03-02 is in the future (today is 2025-06-30)"),
    (HEAD + "C1,0202-03-01,5\n",
     "e.csv: Date (column B) row 2: 0202-03-01 is before 1900-01-01, the earliest date accepted"),
    (HEAD + "C1,2025-03-01,1e308\n",
     ("e.csv: Amount (column C) row 2: '1e308' is too large: amounts must be below "
     "1,000,000,000,000")),
])
def test_analyze_path_refuses_in_one_line(tmp_path, engine, text, message):
    path = write(tmp_path / "e.csv", text)
    with pytest.raises(InputError) as err:
        analyze_path(path, engine=engine, today=TODAY)
    assert str(err.value) == message


def hostile_files(tmp_path: Path) -> dict[str, tuple[Path, int]]:
    """One file of every hostile class, with the exit status the CLI must give."""
    d = dt.date.today().isoformat()
    files = {
        "ragged-first": (write(tmp_path / "r1.csv", HEAD + "C1,2025-03-01,5,x\n"), 1),
        "ragged-later": (write(tmp_path / "r2.csv",
                               HEAD + "C1,2025-03-01,5\nC2,2025-03-01,1,2\n"), 1),
        "trailing-empty": (write(tmp_path / "r3.csv", HEAD + "C1,2025-03-01,5,\n"), 0),
        "quoted-newline": (write(tmp_path / "q.csv", "Customer,Name,Date,Amount\n"
                                 'C1,"A\nB",2025-03-01,5\n'), 0),
        "cp1252": (write(tmp_path / "w.csv", TABLE, "cp1252"), 0),
        "gb18030": (write(tmp_path / "z.csv", CHINESE, "gb18030"), 0),
        "utf16-nobom": (write(tmp_path / "u.csv", TABLE, "utf-16-le"), 0),
        "utf32": (write(tmp_path / "u32.csv", TABLE, "utf-32"), 1),
        "year-3025": (write(tmp_path / "y1.csv", HEAD + "C1,3025-03-02,5\n"), 1),
        "year-202": (write(tmp_path / "y2.csv", HEAD + "C1,0202-03-01,5\n"), 1),
        "two-digit-year": (write(tmp_path / "y3.csv", HEAD + "C1,25-03-01,5\n"), 1),
        "huge": (write(tmp_path / "a1.csv", HEAD + "C1,2025-03-01,1e308\n"), 1),
        "bel-id": (write(tmp_path / "c1.csv", HEAD + "C\x071,2025-03-01,5\n"), 1),
        "bel-name": (write(tmp_path / "c2.csv", "Customer,Name,Date,Amount\n"
                           f"C1,A\x07\x1b\x00B,{d},5\n"), 0),
        "formula-text": (write(tmp_path / "h.csv", HEAD + '"=HYPERLINK(""x"")",2025-03-01,5\n'), 0),
        "no-header": (write(tmp_path / "k.csv", "Kunde,Datum,Wert\nC1,2025-03-01,5\n"), 1),
        "duplicate-header": (write(tmp_path / "dh.csv", "Customer,Customer,Date,Amount\n"), 1),
        "blank-rows": (write(tmp_path / "b.csv", HEAD + "\n,,\nC1,2025-03-01,5\n\n"), 0),
        "formulas": (workbook(tmp_path / "f.xlsx", [H, ["C1", D, 5], ["=A2", "=B2", "=C2"]]), 1),
        "encrypted": (write(tmp_path / "p.xlsx", OLE + bytes(504)), 1),
        "renamed-csv": (write(tmp_path / "n.xlsx", TABLE), 1),
        "mac-1904": (workbook(tmp_path / "m.xlsx", [H, ["C1", 44255, 5]], CALENDAR_MAC_1904), 0),
    }
    try:
        import pyarrow as pa
    except ImportError:
        return files
    day = pa.array([D], pa.date32())
    files["parquet-decimal"] = (parquet(tmp_path / "dec.parquet", {
        "Customer": pa.array([1], pa.int64()), "Date": day,
        "Amount": pa.array([Decimal("12.50")], pa.decimal128(10, 2))}), 0)
    files["parquet-3025"] = (parquet(tmp_path / "p3.parquet", {
        "Customer": pa.array(["a"]), "Date": pa.array([dt.date(3025, 1, 1)], pa.date32()),
        "Amount": pa.array([1.0])}), 1)
    files["parquet-uint64"] = (parquet(tmp_path / "big.parquet", {
        "Customer": pa.array([2**64 - 1], pa.uint64()), "Date": day,
        "Amount": pa.array([1.0])}), 0)
    return files


def test_the_cli_never_shows_a_traceback_for_a_hostile_file(tmp_path, capsys):
    for label, (path, status) in hostile_files(tmp_path).items():
        code = cli.main(["analyze", str(path)])
        _, err = capsys.readouterr()
        assert "unexpected error" not in err and "Traceback" not in err, (label, err)
        assert code == status, (label, code, err)
        if status:
            assert err.count("\n") == 1 and err.startswith("xl-crm: "), (label, err)
