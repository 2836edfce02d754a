"""The portable per-customer facts query (:func:`facts_sql`) and the monthly trend query
(:func:`trend_sql`) that the DuckDB and Spark engines both run over their ``tx`` relation,
and their results in the pandas engine's layout (:func:`facts_frame`,
:func:`trend_from_rows`). One text for every SQL engine: only the functions a
:class:`Dialect` names are spelled per engine (DuckDB's ``arg_max`` is Spark's ``max_by``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .core.constants import LABEL_FACTS, MONEY_DECIMALS, YEAR_DAYS
from .core.grouping import money
from .core.trend import TREND_MONTHS, first_trend_day, month_numbers, trend_frame

# the facts query's date columns, which each engine fetches as day numbers since 1970
DAY_COLUMNS = ("first_purchase", "last_purchase", "first_seen", "last_before_cut")


@dataclass(frozen=True)
class Dialect:
    """How an SQL engine spells what the facts query needs beyond standard SQL:
    ``arg_max``/``arg_min`` (value at the greatest/least key) and ``day_gap``, the days
    between two DATEs (``{later}``, ``{earlier}``), an integer."""

    arg_max: str = "arg_max"
    arg_min: str = "arg_min"
    day_gap: str = "{later} - {earlier}"


DUCKDB = Dialect()
SPARK = Dialect("max_by", "min_by", "datediff({later}, {earlier})")


def facts_sql(found: Mapping[str, int], as_of: pd.Timestamp, start: pd.Timestamp,
              current_days: int = YEAR_DAYS, period_days: int = 90,
              dialect: Dialect = DUCKDB, labels: bool = True) -> str:
    """The per-customer facts query over ``tx`` (plain SQL: aggregates, FILTER, median, lag).

    ``tx`` has one row per sales line up to the analysis date: customer, date (DATE),
    amount, order_key (order id, or a unique key for a line without one), value (profit of
    the line, or its amount), cost/profit when the data has them, name, region and rep (text,
    '' when blank) and ``seq``, a BIGINT that orders the lines by date, then by their order
    in the file (days since 1970 × 2³² + line number): a customer's name and region are
    those of the greatest ``seq`` with one. Every date bound is a DATE literal computed
    here, so the engine compares dates as integers. ``dialect`` names the few functions
    SQL engines spell differently (:class:`Dialect`); the text is otherwise the same.
    ``labels=False`` gives name, region and rep as '' without reading them (the previous
    period's facts, which the comparison uses without its labels, as the pandas engine's
    ``customer_facts(..., labels=False)``).
    """
    def day(offset: int) -> str:
        return f"DATE '{(as_of - pd.Timedelta(days=offset)).date()}'"

    middle = start + (as_of - start) / 2  # dates are whole days: date <= middle's day
    buy = "amount > 0"
    cut = day(int(period_days))
    ly = f"date > {day(YEAR_DAYS)}"
    py = f"date > {day(2 * YEAR_DAYS)} AND date <= {day(YEAR_DAYS)}"
    sql_money = f"round(coalesce({{}}, 0), {MONEY_DECIMALS})"
    extra = []
    if "cost" in found:
        extra.append(f"{sql_money.format('sum(cost)')} AS cost")
    if "profit" in found:
        extra.append(f"{sql_money.format('sum(profit)')} AS profit")
    if "cost" in found or "profit" in found:
        extra.append(f"{sql_money.format(f'sum(amount - value) FILTER (WHERE {ly})')} AS ly_cost")
    previous = "lag(date) OVER (PARTITION BY customer ORDER BY date)"
    extra_sql = "".join(f",\n    {e}" for e in extra)
    labels = ",\n    ".join(
        f"coalesce({dialect.arg_max}({r}, seq) FILTER (WHERE {r} <> ''), '') AS {r}" if labels
        else f"'' AS {r}" for r in LABEL_FACTS)
    return f"""
WITH per_customer AS (
  SELECT customer,
    min(date) FILTER (WHERE {buy}) AS first_purchase,
    max(date) FILTER (WHERE {buy}) AS last_purchase,
    min(date) AS first_seen,
    {sql_money.format('sum(amount)')} AS net_sales,
    {sql_money.format(f'sum(amount) FILTER (WHERE {buy})')} AS purchases,
    {sql_money.format('sum(amount) FILTER (WHERE amount < 0)')} AS returns,
    {sql_money.format(f"sum(amount) FILTER (WHERE date <= DATE '{middle.date()}')")} AS earlier,
    {sql_money.format(f"sum(amount) FILTER (WHERE date > DATE '{middle.date()}')")} AS recent,
    {sql_money.format(f'sum(value) FILTER (WHERE date > {day(int(current_days))})')} AS current_value,
    coalesce(bool_or({buy} AND {ly}), false) AS ly_active,
    coalesce(bool_or({buy} AND {py}), false) AS py_active,
    {sql_money.format(f'sum(amount) FILTER (WHERE {ly})')} AS ly_net,
    max(date) FILTER (WHERE {buy} AND date <= {cut}) AS last_before_cut,
    coalesce(bool_or({buy} AND date > {cut}), false) AS lp_buyer,
    {sql_money.format(f'sum(value) FILTER (WHERE date > {cut})')} AS lp_value,
    {labels}{extra_sql}
  FROM tx
  GROUP BY customer
),
orders AS (
  SELECT customer, bool_or({ly}) AS in_last_year
  FROM tx WHERE {buy}
  GROUP BY customer, order_key
),
order_counts AS (
  SELECT customer, count(*) AS frequency,
    count(*) FILTER (WHERE in_last_year) AS ly_purchases
  FROM orders GROUP BY customer
),
purchase_days AS (
  SELECT customer, date, sum(amount) AS bought FROM tx WHERE {buy} GROUP BY customer, date
),
gaps AS (
  SELECT customer, date, bought,
         {dialect.day_gap.format(later='date', earlier=previous)} AS gap
  FROM purchase_days
),
gap_stats AS (
  SELECT customer, count(*) AS purchase_days, median(gap) AS median_gap,
         {dialect.arg_min}(bought, date) AS first_day_purchases
  FROM gaps GROUP BY customer
)
SELECT per_customer.*, coalesce(order_counts.frequency, 0) AS frequency,
       coalesce(order_counts.ly_purchases, 0) AS ly_purchases,
       coalesce(gap_stats.purchase_days, 0) AS purchase_days,
       gap_stats.median_gap AS median_gap,
       {sql_money.format('gap_stats.first_day_purchases')} AS first_day_purchases
FROM per_customer
  LEFT JOIN order_counts USING (customer)
  LEFT JOIN gap_stats USING (customer)
"""


def rank_value(found: Mapping[str, int]) -> str:
    """The facts query's customer value as SQL over its result (profit, else net sales
    minus cost, else net sales): the engines fetch customers in rank order, ``ORDER BY``
    it descending, then by customer id (:func:`xl_crm.core.tiers.rank_order`)."""
    return ("profit" if "profit" in found else f"round(net_sales - cost, {MONEY_DECIMALS})"
            if "cost" in found else "net_sales")


def trend_sql(first_day: pd.Timestamp) -> str:
    """The monthly trend over ``tx`` (plain SQL): per calendar month from ``first_day``
    (the first day of a month) its number since 1970-01, net sales, customers who bought
    and their orders (see :mod:`xl_crm.core.trend`)."""
    return f"""
SELECT (year(date) - 1970) * 12 + month(date) - 1 AS month,
       sum(amount) AS net_sales,
       count(DISTINCT customer) FILTER (WHERE amount > 0) AS customers,
       count(DISTINCT order_key) FILTER (WHERE amount > 0) AS orders
  FROM tx
 WHERE date >= DATE '{first_day.date()}'
 GROUP BY 1"""


def trend_query(as_of: pd.Timestamp) -> str:
    """:func:`trend_sql` for the trend months ending with ``as_of``'s month."""
    end = int(np.datetime64(as_of.date(), "D").astype("int64"))
    return trend_sql(pd.Timestamp(np.datetime64(first_trend_day(end), "D")))


def trend_from_rows(rows: Iterable[tuple], as_of: pd.Timestamp,
                    start: pd.Timestamp) -> pd.DataFrame:
    """The rows of :func:`trend_query` (month, net sales, customers, orders) as the pandas
    engine's :func:`xl_crm.core.trend.monthly_trend` gives the trend up to ``as_of``."""
    end = int(np.datetime64(as_of.date(), "D").astype("int64"))
    last = int(month_numbers(np.array([end]))[0])
    net, customers, orders = (np.zeros(TREND_MONTHS) for _ in range(3))
    for month, amount, buyers, count in rows:
        slot = month - (last - TREND_MONTHS + 1)
        net[slot], customers[slot], orders[slot] = amount or 0.0, buyers, count
    day = int(np.datetime64(start.date(), "D").astype("int64"))
    return trend_frame(last, day, net, customers, orders)


def facts_frame(columns: Mapping[str, np.ndarray], as_of: pd.Timestamp,
              monetary: str) -> pd.DataFrame:
    """The facts query's result (numpy arrays by column, masked where NULL; the
    :data:`DAY_COLUMNS` as day numbers since 1970) in the pandas engine's layout and
    types (:func:`xl_crm.core.facts.customer_facts`); ``monetary`` is "total" or "mean"."""
    def floats(col: str) -> np.ndarray:  # NULL as NaN; the fetched arrays are ours to keep
        data = columns[col]
        data = data if data.dtype == np.float64 else data.astype(float)
        return data.filled(np.nan) if isinstance(data, np.ma.MaskedArray) else data

    out: dict[str, np.ndarray] = {}
    for col in ("first_purchase", "last_purchase", "first_seen"):
        out[col] = _dates(floats(col))
    end = np.datetime64(as_of.date(), "D").astype("int64")
    out["recency"] = end - floats("last_purchase")  # NaN without a purchase
    out["frequency"] = columns["frequency"].astype("int64")
    net = floats("net_sales")
    freq = out["frequency"]
    out["monetary"] = money(np.where(freq > 0, net / np.maximum(freq, 1), net)) \
        if monetary == "mean" else net.copy()  # not one array in two columns
    out["net_sales"] = net
    for col in ("purchases", "returns", "cost", "profit"):
        if col in columns:
            out[col] = floats(col)
    if "cost" in columns and "profit" not in columns:
        out["profit"] = money(net - out["cost"])
    out["purchase_days"] = columns["purchase_days"].astype("int64")
    out["median_gap"] = floats("median_gap")
    out["first_day_purchases"] = floats("first_day_purchases")
    for col in ("earlier", "recent", "current_value"):
        out[col] = floats(col)
    out["ly_active"] = columns["ly_active"].astype(bool)
    out["py_active"] = columns["py_active"].astype(bool)
    out["ly_purchases"] = columns["ly_purchases"].astype("int64")
    out["ly_net"] = floats("ly_net")
    if "ly_cost" in columns:
        out["ly_cost"] = floats("ly_cost")
    out["last_before_cut"] = floats("last_before_cut")
    out["lp_buyer"] = columns["lp_buyer"].astype(bool)
    out["lp_value"] = floats("lp_value")
    for col in LABEL_FACTS:
        out[col] = np.asarray(columns[col], dtype=object)
    index = pd.Index(np.asarray(columns["customer"], dtype=object), dtype=object,
                     name="customer")
    return pd.DataFrame(out, index=index, copy=False)


def _dates(days: np.ndarray) -> np.ndarray:
    """Day numbers since 1970 (NaN: none) as datetime64[ns] (NaT: none)."""
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    known = ~np.isnan(days)
    out[known] = days[known].astype("int64").astype("datetime64[D]")
    return out
