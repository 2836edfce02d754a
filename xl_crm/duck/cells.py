"""The pandas engine's cell rules as DuckDB SQL expressions: dates (ISO, other text
formats, Excel serial numbers, zoned timestamps), amounts, ids and labels, blank cells,
and the range rules whose breach is refused (:data:`RANGE_RULES`).
"""

from __future__ import annotations

import re

from ..core.constants import LABEL_FACTS
from ..core.sales import forbidden_class
from ..core.values import CELL_ERROR_TEXTS, MAX_AMOUNT, MAX_SERIAL, THOUSAND_DOTS
from .dialect import SOLID, SPACE, quoted, solid_ends, trimmed

DATE_FORMATS = ("%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


# the pandas engine's date patterns (xl_crm.core.values) in DuckDB's regular
# expressions: an optional time of day with its UTC offset; a four-digit year first;
# day or month first with a four-digit year last
TIME_OF_DAY = (r"([ T]([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?"
               r"(\s?(Z|[+-][0-9]{2}(:?[0-9]{2})?))?)?")


YEAR_FIRST = r"[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}" + TIME_OF_DAY


YEAR_LAST = r"([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})" + TIME_OF_DAY


TEXT_ROLES = ("customer", "order_id", *LABEL_FACTS)


def local_time(col: str, zone: str) -> str:
    """The wall-clock time of a zoned timestamp in ``zone``: a named zone
    (``Asia/Tokyo``) through DuckDB's time zones, a fixed offset (``+08:00``, ``-0530``,
    as pandas writes ``datetime.timezone`` columns; DuckDB names no such zone) by adding
    the offset to the UTC time (the connection's zone)."""
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
    if offset is None:
        return f"timezone({quoted(zone)}, {col})"
    minutes = int(offset.group(2)) * 60 + int(offset.group(3))
    sign = "-" if offset.group(1) == "-" else "+"
    return f"(CAST({col} AS TIMESTAMP) {sign} INTERVAL {minutes} MINUTE)"


def date_expr(col: str, kind: str, day_first: bool | None = None) -> str:
    """A date cell's DATE by the full rules; day-or-month-first text (``13/03/2025``,
    a four-digit year last) read in the ``day_first`` order, and not at all when None."""
    if kind in ("DATE",) or kind.startswith("TIMESTAMP"):
        return f"CAST({col} AS DATE)"
    if kind in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "DECIMAL") or \
            kind.startswith("DECIMAL"):
        return _serial_expr(col)
    text = trimmed(f"CAST({col} AS VARCHAR)")
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
    return (f"CASE WHEN {iso_date(text)} THEN {fast} "
            f"WHEN regexp_full_match({text}, '{YEAR_LAST}') THEN {year_last} "
            f"ELSE coalesce({', '.join(tries)}) END")


def iso_date(col: str) -> str:
    """Whether a text cell is an ISO date alone or at midnight (``2025-03-01``,
    ``2025-03-01 00:00:00``, as databases and pandas export dates): the fast path of the
    typed table and of :func:`date_expr`, where ``TRY_CAST(... AS DATE)`` gives what the
    full rules give. The DATE written back is the text (with `` 00:00:00``): DuckDB before
    2.0 casts ``2025-03-01x`` to a date too; a comparison measured cheaper than a regular
    expression on 10M lines."""
    day = f"CAST(TRY_CAST({col} AS DATE) AS VARCHAR)"
    return f"({day} = {col} OR {day} || ' 00:00:00' = {col})"


def _serial_expr(number: str) -> str:
    """The date of an Excel 1900-system serial number (fractions are times of day):
    1..59 count from 1899-12-31, 61..2958465 (9999-12-31) from 1899-12-30; 60, Excel's
    fictitious 1900-02-29, and numbers outside are NULL (refused)."""
    return (f"CASE WHEN {number} >= 61 AND {number} < {MAX_SERIAL + 1} THEN DATE '1899-12-30'"
            f" + CAST(floor({number}) AS INTEGER) WHEN {number} >= 1 AND {number} < 60 THEN "
            f"DATE '1899-12-31' + CAST(floor({number}) AS INTEGER) END")


def number_expr(col: str, kind: str, comma_decimal: bool = False) -> str:
    """A number cell's DOUBLE by the full rules (NULL: unreadable); ``comma_decimal``:
    digits in groups of three after dots are unreadable, as the pandas engine refuses
    them in a file separated by ';' (:func:`xl_crm.core.values.parse_amounts`)."""
    if kind in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT") or \
            kind.startswith("DECIMAL"):
        return f"CAST({col} AS DOUBLE)"
    text = trimmed(f"CAST({col} AS VARCHAR)")
    plain = f"CASE WHEN regexp_full_match({text}, '[+-]?([1-9][0-9]{{0,2}}(,[0-9]{{3}})+|[0-9]+)" \
            f"(\\.[0-9]+)?([eE][+-]?[0-9]+)?|[+-]?\\.[0-9]+') " \
            f"THEN replace({text}, ',', '') END"
    if comma_decimal:
        return (f"CASE WHEN regexp_full_match({text}, '{THOUSAND_DOTS}') THEN NULL "
                f"ELSE TRY_CAST({plain} AS DOUBLE) END")
    return f"TRY_CAST({plain} AS DOUBLE)"


def text_expr(col: str, kind: str) -> str:
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
    return (f"CASE WHEN {plain_id(text)} THEN {text} "
            f"ELSE coalesce(nfc_normalize({trimmed(text)}), '') END")


def plain_id(text: str) -> str:
    """Whether an id is printable ASCII at both ends and ASCII throughout: nothing to
    trim or normalise (three cheap tests; the common id)."""
    return (f"(ord({text}) BETWEEN 33 AND 126 AND ord({text}[-1]) BETWEEN 33 AND 126 "
            f"AND strlen({text}) = length({text}))")


def clean_key(text: str) -> str:
    """Whether an aggregated id needs no cleaning: a plain id, or (Chinese ids, ...) one
    that starts and ends with a character that is not white space and is already NFC."""
    return f"({plain_id(text)} OR ({solid_ends(text)} AND nfc_normalize({text}) = {text}))"


def quantity_suspects(col: str, kind: str, comma_decimal: bool = False) -> str:
    """A quantity cell's text when a cheap cast doubts it (not a number DuckDB casts,
    beyond the amount limit, NaN or infinite, or "1.500" when ``comma_decimal``), else
    NULL; blank cells are not doubted. For a typed column of numbers, a mark ('x') on
    the cells beyond the limit (a NaN there is blank); another typed column (dates,
    booleans) is doubted whole. The full rule (:func:`number_expr`) then judges the few."""
    if kind in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT") or \
            kind.startswith("DECIMAL"):
        return f"CASE WHEN abs({col}) >= {MAX_AMOUNT:.0f} AND NOT isnan({col}) THEN 'x' END"
    if kind != "VARCHAR":
        return f"CASE WHEN {col} IS NOT NULL THEN 'x' END"
    number = f"TRY_CAST({col} AS DOUBLE)"
    dots = f"WHEN regexp_full_match({col}, '{THOUSAND_DOTS}') THEN {col} " if comma_decimal \
        else ""
    return (f"CASE WHEN {number} IS NULL THEN CASE WHEN {_blank(col, kind)} THEN NULL "
            f"ELSE {col} END {dots}WHEN abs({number}) >= {MAX_AMOUNT:.0f} THEN {col} END")


def plain_number(col: str, comma_decimal: bool = False) -> str:
    """Whether the text is a plain decimal ("1234", "-12.50"): the common cell, which
    DuckDB's cast reads as the pandas engine does (correctly rounded). DuckDB's cast also
    reads "1_000", "1.", "1.e5", "+-1", "nan" and "inf", which the pandas engine refuses;
    those, thousands separators, exponents and the rest take the full rule, and so does
    "1.500" when ``comma_decimal`` (:func:`number_expr`)."""
    plain = f"regexp_full_match({col}, '-?[0-9]+(\\.[0-9]+)?')"
    if comma_decimal:
        return f"({plain} AND NOT regexp_full_match({col}, '{THOUSAND_DOTS}'))"
    return plain


def label_expr(col: str) -> str:
    """A name or region cell: blank as '', leading white space removed (a cheap test of
    the first character). The chosen label loses its trailing white space and is put in
    NFC after the aggregation, which gives the same label as doing both on every row
    (NFC neither makes nor removes white space)."""
    return (f"CASE WHEN {SOLID.format(o=f'ord({col})')} THEN {col} "
            f"ELSE coalesce(ltrim({col}, {SPACE}), '') END")


def full_expr(role: str, col: str, kind: str, day_first: bool | None = None,
              comma_decimal: bool = False) -> str:
    """The value of a cell of ``role`` by the full rules (``comma_decimal``: see
    :func:`number_expr`)."""
    if role == "date":
        return date_expr(col, kind, day_first)
    if role in TEXT_ROLES:
        return text_expr(col, kind)
    return number_expr(col, kind, comma_decimal)


def all_blank(cells: list[tuple[str, str]]) -> str:
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
    return (f"(CASE WHEN {SOLID.format(o=f'ord({col})')} THEN false "
            f"ELSE {col} IS NULL OR trim({col}, {SPACE}) = '' END)")


def unreadable(role: str, value: str) -> str:
    """Whether the cell's ``value`` (an SQL expression) is missing or unreadable for
    ``role``: an empty id, no date, or no finite number."""
    if role == "customer":
        return f"coalesce({value}, '') = ''"
    if role == "date":
        return f"{value} IS NULL"
    return f"({value} IS NULL OR NOT isfinite({value}))"


# the rules of xl_crm.core.values and xl_crm.core.sales: role -> SQL condition on the
# value that breaks them (the message is the pandas engine's: :func:`refuse`)
RANGE_RULES = {
    # a control character inside an id; at its ends it is white space trimmed away
    # (NEL, U+001C..U+001F), as str.strip() trims it in the pandas engine; or an id that
    # is a cell error's text (#N/A)
    "customer": (lambda v: f"((regexp_matches({v}, '{CONTROL_CHARACTERS}') AND "
                           f"regexp_matches({trimmed(v)}, '{CONTROL_CHARACTERS}')) OR "
                           f"{cell_error(trimmed(v))})",),
    "order_id": (lambda v: f"(regexp_matches({v}, '{CONTROL_CHARACTERS}') OR "
                           f"{cell_error(v)})",),
    "date": (lambda v: f"{v} < DATE '1900-01-01'",),
    **{role: (lambda v: f"abs({v}) >= {MAX_AMOUNT:.0f}",) for role in ("amount", "cost",
                                                                       "profit")},
    # DuckDB orders NaN above every number; a NaN quantity is blank, which is allowed
    "quantity": (lambda v: f"(abs({v}) >= {MAX_AMOUNT:.0f} AND NOT isnan({v}))",),
}


# escapes, not the characters: DuckDB 1.1 ends a query at a NUL character in its text
CONTROL_CHARACTERS = forbidden_class("\\x{{{:04X}}}")  # the pandas engine's ID_FORBIDDEN


def cell_error(text: str) -> str:
    """Whether a clean id ``text`` is a cell error's text (:data:`CELL_ERROR_TEXTS`, any
    case); a cheap test for "#" first."""
    errors = ", ".join(f"'{e}'" for e in sorted(CELL_ERROR_TEXTS))
    return f"(CASE WHEN strpos({text}, '#') > 0 THEN upper({text}) IN ({errors}) ELSE false END)"
