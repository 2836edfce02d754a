"""Segment schemes, ABC tiers, pyramid: hand cases and invariants."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xl_crm.core.errors import InputError
from xl_crm.core.segments import assign_segments, fm_score, load_scheme
from xl_crm.core.tiers import abc_tiers, group_summary, pyramid_tiers, tier_sizes


def scores(rows):
    return pd.DataFrame(rows, columns=["R", "F", "M"])


def test_value8_high_means_above_the_mean_score():
    s = scores([(5, 5, 5), (1, 1, 1), (3, 3, 3), (5, 1, 5), (1, 5, 5), (1, 1, 5)])
    # means: R 16/6 = 2.67, F 16/6 = 2.67, M 24/6 = 4 -> (3, 3, 3) is high R, high F, low M
    out = assign_segments(s).tolist()
    assert out == ["Important value", "General win-back", "General value",
                   "Important development", "Important retention", "Important win-back"]


def test_value8_covers_all_eight_classes():
    combos = list(itertools.product([1, 5], repeat=3))
    out = set(assign_segments(scores(combos)))
    assert len(out) == 8 and "Unclassified" not in out


def test_named_scheme_covers_every_cell_of_the_5x5_grid():
    rows = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    out = assign_segments(scores(rows), "named")
    assert "Unclassified" not in set(out)
    assert set(out) == set(load_scheme("named")["segment"])
    s = scores(rows)
    fm = fm_score(s["F"], s["M"])
    champions = out[(s["R"] >= 4) & (fm >= 4)]
    assert set(champions) == {"Champions"}
    assert out[(s["R"] == 1) & (fm == 1)].unique().tolist() == ["Lost"]


def test_fm_rounds_half_up():
    assert fm_score(np.array([4, 1, 2]), np.array([5, 2, 2])).tolist() == [5, 2, 2]


def test_user_scheme_as_a_table_first_match_wins():
    table = [["segment", "R", "F"], ["Best", "5", "4-5"], ["Recent", "4-5", "*"]]
    out = assign_segments(scores([(5, 5, 1), (5, 1, 1), (1, 1, 1)]), table).tolist()
    assert out == ["Best", "Recent", "Unclassified"]
    with pytest.raises(InputError, match="scheme R row 2: 'five' is not a condition"):
        assign_segments(scores([(5, 5, 5)]), [["segment", "R"], ["x", "five"]])
    with pytest.raises(InputError, match="unknown scheme"):
        assign_segments(scores([(5, 5, 5)]), "rfm11")


def test_abc_by_hand():
    # values 40, 40, 15, 5 -> cumulative 40%, 80%, 95%, 100% -> A A B C
    v = pd.Series([15.0, 40.0, 5.0, 40.0], index=["c", "b", "d", "a"])
    out = abc_tiers(v)
    assert out["customer"].tolist() == ["a", "b", "c", "d"]  # ties by customer id
    assert out["tier"].tolist() == ["A", "A", "B", "C"]
    assert out["cumulative_share"].tolist() == pytest.approx([0.4, 0.8, 0.95, 1.0])


def test_abc_first_customer_is_a_and_non_positive_values_are_c():
    v = pd.Series([90.0, 10.0, 0.0, -5.0], index=["w", "x", "y", "z"])
    # 90% > 80% but the first is A; 90% + 10% = 100% > 95% -> C
    assert abc_tiers(v)["tier"].tolist() == ["A", "C", "C", "C"]
    assert abc_tiers(pd.Series([0.0, -1.0], index=["a", "b"]))["tier"].tolist() == ["C", "C"]


def test_abc_boundary_survives_float_noise():
    # 0.1 + 0.7 is 0.7999999999999999 in binary; the cut-off 0.8 must still include it
    v = pd.Series([0.7, 0.1, 0.1, 0.1], index=["a", "b", "c", "d"])
    assert abc_tiers(v)["tier"].tolist() == ["A", "A", "B", "C"]


def test_numeric_ids_tie_break_numerically():
    v = pd.Series([5.0, 5.0, 5.0], index=["10", "9", "100"])
    assert abc_tiers(v)["customer"].tolist() == ["9", "10", "100"]


@pytest.mark.parametrize("n,expected", [
    (1, [1, 0, 0, 0]), (10, [1, 1, 2, 6]), (100, [1, 4, 15, 80]), (101, [2, 5, 16, 78]),
    (3000, [30, 120, 450, 2400]),
])
def test_pyramid_sizes_ceil_from_the_top(n, expected):
    assert tier_sizes(n) == expected


def test_pyramid_tiers_and_shares_validation():
    v = pd.Series(np.arange(10, 0, -1, dtype=float), index=[f"c{i}" for i in range(10)])
    assert pyramid_tiers(v)["tier"].tolist() == ["VIP", "Major"] + ["Ordinary"] * 2 + \
        ["Small"] * 6
    with pytest.raises(InputError, match="sum to at most 1"):
        tier_sizes(10, (0.5, 0.6))


@given(st.lists(st.floats(-1e4, 1e5, allow_nan=False).map(lambda x: round(x, 2)),
                min_size=1, max_size=300))
def test_tier_invariants(values):
    v = pd.Series(values, index=[f"c{i:04d}" for i in range(len(values))])
    abc = abc_tiers(v)
    assert sorted(abc["customer"]) == sorted(v.index)  # everyone exactly once
    assert abc["value"].is_monotonic_decreasing
    assert abc["tier"].iloc[0] == ("A" if abc["value"].iloc[0] > 0 else "C")
    assert (abc.loc[abc["value"] <= 0, "tier"] == "C").all()
    tiers = abc["tier"].tolist()
    assert tiers == sorted(tiers)  # A before B before C
    summary = group_summary(abc["tier"], abc["value"], ["A", "B", "C"])
    assert summary["customers"].sum() == len(v)
    assert summary["value"].sum() == pytest.approx(v.sum(), abs=1e-6)
    pyr = pyramid_tiers(v)
    assert sorted(pyr["customer"]) == sorted(v.index)
    assert pyr["tier"].value_counts().reindex(["VIP", "Major", "Ordinary", "Small"],
                                              fill_value=0).tolist() == tier_sizes(len(v))


def test_named_scheme_needs_five_scores():
    with pytest.raises(InputError, match="use bins=5"):
        assign_segments(scores([(3, 3, 3)]), "named", bins=3)


@given(st.lists(st.tuples(st.text("abZé 中-", min_size=1, max_size=8), st.integers(-3, 3)),
                min_size=1, max_size=60, unique_by=lambda p: p[0]),
       st.sampled_from(["short", "long", "in text order", "ranked"]))
def test_rank_order_is_value_descending_then_id_ascending(pairs, ids_are):
    from xl_crm.core.tiers import rank_order

    if ids_are == "in text order":
        pairs = sorted(pairs)
    if ids_are == "ranked":  # as the DuckDB engine returns them: checked, not sorted
        pairs = sorted(pairs, key=lambda p: (-p[1], p[0]))
    ids = [i * 20 if ids_are == "long" else i for i, _ in pairs]  # long: the other key path
    values = np.array([v for _, v in pairs], dtype=float)
    expected = sorted(range(len(ids)), key=lambda k: (-values[k], ids[k]))
    assert rank_order(pd.Index(ids, dtype=object), values).tolist() == expected


def test_label_columns_are_categorical_with_every_label():
    v = pd.Series([8.0, 1.0, 0.5, -1.0], index=["a", "b", "c", "d"])
    abc = abc_tiers(v)["tier"]  # cumulative shares 0.84 (first: A), 0.95, 1, 1
    assert list(abc.cat.categories) == ["A", "B", "C"]
    assert abc.tolist() == ["A", "B", "C", "C"]
    pyr = pyramid_tiers(v)["tier"]
    assert list(pyr.cat.categories) == ["VIP", "Major", "Ordinary", "Small"]
    with pytest.raises(InputError, match="must differ"):
        pyramid_tiers(v, names=["Top", "Top", "Mid", "Low"])
    own = [["segment", "R"], ["Unclassified", "5"], ["Rest", "1-4"]]
    seg = assign_segments(scores([(5, 1, 1), (2, 2, 2)]), own)
    assert seg.tolist() == ["Unclassified", "Rest"]
    assert list(seg.cat.categories) == ["Unclassified", "Rest"]  # each label once


def test_rank_order_breaks_ties_of_infinite_values_by_id():
    from xl_crm.core.tiers import rank_order

    ids = pd.Index(["b", "a", "c"], dtype=object)
    assert rank_order(ids, np.array([np.inf, np.inf, 1.0])).tolist() == [1, 0, 2]
    assert rank_order(ids, np.array([-np.inf, -np.inf, np.nan])).tolist() == [1, 0, 2]


def test_group_summary_of_categorical_labels_lists_only_present_labels_beyond_order():
    labels = pd.Series(pd.Categorical(["x", "x", "z"], categories=["x", "y", "z", "w"]))
    out = group_summary(labels, pd.Series([1.0, 2.0, 3.0]))
    assert out["label"].tolist() == ["x", "z"] and out["customers"].tolist() == [2, 1]
    out = group_summary(labels, pd.Series([1.0, 2.0, 3.0]), ["w", "x"])
    assert out["label"].tolist() == ["w", "x", "z"] and out["value"].tolist() == [0, 3, 3]
