"""ABC tiers (Pareto) and the customer pyramid (ABC 分类 / 客户金字塔).

Customers are ranked by value, largest first; equal values are ordered by customer id
(numerically when every id is a number, else as text), so the result never depends on
input order.

ABC: the Pareto base is the total of positive values. A customer's cumulative share
includes the customer. Tier A while the cumulative share is <= ``a_cut`` (0.80), B
while <= ``b_cut`` (0.95), C after; the first customer is always A unless its
value is <= 0: a value <= 0 is always C.
Shares are fractions (0.8 = 80 %). Comparisons allow 1e-12 relative slack so that
0.1 + 0.7 counts as 0.8.

Pyramid (by head count): the top ``ceil(share * n)`` customers of each tier in order,
shares 1 % VIP, 4 % Major, 15 % Ordinary, the rest Small (configurable).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .constants import A_CUT, B_CUT, PYRAMID_SHARES
from .errors import InputError
from .grouping import money

ABC_TIERS = ("A", "B", "C")
PYRAMID_TIERS = ("VIP", "Major", "Ordinary", "Small")
_SLACK = 1e-12


def rank_order(customers: pd.Index | Sequence[object], values: np.ndarray) -> np.ndarray:
    """Positions that sort customers by value descending, ties by customer id ascending
    (numerically when every id is a number, else as text)."""
    v = -np.asarray(values, dtype=float)
    ids = pd.Index(customers).astype(str)
    numeric = pd.to_numeric(pd.Series(ids), errors="coerce") if _numeric(ids) else None
    if numeric is not None and numeric.notna().all():
        return np.lexsort((ids.to_numpy(), numeric.to_numpy(dtype=float), v))
    if _ranked(v, ids.to_numpy()):  # the DuckDB engine returns customers in rank order
        return np.arange(len(v))
    order = np.argsort(v, kind="stable")
    ranked = v[order]
    same = ranked[1:] == ranked[:-1]
    if same.any():  # sort the ids only inside runs of equal values, all runs at once
        tied = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
        run = np.cumsum(np.r_[True, ~same])[tied]  # run number of each tied position
        order[tied] = order[tied][np.lexsort((_text_keys(ids.to_numpy()[order[tied]]), run))]
    return order


def _ranked(v: np.ndarray, ids: np.ndarray) -> bool:
    """Whether ``v`` never decreases and equal values have increasing text ids (NaN, and
    infinities whose difference is NaN, fail the first test)."""
    with np.errstate(invalid="ignore"):  # inf - inf
        if not (np.diff(v) >= 0).all():
            return False
    tied = np.flatnonzero(v[1:] == v[:-1])
    return bool((ids[tied + 1] > ids[tied]).all())


def _text_keys(text: np.ndarray) -> np.ndarray:
    """Sort keys in the order of the texts: fixed-width numpy strings when they are short
    (fast to sort; code point order, as Python compares), else ranks of a sorted
    factorization."""
    width = max(map(len, text), default=1)
    if width <= 64:
        return text.astype(f"U{max(width, 1)}")
    return pd.factorize(text, sort=True)[0]


def _numeric(ids: pd.Index) -> bool:
    """Cheap pre-check on the first id before converting them all."""
    try:
        return len(ids) > 0 and bool(float(ids[0]) == float(ids[0]))
    except ValueError:
        return False


def sum_by_customer(customers: Sequence[object], values: Sequence[float]) -> pd.Series:
    """Total value per customer, customers in order of first appearance."""
    s = pd.Series(np.asarray(values, dtype=float), index=pd.Index(list(customers), dtype=object))
    return money(s.groupby(level=0, sort=False).sum())


def abc_tiers(values: pd.Series, a_cut: float = A_CUT, b_cut: float = B_CUT,
              order: np.ndarray | None = None) -> pd.DataFrame:
    """ABC tier per customer. ``values``: value per customer, indexed by customer id.

    Returns one row per customer, largest first, columns ``customer``, ``value``,
    ``rank`` (1 = largest), ``share``, ``cumulative_share`` (fractions of the positive
    total) and ``tier``. ``order``: :func:`rank_order` of ``values``, when already known.
    """
    if not 0 < a_cut <= b_cut <= 1:
        raise InputError(f"cut-offs must satisfy 0 < a_cut <= b_cut <= 1, got {a_cut}, {b_cut}")
    order = rank_order(values.index, values.to_numpy()) if order is None else order
    v = values.to_numpy(dtype=float)[order]
    base = v[v > 0].sum()
    cum = np.cumsum(np.where(v > 0, v, 0.0))
    share = v / base if base > 0 else np.full(len(v), np.nan)
    cum_share = cum / base if base > 0 else np.full(len(v), np.nan)
    tier = np.searchsorted(np.array([a_cut, b_cut]) * base * (1 + _SLACK), cum).astype("int8")
    if len(tier):
        tier[0] = 0
    tier[v <= 0] = 2
    return pd.DataFrame({
        "customer": values.index.take(order),
        "value": v,
        "rank": np.arange(1, len(v) + 1),
        "share": share,
        "cumulative_share": cum_share,
        "tier": pd.Categorical.from_codes(tier, categories=ABC_TIERS),
    }, copy=False)  # fresh arrays: no need to copy them into 2-D blocks


def tier_sizes(n: int, shares: Sequence[float] = PYRAMID_SHARES) -> list[int]:
    """Customers per pyramid tier: ceil(share * n) from the top, the rest in the last tier."""
    shares = [float(s) for s in shares]
    if any(s < 0 for s in shares) or sum(shares) > 1 + _SLACK:
        raise InputError(f"pyramid shares must be fractions that sum to at most 1: {shares}")
    sizes, left = [], n
    for s in shares:
        size = min(left, math.ceil(round(s * n, 9)))
        sizes.append(size)
        left -= size
    return sizes + [left]


def pyramid_tiers(
    values: pd.Series,
    shares: Sequence[float] = PYRAMID_SHARES,
    names: Sequence[str] = PYRAMID_TIERS,
    order: np.ndarray | None = None,
) -> pd.DataFrame:
    """Pyramid tier per customer: columns ``customer``, ``value``, ``rank``, ``tier``."""
    if len(names) != len(shares) + 1:
        raise InputError(f"{len(shares)} shares need {len(shares) + 1} tier names")
    if len(set(names)) != len(names):
        raise InputError(f"pyramid tier names must differ from each other: {list(names)}")
    order = rank_order(values.index, values.to_numpy()) if order is None else order
    sizes = tier_sizes(len(order), shares)
    return pd.DataFrame({
        "customer": values.index.take(order),
        "value": values.to_numpy(dtype=float)[order],
        "rank": np.arange(1, len(order) + 1),
        "tier": pd.Categorical.from_codes(np.repeat(np.arange(len(names)), sizes),
                                          categories=list(names)),
    }, copy=False)  # fresh arrays


def group_summary(
    labels: pd.Series, values: pd.Series, order: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per label: ``customers``, ``customer_share``, ``value``, ``value_share``,
    ``average``; a label in ``order`` with no customer gets a row of zeros, other labels
    (categories of categorical ``labels`` included) only a row when they have customers.

    Value shares are fractions of the total value (net), so they sum to 1.
    """
    codes = labels.cat.codes.to_numpy() if isinstance(labels.dtype, pd.CategoricalDtype) \
        else None
    if codes is not None and codes.min(initial=0) >= 0:  # codes already: no hashing
        uniques = labels.cat.categories
    else:
        codes, uniques = pd.factorize(labels.to_numpy(), use_na_sentinel=False)
    v = values.to_numpy(dtype=float)
    # one more slot, empty, for the labels of ``order`` that no customer has
    sizes = np.bincount(codes, minlength=len(uniques) + 1)
    sums = np.bincount(codes, weights=v, minlength=len(uniques) + 1)
    keys = list(order) if order is not None else []
    listed = set(keys)
    keys += [k for k, size in zip(uniques, sizes) if size and k not in listed]
    where = {k: i for i, k in enumerate(uniques)}
    at = np.array([where.get(k, len(uniques)) for k in keys], dtype="int64")
    count, value = sizes[at].astype("int64"), sums[at].astype(float)
    n, total = len(v), v.sum()
    return pd.DataFrame({
        "label": pd.Index(keys),
        "customers": count,
        "customer_share": count / n if n else np.zeros(len(keys)),
        "value": money(value),
        "value_share": value / total if total else np.full(len(keys), np.nan),
        "average": np.where(count > 0, money(value) / np.maximum(count, 1), 0.0),
    })


PARETO_BANDS = 20  # 5 % of customers each


def pareto_bands(values: pd.Series, bands: int = PARETO_BANDS) -> pd.DataFrame:
    """Customer value in bands of equal head count, largest customers first.

    ``values`` sorted descending; band k holds customers ceil((k-1) n / bands) .. ceil(k n /
    bands) - 1. Returns ``band`` (top share of customers, fraction), ``value`` and
    ``cumulative_share`` (fraction of the positive total).
    """
    v = values.to_numpy(dtype=float)
    n = len(v)
    edges = np.ceil(np.arange(bands + 1) * n / bands).astype(int)
    sums = np.array([v[a:b].sum() for a, b in itertools.pairwise(edges)])
    base = v[v > 0].sum()
    cum = np.cumsum(np.where(sums > 0, sums, 0.0)) / base if base > 0 else np.zeros(bands)
    return pd.DataFrame({"band": np.arange(1, bands + 1) / bands, "value": sums,
                         "cumulative_share": np.minimum(cum, 1.0)})
