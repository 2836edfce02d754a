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
- dates: date columns, or text as ISO ``2025-03-01``, ``2025/3/1``, ``2025.3.1``,
  ``20250301``, ``2025年3月1日`` or Excel serial numbers; amounts: numbers or text with
  thousands separators; anything else is an error naming the column and row (the pandas
  engine reads more formats);
- CSV files are UTF-8 (the pandas engine also reads GB18030), with one kind of line end
  throughout (``\\n``, ``\\r\\n`` or ``\\r``: the first line's); the delimiter is found as
  the pandas engine finds it (:func:`xl_crm.files.csv_delimiter`);
- the facts come back in rank order (value descending, then customer id as text), which
  :func:`xl_crm.core.tiers.rank_order` checks in one pass instead of sorting;
- row numbers count the file's lines, the header being line 1 (DuckDB keeps the file's
  order), except that DuckDB skips empty lines: after an empty line the numbers are one
  lower than the file's, and empty lines are not listed among the skipped blank rows
  (lines of empty cells, like ``,,,``, are).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .core.columns import column_letter, detect_columns
from .core.errors import InputError, clip, show
from .core.facts import Facts
from .core.values import MAX_AMOUNT
from .files import csv_delimiter, csv_encoding

DATE_FORMATS = ("%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
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


def _described_scan(con, path: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """The file's reading and its columns as (SQL name, header, DuckDB type).

    CSV: the delimiter and headers are read here from the file's first line
    (:func:`_csv_head`), so DuckDB reads the file once, without detecting its dialect
    (that detection reads up to 32 MB: 20 to 30 ms); the columns are named ``c0``, ``c1``,
    ... in SQL, so headers that repeat or need quoting are the user's to name."""
    if path.suffix.lower() == ".csv":
        delimiter, new_line, headers = _csv_head(path)
        if not headers:
            raise InputError(f"{path.name}: the first line is empty; the DuckDB engine takes "
                             "the headers from the first line" if path.stat().st_size else
                             f"{path.name} is empty")
        names = [f"c{i}" for i in range(len(headers))]
        columns = ", ".join(f"'{n}': 'VARCHAR'" for n in names)
        scan = (f"read_csv({_quoted(path)}, auto_detect = false, header = true, skip = 0, "
                f"delim = '{delimiter}', new_line = '{new_line}', quote = '\"', escape = '\"', "
                f"comment = '', columns = {{{columns}}}, all_varchar = true)")
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


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _date_expr(col: str, kind: str) -> str:
    if kind in ("DATE",) or kind.startswith("TIMESTAMP"):
        return f"CAST({col} AS DATE)"
    if kind in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "DECIMAL") or \
            kind.startswith("DECIMAL"):
        return (f"CASE WHEN {col} >= 61 THEN DATE '1899-12-30' + CAST(floor({col}) AS INTEGER)"
                f" WHEN {col} >= 1 AND {col} < 60 THEN DATE '1899-12-31' + "
                f"CAST(floor({col}) AS INTEGER) END")
    text = _trimmed(f"CAST({col} AS VARCHAR)")
    tries = [f"TRY_CAST({text} AS DATE)", f"CAST(TRY_CAST({text} AS TIMESTAMP) AS DATE)"]
    tries += [f"CAST(try_strptime({text}, '{f}') AS DATE)" for f in DATE_FORMATS]
    serial = f"TRY_CAST({text} AS DOUBLE)"
    tries.append(f"CASE WHEN {serial} >= 61 AND regexp_full_match({text}, '[0-9]+(\\.[0-9]+)?')"
                 f" THEN DATE '1899-12-30' + CAST(floor({serial}) AS INTEGER) END")
    fast = f"TRY_CAST({col} AS DATE)"  # ISO dates, the common case, need nothing else
    return f"CASE WHEN {fast} IS NOT NULL THEN {fast} ELSE coalesce({', '.join(tries)}) END"


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
    text = f"CAST({col} AS VARCHAR)" if kind != "VARCHAR" else col
    # the common id (printable ASCII at both ends, ASCII throughout: nothing to trim or
    # normalise) costs three cheap tests; the others take the full rule
    return (f"CASE WHEN {_plain_id(text)} THEN {text} "
            f"ELSE coalesce(nfc_normalize({_trimmed(text)}), '') END")


def read_facts(path: str | Path, as_of: object | None = None, monetary: str = "total",
               current_days: int = 365, period_days: int = 90,
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
            source = _utf8(path, folder)
            con = _connect(threads)
            try:  # closed on every path: the typed table may hold gigabytes
                con.execute(f"SET temp_directory = {_quoted(folder)}")  # spills: ours only
                return _read_facts(con, source, as_of, monetary, current_days, period_days,
                                   mapping, today, threads)
            finally:
                con.close()
    except InputError as err:
        if str(err).startswith(path.name):
            raise
        raise InputError(f"{path.name}: {err}") from err
    except duckdb.Error as err:
        raise InputError(f"{path.name}: {_duckdb_problem(str(err))}") from err


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
                today, threads) -> tuple[Facts, str, dict]:
    from .core.rfm import to_timestamp

    scan, described = _described_scan(con, path)
    found = detect_columns([header for _, header, _ in described], mapping)
    cols = {role: _ident(described[i][0]) for role, i in found.items()}
    label = {role: described[i][1] for role, i in found.items()}
    where = {role: f"{label[role]} (column {column_letter(i)})" for role, i in found.items()}
    kind = {role: described[i][2] for role, i in found.items()}
    zone = _parquet_zones(path).get(described[found["date"]][0])
    if kind["date"] == "TIMESTAMP WITH TIME ZONE" and zone:
        # the calendar date in the column's own zone, as the pandas engine reads it
        cols["date"], kind["date"] = f"timezone({_quoted(zone)}, {cols['date']})", "TIMESTAMP"
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
    counts = _checks(con, checked, limit, stamp, fix[0] if fix else "false")
    if counts["fix"]:  # cells the fast rules left to the full ones
        con.execute(fix[1])
        counts = _checks(con, checked, limit, stamp, "false")
    numbered = f"(SELECT *, row_number() OVER () + 1 AS rn FROM {scan})"
    for role in checked:
        if counts[role]:
            _raise_bad(con, numbered, cols, exprs, role, counts[role], blank, where[role])
        if counts.get(f"{role}_range"):
            _raise_out_of_range(con, numbered, cols, exprs, role, counts[f"{role}_range"],
                                blank, where[role])
    if counts["future"]:
        row, when = con.execute(f"SELECT rn, {exprs['date']} FROM {numbered} "
                                f"WHERE {exprs['date']} > DATE '{limit}' ORDER BY rn LIMIT 1"
                                ).fetchone()
        raise InputError(f"{when} is in the future (today is {limit})", where["date"], int(row))
    blank_rows = [r[0] for r in con.execute(
        f"SELECT rn FROM {numbered} WHERE {blank} ORDER BY rn").fetchall()] \
        if counts["blanks"] else []
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
            again = _checks(con, checked, limit, stamp, "false")
            late, start = again["late"], again["start"]
    end = f"DATE '{stamp.date()}'"
    if start is None:
        raise InputError(f"every row is dated after the analysis date {stamp.date()}")
    late_rows = [r[0] for r in con.execute(
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
            _raise_bad(con, numbered, cols, exprs, "customer", empty, blank, where["customer"])
        columns = _fetch_facts(con, query, found, False)
    facts = _to_facts(columns, stamp, monetary)
    source = {"source": f"{path.name} (DuckDB)", "columns": dict(label),
              "rows_read": int(rows_read), "blank_rows": blank_rows}
    return (Facts(facts, stamp, int(late), tuple(late_rows), start, current_days,
                  period_days), basis, source)


def _checks(con, checked: list[str], limit: dt.date, as_of: pd.Timestamp | None,
            fix: str) -> dict:
    """One pass over ``typed`` counting what the checks need: ``rows`` (not blank),
    ``blanks``, ``future`` (dated after ``limit``, today), ``last_buy`` (latest purchase),
    ``last`` (latest date), ``fix`` (rows matching ``fix``, an SQL condition), per checked
    role the rows whose cell is missing or unreadable, and ``late``/``start`` (rows after
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
                  for r in checked if r in RANGE_RULES})
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
    value = ("profit" if "profit" in found else "round(net_sales - cost, 6)"
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
                 blank: str) -> tuple[bool, tuple[str, str] | None]:
    """Table ``typed``: one row per line of the file, in its order (``rowid``), a column
    per role (DATE, DOUBLE, cleaned text) and ``blank`` (every checked cell empty).

    Text dates and numbers take two steps, so that the common cells cost one cast: the
    first pass casts ISO dates and plain decimals and keeps the text of the other cells
    (thousands separators, exponents, other date formats) in
    ``<role>_raw``; an UPDATE then converts those few by the full rules
    of :func:`_date_expr` and :func:`_number_expr`, which give the same value for the cells
    the fast rule accepts. That UPDATE is returned, with the condition of the rows it
    changes, for the caller to run when the checks find such rows (its long SET costs
    planning: most files need none). Names and regions lose leading white space here
    and trailing white space after the aggregation (see :func:`_label_expr`). Text
    customer ids are stored as they are ('' when empty): the facts query tests the
    aggregated ids (826k customers instead of 10M lines), and only when one needs
    trimming or NFC does :func:`_read_facts` clean them here and aggregate again. Returns
    whether they were stored so, and the fix-up (condition, UPDATE) or None.
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
            fast, ok = f"TRY_CAST({col} AS DATE)", f"TRY_CAST({col} AS DATE) IS NOT NULL"
        else:
            fast = f"TRY_CAST({col} AS DOUBLE)"
            ok = _plain_number(col)
        select += [f"{fast} AS {role}", f"CASE WHEN {ok} THEN NULL ELSE {col} END AS {role}_raw"]
        fixes.append(role)
    first = ", ".join(select)
    con.execute(f"CREATE TEMP TABLE typed AS SELECT {first}, {blank} AS blank FROM {scan}")
    if not fixes:
        return raw, None
    where = " OR ".join(f"{r}_raw IS NOT NULL" for r in fixes)
    sets = ", ".join(f"{r} = CASE WHEN {r}_raw IS NULL THEN {r} ELSE "
                     f"{_full_expr(r, r + '_raw', 'VARCHAR')} END" for r in fixes)
    return raw, (where, f"UPDATE typed SET {sets} WHERE {where}")


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


def _full_expr(role: str, col: str, kind: str) -> str:
    """The value of a cell of ``role`` by the full rules."""
    if role == "date":
        return _date_expr(col, kind)
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


def _raise_bad(con, numbered: str, cols, exprs, role: str, count: int, blank: str,
               where: str) -> None:
    """Find the first row where ``role`` is blank or unreadable and raise naming it."""
    row, value = con.execute(
        f"SELECT rn, CAST({cols[role]} AS VARCHAR) FROM {numbered} "
        f"WHERE {_unreadable(role, exprs[role])} AND NOT ({blank}) ORDER BY rn LIMIT 1"
    ).fetchone()
    more = f" ({count - 1} more rows like it)" if count > 1 else ""
    if value is None or not str(value).strip():
        why = "is empty but the row has other data"
    else:
        why = f"{show(value)} is not a {'date' if role == 'date' else 'number'}"
    raise InputError(f"{why}{more}", where, int(row))


# the rules of xl_crm.core.values and xl_crm.core.sales, same messages: role ->
# (SQL condition on the typed value, message of the first such cell given its raw text)
RANGE_RULES = {
    "customer": (lambda v: f"regexp_matches({v}, '{CONTROL_CHARACTERS}')",
                 lambda raw: f"{show(raw)} holds a control character "
                             f"(U+{ord(re.search(CONTROL_CHARACTERS, raw).group()):04X}); "
                             "ids must be plain text"),
    "date": (lambda v: f"{v} < DATE '1900-01-01'", None),
    **{role: (lambda v: f"abs({v}) >= {MAX_AMOUNT:.0f}",
              lambda raw: f"{show(raw)} is too large: amounts must be below 1,000,000,000,000")
       for role in ("amount", "cost", "profit")},
}
# escapes, not the characters: DuckDB 1.1 ends a query at a NUL character in its text
CONTROL_CHARACTERS = r"[\x00-\x08\x0a-\x1f\x7f-\x9f]"


def _raise_out_of_range(con, numbered: str, cols, exprs, role: str, count: int, blank: str,
                        where: str) -> None:
    """Find the first row whose ``role`` cell breaks :data:`RANGE_RULES` and raise naming
    it, as the pandas engine does (a date before 1900: the date as YYYY-MM-DD)."""
    # the same cell the count in _checks looked at: the typed table keeps ids as read
    condition = RANGE_RULES[role][0](cols[role] if role == "customer" else exprs[role])
    day = exprs["date"]
    shown = (f"printf('%04d-%02d-%02d', year({day}), month({day}), day({day}))"
             if role == "date" else f"CAST({cols[role]} AS VARCHAR)")
    row, raw = con.execute(f"SELECT rn, {shown} FROM {numbered} WHERE {condition} "
                           f"AND NOT ({blank}) ORDER BY rn LIMIT 1").fetchone()
    if role == "date":
        raise InputError(f"{raw} is before 1900-01-01, the earliest date accepted", where,
                         int(row))
    more = f" ({count - 1} more rows like it)" if count > 1 and role != "customer" else ""
    raise InputError(RANGE_RULES[role][1](raw) + more, where, int(row))


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
              current_days: int = 365, period_days: int = 90) -> str:
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
    ly = f"date > {day(365)}"
    py = f"date > {day(730)} AND date <= {day(365)}"
    money = "round(coalesce({}, 0), 6)"
    extra = []
    if "cost" in found:
        extra.append(f"{money.format('sum(cost)')} AS cost")
    if "profit" in found:
        extra.append(f"{money.format('sum(profit)')} AS profit")
    if "cost" in found or "profit" in found:
        extra.append(f"{money.format(f'sum(amount - value) FILTER (WHERE {ly})')} AS ly_cost")
    extra_sql = "".join(f",\n    {e}" for e in extra)
    return f"""
WITH per_customer AS (
  SELECT customer,
    min(date) FILTER (WHERE {buy}) AS first_purchase,
    max(date) FILTER (WHERE {buy}) AS last_purchase,
    min(date) AS first_seen,
    {money.format('sum(amount)')} AS net_sales,
    {money.format(f'sum(amount) FILTER (WHERE {buy})')} AS purchases,
    {money.format('sum(amount) FILTER (WHERE amount < 0)')} AS returns,
    {money.format(f"sum(amount) FILTER (WHERE date <= DATE '{middle.date()}')")} AS earlier,
    {money.format(f"sum(amount) FILTER (WHERE date > DATE '{middle.date()}')")} AS recent,
    {money.format(f'sum(value) FILTER (WHERE date > {day(int(current_days))})')} AS current_value,
    coalesce(bool_or({buy} AND {ly}), false) AS ly_active,
    coalesce(bool_or({buy} AND {py}), false) AS py_active,
    {money.format(f'sum(amount) FILTER (WHERE {ly})')} AS ly_net,
    max(date) FILTER (WHERE {buy} AND date <= {cut}) AS last_before_cut,
    coalesce(bool_or({buy} AND date > {cut}), false) AS lp_buyer,
    {money.format(f'sum(value) FILTER (WHERE date > {cut})')} AS lp_value,
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
    out["monetary"] = np.round(np.where(freq > 0, net / np.maximum(freq, 1), net), 6) \
        if monetary == "mean" else net.copy()  # not one array in two columns
    out["net_sales"] = net
    for col in ("purchases", "returns", "cost", "profit"):
        if col in columns:
            out[col] = floats(col)
    if "cost" in columns and "profit" not in columns:
        out["profit"] = np.round(net - out["cost"], 6) + 0.0
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
