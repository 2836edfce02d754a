"""CLV: Dwyer tables against published worked examples, closed form, migration model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from xl_crm.core.clv import (
    dwyer_table,
    measure_dwyer_inputs,
    measure_repurchase,
    migration_values,
    retention_clv,
)
from xl_crm.core.errors import InputError
from xl_crm.core.sales import sales_from_rows


def test_hughes_lifetime_value_table():
    """Arthur Hughes, "Lifetime value" (dbmarketing.com/articles/Art251a.htm), 3 years.

    100,000 customers; retention 60/70/80%; orders 1.8/2.5/3; order size $90/95/100;
    costs 70/65/65%; acquisition/marketing cost per customer $55/20/20; interest 8% with
    risk factor 2 (discount 1, 1.16, 1.35). Printed rows are compared to the dollar.
    """
    t = dwyer_table(100_000, [0.6, 0.7, 0.8], [1.8, 2.5, 3], [90, 95, 100],
                    [0.7, 0.65, 0.65], marketing_costs=[55, 20, 20], interest=0.08, risk=2,
                    years=3)
    printed = {
        "Customers": [100_000, 60_000, 42_000],
        "Revenue": [16_200_000, 14_250_000, 12_600_000],
        "Cost of sales": [11_340_000, 9_262_500, 8_190_000],
        "Marketing cost": [5_500_000, 1_200_000, 840_000],
        "Total costs": [16_840_000, 10_462_500, 9_030_000],
        "Gross profit": [-640_000, 3_787_500, 3_570_000],
    }
    for row, values in printed.items():
        assert t.loc[row].tolist() == pytest.approx(values, abs=0.5), row
    # NPV years 1-2 as printed ($-640,000, $3,265,086); year 3 is printed as 2,644,444
    # because the article divides by the rounded 1.35; the exact factor is 1.16^2 = 1.3456.
    assert t.loc["NPV of profit"].iloc[:2].tolist() == pytest.approx([-640_000, 3_265_086],
                                                                     abs=0.5)
    assert t.loc["Discount factor"].tolist() == pytest.approx([1, 1.16, 1.3456])
    assert round(3_570_000 / 1.35) == 2_644_444  # the printed figure, from the rounded factor
    assert t.loc["NPV of profit"].iloc[2] == pytest.approx(3_570_000 / 1.3456)
    assert t.loc["Lifetime value per customer"].iloc[:2].tolist() == pytest.approx(
        [-6.40, 26.25], abs=0.005)  # printed ($6) and $26


def test_hughes_calculator_with_referrals_several_costs_and_payment_delay():
    """The "Special LTV Calculator" in Hughes' style (scribd.com/document/338386335).

    200,000 customers; retention 60/70/80%; referral 1/2/3%; orders 1.1/1.2/1.3;
    order size $90/100/120; cost 60/58/57%; acquisition $32; marketing $3/10/10,
    special program $2, database $4 per customer; referral incentive $15; interest 6%,
    risk 1.6, payment delay 30 days. Every printed figure is matched to the dollar.
    """
    t = dwyer_table(
        200_000, [0.6, 0.7, 0.8], [1.1, 1.2, 1.3], [90, 100, 120], [0.6, 0.58, 0.57],
        acquisition_cost=32,
        marketing_costs={"Marketing cost": [3, 10, 10], "Special program cost": 2,
                         "Database cost": 4},
        interest=0.06, risk=1.6, years=3, referral=[0.01, 0.02, 0.03], referral_incentive=15,
        delay_days=30)
    printed = {
        "Retained customers": [200_000, 121_200, 86_537],
        "Referred customers": [2_000, 2_424, 2_596],
        "Customers": [202_000, 123_624, 89_133],
        "Revenue": [19_998_000, 14_834_880, 13_904_733],
        "Cost of sales": [11_998_800, 8_604_230, 7_925_698],
        "Acquisition cost": [6_400_000, 0, 0],
        "Marketing cost": [606_000, 1_236_240, 891_329],
        "Special program cost": [404_000, 247_248, 178_266],
        "Database cost": [808_000, 494_496, 356_532],
        "Referral incentive": [30_000, 36_360, 38_942],
        "Total costs": [20_246_800, 10_618_574, 9_390_766],
        "Gross profit": [-248_800, 4_216_306, 4_513_967],
        "NPV of profit": [-246_933, 3_818_119, 3_729_625],
        "Cumulative NPV": [-246_933, 3_571_186, 7_300_811],
    }
    for row, values in printed.items():
        assert t.loc[row].tolist() == pytest.approx(values, abs=1.0), row
    assert t.loc["Discount factor"].round(2).tolist() == [1.01, 1.10, 1.21]
    assert t.loc["Lifetime value per customer"].tolist() == pytest.approx(
        [-1.23, 17.86, 36.50], abs=0.005)


def test_dwyer_single_values_and_length_errors():
    t = dwyer_table(10, 0.5, 2, 100, 0.5, years=2)
    # year 1: 10 customers x 2 x 100 = 2000 revenue, 1000 profit; year 2: 5 customers
    assert t.loc["Revenue"].tolist() == [2000, 1000]
    assert t.loc["Lifetime value per customer"].tolist() == [100, 150]
    with pytest.raises(InputError, match="retention: has 3 values for 5 years"):
        dwyer_table(10, [0.5, 0.6, 0.7], 2, 100, 0.5, years=5)
    with pytest.raises(InputError, match="retention: must be fractions"):
        dwyer_table(10, 60, 2, 100, 0.5)
    with pytest.raises(InputError, match="retention: has an empty or non-finite value"):
        dwyer_table(10, float("nan"), 2, 100, 0.5)
    with pytest.raises(InputError, match="customers: must be a number"):
        dwyer_table(float("nan"), 0.5, 2, 100, 0.5)
    with pytest.raises(InputError, match="margin: must be a number"):
        retention_clv(float("nan"), 0.5, 0.1)


@pytest.mark.parametrize("r,i,multiple", [
    # margin multiple r / (1 + i - r) (Gupta & Lehmann 2003, "Customers as Assets");
    # computed by hand: 0.6/0.5, 0.8/0.32, 0.9/0.2, 0.7/0.44
    (0.6, 0.10, 1.2), (0.8, 0.12, 2.5), (0.9, 0.10, 4.5), (0.7, 0.14, 0.7 / 0.44),
])
def test_retention_clv_margin_multiples(r, i, multiple):
    assert retention_clv(1.0, r, i) == pytest.approx(multiple)


def test_retention_clv_finite_sum_approaches_infinite():
    # 2 years, m = 100, r = 0.5, d = 0: 100 * (0.5 + 0.25) = 75
    assert retention_clv(100, 0.5, 0.0, years=2) == pytest.approx(75)
    assert retention_clv(100, 0.8, 0.1, years=500) == pytest.approx(retention_clv(100, 0.8, 0.1))
    with pytest.raises(InputError, match="diverges"):
        retention_clv(100, 1.0, 0.0)


def test_migration_model_pfeifer_carraway_example():
    """Pfeifer & Carraway (2000): p = 0.30, 0.20, 0.15, 0.05; margin 40, mailing 4 per
    period in states 1-4, d = 0.2. V = (I - P/1.2)^-1 R computed by hand (numpy solve on
    the 5x5 matrix) gives 52.32, 5.55, 1.25, -1.82."""
    v = migration_values([0.3, 0.2, 0.15, 0.05], margin=40, discount=0.2, cost=4)
    assert v.round(2).tolist() == [52.32, 5.55, 1.25, -1.82]


def test_migration_model_two_states_by_hand():
    # p = (0.5, 0): V2 = 0 (never buys again); V1 = 10 + 0.5/1.1 * V1 + 0.5/1.1 * 0
    # -> V1 = 10 / (1 - 0.5/1.1) = 18.333...
    assert migration_values([0.5, 0.0], 10, 0.1).tolist() == pytest.approx([18.3333333, 0])
    # one period only: just the current reward
    assert migration_values([0.5, 0.0], 10, 0.1, periods=1).tolist() == [10, 0]
    # and phpOMS' unit-test case: p = .5, .2, .1, 0; margin 100; d = 0.1
    assert migration_values([0.5, 0.2, 0.1, 0], 100, 0.1).round(2).tolist() == \
        [231.08, 57.29, 21.01, 0]


def _tx(rows):
    return sales_from_rows([["Customer", "Date", "Amount", "Cost"]] + rows,
                           today=dt.date(2026, 11, 22)).transactions


def test_repurchase_probabilities_from_two_periods():
    # as_of 2025-12-31, period 90 days -> cut 2025-10-02
    rows = [["a", "2025-09-15", 10, 5], ["a", "2025-11-01", 10, 5],   # state 1, bought again
            ["b", "2025-09-20", 10, 5],                                # state 1, did not
            ["c", "2025-06-01", 10, 5], ["c", "2025-12-01", 10, 5],   # state 2, bought
            ["d", "2025-12-31", 10, 5]]                                # new after the cut
    t = _tx(rows)
    out = measure_repurchase(t, pd.Timestamp("2025-12-31"), 90, 3)
    assert out["customers"].tolist() == [2, 1, 0]
    assert out["probability"].tolist()[:2] == [0.5, 1.0] and np.isnan(out["probability"][2])


def test_dwyer_inputs_measured_and_assumed():
    rows = [["a", "2024-03-01", 100, 60], ["a", "2025-03-01", 100, 60],
            ["a", "2025-06-01", 300, 180], ["b", "2024-05-01", 50, 30],
            ["c", "2023-12-01", 10, 6]]
    t = _tx(rows)
    inputs = measure_dwyer_inputs(t, ["a", "b"], pd.Timestamp("2025-12-01"))
    # previous year (2023-12-02 .. 2024-12-01): a, b bought; last year: a -> retention 1/2
    assert inputs.retention == 0.5 and inputs.sources["retention"] == "measured"
    # last year: a bought twice for 400; per group member (a, b): orders 2 / 2 = 1,
    # order value 400 / 2 = 200, cost 60%: size x orders x value = 400, the group's sales
    assert (inputs.orders, inputs.order_value, inputs.cost_rate) == (1, 200, 0.6)
    assert inputs.group_size == 2 and inputs.sources["interest"] == "assumed"
    given = measure_dwyer_inputs(t, ["a", "b"], pd.Timestamp("2025-12-01"), {"retention": 0.7})
    assert given.retention == 0.7 and given.sources["retention"] == "given"
    short = measure_dwyer_inputs(t[t["date"] > "2025-01-01"], ["a"], pd.Timestamp("2025-12-01"))
    assert short.sources["retention"] == "assumed"
