"""Customer value matrix (客户价值矩阵): current value against potential value.

- current value: the customer's value (profit when the data has cost or profit, else
  net sales; currency) over the last ``current_days`` (365) days up to ``as_of``;
- potential value: the spend trend, net sales in the recent half of the window minus
  the earlier half (currency; see :mod:`xl_crm.core.lifecycle`).

High current value: above ``current_threshold`` (default: the mean current value of all
customers, and never below 0, so a customer with nothing but returns is never "high"). High potential: above ``potential_threshold`` (default 0: spend rising).
Quadrants: Value 价值客户 (high, high), Sub-value 次价值客户 (high current, low
potential), Potential value 潜价值客户 (low current, high potential), Low value 低价值客户.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .grouping import row_codes, sum_per_customer
from .lifecycle import spend_halves

QUADRANTS = ("Value", "Sub-value", "Potential value", "Low value")


def current_values(transactions: pd.DataFrame, customers: pd.Index, as_of: pd.Timestamp,
                   days: int = 365) -> pd.Series:
    """Value per customer in the ``days`` days ending ``as_of`` (profit when known)."""
    dates = transactions["date"].to_numpy(dtype="datetime64[ns]")
    end = as_of.to_datetime64()
    inside = (dates <= end) & (dates > end - np.timedelta64(days, "D"))
    value = transactions["amount"].to_numpy(float)
    if "profit" in transactions:
        value = transactions["profit"].to_numpy(float)
    elif "cost" in transactions:
        value = value - transactions["cost"].to_numpy(float)
    sums = sum_per_customer(row_codes(transactions, customers), value, len(customers), inside)
    return pd.Series(sums, index=customers).round(6)


def value_matrix(
    transactions: pd.DataFrame,
    customers: pd.Index,
    as_of: pd.Timestamp,
    current_days: int = 365,
    current_threshold: float | None = None,
    potential_threshold: float = 0.0,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Quadrant per customer, and the thresholds used.

    Returns (frame with ``current_value``, ``potential_value``, ``quadrant``; thresholds).
    """
    current = current_values(transactions, customers, as_of, current_days)
    halves = spend_halves(transactions, customers, as_of)
    return assign_quadrants(current, halves["recent"] - halves["earlier"], current_threshold,
                            potential_threshold)


def assign_quadrants(current: pd.Series, potential: pd.Series,
                     current_threshold: float | None = None,
                     potential_threshold: float = 0.0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Quadrants from current and potential value per customer (see the module docstring)."""
    potential = potential.round(6)
    cut = max(float(current.mean()), 0.0) if current_threshold is None \
        else float(current_threshold)
    high_c = current.to_numpy() > cut
    high_p = potential.to_numpy() > potential_threshold
    quadrant = np.select([high_c & high_p, high_c, high_p], [0, 1, 2], default=3)
    index = current.index
    frame = pd.DataFrame({  # the inputs are shared copy-on-write (by position), not copied
        "current_value": current.set_axis(index),
        "potential_value": potential.set_axis(index),
        "quadrant": pd.Categorical.from_codes(quadrant, categories=QUADRANTS),
    }, index=index, copy=False)
    return frame, {"current_threshold": cut, "potential_threshold": float(potential_threshold)}
