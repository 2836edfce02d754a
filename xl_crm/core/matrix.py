"""Customer value matrix (客户价值矩阵): current value against potential value.

- current value: the customer's value (profit when the data has cost or profit, else
  net sales; currency) over the last ``current_days`` (365) days up to ``as_of``;
- potential value: the spend trend, net sales in the recent half of the window minus
  the earlier half (currency; see :mod:`xl_crm.core.lifecycle`). Both are customer
  facts (``current_value``, ``recent`` - ``earlier`` of
  :func:`xl_crm.core.facts.customer_facts`).

High current value: above ``current_threshold`` (default: the mean current value of all
customers, and never below 0, so a customer with nothing but returns is never "high"). High potential: above ``potential_threshold`` (default 0: spend rising).
Quadrants: Value 价值客户 (high, high), Sub-value 次价值客户 (high current, low
potential), Potential value 潜价值客户 (low current, high potential), Low value 低价值客户.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .grouping import money

QUADRANTS = ("Value", "Sub-value", "Potential value", "Low value")


def assign_quadrants(current: pd.Series, potential: pd.Series,
                     current_threshold: float | None = None,
                     potential_threshold: float = 0.0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Quadrants from current and potential value per customer (see the module docstring)."""
    potential = money(potential)
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
