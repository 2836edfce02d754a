"""The Spark engine (``--engine spark``): sales wherever Spark reads them (local files,
folders of Parquet, ``s3a://`` or ``hdfs://`` paths, a catalogue table), aggregated to
per-customer facts by Spark; the facts then go through the normal core
(:func:`xl_crm.core.analysis.analyze_facts`), so results equal the pandas engine's.

How it works, and its rules beyond the pandas engine's:
- each line is converted on Spark's workers by the pandas engine's own cell rules
  (:mod:`.batches`: dates, amounts, ids, blank and ragged rows, future dates), so every
  cell form the pandas engine reads is read here and every refusal is worded as it
  words it; the day/month order of ``dd/mm/yyyy`` dates is decided per file from all of
  its dates first, as the pandas engine decides it;
- the per-customer facts are the portable query DuckDB runs too
  (:func:`xl_crm.facts_query.facts_sql`), in Spark's dialect; only they (one row per
  customer) and the monthly trend come back to this process;
- the header is the first line of each CSV file; a folder's CSV files must share it. A
  folder (or a table) is one data set: unlike several files given to the pandas engine
  (:mod:`xl_crm.core.history`), repeated orders across its files are not merged;
- CSV files on this computer are read in any encoding the pandas engine reads (a UTF-8
  copy is made when needed) and their row numbers count empty lines, as Excel shows the
  file; CSV files at a URL are read as UTF-8 and numbered without the empty lines Spark
  skips. A refusal names the file and row; "(N more rows like it)" is not counted, since
  the workers see the file in parts;
- quoted cells holding line breaks are not read (Spark reads CSV line by line to read
  it in parallel); such a line is refused, not dropped.

One job per module: :mod:`.session` (the Spark session and its configuration),
:mod:`.batches` (the conversion on the workers) and :mod:`.engine` (:func:`read_facts`).
"""

from .engine import read_facts

__all__ = ["read_facts"]
