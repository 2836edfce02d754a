"""Lifecycle stages, value matrix, strategy catalogue coverage, full-analysis invariants."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from xl_crm.core.analysis import Options, analyze
from xl_crm.core.errors import InputError
from xl_crm.core.facts import customer_facts
from xl_crm.core.lifecycle import STAGES, assign_stages
from xl_crm.core.matrix import QUADRANTS, assign_quadrants
from xl_crm.core.sales import sales_from_rows
from xl_crm.core.segments import scheme_labels
from xl_crm.core.strategy import catalogue, recommend
from xl_crm.core.tiers import ABC_TIERS, PYRAMID_TIERS

TODAY = dt.date(2026, 11, 22)


def sales(rows):
    return sales_from_rows([["Customer", "Date", "Amount"]] + rows, today=TODAY)


def value_matrix(transactions, as_of=None):
    """The quadrants as the analysis computes them: from the customer facts."""
    t = customer_facts(transactions, as_of).table
    return assign_quadrants(t["current_value"], t["recent"] - t["earlier"])


# Window 2025-01-01 .. 2025-12-31 (as_of), halves split at 2025-07-02.
LIFECYCLE = [
    ["new", "2025-12-01", 50],                                            # first buy 30 days ago
    ["grow", "2025-02-01", 10], ["grow", "2025-09-01", 30], ["grow", "2025-12-20", 40],
    ["steady", "2025-03-01", 20], ["steady", "2025-06-01", 20], ["steady", "2025-09-01", 20],
    ["steady", "2025-12-01", 20],
    ["fall", "2025-02-01", 100], ["fall", "2025-05-01", 100], ["fall", "2025-11-20", 20],
    ["gone", "2025-01-01", 100], ["gone", "2025-02-01", 100],             # 333 days ago
    ["late", "2025-06-01", 10], ["late", "2025-06-15", 10], ["late", "2025-06-30", 10],
    ["late", "2025-10-01", 30],                                           # gap ~15 d, 91 d late
    ["once", "2025-08-01", 40],                                           # single buy, in trial
    ["refund", "2025-03-01", -5],                                         # only a return
    ["anchor", "2025-01-01", 1], ["anchor", "2025-12-31", 1],
]


def test_lifecycle_stages_by_hand():
    s = sales(LIFECYCLE)
    f = customer_facts(s.transactions)
    stages = assign_stages(f.table, f.as_of)["stage"]
    assert stages.to_dict() == {
        "new": "Acquisition", "grow": "Growth", "steady": "Maturity", "fall": "Decline",
        "gone": "Lost", "late": "Decline", "once": "Acquisition", "refund": "Lost",
        # anchor bought on the first and last day: 364-day gap, recent = earlier spend
        "anchor": "Maturity",
    }


def test_value_matrix_by_hand():
    s = sales([["a", "2025-01-10", 100], ["a", "2025-12-10", 300],    # current 400, +200
               ["b", "2025-01-10", 500], ["b", "2025-12-10", 100],    # current 600, -400
               ["c", "2025-12-10", 50],                               # current 50, +50
               ["d", "2025-01-10", 10]])                              # current 10, -10
    frame, cuts = value_matrix(s.transactions)
    assert cuts["current_threshold"] == pytest.approx(265)  # mean of 400, 600, 50, 10
    assert frame["quadrant"].to_dict() == {"a": "Value", "b": "Sub-value",
                                           "c": "Potential value", "d": "Low value"}


def test_every_label_the_methods_emit_has_a_strategy_in_both_languages():
    labels = {("abc", t) for t in ABC_TIERS} | {("pyramid", t) for t in PYRAMID_TIERS}
    labels |= {("value8", s) for s in scheme_labels("value8")[:-1]}
    labels |= {("named", s) for s in scheme_labels("named")[:-1]}
    labels |= {("lifecycle", s) for s in STAGES} | {("matrix", q) for q in QUADRANTS}
    labels |= {("fallback", "Unclassified")}
    cat = catalogue()
    for kind, label in labels:
        for lang in ("en", "zh"):
            rec = recommend(label, lang, kind)
            assert rec.label == label and rec.goal and len(rec.actions) >= 3, (kind, label)
    assert set(zip(cat["kind"], cat["label"])) == labels  # nothing orphaned either


def test_strategy_lookup_by_chinese_name_and_kind_prefix():
    assert recommend("重要价值客户").label == "Important value"
    assert recommend("lost").kind == "named"
    assert recommend("lifecycle:Lost", "zh").name == "流失"
    assert "Goal:" in recommend("VIP").text() and "目标" in recommend("VIP", "zh").text()
    with pytest.raises(InputError, match="'Gold' is not a tier"):
        recommend("Gold")


def test_full_analysis_invariants_on_the_sample(sample_analysis, sample_sales):
    a = sample_analysis
    c = a.customers
    assert c["customer"].is_unique
    assert set(c["customer"]) == set(sample_sales.transactions["customer"])
    for key in ("abc", "pyramid", "segment", "stage", "quadrant"):
        summary = a.summaries[key]
        # the value matrix sums the value of the last 365 days, which defines it
        total = c["current_value" if key == "quadrant" else "value"].sum()
        assert summary["customers"].sum() == len(c), key
        assert summary["value"].sum() == pytest.approx(total, abs=0.01), key
        assert summary["value_share"].sum() == pytest.approx(1.0)
    # the three customers with only returns are kept: frequency 0, R = F = 1
    only_returns = c[c["frequency"] == 0]
    assert len(only_returns) == 3
    assert (only_returns[["R", "F"]] == 1).all().all()
    assert only_returns["recency"].isna().all()
    # value is profit (the sample has a cost column) and equals net sales - cost
    assert a.value_basis == "profit"
    assert (c["value"] - (c["net_sales"] - c["cost"])).abs().max() < 1e-6
    assert c["abc_rank"].tolist() == list(range(1, len(c) + 1))
    # cut-offs hold: every A customer's cumulative share is <= 80%
    assert c.loc[c["abc_tier"] == "A", "abc_cumulative_share"].max() <= 0.8 + 1e-12
    assert set(a.clv) == {"A", "B", "C"}
    assert a.log["rows_read"] == 36546 and a.log["as_of"] == "2026-10-31"


def test_analysis_logs_rows_after_as_of():
    s = sales([["a", "2025-01-01", 10], ["a", "2025-03-01", 10], ["b", "2025-02-01", 5]])
    a = analyze(s, Options(as_of="2025-02-15"))
    assert a.log["rows_after_as_of"] == 1 and a.log["rows_after_as_of_first"] == [3]
    assert a.customers.set_index("customer").loc["a", "frequency"] == 1
    assert not np.isnan(a.customers["recency"]).any()
    with pytest.raises(InputError, match="clv_group"):
        analyze(s, Options(clv_group="colour"))


def test_analysis_without_cost_uses_net_sales_and_says_so():
    s = sales([["a", "2025-01-01", 10], ["b", "2025-02-01", 5]])
    a = analyze(s)
    assert a.value_basis == "net sales"
    assert a.clv["A"].sources["cost_rate"].startswith("assumed")
    assert pd.Series(a.customers["value"]).tolist() == [10, 5]


def test_only_returns_is_never_a_high_value_customer():
    # values: mean current value is negative (-5 and -1): the threshold stays at 0
    s = sales([["a", "2025-12-01", -5], ["b", "2025-12-02", -1], ["c", "2025-12-03", 0]])
    frame, cuts = value_matrix(s.transactions, as_of="2025-12-31")
    assert cuts["current_threshold"] == 0
    assert not set(frame["quadrant"]) & {"Value", "Sub-value"}  # no high current value
