"""RFM measures and scores: hand-computed cases, every binning, invariants, properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xl_crm.core.errors import InputError
from xl_crm.core.rfm import customer_measures, fixed_scores, score_rfm, shared_tie_scores
from xl_crm.core.sales import sales_from_rows

TODAY = dt.date(2026, 11, 22)


def tx(rows, header=("Customer", "Date", "Amount")):
    return sales_from_rows([list(header)] + [list(r) for r in rows], today=TODAY).transactions


SMALL = [
    # customer, date, amount[, order id]
    ("a", "2025-03-01", 100, "o1"),
    ("a", "2025-03-01", 50, "o1"),      # second line of order o1
    ("a", "2025-03-20", 30, "o2"),
    ("a", "2025-03-25", -10, "o2"),     # return on o2
    ("b", "2025-02-01", 500, "o3"),
    ("c", "2025-03-10", -40, "o4"),     # only a return: kept, frequency 0
    ("d", "2025-03-31", 0.10, "o5"),
    ("d", "2025-03-31", 0.20, "o6"),
    ("e", "2025-04-05", 999, "o7"),     # after as_of: left out and counted
]


def test_measures_by_hand():
    t = tx(SMALL, ("Customer", "Date", "Amount", "Order ID"))
    m = customer_measures(t, as_of="2025-03-31")
    table = m.table
    assert m.after_as_of == 1 and m.after_as_of_rows == (10,)
    assert list(table.index) == ["a", "b", "c", "d"]  # e has only a row after as_of
    # a: last purchase 2025-03-20 -> 11 days; orders o1, o2 -> 2; net 100+50+30-10 = 170
    assert table.loc["a", ["recency", "frequency", "monetary"]].tolist() == [11, 2, 170]
    assert table.loc["a", "returns"] == -10 and table.loc["a", "purchases"] == 180
    # b: 2025-02-01 -> 58 days
    assert table.loc["b", ["recency", "frequency", "monetary"]].tolist() == [58, 1, 500]
    # c: only a return -> kept with frequency 0 and empty recency
    assert np.isnan(table.loc["c", "recency"]) and table.loc["c", "frequency"] == 0
    assert table.loc["c", "monetary"] == -40
    # d: 0.10 + 0.20 is exactly 0.3 after the money rounding
    assert table.loc["d", "monetary"] == 0.3


def test_frequency_counts_rows_without_order_ids_and_default_as_of():
    t = tx([(r[0], r[1], r[2]) for r in SMALL[:-1]])
    m = customer_measures(t)
    assert m.as_of == pd.Timestamp("2025-03-31")  # latest purchase date
    assert m.table.loc["a", "frequency"] == 3  # three rows with amount > 0
    mean = customer_measures(t, monetary="mean").table
    assert mean.loc["a", "monetary"] == pytest.approx(170 / 3)
    assert mean.loc["c", "monetary"] == -40  # frequency 0: net sales itself


def test_shared_tie_scores_by_hand():
    # n = 10, k = 5: score = 1 + floor(5 m / 10), m = customers strictly worse.
    values = [1, 1, 1, 1, 1, 1, 1, 2, 3, 10]
    # the seven 1s: m = 0 -> 1; 2: m = 7 -> 1 + 3 = 4; 3: m = 8 -> 5; 10: m = 9 -> 5
    assert shared_tie_scores(values, 5).tolist() == [1] * 7 + [4, 5, 5]
    # lower is better (recency): 1s are best (m = 3 worse) -> 1 + floor(15/10) = 2
    assert shared_tie_scores(values, 5, higher_is_better=False).tolist() == [2] * 7 + [2, 1, 1]
    # distinct values 1..10 give two customers per score
    assert shared_tie_scores(range(1, 11), 5).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # NaN recency (no purchase) is the worst
    assert shared_tie_scores([np.nan, 5, 1], 3, higher_is_better=False).tolist() == [1, 2, 3]


def test_fixed_thresholds_documented_meaning():
    # F: 1 | 2 | 3-4 | 5-9 | 10+
    assert fixed_scores([0, 1, 2, 3, 4, 5, 9, 10, 50], [2, 3, 5, 10], True).tolist() == \
        [1, 1, 2, 3, 3, 4, 4, 5, 5]
    # R in days: 0-30 -> 5, 31-60 -> 4, 61-90 -> 3, 91-180 -> 2, beyond -> 1, none -> 1
    assert fixed_scores([0, 30, 31, 60, 90, 91, 180, 181, np.nan], [30, 60, 90, 180],
                        False).tolist() == [5, 5, 4, 4, 3, 2, 2, 1, 1]
    with pytest.raises(InputError, match="increase"):
        fixed_scores([1], [3, 2], True)


def test_score_rfm_cell_total_weighted_and_thresholds():
    t = tx([(r[0], r[1], r[2]) for r in SMALL[:-1]])
    table = customer_measures(t).table
    result = score_rfm(table, bins=5, weights=(100, 10, 1))
    out = result.table
    # recency a 11, b 58, d 0, c none -> d best (m=3 -> 1+15//4=4), a (m=2 -> 3), b (m=1 -> 2)
    assert out["R"].tolist() == [3, 2, 1, 4]
    # frequency a 3, b 1, c 0, d 2 -> a m=3 -> 4; d m=2 -> 3; b m=1 -> 2; c -> 1
    assert out["F"].tolist() == [4, 2, 1, 3]
    # monetary a 170, b 500, c -40, d 0.3 -> b 4, a 3, d 2, c 1
    assert out["M"].tolist() == [3, 4, 1, 2]
    assert out["RFM"].tolist() == ["343", "224", "111", "432"]
    assert out["score"].tolist() == [10, 8, 3, 9]
    assert out["weighted"].tolist() == [343, 224, 111, 432]
    th = result.thresholds.set_index(["measure", "score"])
    assert th.loc[("monetary", 4), ["lower", "upper", "customers"]].tolist() == [500, 500, 1]


def test_nested_binning_scores_f_within_r():
    table = pd.DataFrame({
        "recency": [1, 1, 1, 1, 9, 9, 9, 9],
        "frequency": [1, 2, 3, 4, 10, 20, 30, 40],
        "monetary": [5, 5, 5, 5, 5, 5, 5, 5],
    }, index=list("abcdefgh"))
    quantile = score_rfm(table, bins=2).table
    nested = score_rfm(table, bins=2, binning="nested").table
    assert quantile["F"].tolist() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert nested["F"].tolist() == [1, 1, 2, 2, 1, 1, 2, 2]  # ranked within each R score
    th = score_rfm(table, bins=2, binning="nested").thresholds
    assert set(th.loc[th["measure"] == "frequency", "within"]) == {"R=1", "R=2"}


def test_fixed_binning_returns_its_thresholds():
    table = pd.DataFrame({"recency": [5, 100], "frequency": [1, 12], "monetary": [10, 5000]},
                         index=["x", "y"])
    fixed = {"recency": [30, 60, 90, 180], "frequency": [2, 3, 5, 10],
             "monetary": [100, 500, 1000, 2000]}
    result = score_rfm(table, binning="fixed", thresholds=fixed)
    assert result.table["RFM"].tolist() == ["511", "255"]
    th = result.thresholds.set_index(["measure", "score"])
    assert th.loc[("recency", 5), "upper"] == 30 and np.isnan(th.loc[("recency", 5), "lower"])
    with pytest.raises(InputError, match="needs 4 thresholds"):
        score_rfm(table, binning="fixed", thresholds={**fixed, "frequency": [1, 2]})


@pytest.mark.parametrize("bins", [1, 10, 2.5])
def test_bins_outside_2_to_9_are_refused(bins):
    with pytest.raises(InputError, match="bins"):
        shared_tie_scores([1, 2], bins)


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.none(), min_size=1, max_size=200),
       st.integers(2, 9), st.booleans())
def test_scores_are_within_range_monotone_and_ties_share(values, k, higher):
    x = np.array([np.nan if v is None else v for v in values])
    s = shared_tie_scores(x, k, higher)
    assert s.min() >= 1 and s.max() <= k
    key = np.where(np.isnan(x), -np.inf, x if higher else -x)
    for i in range(len(x)):
        for j in range(len(x)):
            if key[i] == key[j]:
                assert s[i] == s[j]
            elif key[i] < key[j]:
                assert s[i] <= s[j]


@given(st.lists(st.integers(-3, 40) | st.none() | st.sampled_from([0.5, 1e9, np.inf]),
                min_size=1, max_size=120), st.integers(2, 9), st.booleans())
def test_scores_follow_the_definition_for_whole_numbers_and_others(values, k, higher):
    # whole numbers in a narrow range are scored by counting, others by sorting: both must
    # give 1 + floor(k * m / n), m = number of customers strictly worse (NaN the worst)
    x = np.array([np.nan if v is None else v for v in values], dtype=float)
    key = np.where(np.isnan(x), -np.inf, x if higher else -x)
    worse = np.array([(key < key[i]).sum() for i in range(len(x))])
    assert shared_tie_scores(x, k, higher).tolist() == (1 + k * worse // len(x)).tolist()


@given(st.lists(st.integers(0, 400), min_size=1, max_size=100))
def test_fixed_scores_are_monotone(values):
    s = fixed_scores(values, [30, 60, 90, 180], higher_is_better=False)
    order = np.argsort(values, kind="stable")
    assert (np.diff(s[order]) <= 0).all() and s.min() >= 1 and s.max() <= 5
