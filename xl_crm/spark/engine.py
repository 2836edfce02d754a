"""The Spark engine's entry point (:func:`read_facts`): the input as a Spark DataFrame,
its lines converted on the workers by the pandas engine's cell rules
(:mod:`.batches`), the refusals and blank rows gathered and numbered, then the portable
facts query (:func:`xl_crm.facts_query.facts_sql`, Spark dialect) and the monthly
trend run by Spark SQL; only the per-customer facts come back to this process.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from ..core.columns import column_letter, detect_columns
from ..core.constants import LABEL_FACTS, YEAR_DAYS
from ..core.errors import InputError, show_path
from ..core.facts import Facts, previous_date
from ..core.values import day_order_conflict
from ..facts_query import (
    DAY_COLUMNS,
    SPARK,
    facts_frame,
    facts_sql,
    rank_value,
    trend_from_rows,
    trend_query,
)
from .batches import (
    BLOCK,
    CORRUPT,
    EVIDENCE_SCHEMA,
    FILE,
    SCHEMA,
    Plan,
    date_evidence,
    typed_rows,
)
from .session import spark_session

SUFFIXES = (".csv", ".parquet")
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


@dataclass
class Source:
    """The input as Spark reads it: ``frame`` (columns ``c0``.. named by ``headers``, the
    file and block of each line, and for CSV Spark's copy of lines of another width),
    what messages call it, and for local CSV files the empty lines Spark skips (record
    numbers per file, the header being 1), which row numbers count as Excel does."""

    frame: object
    headers: tuple[str, ...]
    name: str
    delimiter: str | None = None
    empty: dict[str, list[int]] = field(default_factory=dict)


def read_facts(path: str | Path | None = None, as_of: object | None = None,
               monetary: str = "total", current_days: int = YEAR_DAYS,
               period_days: int = 90, mapping: Mapping[str, object] | None = None,
               today: dt.date | None = None, compare: str = "none",
               table: str | None = None, conf: Mapping[str, str] | None = None
               ) -> tuple[Facts, str, dict]:
    """Facts computed by Spark: (facts, value basis, source log), as the DuckDB engine's
    :func:`xl_crm.duck.read_facts` gives them.

    ``path`` is anything Spark reads: a local CSV or Parquet file or a folder of them, or
    a URL (``s3a://``, ``hdfs://``, ``abfss://``; CSV when it ends in ``.csv``, else
    Parquet); or ``table`` names a table of Spark's catalogue. ``conf`` adds Spark
    configuration for a new session (:mod:`.session`).
    """
    spark = spark_session(conf)
    folder = Path(tempfile.mkdtemp(prefix="xl_crm_spark_input_"))  # UTF-8 copies
    shown = table if table is not None else Path(str(path)).name or str(path)
    nanos = spark.conf.get(NANOS_AS_LONG, None)
    try:
        source = _source(spark, path, table, folder)
        return _facts(spark, source, as_of, monetary, (current_days, period_days, compare),
                      mapping, today)
    except InputError as err:
        if str(err).startswith(shown):
            raise
        raise InputError(f"{shown}: {err}") from err
    except Exception as err:  # Spark's own errors (a path it cannot read, a lost worker)
        if _java_ended(err) or not _running(spark):
            raise InputError(f"{shown}: {JAVA_ENDED}") from err
        if not _from_spark(err):
            raise
        raise InputError(f"{shown}: Spark cannot read it: {_first_line(err)}") from err
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _restore(spark, NANOS_AS_LONG, nanos)


JAVA_ENDED = ("Spark's Java process ended, most often for lack of memory: give the driver "
              "more (--conf spark.driver.memory=16g) or analyse a part at a time")


def _java_ended(err: BaseException) -> bool:
    """Whether ``err`` says the session's Java process is gone (py4j cannot reach it)."""
    if isinstance(err, ConnectionError):
        return True
    name = type(err).__name__
    text = str(err)
    return name == "Py4JNetworkError" or (
        name == "Py4JError" and ("Answer from Java side is empty" in text
                                 or "while receiving" in text or "while sending" in text))


def _running(spark) -> bool:
    """Whether the session's Spark context still runs (after an error: a Java process
    that runs out of memory stops it, and the calls then fail in other words)."""
    from py4j.protocol import Py4JError

    try:
        return not spark.sparkContext._jsc.sc().isStopped()
    except (Py4JError, ConnectionError, AttributeError):  # gone, or no session at all
        return False


def _restore(spark, key: str, value: str | None) -> None:
    """Set ``key`` back to ``value`` (``None``: unset), unless the session has ended."""
    try:
        if spark.conf.get(key, None) == value:
            return
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
    except Exception as err:
        if not _java_ended(err):
            raise


def _from_spark(err: BaseException) -> bool:
    module = type(err).__module__ or ""
    return module.startswith(("pyspark", "py4j"))


def _first_line(err: BaseException) -> str:
    """Spark's first line of explanation (a Java error's message follows py4j's "An error
    occurred while calling ..."), cut to 300 characters."""
    lines = [line.strip().removeprefix(": ") for line in str(err).strip().splitlines()
             if line.strip() and not line.startswith(("An error occurred while calling",
                                                      "\tat "))]
    return lines[0][:300] if lines else type(err).__name__


def _source(spark, path, table: str | None, folder: Path) -> Source:
    from pyspark.sql import functions as F

    if table is not None:
        frame = spark.table(table)
        return _named(frame, tuple(frame.columns), table)
    text = str(path)
    if "://" in text and not text.startswith("file:"):
        return _remote(spark, text)
    local = Path(unquote(urlparse(text).path) if text.startswith("file:") else text)
    if not local.exists():
        raise InputError(f"file not found: {show_path(local)}")
    files = _local_files(local)
    if files[0].suffix.lower() == ".parquet":
        nanos = _nanosecond_columns(files[0])
        if nanos:  # Spark reads nanosecond timestamps (pandas 2's default) only as numbers
            spark.conf.set(NANOS_AS_LONG, "true")
        frame = spark.read.parquet(*[str(f) for f in files])
        for column in nanos:  # to microseconds, rounding down
            c = "`" + column.replace("`", "``") + "`"
            frame = frame.withColumn(column, F.expr(
                f"timestamp_micros(({c} - pmod({c}, 1000)) div 1000)"))
        for column, zone in _zones(files[0]).items():  # the date in the column's own zone
            frame = frame.withColumn(column, F.from_utc_timestamp(F.col(f"`{column}`"), zone))
        return _named(_as_text(frame), tuple(frame.columns), local.name)
    from ..duck.source import csv_head, empty_records, utf8_source

    copies = [utf8_source(f, folder) for f in files]
    heads = [csv_head(c) for c in copies]
    delimiter, _, headers = heads[0]
    for f, (other, _, names) in zip(files[1:], heads[1:]):
        if (other, names) != (delimiter, headers):
            raise InputError(f"{f.name} has other headers than {files[0].name}; "
                             "the files of a folder must have the same columns")
    if not headers:
        raise InputError("the first line is empty; the Spark engine takes the headers "
                         "from the first line")
    empty = {_key(c.resolve().as_uri()): empty_records(c) for c in copies}
    frame = _csv(spark, [str(c) for c in copies], len(headers), delimiter,
                 any(_has_quotes(c) for c in copies))
    return Source(frame, tuple(headers), local.name, delimiter,
                  {k: v for k, v in empty.items() if v})


def _local_files(local: Path) -> list[Path]:
    if local.is_dir():
        files = sorted(f for f in local.iterdir() if f.is_file()
                       and f.suffix.lower() in SUFFIXES and not f.name.startswith((".", "_")))
        kinds = {f.suffix.lower() for f in files}
        if not files:
            raise InputError("holds no .csv or .parquet file")
        if len(kinds) > 1:
            raise InputError("holds both .csv and .parquet files; give one kind")
        return files
    if local.suffix.lower() not in SUFFIXES:
        raise InputError("the Spark engine reads .csv and .parquet files (or folders of "
                         "them, or a --table)")
    return [local]


def _remote(spark, url: str) -> Source:
    """A URL: CSV when it ends in ``.csv`` (UTF-8; delimiter and headers from its first
    lines, read by Spark), else Parquet."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if not url.lower().endswith(".csv"):
        frame = spark.read.parquet(url)
        return _named(frame, tuple(frame.columns), name)
    import csv
    import io

    from ..files import csv_delimiter

    lines = [row[0] for row in spark.read.text(url).limit(100).collect()]
    text = "\n".join(lines).removeprefix("\ufeff")
    delimiter = csv_delimiter(text)
    headers = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    if not headers:
        raise InputError("the first line is empty; the Spark engine takes the headers from "
                         "the first line")
    return Source(_csv(spark, [url], len(headers), delimiter), tuple(headers), name, delimiter)


def _has_quotes(path: Path) -> bool:
    """Whether the file holds a quote character, so that a quoted cell may hold a line
    break (a byte search: 0.1 s for 200 MB)."""
    import mmap

    if path.stat().st_size == 0:
        return False
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b'"') >= 0


def _csv(spark, paths: Sequence[str], width: int, delimiter: str, records: bool = False):
    """CSV files read by Spark as text cells (the cell rules are the pandas engine's),
    a line of another width kept whole in :data:`CORRUPT`. ``records``: read record by
    record, so that a quoted cell may hold line breaks (Spark then reads each file in
    one piece, not in parallel blocks; used for files on this computer that hold quotes).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField(f"c{i}", T.StringType()) for i in range(width)]
                          + [T.StructField(CORRUPT, T.StringType())])
    frame = spark.read.csv(list(paths), schema=schema, header=True, sep=delimiter,
                           quote='"', escape='"', mode="PERMISSIVE",
                           columnNameOfCorruptRecord=CORRUPT, enforceSchema=True,
                           encoding="UTF-8", multiLine=records)
    return frame.select("*", F.input_file_name().alias(FILE),
                        F.input_file_block_start().alias(BLOCK))


def _as_text(frame):
    """BINARY columns as UTF-8 text and lists as their text (``[1.0, 2.0]``), as the
    other engines read them (Spark would hand the workers bytes and arrays)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    for part in frame.schema.fields:
        if isinstance(part.dataType, T.BinaryType | T.ArrayType):
            column = "`" + part.name.replace("`", "``") + "`"
            frame = frame.withColumn(part.name, F.col(column).cast("string"))
    return frame


def _named(frame, headers: tuple[str, ...], name: str) -> Source:
    from pyspark.sql import functions as F

    columns = [F.col("`" + h.replace("`", "``") + "`").alias(f"c{i}")
               for i, h in enumerate(headers)]
    frame = frame.select(*columns, F.input_file_name().alias(FILE),
                         F.input_file_block_start().alias(BLOCK))
    return Source(frame, headers, name)


def _nanosecond_columns(path: Path) -> list[str]:
    """The columns of a Parquet file holding timestamps in nanoseconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return [f.name for f in pq.read_schema(path)
            if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def _zones(path: Path) -> dict[str, str]:
    from ..duck.source import parquet_zones

    return parquet_zones(path)


def _key(uri: str) -> str:
    """A file URI as Spark's ``input_file_name()`` spells it, reduced to its path."""
    return unquote(urlparse(uri).path)


class _Numbers:
    """Row numbers from (file, block, position): the records of the file's earlier
    blocks, the header, and the empty lines Spark skipped."""

    def __init__(self, counts: Mapping[tuple[str, int], int], empty: Mapping[str, list[int]]):
        self.files = sorted({file for file, _ in counts})
        self.before: dict[tuple[str, int], int] = {}
        for file in self.files:
            total = 0
            for block in sorted(b for f, b in counts if f == file):
                self.before[(file, block)] = total
                total += counts[(file, block)]
        self.empty = {_key(f): sorted(v) for f, v in empty.items()}

    def row(self, file: str, block: int, pos: int) -> int:
        row = 1 + self.before.get((file, block), 0) + pos
        for line in self.empty.get(_key(file), ()):
            if line <= row:
                row += 1
        return row

    def where(self, file: str, block: int, pos: int) -> int | str:
        """The row, or ``FILE row n`` when the input has several files."""
        row = self.row(file, block, pos)
        if len(self.files) > 1:
            return f"{_key(file).rsplit('/', 1)[-1]} row {row}"
        return row

    def listed(self, rows: Sequence[tuple[str, int]]) -> list[int | str]:
        """(file, row) pairs in file order, as rows or ``FILE row n``."""
        order = {_key(f): i for i, f in enumerate(self.files)}
        rows = sorted(rows, key=lambda r: (order.get(_key(r[0]), -1), r[1]))
        if len(self.files) > 1:
            return [f"{_key(f).rsplit('/', 1)[-1]} row {n}" for f, n in rows]
        return [n for _, n in rows]

    def order(self, file: str) -> int:
        return self.files.index(file) if file in self.files else -1


def _facts(spark, source: Source, as_of, monetary: str, windows: tuple[int, int, str],
           mapping, today) -> tuple[Facts, str, dict]:
    from pyspark import StorageLevel

    from ..core.rfm import to_timestamp

    current_days, period_days, compare = windows
    found = detect_columns(list(source.headers), mapping)
    labels = {role: source.headers[i] for role, i in found.items()}
    day_first, conflicts = _day_orders(source, found)
    plan = Plan(source.headers, mapping, today or dt.date.today(), day_first,
                source.delimiter)
    typed = source.frame.mapInPandas(partial(typed_rows, plan=plan), SCHEMA)
    typed = typed.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        meta = typed.where("kind > 0").select(
            "kind", "file", "block", "pos", "rank", "label", "message").collect()
        numbers = _Numbers({(m.file, m.block): m.pos for m in meta if m.kind == 3},
                           source.empty)
        _refuse(meta, conflicts, numbers)
        blank_rows = numbers.listed([(m.file, numbers.row(m.file, m.block, m.pos))
                                     for m in meta if m.kind == 1]
                                    + [(f, n) for f, lines in source.empty.items()
                                       for n in lines])
        typed.where("kind = 0").createOrReplaceTempView("xl_crm_lines")
        stats = spark.sql("SELECT count(*) AS n, max(day) FILTER (WHERE amount > 0) AS buy, "
                          "max(day) AS last FROM xl_crm_lines").first()
        if stats.n == 0:
            amount = source.headers[found["amount"]]
            raise InputError(f"{amount}: has no data rows (only a header or blank rows)")
        if as_of is None:
            if stats.buy is None:
                raise InputError("there is no purchase (amount > 0) to take the analysis "
                                 "date from; give as_of")
            stamp = pd.Timestamp(np.datetime64(int(stats.buy), "D"))
        else:
            stamp = to_timestamp(as_of)
        end = int(np.datetime64(stamp.date(), "D").astype("int64"))
        late, first = spark.sql(f"SELECT count(*) FILTER (WHERE day > {end}), "
                                f"min(day) FILTER (WHERE day <= {end}) FROM xl_crm_lines"
                                ).first()
        if first is None:
            raise InputError(f"every row is dated after the analysis date {stamp.date()}")
        late_rows = [numbers.where(r.file, r.block, r.pos) for r in spark.sql(
            f"SELECT file, block, pos FROM xl_crm_lines WHERE day > {end} "
            "ORDER BY file, block, pos LIMIT 1000").collect()] if late else []
        start = pd.Timestamp(np.datetime64(int(first), "D"))
        facts = _query_facts(spark, found, stamp, start, windows, monetary)
        monthly = trend_from_rows([tuple(r) for r in spark.sql(trend_query(stamp)).collect()],
                                  stamp, start)
        before = previous_date(stamp, start, compare)
        previous = None
        if before is not None:
            previous = Facts(_query_facts(spark, found, before, start, windows, monetary,
                                          labels=False),
                             before, 0, (), start, current_days, period_days)
    finally:
        typed.unpersist()
    basis = "profit" if ("cost" in found or "profit" in found) else "net sales"
    log = {"source": f"{source.name} (Spark)", "columns": labels,
           "rows_read": int(stats.n), "blank_rows": blank_rows}
    return (Facts(facts, stamp, int(late), tuple(late_rows), start, current_days,
                  period_days, previous, monthly), basis, log)


def _refuse(meta, conflicts: list[tuple], numbers: _Numbers) -> None:
    """Raise the refusal the pandas engine would raise first: least rank (its order of
    checks), then the earliest line; a file's dates in both orders come first among the
    date column's problems, as the parser finds them first."""
    refusals = [((m.rank, numbers.order(m.file), m.block, m.pos), m.label, m.message,
                 (m.file, m.block, m.pos)) for m in meta if m.kind == 2]
    for rank, label, month, day in conflicts:
        message = day_order_conflict(month[3], day[3], numbers.row(*day[:3]))
        refusals.append(((rank, -1, -1, -1), label, message, month[:3]))
    if refusals:
        _, label, message, at = min(refusals, key=lambda r: r[0])
        raise InputError(message, label, numbers.where(*at))


def _day_orders(source: Source, found: Mapping[str, int]
                ) -> tuple[dict[str, bool | None], list[tuple]]:
    """The day/month order of each file's ``dd/mm/yyyy`` dates, decided from the whole
    file as the pandas engine decides it (None: nothing decides; the conversion then
    refuses such dates), and the files holding both orders, as (rank, label, first
    month-first, first day-first), each (file, block, position, text)."""
    from pyspark.sql import types as T

    from ..core.sales import ORDER

    column = f"c{found['date']}"
    if not isinstance(source.frame.schema[column].dataType, T.StringType):
        return {}, []
    rows = source.frame.select(column, FILE, BLOCK).mapInPandas(
        partial(date_evidence, column=column), EVIDENCE_SCHEMA).collect()
    orders: dict[str, bool | None] = {}
    conflicts = []
    label = f"{source.headers[found['date']]} (column {column_letter(found['date'])})"
    for file in sorted({r.file for r in rows}):
        mine = sorted((r.block, r.pos, r.order, r.text) for r in rows if r.file == file)
        day = next(((file, b, p, t) for b, p, o, t in mine if o == "day"), None)
        month = next(((file, b, p, t) for b, p, o, t in mine if o == "month"), None)
        if day and month:
            conflicts.append((1 + ORDER.index("date"), label, month, day))
        orders[file] = True if day else False if month else None
    return orders, conflicts


def _query_facts(spark, found: Mapping[str, int], as_of: pd.Timestamp, start: pd.Timestamp,
                 windows: tuple[int, int, str], monetary: str, labels: bool = True
                 ) -> pd.DataFrame:
    """The facts query over the lines up to ``as_of``, fetched in rank order (without the
    text labels for ``labels=False``, see :func:`~xl_crm.facts_query.facts_sql`)."""
    from pyspark.sql import functions as F

    current_days, period_days, _ = windows
    end = int(np.datetime64(as_of.date(), "D").astype("int64"))
    values = [r for r in ("cost", "profit") if r in found]
    spark.sql(f"""CREATE OR REPLACE TEMP VIEW tx AS
SELECT customer, date_from_unix_date(day) AS date, amount, order_key, value,
       {''.join(f'{r}, ' for r in values)}{', '.join(f"coalesce({r}, '') AS {r}"
                                                      for r in LABEL_FACTS)},
       struct(day, file, block, pos) AS seq
  FROM xl_crm_lines WHERE day <= {end}""")
    query = spark.sql(facts_sql(found, as_of, start, current_days, period_days, SPARK,
                                labels=labels))
    query = query.withColumns({c: F.unix_date(F.col(c)) for c in DAY_COLUMNS})
    result = query.orderBy(F.expr(rank_value(found)).desc(), F.col("customer")).toPandas()
    return facts_frame(_arrays(result), as_of, monetary)


def _arrays(result: pd.DataFrame) -> dict[str, np.ndarray]:
    """The fetched facts as numpy arrays by column: numbers as float with NaN for NULL
    (counts as they are), text as objects."""
    out: dict[str, np.ndarray] = {}
    for name in result.columns:
        column = result[name]
        if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_integer_dtype(
                column.dtype) and not column.isna().any():
            out[name] = column.to_numpy()
        elif pd.api.types.is_numeric_dtype(column.dtype):
            out[name] = column.to_numpy(dtype=float, na_value=np.nan)
        else:
            out[name] = column.to_numpy(dtype=object)
    return out

