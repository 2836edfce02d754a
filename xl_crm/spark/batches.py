"""The Spark engine's work on each partition: the lines of the input, as Arrow batches of
pandas frames, converted by the pandas engine's own cell rules
(:func:`xl_crm.core.sales.sales_from_frame`) into typed rows for the facts query.

Pure pandas (Spark calls :func:`typed_rows` through ``mapInPandas`` on its workers; the
tests call it directly too). Every output frame has the columns of :data:`SCHEMA`;
``kind`` says what a row is:

- ``0`` a sales line: ``customer``, ``day`` (days since 1970), ``amount``, ``order_key``
  (the order id, or a key of its own for a line without one), ``value`` (the line's
  profit, else amount - cost, else amount: :func:`xl_crm.core.facts.row_values`),
  ``cost``, ``profit``, ``name``, ``region``, ``rep``;
- ``1`` a blank row (every used cell empty), counted as the pandas engine counts it;
- ``2`` a refused cell or row: ``rank`` (the pandas engine checks column by column, so
  the refusal it would raise is the one of least rank, then the earliest), ``label``
  (the column as messages name it, or null) and ``message``;
- ``3`` the number of lines (``pos``) of one file block, sent when the partition ends,
  from which the driver turns block positions into row numbers.

Every row carries ``file``, ``block`` (Spark's ``input_file_name()`` and
``input_file_block_start()``) and ``pos``, the line's position in its block from 1; a
block's lines arrive in file order, in one partition.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.columns import column_letter, detect_columns
from ..core.constants import LABEL_FACTS
from ..core.errors import InputError
from ..core.facts import row_values
from ..core.sales import ORDER, sales_from_frame
from ..core.values import blank_mask, day_order_evidence

SCHEMA = ("kind int, file string, block long, pos long, customer string, day int, "
          "amount double, order_key string, value double, cost double, profit double, "
          "name string, region string, rep string, rank int, label string, message string")
EVIDENCE_SCHEMA = "file string, block long, pos long, order string, text string"
CORRUPT = "_corrupt_record"  # Spark's copy of a CSV line whose cell count differs
FILE, BLOCK = "_file", "_block"
FUTURE_RANK = len(ORDER) + 1  # the pandas engine checks future dates after every column
_MORE = re.compile(r" \(\d+ more rows? like it\)$")


@dataclass(frozen=True)
class Plan:
    """What every partition needs to know: the headers (the source's columns are named
    ``c0``, ``c1``, ... in Spark), the column mapping, today, the day/month order of text
    dates per file (None: decided by each part, as the parser does), and for CSV the
    delimiter (to count the cells of a line Spark flags)."""

    headers: tuple[str, ...]
    mapping: Mapping[str, object] | None = None
    today: dt.date | None = None
    day_first: Mapping[str, bool | None] = field(default_factory=dict)
    delimiter: str | None = None

    @property
    def found(self) -> dict[str, int]:
        return detect_columns(list(self.headers), self.mapping)

    @property
    def ranks(self) -> dict[str, int]:
        """Column label (as messages name it) -> the order the pandas engine checks it in."""
        return {f"{self.headers[i]} (column {column_letter(i)})": 1 + ORDER.index(role)
                for role, i in self.found.items()}


def _blocks(batches: Iterator[pd.DataFrame]) -> Iterator[tuple[tuple[str, int], pd.DataFrame]]:
    """Each batch split by file block, in order of appearance."""
    for batch in batches:
        keys = batch[FILE].astype(str) + "\x00" + batch[BLOCK].astype(str)
        if (keys.to_numpy() == keys.iloc[0]).all() if len(keys) else True:
            if len(batch):
                yield (str(batch[FILE].iloc[0]), int(batch[BLOCK].iloc[0])), batch
            continue
        for key in pd.unique(keys):
            part = batch[(keys == key).to_numpy()]
            yield (str(part[FILE].iloc[0]), int(part[BLOCK].iloc[0])), part


def _frame(kind: int, file: str, block: int, pos: np.ndarray, **columns: object) -> pd.DataFrame:
    n = len(pos)
    out = {"kind": np.full(n, kind, dtype="int32"), "file": [file] * n,
           "block": np.full(n, block, dtype="int64"), "pos": np.asarray(pos, dtype="int64")}
    for name, kind_ in (("customer", object), ("day", "Int32"), ("amount", float),
                        ("order_key", object), ("value", float), ("cost", float),
                        ("profit", float), ("name", object), ("region", object),
                        ("rep", object), ("rank", "Int32"), ("label", object),
                        ("message", object)):
        given = columns.get(name)
        if given is None:
            out[name] = pd.array([None] * n, dtype=kind_) if kind_ == "Int32" else \
                np.full(n, np.nan) if kind_ is float else [None] * n
        else:
            out[name] = pd.array(given, dtype="Int32") if kind_ == "Int32" else given
    return pd.DataFrame(out)


def typed_rows(batches: Iterator[pd.DataFrame], plan: Plan) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` function: each batch's lines converted (see the module)."""
    counts: dict[tuple[str, int], int] = {}
    refused: set[tuple[str, int]] = set()
    columns = [f"c{i}" for i in range(len(plan.headers))]
    ranks = plan.ranks
    for (file, block), part in _blocks(batches):
        start = counts.get((file, block), 0)
        counts[(file, block)] = start + len(part)
        if (file, block) in refused:  # one refusal per block is enough
            continue
        try:
            yield from _convert(part, columns, plan, file, block, start)
        except InputError as err:
            refused.add((file, block))
            rank = 0 if err.column is None else FUTURE_RANK \
                if "is in the future" in err.reason else ranks.get(err.column, 0)
            yield _frame(2, file, block, np.array([err.row or start + 1]), rank=[rank],
                         label=[err.column], message=[_MORE.sub("", err.reason)])
    for (file, block), n in counts.items():
        yield _frame(3, file, block, np.array([n]))


def _convert(part: pd.DataFrame, columns: Sequence[str], plan: Plan, file: str, block: int,
             start: int) -> Iterator[pd.DataFrame]:
    """One block's consecutive lines from position ``start + 1``: typed rows and blank
    rows, or an :class:`InputError` whose row is the position."""
    pos = np.arange(start + 1, start + 1 + len(part))
    if plan.delimiter is not None and CORRUPT in part:
        _check_widths(part[CORRUPT], pos, len(columns), plan.delimiter)
    frame = part[list(columns)].reset_index(drop=True)
    found = plan.found
    if _all_blank(frame, found.values()):
        yield _frame(1, file, block, pos)
        return
    sales = sales_from_frame(frame, plan.mapping, first_row=start + 1, today=plan.today,
                             day_first=plan.day_first.get(file), headers=list(plan.headers),
                             comma_decimal=plan.delimiter == ";")
    if sales.blank_rows:
        yield _frame(1, file, block, np.asarray(sales.blank_rows, dtype="int64"))
    tx = sales.transactions
    at = tx["row"].to_numpy()
    keys = tx["order_id"].to_numpy(dtype=object) if "order_id" in tx else \
        np.full(len(tx), "", dtype=object)
    own = pd.isna(keys) | (keys == "")
    if own.any():  # a line without order id is an order of its own
        keys = keys.copy()
        keys[own] = [f"\x01{file}\x00{block}\x00{p}" for p in at[own]]
    day = tx["date"].to_numpy().astype("datetime64[D]").astype("int64")
    extra = {role: tx[role].to_numpy(dtype=object) for role in LABEL_FACTS if role in tx}
    extra.update({role: tx[role].to_numpy(dtype=float) for role in ("cost", "profit")
                  if role in tx})
    yield _frame(0, file, block, at, customer=np.asarray(tx["customer"], dtype=object),
                 day=day, amount=tx["amount"].to_numpy(dtype=float), order_key=keys,
                 value=row_values(tx), **extra)


def _all_blank(frame: pd.DataFrame, columns) -> bool:
    """Whether every used cell is blank (:func:`xl_crm.core.values.blank_mask`'s rule);
    most batches answer at their first column's first cells."""
    for i in columns:
        column = frame.iloc[:, i]
        head = column.iloc[:64]
        if not blank_mask(head).all() or not blank_mask(column).all():
            return False
    return True


def _check_widths(corrupt: pd.Series, pos: np.ndarray, width: int, delimiter: str) -> None:
    """Refuse the first line with a non-blank cell beyond the header, as the pandas engine
    does (Spark flags every line whose cell count differs; shorter ones are read with
    blank cells)."""
    flagged = corrupt.notna().to_numpy()
    for line, at in zip(corrupt[flagged], pos[flagged]):
        record = next(csv.reader([line], delimiter=delimiter), [])
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            raise InputError(f"has {len(record)} cells but the header has {width}", row=int(at))


def date_evidence(batches: Iterator[pd.DataFrame], column: str) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` function of the day/month pass: per batch, the first
    ``dd/mm/yyyy``-like date that is day first, month first, or either
    (:func:`xl_crm.core.values.day_order_evidence`), with its block position."""
    counts: dict[tuple[str, int], int] = {}
    for (file, block), part in _blocks(batches):
        start = counts.get((file, block), 0)
        counts[(file, block)] = start + len(part)
        values = part[column].reset_index(drop=True)
        found = day_order_evidence(values)
        rows = [(order, at) for order, at in zip(("day", "month", "any"), found) if at >= 0]
        if rows:
            yield pd.DataFrame({"file": [file] * len(rows), "block": [block] * len(rows),
                                "pos": [start + 1 + at for _, at in rows],
                                "order": [order for order, _ in rows],
                                "text": [str(values.iloc[at]) for _, at in rows]})
