"""Reading sales tables into canonical transactions: one module used by every adapter.

Input forms: a DataFrame whose columns are the headers (:func:`sales_from_frame`), the
2-D list of rows Excel or a file hands over, header row included and possibly below
title rows (:func:`sales_from_rows`), or one sequence per role, as worksheet
functions receive them (:func:`sales_from_columns`).

Output: :class:`Sales`, whose ``transactions`` frame has the columns ``customer`` (text
id), ``date`` (``datetime64[ns]``, midnight), ``amount`` (float, currency; negative =
return), ``row`` (the row number in the user's sheet or range) and, when present,
``order_id``, ``name``, ``cost``, ``profit``, ``quantity``, ``region``, ``product``,
``rep``.

Rules:
- a row whose every used cell is blank is skipped and counted (``Sales.blank_rows``);
- in any other row, a blank customer, date or amount is an error naming column and row;
- customer and order ids are text, never through float: Excel's ``1001.0`` becomes
  ``"1001"``, an int64 or uint64 keeps every digit, an integral float is the integer text
  of its exact value, a Decimal its integer or normalized text (:func:`text_ids`); white
  space around ids is removed; an id holding a control character other than tab (NUL,
  BEL, ESC, a line break) or an invisible one (a zero-width space, a direction mark, a
  BOM: :data:`ID_FORBIDDEN`) is an error naming column and row (names and labels keep
  them: writers escape them), and so is an id that is a cell error as Excel shows it
  (``#N/A`` of a failed lookup, ``#REF!``: an error cell, or its text in a CSV export),
  which would otherwise merge unrelated rows into one customer or order (a name or
  label stays as Excel shows it); a purchase row with a blank order id counts as an
  order of its own;
- a row with more non-blank cells than the header is an error
  (``row 4: has 5 cells but the header has 3``);
- a date after ``today`` (default: the computer's date) is an error: it is a typo, and
  it would otherwise move the default analysis date;
- the caller's objects are never modified.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import zip_longest

import numpy as np
import pandas as pd

from .columns import REQUIRED, column_letter, detect_columns, find_header_row
from .errors import InputError, show
from .values import CELL_ERROR_TEXTS, as_series, blank_mask, parse_amounts, parse_dates

TEXT_ROLES = ("customer", "order_id", "name", "region", "product", "rep")
NUMBER_ROLES = ("amount", "cost", "profit", "quantity")
ORDER = ("customer", "name", "date", "order_id", "amount", "cost", "profit", "quantity",
         "region", "product", "rep")


@dataclass(frozen=True)
class Sales:
    """Canonical transactions and what reading them found."""

    transactions: pd.DataFrame
    columns: dict[str, str] = field(default_factory=dict)  # role -> header as the user wrote it
    blank_rows: tuple[int | str, ...] = ()  # "FILE row n" for several files (core.history)
    source: str = ""

    @property
    def rows_read(self) -> int:
        """Data rows used (blank rows not counted)."""
        return len(self.transactions)

    def log_fields(self) -> dict[str, object]:
        """What the analysis log says of the reading (``analyze_facts``' ``source``)."""
        return {"source": self.source, "columns": dict(self.columns),
                "rows_read": self.rows_read, "blank_rows": list(self.blank_rows)}

    @property
    def value_basis(self) -> str:
        """``"profit"`` when a cost or profit column exists, else ``"net sales"``."""
        tx = self.transactions
        return "profit" if ("profit" in tx or "cost" in tx) else "net sales"


def sales_from_frame(
    frame: pd.DataFrame,
    mapping: Mapping[str, object] | None = None,
    source: str = "table",
    first_row: int = 2,
    today: dt.date | None = None,
    day_first: bool | None = None,
    headers: Sequence[object] | None = None,
    comma_decimal: bool = False,
) -> Sales:
    """Read a DataFrame whose column labels are the headers (or ``headers``, by position).

    ``first_row`` is the sheet row of the first data row (2 when the header is row 1);
    ``comma_decimal``: text numbers come from where the comma is the decimal mark
    (:func:`~xl_crm.core.values.parse_amounts`).
    """
    headers = [str(c) for c in (frame.columns if headers is None else headers)]
    if len(headers) != frame.shape[1]:
        raise InputError(f"{len(headers)} headers for {frame.shape[1]} columns")
    found = detect_columns(headers, mapping)
    data = {role: frame.iloc[:, i] for role, i in found.items()}
    labels = {role: _label(headers[i], i) for role, i in found.items()}
    rows = np.arange(first_row, first_row + len(frame))
    return _build(data, labels, rows, source, today, day_first,
                  {role: headers[i] for role, i in found.items()}, comma_decimal=comma_decimal)


def sales_from_rows(
    rows: Sequence[Sequence[object]],
    mapping: Mapping[str, object] | None = None,
    source: str = "range",
    first_row: int = 1,
    today: dt.date | None = None,
    day_first: bool | None = None,
    columns: Sequence[Sequence[object]] | None = None,
    comma_decimal: bool = False,
) -> Sales:
    """Read a 2-D list of rows; the header row is found (title rows above it are allowed).

    ``first_row`` is the sheet row of ``rows[0]``. ``columns``, when the caller has made
    them, are the rows transposed as ``itertools.zip_longest(*rows)`` gives them (not
    made again: 0.1 s at 100,000 lines). ``comma_decimal``: as for
    :func:`sales_from_frame`.
    """
    rows = [r if type(r) is list else list(r) if isinstance(r, list | tuple) else [r]
            for r in rows]  # read only: lists are not copied
    if not rows:
        raise InputError("the table is empty")
    h = find_header_row(rows, mapping)
    headers = ["" if v is None else str(v) for v in rows[h]]
    found = detect_columns(headers, mapping)
    body = rows[h + 1:]
    width = len(headers)
    numbers = np.arange(first_row + h + 1, first_row + h + 1 + len(body))
    for k, size in enumerate(map(len, body)):
        if size > width and any(not _is_blank(v) for v in body[k][width:]):
            raise InputError(f"has {size} cells but the header has {width}",
                             row=int(numbers[k]))
    if columns is None:
        columns = list(zip_longest(*body))  # a short row's missing cells are None
    else:  # every row's: the body's part (beyond the body's width, None as above)
        columns = [c[h + 1:] for c in columns]
    data = {
        role: pd.Series(columns[i] if i < len(columns) else [None] * len(body), dtype=object)
        for role, i in found.items()
    }
    labels = {role: _label(headers[i], i) for role, i in found.items()}
    return _build(data, labels, numbers, source, today, day_first,
                  {role: headers[i] for role, i in found.items()}, comma_decimal=comma_decimal)


def sales_from_columns(
    columns: Mapping[str, Sequence[object] | np.ndarray | pd.Series],
    labels: Mapping[str, str] | None = None,
    first_row: int = 1,
    today: dt.date | None = None,
    day_first: bool | None = None,
    source: str = "ranges",
    required: Sequence[str] = REQUIRED,
) -> Sales:
    """Read one sequence per role (``required``: customer, date and amount by default).

    All sequences must have the same length; ``labels`` name them in messages
    (e.g. the worksheet function's argument names).
    """
    labels = dict(labels or {})
    missing = [r for r in required if r not in columns]
    if missing:
        raise InputError(f"missing {', '.join(missing)}")
    same_height({labels.get(r, r): v for r, v in columns.items()}, first_row)
    n = len(next(iter(columns.values())))
    if n == 0:
        raise InputError("has no data rows (only a header, or nothing)",
                         labels.get("amount", "amount"))
    data = {role: as_series(v) for role, v in columns.items()}
    names = {role: labels.get(role, role) for role in columns}
    rows = np.arange(first_row, first_row + n)
    return _build(data, names, rows, source, today, day_first, names, required)


def same_height(columns: Mapping[str, Sequence[object]], first_row: int = 1) -> None:
    """Refuse ranges of different heights, naming the shortest and where it ends."""
    sizes = {name: len(v) for name, v in columns.items()}
    if len(set(sizes.values())) > 1:
        short = min(sizes, key=sizes.get)
        longer = " and ".join(n for n, size in sizes.items() if size > sizes[short])
        verb = "have" if " and " in longer else "has"
        raise InputError(f"is missing: the range has {sizes[short]} rows but {longer} {verb} "
                         f"{max(sizes.values())}; select ranges of the same height",
                         short, first_row + sizes[short])


def _label(header: str, index: int) -> str:
    return f"{header} (column {column_letter(index)})"


def _is_blank(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    return isinstance(v, float) and np.isnan(v)


def _build(
    data: dict[str, pd.Series],
    labels: dict[str, str],
    rows: np.ndarray,
    source: str,
    today: dt.date | None,
    day_first: bool | None,
    headers: dict[str, str],
    required: Sequence[str] = REQUIRED,
    comma_decimal: bool = False,
) -> Sales:
    # Text-like columns are factorized once: blank checks, parsing and id clean-up then
    # work on the distinct values (a few hundred dates, a few regions) and are spread back.
    distinct = {role: distinct_values(s) for role, s in data.items() if _text_like(s)}
    clean = {role: _clean(distinct[role][1]) for role in distinct if role in TEXT_ROLES}
    blanks = {}
    for role, s in data.items():
        if role in clean:
            blanks[role] = _spread(clean[role] == "", distinct[role][0], True)
        elif role in distinct:
            unique_blank = blank_mask(pd.Series(distinct[role][1], dtype=object))
            blanks[role] = _spread(unique_blank, distinct[role][0], True)
        else:
            blanks[role] = blank_mask(s)
    all_blank = np.logical_and.reduce(list(blanks.values()))
    keep = ~all_blank
    if not keep.any():
        raise InputError("has no data rows (only a header or blank rows)",
                         labels.get("amount", "amount"))
    some_blank = bool(all_blank.any())
    kept_rows = rows[keep] if some_blank else rows
    out: dict[str, object] = {}
    for role in ORDER:
        if role not in data:
            continue
        label = labels[role]
        blank = blanks[role][keep] if some_blank else blanks[role]
        if role in required and blank.any():
            i = int(np.flatnonzero(blank)[0])
            more = int(blank.sum()) - 1
            tail = f" ({more} more rows like it)" if more else ""
            raise InputError(f"is empty but the row has other data{tail}", label,
                             int(kept_rows[i]))
        values = data[role][keep].reset_index(drop=True) if some_blank else data[role]
        codes = None
        if role in distinct:
            codes = distinct[role][0][keep] if some_blank else distinct[role][0]
        if role == "date":
            out[role] = _parse(parse_dates, values, label, kept_rows, distinct.get(role), codes,
                               day_first=day_first, today=today)
        elif role in NUMBER_ROLES:
            parsed = _parse(parse_amounts, values, label, kept_rows, distinct.get(role), codes,
                            comma_decimal=comma_decimal)
            if role != "quantity" and np.isnan(parsed).any():
                i = int(np.flatnonzero(np.isnan(parsed))[0])
                raise InputError("is empty but the row has other data", label, int(kept_rows[i]))
            out[role] = parsed
        elif codes is not None:
            out[role] = _texts(codes, clean[role], role in ("customer", "order_id"),
                               distinct[role][1])
        else:
            out[role] = text_ids(values)
        if role in ("customer", "order_id"):
            _refuse_bad_ids(out[role], label, kept_rows)
    if not isinstance(out["customer"], pd.Categorical):
        out["customer"] = pd.Categorical(out["customer"], categories=pd.unique(out["customer"]))
    # text stays object dtype: pandas 3 would convert each text column to Arrow strings
    # (0.2 s a column of a million lines) and factorize those more slowly later; pandas 2
    # keeps object
    tx = pd.DataFrame({k: pd.Series(v, dtype=object) if _is_text_array(v) else v
                       for k, v in out.items()})
    tx["row"] = kept_rows
    if "date" in tx:
        _check_future(tx, labels["date"], today)
    return Sales(tx, headers, tuple(int(r) for r in rows[all_blank]), source)


def _is_text_array(values: object) -> bool:
    return isinstance(values, np.ndarray) and values.dtype == object


def _text_like(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def distinct_values(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values as an object array); blank-like NaN/None get code -1."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _spread(per_unique: np.ndarray, codes: np.ndarray, missing: object) -> np.ndarray:
    return np.append(per_unique, np.array([missing], dtype=per_unique.dtype))[codes]


def _parse(parse, values, label, rows, distinct, codes, **kw) -> np.ndarray:
    """Parse the distinct values, spread them; on error, parse every row for the message."""
    if distinct is None or len(distinct[1]) > len(values) // 2 or _has_bool(distinct[1]):
        return parse(values, label, rows, **kw)
    first = np.full(len(distinct[1]), len(codes), dtype="int64")
    present = codes >= 0
    np.minimum.at(first, codes[present], np.flatnonzero(present))
    used = first < len(codes)
    try:
        parsed = parse(pd.Series(distinct[1][used], dtype=object), label, rows[first[used]], **kw)
    except InputError:
        return parse(values, label, rows, **kw)
    full = np.empty(len(distinct[1]), dtype=parsed.dtype)
    full[used] = parsed
    return _spread(full, codes, np.datetime64("NaT") if parsed.dtype.kind == "M" else np.nan)


def _has_bool(uniques: np.ndarray) -> bool:
    # 1, 1.0 and True are equal keys when factorizing: parse every row if a bool is there
    return not _BOOLS.isdisjoint(map(type, uniques))


_BOOLS = frozenset({bool, np.bool_})


def _clean(uniques: np.ndarray) -> np.ndarray:
    """Distinct raw values as clean id text (see :func:`text_ids`)."""
    if set(map(type, uniques)) == {str} and "".join(uniques).isascii():
        return np.array([v.strip() for v in uniques], dtype=object)  # _id_text's rule
    return np.array([_id_text(v) for v in uniques], dtype=object)


def _texts(codes: np.ndarray, clean: np.ndarray, categorical: bool,
           raw: np.ndarray | None = None):
    """Ids spread from factorized codes: a Categorical (customer and order ids, which are
    grouped on) or an object array. ``raw``: the distinct values ``clean`` came from."""
    if not categorical:
        return np.append(clean, "")[codes]
    if raw is not None and len(clean) == len(raw) and bool((clean == raw).all()) \
            and not (clean == "").any():
        # cleaning changed no id, so they are still distinct: no second factorization
        return pd.Categorical.from_codes(codes, categories=pd.Index(clean, dtype=object))
    merged, categories = pd.factorize(clean)  # "C1" and "C1 " are one id
    merged = np.append(merged, -1)[codes]
    blank = np.flatnonzero(np.asarray(categories, dtype=object) == "")
    categories = pd.Index(categories, dtype=object)
    if len(blank):  # a blank id is missing (code -1), not an id called ""
        merged = np.where(merged == blank[0], -1, merged - (merged > blank[0]))
        categories = categories.delete(blank[0])
    return pd.Categorical.from_codes(merged, categories=categories)


def text_ids(values: pd.Series) -> pd.Series:
    """Ids and labels as text, never through float: integers keep every digit (int64 and
    uint64 above 2^53 too), an integral float is the integer text of its exact value
    (``str(int(v))``), another float its ``repr``, a Decimal its integer text or its
    normalized text; text is NFC and stripped."""
    s = values.reset_index(drop=True)
    if _text_like(s):
        codes, uniques = distinct_values(s)
        return pd.Series(_texts(codes, _clean(uniques), categorical=False), dtype=object)
    if pd.api.types.is_integer_dtype(s.dtype):  # int64/uint64 exactly, never through float
        text = s.astype(object).map(lambda v: "" if pd.isna(v) else str(int(v)))
        return text.astype(object)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        codes, uniques = distinct_values(s)
        return pd.Series(_texts(codes, _clean(uniques), categorical=False), dtype=object)
    return s.map(_id_text).astype(object)


def _id_text(v: object) -> str:
    if type(v) is str:
        return (v if v.isascii() else unicodedata.normalize("NFC", v)).strip()
    if v is None or (isinstance(v, float | np.floating) and np.isnan(v)):
        return ""
    if isinstance(v, float | np.floating):  # integral: the exact value's digits
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    if isinstance(v, Decimal) and v.is_finite():
        return str(int(v)) if v == v.to_integral_value() else str(v.normalize())
    if isinstance(v, dt.datetime):
        stamp = pd.Timestamp(v)
        return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else str(stamp)
    return unicodedata.normalize("NFC", str(v)).strip()


# What an id may not hold (code point ranges): control characters but tab, and the
# invisible format characters that make two ids look alike: soft hyphen, zero-width
# space, left-to-right and right-to-left marks, embeddings and isolates, word joiner and
# invisible operators, BOM. (Zero-width joiners are left: they join emoji and scripts.)
ID_FORBIDDEN = ((0x00, 0x08), (0x0A, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x200B, 0x200B),
                (0x200E, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069),
                (0xFEFF, 0xFEFF))


def forbidden_class(escape: str = "\\u{:04x}") -> str:
    """:data:`ID_FORBIDDEN` as a regular-expression class, each code point written by
    ``escape`` (Python's ``\\u2060`` by default; RE2, DuckDB's, needs ``\\x{{2060}}``)."""
    return "[" + "".join(escape.format(a) if a == b else f"{escape.format(a)}-{escape.format(b)}"
                         for a, b in ID_FORBIDDEN) + "]"


_FORBIDDEN = re.compile(forbidden_class())
_ERROR_TEXT = re.compile("#(?:" + "|".join(re.escape(e[1:]) for e in sorted(CELL_ERROR_TEXTS))
                         + ")", re.IGNORECASE)


def _refuse_bad_ids(ids, label: str, rows: np.ndarray) -> None:
    """Refuse the first id, in row order, that holds a control character other than tab
    (NUL, BEL, ESC, a line break...: a damaged export) or an invisible one (a zero-width
    space, a BOM, a soft hyphen, a direction mark: "C1" and "C1\u200b" look like one
    customer but are two), or is a cell error as Excel shows it (``#N/A``, any case):
    reading any of these would give a wrong answer. Names and other labels keep theirs
    (writers escape them). Looks at each distinct id once (the categories)."""
    values = ids.categories if isinstance(ids, pd.Categorical) else ids
    # as a list first: iterating an Index of a million texts takes 0.8 s, this 0.1 s
    texts = [v if type(v) is str else "" for v in np.asarray(values, dtype=object).tolist()]
    joined = "".join(texts)
    control = _FORBIDDEN.search(joined) is not None
    if not control and ("#" not in joined or _ERROR_TEXT.search(joined) is None):
        return  # one look at all the text (only text can be either): none is
    bad = np.fromiter((_is_bad_id(t, control) for t in texts), dtype=bool, count=len(texts))
    if not bad.any():
        return
    if isinstance(ids, pd.Categorical):
        bad = np.append(bad, False)[ids.codes]
    i = int(np.flatnonzero(bad)[0])
    raise InputError(bad_id(str(np.asarray(ids, dtype=object)[i])), label, int(rows[i]))


def _is_bad_id(text: str, control: bool) -> bool:
    """Whether a clean id breaks :func:`_refuse_bad_ids` (``control``: whether any id
    holds a forbidden character at all)."""
    return (text[:1] == "#" and text.upper() in CELL_ERROR_TEXTS) or (
        control and _FORBIDDEN.search(text) is not None)


def bad_id(value: str) -> str:
    """Why a clean id breaks the rules of :func:`_refuse_bad_ids`, in the message's words
    (both engines word it so)."""
    if value.upper() in CELL_ERROR_TEXTS:
        return f"the cell shows {value.upper()}; correct or clear it"
    char = _FORBIDDEN.search(value).group()
    kind = "a control" if unicodedata.category(char) == "Cc" else "an invisible"
    return f"{show(value)} holds {kind} character (U+{ord(char):04X}); ids must be plain text"


def _check_future(tx: pd.DataFrame, label: str, today: dt.date | None) -> None:
    limit = np.datetime64(today or dt.date.today(), "ns")
    future = tx["date"].to_numpy() > limit
    if future.any():
        i = int(np.flatnonzero(future)[0])
        when = pd.Timestamp(tx["date"].iloc[i]).date().isoformat()
        more = int(future.sum()) - 1
        tail = f" ({more} more rows like it)" if more else ""
        raise InputError(f"{when} is in the future (today is {limit.astype('datetime64[D]')})"
                         f"{tail}", label, int(tx["row"].iloc[i]))
