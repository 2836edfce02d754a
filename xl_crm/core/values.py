"""Cell parsers: dates and amounts exactly as Excel, CSV files and users hand them over.

Dates (result: ``datetime64[ns]`` at midnight; the time of day is dropped because every
measure counts whole days):

- ``datetime``/``date``/``Timestamp`` values and datetime columns;
- accepted range: 1900-01-01 up to today (the caller checks ``today``); earlier years
  (25, 202, 1500) and years past 2262 are refused before ``datetime64[ns]`` could wrap
  them round; two-digit years (``25-03-01``, ``3/1/25``) are refused, not guessed;
- Excel serial numbers of the 1900 date system (1 = 1900-01-01; 60, the fictitious
  1900-02-29, is refused; fractions are times of day), as numbers or as text;
- text, year first: ``2025-03-01``, ``2025-03-01 14:30``, ``2025/3/1``, ``2025.3.1``,
  ``20250301``, ``2025年3月1日``; a time may carry its UTC offset
  (``2025-03-01T23:30:00+05:30``, ``...Z``): the date written, the local one, is kept;
- text, day or month first with a four-digit year (``01/03/2025``): the order is
  decided per column from the values themselves (a first part above 12 means day
  first, a second part above 12 means month first); a column where both occur, or
  where nothing decides, is an error unless ``day_first`` is given.

Amounts (result: ``float64``): numbers, or text with thousands separators (``1,234.50``),
currency signs or codes (``$``, ``€``, ``£``, ``¥``, ``USD``, ``RMB``, ``CNY``, a trailing
``元``), full-width digits, a unicode minus or accounting parentheses ``(12.50)``.
``decimal.Decimal`` values (database DECIMAL columns) are numbers, exact until the
conversion to float. A decimal comma (``1.234,50``, ``0,500``) is refused rather than
guessed, and so are a sign inside accounting parentheses (``(-5)``) and, in text from
where the comma is the decimal mark (``comma_decimal``), thousands with dots (``1.500``).
Booleans and dates in an amount column are errors; so are infinite values and values of
size :data:`MAX_AMOUNT` (10^12) or more, which no sales figure reaches.

Blank cells (``None``, ``NaN``, ``NaT``, empty or white-space text) come back as
``NaT``/``NaN``; the caller decides whether a blank is allowed. Anything unreadable is
an :class:`~xl_crm.core.errors.InputError` naming the column, the row and the value.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from .errors import InputError, show

EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
EARLIEST = np.datetime64("1900-01-01", "D")
LATEST = np.datetime64("2262-04-11", "D")  # the last whole day datetime64[ns] holds
MAX_AMOUNT = 1e12  # amounts, costs, profits and quantities must be below this (absolute)
MAX_SERIAL = 2958465  # 9999-12-31
# what Excel shows for a cell error (#N/A of a failed lookup, ...): as a file or xlwings
# Lite hands it over, the text; as openpyxl reads an error cell, the same text
CELL_ERROR_TEXTS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!",
                              "#VALUE!", "#SPILL!", "#CALC!", "#GETTING_DATA", "#FIELD!",
                              "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"})

# a time of day, optionally with its UTC offset (ISO 8601: Z, +05:30, -0800, +08): the
# date written is the local one, the column's own calendar date, and is the one kept;
# hours run from 0 to 23, minutes and seconds from 0 to 59 (25:00 is a typo, refused)
_TIME = (r"(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
         r"(?:\s?(?:Z|[+-]\d{2}(?::?\d{2})?))?)?")
_YEAR_FIRST = rf"^(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}$"
_COMPACT = r"^(\d{4})(\d{2})(\d{2})$"
_CHINESE = r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?" + _TIME + "$"
_YEAR_LAST = rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}}){_TIME}$"
_SERIAL_TEXT = r"^\d+(?:\.\d+)?$"
_SHORT_YEAR = rf"^\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2}}{_TIME}$"

# thousands groups after a first group of 1 to 3 digits that is not 0 (0,500 is a decimal
# comma), or plain digits
_NUMBER = r"^[+-]?(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?$|^[+-]?\.\d+$"
# digits in groups of three after dots (1.500, 12.345.678): thousands where the comma is
# the decimal mark; refused as ambiguous in such files (parse_amounts' comma_decimal)
THOUSAND_DOTS = r"[+-]?[1-9][0-9]{0,2}(?:\.[0-9]{3})+"  # also DuckDB's (RE2) pattern
_CURRENCY = r"^(?:USD|RMB|CNY|EUR|GBP|JPY|US\$|[$€£¥])\s*|\s*(?:元|USD|RMB|CNY|EUR|GBP|JPY)$"


def as_series(values: Sequence | np.ndarray | pd.Series) -> pd.Series:
    """Wrap values in a Series with a fresh 0..n-1 index (the caller's object is untouched)."""
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, np.ndarray):
        return pd.Series(values)
    return pd.Series(list(values), dtype=object)


def blank_mask(values: pd.Series) -> np.ndarray:
    """True where a cell is empty: None, NaN, NaT, or text that is only white space."""
    mask = values.isna().to_numpy().copy()
    if values.dtype == object and not any(issubclass(kind, str)
                                          for kind in set(map(type, values))):
        return mask  # no text, so nothing blank but the missing values
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        text = values[~mask]
        is_str = text.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        if is_str.any():
            strs = text[is_str].astype(str)
            empty = strs.str.strip().eq("").to_numpy()
            idx = np.flatnonzero(~mask)[is_str][empty]
            mask[idx] = True
    return mask


def _rows(rows: np.ndarray | None, n: int) -> np.ndarray:
    return np.arange(1, n + 1) if rows is None else np.asarray(rows)


def _fail(column: str, rows: np.ndarray, values: pd.Series, where: np.ndarray, why: str):
    i = int(np.flatnonzero(where)[0])
    count = int(where.sum())
    more = f" ({count - 1} more rows like it)" if count > 1 else ""
    raise InputError(f"{show(values.iloc[i])} {why}{more}", column, int(rows[i]))


def serial_text(value: str) -> float | None:
    """The Excel serial number a text cell holds, as :func:`parse_dates` reads one
    (``"44565"``, full-width digits, white space around), or None."""
    text = unicodedata.normalize("NFKC", value).strip()
    return float(text) if re.fullmatch(_SERIAL_TEXT, text) else None


def serials_to_dates(
    serials: np.ndarray, column: str = "dates", rows: np.ndarray | None = None,
    today: dt.date | None = None,
) -> np.ndarray:
    """Excel 1900-system serial numbers (float, NaN for blank) to ``datetime64[ns]`` days,
    in the accepted range (see :func:`checked_days`)."""
    x = np.asarray(serials, dtype=float)
    rows = _rows(rows, len(x))
    ok = ~np.isnan(x)
    whole = np.floor(np.where(ok, x, 0))
    bad = ok & ((whole < 1) | (whole > MAX_SERIAL))
    leap = ok & (whole == 60)
    if bad.any() or leap.any():
        i = int(np.flatnonzero(bad | leap)[0])
        why = (
            "is 1900-02-29, a date that does not exist (Excel's 1900 leap-year bug)"
            if leap[i]
            else f"is not a date: Excel date numbers run from 1 to {MAX_SERIAL}"
        )
        raise InputError(f"{show(serials[i])} {why}", column, int(rows[i]))
    # Serials 1..59 count from 1899-12-31, later ones from 1899-12-30 (the fictitious leap day).
    days = np.where(whole < 60, whole + 1, whole).astype("int64")
    out = EXCEL_EPOCH + days.astype("timedelta64[D]")
    out[~ok] = np.datetime64("NaT")
    return checked_days(out, column, rows, today)


def checked_days(
    days: np.ndarray, column: str, rows: np.ndarray, today: dt.date | None = None
) -> np.ndarray:
    """``datetime64[D]`` days (NaT for blank) as ``datetime64[ns]``, after refusing, in
    row order, a day before 1900-01-01 (``{iso} is before 1900-01-01, the earliest date
    accepted``) or after 2262-04-11, the last day ``datetime64[ns]`` holds (``{iso} is in
    the future (today is {today})``, ``today`` defaulting to the computer's date). The
    check is made on the days, before the conversion, which would otherwise wrap round.
    Later days up to 2262 are left to the caller's own check against ``today``."""
    days = np.asarray(days, dtype="datetime64[D]")
    early = days < EARLIEST
    late = days > LATEST
    if early.any() or late.any():
        i = int(np.flatnonzero(early | late)[0])
        iso = _iso(days[i])
        if early[i]:
            raise InputError(f"{iso} is before 1900-01-01, the earliest date accepted",
                             column, int(rows[i]))
        raise InputError(f"{iso} is in the future (today is {today or dt.date.today()})",
                         column, int(rows[i]))
    return days.astype("datetime64[ns]")


def _iso(day: np.datetime64) -> str:
    """YYYY-MM-DD with a four-digit, zero-padded year (``0202-03-01``)."""
    return str(np.datetime64(day, "D"))


def parse_dates(
    values: Sequence | np.ndarray | pd.Series,
    column: str = "dates",
    rows: np.ndarray | None = None,
    day_first: bool | None = None,
    today: dt.date | None = None,
) -> np.ndarray:
    """Parse a column of dates to ``datetime64[ns]`` at midnight; blanks become ``NaT``.

    ``rows`` gives the row number reported for each value (default 1, 2, ...). Every
    input form is checked on its calendar day before the conversion to ``datetime64[ns]``
    (:func:`checked_days`: 1900-01-01 up to 2262-04-11; ``today`` only names today in the
    message). Time-zone-aware values give their calendar date in their own zone.
    """
    s = as_series(values)
    rows = _rows(rows, len(s))
    if len(s) == 0:
        return np.array([], dtype="datetime64[ns]")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):  # any unit: s, ms, us or ns
        return checked_days(s.to_numpy().astype("datetime64[D]"), column, rows, today)
    if pd.api.types.is_bool_dtype(s.dtype):
        _fail(column, rows, s, np.ones(len(s), bool), "is TRUE/FALSE, not a date")
    if pd.api.types.is_numeric_dtype(s.dtype):
        return serials_to_dates(s.to_numpy(dtype=float, na_value=np.nan), column, rows, today)

    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[ns]")
    blank = blank_mask(s)
    kind = s.map(_date_kind).to_numpy(dtype=object, copy=True)
    kind[blank] = "blank"
    if (kind == "bool").any():
        _fail(column, rows, s, kind == "bool", "is TRUE/FALSE, not a date")
    if (kind == "other").any():
        _fail(column, rows, s, kind == "other", "is not a date")
    dates = kind == "date"
    if dates.any():
        days = np.fromiter(map(_day, s[dates]), dtype="int64", count=int(dates.sum()))
        out[dates] = checked_days(days.astype("datetime64[D]"), column, rows[dates], today)
    numbers = kind == "number"
    if numbers.any():
        serials = _floats(s[numbers])
        huge = np.abs(serials) == sys.float_info.max  # an int beyond a float (Python API)
        if huge.any():
            _fail(column, rows[numbers], s[numbers], huge,
                  f"is not a date: Excel date numbers run from 1 to {MAX_SERIAL}")
        out[numbers] = serials_to_dates(serials, column, rows[numbers], today)
    text = kind == "text"
    if text.any():
        out[text] = _parse_date_text(s[text].astype(str), column, rows[text], day_first, today)
    return out


_ORDINAL_1970 = dt.date(1970, 1, 1).toordinal()


def _day(v: dt.date | np.datetime64) -> int:
    """Days since 1970-01-01 of the calendar day of a date, datetime or Timestamp (aware
    ones: the wall-clock date in their own zone)."""
    if isinstance(v, np.datetime64):
        return int(v.astype("datetime64[D]").astype("int64"))
    return v.toordinal() - _ORDINAL_1970


def _date_kind(v: object) -> str:
    if isinstance(v, bool | np.bool_):
        return "bool"
    if isinstance(v, dt.date | np.datetime64):  # datetime and Timestamp are dates too
        return "date"
    if isinstance(v, int | float | np.integer | np.floating | Decimal):
        return "number"
    if isinstance(v, str):
        return "text"
    return "blank" if v is None else "other"


def _parse_date_text(
    text: pd.Series, column: str, rows: np.ndarray, day_first: bool | None,
    today: dt.date | None = None,
) -> np.ndarray:
    t = text.str.normalize("NFKC").str.strip().reset_index(drop=True)
    n = len(t)
    year = np.full(n, -1, dtype="int64")
    month = np.full(n, -1, dtype="int64")
    day = np.full(n, -1, dtype="int64")
    done = np.zeros(n, dtype=bool)
    for pattern in (_YEAR_FIRST, _CHINESE, _COMPACT):
        parts = t.str.extract(pattern)
        hit = parts[0].notna().to_numpy() & ~done
        if hit.any():
            year[hit] = parts[0][hit].astype("int64")
            month[hit] = parts[1][hit].astype("int64")
            day[hit] = parts[2][hit].astype("int64")
            done |= hit
    last = t.str.extract(_YEAR_LAST)
    hit = last[0].notna().to_numpy() & ~done
    if hit.any():
        a, b = _first_parts(last, hit)
        order = day_first if day_first is not None else _day_first(a, b, column, rows[hit], t[hit])
        year[hit] = last[2][hit].astype("int64")
        day[hit], month[hit] = (a, b) if order else (b, a)
        done |= hit
    serial = t.str.fullmatch(_SERIAL_TEXT).fillna(False).to_numpy(dtype=bool) & ~done
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if serial.any():
        out[serial] = serials_to_dates(t[serial].astype(float).to_numpy(), column, rows[serial],
                                       today)
    short = t.str.fullmatch(_SHORT_YEAR).fillna(False).to_numpy(dtype=bool) & ~done & ~serial
    if short.any():
        _fail(column, rows, text.reset_index(drop=True), short,
              "has a two-digit year; write the year in full (e.g. 2025-03-01)")
    if (~done & ~serial).any():
        _fail(
            column, rows, text.reset_index(drop=True), ~done & ~serial,
            "is not a date (use e.g. 2025-03-01, 2025/3/1 or 2025年3月1日)",
        )
    y, m, d = year[done], month[done], day[done]
    first = (y - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (m - 1)
    days = first.astype("datetime64[D]") + (d - 1)
    ends = (first + 1).astype("datetime64[D]")
    bad = (m < 1) | (m > 12) | (d < 1) | (days >= ends)
    if bad.any():
        _fail(column, rows[done], text[done].reset_index(drop=True), bad, "is not a real date")
    out[done] = checked_days(days, column, rows[done], today)
    return out


def _first_parts(last: pd.DataFrame, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and second numbers of the ``dd/mm/yyyy``-like dates ``hit`` marks."""
    return (last[0][hit].astype("int64").to_numpy(), last[1][hit].astype("int64").to_numpy())


def day_order_evidence(values: pd.Series) -> tuple[int, int, int]:
    """Where a column of date text shows its day/month order, as :func:`parse_dates`
    decides it: positions of the first ``dd/mm/yyyy``-like text whose first part is above
    12 (day first), of the first whose second part is (month first), and of the first of
    them at all; -1 for none. For engines that parse a column in parts (the Spark engine)
    and must decide the order from the whole column, as the parser does."""
    text = values[values.map(lambda v: isinstance(v, str))].astype(str)
    t = text.str.normalize("NFKC").str.strip()
    last = t.str.extract(_YEAR_LAST)
    hit = last[0].notna().to_numpy()
    if not hit.any():
        return -1, -1, -1
    a, b = _first_parts(last, hit)
    where = np.flatnonzero(values.map(lambda v: isinstance(v, str)).to_numpy())[hit]

    def first(mask: np.ndarray) -> int:
        return int(where[np.flatnonzero(mask)[0]]) if mask.any() else -1

    return first(a > 12), first(b > 12), int(where[0])


def day_order_conflict(month_first: str, day_first: str, day_first_row: int) -> str:
    """The message for a column holding both orders (the month-first text is the one
    named with the row)."""
    return (f"{show(month_first)} is month-first but row {day_first_row} "
            f"({show(day_first)}) is day-first; use one order (best: 2025-03-01)")


def day_order_undecided(text: str) -> str:
    """The message for a column whose ``dd/mm/yyyy`` dates could be either order."""
    return (f"{show(text)} could be day-first or month-first and no date in the column "
            "decides; write dates as 2025-03-01 or say which order is used")


def _day_first(
    a: np.ndarray, b: np.ndarray, column: str, rows: np.ndarray, text: pd.Series
) -> bool:
    """Decide day/month order of ``dd/mm/yyyy``-like text from the column's own values."""
    day_first = a > 12
    month_first = b > 12
    if day_first.any() and month_first.any():
        i = int(np.flatnonzero(month_first)[0])
        j = int(np.flatnonzero(day_first)[0])
        raise InputError(day_order_conflict(text.iloc[i], text.iloc[j], int(rows[j])),
                         column, int(rows[i]))
    if day_first.any():
        return True
    if month_first.any():
        return False
    raise InputError(day_order_undecided(text.iloc[0]), column, int(rows[0]))


def parse_amounts(
    values: Sequence | np.ndarray | pd.Series,
    column: str = "amounts",
    rows: np.ndarray | None = None,
    comma_decimal: bool = False,
) -> np.ndarray:
    """Parse a column of amounts (currency, quantities) to float64; blanks become NaN.

    ``comma_decimal``: the text comes from where the comma is the decimal mark (a CSV
    file separated by ";", as Excel writes it there), so ``1.500`` may be 1,500 with a
    dot between thousands: such text (digits in groups of three after dots) is refused
    as ambiguous rather than read as 1.5."""
    s = as_series(values)
    rows = _rows(rows, len(s))
    if len(s) == 0:
        return np.array([], dtype=float)
    if pd.api.types.is_bool_dtype(s.dtype):
        _fail(column, rows, s, np.ones(len(s), bool), "is TRUE/FALSE, not a number")
    if pd.api.types.is_numeric_dtype(s.dtype):
        out = s.to_numpy(dtype=float, na_value=np.nan)
        _check_finite(out, s, column, rows)
        return out
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        _fail(column, rows, s, s.notna().to_numpy(), "is a date, not a number")
    if set(map(type, s)) <= {float, int}:  # plain numbers (a workbook's): no kind per cell
        out = _floats(s)
        _check_finite(out, s, column, rows)
        return out
    out = np.full(len(s), np.nan)
    blank = blank_mask(s)
    kind = s.map(_number_kind).to_numpy(dtype=object, copy=True)
    kind[blank] = "blank"
    for bad_kind, why in (("bool", "is TRUE/FALSE, not a number"), ("date", "is a date, not a number"),
                          ("other", "is not a number")):
        if (kind == bad_kind).any():
            _fail(column, rows, s, kind == bad_kind, why)
    numbers = kind == "number"
    out[numbers] = _floats(s[numbers])  # Decimal: exact until here
    text = kind == "text"
    if text.any():
        out[text] = _parse_number_text(s[text].astype(str), column, rows[text],
                                       comma_decimal)
    _check_finite(out, s, column, rows)
    return out


def _floats(s: pd.Series) -> np.ndarray:
    """Numbers as float64; a Python int beyond a float's range (only the Python API can
    hand one over) becomes the largest float of its sign, which the size check refuses
    as too large."""
    try:
        return s.to_numpy(dtype=float)
    except OverflowError:
        return np.array([_float_or_largest(v) for v in s], dtype=float)


def _float_or_largest(v: object) -> float:
    try:
        return float(v)
    except OverflowError:
        return sys.float_info.max if v > 0 else -sys.float_info.max


def _check_finite(out: np.ndarray, s: pd.Series, column: str, rows: np.ndarray) -> None:
    """Refuse infinite values, then values whose size is :data:`MAX_AMOUNT` or more."""
    inf = np.isinf(out)
    if inf.any():
        _fail(column, rows, s, inf, "is not a finite number")
    large = np.abs(out) >= MAX_AMOUNT
    if large.any():
        _fail(column, rows, s, large, "is too large: amounts must be below 1,000,000,000,000")


def _number_kind(v: object) -> str:
    if isinstance(v, bool | np.bool_):
        return "bool"
    if isinstance(v, int | float | np.integer | np.floating | Decimal):
        return "number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, dt.date | np.datetime64):
        return "date"
    return "blank" if v is None else "other"


def _parse_number_text(text: pd.Series, column: str, rows: np.ndarray,
                       comma_decimal: bool = False) -> np.ndarray:
    t = text.str.normalize("NFKC").str.strip().reset_index(drop=True)
    t = t.str.replace("\u2212", "-", regex=False)
    paren = t.str.fullmatch(r"\(.*\)").fillna(False).to_numpy(dtype=bool)
    t = t.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.strip()
    sign = t.str.extract(r"^([+-]?)")[0].fillna("")
    t = t.str.replace(r"^[+-]", "", regex=True).str.strip()
    t = t.str.replace(_CURRENCY, "", regex=True).str.strip()
    # accounting parentheses are the sign: one inside them, before or after a currency
    # ((-5), ($-5)), makes no number
    signed = ((sign != "") | t.str.match(r"[+-]").fillna(False)).to_numpy(dtype=bool)
    t = sign + t
    ok = t.str.fullmatch(_NUMBER).fillna(False).to_numpy(dtype=bool) & ~(paren & signed)
    if comma_decimal:
        dots = t.str.fullmatch(THOUSAND_DOTS).fillna(False).to_numpy(dtype=bool)
        if dots.any() and dots[np.flatnonzero(dots | ~ok)[0]]:  # the earliest problem
            _fail(column, rows, text.reset_index(drop=True), dots,
                  "may mean thousands (a file separated by ';' is written where the comma "
                  "is the decimal mark): write amounts without thousands separators")
    if not ok.all():
        original = text.reset_index(drop=True)
        comma = t.str.fullmatch(r"[+-]?\d{1,3}(?:\.\d{3})*,\d+").fillna(False).to_numpy(bool)
        if (comma & ~ok).any():
            _fail(column, rows, original, comma & ~ok,
                  "uses a decimal comma; write 1234.50 (decimal point)")
        _fail(column, rows, original, ~ok, "is not a number")
    out = t.str.replace(",", "", regex=False).astype(float).to_numpy()
    return np.where(paren, -out, out)
