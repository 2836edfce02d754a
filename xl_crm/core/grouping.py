"""Per-customer aggregation on integer codes (fast at millions of rows).

Transactions keep ``customer`` as a categorical column, so mapping rows to positions in a
customer index costs one lookup per distinct customer, not per row.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

from .constants import MONEY_DECIMALS

Money = TypeVar("Money", np.ndarray, pd.Series, float)


def money(x: Money) -> Money:
    """Money (currency) rounded to MONEY_DECIMALS: binary noise off, -0.0 made 0.0. Takes
    and gives a number, an array or a Series; every money sum of the core goes through it."""
    return np.round(x, MONEY_DECIMALS) + 0.0


def sum_per_customer(codes: np.ndarray, values: np.ndarray, n: int,
                     mask: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``values`` per customer position 0..n-1 over rows where ``mask`` holds."""
    keep = codes >= 0 if mask is None else (codes >= 0) & mask
    return np.bincount(codes[keep], weights=np.asarray(values, dtype=float)[keep], minlength=n)


def any_per_customer(codes: np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    """True for customers with at least one row where ``mask`` holds."""
    keep = (codes >= 0) & mask
    return np.bincount(codes[keep], minlength=n) > 0


def distinct_pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Distinct (first, second) pairs of non-negative int codes as int64 keys
    ``first << 32 | second``, sorted."""
    keys = np.asarray(first, dtype="int64") << 32 | np.asarray(second, dtype="int64")
    return np.sort(pd.unique(keys))


def order_codes(transactions: pd.DataFrame) -> np.ndarray:
    """Integer code per row for the order id (cheap when it is categorical).

    A row with a blank order id gets a code of its own: it is an order by itself.
    """
    ids = transactions["order_id"]
    codes = pd.factorize(ids)[0]
    if not isinstance(ids.dtype, pd.CategoricalDtype):
        codes = np.where(ids.astype(object).eq("").to_numpy(), -1, codes)
    blank = codes < 0
    if blank.any():
        codes = codes.copy()
        codes[blank] = codes.max(initial=-1) + 1 + np.arange(int(blank.sum()))
    return codes
