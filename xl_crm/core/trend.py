"""The monthly trend (shared/domain.md section 8): per calendar month, net sales, buying
customers and orders, for the 24 months up to the analysis date's month (this year's
12 months and the same 12 months a year earlier). Months without data are 0; months
before the data starts are marked ``covered = False`` so a chart does not read them as a
fall to zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .grouping import distinct_pairs, money

TREND_MONTHS = 24  # 12 months and the same 12 a year earlier


def month_numbers(day: np.ndarray) -> np.ndarray:
    """Calendar months since 1970-01 (0 = January 1970) of day numbers (days since 1970)."""
    return np.asarray(day, dtype="int64").astype("datetime64[D]").astype("datetime64[M]") \
        .astype("int64")


def monthly_trend(day: np.ndarray, amount: np.ndarray, customer: np.ndarray,
                  order: np.ndarray, end: int, start: int,
                  months: int = TREND_MONTHS) -> pd.DataFrame:
    """Per month of the ``months`` calendar months up to the month of day ``end``: net sales
    (currency, returns included), customers who bought (amount > 0) and their orders
    (distinct ``order`` codes of such rows). ``customer`` and ``order`` are non-negative
    int codes per row; rows after ``end`` must be left out by the caller; ``start`` is
    the first day of the data."""
    last = int(month_numbers(np.array([end]))[0])
    first = last - months + 1
    month = month_numbers(day)
    inside = month >= first
    slot = (month - first)[inside]
    net = money(np.bincount(slot, weights=np.asarray(amount, float)[inside], minlength=months))
    buys = (np.asarray(amount) > 0)[inside]
    bought = slot[buys]
    customers = np.bincount(distinct_pairs(bought, np.asarray(customer)[inside][buys]) >> 32,
                            minlength=months)
    orders = np.bincount(distinct_pairs(bought, np.asarray(order)[inside][buys]) >> 32,
                         minlength=months)
    return trend_frame(last, start, net, customers, orders)


def trend_frame(last: int, start: int, net: np.ndarray, customers: np.ndarray,
                orders: np.ndarray) -> pd.DataFrame:
    """The trend table from per-month arrays ending at month number ``last`` (see
    :func:`month_numbers`); ``start`` is the first day of the data (a day number)."""
    numbers = np.arange(last - len(net) + 1, last + 1)
    labels = numbers.astype("datetime64[M]").astype(str)
    covered = numbers >= int(month_numbers(np.array([start]))[0])
    return pd.DataFrame({"month": labels, "net_sales": money(np.asarray(net, float)),
                         "customers": np.asarray(customers, "int64"),
                         "orders": np.asarray(orders, "int64"), "covered": covered})


def first_trend_day(end: int, months: int = TREND_MONTHS) -> int:
    """The day number of the first day of the trend's first month."""
    first = int(month_numbers(np.array([end]))[0]) - months + 1
    return int(np.datetime64(first, "M").astype("datetime64[D]").astype("int64"))
