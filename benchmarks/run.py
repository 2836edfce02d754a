"""Benchmarks of xl_crm on generated transactions; prints a Markdown table.

    python benchmarks/run.py            # 100k and 1M transactions
    python benchmarks/run.py --sizes 100000 1000000 10000000

Data: :func:`workbooks.generate_sample.generate_transactions` (seeded), the same model as the
shipped sample, scaled by the number of customers (about 12 rows per customer).
Each figure is the best of ``--repeat`` runs (wall clock, seconds). Peak memory is the
largest amount allocated through Python's tracemalloc (numpy and pandas buffers
included) during one run of the step, measured in a separate run.

Rows:
- ``full analysis``: reading the DataFrame into canonical transactions
  (``sales_from_frame``) plus :func:`xl_crm.core.analysis.analyze` (RFM, segments, ABC,
  pyramid, lifecycle, value matrix, Dwyer inputs per tier, migration). Reference: a plain
  pandas groupby of the same per-customer measures (the facts of
  :mod:`xl_crm.core.facts`) on the same frame, without checks or anything after it.
- ``DuckDB engine``: ``analyze_path(file, engine="duckdb")`` on a CSV and a Parquet file
  (reading included), in a fresh process. Reference: the same facts query run bare on the
  same file and fetched as a DataFrame (plain casts, no checks, no typed table, no
  cleaning of ids, nothing after the aggregation). Both processes import DuckDB and
  pandas (which ``.df()`` needs) before the clock starts. The row below it times the
  engine's aggregation alone (:func:`xl_crm.duck.read_facts`: reading, checks and the
  per-customer facts, without the methods run on them), against the same reference.
- ``CRM_RFM`` / ``CRM_ABC``: the worksheet functions given 2-D lists, as xlwings hands
  them over (dates as ``datetime``, numbers as ``float``).
- ``BG/NBD + Gamma-Gamma fit``: :func:`xl_crm.core.predict.fit_bgnbd` and
  :func:`~xl_crm.core.predict.fit_gamma_gamma` on the facts of ``--predict-customers``
  customers (reference: lifetimes' fitters on the same inputs, when installed); the row
  below adds P(alive), expected purchases and predicted CLV per customer.
- ``xl-crm analyze ..., auto``: the command line on a CSV and a Parquet file with
  ``--engine auto`` against the better of ``pandas`` and ``duckdb``, each timed as a
  whole process (start and imports included), the way a user runs it.
- ``xl-crm report, the shipped sample``: the command a user runs each month, as a whole
  process (start and imports included), best and median of at least 5 runs.
- ``button job``: :func:`xl_crm.monthly.run` on the shipped sample in the stand-in for
  Excel's workbook, the result sheets alone and with the report file saved.
- ``report``: :func:`xl_crm.report.write_report` for the analysis of about
  ``--report-customers`` customers (all sheets, formats, tables, charts). Reference:
  openpyxl (write-only) dumping the same cells of the customer and tier sheets, which hold
  all but a few hundred of the report's cells, without any formatting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook

from workbooks.generate_sample import generate_transactions, write_workbook
from xl_crm.core.analysis import analyze
from xl_crm.core.sales import sales_from_frame
from xl_crm.duck import facts_sql
from xl_crm.duck.source import plain_scan
from xl_crm.report import COLUMNS, write_report
from xl_crm.report.layout import column_values
from xl_crm.udfs import CRM_ABC, CRM_RFM
from xl_crm.views import customer_frame

SAMPLE = Path(__file__).resolve().parent.parent / "xl_crm" / "data" / "sample_sales.xlsx"
ROWS_PER_CUSTOMER = 12.1  # what the generator yields on average
TODAY = dt.date(2026, 11, 22)


def transactions(rows: int) -> pd.DataFrame:
    """About ``rows`` generated transactions (the seeded sample model)."""
    return generate_transactions(n_customers=max(10, round(rows / ROWS_PER_CUSTOMER)))


def full_analysis(frame: pd.DataFrame) -> None:
    """Read the frame and run every method."""
    analyze(sales_from_frame(frame, today=TODAY))


def pandas_reference(frame: pd.DataFrame) -> pd.DataFrame:
    """A plain pandas groupby of the same per-customer measures the analysis aggregates
    (the facts of :mod:`xl_crm.core.facts`), on the typed frame, with no checks, no
    parsing and nothing after the aggregation."""
    f = frame.assign(Date=pd.to_datetime(frame["Date"]))
    end = f["Date"].max()
    start = f["Date"].min()
    middle = start + (end - start) / 2
    buy = f["Net Sales"] > 0
    value = f["Net Sales"] - f["Cost"]
    ly = f["Date"] > end - pd.Timedelta(days=365)
    py = (f["Date"] > end - pd.Timedelta(days=730)) & ~ly
    cut = f["Date"] <= end - pd.Timedelta(days=90)
    g = f.assign(
        buy_date=f["Date"].where(buy), order=f["Order ID"].where(buy),
        purchases=f["Net Sales"].where(buy, 0.0), returns=f["Net Sales"].where(~buy, 0.0),
        earlier=f["Net Sales"].where(f["Date"] <= middle, 0.0),
        recent=f["Net Sales"].where(f["Date"] > middle, 0.0),
        current=value.where(ly, 0.0), ly_active=buy & ly, py_active=buy & py,
        ly_order=f["Order ID"].where(buy & ly), ly_net=f["Net Sales"].where(ly, 0.0),
        ly_cost=f["Cost"].where(ly, 0.0), before_cut=f["Date"].where(buy & cut),
        lp_buyer=buy & ~cut, lp_value=value.where(~cut, 0.0),
    ).groupby("Customer ID")
    facts = g.agg(first_purchase=("buy_date", "min"), last_purchase=("buy_date", "max"),
                  first_seen=("Date", "min"), frequency=("order", "nunique"),
                  net_sales=("Net Sales", "sum"), purchases=("purchases", "sum"),
                  returns=("returns", "sum"), cost=("Cost", "sum"), earlier=("earlier", "sum"),
                  recent=("recent", "sum"), current_value=("current", "sum"),
                  ly_active=("ly_active", "any"), py_active=("py_active", "any"),
                  ly_purchases=("ly_order", "nunique"), ly_net=("ly_net", "sum"),
                  ly_cost=("ly_cost", "sum"), last_before_cut=("before_cut", "max"),
                  lp_buyer=("lp_buyer", "any"), lp_value=("lp_value", "sum"),
                  name=("Customer Name", "last"), region=("Region", "last"))
    days = f.loc[buy, ["Customer ID", "Date"]].drop_duplicates().sort_values(["Customer ID",
                                                                               "Date"])
    gaps = days.groupby("Customer ID")["Date"].diff().dt.days
    facts["purchase_days"] = days.groupby("Customer ID").size()
    facts["median_gap"] = gaps.groupby(days["Customer ID"]).median()
    return facts


def report_to(result, path: Path) -> None:
    """The full formatted report."""
    write_report(result, path, overwrite=True)


def dump_cells(result, path: Path) -> None:
    """The same customer and tier cells, unformatted, with openpyxl write-only."""
    book = Workbook(write_only=True)
    frame = customer_frame(result, "en")
    parts = [frame[result.customers["abc_tier"].to_numpy() == t] for t in ("A", "B", "C")]
    for i, part in enumerate([*parts, frame]):
        ws = book.create_sheet(f"s{i}")
        ws.append([col for col, _, _ in COLUMNS])
        for row in zip(*(column_values(part[col]) for col, _, _ in COLUMNS)):
            ws.append(row)
    book.save(path)


def duck_reference_sql(kind: str, path: Path) -> str:
    """The same per-customer measures as the engine's facts query, run bare on the file:
    no checks, no typed table, nothing after the aggregation."""
    scan = plain_scan(path)  # DuckDB detecting the dialect itself, as a user would write it
    amount, cost = 'CAST("Net Sales" AS DOUBLE)', 'CAST("Cost" AS DOUBLE)'
    day = 'CAST("Date" AS DATE)'
    tx = (f'SELECT "Customer ID" AS customer, {day} AS date, {amount} AS amount, '
          f'"Order ID" AS order_key, {amount} - {cost} AS value, {cost} AS cost, '
          f'"Customer Name" AS name, "Region" AS region, "Sales Rep" AS rep, '
          f"{day} - DATE '1970-01-01' AS seq FROM {scan}")  # the day alone: no line order
    end = pd.Timestamp("2026-10-31")
    sql = facts_sql({"order_id": 1, "cost": 1}, end, pd.Timestamp("2024-11-01"))
    return sql.replace("WITH per_customer AS (", f"WITH tx AS ({tx}),\nper_customer AS (", 1)




def write_files(size: int, folder: Path) -> tuple[int, dict[str, Path]]:
    """About ``size`` generated transactions as CSV and Parquet (written by DuckDB)."""
    import duckdb

    frame = transactions(size)
    rows = len(frame)
    frame["Date"] = pd.to_datetime(frame["Date"])
    paths = {"csv": folder / f"sales-{size}.csv", "parquet": folder / f"sales-{size}.parquet"}
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f"COPY frame TO '{paths['csv']}' (HEADER, DATEFORMAT '%Y-%m-%d')")
    con.execute(f"COPY frame TO '{paths['parquet']}' (FORMAT PARQUET)")
    con.close()
    return rows, paths


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (VmHWM on Linux: unlike ru_maxrss it
    does not include the memory of the parent that started this process)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # bytes on macOS


def child(code: str) -> tuple[float, float]:
    """Run ``code`` (which prints seconds) in a fresh process: (seconds, peak RSS MB)."""
    wrapped = ("import sys, time\n"
               f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n" + code +
               "import run\nprint(run.peak_rss_mb())\n")
    out = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[-2]), float(out[-1])


def duck_rows(size: int, repeat: int) -> None:
    """The DuckDB engine on CSV and Parquet files against a bare DuckDB GROUP BY."""
    folder = Path(tempfile.mkdtemp(prefix="xl_crm_duck_"))
    rows, paths = write_files(size, folder)
    for kind, path in paths.items():
        best = peak = ref = facts = float("inf")
        for _ in range(repeat):
            secs, rss = child(
                "import duckdb\nfrom xl_crm.engines import analyze_path\nimport run\n"
                "start = time.perf_counter()\n"
                f"analyze_path({str(path)!r}, engine='duckdb', today=run.TODAY)\n"
                "print(time.perf_counter() - start)\n")
            best, peak = min(best, secs), min(peak, rss)
            secs, _ = child(
                "import duckdb\nfrom xl_crm.duck import read_facts\nimport run\n"
                "start = time.perf_counter()\n"
                f"read_facts({str(path)!r}, today=run.TODAY)\n"
                "print(time.perf_counter() - start)\n")
            facts = min(facts, secs)
            sql = duck_reference_sql(kind, path)
            secs, _ = child(
                "import duckdb\nimport pandas\nstart = time.perf_counter()\n"
                f"duckdb.connect().execute({sql!r}).df()\n"
                "print(time.perf_counter() - start)\n")
            ref = min(ref, secs)
        print(f"| DuckDB engine, {kind} file | {rows:,} | {best:.2f} | {peak:,.0f} (RSS) | "
              f"DuckDB GROUP BY | {ref:.2f} | {best / ref:.2f} |", flush=True)
        print(f"| ... its aggregation alone | {rows:,} | {facts:.2f} | | DuckDB GROUP BY | "
              f"{ref:.2f} | {facts / ref:.2f} |", flush=True)
    shutil.rmtree(folder)


def cli_seconds(path: Path, engines: tuple[str, ...], repeat: int) -> dict[str, float]:
    """Best whole-process seconds of ``xl-crm analyze PATH --engine E`` per engine."""
    times = {}
    for engine in engines:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "xl_crm.cli", "analyze", str(path),
                            "--engine", engine], capture_output=True, check=True)
            best = min(best, time.perf_counter() - start)
        times[engine] = best
    return times


def auto_rows(size: int, repeat: int) -> None:
    """``xl-crm analyze FILE`` with each engine and with auto, the whole process timed
    (start, imports, reading, analysis): where auto's file-size threshold comes from."""
    folder = Path(tempfile.mkdtemp(prefix="xl_crm_auto_"))
    rows, paths = write_files(size, folder)
    for kind, path in paths.items():
        times = cli_seconds(path, ("pandas", "duckdb", "auto"), repeat)
        better = min(times["pandas"], times["duckdb"])
        size_mb = path.stat().st_size / 1e6
        print(f"| xl-crm analyze, {kind} {size_mb:,.1f} MB, auto | {rows:,} | "
              f"{times['auto']:.2f} | | better of pandas {times['pandas']:.2f} / duckdb "
              f"{times['duckdb']:.2f} | {better:.2f} | {times['auto'] / better:.2f} |",
              flush=True)
    shutil.rmtree(folder)


def spark_rows(size: int, repeat: int) -> None:
    """``xl-crm analyze FILE`` with the Spark engine (local[*], a new JVM each run) against
    DuckDB and pandas, whole processes on the same CSV and Parquet files."""
    folder = Path(tempfile.mkdtemp(prefix="xl_crm_spark_"))
    rows, paths = write_files(size, folder)
    for kind, path in paths.items():
        times = cli_seconds(path, ("spark", "duckdb", "pandas"), repeat)
        print(f"| xl-crm analyze --engine spark, {kind} | {rows:,} | {times['spark']:.2f} | "
              f"| duckdb {times['duckdb']:.2f} / pandas {times['pandas']:.2f} | "
              f"{times['duckdb']:.2f} | {times['spark'] / times['duckdb']:.2f} |", flush=True)
    shutil.rmtree(folder)


def xlsx_rows(size: int, repeat: int) -> None:
    """``analyze_path`` of a generated .xlsx (the pandas engine: calamine read, cell rules,
    analysis) against pandas' own calamine read plus the plain groupby."""
    from xl_crm.engines import analyze_path

    folder = Path(tempfile.mkdtemp(prefix="xl_crm_xlsx_"))
    frame = transactions(size)
    path = folder / f"sales-{size}.xlsx"
    write_workbook(frame, path, "Sales", (12,) * len(frame.columns))  # the sample's writer
    secs, peak = timed(partial(analyze_path, path, engine="pandas", today=TODAY), repeat)
    ref, _ = timed(lambda: pandas_reference(pd.read_excel(path, engine="calamine")), repeat)
    print(f"| analyze, .xlsx file | {len(frame):,} | {secs:.2f} | {peak:,.0f} | calamine read "
          f"+ pandas groupby | {ref:.2f} | {secs / ref:.2f} |", flush=True)
    shutil.rmtree(folder)


def _seconds(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report_in_child(customers: int) -> tuple[float, float]:
    """(seconds to write the report, peak resident memory in MB of the whole process),
    measured in a fresh process (tracemalloc would slow openpyxl down many times)."""
    code = (
        "import sys, time, tempfile, pathlib\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "import run\n"
        f"result = run.analyze(run.sales_from_frame(run.generate_transactions("
        f"n_customers={customers}), today=run.TODAY))\n"
        "path = pathlib.Path(tempfile.mkdtemp()) / 'report.xlsx'\n"
        "start = time.perf_counter()\n"
        "run.report_to(result, path)\n"
        "secs = time.perf_counter() - start\n"
        "print(secs, run.peak_rss_mb())\n"
        "path.unlink()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1])


def as_lists(frame: pd.DataFrame, n: int) -> tuple[list, list, list]:
    """The first ``n`` rows as xlwings would pass three one-column ranges."""
    head = frame.head(n)
    dates = [[dt.datetime(d.year, d.month, d.day)] for d in head["Date"]]
    return ([[c] for c in head["Customer ID"]], dates,
            [[float(v)] for v in head["Net Sales"]])


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best seconds of ``repeat`` runs, peak MB allocated in one more run)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak


def _press(books, report_dir: Path | None) -> None:
    from xl_crm.monthly import run as run_button

    run_button(next(books), report_dir=report_dir)


def button_rows(repeat: int) -> None:
    """The button job (:func:`xl_crm.monthly.run`) on the shipped sample in the stand-in for
    Excel's workbook (``tests/fake_xlwings.py``; no Linux machine has Excel): reading the
    Sales sheet, the analysis and the result sheets, then the same with the report file
    saved beside the workbook. Python time only: Excel's own writing of the sheets is not
    in it. Each run gets a fresh workbook, made before the clock starts."""
    from openpyxl import load_workbook

    from tests.fake_xlwings import Book

    sheet = load_workbook(SAMPLE, read_only=True)["Sales"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    folder = Path(tempfile.mkdtemp(prefix="xl_crm_button_"))
    for label, report_dir in (("sheets only", None), ("with the report file", folder)):
        books = []
        for i in range(repeat + 1):
            book = Book(fullname=str(folder / f"monthly-{i}.xlsm"))
            book.add_sheet("Sales", rows)
            books.append(book)
        feed = iter(books)
        secs, peak = timed(partial(_press, feed, report_dir), repeat)
        print(f"| button job, {label} | {len(rows) - 1:,} | {secs:.2f} | {peak:,.0f} | | | |",
              flush=True)
    shutil.rmtree(folder)


def sample_rows(repeat: int) -> None:
    """``xl-crm report`` on the shipped sample, the whole process (start, imports,
    reading, analysis, report file written), best of ``repeat``; the median beside it."""
    folder = Path(tempfile.mkdtemp(prefix="xl_crm_sample_"))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "xl_crm.cli", "report", str(SAMPLE), "-o",
                        str(folder / "report.xlsx"), "--overwrite"], capture_output=True,
                       check=True)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"| xl-crm report, the shipped sample, end to end | 36,546 | {times[0]:.2f} | | "
          f"median of {repeat} | {times[len(times) // 2]:.2f} | |", flush=True)
    shutil.rmtree(folder)


def predict_rows(customers: int, repeat: int) -> None:
    """The BG/NBD and Gamma-Gamma fits (xl_crm.core.predict) on the facts of about
    ``customers`` generated customers; reference: lifetimes' BetaGeoFitter and
    GammaGammaFitter on the same inputs, when lifetimes is installed."""
    from xl_crm.core.facts import customer_facts
    from xl_crm.core.predict import fit_bgnbd, fit_gamma_gamma, predict, rfm_inputs

    sales = sales_from_frame(generate_transactions(n_customers=customers), today=TODAY)
    facts = customer_facts(sales.transactions)
    inputs = rfm_inputs(facts.table, facts.as_of)
    buyer = inputs["buyer"]
    x, t, age, m = (inputs[k][buyer] for k in ("frequency", "recency", "age", "mean_value"))
    fit, _ = timed(lambda: (fit_bgnbd(x, t, age), fit_gamma_gamma(x, m)), repeat)
    whole, peak = timed(lambda: predict(facts.table, facts.as_of), repeat)
    ref_name, ref = "lifetimes (not installed)", None
    try:
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    except ImportError:
        pass
    else:
        def reference() -> None:
            BetaGeoFitter().fit(x, t, age)
            GammaGammaFitter().fit(x[x > 0], m[x > 0])

        ref_name, ref = "lifetimes fit", timed(reference, 1)[0]
    shown = f"{ref:.2f} | {fit / ref:.2f}" if ref else " | "
    print(f"| BG/NBD + Gamma-Gamma fit | {len(x):,} customers | {fit:.2f} | | {ref_name} | "
          f"{shown} |", flush=True)
    print(f"| prediction per customer (fits, P(alive), 12 months, CLV) | {len(x):,} customers "
          f"| {whole:.2f} | {peak:,.0f} | | | |", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--udf-rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--report-customers", type=int, default=100_000)
    parser.add_argument("--duck-sizes", type=int, nargs="*",
                        default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--predict-customers", type=int, nargs="*", default=[100_000])
    parser.add_argument("--auto-sizes", type=int, nargs="*",
                        default=[10_000, 1_000_000, 10_000_000])
    parser.add_argument("--xlsx-sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--button", action=argparse.BooleanOptionalAction, default=True,
                        help="the button job on the shipped sample (--no-button: skip it)")
    parser.add_argument("--sample", action=argparse.BooleanOptionalAction, default=True,
                        help="xl-crm report on the shipped sample, end to end (--no-sample: "
                        "skip it)")
    parser.add_argument("--spark-sizes", type=int, nargs="*", default=[],
                        help="Spark engine against DuckDB and pandas (e.g. 1000000 10000000)")
    args = parser.parse_args(argv)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, pandas {pd.__version__}, {platform.platform()}\n")
    print("| benchmark | rows | seconds | peak MB | reference | ref. seconds | ratio |")
    print("|---|---:|---:|---:|---|---:|---:|")
    frame = None
    for size in args.sizes:
        frame = transactions(size)
        secs, peak = timed(partial(full_analysis, frame), args.repeat)
        ref, _ = timed(partial(pandas_reference, frame), args.repeat)
        print(f"| full analysis | {len(frame):,} | {secs:.2f} | {peak:,.0f} | pandas groupby | "
              f"{ref:.2f} | {secs / ref:.2f} |", flush=True)
    if args.udf_rows and (frame is None or len(frame) > 2 * max(args.udf_rows)):
        frame = None  # the functions are timed on a frame of their size, not after 10M rows
        gc.collect()
        frame = transactions(max(args.udf_rows))
    for rows in args.udf_rows:
        cust, dates, amounts = as_lists(frame, min(rows, len(frame)))
        for name, call in (("CRM_RFM", partial(CRM_RFM, cust, dates, amounts)),
                           ("CRM_ABC", partial(CRM_ABC, cust, amounts))):
            secs, peak = timed(call, args.repeat)
            print(f"| {name} (2-D lists) | {len(cust):,} | {secs:.2f} | {peak:,.0f} | | | |",
                  flush=True)
    for size in args.duck_sizes:
        duck_rows(size, args.repeat)
    for customers in args.predict_customers:
        predict_rows(customers, args.repeat)
    for size in args.auto_sizes:
        auto_rows(size, args.repeat)
    for size in args.xlsx_sizes:
        xlsx_rows(size, args.repeat)
    for size in args.spark_sizes:
        spark_rows(size, args.repeat)
    if args.sample:
        sample_rows(max(args.repeat, 5))
    if args.button:
        button_rows(args.repeat)
    if args.report_customers:
        secs, peak = report_in_child(args.report_customers)
        result = analyze(sales_from_frame(
            generate_transactions(n_customers=args.report_customers), today=TODAY))
        out = Path(tempfile.mkdtemp(prefix="xl_crm_bench_"))
        ref = min(_seconds(partial(dump_cells, result, out / "dump.xlsx")) for _ in range(1))
        print(f"| report | {len(result.customers):,} customers | {secs:.2f} | {peak:,.0f} "
              f"(RSS) | openpyxl dump | {ref:.2f} | {secs / ref:.2f} |", flush=True)
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
