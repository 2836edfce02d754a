"""How DuckDB reads the user's file: the encoding (a UTF-8 copy when needed), the CSV
dialect and headers from the first line, re-reading a file DuckDB refuses as the pandas
engine reads it, empty lines counted back into row numbers, and DuckDB's errors in the
user's terms.
"""

from __future__ import annotations

import csv
import io
import mmap
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.errors import InputError, clip
from ..files import csv_delimiter, csv_encoding, csv_problem
from .dialect import quoted


def utf8_source(path: Path, folder: Path) -> Path:
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


def plain_scan(path: Path) -> str:
    """The file as DuckDB reads it by itself, detecting a CSV file's dialect and headers
    (every cell as text): the reading a user would write (the benchmark's bare query)."""
    name = quoted(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return (f"read_csv({name}, header = true, skip = 0, quote = '\"', escape = '\"', "
                "all_varchar = true)")
    if suffix == ".parquet":  # BINARY text read as UTF-8 text, as the pandas engine reads it
        return f"read_parquet({name}, binary_as_string = true)"
    raise InputError(f"{path.name}: the DuckDB engine reads .csv and .parquet files")


@dataclass(frozen=True)
class Layout:
    """How DuckDB is told to read a CSV file, changed by :func:`relayout` when DuckDB
    refuses a file the pandas engine reads: ``width``, the number of columns (None: the
    header's; more when later rows end in empty cells); ``pad``, rows shorter than the
    header read with blank cells (DuckDB's ``null_padding``, off until a file needs it:
    it costs about 4 % on a 5M-line file); ``parallel`` (DuckDB's parallel reader refuses
    padding where a quoted cell holds a line break)."""

    width: int | None = None
    pad: bool = False
    parallel: bool = True


def described_scan(con, path: Path, layout: Layout = Layout()
                    ) -> tuple[str, list[tuple[str, str, str]]]:
    """The file's reading and its columns as (SQL name, header, DuckDB type).

    CSV: the delimiter and headers are read here from the file's first line
    (:func:`csv_head`), so DuckDB reads the file once, without detecting its dialect
    (that detection reads up to 32 MB: 20 to 30 ms); the columns are named ``c0``, ``c1``,
    ... in SQL, so headers that repeat or need quoting are the user's to name. Rows
    shorter than the header get NULL (blank) cells, as in the pandas engine."""
    if path.suffix.lower() == ".csv":
        delimiter, new_line, headers = csv_head(path)
        if not headers:
            raise InputError(f"{path.name}: the first line is empty; the DuckDB engine takes "
                             "the headers from the first line" if path.stat().st_size else
                             f"{path.name} is empty")
        names = [f"c{i}" for i in range(max(len(headers), layout.width or 0))]
        columns = ", ".join(f"'{n}': 'VARCHAR'" for n in names)
        extra = (", null_padding = true" if layout.pad else "") + \
            ("" if layout.parallel else ", parallel = false")
        scan = (f"read_csv({quoted(path)}, auto_detect = false, header = true, skip = 0, "
                f"delim = '{delimiter}', new_line = '{new_line}', quote = '\"', escape = '\"', "
                f"comment = '', columns = {{{columns}}}, all_varchar = true{extra})")
        return scan, [(n, h, "VARCHAR") for n, h in zip(names, headers)]
    scan = plain_scan(path)
    described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    headers = [r[0] for r in described]
    if path.suffix.lower() == ".parquet":  # DuckDB renames a repeated header (amount_1):
        # the column detection sees the file's own, as in the pandas engine
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        headers = names if len(names) == len(headers) else headers
    return scan, [(r[0], h, r[1]) for r, h in zip(described, headers)]


def one_row_group(con, path: Path) -> bool:
    """Whether ``path`` is a ``.parquet`` file whose metadata has exactly one row group."""
    if path.suffix.lower() != ".parquet":
        return False
    return con.execute(f"SELECT num_row_groups FROM parquet_file_metadata({quoted(path)})"
                       ).fetchone()[0] == 1


def csv_head(path: Path) -> tuple[str, str, list[str]]:
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


def parquet_zones(path: Path) -> dict[str, str]:
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


def relayout(source: Path, layout: Layout, message: str,
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
    with a non-blank cell beyond the header (see :func:`relayout`)."""
    delimiter, _, headers = csv_head(source)
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


def empty_records(source: Path) -> list[int]:
    """Record numbers (the header is 1) of the CSV file's empty lines, which DuckDB skips
    but the pandas engine counts as blank rows, as Excel shows them; [] for Parquet. A
    quick byte search settles most files (no two line ends in a row: 0.16 s for 240 MB,
    run beside DuckDB's reading by :func:`_read_facts`); only a file with some is read
    record by record."""
    if source.suffix.lower() != ".csv":
        return []
    delimiter, new_line, _ = csv_head(source)
    end = {"\\n": b"\n", "\\r\\n": b"\r\n", "\\r": b"\r"}[new_line]
    with source.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data.find(end * 2) < 0:
            return []
    with source.open(encoding="utf-8-sig", newline="") as file:
        return [n for n, record in enumerate(csv.reader(file, delimiter=delimiter), start=1)
                if not record]


def renumbering(empty: list[int]) -> Callable[[int], int]:
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
    delimiter, _, _ = csv_head(source)
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


def duckdb_problem(message: str) -> str:
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
