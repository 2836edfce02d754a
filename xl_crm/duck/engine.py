"""The DuckDB engine's entry point (:func:`read_facts`): the connection, the private
temporary folder, the typed table, the checks, the facts query and its result in the
pandas engine's layout.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from ..core.columns import column_letter, detect_columns
from ..core.constants import LABEL_FACTS, YEAR_DAYS
from ..core.errors import InputError, show_path
from ..core.facts import Facts, previous_date
from ..core.values import MAX_AMOUNT
from ..facts_query import (
    DAY_COLUMNS,
    facts_frame,
    facts_sql,
    rank_value,
    trend_from_rows,
    trend_query,
)
from .cells import (
    TEXT_ROLES,
    all_blank,
    clean_key,
    full_expr,
    iso_date,
    label_expr,
    local_time,
    number_expr,
    plain_id,
    plain_number,
    quantity_suspects,
    text_expr,
)
from .checks import CHECK_ORDER, count_checks, day_order, refuse
from .dialect import ident, quoted, trimmed, tx_columns
from .source import (
    Layout,
    csv_head,
    described_scan,
    duckdb_problem,
    empty_records,
    one_row_group,
    parquet_zones,
    relayout,
    renumbering,
    utf8_source,
)

T = TypeVar("T")



def _connect(threads: int | None = None):
    try:
        import duckdb
    except ImportError as err:
        raise InputError("the DuckDB engine needs duckdb: pip install duckdb") from err
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")  # nothing depends on the computer's zone
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


@contextmanager
def _private_folder() -> Iterator[Path]:
    """A new folder only this user can open (0700), removed afterwards whatever happens
    (an error, Ctrl-C, or SIGTERM/SIGHUP, which the command line raises as exceptions):
    DuckDB's spill files and a UTF-8 copy of the input, both customer data, live there
    instead of DuckDB's default ``.tmp`` in the current folder."""
    folder = Path(tempfile.mkdtemp(prefix="xl_crm_duckdb_"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _threads(con, threads: int | None, configured: int | None) -> Iterator[None]:
    """The block run by ``threads`` DuckDB threads (None: unchanged), then the connection's
    number put back: ``configured`` (as :func:`_connect` set it; None: DuckDB's default).
    Not after an error: :func:`read_facts` closes the connection then, and a statement on
    a failed connection would hide the error. (Asking DuckDB for the number costs 2.5 ms
    on a new connection, more than SET and RESET together.)"""
    if threads is None:
        yield
        return
    con.execute(f"SET threads = {int(threads)}")
    yield
    con.execute(f"SET threads = {int(configured)}" if configured else "RESET threads")


def read_facts(path: str | Path, as_of: object | None = None, monetary: str = "total",
               current_days: int = YEAR_DAYS, period_days: int = 90,
               mapping: Mapping[str, object] | None = None, today: dt.date | None = None,
               threads: int | None = None, compare: str = "none") -> tuple[Facts, str, dict]:
    """Facts of a CSV/Parquet file computed by DuckDB: (facts, value basis, source log).
    ``compare`` ("month", "week") adds the facts at the previous period end
    (:attr:`Facts.previous`), from the same typed table.

    The file is read once into a typed table; checks run as one aggregate over it, and
    only when a check fails (or rows must be listed) is the file read again with row
    numbers, to name the row. DuckDB's own errors (a malformed CSV line, ...) become an
    :class:`InputError` (:func:`duckdb_problem`).
    """
    import duckdb

    path = Path(path)
    try:
        if not path.exists():
            raise InputError(f"file not found: {show_path(path)}")
        with _private_folder() as folder:
            source, layout = utf8_source(path, folder), Layout()
            while True:
                con = _connect(threads)
                try:  # closed on every path: the typed table may hold gigabytes
                    con.execute(f"SET temp_directory = {quoted(folder)}")  # ours only
                    return _interruptible(con, _read_facts, con, source, as_of, monetary,
                                          (current_days, period_days, compare), mapping,
                                          today, threads, layout)
                except duckdb.Error as err:
                    source, layout = relayout(source, layout, str(err), folder) or (None, None)
                    if source is None:
                        raise
                finally:
                    con.close()
    except InputError as err:
        if str(err).startswith(path.name):
            raise
        raise InputError(f"{path.name}: {err}") from err
    except duckdb.Error as err:
        raise InputError(f"{path.name}: {duckdb_problem(str(err))}") from err


def _interruptible(con, work: Callable[..., T], *args: object) -> T:
    """``work(*args)`` run in a worker thread while this thread waits, so that Ctrl-C (and
    SIGTERM/SIGHUP, which the command line raises as exceptions) reaches Python at once:
    DuckDB's client notices a signal only when its query ends, which may take minutes on
    a large file. The query is interrupted and the worker waited for before the
    exception goes on."""
    done: dict[str, object] = {}
    finished = threading.Event()  # not Thread.join: a join cut short by Ctrl-C can leave
    # the thread marked as ended while it runs (CPython before 3.13)

    def run() -> None:
        try:
            done["value"] = work(*args)
        except BaseException as err:  # noqa: BLE001 (raised again by the waiting thread)
            done["error"] = err
        finally:
            finished.set()

    threading.Thread(target=run, name="xl_crm-duckdb", daemon=True).start()
    try:
        while not finished.wait(0.1):
            pass
    except BaseException:
        con.interrupt()
        while True:  # the query stops within milliseconds; a second signal waits too
            try:
                if finished.wait(0.1):
                    break
            except BaseException:  # noqa: BLE001 (the first signal is the one raised)
                con.interrupt()
        raise
    if "error" in done:
        raise done["error"]
    return done["value"]


def _read_facts(con, path: Path, as_of, monetary, windows: tuple[int, int, str], mapping,
                today, threads, layout: Layout) -> tuple[Facts, str, dict]:
    scan, described = described_scan(con, path, layout)
    with ThreadPoolExecutor(1) as pool:  # the empty lines are looked for meanwhile
        empty = pool.submit(empty_records, path)
        return _read_checked(con, path, scan, described, as_of, monetary, windows, mapping,
                             today, threads, empty)


def _read_checked(con, path: Path, scan: str, described, as_of, monetary,
                  windows: tuple[int, int, str], mapping, today, threads, empty_lines: Future
                  ) -> tuple[Facts, str, dict]:
    """:func:`_read_facts` once the reading is known; ``windows`` is (current_days,
    period_days, compare); ``empty_lines`` gives the file's empty records
    (:func:`empty_records`) when the row numbers are needed."""
    from ..core.rfm import to_timestamp

    current_days, period_days, compare = windows
    found = detect_columns([header for _, header, _ in described], mapping)
    cols = {role: ident(described[i][0]) for role, i in found.items()}
    label = {role: described[i][1] for role, i in found.items()}
    where = {role: f"{label[role]} (column {column_letter(i)})" for role, i in found.items()}
    kind = {role: described[i][2] for role, i in found.items()}
    zone = parquet_zones(path).get(described[found["date"]][0])
    if kind["date"] == "TIMESTAMP WITH TIME ZONE" and zone:
        # the calendar date in the column's own zone, as the pandas engine reads it
        cols["date"], kind["date"] = local_time(cols["date"], zone), "TIMESTAMP"
    # a file separated by ';' is written where the comma is the decimal mark: 1.500 is
    # refused as ambiguous, as the pandas engine refuses it
    comma = path.suffix.lower() == ".csv" and csv_head(path)[0] == ";"
    exprs = {role: full_expr(role, col, kind[role], comma_decimal=comma)
             for role, col in cols.items()
             if role in ("date", "amount", "cost", "profit", *TEXT_ROLES)}
    checked = [r for r in ("customer", "date", "amount", "cost", "profit") if r in cols]
    typed = {r: (cols[r], kind[r]) for r in exprs}
    # a quantity may be blank (no figure uses it) but not unreadable, as in the pandas
    # engine: the typed table keeps only the cells a cheap cast doubts, which the full
    # rule then judges (a typed column of numbers was judged by the cast itself)
    extra, optional = [], {}
    if "quantity" in cols:
        extra = [f"{quantity_suspects(cols['quantity'], kind['quantity'], comma)} AS quantity_raw"]
        number = number_expr("quantity_raw", "VARCHAR", comma)
        optional = {"quantity": "quantity_raw IS NOT NULL" + (
            f" AND ({number} IS NULL OR abs({number}) >= {MAX_AMOUNT:.0f})"
            if kind["quantity"] == "VARCHAR" else "")}
    blank = all_blank([(cols[r], kind[r]) for r in checked])
    # DuckDB reads a Parquet file of one row group with one thread, and more threads
    # only slow the table down (DuckDB 2.0, 2 cores, 100k lines: 48 ms with two threads,
    # 34 with one; a 1M-line file of one row group: as fast with one; of several row
    # groups: faster with two)
    with _threads(con, 1 if one_row_group(con, path) else None, threads):
        raw_customer, fix = _typed_table(con, scan, typed, blank, comma, extra)
    limit = today or dt.date.today()
    stamp = None if as_of is None else to_timestamp(as_of)
    ranged = checked + ["order_id"] * ("order_id" in cols)
    if "quantity" in cols:  # judged here on the file itself, when one is refused
        exprs["quantity"] = full_expr("quantity", cols["quantity"], kind["quantity"],
                                      comma_decimal=comma)
    counts = count_checks(con, checked, ranged, limit, stamp, fix[0] if fix else "false",
                          optional)
    day_first = None
    if counts["fix"]:  # cells the fast rules left to the full ones
        if "date" in fix[1]:
            day_first = day_order(con)
            exprs["date"] = full_expr("date", cols["date"], kind["date"], day_first)
        con.execute(_fix_update(*fix, day_first, comma))
        counts = count_checks(con, checked, ranged, limit, stamp, "false", optional)
    numbered = f"(SELECT *, row_number() OVER () + 1 AS rn FROM {scan})"
    empty = empty_lines.result()
    record = renumbering(empty)
    for role in CHECK_ORDER:  # the pandas engine's order
        if counts.get(role) or counts.get(f"{role}_range"):
            refuse(con, numbered, cols, exprs, role, blank, where[role], limit, day_first,
                   record, comma_decimal=comma)
    if counts["future"]:
        row, when = con.execute(f"SELECT rn, {exprs['date']} FROM {numbered} "
                                f"WHERE {exprs['date']} > DATE '{limit}' ORDER BY rn LIMIT 1"
                                ).fetchone()
        raise InputError(f"{when} is in the future (today is {limit})", where["date"],
                         record(int(row)))
    blank_rows = sorted([record(r[0]) for r in con.execute(
        f"SELECT rn FROM {numbered} WHERE {blank} ORDER BY rn").fetchall()] + empty) \
        if counts["blanks"] else empty
    rows_read = counts["rows"]
    if rows_read == 0:
        raise InputError("has no data rows (only a header or blank rows)", where["amount"])
    late, start = counts["late"], counts["start"]
    if stamp is None:
        if counts["last_buy"] is None:
            raise InputError("there is no purchase (amount > 0) to take the analysis date "
                             "from; give as_of")
        stamp = pd.Timestamp(counts["last_buy"])
        if counts["last"] > counts["last_buy"]:  # lines dated after the last purchase
            again = count_checks(con, checked, ranged, limit, stamp, "false")
            late, start = again["late"], again["start"]
    end = f"DATE '{stamp.date()}'"
    if start is None:
        raise InputError(f"every row is dated after the analysis date {stamp.date()}")
    late_rows = [record(r[0]) for r in con.execute(
        f"SELECT rn FROM {numbered} WHERE {exprs['date']} > {end} AND NOT ({blank}) "
        "ORDER BY rn LIMIT 1000").fetchall()] if late else []
    start = pd.Timestamp(start)
    basis = "profit" if ("cost" in found or "profit" in found) else "net sales"
    con.execute(f"CREATE OR REPLACE TEMP VIEW tx AS SELECT {tx_columns(found)} FROM typed "
                f"WHERE NOT blank AND date <= {end}")
    query = facts_sql(found, stamp, start, current_days, period_days)
    columns = _fetch_facts(con, query, found, raw_customer)
    if not columns["clean_id"].all():
        # ids that need trimming or NFC: clean them in the table and aggregate again
        con.execute(f"UPDATE typed SET customer = {text_expr('customer', 'VARCHAR')} "
                    f"WHERE NOT {plain_id('customer')}")
        empty = con.execute("SELECT count(*) FROM typed WHERE NOT blank AND customer = ''"
                            ).fetchone()[0]
        if empty:  # white space only
            refuse(con, numbered, cols, exprs, "customer", blank, where["customer"], limit,
                   day_first, record)
        columns = _fetch_facts(con, query, found, False)
    facts = facts_frame(columns, stamp, monetary)
    source = {"source": f"{path.name} (DuckDB)", "columns": dict(label),
              "rows_read": int(rows_read), "blank_rows": blank_rows}
    monthly = trend_from_rows(con.execute(trend_query(stamp)).fetchall(), stamp, start)
    before = previous_date(stamp, start, compare)
    previous = None
    if before is not None:  # the same table up to the previous period end
        con.execute(f"CREATE OR REPLACE TEMP VIEW tx AS SELECT {tx_columns(found)} FROM typed "
                    f"WHERE NOT blank AND date <= DATE '{before.date()}'")
        earlier = _fetch_facts(con, facts_sql(found, before, start, current_days, period_days,
                                              labels=False), found, False)
        previous = Facts(facts_frame(earlier, before, monetary), before, 0, (), start,
                         current_days, period_days)
    return (Facts(facts, stamp, int(late), tuple(late_rows), start, current_days,
                  period_days, previous, monthly), basis, source)


def _fetch_facts(con, query: str, found: Mapping[str, int],
                 check_ids: bool) -> dict[str, np.ndarray]:
    """The facts query's result as numpy arrays by column, in rank order (value
    descending, then customer id as text), which the analysis checks and then uses as it
    is: no sorting and no scattered reads of 1M customers. Also ``clean_id``: whether the
    customer id needs no trimming or normalising (:func:`clean_key`; always true without
    ``check_ids``)."""
    labels = [f"nfc_normalize({trimmed(r)}) AS {r}" for r in LABEL_FACTS]
    days = [f"{c} - DATE '1970-01-01' AS {c}" for c in DAY_COLUMNS]  # day numbers
    value = rank_value(found)
    return con.execute(f"SELECT * REPLACE ({', '.join(labels + days)}), "
                       f"{clean_key('customer') if check_ids else 'true'} AS clean_id "
                       f"FROM ({query}) "
                       f"ORDER BY {value} DESC, customer").fetchnumpy()


def _typed_table(con, scan: str, columns: Mapping[str, tuple[str, str]],
                 blank: str, comma_decimal: bool = False, extra: Sequence[str] = ()
                 ) -> tuple[bool, tuple[str, list[str]] | None]:
    """Table ``typed``: one row per line of the file, in its order (``rowid``), a column
    per role (DATE, DOUBLE, cleaned text) and ``blank`` (every checked cell empty).

    Text dates and numbers take two steps, so that the common cells cost one cast: the
    first pass casts ISO dates and plain decimals and keeps the text of the other cells
    (thousands separators, exponents, other date formats) in
    ``<role>_raw``; an UPDATE then converts those few by the full rules
    of :func:`date_expr` and :func:`number_expr`, which give the same value for the cells
    the fast rule accepts. The condition of the rows it changes and the roles to
    convert are returned, for the caller to run :func:`_fix_update` when the checks find
    such rows (its long SET costs planning: most files need none). Names and regions lose leading white space here
    and trailing white space after the aggregation (see :func:`label_expr`). Text
    customer ids are stored as they are ('' when empty): the facts query tests the
    aggregated ids (826k customers instead of 10M lines), and only when one needs
    trimming or NFC does :func:`_read_facts` clean them here and aggregate again. Returns
    whether they were stored so, and the fix-up (condition, roles) or None.
    """
    select, fixes, raw = [], [], False
    for role, (col, kind) in columns.items():
        if role in LABEL_FACTS and kind == "VARCHAR":
            select.append(f"{label_expr(col)} AS {role}")
            continue
        if role == "customer" and kind == "VARCHAR":
            select.append(f"coalesce({col}, '') AS {role}")
            raw = True
            continue
        if kind != "VARCHAR" or role in TEXT_ROLES:  # typed cells and ids: one expression
            select.append(f"{full_expr(role, col, kind, comma_decimal=comma_decimal)} AS {role}")
            continue
        if role == "date":
            fast, ok = f"TRY_CAST({col} AS DATE)", iso_date(col)
        else:
            fast = f"TRY_CAST({col} AS DOUBLE)"
            ok = plain_number(col, comma_decimal)
        select += [f"{fast} AS {role}", f"CASE WHEN {ok} THEN NULL ELSE {col} END AS {role}_raw"]
        fixes.append(role)
    first = ", ".join([*select, *extra])
    con.execute(f"CREATE TEMP TABLE typed AS SELECT {first}, {blank} AS blank FROM {scan}")
    if not fixes:
        return raw, None
    return raw, (" OR ".join(f"{r}_raw IS NOT NULL" for r in fixes), fixes)


def _fix_update(where: str, fixes: list[str], day_first: bool | None,
                comma_decimal: bool = False) -> str:
    """The UPDATE converting the ``<role>_raw`` cells of :func:`_typed_table` by the full
    rules, dates with ``day_first`` (:func:`day_order`)."""
    sets = ", ".join(f"{r} = CASE WHEN {r}_raw IS NULL THEN {r} ELSE "
                     f"{full_expr(r, r + '_raw', 'VARCHAR', day_first, comma_decimal)} END"
                     for r in fixes)
    return f"UPDATE typed SET {sets} WHERE {where}"
