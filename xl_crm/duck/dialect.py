"""SQL text every DuckDB query of the engine shares (quoting, the white space the pandas
engine trims) and the portable per-customer facts query (:func:`facts_sql`), which runs
unchanged on any SQL engine once its ``tx`` relation is defined there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..core.constants import LABEL_FACTS, MONEY_DECIMALS, YEAR_DAYS

# the white space trimmed around text cells: what Python's str.strip() removes, as the
# pandas engine does (one literal holding the characters themselves)
_SPACES = [c for c in range(0x3001) if chr(c).isspace()]


SPACE = "'" + "".join(chr(c) for c in _SPACES) + "'"


# code points that are certainly not white space: a cell starting and ending with one
# needs no trimming (the fast path; CASE evaluates its ELSE only for the other rows).
# NOT IN costs a little planning per use, but a chain of comparisons measured slower
# on 10M-line files.
SOLID = ("(CASE WHEN {o} BETWEEN 33 AND 132 THEN true ELSE {o} > 160 AND {o} NOT IN ("
          + ", ".join(str(c) for c in _SPACES if c > 160) + ") END)")


def solid_ends(text: str) -> str:
    """Whether the text starts and ends with a character that is not white space."""
    return " AND ".join(SOLID.format(o=f"ord({e})") for e in (text, f"{text}[-1]"))


def trimmed(text: str) -> str:
    """``text`` without surrounding white space, trimming only cells that have some."""
    return f"(CASE WHEN {solid_ends(text)} THEN {text} ELSE trim({text}, {SPACE}) END)"


def quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tx_columns(found: Mapping[str, int]) -> str:
    blank_key = "chr(1) || CAST(rowid AS VARCHAR)"  # a line without order id: its own order
    parts = ["customer", "date", "amount"]
    parts.append(f"CASE WHEN order_id = '' THEN {blank_key} ELSE order_id END AS order_key"
                 if "order_id" in found else f"{blank_key} AS order_key")
    if "profit" in found:
        parts.append("profit AS value")
    elif "cost" in found:
        parts.append("amount - cost AS value")
    else:
        parts.append("amount AS value")
    for role in ("cost", "profit"):
        if role in found:
            parts.append(role)
    for role in LABEL_FACTS:
        parts.append(role if role in found else f"'' AS {role}")
    parts.append("(date - DATE '1970-01-01') * 4294967296 + rowid AS seq")
    return ", ".join(parts)


def facts_sql(found: Mapping[str, int], as_of: pd.Timestamp, start: pd.Timestamp,
              current_days: int = YEAR_DAYS, period_days: int = 90) -> str:
    """The per-customer facts query over ``tx`` (plain SQL: aggregates, FILTER, median, lag).

    ``tx`` has one row per sales line up to the analysis date: customer, date (DATE),
    amount, order_key (order id, or a unique key for a line without one), value (profit of
    the line, or its amount), cost/profit when the data has them, name, region and rep (text,
    '' when blank) and ``seq``, a BIGINT that orders the lines by date, then by their order
    in the file (days since 1970 × 2³² + line number): a customer's name and region are
    those of the greatest ``seq`` with one. Every date bound is a DATE literal computed
    here, so the engine compares dates as integers.
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
    extra_sql = "".join(f",\n    {e}" for e in extra)
    labels = ",\n    ".join(f"coalesce(arg_max({r}, seq) FILTER (WHERE {r} <> ''), '') AS {r}"
                           for r in LABEL_FACTS)
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
         date - lag(date) OVER (PARTITION BY customer ORDER BY date) AS gap
  FROM purchase_days
),
gap_stats AS (
  SELECT customer, count(*) AS purchase_days, median(gap) AS median_gap,
         arg_min(bought, date) AS first_day_purchases
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
