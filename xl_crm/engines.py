"""Analysing a sales file with the chosen engine: ``pandas`` (default: every format, every
check of :mod:`xl_crm.core.sales`) or ``duckdb`` (CSV/Parquet of any size, see
:mod:`xl_crm.duck`). Both end in :func:`xl_crm.core.analysis.analyze_facts`.

pandas, DuckDB and the core are imported when a file is analysed, so that the command
line answers ``--help`` quickly and is already handling Ctrl-C while they load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .core.errors import InputError

if TYPE_CHECKING:
    from .core.analysis import Analysis, Options

ENGINES = ("pandas", "duckdb")


def analyze_path(path: str | Path, options: Options | None = None, engine: str = "pandas",
                 sheet: str | None = None, today: dt.date | None = None,
                 progress: Callable[[str], None] = lambda _: None,
                 mapping: Mapping[str, object] | None = None) -> Analysis:
    """Read and analyse a sales file; ``progress`` is told what is happening.

    ``mapping`` ({role: header}, as :func:`xl_crm.core.columns.detect_columns` takes it)
    names columns whose headers are not recognised; both engines apply it alike.
    """
    from .core.analysis import Options, analyze_facts, check_options
    from .core.facts import customer_facts

    path, options = Path(path), options or Options()
    if engine not in ENGINES:
        raise InputError(f"engine must be pandas or duckdb, not {engine!r}", "engine")
    check_options(options)
    if path.is_dir():  # both engines would name its suffix (``sales.csv/``) or its type
        raise InputError(f"{path} is a folder, not a sales file (.xlsx, .xlsm, .csv, .parquet)")
    if engine == "duckdb":
        from .duck import read_facts  # imports duckdb only when used

        progress(f"reading and aggregating {path.name} with DuckDB")
        facts, basis, source = read_facts(path, options.as_of, options.monetary,
                                          options.current_days, options.migration_period_days,
                                          mapping=mapping, today=today, compare=options.compare)
    else:
        from .files import read_sales

        progress(f"reading {path.name}")
        sales = read_sales(path, sheet=sheet, mapping=mapping, today=today)
        progress(f"aggregating {sales.rows_read:,} rows")
        facts = customer_facts(sales.transactions, options.as_of, options.monetary,
                               options.current_days, options.migration_period_days,
                               options.compare)
        basis = sales.value_basis
        source = {"source": sales.source, "columns": dict(sales.columns),
                  "rows_read": sales.rows_read, "blank_rows": list(sales.blank_rows)}
    progress(f"analysing {len(facts.table):,} customers")
    return analyze_facts(facts, basis, source, options)
