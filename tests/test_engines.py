"""The DuckDB engine gives the pandas engine's results on the same data."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import pytest

from workbooks.generate_sample import generate_transactions
from xl_crm.core import facts as facts_module
from xl_crm.core.analysis import Options
from xl_crm.core.errors import InputError
from xl_crm.core.facts import customer_facts, fact_columns
from xl_crm.duck import read_facts
from xl_crm.duck.source import one_row_group
from xl_crm.engines import analyze_path
from xl_crm.files import read_sales

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    # 800 customers of the sample model: returns, return-only customers (no purchase),
    # many ties (one-time buyers, equal amounts), several lines per order
    path = tmp_path_factory.mktemp("engines") / "sales.csv"
    generate_transactions(n_customers=800).to_csv(path, index=False)
    return path


def assert_same_facts(a, b):
    a, b = a.sort_index(), b.sort_index()
    assert list(a.index) == list(b.index)
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        x, y = a[col], b[col]
        if x.dtype == object or isinstance(x.dtype, pd.CategoricalDtype) \
                or pd.api.types.is_string_dtype(x.dtype):
            assert x.astype(str).tolist() == y.astype(str).tolist(), col
        elif pd.api.types.is_datetime64_any_dtype(x.dtype):
            assert (x.isna() == y.isna()).all() and (x.dropna() == y.dropna()).all(), col
        else:
            assert np.allclose(x.astype(float), y.astype(float), rtol=0, atol=1e-6,
                               equal_nan=True), col


def by_engine(path, *columns):
    """Each engine's customers as sorted (customer, *columns) tuples."""
    out = {}
    for engine in ("pandas", "duckdb"):
        c = analyze_path(path, engine=engine, today=TODAY).customers
        out[engine] = sorted(zip(c["customer"], *(c[col] for col in columns)))
    return out


def test_facts_are_equal(csv_file):
    pandas_facts = customer_facts(read_sales(csv_file, today=TODAY).transactions)
    duck_facts, basis, source = read_facts(csv_file, today=TODAY)
    assert basis == "profit" and source["rows_read"] == len(pd.read_csv(csv_file))
    assert duck_facts.as_of == pandas_facts.as_of and duck_facts.start == pandas_facts.start
    assert_same_facts(pandas_facts.table, duck_facts.table)
    assert (duck_facts.table["frequency"] == 0).sum() == 3  # return-only customers kept


def test_the_previous_periods_facts_are_equal_and_without_labels(csv_file):
    pandas_facts = customer_facts(read_sales(csv_file, today=TODAY).transactions,
                                  compare="month")
    duck_facts = read_facts(csv_file, today=TODAY, compare="month")[0]
    before, after = pandas_facts.previous.table, duck_facts.previous.table
    assert_same_facts(before, after)
    for label in ("name", "region", "rep"):  # the comparison does not read them
        assert (after[label] == "").all()
    assert (duck_facts.table["name"] != "").any()


@pytest.mark.parametrize("costed", [True, False])
def test_both_engines_give_the_declared_fact_columns(csv_file, tmp_path, costed):
    path = csv_file
    if not costed:
        path = tmp_path / "no_cost.csv"
        pd.read_csv(csv_file).drop(columns=["Cost"]).to_csv(path, index=False)
    expected = fact_columns(costed)
    assert list(customer_facts(read_sales(path, today=TODAY).transactions).table) == expected
    assert list(read_facts(path, today=TODAY)[0].table) == expected
    documented = re.findall(r"^(\w+(?:, \w+)*) {2,}\S", facts_module.__doc__, re.MULTILINE)
    documented = {c for line in documented for c in line.split(", ")} - {"column"}
    assert documented == set(facts_module.FACT_COLUMNS)  # the docstring says what each is


@pytest.mark.parametrize("options", [Options(), Options(as_of="2026-06-30", bins=4),
                                     Options(monetary="mean", binning="nested")])
def test_full_analysis_is_equal(csv_file, options):
    a = analyze_path(csv_file, options, "pandas", today=TODAY)
    b = analyze_path(csv_file, options, "duckdb", today=TODAY)
    assert a.log["rows_after_as_of"] == b.log["rows_after_as_of"]
    left, right = a.customers.set_index("customer"), b.customers.set_index("customer")
    assert_same_facts(left, right)
    for key in a.summaries:
        pd.testing.assert_frame_equal(a.summaries[key].reset_index(drop=True),
                                      b.summaries[key].reset_index(drop=True), atol=1e-6)
    assert {g: i.table().round(4).to_dict() for g, i in a.clv.items()} == \
        {g: i.table().round(4).to_dict() for g, i in b.clv.items()}


def test_parquet_with_typed_columns_gives_the_same_facts(csv_file, tmp_path):
    # dates as DATE, amounts as DOUBLE, numeric customer ids as BIGINT (read as text)
    import duckdb

    frame = pd.read_csv(csv_file)
    frame["Date"] = pd.to_datetime(frame["Date"])
    frame["Customer ID"] = frame["Customer ID"].str[1:].astype("int64")
    frame.loc[frame.index[:40], "Customer Name"] = None  # blank labels fall back
    path = tmp_path / "sales.parquet"
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f"COPY frame TO '{path}' (FORMAT PARQUET)")
    groups = tmp_path / "groups.parquet"  # the same lines in row groups of 2,048
    con.execute(f"COPY frame TO '{groups}' (FORMAT PARQUET, ROW_GROUP_SIZE 2048)")
    kinds = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}
    assert one_row_group(con, path) and not one_row_group(con, groups)
    con.close()
    assert kinds["Date"].startswith("TIMESTAMP") and kinds["Customer ID"] == "BIGINT"
    duck, _, _ = read_facts(path, today=TODAY)
    text = tmp_path / "same.csv"
    frame.to_csv(text, index=False)
    assert_same_facts(customer_facts(read_sales(text, today=TODAY).transactions).table,
                      duck.table)
    assert_same_facts(read_facts(groups, today=TODAY)[0].table, duck.table)
    facts = duck.table
    facts.loc[facts.index[0], "monetary"] = -1.0  # each column is its own array
    assert facts["net_sales"].iloc[0] != -1.0


def test_one_row_group_is_typed_by_one_thread_and_every_connection_is_closed(
        tmp_path, monkeypatch):
    import duckdb

    from xl_crm.duck import engine as duck

    frame = generate_transactions(n_customers=400)  # about 4,800 lines
    frame["Date"] = pd.to_datetime(frame["Date"])
    one, groups, bad = (tmp_path / f"{n}.parquet" for n in ("one", "groups", "bad"))
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f"COPY frame TO '{one}' (FORMAT PARQUET)")
    con.execute(f"COPY frame TO '{groups}' (FORMAT PARQUET, ROW_GROUP_SIZE 2048)")
    con.execute(f"COPY (SELECT 'a' AS Customer, DATE '2025-01-02' AS Date, 'x7' AS Amount) "
                f"TO '{bad}' (FORMAT PARQUET)")
    default = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()

    seen, opened = [], []
    real_typed, real_checks, real_connect = duck._typed_table, duck.count_checks, duck._connect

    def threads(con):
        return con.execute("SELECT current_setting('threads')").fetchone()[0]

    def typed(con, *args):
        seen.append(("table", threads(con)))
        return real_typed(con, *args)

    def checks(con, *args):
        seen.append(("checks", threads(con)))
        return real_checks(con, *args)

    def connect(count=None):
        opened.append(real_connect(count))
        return opened[-1]

    monkeypatch.setattr(duck, "_typed_table", typed)
    monkeypatch.setattr(duck, "count_checks", checks)
    monkeypatch.setattr(duck, "_connect", connect)
    for path, count, expected in ((one, 2, [1, 2]), (one, None, [1, default]),
                                  (groups, 2, [2, 2]), (groups, None, [default, default])):
        seen.clear()
        read_facts(path, today=TODAY, threads=count)
        assert seen == [("table", expected[0]), ("checks", expected[1])], (path, count)
    with pytest.raises(InputError, match="'x7' is not a number"):
        read_facts(bad, today=TODAY)
    assert len(opened) == 5
    for con in opened:  # closed after an error too: the typed table is not kept
        with pytest.raises(duckdb.ConnectionException):
            con.execute("SELECT 1")


@pytest.mark.parametrize("customers,amounts,message", [
    (["a", "b", "c"], ["1", "x7", "2"], "Amount (column B) row 3: 'x7' is not a number"),
    (["a", " \u3000", "c"], ["1", "2", "3"], "Customer (column A) row 3: is empty but the row has"),
])
def test_duckdb_names_the_bad_row_of_a_parquet_file(tmp_path, customers, amounts, message):
    # text columns of a Parquet file take the same checks as CSV cells; rows are counted
    # as in the CSV (the header would be row 1)
    import duckdb

    frame = pd.DataFrame({"Customer": customers, "Amount": amounts,
                          "Date": pd.to_datetime(["2025-03-01"] * 3)})
    path = tmp_path / "bad.parquet"
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f"COPY frame TO '{path}' (FORMAT PARQUET)")
    con.close()
    with pytest.raises(InputError, match=re.escape(f"bad.parquet: {message}")):
        read_facts(path, today=TODAY)


def test_duckdb_reads_text_dates_and_numbers_and_names_bad_rows(tmp_path):
    good = tmp_path / "mixed.csv"
    good.write_text("Customer,Date,Amount,Order ID\n"
                    "a,2025/3/1,\"1,200.50\",o1\n"
                    "a,2025年3月2日,10,o2\n"
                    "b,45717,5,o3\n"
                    ",,,\n"
                    "b,20250303,-1,o3\n", encoding="utf-8")
    a = analyze_path(good, engine="pandas", today=TODAY).customers.set_index("customer")
    b = analyze_path(good, engine="duckdb", today=TODAY).customers.set_index("customer")
    assert_same_facts(a[["net_sales", "frequency", "recency"]],
                      b[["net_sales", "frequency", "recency"]])
    assert b.loc["a", "net_sales"] == 1210.5
    _, _, source = read_facts(good, today=TODAY)
    assert source["blank_rows"] == [5]
    bad = tmp_path / "bad.csv"
    bad.write_text("Customer,Date,Amount\na,2025-03-01,1\nb,2025-03-02,twelve\n")
    with pytest.raises(InputError, match=r"Amount \(column C\) row 3: 'twelve' is not a number"):
        read_facts(bad, today=TODAY)
    future = tmp_path / "future.csv"
    future.write_text("Customer,Date,Amount\na,2099-03-01,1\n")
    with pytest.raises(InputError, match=r"Date \(column B\) row 2: 2099-03-01 is in the future"):
        read_facts(future, today=TODAY)


def test_blank_order_ids_are_orders_of_their_own_in_both_engines(tmp_path):
    path = tmp_path / "blank_orders.csv"
    path.write_text("Customer,Date,Amount,Order ID\na,2025-01-01,10,\na,2025-01-02,10,\n"
                    "a,2025-01-03,10,o1\na,2025-01-03,5,o1\nb,2025-01-03,7,o1\n")
    for engine in ("pandas", "duckdb"):
        c = analyze_path(path, engine=engine, today=TODAY).customers.set_index("customer")
        assert c.loc["a", "frequency"] == 3 and c.loc["b", "frequency"] == 1, engine


def test_both_engines_clean_ids_and_read_numeric_looking_columns_alike(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("Customer,Date,Amount,Order ID,Customer Name\n"
                    "C1\t,2025-03-01,10,o1,Fort\n C1,2025-03-02,10,o2,Fort\n"
                    "Cafe\u0301,2025-03-03,5,,a\nCaf\u00e9,2025-03-04,5,,b\n"
                    "1001.0,20250305,1,o9,y\n1001,20250306,2,o9,z\n"
                    "Cafe\u0301s,2025-03-05,1,,Jose\u0301\nCaf\u00e9s,2025-03-04,1,,x\n",
                    encoding="utf-8")
    out = by_engine(path, "frequency", "name", "net_sales")
    assert out["pandas"] == out["duckdb"]
    assert ("C1", 2, "Fort", 20.0) in out["duckdb"]  # tab and space trimmed, "Fort" intact
    assert ("Café", 2, "b", 10.0) in out["duckdb"]  # NFD and NFC are one customer
    assert ("Cafés", 2, "Jos\u00e9", 2.0) in out["duckdb"]  # ASCII at both ends, NFD inside


def test_ids_that_need_cleaning_merge_customers_and_orders_in_both_engines(tmp_path):
    # the DuckDB engine aggregates customer ids as stored, finds these among the
    # aggregated ids, cleans them in its table and aggregates again
    path = tmp_path / "dirty_ids.csv"
    path.write_text("Customer,Date,Amount,Order ID\n"
                    "C1,2025-01-01,10,O1\n C1,2025-01-01,5, O1\nC1 ,2025-01-02,5,O2\n"
                    "C2,2025-01-03,1, \nC2,2025-01-04,1,\u3000\nC3,2025-01-05,2,O1\n"
                    "C3,2025-01-06,2,\"O1\t\"\n张三,2025-01-07,3,单1\n张三,2025-01-07,4,单1\n",
                    encoding="utf-8")
    out = by_engine(path, "frequency", "net_sales")
    assert out["pandas"] == out["duckdb"] == [("C1", 2, 20.0), ("C2", 2, 2.0), ("C3", 1, 4.0),
                                              ("张三", 1, 7.0)]


def test_both_engines_read_numbers_of_every_shape_alike(tmp_path):
    cells = ["12.50", "-3", "+4", ".5", "-.25", "1e3", "2.5E-1", "\"1,200.75\"", " 7 ",
             "0.1", "00012", "1234567.891"]
    path = tmp_path / "numbers.csv"
    path.write_text("Customer,Date,Amount\n" + "".join(
        f"c{i},2025-03-0{1 + i % 9},{cell}\n" for i, cell in enumerate(cells)))
    sums = {}
    for engine in ("pandas", "duckdb"):
        c = analyze_path(path, engine=engine, today=TODAY).customers.set_index("customer")
        sums[engine] = c["net_sales"].sort_index().tolist()
    assert sums["pandas"] == sums["duckdb"]
    assert sorted(sums["duckdb"]) == sorted([12.5, -3, 4, 0.5, -0.25, 1000, 0.25, 1200.75, 7,
                                             0.1, 12, 1234567.891])


@pytest.mark.parametrize("rows,message", [
    ("1001,2025-03-01,1\n,2025-03-02,2\n", "Customer (column A) row 3: is empty"),
    ("a,2025-03-01,1\nb,2025-03-02,nan\n", "Amount (column C) row 3: 'nan' is not a number"),
    ("a,2025-03-01,1\nb,2025-03-02,inf\n", "Amount (column C) row 3: 'inf' is not a number"),
    ("a,2025-03-01,1\nb,2025-13-45,2\n", "Date (column B) row 3: '2025-13-45' is not a real date"),
    ("a,2025-03-01,1\n\u3000\t,2025-03-02,2\n", "Customer (column A) row 3: is empty"),
])
def test_duckdb_refuses_what_pandas_refuses(tmp_path, rows, message):
    path = tmp_path / "bad.csv"
    path.write_text("Customer,Date,Amount\n" + rows)
    said = {}
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError, match=re.escape(message)) as err:
            analyze_path(path, engine=engine, today=TODAY)
        said[engine] = str(err.value)
    assert said["pandas"] == said["duckdb"]


@pytest.mark.parametrize("codec", ["gb18030", "cp1252", "utf-16", "utf-16-le"])
def test_duckdb_reads_the_encodings_pandas_reads_and_leaves_no_copy(tmp_path, codec,
                                                                   monkeypatch):
    """DuckDB reads UTF-8 only: other encodings go through a private UTF-8 copy that is
    removed afterwards, also when the file is then refused."""
    names = "客户甲,客户乙" if codec != "cp1252" else "Müller,Zoë"
    first, second = names.split(",")
    header = "客户编号,日期,销售额" if codec != "cp1252" else "Customer,Date,Amount"
    amount = header.rsplit(",", 1)[1]
    text = f"{header}\r\n{first},2025-03-01,10\r\n{second},2025-03-02,2.5\r\n"
    path = tmp_path / "legacy.csv"
    path.write_bytes(text.encode(codec))
    spare = tmp_path / "tmp"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    results = [analyze_path(path, engine=e, today=TODAY).customers.set_index("customer")
               ["net_sales"].to_dict() for e in ("pandas", "duckdb")]
    assert results[0] == results[1] == {first: 10.0, second: 2.5}
    path.write_bytes((text + f"{first},2025-03-03,x\r\n").encode(codec))
    with pytest.raises(InputError, match=rf"^legacy.csv: {amount} \(column C\) row 4: 'x' "
                                         "is not a number$"):
        read_facts(path, today=TODAY)
    assert list(spare.iterdir()) == []
    bad = tmp_path / "bad.csv"
    bad.write_text("Customer,Date,Amount\na,2025-03-01,x\n")
    with pytest.raises(InputError, match=r"^bad.csv: Amount \(column C\) row 2: 'x' is not a number"):
        read_facts(bad, today=TODAY)


def test_duckdb_error_about_a_long_malformed_line_stays_short(tmp_path):
    # past the lines DuckDB samples, a line with one cell too many that holds 100,000
    # characters: DuckDB's error quotes the whole line
    odd = tmp_path / "odd.csv"
    good = "".join(f"C{i % 97},2025-03-01,10\n" for i in range(30_000))
    odd.write_text("Customer,Date,Amount\n" + good + "C2,2025-03-02,5," + "x" * 100_000 + "\n")
    with pytest.raises(InputError, match=r"^odd.csv: row 30002: "
                       "has 4 cells but the header has 3$") as err:
        read_facts(odd, today=TODAY)
    assert len(str(err.value)) < 200


def test_duckdb_takes_the_header_from_the_first_line(tmp_path):
    # a malformed line must not make the dialect detection skip the lines above it
    odd = tmp_path / "odd.csv"
    odd.write_text("Customer,Date,Amount\nC1,2025-03-01,10\nC2,2025-03-02,5,x\n")
    with pytest.raises(InputError, match=r"^odd.csv: row 3: has 4 cells "
                       "but the header has 3$"):
        read_facts(odd, today=TODAY)
    quote = tmp_path / "quote.csv"
    quote.write_text('Customer,Date,Amount\nC1,"2025-03-01,10\n')
    # an unterminated quote runs to the end of the file, as Python's csv (and so the
    # pandas engine) reads it: DuckDB reads a copy written that way
    said = []
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError) as err:
            analyze_path(quote, engine=engine, today=TODAY)
        said.append(str(err.value))
    assert said[0] == said[1] == ("quote.csv: Date (column B) row 2: '2025-03-01,10\\n' is not "
                                  "a date (use e.g. 2025-03-01, 2025/3/1 or 2025年3月1日)")
    for text, message in [("", "^empty.csv is empty$"),
                          ("\nCustomer,Date,Amount\nC1,2025-03-01,10\n",
                           "^empty.csv: the first line is empty; the DuckDB engine takes")]:
        (tmp_path / "empty.csv").write_text(text)
        with pytest.raises(InputError, match=message):
            read_facts(tmp_path / "empty.csv", today=TODAY)


def test_both_engines_read_semicolons_tabs_bom_crlf_and_a_long_quoted_header(tmp_path):
    rows = [["Customer", "Date", "Amount", "Note"], ["C1", "2025-03-01", "10", "a,b"],
            ["C2", "2025-03-02", "1,234.5", "c"], ["C1", "2025-03-02", "-2", ""]]
    long_header = "Note " + "x" * 70_000
    for delimiter in (",", ";", "\t"):
        path = tmp_path / f"d{ord(delimiter)}.csv"
        lines = [delimiter.join(f'"{c}"' if delimiter in c else c for c in row) for row in rows]
        lines[0] = lines[0].replace("Note", f'"{long_header}\nsecond line"')
        path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
        facts, _, source = read_facts(path, today=TODAY)
        assert list(facts.table["net_sales"]) == [1234.5, 8.0]
        assert source["rows_read"] == 3 and source["columns"]["amount"] == "Amount"
        both = by_engine(path, "net_sales", "frequency")
        assert both["pandas"] == both["duckdb"] == [("C1", 8.0, 1), ("C2", 1234.5, 1)]


@pytest.mark.parametrize("options,message", [
    (Options(monetary="avg"), "monetary must be"),
    (Options(migration_period_days=0), "migration_period_days must be"),
    (Options(current_days=-1), "current_days must be"),
])
def test_unusable_options_are_refused_by_both_engines(csv_file, options, message):
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError, match=message):
            analyze_path(csv_file, options, engine, today=TODAY)


def test_both_engines_take_the_last_label_of_the_latest_day_and_trim_unicode_space(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("Customer,Date,Amount,Order ID,Customer Name,Region\n"
                    "C1,2025-03-01,10,o1,Zed,North\n"
                    "C1,2025-03-02,10,o2,Bob ,\n"
                    "C1\u3000,2025-03-02,.5,o2,  ,East\u00a0\n"   # blank name: skipped
                    "C2,\t2025-03-02 ,1.0,o3,\u3000Ann,West\n"
                    "C2,2025-03-01,5,o4,Zoe,South\n", encoding="utf-8")
    out = by_engine(path, "frequency", "name", "region", "net_sales")
    assert out["pandas"] == out["duckdb"] == [("C1", 2, "Bob", "East", 20.5),
                                              ("C2", 2, "Ann", "West", 6.0)]


@pytest.mark.parametrize("amount", ["1_000", "+-1", "0x10", "Infinity", "1.e5", "1."])
def test_duckdb_refuses_numbers_only_duckdb_would_read(tmp_path, amount):
    path = tmp_path / "odd.csv"
    path.write_text(f"Customer,Date,Amount\na,2025-03-01,1\nb,2025-03-02,{amount}\n")
    with pytest.raises(InputError, match=re.escape(f"Amount (column C) row 3: '{amount}' is not a")):
        read_facts(path, today=TODAY)


def test_customer_table_is_the_users_to_change(csv_file):
    for engine in ("pandas", "duckdb"):  # DuckDB's facts arrive ranked: no reordering copy
        c = analyze_path(csv_file, engine=engine, today=TODAY).customers
        for col in c.columns:
            c.loc[0, col] = c[col].iloc[1]  # raises if a column is a read-only view
        assert c.iloc[0].tolist() == c.iloc[1].tolist()
        # text, whatever the input's order (dtype str on pandas 3, object of str on 2.2)
        assert pd.api.types.is_string_dtype(c["customer"]), engine


def test_lines_after_the_analysis_date_are_counted_alike(tmp_path):
    # a return dated after the last purchase: the default analysis date leaves it out
    path = tmp_path / "late.csv"
    path.write_text("Customer,Date,Amount\nC1,2025-03-01,10\nC2,2025-03-03,5\n"
                    "C1,2025-03-05,-4\nC2,2025-02-01,1\n")
    for options, late, first in [(Options(), 1, [4]), (Options(as_of="2025-03-02"), 2, [3, 4]),
                                 (Options(as_of="2025-03-09"), 0, [])]:
        logs = [analyze_path(path, options, engine=e, today=TODAY).log
                for e in ("pandas", "duckdb")]
        for log in logs:
            assert log["rows_after_as_of"] == late and log["rows_after_as_of_first"] == first
        assert logs[0]["as_of"] == logs[1]["as_of"] and \
            logs[0]["first_date"] == logs[1]["first_date"] == "2025-02-01"


def test_duckdb_reads_the_first_line_of_any_length_and_names_what_it_cannot(tmp_path):
    # Excel's CSV UTF-8: a BOM, then Chinese text; whichever byte of a character the
    # 256 KB read of the head cuts at, the file is UTF-8
    for pad in range(3):
        path = tmp_path / f"bom{pad}.csv"
        path.write_bytes(("\ufeff客户编号,日期,销售额,备注" + "x" * pad + "\n张三,2025-03-01,10,"
                          + "注" * 100_000 + "\n李四,2025-03-02,5,\n").encode())
        assert read_facts(path, today=TODAY)[2]["rows_read"] == 2
    huge = tmp_path / "huge.csv"
    huge.write_text('Customer,Date,"Amount' + "x" * 140_000 + '"\nC1,2025-03-01,1\n')
    with pytest.raises(InputError, match="^huge.csv: the first line is not a header row"):
        read_facts(huge, today=TODAY)
    with pytest.raises(InputError, match="^huge.csv: not a readable CSV table"):
        analyze_path(huge, today=TODAY)
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"Customer,Date,Amount\r\nC1,2025-03-01,1\nC2,2025-03-02,2\r\n")
    try:  # DuckDB 1.1 reads mixed line ends right; later versions refuse them
        assert read_facts(mixed, today=TODAY)[0].table["lp_value"].to_dict() == {"C2": 2,
                                                                                 "C1": 1}
    except InputError as err:
        assert re.match(r"mixed.csv: DuckDB cannot parse it with the dialect of its first "
                        r"line: do all lines end alike", str(err)), err
    assert analyze_path(mixed, today=TODAY).log["rows_read"] == 2  # pandas reads it


PARQUET_CASES = {
    "64-bit ids": {"Customer": ("uint64", [2**53, 2**53 + 1]), "Amount": ("float64", [1, 2])},
    "float ids": {"Customer": ("float64", [1.2345678901234567e18, 3.5]),
                  "Amount": ("float64", [1, 2])},
    "DECIMAL amounts": {"Customer": ("string", ["a", "b"]),
                        "Amount": ("decimal", ["12.50", "0.10"])},
}


@pytest.mark.parametrize("case", sorted(PARQUET_CASES))
def test_typed_parquet_columns_read_alike_by_both_engines(tmp_path, case):
    """Ids never go through a float (2^53 and 2^53 + 1 stay two customers), an integral
    float id is the integer text of its exact value, DECIMAL amounts are read exactly."""
    import decimal

    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    types = {"uint64": pa.uint64(), "float64": pa.float64(), "string": pa.string(),
             "decimal": pa.decimal128(18, 2)}
    columns = {}
    for name, (kind, values) in PARQUET_CASES[case].items():
        if kind == "decimal":
            values = [decimal.Decimal(v) for v in values]
        columns[name] = pa.array(values, types[kind])
    columns["Date"] = pa.array([dt.date(2025, 3, 1), dt.date(2025, 3, 2)])
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table(columns), path)
    got = {e: analyze_path(path, engine=e, today=TODAY).customers.set_index("customer")
           ["net_sales"].to_dict() for e in ("pandas", "duckdb")}
    expected = {"64-bit ids": {"9007199254740992": 1.0, "9007199254740993": 2.0},
                "float ids": {"1234567890123456768": 1.0, "3.5": 2.0},
                "DECIMAL amounts": {"a": 12.5, "b": 0.1}}[case]
    assert got["pandas"] == got["duckdb"] == expected


ZONED = """
import datetime as dt, sys
from xl_crm.engines import analyze_path
for engine in ("pandas", "duckdb"):
    c = analyze_path(sys.argv[1], engine=engine, today=dt.date(2025, 6, 30)).customers
    print(engine, sorted(zip(c["customer"], c["last_purchase"].dt.date.astype(str))))
"""


def test_zoned_timestamps_are_the_columns_own_dates_whatever_tz(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    utc = dt.UTC
    stamps = [dt.datetime(2025, 3, 1, 15, 30, tzinfo=utc),  # 00:30 on 2 March in Tokyo
              dt.datetime(2025, 3, 1, 14, 0, tzinfo=utc)]  # 23:00 on 1 March in Tokyo
    path = tmp_path / "zoned.parquet"
    pq.write_table(pa.table({"Customer": ["a", "b"], "Amount": [1.0, 2.0],
                             "Date": pa.array(stamps, pa.timestamp("us", tz="Asia/Tokyo"))}),
                   path)
    expected = "[('a', '2025-03-02'), ('b', '2025-03-01')]"
    for tz in ("UTC", "America/Los_Angeles", "Asia/Tokyo"):
        done = subprocess.run([sys.executable, "-c", ZONED, str(path)], check=True,
                              capture_output=True, text=True, env=dict(os.environ, TZ=tz))
        assert done.stdout.split("\n")[:2] == [f"pandas {expected}", f"duckdb {expected}"], tz


def test_c1_control_characters_at_the_ends_of_an_id_are_white_space_in_both_engines(tmp_path):
    """NEL (U+0085) and U+001C..U+001F are white space to str.strip(): trimmed from the
    ends of an id, as the pandas engine trims them (DuckDB once refused "b\\x85" and,
    before that, crashed on it); inside an id they are refused by both engines."""
    path = tmp_path / "nel.csv"
    path.write_text("Customer,Date,Amount\nb\x85,2025-03-01,5\n\x1cb,2025-03-02,1\n",
                    encoding="utf-8")
    assert by_engine(path, "net_sales") == {"pandas": [("b", 6.0)], "duckdb": [("b", 6.0)]}
    path.write_text("Customer,Date,Amount\nb,2025-03-01,5\nb\x85c,2025-03-02,1\n",
                    encoding="utf-8")
    for engine in ("pandas", "duckdb"):
        with pytest.raises(InputError) as err:
            analyze_path(path, engine=engine, today=TODAY)
        assert str(err.value) == ("nel.csv: Customer (column A) row 3: 'b\\x85c' holds a "
                                  "control character (U+0085); ids must be plain text")


def outcome(path, engine):
    """What a user gets from an engine: each customer's (id, net sales, last purchase),
    the rows read and the blank rows listed, or the error message."""
    try:
        a = analyze_path(path, engine=engine, today=TODAY)
    except InputError as err:
        return str(err)
    c = a.customers
    return (sorted(zip(c["customer"], c["net_sales"], c["last_purchase"].astype(str))),
            a.log["rows_read"], list(a.log["blank_rows"]))


H = "Customer,Date,Amount\n"
AWKWARD_CSV = {  # issue 15's awkward files: the DuckDB engine reads or refuses them as
    # the pandas engine does, word for word
    "serial above 9999-12-31": H + "a,3000000,5\n",
    "serial fraction below 1": H + "a,0.5,5\n",
    "serial 60 (1900-02-29)": H + "a,60,5\n",
    "serial 59": H + "a,59,5\n",
    "two-digit year": H + "a,25-03-01,5\n",
    "two-digit year last": H + "a,3/1/25,5\n",
    "year 25": H + "a,0025-03-01,5\n",
    "day first": H + "a,13/03/2025,5\nb,03.04.2025 10:00,6\nc,2025-01-01,1\n",
    "month first": H + "a,03/14/2025,5\nb,03/04/2025,6\n",
    "day and month first": H + "a,13/03/2025,5\nb,03/14/2025,5\n",
    "undecided order": H + "a,03/04/2025,5\n",
    "no such day": H + "a,13/03/2025,5\nb,31/02/2025,6\n",
    "not a date": H + "a,abc,5\n",
    "two extra cells": H + "a,2025-03-01,5\nb,2025-03-01,5,x,y\n",
    "empty extra cells": H + "a,2025-03-01,5,,\nb,2025-03-02,6\n",
    "a short row": "Customer,Date,Amount,Cost\na,2025-03-01,5,1\nb,2025-03-01,5\n",
    "a row without its amount": H + "a,2025-03-01,5\nb,2025-03-01\n",
    "a short row after a line break in a cell":
        'Customer,Date,Amount,Name\na,2025-03-01,5,"x\ny"\nb,2025-03-02,6\n',
    "1e309": H + "a,2025-03-01,1e309\n",
    "decimal comma": H + 'a,2025-03-01,"1.234,50"\n',
    "NUL in an order id": "Customer,Date,Amount,Order ID\na,2025-03-01,5,o\x001\n",
    "BEL in an order id": "Customer,Date,Amount,Order ID\na,2025-03-01,5,o\x071\n",
    "mixed line ends": "Customer,Date,Amount\r\na,2025-03-01,5\nb,2025-03-02,6\r\n",
    "mixed line ends in a quoted cell":
        'Customer,Date,Amount,Name\r\na,2025-03-01,5,"x\r\ny"\nb,2025-03-02,6,z\r\n',
    "empty lines": H + "a,2025-03-01,5\n\nb,2025-03-02,6\n,,\n",
    "a bad cell after an empty line": H + "a,2025-03-01,5\n\nb,2025-03-02,x\n",
    "a bad cell after a line break in a cell":
        'Customer,Date,Amount,Name\na,2025-03-01,5,"x\ny"\n\nb,2025-03-02,x,z\n',
    "text dates with an offset": H + "a,2025-03-01T23:30:00+05:30,5\nb,2025-03-01 01:00Z,1\n",
    "day first with an offset": H + "a,13/03/2025 23:30+05:30,5\nb,01/03/2025,1\n",
    # DuckDB before 2.0 casts a date followed by anything to that date
    "text after a date": H + "a,2025-03-01,5\nb,2025-03-01x,6\n",
    "an era after a date": H + "a,2025-03-01 BC,5\n",
    "text after a date and time": H + "a,2025-03-01 12:00 x,5\n",
    "text after a slashed date": H + "a,2025/03/01x,5\n",
    "text after a one-digit day": H + "a,2025-03-1x,5\n",
    # dates at midnight, as databases export them (DuckDB's fast path), and near misses
    "midnight timestamps": H + "a,2025-03-01 00:00:00,5\nb,2025-03-02 00:00:00,6\n",
    "a time after midnight": H + "a,2025-03-01 00:00:01,5\nb,2025-03-02 23:59:59,6\n",
    "midnight with text after it": H + "a,2025-03-01 00:00:00x,5\n",
    "midnight with a one-digit day": H + "a,2025-03-1 00:00:00,5\n",
    # an Excel export's error cells (#N/A of a failed lookup) are no ids; a sign inside
    # accounting parentheses, a thousands group after 0 and an hour 25 are typos
    "a cell error as a customer id": H + "a,2025-03-01,5\n #n/a ,2025-03-02,6\nb,2025-03-02,1\n",
    "a cell error as an order id": "Customer,Date,Amount,Order ID\na,2025-03-01,5,o1\n"
                                   "b,2025-03-01,5,#REF!\n",
    "a sign inside parentheses": H + "a,2025-03-01,5\nb,2025-03-02,(-5)\n",
    "a thousands group after 0": H + 'a,2025-03-01,"0,500"\n',
    "hour 25": H + "a,2025-03-01 25:00,5\n",
    # "C1" and "C1" with a zero-width space look like one customer but would be two
    "an invisible character in a customer id": H + "C1,2025-03-01,5\nC1\u200b,2025-03-02,6\n",
    "a BOM before an order id": "Customer,Date,Amount,Order ID\na,2025-03-01,5,\ufeffo1\n",
    # Excel writes CSV with ';' where the comma is the decimal mark: 1.500 may be 1,500
    "thousands dots in a file of semicolons": "Customer;Date;Amount\na;2025-03-01;7\n"
                                              "b;2025-03-02;1.500\n",
    "decimals in a file of semicolons": "Customer;Date;Amount\na;2025-03-01;1.5\n"
                                        "b;2025-03-02;12.25\nc;2025-03-02;1.2345\n"
                                        "d;2025-03-02;0.500\n",
    "a bad cell before thousands dots": "Customer;Date;Amount\na;2025-03-01;x\n"
                                        "b;2025-03-02;1.500\n",
    "a sign after a currency in parentheses": H + "a,2025-03-01,5\nb,2025-03-02,($-5)\n",
    "a direction mark in a customer id": H + "C1,2025-03-01,5\nC1\u200e,2025-03-02,6\n",
    "an emoji with a joiner as a customer id": H + "\U0001f468\u200d\U0001f469,2025-03-01,5\n",
    # no figure uses the quantity, but a text one is refused (the button keeps it): a
    # blank one is fine
    "an unreadable quantity": "Customer,Date,Amount,Quantity\na,2025-03-01,5,\n"
                              "b,2025-03-02,6, \nc,2025-03-02,7,abc\n",
    "blank and readable quantities": "Customer,Date,Amount,Quantity\na,2025-03-01,5,\n"
                                     "b,2025-03-02,6,\"1,000\"\n",
}


@pytest.mark.parametrize("case", sorted(AWKWARD_CSV))
def test_awkward_csv_files_give_the_same_outcome_in_both_engines(tmp_path, case):
    path = tmp_path / "awkward.csv"
    path.write_bytes(AWKWARD_CSV[case].encode())
    assert outcome(path, "duckdb") == outcome(path, "pandas")


def test_the_awkward_files_give_the_answers_worked_out_by_hand(tmp_path):
    """A few of the cases above, pinned: equality alone would pass if both went wrong."""
    expected = {
        "serial above 9999-12-31": "awkward.csv: Date (column B) row 2: 3000000 is not a "
                                   "date: Excel date numbers run from 1 to 2958465",
        "serial 60 (1900-02-29)": "awkward.csv: Date (column B) row 2: 60 is 1900-02-29, a "
                                  "date that does not exist (Excel's 1900 leap-year bug)",
        "day first": ([("a", 5.0, "2025-03-13"), ("b", 6.0, "2025-04-03"),
                       ("c", 1.0, "2025-01-01")], 3, []),
        "two extra cells": "awkward.csv: row 3: has 5 cells but the header has 3",
        "a short row": "awkward.csv: Cost (column D) row 3: is empty but the row has other data",
        "mixed line ends": ([("a", 5.0, "2025-03-01"), ("b", 6.0, "2025-03-02")], 2, []),
        "empty lines": ([("a", 5.0, "2025-03-01"), ("b", 6.0, "2025-03-02")], 2, [3, 5]),
        "a bad cell after an empty line": "awkward.csv: Amount (column C) row 4: 'x' is not a "
                                          "number",
        "NUL in an order id": "awkward.csv: Order ID (column D) row 2: 'o\\x001' holds a "
                              "control character (U+0000); ids must be plain text",
        "text dates with an offset": ([("a", 5.0, "2025-03-01"), ("b", 1.0, "2025-03-01")], 2,
                                      []),
        "midnight timestamps": ([("a", 5.0, "2025-03-01"), ("b", 6.0, "2025-03-02")], 2, []),
        "text after a date": ("awkward.csv: Date (column B) row 3: '2025-03-01x' is not a "
                              "date (use e.g. 2025-03-01, 2025/3/1 or 2025年3月1日)"),
        "an era after a date": ("awkward.csv: Date (column B) row 2: '2025-03-01 BC' is not a "
                                "date (use e.g. 2025-03-01, 2025/3/1 or 2025年3月1日)"),
        "a cell error as a customer id": ("awkward.csv: Customer (column A) row 3: the cell "
                                          "shows #N/A; correct or clear it"),
        "a cell error as an order id": ("awkward.csv: Order ID (column D) row 3: the cell "
                                        "shows #REF!; correct or clear it"),
        "a sign inside parentheses": ("awkward.csv: Amount (column C) row 3: '(-5)' is not a "
                                      "number"),
        "a thousands group after 0": ("awkward.csv: Amount (column C) row 2: '0,500' uses a "
                                      "decimal comma; write 1234.50 (decimal point)"),
        "hour 25": ("awkward.csv: Date (column B) row 2: '2025-03-01 25:00' is not a date "
                    "(use e.g. 2025-03-01, 2025/3/1 or 2025年3月1日)"),
        "an invisible character in a customer id": (
            "awkward.csv: Customer (column A) row 3: 'C1\\u200b' holds an invisible character "
            "(U+200B); ids must be plain text"),
        "thousands dots in a file of semicolons": (
            "awkward.csv: Amount (column C) row 3: '1.500' may mean thousands (a file "
            "separated by ';' is written where the comma is the decimal mark): write amounts "
            "without thousands separators"),
        "decimals in a file of semicolons": ([("a", 1.5, "2025-03-01"), ("b", 12.25, "2025-03-02"),
                                              ("c", 1.2345, "2025-03-02"),
                                              ("d", 0.5, "2025-03-02")], 4, []),
        "a bad cell before thousands dots": ("awkward.csv: Amount (column C) row 2: 'x' is not "
                                             "a number"),
        "a sign after a currency in parentheses": ("awkward.csv: Amount (column C) row 3: "
                                                   "'($-5)' is not a number"),
        "a direction mark in a customer id": (
            "awkward.csv: Customer (column A) row 3: 'C1\\u200e' holds an invisible character "
            "(U+200E); ids must be plain text"),
        "an unreadable quantity": ("awkward.csv: Quantity (column D) row 4: 'abc' is not a "
                                   "number"),
        "blank and readable quantities": ([("a", 5.0, "2025-03-01"), ("b", 6.0, "2025-03-02")],
                                          2, []),
        "an emoji with a joiner as a customer id": (
            [("\U0001f468\u200d\U0001f469", 5.0, "2025-03-01")], 1, []),
        "a BOM before an order id": ("awkward.csv: Order ID (column D) row 2: '\\ufeffo1' "
                                     "holds an invisible character (U+FEFF); ids must be "
                                     "plain text"),
    }
    path = tmp_path / "awkward.csv"
    for case, want in expected.items():
        path.write_bytes(AWKWARD_CSV[case].encode())
        assert outcome(path, "duckdb") == want, case


def _parquet(path, **columns):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"Customer": columns.pop("Customer", ["a", "b"]),
                             "Date": columns.pop("Date", [dt.date(2025, 3, 1),
                                                          dt.date(2025, 3, 2)]),
                             "Amount": columns.pop("Amount", [1.0, 2.0]), **columns}), path)
    return path


def test_awkward_parquet_columns_give_the_same_outcome_in_both_engines(tmp_path):
    import decimal

    pa = pytest.importorskip("pyarrow")
    utc = [dt.datetime(2025, 3, 1, 20, tzinfo=dt.UTC), dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC)]
    cases = {
        "decimal ids": ({"Customer": pa.array([decimal.Decimal("1.50"), decimal.Decimal("7.00")],
                                              pa.decimal128(38, 2))},
                        ([("1.5", 1.0, "2025-03-01"), ("7", 2.0, "2025-03-02")], 2, [])),
        "too large": ({"Amount": [2e12, 1.0]}, ("x.parquet: Amount (column C) row 2: "
                      "2000000000000 is too large: amounts must be below 1,000,000,000,000")),
        "infinite": ({"Amount": [float("inf"), 1.0]},
                     "x.parquet: Amount (column C) row 2: inf is not a finite number"),
        "TRUE as an amount": ({"Amount": [True, False]}, ("x.parquet: Amount (column C) row 2: "
                              "True is TRUE/FALSE, not a number (1 more rows like it)")),
        "serial too large": ({"Date": [3000000.0, 45000.0]}, ("x.parquet: Date (column B) row "
                             "2: 3000000 is not a date: Excel date numbers run from 1 to 2958465")),
        "serial 60": ({"Date": [60.0, 45000.0]}, ("x.parquet: Date (column B) row 2: 60 is "
                      "1900-02-29, a date that does not exist (Excel's 1900 leap-year bug)")),
        # 20:00 UTC is 04:00 the next day at +08:00; 10:00 UTC is 04:30 at -05:30
        "offset +08:00": ({"Date": pa.array(utc, pa.timestamp("us", tz="+08:00"))},
                          ([("a", 1.0, "2025-03-02"), ("b", 2.0, "2025-03-01")], 2, [])),
        "offset -05:30": ({"Date": pa.array(utc, pa.timestamp("us", tz="-05:30"))},
                          ([("a", 1.0, "2025-03-01"), ("b", 2.0, "2025-03-01")], 2, [])),
        "NUL in an order id": ({"Order ID": ["o\x001", "x"]}, ("x.parquet: Order ID (column D) "
                               "row 2: 'o\\x001' holds a control character (U+0000); ids must "
                               "be plain text")),
        # BINARY text is read as UTF-8 (pandas made ids of b'C1'); an id missing from a
        # column of numbers is named (DuckDB gave a binder error); a list is no number
        "binary ids": ({"Customer": pa.array([b"C1", "张".encode()], pa.binary())},
                       ([("C1", 1.0, "2025-03-01"), ("张", 2.0, "2025-03-02")], 2, [])),
        "a missing number id": ({"Customer": pa.array([7, None], pa.int64())},
                                ("x.parquet: Customer (column A) row 3: is empty but the row "
                                "has other data")),
        "quantities blank, NaN and infinite": (
            {"Quantity": pa.array([float("nan"), float("inf")])},
            "x.parquet: Quantity (column D) row 3: inf is not a finite number"),
        "unused columns of raw bytes": (
            {"Blob": pa.array([b"\xff\xfe", b"\x00"], pa.binary()),
             "Row UUID": pa.array([bytes(range(16)), bytes(16)], pa.binary(16))},
            ([("a", 1.0, "2025-03-01"), ("b", 2.0, "2025-03-02")], 2, [])),
        "lists as amounts": ({"Amount": pa.array([[1.0], [2.0, 3.0]])},
                             ("x.parquet: Amount (column C) row 2: '[1.0]' is not a number "
                             "(1 more rows like it)")),
    }
    for case, (columns, want) in cases.items():
        path = _parquet(tmp_path / "x.parquet", **columns)
        assert outcome(path, "pandas") == want, case
        assert outcome(path, "duckdb") == want, case


def test_a_header_repeated_in_parquet_is_named_by_both_engines(tmp_path):
    # DuckDB renames a repeated header (amount_1) and took the first column's amounts;
    # pyarrow's reader refused the file in its own words
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    for second in ("amount", "Amount"):
        path = tmp_path / f"{second}.parquet"
        pq.write_table(pa.Table.from_arrays(
            [pa.array(["a", "b"]), pa.array([dt.date(2025, 3, 1)] * 2), pa.array([1.0, 2.0]),
             pa.array([100.0, 200.0])], names=["customer", "date", "amount", second]), path)
        want = (f"{path.name}: 'amount' (column C) and '{second}' (column D) could both be "
                "the amount column; keep one or name the column with --columns amount=HEADER "
                "(in the workbook: a columns row in Settings)")
        assert outcome(path, "pandas") == want
        assert outcome(path, "duckdb") == want
    extra = tmp_path / "notes.parquet"  # a repeated header of an unused column is no matter
    pq.write_table(pa.Table.from_arrays(
        [pa.array(["a"]), pa.array([dt.date(2025, 3, 1)]), pa.array([5.0]), pa.array(["x"]),
         pa.array(["y"])], names=["customer", "date", "amount", "note", "note"]), extra)
    assert outcome(extra, "pandas") == outcome(extra, "duckdb") == (
        [("a", 5.0, "2025-03-01")], 1, [])


def test_auto_picks_duckdb_for_a_large_text_file_and_pandas_otherwise(csv_file, tmp_path,
                                                                      monkeypatch):
    from xl_crm import engines

    small = analyze_path(csv_file, today=TODAY)
    assert small.log["source"] == csv_file.name  # the pandas engine's source
    monkeypatch.setitem(engines.AUTO_DUCKDB_BYTES, ".csv", 10)
    assert engines.pick_engine([csv_file]) == "duckdb"
    large = analyze_path(csv_file, today=TODAY)
    assert large.log["source"] == f"{csv_file.name} (DuckDB)"
    assert_same_facts(small.customers.set_index("customer"),
                      large.customers.set_index("customer"))
    assert engines.pick_engine([csv_file, csv_file]) == "pandas"  # several files
    assert engines.pick_engine([tmp_path / "missing.csv"]) == "pandas"  # named there
    assert engines.pick_engine([csv_file], "pandas") == "pandas"
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert engines.pick_engine([csv_file]) == "pandas"  # duckdb not installed


def test_auto_reads_with_pandas_what_duckdb_refuses(tmp_path, monkeypatch):
    from xl_crm import engines

    path = tmp_path / "c.csv"
    path.write_text('Customer,Date,Amount\na,2025-01-05,"$1,200.50"\nb,2025-01-06,(30.00)\n'
                    'b,2025-01-07,40\n')
    monkeypatch.setitem(engines.AUTO_DUCKDB_BYTES, ".csv", 10)
    with pytest.raises(InputError):
        analyze_path(path, engine="duckdb", today=TODAY)
    result = analyze_path(path, today=TODAY)
    assert result.log["source"] == "c.csv"  # read by the pandas engine
    assert dict(zip(result.customers["customer"], result.customers["net_sales"])) == \
        {"a": 1200.5, "b": 10.0}
