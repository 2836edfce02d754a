"""Per-customer facts: every aggregate the methods need, in one table.

All methods after this point (scores, segments, tiers, lifecycle, value matrix, Dwyer
inputs, migration) read only this table, so it can be computed by pandas from
transactions (:func:`customer_facts`) or by any SQL engine from a file of any size
(:mod:`xl_crm.duck`), with the same columns and the same meaning:

===================== ===========================================================
column                meaning (days, currency; rows up to ``as_of`` only)
===================== ===========================================================
first_purchase        first day with amount > 0 (NaT when none)
last_purchase         last day with amount > 0 (NaT when none)
first_seen            first day with any row
recency               days from last_purchase to as_of (NaN when none)
frequency             purchases: distinct order ids of rows with amount > 0 (a blank
                      order id is an order of its own), or such rows
net_sales             sum of amounts, returns included
purchases, returns    sums of positive / negative amounts
cost, profit          sums (when the data has cost or profit; profit = net - cost)
monetary              net_sales, or net_sales / frequency (``monetary="mean"``)
name, region, rep     the value on the customer's latest row (by date) that has one;
                      among rows of that date, the last in the input ("" when none)
purchase_days         distinct days with a purchase
median_gap            median days between consecutive purchase days (NaN below 2)
first_day_purchases   sum of the positive amounts of the first purchase day (0 when none):
                      (purchases - it) / (purchase_days - 1) is the mean repeat purchase
earlier, recent       net sales in the earlier / recent half of [start, as_of]
current_value         row value (profit, else net sales) of the last ``current_days``
ly_active, py_active  bought in the last year (as_of-365, as_of] / the year before
ly_purchases          purchases in the last year
ly_net, ly_cost       net sales and cost (or 1 - profit share) of the last year
last_before_cut       last purchase day on or before ``as_of - period_days`` (day number)
lp_buyer, lp_value    bought in the last period; row value of the last period
===================== ===========================================================

Money sums are rounded to 6 decimals (see :mod:`xl_crm.core.rfm`). With ``compare``
("month", "week"), :attr:`Facts.previous` holds the same facts at the previous period
end (:func:`xl_crm.core.changes.previous_period_end`) when the data starts on or
before it, for the change figures of shared/domain.md section 8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .changes import previous_period_end
from .constants import LABEL_FACTS, YEAR_DAYS
from .grouping import any_per_customer, distinct_pairs, money, order_codes, sum_per_customer
from .rfm import Measures, measures_and_rows
from .trend import monthly_trend

# The facts table's columns, in order (the module docstring says what each means); both
# engines produce exactly these, which tests/test_engines.py asserts
FACT_COLUMNS: tuple[str, ...] = (
    "first_purchase", "last_purchase", "first_seen", "recency", "frequency", "monetary",
    "net_sales", "purchases", "returns", "cost", "profit", "purchase_days", "median_gap",
    "first_day_purchases",
    "earlier", "recent", "current_value", "ly_active", "py_active", "ly_purchases",
    "ly_net", "ly_cost", "last_before_cut", "lp_buyer", "lp_value", *LABEL_FACTS,
)
# the transaction columns the previous period's facts read (no labels, no trend)
PREVIOUS_INPUTS = ("customer", "date", "amount", "order_id", "cost", "profit", "row")
COST_FACTS = frozenset({"cost", "profit", "ly_cost"})  # only when the data has cost or profit


def fact_columns(costed: bool) -> list[str]:
    """The facts columns of data with (``costed``) or without cost or profit, in order."""
    return [c for c in FACT_COLUMNS if costed or c not in COST_FACTS]


@dataclass(frozen=True)
class Facts(Measures):
    """Customer facts (``table``) with the analysis date and the first date of the data."""

    start: pd.Timestamp = pd.NaT
    current_days: int = YEAR_DAYS
    period_days: int = 90
    previous: Facts | None = None  # the facts at the previous period end, when compared
    monthly: pd.DataFrame | None = None  # the monthly trend (:mod:`xl_crm.core.trend`)


def previous_date(as_of: pd.Timestamp, start: pd.Timestamp, compare: str) -> pd.Timestamp | None:
    """The previous period end to compare with, or None: ``compare`` is "none", or the data
    (first row on ``start``) begins after that date."""
    before = previous_period_end(as_of, compare)
    return before if before is not None and before >= start else None


def row_values(tx: pd.DataFrame) -> np.ndarray:
    """Value of each row: profit when known, net sales minus cost, else the amount."""
    if "profit" in tx:
        return tx["profit"].to_numpy(float)
    if "cost" in tx:
        return tx["amount"].to_numpy(float) - tx["cost"].to_numpy(float)
    return tx["amount"].to_numpy(float)


def customer_facts(transactions: pd.DataFrame, as_of: object | None = None,
                   monetary: str = "total", current_days: int = YEAR_DAYS,
                   period_days: int = 90, compare: str = "none", *,
                   labels: bool = True) -> Facts:
    """Every per-customer fact of the module docstring, from canonical transactions;
    ``compare`` ("none", "month", "week") adds the previous period's (:attr:`Facts.previous`,
    computed without the text labels and the trend, which the comparison does not use:
    ``labels=False`` leaves name, region and rep empty and ``monthly`` None).

    The rows are read once (:func:`xl_crm.core.rfm.measures_and_rows`): customer codes and
    day numbers are computed there and shared by every fact below."""
    measured, rows = measures_and_rows(transactions, as_of, monetary)
    table = measured.table
    n = len(table)
    tx, codes, day, amount, end = rows.tx, rows.codes, rows.day, rows.amount, rows.end
    buys = amount > 0
    value = row_values(tx)

    start = int(day.min())
    earlier, recent = spend_halves(codes, day, amount, n, start, end)
    days, gaps = usual_gaps(codes, day, buys, n)
    table["purchase_days"] = days
    table["median_gap"] = gaps
    first = table["first_purchase"].to_numpy("datetime64[D]").astype("int64")  # NaT: min
    table["first_day_purchases"] = money(sum_per_customer(codes, amount, n,
                                                          buys & (day == first[codes])))
    table["earlier"], table["recent"] = earlier, recent
    table["current_value"] = money(sum_per_customer(codes, value, n, day > end - current_days))

    last_year = day > end - YEAR_DAYS
    prev_year = (day > end - 2 * YEAR_DAYS) & ~last_year
    table["ly_active"] = any_per_customer(codes, n, last_year & buys)
    table["py_active"] = any_per_customer(codes, n, prev_year & buys)
    table["ly_purchases"] = _purchases(tx, codes, n, last_year & buys)
    table["ly_net"] = money(sum_per_customer(codes, amount, n, last_year))
    if "cost" in tx or "profit" in tx:
        cost = amount - value  # cost, or net sales minus profit
        table["ly_cost"] = money(sum_per_customer(codes, cost, n, last_year))

    cut = end - period_days
    before = buys & (day <= cut)
    last = np.full(n, np.iinfo("int64").min)
    np.maximum.at(last, codes[before], day[before])
    table["last_before_cut"] = np.where(last > np.iinfo("int64").min, last, np.nan)
    table["lp_buyer"] = any_per_customer(codes, n, buys & (day > cut))
    table["lp_value"] = money(sum_per_customer(codes, value, n, day > cut))
    for col, text in (_labels(tx, codes, day, n) if labels else
                      {c: np.full(n, "", dtype=object) for c in LABEL_FACTS}).items():
        table[col] = text
    first = pd.Timestamp(np.datetime64(start, "D"))
    monthly = None
    if labels:
        orders = order_codes(tx) if "order_id" in tx else np.arange(len(tx))
        monthly = monthly_trend(day, amount, codes, orders, end, start)
    before = previous_date(measured.as_of, first, compare)
    previous = None
    if before is not None:  # the columns it reads only: filtering text columns costs
        slim = tx[[c for c in PREVIOUS_INPUTS if c in tx]]
        previous = customer_facts(slim, before, monetary, current_days, period_days,
                                  labels=False)
    return Facts(table, measured.as_of, measured.after_as_of, measured.after_as_of_rows,
                 first, current_days, period_days, previous, monthly)


def spend_halves(codes: np.ndarray, day: np.ndarray, amount: np.ndarray, n: int,
                 start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Net sales per customer (currency) in the earlier and the recent half of the window
    [start, end] (day numbers): a row is recent when its day is after the middle."""
    recent = day > start + (end - start) / 2
    return (money(sum_per_customer(codes, amount, n, ~recent)),
            money(sum_per_customer(codes, amount, n, recent)))


def usual_gaps(codes: np.ndarray, day: np.ndarray, buys: np.ndarray,
               n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct purchase days per customer and their median gap in days (NaN below two
    purchase days), from the rows where ``buys`` holds."""
    day = day[buys]
    base = int(day.min()) if len(day) else 0
    pairs = distinct_pairs(codes[buys], day - base)  # sorted by customer, then day
    who, when = pairs >> 32, pairs & 0xFFFFFFFF
    same = who[1:] == who[:-1]
    gaps = pd.Series(np.diff(when)[same]).groupby(who[1:][same]).median()
    return np.bincount(who, minlength=n), gaps.reindex(range(n)).to_numpy(float)


def _purchases(tx: pd.DataFrame, codes: np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    keep = mask & (codes >= 0)
    if "order_id" in tx:
        pairs = distinct_pairs(codes[keep], order_codes(tx)[keep])
        return np.bincount(pairs >> 32, minlength=n)
    return np.bincount(codes[keep], minlength=n)


def _labels(tx: pd.DataFrame, codes: np.ndarray, day: np.ndarray,
            n: int) -> dict[str, np.ndarray]:
    """Name, region and rep per customer: from the latest-dated row that has one; among rows
    of that date, the last in the input's order (the SQL engine's ``arg_max`` by ``seq``)."""
    out = {}
    seq = (day << 32) + np.arange(len(tx), dtype="int64")  # date, then input order
    for col in LABEL_FACTS:
        text = np.full(n, "", dtype=object)
        if col in tx:
            # codes of the distinct texts, not 1M Python strings (Arrow text converts slowly)
            which, texts = pd.factorize(tx[col])
            texts = np.asarray(texts, dtype=object)
            keep = which >= 0
            blank = np.flatnonzero(texts == "")
            if len(blank):
                keep &= which != blank[0]
            best = np.full(n, np.iinfo("int64").min)
            np.maximum.at(best, codes[keep], seq[keep])  # O(rows), no sort
            has = best > np.iinfo("int64").min
            text[has] = texts[which[best[has] & 0xFFFFFFFF]]  # the low 32 bits: the row
        out[col] = text
    return out
