"""Reading sales files (.xlsx, .xlsm, .csv, .parquet) into :class:`~xl_crm.core.sales.Sales`.

Workbooks: the sheet named by ``sheet``, else one called ``Sales`` or ``销售``, else the
first sheet; the header row is found by its headers (title rows above it are fine).
Values are read as stored (``data_only``: formulas give their last computed values); a
formula without a stored value (files written by programs that do not calculate) is
refused, naming its cell, never read as blank. Plain numbers in the date column of a
1904-system workbook are 1904 serials. An encrypted workbook (an OLE file) or another
file renamed .xlsx is named as such.
CSV: UTF-8 (with or without BOM), UTF-16 (with BOM, or without it found from the NUL
bytes), GB18030 (Chinese Excel) or Windows-1252 (Western Excel), as :func:`csv_encoding`
decides; every cell is read as text and parsed by the same rules as worksheet cells.
Row numbers count records from the file's first line, as Excel shows the file (a quoted
cell's line break stays in its row; blank lines are rows). A row with more non-blank
cells than the header is refused (``row 4: has 5 cells but the header has 3``); empty
cells past the header, as Excel writes them, are fine; a shorter row's missing cells are
blank.
Parquet: read through pyarrow with dates and timestamps in their own units, DECIMAL as
``decimal.Decimal`` and 64-bit integers as integers (see :func:`_read_parquet`).
Files are only read, never written.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .core.columns import find_header_row, pick_sheet
from .core.errors import InputError, show_path
from .core.sales import Sales, sales_from_frame, sales_from_rows
from .core.values import serial_text
from .xlsx_fast import NO_VALUE, NO_VALUE_MARKS, xml_matches

if TYPE_CHECKING:
    from .core.history import History

SUFFIXES = (".xlsx", ".xlsm", ".csv", ".parquet")
LEGACY_ENCODINGS = ("gb18030", "cp1252")


def read_sales(
    path: str | Path,
    sheet: str | None = None,
    mapping: Mapping[str, object] | None = None,
    today: dt.date | None = None,
) -> Sales:
    """Read a sales file; errors name the column and the sheet row."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {show_path(path)}")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_workbook(path, sheet, mapping, today)
    if suffix == ".csv":
        return _read_csv(path, mapping, today)
    if suffix == ".parquet":
        frame = _read_parquet(path)
        try:
            return sales_from_frame(frame, mapping, source=path.name, today=today)
        except InputError as err:
            raise InputError(f"{path.name}: {err}") from err
    raise InputError(f"{path.name}: unsupported file type; use {', '.join(SUFFIXES)}")


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a frame through pyarrow, dates and timestamps kept in their own
    unit (``date32`` as ``datetime.date``, timestamps not forced to nanoseconds, which
    would wrap years past 2262), DECIMAL as ``decimal.Decimal``, 64-bit integers as
    integers: the core checks and converts each exactly."""
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise InputError("reading .parquet needs pyarrow: pip install pyarrow") from err
    import pyarrow as pa

    try:
        names = pq.read_schema(path).names
        repeated = len(set(names)) < len(names)
        if repeated:  # pyarrow's read_table refuses headers that repeat: read as stored,
            # converted under positional names, then given theirs back for the column
            # detection to name (or leave, unused)
            table = pq.ParquetFile(path).read().rename_columns(
                [f"c{i}" for i in range(len(names))]).replace_schema_metadata(None)
        else:
            table = pq.read_table(path)
        for i, field in enumerate(table.schema):
            if _is_binary(field.type):
                table = table.set_column(i, field.name, _utf8(table.column(i)))
        frame = table.to_pandas(date_as_object=True, coerce_temporal_nanoseconds=False)
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"{path.name} is not a readable Parquet file: "
                         f"{str(err).splitlines()[0] if str(err) else type(err).__name__}"
                         ) from err
    for field in table.schema:
        if pa.types.is_nested(field.type) and field.name in frame.columns:
            # a list or struct as its text, which no number or date rule reads (not an
            # index pandas restored from its metadata)
            frame[field.name] = frame[field.name].map(
                lambda v: v if v is None else str(_nested(v)))
    if repeated:
        frame.columns = names
    return frame


def _is_binary(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or \
        pa.types.is_fixed_size_binary(kind)


def _utf8(column):
    """A BINARY column as text, as DuckDB reads it: UTF-8, and bytes that are not UTF-8
    (a column of raw UUIDs) written as ``\\xff`` escapes, so that nothing is refused for
    a column the analysis does not use and no two different values become one."""
    import pyarrow as pa

    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # not UTF-8, or fixed-size
        return pa.array([None if v is None else v.decode("utf-8", "backslashreplace")
                         for v in column.to_pylist()], pa.string())


def _nested(value: object) -> object:
    """A nested Parquet value (numpy arrays, dicts, lists of pairs) as plain lists and
    dicts, written as DuckDB writes them ([1.0, 2.0], {'a': 1})."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_nested(v) for v in value]
    if isinstance(value, dict):
        return {k: _nested(v) for k, v in value.items()}
    return value


OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML and old .xls files


def _read_workbook(path: Path, sheet: str | None, mapping, today) -> Sales:
    """A workbook's sales sheet: python-calamine's values when nothing in the sheet needs
    more (:mod:`xl_crm.xlsx_fast`), else openpyxl's, under the same rules."""
    from .xlsx_fast import fast_rows

    with path.open("rb") as file:
        signature = file.read(8)
    if signature == OLE_SIGNATURE:
        raise InputError(f"{path.name} is password-protected (or an old .xls): save it "
                         "without a password as .xlsx")
    if not signature.startswith(b"PK"):
        raise InputError(f"{path.name} is not an .xlsx workbook (another kind of file "
                         "renamed?): save it from Excel as .xlsx")
    fast = fast_rows(path, lambda names: pick_sheet(names, sheet), mapping)
    columns = None
    if fast is not None:
        rows, name, mac = fast.rows, fast.name, fast.mac
        columns = None if mac else fast.columns  # the 1904 dates change the rows below
    else:
        rows, name, mac = _openpyxl_rows(path, sheet)
    try:
        if mac:
            _dates_from_1904_serials(rows, mapping)
        return sales_from_rows(rows, mapping, source=f"{path.name} [{name}]", today=today,
                               columns=columns)
    except InputError as err:
        raise InputError(f"{path.name} [{name}]: {err}") from err


def _openpyxl_rows(path: Path, sheet: str | None) -> tuple[list[list[object]], str, bool]:
    """The sheet's rows read by openpyxl (read-only, stored values), its name and whether
    the workbook uses the 1904 date system; a formula without a stored value is refused
    naming its cell. Text reads as Excel shows it, as python-calamine reads it: OOXML's
    ``_xHHHH_`` escape (ECMA-376 22.4.2.4; ``_x000D_`` is a carriage return Excel stored)
    decoded, ``_x005F_xHHHH_`` being the typed text ``_xHHHH_``."""
    from openpyxl import load_workbook
    from openpyxl.utils.cell import coordinate_from_string
    from openpyxl.utils.datetime import CALENDAR_MAC_1904
    from openpyxl.utils.escape import unescape

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises several types for damaged files
        raise InputError(f"{path.name} is not a readable Excel workbook: {err}") from err
    try:
        name = pick_sheet(book.sheetnames, sheet)
        _stored_shared_strings(book, book[name])
        rows = [[unescape(v) if isinstance(v, str) and "_x" in v else v for v in r]
                for r in book[name].iter_rows(values_only=True)]
        missing = _formula_without_value(book, book[name])
        mac = book.epoch == CALENDAR_MAC_1904
    finally:
        book.close()
    if missing:
        column, row = coordinate_from_string(missing) if missing != "?" else ("?", "?")
        raise InputError(f"{path.name} [{name}]: column {column} row {row}: holds a formula "
                         "without a computed value (the file was saved by a program that "
                         "does not calculate): open and save it in Excel or LibreOffice first")
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows, name, mac


def _stored_shared_strings(book, sheet) -> None:
    """Give openpyxl's read-only ``sheet`` the workbook's shared strings as stored.
    openpyxl drops every ``x005F_`` from them, which turns the typed text
    ``_x005F_x000D_`` into the escape ``_x000D_``; its inline strings it keeps as stored,
    so after this every text cell is decoded alike. Left as openpyxl read them if the
    table cannot be found or read the same way (a string per ``<si>``: its text and its
    runs' text, without phonetic runs, as openpyxl takes them)."""
    from xml.etree.ElementTree import ParseError, fromstring, iterparse

    from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

    strings = getattr(sheet, "_shared_strings", None)
    archive = getattr(book, "_archive", None)
    if not strings or archive is None:
        return
    main = f"{{{SHEET_MAIN_NS}}}"
    try:
        types = fromstring(archive.read("[Content_Types].xml"))
        part = next((o.get("PartName", "") for o in types
                     if o.get("ContentType") == SHARED_STRINGS), "")
        stored = []
        with archive.open(part.lstrip("/")) as xml:
            for _, node in iterparse(xml):
                if node.tag == f"{main}si":
                    stored.append("".join(
                        (child.text or "") if child.tag == f"{main}t" else
                        (child.findtext(f"{main}t") or "") if child.tag == f"{main}r" else ""
                        for child in node))
                    node.clear()
    except (KeyError, ParseError, OSError, ValueError):
        return
    if len(stored) == len(strings):
        strings[:] = stored


def _formula_without_value(book, sheet) -> str | None:
    """The reference (``C3``) of the sheet's first formula cell without a stored value, or
    None. A cheap scan of the sheet's XML (:func:`~xl_crm.xlsx_fast.xml_matches`) looks
    for a formula followed by no value or an empty one; only then is the XML parsed, cell
    by cell, to tell those from formulas whose stored result is the empty string
    (``t="str"``)."""
    member = getattr(sheet, "_worksheet_path", None)
    archive = getattr(book, "_archive", None)
    if member is None or archive is None:
        return None  # not openpyxl's read-only sheet: nothing more can be known
    member = member.lstrip("/")
    if not xml_matches(archive, member, NO_VALUE, NO_VALUE_MARKS):
        return None
    from xml.etree.ElementTree import iterparse

    with archive.open(member) as xml:
        for _, cell in iterparse(xml):
            if cell.tag.rsplit("}", 1)[-1] != "c":
                continue
            parts = {child.tag.rsplit("}", 1)[-1]: child for child in cell}
            value = parts.get("v")
            if "f" in parts and cell.get("t") != "str" and \
                    (value is None or not (value.text or "").strip()):
                return cell.get("r") or "?"
            cell.clear()
    return None


def _dates_from_1904_serials(rows: list[list], mapping) -> None:
    """In a workbook of the 1904 date system, plain numbers in the date column are 1904
    serials (0 = 1904-01-01): they become datetimes here (date-formatted cells already are);
    so does a serial typed as text ("44565"), which the 1900 system would read four years
    off."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, from_excel

    from .core.columns import detect_columns

    h = find_header_row(rows, mapping)
    col = detect_columns(["" if v is None else str(v) for v in rows[h]], mapping).get("date")
    if col is None:
        return
    for row in rows[h + 1:]:
        v = row[col] if col < len(row) else None
        if isinstance(v, str):
            v = serial_text(v)
        if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 2958466:
            row[col] = from_excel(v, CALENDAR_MAC_1904)


def csv_problem(err: Exception) -> str:
    """The csv module's complaint in the user's terms."""
    return f"not a readable CSV table ({err})"


def csv_delimiter(text: str, records: int = 30) -> str:
    """The delimiter of CSV text, as both engines find it: of ``,``, ``;`` and tab, the one
    that splits most of the first ``records`` lines (whole lines within the first 64 K
    characters) into the same number of cells, more than one (on a tie: more cells, then
    the order above); ``,`` when none splits them. Quotes are ``"``, doubled inside a
    quoted cell (Excel's CSV). Title rows above the header and a decimal comma in ``;``
    files do not mislead it."""
    sample = text[: 1 << 16]
    if len(sample) < len(text) and "\n" in sample:  # only whole lines
        sample = sample[: sample.rfind("\n") + 1]
    best, choice = (0, 1), ","
    for delimiter in (",", ";", "\t"):
        rows = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        widths = Counter(len(row) for row in islice(rows, records) if row)
        agree, width = max(((n, w) for w, n in widths.items()), default=(0, 0))
        if width > 1 and (agree, width) > best:
            best, choice = (agree, width), delimiter
    return choice


def csv_encoding(head: bytes) -> str:
    """The Python codec of CSV bytes (the file's first bytes, or all of them), by strict
    rules first:

    1. a byte-order mark: ``utf-8-sig``, ``utf-16`` (UTF-32 marks are refused);
    2. no mark but NUL bytes mostly at odd (even) offsets, making up at least a tenth of
       them, and the text decodes: ``utf-16-le`` (``utf-16-be``), UTF-16 without BOM;
    3. valid UTF-8 (plain ASCII included; a character cut at the end of ``head`` is
       fine): ``utf-8``;
    4. else one of the legacy 8-bit encodings of Excel's CSV, ``gb18030`` (Chinese
       Windows) or ``cp1252`` (Western Windows): the one of them that decodes strictly if
       only one does, else ``cp1252`` when a tenth or more of the GB18030 characters
       would take an ASCII byte as their second byte (:func:`_ascii_trails`), else
       the one that most runs of non-ASCII bytes speak for (:func:`_high_runs`); on a
       tie charset-normalizer's best guess between the two (these three look at the
       first MB only, as much as the DuckDB engine gives this function); when it has
       none, ``gb18030`` if every multi-byte character is in the GB2312 range (both bytes
       0xA1-0xFE, where Chinese names are), else ``cp1252``.

    Raises :class:`InputError` (a one-line reason, without the file name) when no
    accepted encoding fits."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise InputError("is UTF-32 text; save it as CSV UTF-8")
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        even = head[:4096:2].count(0)
        odd = head[1:4096:2].count(0)
        half = max(len(head[:4096]) // 2, 1)
        for codec, zeros, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
            if zeros >= half / 10 and others <= zeros / 10 and _decodes(head, codec):
                return codec
    if _decodes(head, "utf-8"):
        return "utf-8"
    if b"\x00" in head:
        raise InputError("holds NUL bytes but is not UTF-16 text; save it as CSV UTF-8")
    fits = [codec for codec in LEGACY_ENCODINGS if _decodes(head, codec)]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise InputError("is not UTF-8, UTF-16, GB18030 or Windows-1252 text; save it as "
                         "CSV UTF-8")
    sample = head[:1 << 20]  # the first MB, as the DuckDB engine reads it
    if _ascii_trails(sample) >= 0.1:
        return "cp1252"
    chinese, western = _high_runs(sample)
    if chinese != western:
        return "gb18030" if chinese > western else "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(sample[: 1 << 16], cp_isolation=list(LEGACY_ENCODINGS)).best()
    if best is not None and best.encoding in LEGACY_ENCODINGS:
        return best.encoding
    wide = sample.decode("gb18030", errors="ignore")
    gb2312 = all(len(ch.encode("gb18030")) == 1 or re.fullmatch(rb"[\xa1-\xfe]{2}",
                 ch.encode("gb18030")) for ch in wide)
    return "gb18030" if gb2312 else "cp1252"


def _ascii_trails(data: bytes) -> float:
    """The share of GB18030 two-byte characters of ``data`` whose second byte is an ASCII
    letter or sign (0x40-0x7E). Chinese text almost never has one (GB2312's characters,
    where names are, take 0xA1-0xFE); Western text read as GB18030 has them at every
    accented letter followed by a plain one (``Å`` + ``n`` of ``Ångström``), which
    charset-normalizer, on a few words, sometimes takes for Chinese."""
    pairs = ascii_trail = 0
    i = 0
    while i < len(data) - 1:
        lead = data[i]
        if 0x81 <= lead <= 0xFE:
            trail = data[i + 1]
            if 0x30 <= trail <= 0x39:  # a four-byte character
                i += 4
                continue
            pairs += 1
            ascii_trail += 0x40 <= trail <= 0x7E
            i += 2
        else:
            i += 1
    return ascii_trail / pairs if pairs else 0.0


def _high_runs(data: bytes) -> tuple[int, int]:
    """Runs of non-ASCII bytes (0x80-0xFF) in ``data`` that look Chinese and that look
    Western, as counts. A Western word has its accented letters one or two at a time
    inside the word, between ASCII letters (``Conceição``: ``ç`` and ``ã`` together, ``e``
    before, ``o`` after); Chinese characters, two bytes each, stand in cells of their
    own, in runs of two and more, or after Latin letters at the end of a cell (``张三``,
    ``iPhone手机壳``, ``T恤``, ``XL码``). So a run of one or two bytes with an ASCII letter
    on both sides counts as Western, every other run as Chinese. Unlike
    charset-normalizer, this holds on a file of a few lines (``刘洋`` twice reads as
    ``ÁõÑó`` in Windows-1252 too)."""
    chinese = western = 0
    for run in _HIGH_RUN.finditer(data):
        start, end = run.span()
        if end - start <= 2 and _ASCII_LETTER.fullmatch(data[start - 1:start]) and \
                _ASCII_LETTER.fullmatch(data[end:end + 1]):
            western += 1
        else:
            chinese += 1
    return chinese, western


_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_ASCII_LETTER = re.compile(rb"[A-Za-z]")


def _decodes(data: bytes, codec: str) -> bool:
    """Whether ``data`` decodes strictly in ``codec``, a character cut at its end allowed."""
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _read_csv(path: Path, mapping, today) -> Sales:
    raw = path.read_bytes()
    try:
        encoding = csv_encoding(raw)
        text = raw.decode(encoding)
    except InputError as err:
        raise InputError(f"{path.name} {err}") from err
    except UnicodeDecodeError as err:  # the whole file is read: only a cut last character
        raise InputError(f"{path.name} ends inside a character ({encoding} text cut "
                         "short?)") from err
    delimiter = csv_delimiter(text)
    try:
        head = list(islice(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 30))
    except csv.Error as err:  # a cell over 128 K characters
        raise InputError(f"{path.name}: {csv_problem(err)}") from err
    try:
        h = find_header_row(head, mapping)
    except InputError as err:
        raise InputError(f"{path.name}: {err}") from err
    if "\x00" in text:  # pandas 2.2's C parser ends a cell at a NUL character ('C\x001' -> 'C')
        return _read_csv_records(path, text, delimiter, mapping, today)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, header=None,
                            skiprows=h + 1, sep=delimiter, skip_blank_lines=False,
                            names=range(len(head[h])))
    except pd.errors.EmptyDataError as err:
        raise InputError(f"{path.name}: no data rows below the header (row {h + 1})") from err
    except pd.errors.ParserError:
        frame = None  # a row with more cells than the header: read record by record
    if frame is None or not isinstance(frame.index, pd.RangeIndex):  # pandas took an index
        return _read_csv_records(path, text, delimiter, mapping, today)
    try:
        return sales_from_frame(frame, mapping, source=path.name, first_row=h + 2, today=today,
                                headers=head[h], comma_decimal=delimiter == ";")
    except InputError as err:
        raise InputError(f"{path.name}: {err}") from err


def _read_csv_records(path: Path, text: str, delimiter: str, mapping, today) -> Sales:
    """The CSV read record by record (slower; only for files whose rows differ in width):
    a row with more non-blank cells than the header is refused, ``row {n}: has {k} cells
    but the header has {w}``, a shorter one read with its missing cells blank. ``n`` counts
    records, as Excel shows the file (a quoted cell's line break stays in its row)."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as err:
        raise InputError(f"{path.name}: {csv_problem(err)}") from err
    try:
        return sales_from_rows(rows, mapping, source=path.name, today=today,
                               comma_decimal=delimiter == ";")
    except InputError as err:
        raise InputError(f"{path.name}: {err}") from err


def sales_files(inputs: Sequence[str | Path]) -> list[Path]:
    """The sales files of ``inputs``: each file as given, and for a folder every file in
    it (not in its subfolders) whose suffix is one of :data:`SUFFIXES`, by name; hidden
    files and Excel's lock files (``~$Sales.xlsx``) are not sales files. A folder without
    one is refused; a file given as such is read whatever its name (and refused there if
    it is no sales file)."""
    out: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted((p for p in path.iterdir() if p.is_file()
                            and p.suffix.lower() in SUFFIXES
                            and not p.name.startswith((".", "~$"))),
                           key=lambda p: (p.name.casefold(), p.name))
            if not found:
                raise InputError(f"{show_path(path)} holds no sales file "
                                 f"({', '.join(SUFFIXES)})")
            out += found
        else:
            out.append(path)
    return out


def file_names(paths: Sequence[Path]) -> list[str]:
    """How each of ``paths`` is called in messages: its name, or more of its path where
    two files share a name (``2025/sales.csv`` and ``2026/sales.csv``)."""
    names = [p.name for p in paths]
    twice = {n for n in names if names.count(n) > 1}
    out = [str(Path(p.resolve().parent.name) / p.name) if p.name in twice else p.name
           for p in paths]
    if len(set(out)) < len(out) and len({p.resolve() for p in paths}) == len(paths):
        out = [str(p) if p.name in twice else p.name for p in paths]
    return out


def read_history(paths: Sequence[Path], sheet: str | None = None,
                 mapping: Mapping[str, object] | None = None, today: dt.date | None = None,
                 progress: Callable[[str], None] = lambda _: None) -> History:
    """Several sales files read as one history (:mod:`xl_crm.core.history`): each file by
    :func:`read_sales` (``sheet`` and ``mapping`` apply to every file), then combined."""
    from .core.history import combine_sales

    names = file_names(paths)
    parts = []
    for path, name in zip(paths, names):
        progress(f"reading {name}")
        parts.append(read_sales(path, sheet=sheet, mapping=mapping, today=today))
    return combine_sales(parts, names)
