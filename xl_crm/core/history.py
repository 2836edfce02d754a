"""Several sales exports as one history: the months a business exports one by one (and
the re-exports that overlap them) combined into one set of transactions.

Rules, for files taken in the order given (a folder: its sales files by name):
- **order ids decide repeats.** An order (its id and date: a return booked later under
  the order's id is another line, not a repeat) found in more than one file is taken
  from the last file that holds it, all its lines: a later export replaces an earlier
  one (a month exported twice, a re-export after corrections). The lines left out are
  counted and reported per file (:attr:`History.repeats`); nothing else is left out.
- **without order ids, overlap is refused.** Lines without an order id (a file without the
  column, or blank ids) cannot be told from a repeat: two files whose date ranges
  overlap, where either has such lines, are refused naming both files and the shared
  days.
- **one value basis.** Every file has the same value columns (cost, profit) or none: a
  customer's value would otherwise mix profit and net sales.
- A file's other columns may differ (a region column added later, headers in another
  language); a column a file lacks is blank for its lines.

The rows of the combined transactions keep their file's row number and gain ``file``
(a categorical of the file names, in their order), so a message can name file and row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from .errors import InputError
from .sales import TEXT_ROLES, Sales

VALUE_COLUMNS = ("cost", "profit")
LISTED_FILES = 12  # files named in the source line before "..."


@dataclass(frozen=True)
class Repeat:
    """Lines of ``file`` left out because a later file holds the same orders."""

    file: str
    lines: int
    orders: int
    replaced_by: str  # the last file holding (the first of) those orders


@dataclass(frozen=True)
class History:
    """The combined sales and what combining found."""

    sales: Sales
    files: tuple[str, ...]
    repeats: tuple[Repeat, ...] = ()

    @property
    def repeated_lines(self) -> int:
        """Lines found in a later file too and counted once (from that file)."""
        return sum(r.lines for r in self.repeats)


def combine_sales(parts: Sequence[Sales], names: Sequence[str]) -> History:
    """One history from the sales of several files (``names``: how to call each file in
    a message, e.g. its file name), by the rules of this module."""
    if len(parts) != len(names) or not parts:
        raise ValueError("one name per file, and at least one file")
    if len(set(names)) != len(names):
        twice = next(n for n in names if list(names).count(n) > 1)
        raise InputError(f"{twice} is given twice; each export once")
    same_value_columns(parts, names)
    _refuse_overlap_without_ids(parts, names)
    tx, repeats = _last_file_wins(_stacked([p.transactions for p in parts], names), names)
    columns: dict[str, str] = {}
    for part in parts:
        for role, header in part.columns.items():
            seen = columns.get(role)
            if seen is None:
                columns[role] = header
            elif header not in seen.split(" / "):
                columns[role] = f"{seen} / {header}"
    blank = tuple(f"{name} row {r}" for part, name in zip(parts, names)
                  for r in part.blank_rows)
    shown = ", ".join(p.source for p in parts[:LISTED_FILES])
    more = f", ... ({len(parts) - LISTED_FILES} more)" if len(parts) > LISTED_FILES else ""
    source = f"{len(parts)} files: {shown}{more}"
    sales = Sales(tx, columns, blank, source)
    return History(sales, tuple(names), repeats)


def same_value_columns(parts: Sequence[Sales], names: Sequence[str]) -> None:
    """Refuse sales whose value columns (cost, profit) differ, naming the first two."""
    first = [c for c in VALUE_COLUMNS if c in parts[0].transactions]
    for part, name in zip(parts[1:], names[1:]):
        these = [c for c in VALUE_COLUMNS if c in part.transactions]
        if these != first:
            def has(cols: list[str]) -> str:
                return f"a {' and a '.join(cols)} column" if cols else "no cost or profit column"
            raise InputError(f"{names[0]} has {has(first)} but {name} has {has(these)}: a "
                             "customer's value would mix profit and net sales; export every "
                             "file with the same columns")


def _refuse_overlap_without_ids(parts: Sequence[Sales], names: Sequence[str]) -> None:
    spans = []
    for part in parts:
        tx = part.transactions
        dates = tx["date"].to_numpy()
        no_id = len(tx) if "order_id" not in tx else int(tx["order_id"].isna().sum())
        spans.append((dates.min(), dates.max(), no_id))
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            (a0, a1, a_free), (b0, b1, b_free) = spans[i], spans[j]
            start, end = max(a0, b0), min(a1, b1)
            if start > end or not (a_free or b_free):
                continue
            which = names[i] if a_free else names[j]
            why = ("has no order id column" if "order_id" not in parts[i if a_free else j]
                   .transactions else f"has {a_free or b_free:,} lines without an order id")
            raise InputError(f"{names[i]} and {names[j]} overlap from {_day(start)} to "
                             f"{_day(end)}, and {which} {why} to tell a repeated line from a "
                             "new one: leave one of them out, or export with order ids")


def _stacked(frames: Sequence[pd.DataFrame], names: Sequence[str]) -> pd.DataFrame:
    """The transactions of several sources one below the other, each line tagged with its
    source in ``file`` (a categorical of ``names``), text columns on shared categories."""
    tagged = []
    for i, tx in enumerate(frames):
        tx = tx.copy(deep=False)
        tx["file"] = pd.Categorical.from_codes(np.full(len(tx), i, np.int16), categories=names)
        tagged.append(tx)
    for role in TEXT_ROLES:
        union_categories(tagged, role)
    return pd.concat(tagged, ignore_index=True, sort=False)


def _day(value: np.datetime64) -> str:
    return str(np.datetime64(value, "D"))


def union_categories(frames: list[pd.DataFrame], role: str) -> None:
    """The ``role`` columns of ``frames`` on one set of categories (concat would turn
    categoricals with different categories into text)."""
    have = [f for f in frames if role in f and isinstance(f[role].dtype, pd.CategoricalDtype)]
    if len(have) < 2:
        return
    union = union_categoricals([f[role].array for f in have], ignore_order=True).categories
    for f in have:
        f[role] = f[role].cat.set_categories(union)


def _last_file_wins(tx: pd.DataFrame, names: Sequence[str]
                    ) -> tuple[pd.DataFrame, tuple[Repeat, ...]]:
    """``tx`` without the lines of orders that a later file holds too; the repeats."""
    if "order_id" not in tx:
        return tx, ()
    order = tx["order_id"]
    has_id = order.notna().to_numpy()
    if not has_id.any():
        return tx, ()
    orders = order.cat.codes.to_numpy() if isinstance(order.dtype, pd.CategoricalDtype) \
        else pd.factorize(order)[0]
    day = tx["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    # an order is its id and its date: a return booked later under the order's id is a
    # line of its own, not a repeat of the sale (the days of 10,000 years < 4e6)
    key = orders.astype(np.int64) * 4_000_000 + (day - day.min())
    codes = np.where(has_id, pd.factorize(key)[0], -1)
    file = tx["file"].cat.codes.to_numpy()
    last = np.full(int(codes.max()) + 1, -1, dtype=np.int32)
    np.maximum.at(last, codes[has_id], file[has_id])
    drop = np.zeros(len(tx), dtype=bool)
    drop[has_id] = file[has_id] < last[codes[has_id]]
    if not drop.any():
        return tx, ()
    repeats = []
    for i in np.unique(file[drop]):
        mine = drop & (file == i)
        later = last[codes[mine]]
        repeats.append(Repeat(names[i], int(mine.sum()), len(np.unique(codes[mine])),
                              names[int(later[0])]))
    return tx[~drop].reset_index(drop=True), tuple(repeats)


@dataclass(frozen=True)
class MonthChange:
    """A calendar month of the new sales: the history's lines of it before, the new ones."""

    month: str  # "2026-10"
    before: int  # history lines of the month replaced (0: the month is added)
    now: int


def replace_months(history: Sales, new: Sales, names: tuple[str, str] = ("History", "Sales")
                   ) -> tuple[Sales, tuple[MonthChange, ...]]:
    """The history with every calendar month that ``new`` has lines in replaced by those
    lines (the button's rule: pressing it twice for a month gives the same history, a
    corrected export of a month replaces it whole). Lines of ``new`` come last; both keep
    their rows and gain ``file`` (``names``), so a message names sheet and row. The value
    columns must agree (:func:`same_value_columns`)."""
    same_value_columns([history, new], names)
    old, fresh = history.transactions, new.transactions
    months = fresh["date"].dt.to_period("M")
    history_months = old["date"].dt.to_period("M")
    replaced = history_months.isin(set(months.unique())).to_numpy()
    counts_before = history_months[replaced].value_counts()
    counts_now = months.value_counts()
    changes = tuple(MonthChange(str(m), int(counts_before.get(m, 0)), int(n))
                    for m, n in sorted(counts_now.items()))
    tx = _stacked([old[~replaced], fresh], names)
    columns = {**history.columns, **new.columns}
    blank = tuple(f"{names[1]} row {r}" for r in new.blank_rows)
    return Sales(tx, columns, blank, f"{history.source} + {new.source}"), changes
