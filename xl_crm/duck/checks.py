"""The checks over the typed table: one aggregate counting every problem
(:func:`count_checks`), and the refusal of the first bad cell in the pandas engine's words
(:func:`refuse`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ..core.errors import InputError, show
from ..core.sales import bad_id
from .cells import RANGE_RULES, YEAR_LAST, unreadable
from .dialect import SPACE, trimmed


def count_checks(con, checked: list[str], ranged: list[str], limit: dt.date,
                 as_of: pd.Timestamp | None, fix: str, optional: Mapping[str, str] = {}
                 ) -> dict:
    """One pass over ``typed`` counting what the checks need: ``rows`` (not blank),
    ``blanks``, ``future`` (dated after ``limit``, today), ``last_buy`` (latest purchase),
    ``last`` (latest date), ``fix`` (rows matching ``fix``, an SQL condition), per checked
    role the rows whose cell is missing or unreadable, per ``optional`` role (a blank
    cell allowed) the rows matching its SQL condition, per ``ranged`` role those breaking
    :data:`RANGE_RULES` (``<role>_range``), and ``late``/``start`` (rows after
    ``as_of`` and the earliest date up to it; without ``as_of``: none and the earliest
    date, right when no line is dated after the last purchase, ``last <= last_buy``)."""
    end = f"DATE '{as_of.date()}'" if as_of is not None else None
    parts = {"rows": "count(*) FILTER (WHERE NOT blank)",
             "blanks": "count(*) FILTER (WHERE blank)",
             "future": f"count(*) FILTER (WHERE NOT blank AND date > DATE '{limit}')",
             "last_buy": "max(date) FILTER (WHERE NOT blank AND amount > 0)",
             "last": "max(date) FILTER (WHERE NOT blank)",
             "fix": f"count(*) FILTER (WHERE NOT blank AND ({fix}))",
             "late": f"count(*) FILTER (WHERE NOT blank AND date > {end})" if end else "0",
             "start": f"min(date) FILTER (WHERE NOT blank AND date <= {end})" if end
             else "min(date) FILTER (WHERE NOT blank)"}
    parts.update({r: f"count(*) FILTER (WHERE NOT blank AND {unreadable(r, r)})"
                  for r in checked})
    parts.update({r: f"count(*) FILTER (WHERE NOT blank AND ({bad}))"
                  for r, bad in optional.items()})
    parts.update({f"{r}_range": f"count(*) FILTER (WHERE NOT blank AND {RANGE_RULES[r][0](r)})"
                  for r in ranged})
    values = con.execute(f"SELECT {', '.join(parts.values())} FROM typed").fetchone()
    return dict(zip(parts, values))


def day_order(con) -> bool | None:
    """Whether the column's day-or-month-first text dates (``13/03/2025``) put the day
    first, decided as the pandas engine decides (:func:`xl_crm.core.values._day_first`):
    a first part above 12 somewhere means day first, a second part above 12 month first.
    None when neither or both occur: such cells stay unread, and the error names them in
    the pandas engine's words."""
    text = trimmed("date_raw")
    parts = [f"CAST(regexp_extract({text}, '{YEAR_LAST}', {i}) AS INTEGER) > 12" for i in (1, 2)]
    first, second = con.execute(
        f"SELECT coalesce(bool_or({parts[0]}), false), coalesce(bool_or({parts[1]}), false) "
        f"FROM typed WHERE date_raw IS NOT NULL AND NOT blank "
        f"AND regexp_full_match({text}, '{YEAR_LAST}')").fetchone()
    return first if first != second else None


CHECK_ORDER = ("customer", "date", "order_id", "amount", "cost", "profit", "quantity")


# rows fetched to word an error as the pandas engine words it (their count included)
EXPLAINED_ROWS = 100_000


def refuse(con, numbered: str, cols, exprs, role: str, blank: str, where: str,
           today: dt.date, day_first: bool | None, record: Callable[[int], int],
           comma_decimal: bool = False) -> None:
    """Raise for the first bad ``role`` cell, worded as the pandas engine words it.

    The flagged rows (empty, unreadable, or breaking :data:`RANGE_RULES`; at most
    :data:`EXPLAINED_ROWS`) are fetched with their cells as DuckDB read them (text, or
    the Parquet column's numbers, decimals, dates) and given to the pandas engine's
    parser (:func:`xl_crm.core.values.parse_dates`, :func:`~xl_crm.core.values.parse_amounts`),
    so the message, the row it names and its "(N more rows like it)" are the pandas
    engine's on the same cells. Required roles report an empty cell first, as the pandas
    engine does. Dates are read in the column's order (``day_first``); a cell the pandas
    engine reads but DuckDB cannot (full-width digits) gets this engine's own message.
    ``record`` turns DuckDB's row numbers into the file's (:func:`renumbering`)."""
    from ..core.values import parse_amounts, parse_dates

    broken = RANGE_RULES[role][0](_range_operand(role, cols, exprs))
    flagged = broken if role == "order_id" else f"({unreadable(role, exprs[role])} OR {broken})"
    if role == "quantity":  # a blank quantity is allowed: only unreadable cells
        given = f"NOT ({cols[role]} IS NULL OR trim(CAST({cols[role]} AS VARCHAR), {SPACE}) = '')"
        flagged = f"({flagged} AND {given})"
    rows = con.execute(f"SELECT rn, {cols[role]} FROM {numbered} WHERE {flagged} "
                       f"AND NOT ({blank}) ORDER BY rn LIMIT {EXPLAINED_ROWS}").fetchall()
    numbers = np.array([record(r[0]) for r in rows], dtype="int64")
    # a nested Parquet value (a list, a struct) as its text, as the pandas engine reads it
    cells = [str(r[1]) if isinstance(r[1], list | dict) else r[1] for r in rows]
    empty = np.array([_is_empty(c) for c in cells], dtype=bool)
    if role in ("customer", "date", "amount") and empty.any():
        _raise_empty(numbers, empty, where)
    if role in ("customer", "order_id"):
        raise InputError(bad_id(_id_text(cells[0])), where, int(numbers[0]))
    given = ~empty
    series = pd.Series([c for c, e in zip(cells, given) if e])
    if role == "date":
        parse_dates(series, where, numbers[given], day_first=day_first, today=today)
        value = cells[int(np.flatnonzero(given)[0])] if given.any() else None
        if value is not None:
            raise InputError(f"{show(value)} is not a date the DuckDB engine reads (write "
                             "it as 2025-03-01, or use --engine pandas)", where,
                             int(numbers[given][0]))
    else:
        parse_amounts(series, where, numbers[given], comma_decimal)
    if empty.any():  # costs and profits: unreadable cells first, then empty ones
        _raise_empty(numbers, empty, where, count=False)
    raise InputError(f"{show(cells[0])} cannot be read", where, int(numbers[0]))


def _raise_empty(numbers: np.ndarray, empty: np.ndarray, where: str,
                 count: bool = True) -> None:
    more = int(empty.sum()) - 1
    tail = f" ({more} more rows like it)" if more and count else ""
    raise InputError(f"is empty but the row has other data{tail}", where,
                     int(numbers[np.flatnonzero(empty)[0]]))


def _is_empty(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip()) or \
        (isinstance(cell, float) and np.isnan(cell))


def _id_text(cell: object) -> str:
    from ..core.sales import text_ids

    return str(text_ids(pd.Series([cell], dtype=object)).iloc[0])


def _range_operand(role: str, cols, exprs) -> str:
    """What :data:`RANGE_RULES` tests: the typed value; for customer ids, the id as read
    (as text: a Parquet column of numbers too), which the rule trims itself (the typed
    table keeps text ids as read)."""
    return f"CAST({cols[role]} AS VARCHAR)" if role == "customer" else exprs[role]
