"""RFM measures and scores (最近一次消费 / 消费频率 / 消费金额).

Measures per customer, as of ``as_of`` (default: the latest purchase date in the data):

- ``recency``: whole days from the last purchase (a row with amount > 0) to ``as_of``;
  empty (NaN) for a customer with no purchase;
- ``frequency``: purchases: distinct order ids among rows with amount > 0 when an order
  id column exists, else rows with amount > 0;
- ``monetary``: net sales, the sum of all amounts, returns included (currency); with
  ``monetary="mean"`` net sales divided by frequency (net sales itself when frequency
  is 0).

Rows dated after ``as_of`` are left out and counted (:attr:`Measures.after_as_of`).
Every customer with a row on or before ``as_of`` is kept, including those with only
returns (frequency 0, recency empty, R and F score 1).

Scores 1..k (k = 2..9, default 5), higher is better. Binning methods:

- ``"quantile"`` (default), shared ties: score = 1 + floor(k * m / n), n customers,
  m customers strictly worse on the measure. Equal values always share a score; a
  customer without a purchase is worse than every customer with one on recency.
- ``"nested"`` (SPSS style): R over all customers, F by the same rule within each R
  score, M within each R-F cell.
- ``"fixed"``: thresholds given per measure (k - 1 ascending numbers). For F and M
  a threshold is the lowest value of the next score (F thresholds 2, 3, 5, 10 give
  1 | 2 | 3-4 | 5-9 | 10+). For R a threshold is the largest number of days of the
  better score (30, 60, 90, 180 give 5 for 0-30 days, 4 for 31-60, ... 1 beyond 180).

Money sums are rounded to 6 decimals to remove binary noise, so that a customer with
0.10 + 0.20 ties with one of 0.30.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .constants import BINNINGS, DEFAULT_BINS, MAX_BINS, MIN_BINS
from .errors import InputError
from .grouping import distinct_pairs, money, order_codes
from .values import parse_dates

MEASURES = ("recency", "frequency", "monetary")
SCORE_OF = {"recency": "R", "frequency": "F", "monetary": "M"}


@dataclass(frozen=True)
class Measures:
    """Per-customer measures and what was left out to compute them."""

    table: pd.DataFrame  # index: customer; see CUSTOMER_COLUMNS
    as_of: pd.Timestamp
    after_as_of: int  # rows dated after as_of, left out
    after_as_of_rows: tuple[int | str, ...]  # their rows (first 1,000; "file row n" for
    # the lines of several files)


@dataclass(frozen=True)
class RFMResult:
    """Scores with the thresholds that produced them."""

    table: pd.DataFrame  # measures + R, F, M, RFM, score (and weighted)
    thresholds: pd.DataFrame  # measure, within, score, lower, upper, customers
    bins: int
    binning: str


def to_timestamp(value: object, name: str = "as_of") -> pd.Timestamp:
    """A date given by a user (date, datetime, text, Excel serial) as a midnight Timestamp."""
    if isinstance(value, pd.Timestamp):
        return value.normalize()
    parsed = parse_dates([value], name)
    if np.isnat(parsed[0]):
        raise InputError("is empty", name)
    return pd.Timestamp(parsed[0])


@dataclass(frozen=True)
class Rows:
    """The rows up to the analysis date as arrays, computed once for every fact: ``tx``
    the transactions, ``codes`` each row's position in the customer index, ``day`` its
    date as a day number (days since 1970-01-01), ``amount`` (currency), ``end`` the
    analysis date's day number."""

    tx: pd.DataFrame
    codes: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    end: int


def customer_measures(
    transactions: pd.DataFrame,
    as_of: object | None = None,
    monetary: str = "total",
) -> Measures:
    """Compute first/last purchase, recency, frequency, monetary and value columns.

    Output columns: ``first_purchase``, ``last_purchase`` (dates of rows with amount >
    0, NaT when none), ``first_seen`` (first row of any kind), ``recency`` (days),
    ``frequency`` (purchases), ``monetary``, ``net_sales`` (currency), ``purchases``
    (sum of positive amounts), ``returns`` (sum of negative amounts), and ``cost`` and
    ``profit`` when the data has a cost or profit column (profit = net sales - cost).
    """
    return measures_and_rows(transactions, as_of, monetary)[0]


def measures_and_rows(transactions: pd.DataFrame, as_of: object | None = None,
                      monetary: str = "total") -> tuple[Measures, Rows]:
    """:func:`customer_measures` and the :class:`Rows` they were computed from."""
    if monetary not in ("total", "mean"):
        raise InputError(f"monetary must be 'total' or 'mean', not {monetary!r}")
    tx = transactions
    dates = tx["date"].to_numpy(dtype="datetime64[ns]")
    amount = tx["amount"].to_numpy(dtype=float)
    positive = amount > 0
    if as_of is None:
        if not positive.any():
            raise InputError("there is no purchase (amount > 0) to take the analysis date "
                             "from; give as_of")
        stamp = pd.Timestamp(dates[positive].max())
    else:
        stamp = to_timestamp(as_of)
    limit = stamp.to_datetime64()
    inside = dates <= limit
    late_rows = _row_names(tx, ~inside)
    if not inside.any():
        raise InputError(f"every row is dated after the analysis date {stamp.date()}")
    if not inside.all():
        tx = tx[inside]
        dates, amount, positive = dates[inside], amount[inside], positive[inside]

    codes, customers = pd.factorize(tx["customer"], sort=False)
    n = len(customers)
    net = money(np.bincount(codes, weights=amount, minlength=n))
    purchases = money(np.bincount(codes, weights=np.where(positive, amount, 0), minlength=n))
    day = dates.astype("datetime64[D]").astype("int64")
    nat = np.iinfo("int64").min
    last = np.full(n, nat, dtype="int64")
    np.maximum.at(last, codes[positive], day[positive])
    first = np.full(n, np.iinfo("int64").max, dtype="int64")
    np.minimum.at(first, codes[positive], day[positive])
    seen = np.full(n, np.iinfo("int64").max, dtype="int64")
    np.minimum.at(seen, codes, day)
    has = last != nat
    frequency = _frequency(tx, codes, positive, n)

    as_of_day = int(limit.astype("datetime64[D]").astype("int64"))
    table = pd.DataFrame(index=pd.Index(customers, name="customer", dtype=object))
    table["first_purchase"] = _days_to_dates(np.where(has, first, nat))
    table["last_purchase"] = _days_to_dates(last)
    table["first_seen"] = _days_to_dates(seen)
    table["recency"] = np.where(has, as_of_day - last, np.nan)
    table["frequency"] = frequency
    if monetary == "mean":
        table["monetary"] = money(np.where(frequency > 0, net / np.maximum(frequency, 1), net))
    else:
        table["monetary"] = net
    table["net_sales"] = net
    table["purchases"] = purchases
    table["returns"] = money(net - purchases)
    for extra in ("cost", "profit"):
        if extra in tx:
            table[extra] = money(np.bincount(codes, weights=tx[extra].to_numpy(float),
                                              minlength=n))
    if "cost" in tx and "profit" not in tx:
        table["profit"] = money(net - table["cost"].to_numpy())
    measures = Measures(table, stamp, int((~inside).sum()),
                        late_rows)
    return measures, Rows(tx, codes, day, amount, as_of_day)


def _row_names(tx: pd.DataFrame, mask: np.ndarray, limit: int = 1000) -> tuple[int | str, ...]:
    """The sheet rows of the first ``limit`` lines of ``mask``: numbers, or ``"FILE row
    n"`` when the lines come from several files (a ``file`` column, core.history)."""
    if "row" not in tx or not mask.any():
        return ()
    where = np.flatnonzero(mask)[:limit]
    rows = tx["row"].to_numpy()[where]
    if "file" not in tx:
        return tuple(int(r) for r in rows)
    files = tx["file"].to_numpy()[where]
    return tuple(f"{f} row {r}" for f, r in zip(files, rows))


def _days_to_dates(days: np.ndarray) -> np.ndarray:
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days == np.iinfo("int64").min] = np.datetime64("NaT")
    return out


def _frequency(tx: pd.DataFrame, codes: np.ndarray, positive: np.ndarray, n: int) -> np.ndarray:
    if "order_id" in tx:
        pairs = distinct_pairs(codes[positive], order_codes(tx)[positive])
        return np.bincount(pairs >> 32, minlength=n)
    return np.bincount(codes[positive], minlength=n)


def shared_tie_scores(
    values: Sequence[float] | np.ndarray, bins: int = DEFAULT_BINS, higher_is_better: bool = True
) -> np.ndarray:
    """Score 1..bins: 1 + floor(bins * m / n), m = number strictly worse. NaN is worst."""
    check_bins(bins)
    x = _floats(values)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype="int64")
    key = np.where(np.isnan(x), -np.inf, x if higher_is_better else -x)
    worse = _worse_counts(key)
    if worse is None:
        order = np.argsort(key)  # any order of equal keys gives them the same score
        ranked = key[order]
        # m = position of the first of the run of equal values (ties share the lower rank)
        first = np.r_[True, ranked[1:] != ranked[:-1]]
        worse = np.empty(n, dtype="int64")
        worse[order] = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    return 1 + (bins * worse) // n


def _worse_counts(key: np.ndarray) -> np.ndarray | None:
    """For whole-number keys in a range no wider than a few times their number (days,
    purchase counts), the number of keys strictly below each one by counting, without
    sorting; -inf (NaN) is below everything. None for other keys."""
    low = np.isneginf(key)
    values = key[~low]
    if len(values) == 0 or not np.isfinite(values).all():
        return None
    least, span = values.min(), values.max() - values.min() + 1
    if span > 4 * len(key) + 1024 or not (values == np.floor(values)).all():
        return None
    pos = (values - least).astype("int64")
    counts = np.bincount(pos, minlength=int(span))
    below = np.cumsum(counts) - counts + int(low.sum())
    worse = np.zeros(len(key), dtype="int64")
    worse[~low] = below[pos]
    return worse


def fixed_scores(
    values: Sequence[float] | np.ndarray, thresholds: Sequence[float], higher_is_better: bool
) -> np.ndarray:
    """Score by fixed thresholds (see the module docstring for their meaning). NaN scores 1."""
    edges = np.asarray(thresholds, dtype=float)
    check_bins(len(edges) + 1)
    if np.any(np.diff(edges) <= 0):
        raise InputError(f"thresholds must increase: {list(thresholds)}")
    x = _floats(values)
    k = len(edges) + 1
    if higher_is_better:
        score = 1 + np.searchsorted(edges, x, side="right")
    else:
        score = k - np.searchsorted(edges, x, side="left")
    return np.where(np.isnan(x), 1, score).astype("int64")


def _floats(values: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """Values as a float array (a Series directly: numpy's protocol probing would look
    the names up in a text index of a million customers)."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=float)
    return np.asarray(values, dtype=float)


def check_bins(bins: int) -> None:
    """Refuse a number of scores outside 2..9."""
    if int(bins) != bins or not MIN_BINS <= bins <= MAX_BINS:
        raise InputError(f"bins must be a whole number from {MIN_BINS} to {MAX_BINS}, "
                         f"not {bins}")


def score_rfm(
    measures: pd.DataFrame,
    bins: int = DEFAULT_BINS,
    binning: str = "quantile",
    thresholds: Mapping[str, Sequence[float]] | None = None,
    weights: Sequence[float] | None = None,
) -> RFMResult:
    """Add R, F, M scores, the cell code ``RFM`` ("545", categorical), ``score``
    (R + F + M) and, with ``weights`` (e.g. 100, 10, 1), ``weighted`` (R*w1 + F*w2 + M*w3)."""
    if binning not in BINNINGS:
        raise InputError(f"binning must be one of {', '.join(BINNINGS)}, not {binning!r}")
    check_bins(bins)
    table = measures.copy()
    if binning == "fixed":
        thresholds = dict(thresholds or {})
        missing = [m for m in MEASURES if m not in thresholds]
        if missing:
            raise InputError(f"fixed binning needs thresholds for {', '.join(missing)}")
        for m in MEASURES:
            if len(thresholds[m]) != bins - 1:
                raise InputError(f"{m} needs {bins - 1} thresholds for {bins} scores, "
                                 f"got {len(thresholds[m])}")
            table[SCORE_OF[m]] = fixed_scores(table[m], thresholds[m], m != "recency")
    elif binning == "quantile":
        for m in MEASURES:
            table[SCORE_OF[m]] = shared_tie_scores(table[m], bins, m != "recency")
    else:
        _nested(table, bins)
    r, f, m = (table[c].to_numpy() for c in ("R", "F", "M"))
    codes, cells = pd.factorize(r * 100 + f * 10 + m, sort=True)
    table["RFM"] = pd.Categorical.from_codes(codes, categories=cells.astype(str))
    table["score"] = r + f + m
    if weights is not None:
        w = [float(v) for v in weights]
        if len(w) != 3:
            raise InputError(f"weights must be three numbers (R, F, M), got {len(w)}")
        table["weighted"] = r * w[0] + f * w[1] + m * w[2]
    return RFMResult(table, _thresholds(table, binning, thresholds, bins), bins, binning)


def _nested(table: pd.DataFrame, bins: int) -> None:
    table["R"] = shared_tie_scores(table["recency"], bins, higher_is_better=False)
    table["F"] = table.groupby("R", sort=False)["frequency"].transform(
        lambda s: shared_tie_scores(s.to_numpy(), bins)).astype("int64")
    table["M"] = table.groupby(["R", "F"], sort=False)["monetary"].transform(
        lambda s: shared_tie_scores(s.to_numpy(), bins)).astype("int64")


def _thresholds(
    table: pd.DataFrame, binning: str, fixed: Mapping[str, Sequence[float]] | None, bins: int
) -> pd.DataFrame:
    """One row per measure and score: the value range that received it."""
    records = []
    for m in MEASURES:
        col = SCORE_OF[m]
        within = {"recency": [], "frequency": ["R"], "monetary": ["R", "F"]}[m]
        within = within if binning == "nested" else []
        groups = table.groupby(within + [col], sort=True) if within else table.groupby(col)
        stats = groups[m].agg(["min", "max", "size"]).reset_index()
        for rec in stats.to_dict("records"):
            score = int(rec[col])
            lower, upper = rec["min"], rec["max"]
            if binning == "fixed":
                lower, upper = _fixed_bounds(list(fixed[m]), score, bins, m == "recency")
            records.append({
                "measure": m,
                "within": " ".join(f"{w}={int(rec[w])}" for w in within),
                "score": score,
                "lower": lower,
                "upper": upper,
                "customers": int(rec["size"]),
            })
    return pd.DataFrame.from_records(
        records, columns=["measure", "within", "score", "lower", "upper", "customers"])


def _fixed_bounds(edges: list[float], score: int, k: int, lower_is_better: bool):
    """(lower, upper) of a fixed bin; NaN where open-ended. Recency bounds are inclusive
    above, F and M bounds inclusive below."""
    if lower_is_better:
        upper = edges[k - score] if score > 1 else np.nan
        lower = edges[k - score - 1] if score < k else np.nan
        return lower, upper
    lower = edges[score - 2] if score > 1 else np.nan
    upper = edges[score - 1] if score < k else np.nan
    return lower, upper


def heat_map(customers: pd.DataFrame, bins: int, values: str = "value",
             how: str = "mean") -> pd.DataFrame:
    """Per R score (rows, best first) and F score (columns): the mean of ``values`` (the
    customer value by default, the basis every other table uses; empty where no
    customer) or, with ``how="count"``, the number of customers (0 where none)."""
    table = customers.pivot_table(index="R", columns="F", values=values, aggfunc=how,
                                  observed=False)
    table = table.reindex(index=range(bins, 0, -1), columns=range(1, bins + 1))
    return table.fillna(0).astype("int64") if how == "count" else table
