"""Reading a workbook's cell values fast, through python-calamine (Rust), when nothing in
the sheet needs more than its stored values; :mod:`xl_crm.files` falls back to openpyxl
otherwise, so the rules stay exactly those of the openpyxl reader.

calamine is 10 to 15 times faster than openpyxl's read-only mode, but it turns an error
cell (``#N/A``) and a formula without a stored value into an empty cell, reads every
number as a 64-bit float, and follows its own calendar before 1900-03-01. So
:func:`fast_rows` returns None (use openpyxl) when the sheet's XML holds an error cell or
a formula without a value (a cheap scan in 1 MB pieces), when a date before 1900-03-01
appears, when the date column holds a time or a duration (calamine's reading of a
negative serial, a date before 1900), or when a number of 2**53 or more appears in the
customer or order column (an integer id written by another program would lose digits). Otherwise the rows are
what openpyxl gives: None for an empty cell, datetimes for date cells (also in the 1904
date system, which :func:`fast_rows` reports), text as stored.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import zipfile
from collections.abc import Callable, Mapping
from itertools import zip_longest
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from xml.etree import ElementTree

from .core.columns import detect_columns, find_header_row, pick_sheet
from .core.errors import InputError

# a formula element followed by no value, or an empty one, before its cell ends (also
# the openpyxl reader's scan, xl_crm.files), and what every match of it contains
NO_VALUE_XML = (rb"(?:</(?:\w+:)?f>|<(?:\w+:)?f\b[^>]*/>)\s*"
                rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>")
NO_VALUE = re.compile(NO_VALUE_XML)
NO_VALUE_MARKS = (b"f>", b"<f", b":f")
# a formula followed by no value or an empty one before its cell ends, or an error cell
_CAREFUL = re.compile(NO_VALUE_XML + rb"|<(?:\w+:)?c\b[^>]*\bt=\"e\"")
_MARKS = (*NO_VALUE_MARKS, b't="e"')  # what every match of _CAREFUL contains
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
EXACT_FLOAT = 2 ** 53  # floats at or above it are not every integer
FIRST_SAFE_DATE = dt.date(1900, 3, 1)  # the 1900 leap-year bug lies before it


def available() -> bool:
    """Whether python-calamine is installed."""
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return False
    return True


def _parts(archive: zipfile.ZipFile) -> tuple[dict[str, str], bool]:
    """{sheet name: its XML part} and whether the workbook uses the 1904 date system."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
    parts = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_REL}id"), "")
        path = target.lstrip("/") if target.startswith("/") else \
            str(PurePosixPath("xl") / target)
        parts[sheet.get("name", "")] = path
    pr = book.find(f"{_MAIN}workbookPr")
    mac = pr is not None and pr.get("date1904", "").lower() in ("1", "true")
    return parts, mac


def _needs_care(archive: zipfile.ZipFile, member: str) -> bool:
    """Whether the sheet's XML holds an error cell or a formula without a value."""
    return xml_matches(archive, member, _CAREFUL, _MARKS)


def xml_matches(archive: zipfile.ZipFile, member: str, pattern: re.Pattern[bytes],
                marks: tuple[bytes, ...]) -> bool:
    """Whether ``pattern`` matches in the XML of ``member``, read in 1 MB pieces, each
    searched with the last 512 bytes of the one before it (a match across two). A piece
    holding none of ``marks`` (bytes every match contains: a formula's ``f>`` of an end
    tag, ``<f`` or ``:f`` of a start tag) cannot match; the regular expression runs only
    on the others (it costs 0.3 s on the sample's 20 MB of XML, the substring tests a few
    milliseconds)."""
    tail = b""
    with archive.open(member) as xml:
        while chunk := xml.read(1 << 20):
            data = tail + chunk
            if any(mark in data for mark in marks) and pattern.search(data):
                return True
            tail = chunk[-512:]
    return False


class _Raw(NamedTuple):
    """calamine's reading of one sheet: the workbook's sheet names, the sheet read, the
    1904 date system, and its rows as calamine gives them (``""`` for an empty cell), or
    None when the sheet needs the openpyxl reader."""

    names: list[str]
    name: str
    mac: bool
    rows: list[list[object]] | None


class _Ahead(NamedTuple):
    """A read started by :func:`read_ahead`: the file's identity when it started, its
    thread, and the outcome (a :class:`_Raw`, or the exception the read raised)."""

    path: Path
    stamp: tuple[int, int, int]
    thread: threading.Thread
    outcome: list[object]


_ahead: _Ahead | None = None


def read_ahead(path: Path, sheet: str | None) -> None:
    """Start calamine's reading of the workbook's sales sheet (``sheet``, else as
    :func:`~xl_crm.core.columns.pick_sheet` chooses) on a background thread;
    :func:`fast_rows` takes its rows when it is asked for the same file, unchanged (size,
    modification time and inode), and the same sheet, else reads the file itself.

    calamine parses without holding Python's lock, so on a second core the read (about
    0.5 s for the shipped sample) runs while the command imports pandas, scipy and
    openpyxl (about 1 s). Only one read is kept; nothing is started without
    python-calamine or for a file that cannot be looked at."""
    global _ahead
    if not available():
        return
    try:
        stamp = _stamp(path)
    except OSError:
        return
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(_calamine(path, lambda names: pick_sheet(names, sheet)))
        except BaseException as err:  # noqa: BLE001 - handed to the reader, which reads again
            outcome.append(err)

    # not a daemon: Python waits for it at exit, so a command that ends early (a bad
    # option, Ctrl-C) never finalises the interpreter while calamine (Rust, PyO3) is
    # still reading, which can abort the process
    thread = threading.Thread(target=read, name="xl-crm-read-ahead")
    try:
        thread.start()
    except RuntimeError:  # no thread to be had: the reader reads the file itself
        return
    _ahead = _Ahead(path, stamp, thread, outcome)


def _stamp(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _take_ahead(path: Path, name_of: Callable[[list[str]], str]) -> _Raw | None:
    """The read-ahead's result for ``path`` and the sheet ``name_of`` picks, or None (no
    such read, the file changed since, the read failed: the caller reads the file)."""
    global _ahead
    ahead, _ahead = _ahead, None
    if ahead is None or ahead.path != path:
        return None
    ahead.thread.join()
    raw = ahead.outcome[0] if ahead.outcome else None
    try:
        unchanged = _stamp(path) == ahead.stamp
    except OSError:
        return None
    if not isinstance(raw, _Raw) or not raw.names or not unchanged or \
            name_of(raw.names) != raw.name:
        return None
    return raw


def _calamine(path: Path, name_of: Callable[[list[str]], str]) -> _Raw:
    """calamine's reading of the sheet ``name_of`` picks (rows None: needs openpyxl)."""
    from python_calamine import CalamineError

    names, name, mac = [], "", False
    try:
        with zipfile.ZipFile(path) as archive:
            parts, mac = _parts(archive)
            names = list(parts)
            name = name_of(names)
            member = parts.get(name)
            if member is None or member not in archive.namelist():
                return _Raw(names, name, mac, None)
            # calamine parses on a second core (without Python's lock) while this
            # thread looks for what calamine cannot read: at 100,000 lines the look
            # takes 0.3 s of the parse's 1.1 s. When it finds something (the openpyxl
            # reader reads such a sheet) the parse is not waited for and its rows are
            # never made; it cannot be stopped, so it runs to its end beside the
            # openpyxl reader (its memory held until then; at exit Python waits for it)
            parse = _Parse(path, name)
            try:
                careful = _needs_care(archive, member)
            except BaseException:
                parse.cancel()
                raise
            if careful:
                parse.cancel()
                return _Raw(names, name, mac, None)
        try:
            rows = parse.rows()
        except BaseException:
            parse.cancel()  # an interrupt while waiting: no rows to make
            raise
    except InputError:
        raise
    except (CalamineError, zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError,
            ValueError):
        return _Raw(names, name, mac, None)  # the openpyxl reader names what is wrong
    return _Raw(names, name, mac, rows)


class _Parse:
    """calamine's reading of one sheet's rows, started on a thread when made; where no
    thread can be had, done by :meth:`rows` in the caller's thread (after the look for
    formulas, as before there were threads). :meth:`rows` waits for it and gives the
    rows or raises what the read raised; after :meth:`cancel` the parse runs to its end
    (it cannot be stopped) but its rows are not made."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = path, name
        self.outcome: list[object] = []
        self.cancelled = False
        # not a daemon, for the reason given in read_ahead
        self.thread: threading.Thread | None = threading.Thread(
            target=self._read, name="xl-crm-calamine")
        try:
            self.thread.start()
        except RuntimeError:  # e.g. at interpreter shutdown: read when asked
            self.thread = None

    def _read(self) -> None:
        from python_calamine import CalamineWorkbook

        try:
            book = CalamineWorkbook.from_path(str(self.path))
            try:
                sheet = book.get_sheet_by_name(self.name)  # the parse, without the lock
                if self.cancelled:
                    return
                rows = sheet.to_python(skip_empty_area=False)  # Python objects: the lock
            finally:
                book.close()
            self.outcome.append(rows)
        except BaseException as err:  # noqa: BLE001 - raised again in the caller's thread
            self.outcome.append(err)

    def cancel(self) -> None:
        self.cancelled = True

    def rows(self) -> list[list[object]]:
        if self.thread is not None:
            self.thread.join()
        elif not self.outcome:
            self._read()
        (result,) = self.outcome
        if isinstance(result, BaseException):
            raise result
        return result


class FastSheet(NamedTuple):
    """A sheet read by calamine: its rows from A1 (empty cells None, no blank rows at the
    end), its name, whether the workbook uses the 1904 date system, and the rows
    transposed (``zip_longest(*rows)``: made once, for the look and for the reader)."""

    rows: list[list[object]]
    name: str
    mac: bool
    columns: list[tuple[object, ...]]


def fast_rows(path: Path, name_of: Callable[[list[str]], str],
              mapping: Mapping[str, object] | None) -> FastSheet | None:
    """The sheet read by calamine (or taken from :func:`read_ahead`), or None when it needs
    the openpyxl reader (see the module docstring). ``name_of`` picks the sheet from the
    workbook's sheet names (:func:`xl_crm.core.columns.pick_sheet`)."""
    if not available():
        return None
    raw = _take_ahead(path, name_of) or _calamine(path, name_of)
    if raw.rows is None:
        return None
    out = [[None if v == "" else v for v in row] if "" in row else row for row in raw.rows]
    while out and all(v is None for v in out[-1]):
        out.pop()
    columns = list(zip_longest(*out))
    if not _plain(out, columns, mapping):
        return None
    return FastSheet(out, raw.name, raw.mac, columns)


def _plain(rows: list[list[object]], columns: list[tuple[object, ...]],
           mapping: Mapping[str, object] | None) -> bool:
    """No date before 1900-03-01 anywhere; in the date column no time or duration (calamine
    reads a serial below 0, a date before 1900 that openpyxl reads, as a time of day); in
    the id columns no float of 2**53 or more. Looked at column by column (``columns``:
    the rows transposed): the types a column holds first (one C-level pass), its values
    only when a type calls for it."""
    for column in columns:
        if any(issubclass(kind, dt.date) for kind in set(map(type, column))) and \
                any(isinstance(v, dt.date) and (v.date() if isinstance(v, dt.datetime) else v)
                    < FIRST_SAFE_DATE for v in column):
            return False
    try:
        h = find_header_row(rows, mapping)
        found = detect_columns(["" if v is None else str(v) for v in rows[h]], mapping)
    except InputError:
        return True  # the reader gives the message; the values are not in doubt
    for role in ("customer", "order_id", "date"):
        col = found.get(role)
        if col is None or col >= len(columns):
            continue
        body = columns[col][h + 1:]
        kinds = set(map(type, body))
        if role == "date":
            if any(issubclass(kind, dt.time | dt.timedelta) for kind in kinds):
                return False
        elif any(issubclass(kind, float) for kind in kinds) and \
                any(isinstance(v, float) and abs(v) >= EXACT_FLOAT for v in body):
            return False
    return True
