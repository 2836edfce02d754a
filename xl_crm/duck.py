"""The DuckDB engine (``--engine duckdb``): CSV or Parquet files of any size, aggregated to
per-customer facts in SQL; the facts then go through the normal core
(:func:`xl_crm.core.analysis.analyze_facts`), so results equal the pandas engine's.

DuckDB streams the file and spills to disk, so inputs may be larger than memory. The
aggregation is one plain SQL query over a ``tx`` relation (``customer, date, amount,
order_key, value, cost, profit, name, region``) with standard aggregates, ``FILTER``
clauses, ``median`` and one ``lag`` window: the same text runs on Spark SQL or Trino once
``tx`` is defined there (see :func:`facts_sql` and the README).

Rules of this engine, beyond the pandas engine's:
- the header is the file's first row (no title rows above it);
- cells are read by the pandas engine's rules: dates as date columns, Excel serial
  numbers or text (``2025-03-01``, ``2025/3/1``, ``2025.3.1``, ``20250301``,
  ``2025年3月1日``, day or month first as ``13/03/2025`` with the order decided per
  column); amounts as numbers or text with thousands separators. Currency signs,
  accounting parentheses and full-width digits are read by the pandas engine only; here
  they are refused naming the column and row;
- every refusal is worded as the pandas engine words it: the flagged cells are handed to
  its parsers (:func:`_refuse`);
- CSV files are UTF-8, UTF-16, GB18030 or cp1252 (:func:`_utf8`); the delimiter is found
  as the pandas engine finds it (:func:`xl_crm.files.csv_delimiter`). Rows shorter than
  the header have blank cells; a file DuckDB's reader refuses (more cells than the
  header, lines ending in different ways, a stray quote) is read as Python's csv reads
  it, as the pandas engine does (:func:`_relayout`);
- the facts come back in rank order (value descending, then customer id as text), which
  :func:`xl_crm.core.tiers.rank_order` checks in one pass instead of sorting;
- row numbers count the file's records, the header being 1, as Excel shows the file
  (DuckDB keeps the file's order and skips empty lines, which are counted back in:
  :func:`_empty_records`); Ctrl-C stops a running query at once (:func:`_interruptible`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import mmap
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from .core.columns import column_letter, detect_columns
from .core.constants import MONEY_DECIMALS, YEAR_DAYS
from .core.errors import InputError, clip, show
from .core.facts import Facts
from .core.grouping import money
from .core.values import MAX_AMOUNT, MAX_SERIAL
from .files import csv_delimiter, csv_encoding, csv_problem

T = TypeVar("T")
DATE_FORMATS = ("%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
# the pandas engine's date patterns (xl_crm.core.values) in DuckDB's regular
# expressions: an optional time of day with its UTC offset; a four-digit year first;
# day or month first with a four-digit year last
TIME_OF_DAY = (r"([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
               r"(\s?(Z|[+-][0-9]{2}(:?[0-9]{2})?))?)?")
YEAR_FIRST = r"[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}" + TIME_OF_DAY
YEAR_LAST = r"([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})" + TIME_OF_DAY
# the white space trimmed around text cells: what Python's str.strip() removes, as the
# pandas engine does (one literal holding the characters themselves)
_SPACES = [c for c in range(0x3001) if chr(c).isspace()]
SPACE = "'" + "".join(chr(c) for c in _SPACES) + "'"
# code points that are certainly not white space: a cell starting and ending with one
# needs no trimming (the fast path; CASE evaluates its ELSE only for the other rows).
# NOT IN costs a little planning per use, but a chain of comparisons measured slower
# on 10M-line files.
_SOLID = ("(CASE WHEN {o} BETWEEN 33 AND 132 THEN true ELSE {o} > 160 AND {o} NOT IN ("
          + ", ".join(str(c) for c in _SPACES if c > 160) + ") END)")
TEXT_ROLES = ("customer", "order_id", "name", "region")
DAY_COLUMNS = ("first_purchase", "last_purchase", "first_seen", "last_before_cut")


def _solid_ends(text: str) -> str:
    """Whether the text starts and ends with a character that is not white space."""
    return " AND ".join(_SOLID.format(o=f"ord({e})") for e in (text, f"{text}[-1]"))


def _trimmed(text: str) -> str:
    """``text`` without surrounding white space, trimming only cells that have some."""
    return f"(CASE WHEN {_solid_ends(text)} THEN {text} ELSE trim({text}, {SPACE}) END)"


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


def _utf8(path: Path, folder: Path) -> Path:
    """``path`` itself when it is Parquet or UTF-8 CSV, else a UTF-8 copy of it in
    ``folder`` under the same name (DuckDB reads UTF-8 only). The encoding is the one the
    pandas engine finds (:func:`xl_crm.files.csv_encoding` on the first MB: UTF-16,
    GB18030 or cp1252); line ends are copied as they are, so rows keep their numbers."""
    if path.suffix.lower() != ".csv":
        return path
    with path.open("rb") as file:
        head = file.read(1 << 20)
    try:
        codec = csv_encoding(head)
    except InputError as err:
        raise InputError(f"{path.name} {err}") from err
    if codec in ("utf-8", "utf-8-sig"):
        return path
    copy = folder / path.name
    try:
        with path.open(encoding=codec, newline="") as source, \
                copy.open("w", encoding="utf-8", newline="") as target:
            shutil.copyfileobj(source, target, 1 << 20)
    except UnicodeDecodeError as err:
        raise InputError(f"{path.name} is not {codec} text throughout (a byte at "
                         f"{err.start:,} of a later part does not fit); save it as CSV "
                         "UTF-8") from err
    return copy


def _scan(path: Path) -> str:
    """The file as DuckDB reads it by itself, detecting a CSV file's dialect and headers
    (every cell as text): the reading a user would write (the benchmark's bare query)."""
    quoted = _quoted(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return (f"read_csv({quoted}, header = true, skip = 0, quote = '\"', escape = '\"', "
                "all_varchar = true)")
    if suffix == ".parquet":
        return f"read_parquet({quoted})"
    raise InputError(f"{path.name}: the DuckDB engine reads .csv and .parquet files")


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@dataclass(frozen=True)
class Layout:
    """How DuckDB is told to read a CSV file, changed by :func:`_relayout` when DuckDB
    refuses a file the pandas engine reads: ``width``, the number of columns (None: the
    header's; more when later rows end in empty cells); ``pad``, rows shorter than the
    header read with blank cells (DuckDB's ``null_padding``, off until a file needs it:
    it costs about 4 % on a 5M-line file); ``parallel`` (DuckDB's parallel reader refuses
    padding where a quoted cell holds a line break)."""

    width: int | None = None
    pad: bool = False
    parallel: bool = True


def _described_scan(con, path: Path, layout: Layout = Layout()
                    ) -> tuple[str, list[tuple[str, str, str]]]:
    """The file's reading and its columns as (SQL name, header, DuckDB type).

    CSV: the delimiter and headers are read here from the file's first line
    (:func:`_csv_head`), so DuckDB reads the file once, without detecting its dialect
    (that detection reads up to 32 MB: 20 to 30 ms); the columns are named ``c0``, ``c1``,
    ... in SQL, so headers that repeat or need quoting are the user's to name. Rows
    shorter than the header get NULL (blank) cells, as in the pandas engine."""
    if path.suffix.lower() == ".csv":
        delimiter, new_line, headers = _csv_head(path)
        if not headers:
            raise InputError(f"{path.name}: the first line is empty; the DuckDB engine takes "
                             "the headers from the first line" if path.stat().st_size else
                             f"{path.name} is empty")
        names = [f"c{i}" for i in range(max(len(headers), layout.width or 0))]
        columns = ", ".join(f"'{n}': 'VARCHAR'" for n in names)
        extra = (", null_padding = true" if layout.pad else "") + \
            ("" if layout.parallel else ", parallel = false")
        scan = (f"read_csv({_quoted(path)}, auto_detect = false, header = true, skip = 0, "
                f"delim = '{delimiter}', new_line = '{new_line}', quote = '\"', escape = '\"', "
                f"comment = '', columns = {{{columns}}}, all_varchar = true{extra})")
        return scan, [(n, h, "VARCHAR") for n, h in zip(names, headers)]
    scan = _scan(path)
    return scan, [(r[0], r[0], r[1])
                  for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]


def _one_row_group(con, path: Path) -> bool:
    """Whether ``path`` is a ``.parquet`` file whose metadata has exactly one row group."""
    if path.suffix.lower() != ".parquet":
        return False
    return con.execute(f"SELECT num_row_groups FROM parquet_file_metadata({_quoted(path)})"
                       ).fetchone()[0] == 1


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


def _csv_head(path: Path) -> tuple[str, str, list[str]]:
    """(delimiter, line end, headers) of a UTF-8 CSV file: the delimiter as the pandas
    engine finds it (:func:`xl_crm.files.csv_delimiter`, which reads at most 64 K
    characters: the 256 KB read here hold them); the line end (``\\n``, ``\\r\\n`` or
    ``\\r``, escaped for DuckDB) and the headers of the first line (its first record: a
    quoted header may hold a line break). DuckDB must be told the line end: told a wrong
    one, it reads no rows and says nothing; a line ending otherwise later in the file is
    an error. Reads more only when the first record is longer. Raises
    :class:`InputError` when the text is not UTF-8 or the first line is not a header."""
    size = (1 << 18) + 16
    while True:
        with path.open("rb") as file:
            raw = file.read(size)
        whole = len(raw) < size
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            if whole or err.start < len(raw) - 4:  # not a character cut by the read
                raise InputError(f"{path.name} is not UTF-8 text; the DuckDB engine reads "
                                 "UTF-8 CSV files (use --engine pandas for GB18030, or save "
                                 "the file as CSV UTF-8)") from err
            text = raw[:err.start].decode("utf-8")
        text = text.removeprefix("\ufeff")  # Excel's "CSV UTF-8" starts with a BOM
        delimiter = csv_delimiter(text)
        buffer = io.StringIO(text, newline="")
        try:
            first = next(csv.reader(buffer, delimiter=delimiter), [])
        except csv.Error as err:  # a header cell over 128 K characters
            raise InputError(f"{path.name}: the first line is not a header row ({err}: an "
                             "unterminated quote?)") from err
        end = buffer.tell()
        if whole or end < len(text):  # the first record ends inside the text
            line = text[:end]
            new_line = "\\r\\n" if line.endswith("\r\n") else "\\r" if line.endswith("\r") \
                else "\\n"
            return delimiter, new_line, first
        size *= 8


def _parquet_zones(path: Path) -> dict[str, str]:
    """Column -> time zone of a Parquet file's zoned timestamp columns, from the Arrow
    schema pandas and Spark write (Parquet itself stores only UTC instants); empty for
    CSV files, without pyarrow, or when the file names no zone (then UTC is the zone)."""
    if path.suffix.lower() != ".parquet":
        return {}
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return {}
    zones = {}
    for field in pq.read_schema(path):
        zone = getattr(field.type, "tz", None)
        if zone:
            zones[field.name] = zone
    return zones


def _local_time(col: str, zone: str) -> str:
    """The wall-clock time of a zoned timestamp in ``zone``: a named zone
    (``Asia/Tokyo``) through DuckDB's time zones, a fixed offset (``+08:00``, ``-0530``,
    as pandas writes ``datetime.timezone`` columns; DuckDB names no such zone) by adding
    the offset to the UTC time (the connection's zone)."""
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
    if offset is None:
        return f"timezone({_quoted(zone)}, {col})"
    minutes = int(offset.group(2)) * 60 + int(offset.group(3))
    sign = "-" if offset.group(1) == "-" else "+"
    return f"(CAST({col} AS TIMESTAMP) {sign} INTERVAL {minutes} MINUTE)"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _date_expr(col: str, kind: str, day_first: bool | None = None) -> str:
    """A date cell's DATE by the full rules; day-or-month-first text (``13/03/2025``,
    a four-digit year last) read in the ``day_first`` order, and not at all when None."""
    if kind in ("DATE",) or kind.startswith("TIMESTAMP"):
        return f"CAST({col} AS DATE)"
    if kind in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "DECIMAL") or \
            kind.startswith("DECIMAL"):
        return _serial_expr(col)
    text = _trimmed(f"CAST({col} AS VARCHAR)")
    # DuckDB before 2.0 casts text with anything after a date ('2025-03-01x',
    # '2025-03-01 BC') to that date: its casts see only text of the pandas engine's shape
    shaped = f"regexp_full_match({text}, '{YEAR_FIRST}')"
    tries = [f"CASE WHEN {shaped} THEN TRY_CAST({text} AS DATE) END",
             f"CASE WHEN {shaped} THEN CAST(TRY_CAST({text} AS TIMESTAMP) AS DATE) END"]
    tries += [f"CAST(try_strptime({text}, '{f}') AS DATE)" for f in DATE_FORMATS]
    serial = f"TRY_CAST({text} AS DOUBLE)"
    tries.append(f"CASE WHEN regexp_full_match({text}, '[0-9]+(\\.[0-9]+)?') THEN "
                 f"{_serial_expr(serial)} END")
    fast = f"TRY_CAST({text} AS DATE)"  # ISO dates, the common case, need nothing else
    day, month = (1, 2) if day_first else (2, 1)
    year_last = "NULL" if day_first is None else (
        f"TRY_CAST(regexp_extract({text}, '{YEAR_LAST}', 3) || '-' || "
        f"regexp_extract({text}, '{YEAR_LAST}', {month}) || '-' || "
        f"regexp_extract({text}, '{YEAR_LAST}', {day}) AS DATE)")
    return (f"CASE WHEN {_iso_date(text)} THEN {fast} "
            f"WHEN regexp_full_match({text}, '{YEAR_LAST}') THEN {year_last} "
            f"ELSE coalesce({', '.join(tries)}) END")


def _iso_date(col: str) -> str:
    """Whether a text cell is exactly an ISO date (``2025-03-01``), the fast path: its
    DATE written back is the text itself. (DuckDB before 2.0 casts ``2025-03-01x`` to
    a date; a comparison measured cheaper than a regular expression on 10M lines.)"""
    return f"CAST(TRY_CAST({col} AS DATE) AS VARCHAR) = {col}"


def _serial_expr(number: str) -> str:
    """The date of an Excel 1900-system serial number (fractions are times of day):
    1..59 count from 1899-12-31, 61..2958465 (9999-12-31) from 1899-12-30; 60, Excel's
    fictitious 1900-02-29, and numbers outside are NULL (refused)."""
    return (f"CASE WHEN {number} >= 61 AND {number} < {MAX_SERIAL + 1} THEN DATE '1899-12-30'"
            f" + CAST(floor({number}) AS INTEGER) WHEN {number} >= 1 AND {number} < 60 THEN "
            f"DATE '1899-12-31' + CAST(floor({number}) AS INTEGER) END")


def _number_expr(col: str, kind: str) -> str:
    if kind in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT") or \
            kind.startswith("DECIMAL"):
        return f"CAST({col} AS DOUBLE)"
    text = _trimmed(f"CAST({col} AS VARCHAR)")
    plain = f"CASE WHEN regexp_full_match({text}, '[+-]?([0-9]{{1,3}}(,[0-9]{{3}})+|[0-9]+)" \
            f"(\\.[0-9]+)?([eE][+-]?[0-9]+)?|[+-]?\\.[0-9]+') " \
            f"THEN replace({text}, ',', '') END"
    return f"TRY_CAST({plain} AS DOUBLE)"


def _text_expr(col: str, kind: str) -> str:
    """Ids and labels as the pandas engine cleans them: trimmed, NFC, blank as ''."""
    if kind in ("DOUBLE", "FLOAT"):  # typed Parquet columns: 1001.0 is "1001", and an
        # integral float the integer text of its exact value, as Python's str(int(v))
        return (f"coalesce(CASE WHEN {col} = floor({col}) AND abs({col}) < 1e38 THEN "
                f"CAST(CAST({col} AS HUGEINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END, '')")
    if kind.startswith("DECIMAL"):  # as Python's Decimal: 7.00 is "7", 1.50 is "1.5"
        return (f"coalesce(CASE WHEN {col} = floor({col}) THEN CAST(CAST({col} AS HUGEINT) "
                f"AS VARCHAR) ELSE rtrim(CAST({col} AS VARCHAR), '0') END, '')")
    text = f"CAST({col} AS VARCHAR)" if kind != "VARCHAR" else col
    # the common id (printable ASCII at both ends, ASCII throughout: nothing to trim or
    # normalise) costs three cheap tests; the others take the full rule
    return (f"CASE WHEN {_plain_id(text)} THEN {text} "
            f"ELSE coalesce(nfc_normalize({_trimmed(text)}), '') END")


def read_facts(path: str | Path, as_of: object | None = None, monetary: str = "total",
               current_days: int = YEAR_DAYS, period_days: int = 90,
               mapping: Mapping[str, object] | None = None, today: dt.date | None = None,
               threads: int | None = None) -> tuple[Facts, str, dict]:
    """Facts of a CSV/Parquet file computed by DuckDB: (facts, value basis, source log).

    The file is read once into a typed table; checks run as one aggregate over it, and
    only when a check fails (or rows must be listed) is the file read again with row
    numbers, to name the row. DuckDB's own errors (a malformed CSV line, ...) become an
    :class:`InputError` (:func:`_duckdb_problem`).
    """
    import duckdb

    path = Path(path)
    try:
        if not path.exists():
            raise InputError(f"file not found: {path}")
        with _private_folder() as folder:
            source, layout = _utf8(path, folder), Layout()
            while True:
                con = _connect(threads)
                try:  # closed on every path: the typed table may hold gigabytes
                    con.execute(f"SET temp_directory = {_quoted(folder)}")  # ours only
                    return _interruptible(con, _read_facts, con, source, as_of, monetary,
                                          current_days, period_days, mapping, today, threads,
                                          layout)
                except duckdb.Error as err:
                    source, layout = _relayout(source, layout, str(err), folder) or (None, None)
                    if source is None:
                        raise
                finally:
                    con.close()
    except InputError as err:
        if str(err).startswith(path.name):
            raise
        raise InputError(f"{path.name}: {err}") from err
    except duckdb.Error as err:
        raise InputError(f"{path.name}: {_duckdb_problem(str(err))}") from err


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


def _relayout(source: Path, layout: Layout, message: str,
              folder: Path) -> tuple[Path, Layout] | None:
    """How to read ``source`` again after DuckDB refused it with ``message``, or None
    when reading it again would not help (the error is then the user's to see):

    - a row with fewer cells than the header: read again with blank cells for the
      missing ones (:class:`Layout`);
    - a row with more cells than the header: the file is read record by record (Python's
      csv, as the pandas engine reads it); the first row with a non-blank cell beyond the
      header is refused in the pandas engine's words, ``row N: has K cells but the header
      has W`` (N counts records, as Excel shows the file); when every extra cell is blank
      (as Excel writes ragged sheets) the file is read again that wide;
    - short rows where a quoted cell holds a line break: read again without DuckDB's
      parallel reader, which refuses them;
    - any other malformed CSV (lines ending in different ways, ``\\r\\n`` and ``\\n``; a
      stray quote): a copy is written to ``folder`` as Python's csv reads the file, which
      is how the pandas engine reads such files (records ending in ``\\n``, cells keeping
      their line breaks), and DuckDB reads the copy."""
    if source.suffix.lower() != ".csv":
        return None
    cells = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if cells and int(cells.group(2)) < int(cells.group(1)) and not layout.pad:
        return source, replace(layout, pad=True)
    if cells and layout.width is None:
        return source, replace(layout, width=_widest_record(source))
    if "null_padding in conjunction with quoted new lines" in message and layout.parallel:
        return source, replace(layout, parallel=False)
    malformed = "CSV Error on Line" in message or "state machine reached an invalid" in message
    if malformed and source.parent != folder / "lines":
        return _one_line_end(source, folder / "lines"), layout
    return None


def _widest_record(source: Path) -> int:
    """The most cells any record of the CSV file has, after refusing the first record
    with a non-blank cell beyond the header (see :func:`_relayout`)."""
    delimiter, _, headers = _csv_head(source)
    width, widest = len(headers), len(headers)
    with source.open(encoding="utf-8-sig", newline="") as file:
        try:
            for number, record in enumerate(csv.reader(file, delimiter=delimiter), start=1):
                if len(record) > width:
                    if any(cell.strip() for cell in record[width:]):
                        raise InputError(f"has {len(record)} cells but the header has {width}",
                                         row=number)
                    widest = max(widest, len(record))
        except csv.Error as err:  # a cell over 128 K characters
            raise InputError(csv_problem(err)) from err
    return widest


def _empty_records(source: Path) -> list[int]:
    """Record numbers (the header is 1) of the CSV file's empty lines, which DuckDB skips
    but the pandas engine counts as blank rows, as Excel shows them; [] for Parquet. A
    quick byte search settles most files (no two line ends in a row: 0.16 s for 240 MB,
    run beside DuckDB's reading by :func:`_read_facts`); only a file with some is read
    record by record."""
    if source.suffix.lower() != ".csv":
        return []
    delimiter, new_line, _ = _csv_head(source)
    end = {"\\n": b"\n", "\\r\\n": b"\r\n", "\\r": b"\r"}[new_line]
    with source.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data.find(end * 2) < 0:
            return []
    with source.open(encoding="utf-8-sig", newline="") as file:
        return [n for n, record in enumerate(csv.reader(file, delimiter=delimiter), start=1)
                if not record]


def _renumbering(empty: list[int]) -> Callable[[int], int]:
    """DuckDB's row number (records without the empty ones, the header being 1) to the
    record number the pandas engine and Excel show, given the empty records."""
    def record(row: int) -> int:
        for line in empty:  # ascending: each empty line at or before the row moves it down
            if line <= row:
                row += 1
        return row
    return record


def _one_line_end(source: Path, folder: Path) -> Path:
    """A copy of the CSV file in ``folder``, same name, every record ending in ``\\n``
    (cells as they are, quoted where they hold a delimiter, a quote or a line break)."""
    delimiter, _, _ = _csv_head(source)
    folder.mkdir(mode=0o700)
    copy = folder / source.name
    with source.open(encoding="utf-8-sig", newline="") as file, \
            copy.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        try:
            writer.writerows(csv.reader(file, delimiter=delimiter))
        except csv.Error as err:
            raise InputError(f"cannot be read as CSV: {err}") from err
    return copy


def _duckdb_problem(message: str) -> str:
    """DuckDB's error in the user's terms: a malformed CSV line as ``row N ('line') why``
    (DuckDB counts the file's lines, the header being line 1), a file DuckDB cannot
    parse with the first line's dialect as such, anything else as DuckDB's first lines.
    DuckDB quotes the whole offending line, which may hold a 1 MB cell: the line is cut
    to 80 characters, DuckDB's explanations to 200."""
    lines = [line.strip() for line in message.strip().splitlines()]
    row = re.match(r".*CSV Error on Line: (\d+)", lines[0]) if lines else None
    if row:
        cells = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
        if cells:  # the pandas engine's message, word for word
            return (f"row {row.group(1)}: has {cells.group(2)} cells but the header has "
                    f"{cells.group(1)}")
        else:  # the line after DuckDB's quote of the line says what is wrong
            said = [line for line in lines[2:] if line and not line.startswith("Possible")]
            why = ": " + (clip(said[0].rstrip(".").lower(), 200) if said else "cannot be read")
        quoted = next((line for line in lines if line.startswith("Original Line: ")), "")
        line = f" ({clip(quoted.removeprefix('Original Line: '), 80)!r})" if quoted else ""
        return f"row {row.group(1)}{line}{why}"
    if "state machine reached an invalid state" in message:  # no line to name
        return ("DuckDB cannot parse it with the dialect of its first line: do all lines "
                "end alike (\\n or \\r\\n)? Are quotes doubled inside quoted cells? "
                "(--engine pandas reads more files)")
    detail = " ".join(clip(line, 200) for line in lines[:2]) if lines else "unknown error"
    return f"DuckDB cannot read it: {detail}"


def _read_facts(con, path: Path, as_of, monetary, current_days, period_days, mapping,
                today, threads, layout: Layout) -> tuple[Facts, str, dict]:
    scan, described = _described_scan(con, path, layout)
    with ThreadPoolExecutor(1) as pool:  # the empty lines are looked for meanwhile
        empty = pool.submit(_empty_records, path)
        return _read_checked(con, path, scan, described, as_of, monetary, current_days,
                             period_days, mapping, today, threads, empty)


def _read_checked(con, path: Path, scan: str, described, as_of, monetary, current_days,
                  period_days, mapping, today, threads, empty_lines: Future
                  ) -> tuple[Facts, str, dict]:
    """:func:`_read_facts` once the reading is known; ``empty_lines`` gives the file's
    empty records (:func:`_empty_records`) when the row numbers are needed."""
    from .core.rfm import to_timestamp

    found = detect_columns([header for _, header, _ in described], mapping)
    cols = {role: _ident(described[i][0]) for role, i in found.items()}
    label = {role: described[i][1] for role, i in found.items()}
    where = {role: f"{label[role]} (column {column_letter(i)})" for role, i in found.items()}
    kind = {role: described[i][2] for role, i in found.items()}
    zone = _parquet_zones(path).get(described[found["date"]][0])
    if kind["date"] == "TIMESTAMP WITH TIME ZONE" and zone:
        # the calendar date in the column's own zone, as the pandas engine reads it
        cols["date"], kind["date"] = _local_time(cols["date"], zone), "TIMESTAMP"
    exprs = {role: _full_expr(role, col, kind[role]) for role, col in cols.items()
             if role in ("date", "amount", "cost", "profit", *TEXT_ROLES)}
    checked = [r for r in ("customer", "date", "amount", "cost", "profit") if r in cols]
    blank = _all_blank([(cols[r], kind[r]) for r in checked])
    # DuckDB reads a Parquet file of one row group with one thread, and more threads
    # only slow the table down (DuckDB 2.0, 2 cores, 100k lines: 48 ms with two threads,
    # 34 with one; a 1M-line file of one row group: as fast with one; of several row
    # groups: faster with two)
    with _threads(con, 1 if _one_row_group(con, path) else None, threads):
        raw_customer, fix = _typed_table(con, scan, {r: (cols[r], kind[r]) for r in exprs},
                                         blank)
    limit = today or dt.date.today()
    stamp = None if as_of is None else to_timestamp(as_of)
    ranged = checked + ["order_id"] * ("order_id" in cols)
    counts = _checks(con, checked, ranged, limit, stamp, fix[0] if fix else "false")
    day_first = None
    if counts["fix"]:  # cells the fast rules left to the full ones
        if "date" in fix[1]:
            day_first = _day_order(con)
            exprs["date"] = _full_expr("date", cols["date"], kind["date"], day_first)
        con.execute(_fix_update(*fix, day_first))
        counts = _checks(con, checked, ranged, limit, stamp, "false")
    numbered = f"(SELECT *, row_number() OVER () + 1 AS rn FROM {scan})"
    empty = empty_lines.result()
    record = _renumbering(empty)
    for role in _CHECK_ORDER:  # the pandas engine's order
        if counts.get(role) or counts.get(f"{role}_range"):
            _refuse(con, numbered, cols, exprs, role, blank, where[role], limit, day_first,
                    record)
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
            again = _checks(con, checked, ranged, limit, stamp, "false")
            late, start = again["late"], again["start"]
    end = f"DATE '{stamp.date()}'"
    if start is None:
        raise InputError(f"every row is dated after the analysis date {stamp.date()}")
    late_rows = [record(r[0]) for r in con.execute(
        f"SELECT rn FROM {numbered} WHERE {exprs['date']} > {end} AND NOT ({blank}) "
        "ORDER BY rn LIMIT 1000").fetchall()] if late else []
    start = pd.Timestamp(start)
    basis = "profit" if ("cost" in found or "profit" in found) else "net sales"
    con.execute(f"CREATE TEMP VIEW tx AS SELECT {_tx_columns(found)} FROM typed "
                f"WHERE NOT blank AND date <= {end}")
    query = facts_sql(found, stamp, start, current_days, period_days)
    columns = _fetch_facts(con, query, found, raw_customer)
    if not columns["clean_id"].all():
        # ids that need trimming or NFC: clean them in the table and aggregate again
        con.execute(f"UPDATE typed SET customer = {_text_expr('customer', 'VARCHAR')} "
                    f"WHERE NOT {_plain_id('customer')}")
        empty = con.execute("SELECT count(*) FROM typed WHERE NOT blank AND customer = ''"
                            ).fetchone()[0]
        if empty:  # white space only
            _refuse(con, numbered, cols, exprs, "customer", blank, where["customer"], limit,
                    day_first, record)
        columns = _fetch_facts(con, query, found, False)
    facts = _to_facts(columns, stamp, monetary)
    source = {"source": f"{path.name} (DuckDB)", "columns": dict(label),
              "rows_read": int(rows_read), "blank_rows": blank_rows}
    return (Facts(facts, stamp, int(late), tuple(late_rows), start, current_days,
                  period_days), basis, source)


def _checks(con, checked: list[str], ranged: list[str], limit: dt.date,
            as_of: pd.Timestamp | None, fix: str) -> dict:
    """One pass over ``typed`` counting what the checks need: ``rows`` (not blank),
    ``blanks``, ``future`` (dated after ``limit``, today), ``last_buy`` (latest purchase),
    ``last`` (latest date), ``fix`` (rows matching ``fix``, an SQL condition), per checked
    role the rows whose cell is missing or unreadable, per ``ranged`` role those breaking
    :data:`RANGE_RULES` (``<role>_range``), and ``late``/``start`` (rows after
    ``as_of`` and the earliest date up to it; without ``as_of``: none and the earliest
    date, right when no line is dated after the last purchase, ``last <= last_buy``)."""
    end = f"DATE '{as_of.date()}'" if as_of is not None else None
    parts = {"rows": "count(*) FILTER (WHERE NOT blank)",
             "blanks": "count(*) FILTER (WHERE blank)",
             "future": f"count(*) FILTER (WHERE NOT blank AND date > DATE '{limit}')",
             "last_buy": "max(date) FILTER (WHERE NOT blank AND amount > 0)",
             "last": "max(date) FILTER (WHERE NOT blank)",
             "fix": f"count(*) FILTER (WHERE NOT blank AND ({fix}))",
             "late": f"count(*) FILTER (WHERE NOT blank AND date > {end})" if end else "0",
             "start": f"min(date) FILTER (WHERE NOT blank AND date <= {end})" if end
             else "min(date) FILTER (WHERE NOT blank)"}
    parts.update({r: f"count(*) FILTER (WHERE NOT blank AND {_unreadable(r, r)})"
                  for r in checked})
    parts.update({f"{r}_range": f"count(*) FILTER (WHERE NOT blank AND {RANGE_RULES[r][0](r)})"
                  for r in ranged})
    values = con.execute(f"SELECT {', '.join(parts.values())} FROM typed").fetchone()
    return dict(zip(parts, values))


def _fetch_facts(con, query: str, found: Mapping[str, int],
                 check_ids: bool) -> dict[str, np.ndarray]:
    """The facts query's result as numpy arrays by column, in rank order (value
    descending, then customer id as text), which the analysis checks and then uses as it
    is: no sorting and no scattered reads of 1M customers. Also ``clean_id``: whether the
    customer id needs no trimming or normalising (:func:`_clean_key`; always true without
    ``check_ids``)."""
    labels = [f"nfc_normalize({_trimmed(r)}) AS {r}" for r in ("name", "region")]
    days = [f"{c} - DATE '1970-01-01' AS {c}" for c in DAY_COLUMNS]  # day numbers
    value = ("profit" if "profit" in found else f"round(net_sales - cost, {MONEY_DECIMALS})"
             if "cost" in found else "net_sales")
    return con.execute(f"SELECT * REPLACE ({', '.join(labels + days)}), "
                       f"{_clean_key('customer') if check_ids else 'true'} AS clean_id "
                       f"FROM ({query}) "
                       f"ORDER BY {value} DESC, customer").fetchnumpy()


def _plain_id(text: str) -> str:
    """Whether an id is printable ASCII at both ends and ASCII throughout: nothing to
    trim or normalise (three cheap tests; the common id)."""
    return (f"(ord({text}) BETWEEN 33 AND 126 AND ord({text}[-1]) BETWEEN 33 AND 126 "
            f"AND strlen({text}) = length({text}))")


def _clean_key(text: str) -> str:
    """Whether an aggregated id needs no cleaning: a plain id, or (Chinese ids, ...) one
    that starts and ends with a character that is not white space and is already NFC."""
    return f"({_plain_id(text)} OR ({_solid_ends(text)} AND nfc_normalize({text}) = {text}))"


def _typed_table(con, scan: str, columns: Mapping[str, tuple[str, str]],
                 blank: str) -> tuple[bool, tuple[str, list[str]] | None]:
    """Table ``typed``: one row per line of the file, in its order (``rowid``), a column
    per role (DATE, DOUBLE, cleaned text) and ``blank`` (every checked cell empty).

    Text dates and numbers take two steps, so that the common cells cost one cast: the
    first pass casts ISO dates and plain decimals and keeps the text of the other cells
    (thousands separators, exponents, other date formats) in
    ``<role>_raw``; an UPDATE then converts those few by the full rules
    of :func:`_date_expr` and :func:`_number_expr`, which give the same value for the cells
    the fast rule accepts. The condition of the rows it changes and the roles to
    convert are returned, for the caller to run :func:`_fix_update` when the checks find
    such rows (its long SET costs planning: most files need none). Names and regions lose leading white space here
    and trailing white space after the aggregation (see :func:`_label_expr`). Text
    customer ids are stored as they are ('' when empty): the facts query tests the
    aggregated ids (826k customers instead of 10M lines), and only when one needs
    trimming or NFC does :func:`_read_facts` clean them here and aggregate again. Returns
    whether they were stored so, and the fix-up (condition, roles) or None.
    """
    select, fixes, raw = [], [], False
    for role, (col, kind) in columns.items():
        if role in ("name", "region") and kind == "VARCHAR":
            select.append(f"{_label_expr(col)} AS {role}")
            continue
        if role == "customer" and kind == "VARCHAR":
            select.append(f"coalesce({col}, '') AS {role}")
            raw = True
            continue
        if kind != "VARCHAR" or role in TEXT_ROLES:  # typed cells and ids: one expression
            select.append(f"{_full_expr(role, col, kind)} AS {role}")
            continue
        if role == "date":
            fast, ok = f"TRY_CAST({col} AS DATE)", _iso_date(col)
        else:
            fast = f"TRY_CAST({col} AS DOUBLE)"
            ok = _plain_number(col)
        select += [f"{fast} AS {role}", f"CASE WHEN {ok} THEN NULL ELSE {col} END AS {role}_raw"]
        fixes.append(role)
    first = ", ".join(select)
    con.execute(f"CREATE TEMP TABLE typed AS SELECT {first}, {blank} AS blank FROM {scan}")
    if not fixes:
        return raw, None
    return raw, (" OR ".join(f"{r}_raw IS NOT NULL" for r in fixes), fixes)


def _fix_update(where: str, fixes: list[str], day_first: bool | None) -> str:
    """The UPDATE converting the ``<role>_raw`` cells of :func:`_typed_table` by the full
    rules, dates with ``day_first`` (:func:`_day_order`)."""
    sets = ", ".join(f"{r} = CASE WHEN {r}_raw IS NULL THEN {r} ELSE "
                     f"{_full_expr(r, r + '_raw', 'VARCHAR', day_first)} END" for r in fixes)
    return f"UPDATE typed SET {sets} WHERE {where}"


def _day_order(con) -> bool | None:
    """Whether the column's day-or-month-first text dates (``13/03/2025``) put the day
    first, decided as the pandas engine decides (:func:`xl_crm.core.values._day_first`):
    a first part above 12 somewhere means day first, a second part above 12 month first.
    None when neither or both occur: such cells stay unread, and the error names them in
    the pandas engine's words."""
    text = _trimmed("date_raw")
    parts = [f"CAST(regexp_extract({text}, '{YEAR_LAST}', {i}) AS INTEGER) > 12" for i in (1, 2)]
    first, second = con.execute(
        f"SELECT coalesce(bool_or({parts[0]}), false), coalesce(bool_or({parts[1]}), false) "
        f"FROM typed WHERE date_raw IS NOT NULL AND NOT blank "
        f"AND regexp_full_match({text}, '{YEAR_LAST}')").fetchone()
    return first if first != second else None


def _plain_number(col: str) -> str:
    """Whether the text is a plain decimal ("1234", "-12.50"): the common cell, which
    DuckDB's cast reads as the pandas engine does (correctly rounded). DuckDB's cast also
    reads "1_000", "1.", "1.e5", "+-1", "nan" and "inf", which the pandas engine refuses;
    those, thousands separators, exponents and the rest take the full rule."""
    return f"regexp_full_match({col}, '-?[0-9]+(\\.[0-9]+)?')"


def _label_expr(col: str) -> str:
    """A name or region cell: blank as '', leading white space removed (a cheap test of
    the first character). The chosen label loses its trailing white space and is put in
    NFC after the aggregation, which gives the same label as doing both on every row
    (NFC neither makes nor removes white space)."""
    return (f"CASE WHEN {_SOLID.format(o=f'ord({col})')} THEN {col} "
            f"ELSE coalesce(ltrim({col}, {SPACE}), '') END")


def _full_expr(role: str, col: str, kind: str, day_first: bool | None = None) -> str:
    """The value of a cell of ``role`` by the full rules."""
    if role == "date":
        return _date_expr(col, kind, day_first)
    if role in TEXT_ROLES:
        return _text_expr(col, kind)
    return _number_expr(col, kind)


def _all_blank(cells: list[tuple[str, str]]) -> str:
    """Whether every cell (column, DuckDB type) is blank; a first cell that starts with a
    printable ASCII character settles it for almost every row with one cheap test."""
    every = " AND ".join(_blank(col, kind) for col, kind in cells)
    col, kind = cells[0]
    if kind != "VARCHAR":
        return f"({every})"
    return f"(CASE WHEN ord({col}) BETWEEN 33 AND 126 THEN false ELSE {every} END)"


def _blank(col: str, kind: str) -> str:
    """Whether the cell is empty or white space (typed cells: NULL)."""
    if kind != "VARCHAR":
        return f"({col} IS NULL)"
    # a cell starting with a solid character is not blank: nothing more to compute
    return (f"(CASE WHEN {_SOLID.format(o=f'ord({col})')} THEN false "
            f"ELSE {col} IS NULL OR trim({col}, {SPACE}) = '' END)")


def _unreadable(role: str, value: str) -> str:
    """Whether the cell's ``value`` (an SQL expression) is missing or unreadable for
    ``role``: an empty id, no date, or no finite number."""
    if role == "customer":
        return f"coalesce({value}, '') = ''"
    if role == "date":
        return f"{value} IS NULL"
    return f"({value} IS NULL OR NOT isfinite({value}))"


_CHECK_ORDER = ("customer", "date", "order_id", "amount", "cost", "profit")
# rows fetched to word an error as the pandas engine words it (their count included)
EXPLAINED_ROWS = 100_000


def _refuse(con, numbered: str, cols, exprs, role: str, blank: str, where: str,
            today: dt.date, day_first: bool | None, record: Callable[[int], int]) -> None:
    """Raise for the first bad ``role`` cell, worded as the pandas engine words it.

    The flagged rows (empty, unreadable, or breaking :data:`RANGE_RULES`; at most
    :data:`EXPLAINED_ROWS`) are fetched with their cells as DuckDB read them (text, or
    the Parquet column's numbers, decimals, dates) and given to the pandas engine's
    parser (:func:`xl_crm.core.values.parse_dates`, :func:`~xl_crm.core.values.parse_amounts`),
    so the message, the row it names and its "(N more rows like it)" are the pandas
    engine's on the same cells. Required roles report an empty cell first, as the pandas
    engine does. Dates are read in the column's order (``day_first``); a cell the pandas
    engine reads but DuckDB cannot (full-width digits) gets this engine's own message.
    ``record`` turns DuckDB's row numbers into the file's (:func:`_renumbering`)."""
    from .core.values import parse_amounts, parse_dates

    broken = RANGE_RULES[role][0](_range_operand(role, cols, exprs))
    flagged = broken if role == "order_id" else f"({_unreadable(role, exprs[role])} OR {broken})"
    rows = con.execute(f"SELECT rn, {cols[role]} FROM {numbered} WHERE {flagged} "
                       f"AND NOT ({blank}) ORDER BY rn LIMIT {EXPLAINED_ROWS}").fetchall()
    numbers = np.array([record(r[0]) for r in rows], dtype="int64")
    cells = [r[1] for r in rows]
    empty = np.array([_is_empty(c) for c in cells], dtype=bool)
    if role in ("customer", "date", "amount") and empty.any():
        _raise_empty(numbers, empty, where)
    if role in ("customer", "order_id"):
        value = _id_text(cells[0])
        char = re.search(CONTROL_CHARACTERS, value).group()
        raise InputError(f"{show(value)} holds a control character (U+{ord(char):04X}); ids "
                         "must be plain text", where, int(numbers[0]))
    given = ~empty
    series = pd.Series([c for c, e in zip(cells, given) if e])
    if role == "date":
        parse_dates(series, where, numbers[given], day_first=day_first, today=today)
        value = cells[int(np.flatnonzero(given)[0])] if given.any() else None
        if value is not None:
            raise InputError(f"{show(value)} is not a date the DuckDB engine reads (write "
                             "it as 2025-03-01, or use --engine pandas)", where,
                             int(numbers[given][0]))
    else:
        parse_amounts(series, where, numbers[given])
    if empty.any():  # costs and profits: unreadable cells first, then empty ones
        _raise_empty(numbers, empty, where, count=False)
    raise InputError(f"{show(cells[0])} cannot be read", where, int(numbers[0]))


def _raise_empty(numbers: np.ndarray, empty: np.ndarray, where: str,
                 count: bool = True) -> None:
    more = int(empty.sum()) - 1
    tail = f" ({more} more rows like it)" if more and count else ""
    raise InputError(f"is empty but the row has other data{tail}", where,
                     int(numbers[np.flatnonzero(empty)[0]]))


def _is_empty(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip()) or \
        (isinstance(cell, float) and np.isnan(cell))


def _id_text(cell: object) -> str:
    from .core.sales import text_ids

    return str(text_ids(pd.Series([cell], dtype=object)).iloc[0])


def _range_operand(role: str, cols, exprs) -> str:
    """What :data:`RANGE_RULES` tests: the typed value; for ids, the id as read, which
    the rule trims itself (the typed table keeps text ids as read)."""
    return cols[role] if role == "customer" else exprs[role]


# the rules of xl_crm.core.values and xl_crm.core.sales: role -> SQL condition on the
# value that breaks them (the message is the pandas engine's: :func:`_refuse`)
RANGE_RULES = {
    # a control character inside an id; at its ends it is white space trimmed away
    # (NEL, U+001C..U+001F), as str.strip() trims it in the pandas engine
    "customer": (lambda v: f"(regexp_matches({v}, '{CONTROL_CHARACTERS}') AND "
                           f"regexp_matches({_trimmed(v)}, '{CONTROL_CHARACTERS}'))",),
    "order_id": (lambda v: f"regexp_matches({v}, '{CONTROL_CHARACTERS}')",),
    "date": (lambda v: f"{v} < DATE '1900-01-01'",),
    **{role: (lambda v: f"abs({v}) >= {MAX_AMOUNT:.0f}",) for role in ("amount", "cost",
                                                                       "profit")},
}
# escapes, not the characters: DuckDB 1.1 ends a query at a NUL character in its text
CONTROL_CHARACTERS = r"[\x00-\x08\x0a-\x1f\x7f-\x9f]"


def _tx_columns(found: Mapping[str, int]) -> str:
    blank_key = "chr(1) || CAST(rowid AS VARCHAR)"  # a line without order id: its own order
    parts = ["customer", "date", "amount"]
    parts.append(f"CASE WHEN order_id = '' THEN {blank_key} ELSE order_id END AS order_key"
                 if "order_id" in found else f"{blank_key} AS order_key")
    if "profit" in found:
        parts.append("profit AS value")
    elif "cost" in found:
        parts.append("amount - cost AS value")
    else:
        parts.append("amount AS value")
    for role in ("cost", "profit"):
        if role in found:
            parts.append(role)
    for role in ("name", "region"):
        parts.append(role if role in found else f"'' AS {role}")
    parts.append("(date - DATE '1970-01-01') * 4294967296 + rowid AS seq")
    return ", ".join(parts)


def facts_sql(found: Mapping[str, int], as_of: pd.Timestamp, start: pd.Timestamp,
              current_days: int = YEAR_DAYS, period_days: int = 90) -> str:
    """The per-customer facts query over ``tx`` (plain SQL: aggregates, FILTER, median, lag).

    ``tx`` has one row per sales line up to the analysis date: customer, date (DATE),
    amount, order_key (order id, or a unique key for a line without one), value (profit of
    the line, or its amount), cost/profit when the data has them, name and region (text,
    '' when blank) and ``seq``, a BIGINT that orders the lines by date, then by their order
    in the file (days since 1970 × 2³² + line number): a customer's name and region are
    those of the greatest ``seq`` with one. Every date bound is a DATE literal computed
    here, so the engine compares dates as integers.
    """
    def day(offset: int) -> str:
        return f"DATE '{(as_of - pd.Timedelta(days=offset)).date()}'"

    middle = start + (as_of - start) / 2  # dates are whole days: date <= middle's day
    buy = "amount > 0"
    cut = day(int(period_days))
    ly = f"date > {day(YEAR_DAYS)}"
    py = f"date > {day(2 * YEAR_DAYS)} AND date <= {day(YEAR_DAYS)}"
    sql_money = f"round(coalesce({{}}, 0), {MONEY_DECIMALS})"
    extra = []
    if "cost" in found:
        extra.append(f"{sql_money.format('sum(cost)')} AS cost")
    if "profit" in found:
        extra.append(f"{sql_money.format('sum(profit)')} AS profit")
    if "cost" in found or "profit" in found:
        extra.append(f"{sql_money.format(f'sum(amount - value) FILTER (WHERE {ly})')} AS ly_cost")
    extra_sql = "".join(f",\n    {e}" for e in extra)
    return f"""
WITH per_customer AS (
  SELECT customer,
    min(date) FILTER (WHERE {buy}) AS first_purchase,
    max(date) FILTER (WHERE {buy}) AS last_purchase,
    min(date) AS first_seen,
    {sql_money.format('sum(amount)')} AS net_sales,
    {sql_money.format(f'sum(amount) FILTER (WHERE {buy})')} AS purchases,
    {sql_money.format('sum(amount) FILTER (WHERE amount < 0)')} AS returns,
    {sql_money.format(f"sum(amount) FILTER (WHERE date <= DATE '{middle.date()}')")} AS earlier,
    {sql_money.format(f"sum(amount) FILTER (WHERE date > DATE '{middle.date()}')")} AS recent,
    {sql_money.format(f'sum(value) FILTER (WHERE date > {day(int(current_days))})')} AS current_value,
    coalesce(bool_or({buy} AND {ly}), false) AS ly_active,
    coalesce(bool_or({buy} AND {py}), false) AS py_active,
    {sql_money.format(f'sum(amount) FILTER (WHERE {ly})')} AS ly_net,
    max(date) FILTER (WHERE {buy} AND date <= {cut}) AS last_before_cut,
    coalesce(bool_or({buy} AND date > {cut}), false) AS lp_buyer,
    {sql_money.format(f'sum(value) FILTER (WHERE date > {cut})')} AS lp_value,
    coalesce(arg_max(name, seq) FILTER (WHERE name <> ''), '') AS name,
    coalesce(arg_max(region, seq) FILTER (WHERE region <> ''), '') AS region{extra_sql}
  FROM tx
  GROUP BY customer
),
orders AS (
  SELECT customer, bool_or({ly}) AS in_last_year
  FROM tx WHERE {buy}
  GROUP BY customer, order_key
),
order_counts AS (
  SELECT customer, count(*) AS frequency,
    count(*) FILTER (WHERE in_last_year) AS ly_purchases
  FROM orders GROUP BY customer
),
purchase_days AS (
  SELECT DISTINCT customer, date FROM tx WHERE {buy}
),
gaps AS (
  SELECT customer, date - lag(date) OVER (PARTITION BY customer ORDER BY date) AS gap
  FROM purchase_days
),
gap_stats AS (
  SELECT customer, count(*) AS purchase_days, median(gap) AS median_gap
  FROM gaps GROUP BY customer
)
SELECT per_customer.*, coalesce(order_counts.frequency, 0) AS frequency,
       coalesce(order_counts.ly_purchases, 0) AS ly_purchases,
       coalesce(gap_stats.purchase_days, 0) AS purchase_days,
       gap_stats.median_gap AS median_gap
FROM per_customer
  LEFT JOIN order_counts USING (customer)
  LEFT JOIN gap_stats USING (customer)
"""


def _to_facts(columns: Mapping[str, np.ndarray], as_of: pd.Timestamp,
              monetary: str) -> pd.DataFrame:
    """The query result (numpy arrays by column, masked where NULL; dates as day numbers
    since 1970) in the pandas engine's layout and types."""
    def floats(col: str) -> np.ndarray:  # NULL as NaN; the fetched arrays are ours to keep
        data = columns[col]
        data = data if data.dtype == np.float64 else data.astype(float)
        return data.filled(np.nan) if isinstance(data, np.ma.MaskedArray) else data

    out: dict[str, np.ndarray] = {}
    for col in ("first_purchase", "last_purchase", "first_seen"):
        out[col] = _dates(floats(col))
    end = np.datetime64(as_of.date(), "D").astype("int64")
    out["recency"] = end - floats("last_purchase")  # NaN without a purchase
    out["frequency"] = columns["frequency"].astype("int64")
    net = floats("net_sales")
    freq = out["frequency"]
    out["monetary"] = money(np.where(freq > 0, net / np.maximum(freq, 1), net)) \
        if monetary == "mean" else net.copy()  # not one array in two columns
    out["net_sales"] = net
    for col in ("purchases", "returns", "cost", "profit"):
        if col in columns:
            out[col] = floats(col)
    if "cost" in columns and "profit" not in columns:
        out["profit"] = money(net - out["cost"])
    out["purchase_days"] = columns["purchase_days"].astype("int64")
    out["median_gap"] = floats("median_gap")
    for col in ("earlier", "recent", "current_value"):
        out[col] = floats(col)
    out["ly_active"] = columns["ly_active"].astype(bool)
    out["py_active"] = columns["py_active"].astype(bool)
    out["ly_purchases"] = columns["ly_purchases"].astype("int64")
    out["ly_net"] = floats("ly_net")
    if "ly_cost" in columns:
        out["ly_cost"] = floats("ly_cost")
    out["last_before_cut"] = floats("last_before_cut")
    out["lp_buyer"] = columns["lp_buyer"].astype(bool)
    out["lp_value"] = floats("lp_value")
    out["name"] = np.asarray(columns["name"], dtype=object)
    out["region"] = np.asarray(columns["region"], dtype=object)
    index = pd.Index(np.asarray(columns["customer"], dtype=object), dtype=object,
                     name="customer")
    return pd.DataFrame(out, index=index, copy=False)


def _dates(days: np.ndarray) -> np.ndarray:
    """Day numbers since 1970 (NaN: none) as datetime64[ns] (NaT: none)."""
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    known = ~np.isnan(days)
    out[known] = days[known].astype("int64").astype("datetime64[D]")
    return out
