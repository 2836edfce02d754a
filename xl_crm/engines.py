"""Analysing a sales file with the chosen engine: ``pandas`` (default: every format, every
check of :mod:`xl_crm.core.sales`), ``duckdb`` (CSV/Parquet of any size, see
:mod:`xl_crm.duck`) or ``spark`` (anything Spark reads, see :mod:`xl_crm.spark`). All end
in :func:`xl_crm.core.analysis.analyze_facts`.

pandas, DuckDB and the core are imported when a file is analysed, so that the command
line answers ``--help`` quickly and is already handling Ctrl-C while they load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .core.errors import InputError

if TYPE_CHECKING:
    from .core.analysis import Analysis, Options
    from .core.sales import Sales

ENGINES = ("pandas", "duckdb", "spark")
ENGINE_CHOICES = ("auto", *ENGINES)
# auto: a CSV or Parquet file of at least this size goes to DuckDB (when installed); the
# measured crossing point of the two engines, process start included (benchmarks/README)
AUTO_DUCKDB_BYTES = {".csv": 3_000_000, ".parquet": 4_000_000}


def pick_engine(paths: Sequence[Path], engine: str = "auto") -> str:
    """The engine that runs: ``engine`` itself, or for ``auto`` DuckDB when the input is
    one CSV or Parquet file of :data:`AUTO_DUCKDB_BYTES` or more and duckdb is installed,
    else pandas (workbooks, several files, small files)."""
    if engine != "auto":
        return engine
    if len(paths) != 1:
        return "pandas"
    limit = AUTO_DUCKDB_BYTES.get(paths[0].suffix.lower())
    try:
        big = limit is not None and paths[0].stat().st_size >= limit
    except OSError:
        return "pandas"  # the reader names what is wrong with the file
    if not big:
        return "pandas"
    from importlib.util import find_spec

    return "duckdb" if find_spec("duckdb") is not None else "pandas"


def analyze_path(path: str | Path | Sequence[str | Path] | None,
                 options: Options | None = None,
                 engine: str = "auto", sheet: str | None = None,
                 today: dt.date | None = None,
                 progress: Callable[[str], None] = lambda _: None,
                 mapping: Mapping[str, object] | None = None,
                 table: str | None = None,
                 spark_conf: Mapping[str, str] | None = None) -> Analysis:
    """Read and analyse a sales file, or several files or a folder of them as one history
    (:func:`xl_crm.files.sales_files`, :mod:`xl_crm.core.history`: repeated orders
    counted once, overlaps without order ids refused); ``progress`` is told what is
    happening.

    ``mapping`` ({role: header}, as :func:`xl_crm.core.columns.detect_columns` takes it)
    names columns whose headers are not recognised; both engines apply it alike. Several
    files are read by the pandas engine (``engine="duckdb"`` takes one CSV or Parquet file).
    ``engine="auto"`` (the default) picks pandas or DuckDB (:func:`pick_engine`); every
    engine gives the same analysis (tests/test_engines.py, tests/test_spark.py).
    ``engine="spark"`` takes one path Spark reads (a URL such as ``s3a://...`` too) or
    ``table``, a table of Spark's catalogue, and ``spark_conf`` for a new Spark session.
    """
    from .core.analysis import Options, analyze_facts, check_options

    options = options or Options()
    if engine not in ENGINE_CHOICES:
        raise InputError(f"engine must be auto, pandas, duckdb or spark, not {engine!r}",
                         "engine")
    check_options(options)
    if engine == "spark":
        return _analyze_spark(path, table, options, mapping, today, progress, spark_conf)
    if table is not None:
        raise InputError("a table is read by the Spark engine (--engine spark --table NAME)",
                         "table")
    if path is None:
        raise InputError("no sales file given")
    paths = input_paths(path)
    chosen = pick_engine(paths, engine)
    if chosen == "duckdb" and len(paths) == 1:
        from .duck import read_facts  # imports duckdb only when used

        progress(f"reading and aggregating {paths[0].name} with DuckDB")
        try:
            facts, basis, source = read_facts(
                paths[0], options.as_of, options.monetary, options.current_days,
                options.migration_period_days, mapping=mapping, today=today,
                compare=options.compare)
        except InputError:
            if engine != "auto":
                raise
            # auto: a file DuckDB refuses goes to the pandas engine, which reads more cell
            # forms (currency signs, parentheses) or names the problem in its own words
            progress(f"reading {paths[0].name} with pandas instead")
        else:
            progress(f"analysing {len(facts.table):,} customers")
            return analyze_facts(facts, basis, source, options)
        chosen = "pandas"
    engine = chosen
    if engine == "duckdb":
        raise InputError(f"--engine duckdb reads one file, not {len(paths)}; several files "
                         "are read by --engine pandas (or combine them into one Parquet "
                         "file)", "engine")
    sales, source = read_sales_paths(paths, sheet, mapping, today, progress)
    return analyze_sales(sales, source, options, progress)


def _analyze_spark(path, table: str | None, options: Options,
                   mapping: Mapping[str, object] | None, today: dt.date | None,
                   progress: Callable[[str], None],
                   spark_conf: Mapping[str, str] | None) -> Analysis:
    """The Spark engine's analysis of one path (or a folder, or a URL) or ``table``."""
    from .core.analysis import analyze_facts
    from .spark import read_facts

    if isinstance(path, list | tuple):
        if len(path) > 1:
            raise InputError(f"--engine spark reads one path (a folder of files is one "
                             f"path), not {len(path)}", "engine")
        path = path[0] if path else None
    if (path is None) == (table is None):
        raise InputError("the Spark engine reads either a path or a table (--table NAME)",
                         "engine")
    progress(f"reading and aggregating {table or path} with Spark")
    facts, basis, source = read_facts(path, options.as_of, options.monetary,
                                      options.current_days, options.migration_period_days,
                                      mapping=mapping, today=today, compare=options.compare,
                                      table=table, conf=spark_conf)
    progress(f"analysing {len(facts.table):,} customers")
    return analyze_facts(facts, basis, source, options)


def input_paths(path: str | Path | Sequence[str | Path]) -> list[Path]:
    """The sales files of a path, or of several paths (a folder: its sales files)."""
    from .files import sales_files

    paths = sales_files([path] if isinstance(path, str | Path) else list(path))
    if not paths:
        raise InputError("no sales file given")
    return paths


def read_sales_paths(paths: Sequence[Path], sheet: str | None = None,
                     mapping: Mapping[str, object] | None = None,
                     today: dt.date | None = None,
                     progress: Callable[[str], None] = lambda _: None
                     ) -> tuple[Sales, dict[str, object]]:
    """The sales of one file, or of several read as one history, with what the analysis
    log says of them (``analyze_facts``' ``source``)."""
    from .files import read_history, read_sales

    if len(paths) == 1:
        progress(f"reading {paths[0].name}")
        sales = read_sales(paths[0], sheet=sheet, mapping=mapping, today=today)
        return sales, sales.log_fields()
    history = read_history(paths, sheet, mapping, today, progress)
    sales = history.sales
    return sales, {**sales.log_fields(), "rows_read": sales.rows_read + history.repeated_lines,
                   "files": list(history.files), "repeated_lines": history.repeated_lines,
                   "repeats": [(r.file, r.lines, r.orders, r.replaced_by)
                               for r in history.repeats]}


def analyze_sales(sales: Sales, source: Mapping[str, object], options: Options,
                  progress: Callable[[str], None] = lambda _: None) -> Analysis:
    """The pandas engine's analysis of sales read by :func:`read_sales_paths`."""
    from .core.analysis import analyze_facts
    from .core.facts import customer_facts

    progress(f"aggregating {len(sales.transactions):,} rows")
    facts = customer_facts(sales.transactions, options.as_of, options.monetary,
                           options.current_days, options.migration_period_days,
                           options.compare)
    progress(f"analysing {len(facts.table):,} customers")
    return analyze_facts(facts, sales.value_basis, source, options)
