"""The DuckDB engine (``--engine duckdb``): CSV or Parquet files of any size, aggregated to
per-customer facts in SQL; the facts then go through the normal core
(:func:`xl_crm.core.analysis.analyze_facts`), so results equal the pandas engine's.

DuckDB streams the file and spills to disk, so inputs may be larger than memory. The
aggregation is one plain SQL query over a ``tx`` relation (``customer, date, amount,
order_key, value, cost, profit, name, region``) with standard aggregates, ``FILTER``
clauses, ``median`` and one ``lag`` window: the same text runs on Spark SQL or Trino once
``tx`` is defined there (see :func:`xl_crm.facts_query.facts_sql` and the README).

Rules of this engine, beyond the pandas engine's:
- the header is the file's first row (no title rows above it);
- cells are read by the pandas engine's rules: dates as date columns, Excel serial
  numbers or text (``2025-03-01``, ``2025/3/1``, ``2025.3.1``, ``20250301``,
  ``2025年3月1日``, day or month first as ``13/03/2025`` with the order decided per
  column); amounts as numbers or text with thousands separators. Currency signs,
  accounting parentheses and full-width digits are read by the pandas engine only; here
  they are refused naming the column and row;
- every refusal is worded as the pandas engine words it: the flagged cells are handed to
  its parsers (:func:`~xl_crm.duck.checks.refuse`);
- CSV files are UTF-8, UTF-16, GB18030 or cp1252 (:func:`~xl_crm.duck.source.utf8_source`); the delimiter is found
  as the pandas engine finds it (:func:`xl_crm.files.csv_delimiter`). Rows shorter than
  the header have blank cells; a file DuckDB's reader refuses (more cells than the
  header, lines ending in different ways, a stray quote) is read as Python's csv reads
  it, as the pandas engine does (:func:`~xl_crm.duck.source.relayout`);
- the facts come back in rank order (value descending, then customer id as text), which
  :func:`xl_crm.core.tiers.rank_order` checks in one pass instead of sorting;
- row numbers count the file's records, the header being 1, as Excel shows the file
  (DuckDB keeps the file's order and skips empty lines, which are counted back in:
  :func:`~xl_crm.duck.source.empty_records`); Ctrl-C stops a running query at once (:func:`~xl_crm.duck.engine._interruptible`).

The engine is a package, one job per module: :mod:`.dialect` (shared SQL text and the
portable facts query), :mod:`.cells` (the cell rules as SQL), :mod:`.source` (reading
the file: encoding, CSV dialect, re-reading refused files, row numbers), :mod:`.checks`
(counting and refusing bad cells) and :mod:`.engine` (:func:`read_facts`).
"""

from ..facts_query import facts_sql
from .engine import read_facts

__all__ = ["facts_sql", "read_facts"]
