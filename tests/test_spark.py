"""The Spark engine on a real local Spark (pyspark, Java 17): the pandas engine's results
on the files the DuckDB equality tests use, bad rows named as the pandas engine names
them (also when Spark splits a file into blocks), and the command line. One Spark
session serves the whole module (starting one takes about 5 s)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from workbooks.generate_sample import generate_transactions
from xl_crm.core.analysis import Options
from xl_crm.core.errors import InputError
from xl_crm.core.facts import customer_facts
from xl_crm.engines import analyze_path
from xl_crm.files import read_sales
from xl_crm.spark import read_facts
from xl_crm.spark.engine import JAVA_ENDED, _java_ended, _running
from xl_crm.spark.session import (
    configured,
    local_driver_memory,
    local_settings,
    parse_conf,
    spark_session,
)

from .test_engines import AWKWARD_CSV, TODAY, _parquet, assert_same_facts

# CI installs pyspark (xl_crm[test]) and has Java: there the tests run, never skip
if not os.environ.get("CI"):
    pytest.importorskip("pyspark", reason="the Spark tests need pyspark (xl_crm[test])")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("the Spark tests need Java 17 or newer", allow_module_level=True)


# Spark configured for files of a few thousand lines, as Spark's own test suites configure
# it: query plans interpreted rather than compiled to Java (compiling dominates a small
# query), no adaptive re-planning, one shuffle partition, and a Java that compiles quickly
# (C1 only; a short-lived process never profits from C2). Two shuffle partitions keep
# the groupings' merging across partitions tested. Measured: a small file's analysis
# about 2 s instead of 3.4 s, the module's first one 8 s instead of 14 s. The answers do
# not depend on any of it; the product's defaults are in xl_crm.spark.session.
SMALL_DATA = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="module")
def spark():
    session = spark_session(SMALL_DATA)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    # the DuckDB equality tests' file: 800 customers of the sample model, returns,
    # return-only customers, ties, several lines per order
    path = tmp_path_factory.mktemp("spark") / "sales.csv"
    generate_transactions(n_customers=800).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def pandas_facts(csv_file):
    """The pandas engine's facts of ``csv_file``, the reference."""
    return customer_facts(read_sales(csv_file, today=TODAY).transactions)


@pytest.fixture
def small_blocks(spark):
    """Spark reads files in blocks of 16 KB: a file of a few hundred lines is split
    across partitions, as a large file is."""
    key = "spark.sql.files.maxPartitionBytes"
    before = spark.conf.get(key)
    spark.conf.set(key, "16384")
    yield
    spark.conf.set(key, before)


def outcome(path, engine):
    """Each customer's (id, net sales, last purchase), the rows read and the blank rows,
    or the error message (without the count of more rows, which Spark does not make)."""
    try:
        a = analyze_path(path, engine=engine, today=TODAY)
    except InputError as err:
        return re.sub(r" \(\d+ more rows? like it\)", "", str(err))
    c = a.customers
    return (sorted(zip(c["customer"], c["net_sales"], c["last_purchase"].astype(str))),
            a.log["rows_read"], list(a.log["blank_rows"]))


def test_facts_equal_the_pandas_engines(spark, csv_file, pandas_facts):
    facts, basis, source = read_facts(csv_file, today=TODAY)
    assert basis == "profit" and source["source"] == "sales.csv (Spark)"
    assert source["rows_read"] == len(pd.read_csv(csv_file))
    assert facts.as_of == pandas_facts.as_of and facts.start == pandas_facts.start
    assert_same_facts(pandas_facts.table, facts.table)
    assert (facts.table["frequency"] == 0).sum() == 3  # return-only customers kept
    assert (facts.table["returns"] < 0).sum() > 50
    pd.testing.assert_frame_equal(pandas_facts.monthly, facts.monthly, check_dtype=False)


# the default options: every figure of the report, in the command line's test below
@pytest.mark.parametrize("options", [Options(as_of="2026-06-30", bins=4),
                                     Options(monetary="mean", binning="nested",
                                             compare="month")])
def test_full_analysis_equals_the_pandas_engines(spark, csv_file, options):
    a = analyze_path(csv_file, options, "pandas", today=TODAY)
    b = analyze_path(csv_file, options, "spark", today=TODAY)
    assert a.log["rows_after_as_of"] == b.log["rows_after_as_of"]
    assert_same_facts(a.customers.set_index("customer"), b.customers.set_index("customer"))
    for key in a.summaries:
        pd.testing.assert_frame_equal(a.summaries[key].reset_index(drop=True),
                                      b.summaries[key].reset_index(drop=True), atol=1e-6)
    assert {g: i.table().round(4).to_dict() for g, i in a.clv.items()} == \
        {g: i.table().round(4).to_dict() for g, i in b.clv.items()}
    if options.compare == "month":
        assert a.changes.abc.equals(b.changes.abc)


def test_a_file_in_many_blocks_gives_the_same_facts_and_row_numbers(spark, csv_file,
                                                                    pandas_facts, small_blocks,
                                                                    tmp_path):
    facts, _, _ = read_facts(csv_file, today=TODAY)
    assert spark.read.csv(str(csv_file)).rdd.getNumPartitions() > 10
    assert_same_facts(pandas_facts.table, facts.table)
    # a bad cell deep in the file, after an empty line and a blank row: the row number
    # counts every record, as the pandas engine and Excel count them
    lines = csv_file.read_text().splitlines()
    lines.insert(100, "")
    lines.insert(200, ",,,,,,,,,,")
    cells = lines[5000].split(",")
    lines[5000] = ",".join(cells[:7]) + ',"12,5",' + ",".join(cells[8:])  # Net Sales
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    expected = outcome(bad, "pandas")
    assert expected.startswith("bad.csv: Net Sales (column H) row 5001: '12,5' uses a "
                               "decimal comma")
    assert outcome(bad, "spark") == expected


def test_day_first_dates_are_decided_from_the_whole_file(spark, small_blocks, tmp_path):
    # the first blocks hold only dates that could be either order; a late one decides
    rows = [f"c{i % 50},{1 + i % 12:02d}/03/2025,{i % 7 + 1}" for i in range(2000)]
    rows.append("c1,25/03/2025,3")
    path = tmp_path / "dmy.csv"
    path.write_text("Customer,Date,Amount\n" + "\n".join(rows) + "\n")
    assert outcome(path, "spark") == outcome(path, "pandas")
    assert analyze_path(path, engine="spark", today=TODAY).as_of == pd.Timestamp("2025-03-25")
    both = tmp_path / "both.csv"
    both.write_text("Customer,Date,Amount\n" + "\n".join(rows) + "\nc2,03/26/2025,1\n")
    expected = outcome(both, "pandas")
    assert "is month-first but row 2002 ('25/03/2025') is day-first" in expected
    assert outcome(both, "spark") == expected


@pytest.mark.parametrize("case", sorted(AWKWARD_CSV))
def test_awkward_csv_files_give_the_pandas_engines_outcome(spark, tmp_path, case):
    path = tmp_path / "awkward.csv"
    path.write_bytes(AWKWARD_CSV[case].encode())
    assert outcome(path, "spark") == outcome(path, "pandas")


def test_blank_order_ids_are_orders_of_their_own(spark, tmp_path):
    path = tmp_path / "blank_orders.csv"
    path.write_text("Customer,Date,Amount,Order ID\na,2025-01-01,10,\na,2025-01-02,10,\n"
                    "a,2025-01-03,10,o1\na,2025-01-03,5,o1\nb,2025-01-03,7,o1\n")
    c = analyze_path(path, engine="spark", today=TODAY).customers.set_index("customer")
    assert c.loc["a", "frequency"] == 3 and c.loc["b", "frequency"] == 1
    assert c.loc["a", "net_sales"] == 35.0


def test_ties_and_return_only_customers_by_hand(spark, tmp_path):
    # a and b tie on value (ranked by id); c only returned goods; the latest name wins
    path = tmp_path / "ties.csv"
    path.write_text("Customer,Date,Amount,Customer Name\n"
                    "b,2025-01-01,10,Old B\na,2025-01-02,10,A\nc,2025-01-03,-4,C\n"
                    "b,2025-01-04,0.1,\nb,2025-01-04,-0.1,New B\n")
    facts, _, _ = read_facts(path, today=TODAY)
    table = facts.table
    assert list(table.index) == ["a", "b", "c"]  # rank order: value, then id
    assert table.loc["b", "net_sales"] == 10.0 and table.loc["b", "name"] == "New B"
    assert table.loc["c", "frequency"] == 0 and np.isnan(table.loc["c", "recency"])
    assert table.loc["c", "returns"] == -4.0


def test_parquet_typed_columns_and_a_folder_of_parts(spark, csv_file, tmp_path):
    frame = pd.read_csv(csv_file)
    frame["Date"] = pd.to_datetime(frame["Date"])
    frame["Customer ID"] = frame["Customer ID"].str[1:].astype("int64")
    path = tmp_path / "sales.parquet"
    frame.to_parquet(path)
    expected = customer_facts(read_sales(path, today=TODAY).transactions).table
    assert_same_facts(expected, read_facts(path, today=TODAY)[0].table)
    parts = tmp_path / "lake"  # a data lake's folder of parts is one data set
    parts.mkdir()
    for i in range(4):
        frame.iloc[i * len(frame) // 4:(i + 1) * len(frame) // 4].to_parquet(
            parts / f"part-{i:05d}.parquet")
    (parts / "_SUCCESS").write_text("")
    assert_same_facts(expected, read_facts(parts, today=TODAY)[0].table)


def test_awkward_parquet_columns_read_as_the_pandas_engine_reads_them(spark, tmp_path):
    import pyarrow as pa

    utc = [dt.datetime(2025, 3, 1, 20, tzinfo=dt.UTC), dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC)]
    cases = {
        "offset_plus_8": {"Date": pa.array(utc, pa.timestamp("us", tz="+08:00"))},
        # pandas 2 writes nanoseconds, which Spark reads only as numbers
        "nanoseconds": {"Date": pa.array([dt.datetime(2025, 3, 1, 23, 59),
                                          dt.datetime(1960, 3, 2)], pa.timestamp("ns"))},
        "nanoseconds_plus_8": {"Date": pa.array(utc, pa.timestamp("ns", tz="+08:00"))},
        "offset_minus_5_30": {"Date": pa.array(utc, pa.timestamp("us", tz="-05:30"))},
        "text_amounts": {"Amount": ["$1,200.50", "(3.00)"]},
        "bad_amount": {"Amount": ["1", "x7"]},
        "infinite": {"Amount": [float("inf"), 1.0]},
        "binary_ids": {"Customer": pa.array([b"C1", "张".encode()], pa.binary())},
        "lists_as_amounts": {"Amount": pa.array([[1.0], [2.0, 3.0]])},
    }
    spark_read = {}
    for case, columns in cases.items():
        path = _parquet(tmp_path / f"{case}.parquet", **columns)
        spark_read[case] = outcome(path, "spark")
        assert spark_read[case] == outcome(path, "pandas"), case
    assert spark_read["bad_amount"] == (
        "bad_amount.parquet: Amount (column C) row 3: 'x7' is not a number")
    assert spark_read["offset_plus_8"][0][0] == ("a", 1.0, "2025-03-02")
    assert [c[0] for c in spark_read["binary_ids"][0]] == ["C1", "张"]
    assert spark_read["lists_as_amounts"].startswith("lists_as_amounts.parquet: Amount "
                                                     "(column C) row 2: '[1.0]' is not a")
    assert spark_read["nanoseconds"][0] == [("a", 1.0, "2025-03-01"), ("b", 2.0, "1960-03-02")]
    assert spark.conf.get("spark.sql.legacy.parquet.nanosAsLong", "false") == "false"


def test_encodings_and_bad_input_are_named_in_one_line(spark, tmp_path):
    path = tmp_path / "gb.csv"
    path.write_bytes("客户,日期,金额\n张三,2025-03-01,5\n李四,2025-03-02,6\n".encode("gb18030"))
    assert outcome(path, "spark") == outcome(path, "pandas")
    missing = tmp_path / "no_amount.csv"
    missing.write_text("Customer,Date\na,2025-03-01\n")
    assert outcome(missing, "spark").startswith(
        "no_amount.csv: no column for amount among the headers ['Customer', 'Date']")
    with pytest.raises(InputError, match="file not found"):
        analyze_path(tmp_path / "nothing.csv", engine="spark", today=TODAY)
    with pytest.raises(InputError, match=r"^x.parquet: Spark cannot read it: .*nosuch"):
        read_facts("nosuch://bucket/sales/x.parquet", today=TODAY)


def test_a_table_of_the_catalogue(spark, csv_file, pandas_facts):
    spark.read.csv(str(csv_file), header=True, escape='"').createOrReplaceTempView(
        "shop_sales")
    facts, _, source = read_facts(table="shop_sales", today=TODAY)
    assert source["source"] == "shop_sales (Spark)"
    assert_same_facts(pandas_facts.table, facts.table)


def test_the_command_line_writes_the_report_with_spark(spark, csv_file, tmp_path, capsys):
    from tests.readback import sheets
    from xl_crm.cli import main

    out = tmp_path / "report.xlsx"
    assert main(["report", str(csv_file), "--engine", "spark", "-o", str(out)]) == 0
    assert "report written" in capsys.readouterr().out
    reference = tmp_path / "reference.xlsx"
    assert main(["report", str(csv_file), "--engine", "pandas", "-o", str(reference)]) == 0
    ours, theirs = sheets(out), sheets(reference)
    assert list(ours) == list(theirs)

    def cells(book, name):  # every figure; only the lines naming the source differ
        return [row for row in book[name]
                if not any(isinstance(c, str) and "sales.csv" in c for c in row)]

    for name in ours:
        assert cells(ours, name) == cells(theirs, name), name
    assert any("sales.csv (Spark)" in str(c) for row in ours["Notes"] for c in row)
    assert main(["analyze", "--engine", "spark", "--table", "no_such_table"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xl-crm: no_such_table: Spark cannot read it:") and err.count("\n") == 1
    assert main(["analyze", str(csv_file), "--table", "x"]) == 1
    assert "--table goes with --engine spark" in capsys.readouterr().err
    assert main(["analyze", "s3a://bucket/sales.parquet"]) == 1
    assert "a URL is read by --engine spark" in capsys.readouterr().err


def test_configuration_from_the_environment_and_the_command_line():
    assert parse_conf(["spark.executor.memory=8g", " a.b = c "]) == {
        "spark.executor.memory": "8g", "a.b": "c"}
    with pytest.raises(InputError, match="'memory' is not key=value"):
        parse_conf(["memory"])
    conf = configured({"spark.sql.shuffle.partitions": "8"},
                      {"XL_CRM_SPARK_CONF": "spark.sql.shuffle.partitions=4;x.y=1"})
    assert conf["spark.sql.shuffle.partitions"] == "8" and conf["x.y"] == "1"
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_a_local_session_gets_half_the_memory_of_the_computer():
    assert local_driver_memory(16 * 2**30) == "8g"
    assert local_driver_memory(2**30) == "1g"          # never under Spark's own 1 GiB
    assert local_driver_memory(512 * 2**30) == "64g"
    assert local_driver_memory(0) == "4g"              # memory unknown (Windows)
    assert re.fullmatch(r"\d+g", local_driver_memory())


def test_a_local_session_keeps_its_files_out_of_the_current_folder(tmp_path):
    made = []

    def folder():  # a space and Chinese in the path, as a Windows user name may have
        made.append(tmp_path / f"private {len(made)} 张")
        return str(made[-1])

    environ = {}
    settings = local_settings({"spark.app.name": "xl_crm"}, environ, folder)
    # one private folder for Spark's scratch files and the catalogue's warehouse, which
    # Spark would otherwise make as ./spark-warehouse (as --table did)
    assert len(made) == 1 and environ == {"SPARK_LOCAL_DIRS": str(made[0])}
    assert settings["spark.sql.warehouse.dir"] == f"file://{made[0]}/warehouse"
    assert settings["spark.ui.enabled"] == "false" and "spark.driver.memory" in settings
    # what the user set stays theirs, and no folder is made for nothing
    made.clear()
    mine = {"spark.sql.warehouse.dir": "/data/wh", "spark.ui.enabled": "true",
            "spark.driver.memory": "2g"}
    environ = {"SPARK_LOCAL_DIRS": "/scratch", "SPARK_DRIVER_MEMORY": "3g"}
    assert local_settings(mine, environ, folder) == mine and not made
    assert environ == {"SPARK_LOCAL_DIRS": "/scratch", "SPARK_DRIVER_MEMORY": "3g"}
    assert "spark.driver.memory" not in local_settings({}, environ, folder)


def test_a_java_process_that_ended_is_named_in_one_line(spark):
    assert _running(spark) and not _running(object())
    from py4j.protocol import Py4JError, Py4JNetworkError

    assert _java_ended(ConnectionRefusedError(111, "Connection refused"))
    assert _java_ended(Py4JNetworkError("Answer from Java side is empty"))
    assert _java_ended(Py4JError("An error occurred while calling o1.x: Answer from Java "
                                 "side is empty"))
    assert not _java_ended(Py4JError("An error occurred while calling o1.csv"))
    assert not _java_ended(ValueError("Connection refused"))
    assert "spark.driver.memory" in JAVA_ENDED and "\n" not in JAVA_ENDED
