"""Change since the previous period, next actions and the decision views (shared/domain.md
sections 7 and 8), on hand-built sales with known answers, for both engines."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_crm import decisions
from xl_crm.core.actions import load_actions
from xl_crm.core.analysis import Options
from xl_crm.core.changes import previous_period_end
from xl_crm.core.errors import InputError
from xl_crm.engines import analyze_path

TODAY = dt.date(2026, 11, 30)
ENGINES = ("pandas", "duckdb")


def write(tmp_path, rows, name="sales.csv"):
    path = tmp_path / name
    pd.DataFrame(rows, columns=["Customer", "Date", "Amount", "Sales Rep", "Region"]).to_csv(
        path, index=False)
    return path


@pytest.mark.parametrize(("as_of", "period", "expected"), [
    ("2026-10-31", "month", "2026-09-30"),
    ("2026-10-15", "month", "2026-09-30"),
    ("2026-03-01", "month", "2026-02-28"),
    ("2024-03-31", "month", "2024-02-29"),  # leap year
    ("2026-01-05", "month", "2025-12-31"),  # across a year
    ("2026-10-31", "week", "2026-10-24"),
])
def test_previous_period_end(as_of, period, expected):
    assert previous_period_end(pd.Timestamp(as_of), period) == pd.Timestamp(expected)
    assert previous_period_end(pd.Timestamp(as_of), "none") is None


@pytest.mark.parametrize("engine", ENGINES)
def test_a_known_migration_gives_a_known_matrix(tmp_path, engine):
    """Previous (2026-09-30): a 800, b 150, c 50 of 1,000, cumulative shares 0.80, 0.95,
    1.00: A, B, C. Now (2026-10-31) c bought 2,000 and d is new with 10 of 3,010: c 0.681
    A, a 0.947 B, b 0.997 C, d C."""
    path = write(tmp_path, [
        ("a", "2026-09-01", 800, "Ann", "North"), ("b", "2026-09-02", 150, "Bo", "South"),
        ("c", "2026-09-03", 50, "Cy", "East"), ("c", "2026-10-20", 2000, "Cy", "East"),
        ("d", "2026-10-31", 10, "Di", "West")])
    a = analyze_path(path, engine=engine, today=TODAY)
    assert a.changes.previous_as_of == pd.Timestamp("2026-09-30")
    expected = pd.DataFrame([[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1]],
                            index=pd.Index(["A", "B", "C", "new"], name="previous"),
                            columns=pd.Index(["A", "B", "C"], name="current"))
    pd.testing.assert_frame_equal(a.changes.abc, expected, check_dtype=False)
    values = a.changes.values["abc"]
    assert values.loc["C", "A"] == 2050 and values.loc["new", "C"] == 10
    movers = {(r.kind, r.customer) for r in a.changes.movers.itertuples()}
    assert movers == {("entered_A", "c"), ("left_A", "a"), ("new", "d"),
                      ("entered_VIP", "c"), ("left_VIP", "a")}  # the top customer is VIP
    deltas = a.changes.deltas.set_index("figure")
    assert deltas.loc["customers", "previous"] == 3 and deltas.loc["customers", "current"] == 4
    assert deltas.loc["value_A", "change"] == 2050 - 800
    assert deltas.loc["value_A", "change_share"] == pytest.approx(1250 / 800)
    # retention assumed in both runs (two months of data): the lifetime values compare
    assert not np.isnan(deltas.loc["clv_A", "previous"])
    assert a.customers.set_index("customer").loc["c", "rep"] == "Cy"


def lost_this_month() -> list[tuple]:
    """``big`` bought 5,000 three times, last on 2026-04-20: 163 days before the previous
    period end (not lost), 194 days before as_of 2026-10-31 (lost, > 180); 20 small
    customers buy every month."""
    rows = [("big", d, 5000, "Ann", "North") for d in ("2025-12-01", "2026-02-01",
                                                       "2026-04-20")]
    for i in range(20):
        for month in range(1, 11):
            rows.append((f"s{i:02d}", f"2026-{month:02d}-{10 + i % 15:02d}", 100 + i, "Bo",
                         "South"))
    rows.append(("s00", "2026-10-31", 100, "Bo", "South"))
    return rows


@pytest.mark.parametrize("engine", ENGINES)
def test_a_customer_lost_this_month_comes_first_in_the_action_list(tmp_path, engine):
    path = write(tmp_path, lost_this_month())
    a = analyze_path(path, engine=engine, today=TODAY)
    big = a.customers.set_index("customer").loc["big"]
    assert (big["stage"], big["abc_tier"], big["action"], big["priority"]) == \
        ("Lost", "A", "a-became-lost", 1)
    assert big["value_at_risk"] == 15000  # its value of the last 365 days, at risk
    assert a.changes.previous.loc[a.customers["customer"] == "big", "stage"].item() != "Lost"
    rows = decisions.action_list(a, "en")
    header = decisions.action_header("en")
    first = dict(zip(header, rows[0]))
    assert first["Customer"] == "big" and first["Priority"] == 1
    assert first["Sales rep"] == "Ann" and first["Region"] == "North"
    assert first["Days since"] == 194 and first["Value at risk"] == 15000
    assert first["Action"].startswith("Win back now")
    assert "194 days without a purchase" in first["Reason"]
    zh = dict(zip(decisions.action_header("zh"), decisions.action_list(a, "zh", limit=1)[0]))
    assert zh["行动"].startswith("立即挽回") and "194天" in zh["原因"]
    assert ("became_lost", "big") in {(r.kind, r.customer) for r in a.changes.movers.itertuples()}


def test_the_action_list_is_ordered_by_priority_then_value_at_risk_then_value(sample_analysis):
    a = sample_analysis
    rows = decisions.action_list(a, "en")
    assert len(rows) == decisions.action_count(a) > 0
    at_risk = decisions.ACTION_COLUMNS.index("value_at_risk")
    keys = [(r[0], -r[at_risk]) for r in rows]
    # value (the customer's full value, not a column here) breaks the remaining ties
    assert keys == sorted(keys)
    assert {r[0] for r in rows} <= {1, 2}


def test_views_invariants_on_the_sample(sample_analysis):
    a, c = sample_analysis, sample_analysis.customers
    # value at risk: the current value of customers in Decline or Lost, else 0
    risky = c["stage"].isin(["Decline", "Lost"])
    assert np.allclose(c["value_at_risk"], np.where(risky, c["current_value"].clip(lower=0), 0))
    for key in ("abc", "pyramid", "segment", "stage"):
        m = getattr(a.changes, key)
        assert m.to_numpy().sum() == len(c)  # every customer in exactly one cell
        column = {"abc": "abc_tier", "pyramid": "pyramid_tier"}.get(key, key)
        now = c[column].value_counts()
        assert all(m[label].sum() == now.get(label, 0) for label in m.columns)
        assert a.changes.values[key].to_numpy().sum() == pytest.approx(c["value"].sum())
    # stage overrides segment: no lost customer is told to keep buying as usual
    lost = c[c["stage"] == "Lost"]
    assert not lost["action"].isin(["a-keep", "b-keep", "standard"]).any()
    assert (c["priority"] >= 1).all() and (c["action"] != "(none)").all()
    figures = {f.name: f for f in decisions.headline_figures(a)}
    assert figures["customers"].current == len(c)
    assert figures["value_at_risk"].current == pytest.approx(c["value_at_risk"].sum())
    assert figures["vips_at_risk"].current == ((c["pyramid_tier"] == "VIP") & risky).sum()
    assert figures["active_customers"].current == (c["recency"] < 90).sum()
    clv_a = a.clv["A"].table().loc["Lifetime value per customer"].iloc[-1]
    assert figures["clv_A"].current == pytest.approx(clv_a) and figures["clv_A"].money
    # at 2026-09-30 the data covered 23 months: retention assumed then, measured now, so
    # the two lifetime values are not compared
    assert a.clv["A"].sources["retention"] != "assumed"
    assert (figures["clv_A"].previous, figures["clv_A"].change) == (None, None)
    assert decisions.data_window(a) == "24 months of data, 2024-11-01 to 2026-10-31"


def test_no_comparison_when_switched_off_or_without_an_earlier_period(tmp_path):
    path = write(tmp_path, [("a", "2026-10-03", 100, "", ""), ("b", "2026-10-20", 50, "", "")])
    a = analyze_path(path, today=TODAY)
    assert a.changes is None
    assert "after the previous period end 2026-09-30" in a.log["changes_note"]
    assert decisions.migration_table(a, "abc") is None
    assert decisions.comparison_note(a) == ("No change figures: the data starts on 2026-10-03 "
                                            "and holds no earlier period")
    assert all(f.previous is None for f in decisions.headline_figures(a))
    off = analyze_path(path, Options(compare="none"), today=TODAY)
    assert off.changes is None and decisions.comparison_note(off).startswith("No comparison")
    # without a previous period, a rule on the previous stage matches nobody
    assert "a-became-lost" not in set(a.customers["action"])


def test_a_weekly_comparison(tmp_path):
    path = write(tmp_path, [("a", "2026-10-20", 100, "", ""), ("b", "2026-10-29", 50, "", "")])
    a = analyze_path(path, Options(compare="week"), today=TODAY)
    assert a.changes.previous_as_of == pd.Timestamp("2026-10-22")
    assert a.changes.abc.loc["new"].sum() == 1  # b bought after 2026-10-22


@pytest.mark.parametrize(("rows", "message"), [
    ([["rule", "priority"]], "actions: an action table needs a header row and at least one rule"),
    ([["rule", "stage", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
      ["x", "Asleep", "1", "a", "b", "c", "d"]],
     ("actions stage row 2: 'Asleep' is not a condition on stage (use Acquisition, Growth, "
      "Maturity, Decline, Lost)")),
    ([["rule", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
      ["x", "0", "a", "b", "c", "d"]], "actions priority row 2: '0' is not a priority from 1 to 9"),
    ([["rule", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
      ["x", "1", "a", "", "c", "d"]], "actions action_zh row 2: is empty"),
    ([["rule", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
      ["x", "1", "a", "b", "c", "d"], ["x", "2", "a", "b", "c", "d"]],
     "actions rule row 3: the rule 'x' appears twice"),
    ([["rule", "priority", "action_en", "action_zh", "reason_en"], ["x", "1", "a", "b", "c"]],
     ("actions: the action table needs the columns rule, abc, pyramid, stage, segment, "
      "quadrant, was, frequency, alive, priority, action_en, action_zh, reason_en, "
      "reason_zh; "
      "missing reason_zh")),
    ([["rule", "alive", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
      ["x", "maybe", "1", "a", "b", "c", "d"]],
     "actions alive row 2: 'maybe' is not high, low or empty"),
    ([["rule", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
      ["(none)", "1", "a", "b", "c", "d"]],
     "actions rule row 2: (none) is reserved (customers no rule matches); use another name"),
    ([["rule", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
      ["x", "1", "a", "b", "Lost {name}", "d"]],
     ("actions reason_en row 2: 'Lost {name}' names {name}; a text may name {days}, "
     "{frequency}, {tier}, {stage}, {alive}")),
    ([["rule", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
      ["x", "1", "a", "b", "c", "50% {off"]],
     ("actions reason_zh row 2: '50% {off': expected '}' before end of string (write {{ for "
     "a brace)")),
])
def test_a_bad_action_table_names_the_cell(rows, message):
    with pytest.raises(InputError) as err:
        load_actions(rows)
    assert str(err.value) == message


def test_a_users_action_table_is_used(tmp_path):
    path = write(tmp_path, lost_this_month())
    table = [["rule", "stage", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
             ["call-lost", "Lost", "1", "Call", "致电", "Lost {days} days", "流失{days}天"],
             ["rest", "!Lost", "4", "Nothing", "无", "-", "-"]]
    a = analyze_path(path, Options(actions=table), today=TODAY)
    assert dict(zip(a.customers["customer"], a.customers["action"]))["big"] == "call-lost"
    rows = decisions.action_list(a)
    assert [(r[1], r[8], r[9]) for r in rows] == [("big", "Call", "Lost 194 days")]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_monthly_trend_by_hand(tmp_path, engine):
    """Sep: a buys twice in one order and once more (2 orders), b returns 30; Oct: b buys
    (no order id: a line is an order). Net sales 250 - 30 = 220 in Sep, 40 in Oct."""
    path = tmp_path / "orders.csv"
    pd.DataFrame([("a", "2026-09-02", 100, "o1"), ("a", "2026-09-02", 50, "o1"),
                  ("a", "2026-09-20", 100, "o2"), ("b", "2026-09-21", -30, "o3"),
                  ("b", "2026-10-05", 40, "")],
                 columns=["Customer", "Date", "Amount", "Order ID"]).to_csv(path, index=False)
    a = analyze_path(path, engine=engine, today=TODAY)
    t = a.trend.set_index("month")
    assert len(a.trend) == 24 and a.trend["month"].iloc[-1] == "2026-10"
    assert t.loc["2026-09"].tolist() == [220.0, 1, 2, True]
    assert t.loc["2026-10"].tolist() == [40.0, 1, 1, True]
    assert t.loc["2026-08"].tolist() == [0.0, 0, 0, False]  # before the data: not covered
    rows = decisions.trend_table(a)
    assert rows[0][:3] == ["Month", "Net sales", "Net sales, a year earlier"]
    assert rows[-1] == ["2026-10 (to day 5)", 40.0, None, 1, None, 1, None]  # as of 10-05
    assert len(rows) == 13


def test_both_engines_give_the_same_trend_and_changes(tmp_path):
    from workbooks.generate_sample import generate_transactions

    path = tmp_path / "sales.csv"
    generate_transactions(n_customers=400).to_csv(path, index=False)
    a, b = (analyze_path(path, engine=e, today=TODAY) for e in ENGINES)
    pd.testing.assert_frame_equal(a.trend, b.trend)
    for key in ("abc", "pyramid", "segment", "stage"):
        pd.testing.assert_frame_equal(getattr(a.changes, key), getattr(b.changes, key))
    pd.testing.assert_frame_equal(a.changes.deltas, b.changes.deltas)
    assert decisions.action_list(a) == decisions.action_list(b)


def test_data_too_short_for_a_method_says_so(tmp_path, sample_analysis):
    path = write(tmp_path, [("a", "2026-08-03", 10, "", ""), ("b", "2026-09-10", 20, "", ""),
                            ("a", "2026-10-20", 30, "", "")])
    a = analyze_path(path, today=TODAY)
    assert decisions.data_warnings(a) == [
        "Retention assumed (50%): the data covers 3 months; 24 are needed to measure it",
        "The value of the last 365 days covers only 3 months of data",
        "Repurchase probabilities need 360 days of data; the data covers 79",
        "The same months a year earlier need 24 months of data; the data covers 3"]
    assert decisions.data_warnings(a, "zh")[0] == "留存率为假设值（50%）：数据仅覆盖3个月，测算需要24个月"
    summary = decisions.report_summary(a)
    assert summary.warnings == tuple(decisions.data_warnings(a))
    assert decisions.data_warnings(sample_analysis) == []


def test_each_short_method_says_so_where_its_numbers_are(tmp_path):
    """The warning of a method stands beside its numbers: CLV sheet, value-matrix table,
    trend and Dwyer's matrix on the Changes sheet, the button's CRM Changes sheet."""
    from openpyxl import load_workbook

    from xl_crm.monthly import run
    from xl_crm.report import write_report

    from .fake_xlwings import Book

    path = write(tmp_path, [("a", "2026-08-03", 10, "", ""), ("b", "2026-09-10", 20, "", ""),
                            ("a", "2026-10-20", 30, "", "")])
    a = analyze_path(path, today=TODAY)
    w = decisions.method_warnings(a)
    book = load_workbook(write_report(a, tmp_path / "r.xlsx"))

    def texts(name):
        return [v for row in book[name].iter_rows(values_only=True) for v in row
                if isinstance(v, str)]

    assert any(w["clv"][0] in t for t in texts("CLV"))
    assert any(t.startswith("Customer value matrix") and w["matrix"][0] in t
               for t in texts("Distributions"))
    changes = texts("Changes")
    assert any(w["trend"][0] in t for t in changes)
    assert any(w["migration"][0] in t for t in changes)
    assert book["Changes"]["A4"].value.startswith("Monthly trend")  # chart rows stay
    rows = [["Customer", "Date", "Amount"], ["a", dt.datetime(2026, 8, 3), 10.0],
            ["b", dt.datetime(2026, 9, 10), 20.0], ["a", dt.datetime(2026, 10, 20), 30.0]]
    button = Book(fullname=str(tmp_path / "b.xlsm"))
    button.add_sheet("Sales", rows)
    run(button)
    crm = [r[0] for r in button.sheets["CRM Changes"].used_range.value]
    assert w["trend"][0] in crm and w["migration"][0] in crm


def test_a_users_action_text_that_looks_like_a_formula_stays_text(tmp_path):
    from openpyxl import load_workbook

    from xl_crm.report import write_report

    path = write(tmp_path, lost_this_month())
    table = [["rule", "priority", "action_en", "action_zh", "reason_en", "reason_zh"],
             ["all", "1", '=HYPERLINK("http://example.com","call")', "致电", "+1 {days}", "-"]]
    a = analyze_path(path, Options(actions=table), today=TODAY)
    book = load_workbook(write_report(a, tmp_path / "r.xlsx"))
    for sheet, column in (("Actions", "Action"), ("Actions", "Reason"),
                          ("Customers", "Next action")):
        ws = book[sheet]
        at = [c.value for c in ws[1]].index(column)
        cells = [row[at] for row in ws.iter_rows(min_row=2)]
        assert cells and all(c.data_type == "s" for c in cells), (sheet, column)
    assert book["Actions"]["I2"].value == '=HYPERLINK("http://example.com","call")'
    summary = [c for row in book["Summary"].iter_rows() for c in row
               if isinstance(c.value, str) and c.value.startswith("=HYPERLINK")]
    assert summary and all(c.data_type == "s" for c in summary)  # the Summary's list too


def test_value_at_risk_is_never_negative(tmp_path):
    # r only returned goods (Lost, current value -50): nothing to lose, at risk 0
    path = write(tmp_path, [("a", "2026-10-01", 100, "", ""), ("r", "2026-09-20", -50, "", "")])
    a = analyze_path(path, today=TODAY)
    r = a.customers.set_index("customer").loc["r"]
    assert (r["stage"], r["current_value"], r["value_at_risk"]) == ("Lost", -50, 0)


def test_a_month_not_complete_is_marked(tmp_path):
    path = write(tmp_path, [("a", "2026-09-01", 100, "", ""), ("a", "2026-10-15", 50, "", "")])
    a = analyze_path(path, today=TODAY)
    assert decisions.trend_table(a)[-1][0] == "2026-10 (to day 15)"
    assert decisions.trend_table(a, "zh")[-1][0] == "2026-10（截至15日）"
    assert decisions.trend_table(a)[-2][0] == "2026-09"

CELL = st.one_of(st.text(max_size=12), st.sampled_from(
    ["A", "B|C", "!Lost", "VIP", "new", "high", "low", "1", "9", "0", "2.0", "{days}", "{x}",
     "{", "}", "*", "", " A ", "Decline|Lost", "=HYPERLINK(1)"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(CELL, min_size=13, max_size=13), min_size=1, max_size=3))
def test_any_action_table_is_read_or_refused_in_one_line(rows):
    from xl_crm.core.actions import COLUMNS

    try:
        rules = load_actions([list(COLUMNS), *rows])
    except InputError as err:
        assert "\n" not in str(err) and str(err).startswith("actions")
    else:
        assert len(rules) == len(rows)
        assert all(1 <= r.priority <= 9 for r in rules)


def test_the_headline_figures_are_made_once_per_analysis(sample_analysis):
    import dataclasses

    from xl_crm.core.changes import clv_figures, headline

    a = dataclasses.replace(sample_analysis)  # a new analysis: nothing made yet
    assert "figures" not in vars(a)
    assert a.figures is a.figures  # made once, then kept
    assert a.figures == headline(a.customers) | clv_figures(a.clv, a.options.clv_group)
    b = dataclasses.replace(a, options=dataclasses.replace(a.options, clv_group="pyramid"))
    assert "figures" not in vars(b)  # each analysis its own
