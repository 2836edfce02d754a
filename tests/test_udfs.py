"""Worksheet functions called exactly as xlwings calls them: 2-D lists, scalars, 1-D lists."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest

from xl_crm import udfs
from xl_crm.core.errors import InputError
from xl_crm.udfs import (
    CRM_ABC,
    CRM_CLV,
    CRM_DWYER,
    CRM_LIFECYCLE,
    CRM_PYRAMID,
    CRM_RFM,
    CRM_RFM_SCORE,
    CRM_SEGMENT,
    CRM_STRATEGY,
)

D = dt.datetime
CUSTOMERS = [["Customer"], ["a"], ["b"], ["a"], ["c"], ["d"]]
DATES = [["Date"], [D(2025, 3, 1)], [45700.0], ["2025/3/5"], ["2025年2月1日"], [D(2025, 3, 5)]]
AMOUNTS = [["Amount"], [100.0], ["1,000"], [50.0], [-20.0], [30.0]]


def test_crm_rfm_by_hand_with_header_rows_and_mixed_dates():
    out = CRM_RFM(CUSTOMERS, DATES, AMOUNTS)
    assert out[0] == ["Customer", "Recency", "Frequency", "Monetary", "R", "F", "M", "RFM",
                      "Score", "Segment"]
    rows = {r[0]: r[1:] for r in out[1:]}
    # as_of = 2025-03-05 (latest purchase); 45700 = 2025-02-12 -> b recency 21 days
    assert rows["a"][:3] == [0, 2, 150]
    assert rows["b"][:3] == [21, 1, 1000]
    assert rows["c"][:3] == [None, 0, -20]  # only a return: kept, recency empty
    # R: a, d tie at 0 days (m = 2 worse -> 1 + 10//4 = 3); b m=1 -> 2; c -> 1
    assert [rows[k][3] for k in "abcd"] == [3, 2, 1, 3]
    # eight classes on raw measures: mean recency of the buyers (0 + 21 + 0) / 3 = 7 days,
    # mean purchases (2 + 1 + 0 + 1) / 4 = 1, mean net sales (150 + 1000 - 20 + 30) / 4 =
    # 290: a is recent and frequent but spends below the mean; b spends above it only
    assert rows["a"][6:] == ["343", 10, "General value"]
    assert rows["b"][8] == "Important win-back"
    assert rows["c"][8] == "General win-back"  # never bought: recency low


def test_crm_rfm_without_headers_as_1d_lists_and_serials():
    out = CRM_RFM(["a", "b"], [45717, 45718], [10, 20], None, 2)
    assert out[1][0] == "a" and out[1][4] == 1 and out[2][4] == 2


def test_crm_rfm_named_scheme_and_scheme_table():
    out = CRM_RFM(CUSTOMERS, DATES, AMOUNTS, None, 5, "named")
    assert {r[-1] for r in out[1:]} <= {"Champions", "Loyal", "Potential loyalist", "New",
                                        "Promising", "Need attention", "About to sleep",
                                        "At risk", "Can't lose them", "Hibernating", "Lost"}
    table = [["segment", "R"], ["Recent", "3-5"], ["Other", "*"]]
    out = CRM_RFM(CUSTOMERS, DATES, AMOUNTS, None, 5, table)
    assert {r[0]: r[-1] for r in out[1:]} == {"a": "Recent", "b": "Other", "c": "Other",
                                             "d": "Recent"}


@pytest.mark.parametrize("call,message", [
    (lambda: CRM_RFM(CUSTOMERS, DATES, [["Amount"], [1], ["abc"], [1], [1], [1]]),
     "amounts row 3: 'abc' is not a number"),
    (lambda: CRM_RFM([], [], []), "customers: is an empty range"),
    (lambda: CRM_RFM(CUSTOMERS[:3], DATES, AMOUNTS), "customers row 4: is missing"),
    (lambda: CRM_RFM(CUSTOMERS, DATES, AMOUNTS, "2025-03-02"),
     "dates row 4: 2025-03-05 is after as_of 2025-03-02"),
    (lambda: CRM_RFM([["Customer"]], [["Date"]], [["Amount"]]), "amounts: has no data rows"),
    (lambda: CRM_RFM([["a"]], [[D(2099, 1, 1)]], [[5]]), "dates row 1: 2099-01-01 is in the future"),
    (lambda: CRM_RFM(CUSTOMERS, DATES, AMOUNTS, None, 12), "bins must be a whole number"),
    (lambda: CRM_RFM([["a", "b"], ["c", "d"]], DATES[:2], AMOUNTS[:2]),
     "customers: must be one column or one row"),
])
def test_crm_rfm_bad_input(call, message):
    with pytest.raises(InputError) as err:
        call()
    assert message in str(err.value)


def test_crm_rfm_score_aligned_with_input():
    assert CRM_RFM_SCORE([[1], [2], [2], [3], [None], [10]], 5) == \
        [[1], [2], [2], [4], [None], [5]]
    # with a header row and lower-is-better
    assert CRM_RFM_SCORE([["Days"], [5], [50]], 2, False) == [["Score"], [2], [1]]
    assert CRM_RFM_SCORE([[1, 2], [3, 4]], 2) == [[1, 1], [2, 2]]
    with pytest.raises(InputError, match="values row 3: 'x' is not a number"):
        CRM_RFM_SCORE([[1], [2], ["x"]])
    with pytest.raises(InputError, match="values: is an empty range"):
        CRM_RFM_SCORE([[None]])
    with pytest.raises(InputError, match="higher_is_better"):
        CRM_RFM_SCORE([[1]], 5, "maybe")


def test_crm_segment():
    assert CRM_SEGMENT([[5], [1]], [[5], [1]], [[5], [1]]) == [["Important value"],
                                                              ["General win-back"]]
    assert CRM_SEGMENT([["R"], [5]], [["F"], [5]], [["M"], [5]], "named") == \
        [["Segment"], ["Champions"]]
    with pytest.raises(InputError, match="m row 2: 7.5 is not a score"):
        CRM_SEGMENT([[5], [1]], [[5], [1]], [[5], [7.5]])
    with pytest.raises(InputError, match="f row 2: is missing"):
        CRM_SEGMENT([[5], [1]], [[5]], [[5], [1]])


def test_crm_abc_and_pyramid_sum_repeated_customers():
    out = CRM_ABC(CUSTOMERS, AMOUNTS)
    assert out[0] == ["Customer", "Value", "Share", "Cumulative share", "Tier"]
    assert [r[0] for r in out[1:]] == ["b", "a", "d", "c"]
    assert out[2][1] == 150 and out[1][4] == "A"
    pyr = CRM_PYRAMID(CUSTOMERS, AMOUNTS)
    assert pyr[1] == ["b", 1000.0, 1, "VIP"] and pyr[-1][3] == "Small"
    with pytest.raises(InputError, match="values row 3: 'x' is not a number"):
        CRM_ABC([["a"], ["b"], ["c"]], [[1], [2], ["x"]])
    with pytest.raises(InputError, match="a_cut"):
        CRM_ABC(CUSTOMERS, AMOUNTS, "eighty")
    with pytest.raises(InputError, match="values row 2: is missing"):
        CRM_PYRAMID([["a"], ["b"]], [[1]])


def test_crm_dwyer_matches_hughes_and_checks_years():
    out = CRM_DWYER(100_000, [[0.6, 0.7, 0.8]], [[1.8], [2.5], [3]], [[90, 95, 100]],
                    [[0.7, 0.65, 0.65]], 0, [[55, 20, 20]], 0.08, 2, 3)
    assert out[0] == ["", "Year 1", "Year 2", "Year 3"]
    rows = {r[0]: r[1:] for r in out[1:]}
    assert rows["Gross profit"] == pytest.approx([-640_000, 3_787_500, 3_570_000])
    with pytest.raises(InputError, match="retention: has 3 values for 5 years"):
        CRM_DWYER(10, [[0.6, 0.7, 0.8]], 1, 10, 0.5)  # years defaults to 5
    with pytest.raises(InputError, match="orders: has 2 values for 3 years"):
        CRM_DWYER(10, [[0.6, 0.7, 0.8]], [[1, 2]], 10, 0.5, years=3)
    with pytest.raises(InputError, match="retention row 2: is empty; give a value for every"):
        CRM_DWYER(10, [[0.6], [None], [0.8]], 1, 10, 0.5, years=3)
    with pytest.raises(InputError, match="retention: is required"):
        CRM_DWYER(10, float("nan"), 1, 10, 0.5)
    with pytest.raises(InputError, match="customers: is required"):
        CRM_DWYER(None, 0.5, 1, 10, 0.5)


def test_crm_clv_and_strategy():
    assert CRM_CLV(100, 0.8, 0.12) == pytest.approx(250)
    assert CRM_CLV(100, 0.5, 0, 2) == pytest.approx(75)
    with pytest.raises(InputError, match="retention: is required"):
        CRM_CLV(100, None, 0.1)
    assert CRM_STRATEGY("Champions").startswith("Champions | Goal:")
    assert CRM_STRATEGY("A", "zh").startswith("A类客户｜目标：")
    with pytest.raises(InputError, match="lang"):
        CRM_STRATEGY("A", "fr")
    with pytest.raises(InputError, match="label: is empty"):
        CRM_STRATEGY(None)


def test_crm_lifecycle():
    out = CRM_LIFECYCLE(CUSTOMERS, DATES, AMOUNTS)
    assert out[0] == ["Customer", "First purchase", "Last purchase", "Stage"]
    rows = {r[0]: r[1:] for r in out[1:]}
    assert rows["a"] == [D(2025, 3, 1), D(2025, 3, 5), "Acquisition"]
    assert rows["c"] == [None, None, "Lost"]


def test_every_interface_function_is_exported_with_a_docstring():
    names = ["CRM_RFM", "CRM_RFM_SCORE", "CRM_SEGMENT", "CRM_ABC", "CRM_PYRAMID", "CRM_DWYER",
             "CRM_CLV", "CRM_LIFECYCLE", "CRM_STRATEGY", "CRM_PREDICT"]
    assert sorted(udfs.__all__) == sorted(names)
    for name in names:
        fn = getattr(udfs, name)
        assert inspect.getdoc(fn).splitlines()[0].endswith(".")
    params = {n: list(inspect.signature(getattr(udfs, n)).parameters) for n in names}
    assert params["CRM_RFM"] == ["customers", "dates", "amounts", "as_of", "bins", "scheme"]
    assert params["CRM_PREDICT"] == ["customers", "dates", "amounts", "as_of", "horizon_days",
                                     "annual_discount", "margin"]
    assert params["CRM_DWYER"] == ["customers", "retention", "orders", "order_value",
                                   "cost_rate", "acquisition_cost", "marketing_cost",
                                   "interest", "risk", "years", "referral",
                                   "referral_incentive", "delay_days"]


FUTURE = [["Date"], [D(2099, 1, 1)]]
BAD_INPUT = [
    # (call, message naming argument and row)
    (lambda: CRM_ABC([["a"], ["b"]], [[1], ["ten"]]), "values row 2: 'ten' is not a number"),
    (lambda: CRM_ABC([], []), "customers: is an empty range"),
    (lambda: CRM_ABC([["a"], ["b"], ["c"]], [[1], [2]]), "values row 3: is missing"),
    (lambda: CRM_ABC([["Customer"]], [["Sales"]]), "values: has no data rows"),
    (lambda: CRM_PYRAMID([["a"], ["b"]], [[1], ["x1"]]), "values row 2: 'x1' is not a number"),
    (lambda: CRM_PYRAMID([], []), "customers: is an empty range"),
    (lambda: CRM_PYRAMID([["Customer"]], [["Sales"]]), "values: has no data rows"),
    (lambda: CRM_LIFECYCLE(CUSTOMERS, DATES, [["Amount"], [1], ["x"], [1], [1], [1]]),
     "amounts row 3: 'x' is not a number"),
    (lambda: CRM_LIFECYCLE([], [], []), "customers: is an empty range"),
    (lambda: CRM_LIFECYCLE(CUSTOMERS[:2], DATES, AMOUNTS), "customers row 3: is missing"),
    (lambda: CRM_LIFECYCLE([["Customer"], ["a"]], FUTURE, [["Amount"], [1]]),
     "dates row 2: 2099-01-01 is in the future"),
    (lambda: CRM_LIFECYCLE([["Customer"]], [["Date"]], [["Amount"]]),
     "amounts: has no data rows"),
    (lambda: CRM_SEGMENT([[5], ["x"]], [[5], [1]], [[5], [1]]), "r row 2: 'x' is not a number"),
    (lambda: CRM_SEGMENT([], [], []), "r: is an empty range"),
    (lambda: CRM_SEGMENT([["R"]], [["F"]], [["M"]]), "r: has no data rows"),
    (lambda: CRM_RFM_SCORE([[1], ["x"]]), "values row 2: 'x' is not a number"),
    (lambda: CRM_RFM_SCORE([]), "values: is an empty range"),
    (lambda: CRM_RFM_SCORE([["Sales"]]), "values: has no data rows"),
    (lambda: CRM_DWYER(100, [[0.5], ["x"]], 1, 10, 0.5, years=2),
     "retention row 2: 'x' is not a number"),
    (lambda: CRM_DWYER(100, [], 1, 10, 0.5), "retention: is an empty range"),
    (lambda: CRM_CLV("abc", 0.8, 0.1), "margin row 1: 'abc' is not a number"),
    (lambda: CRM_STRATEGY(""), "label: is empty"),
]


@pytest.mark.parametrize("call,message", BAD_INPUT)
def test_every_function_names_argument_and_row(call, message):
    with pytest.raises(InputError) as err:
        call()
    assert message in str(err.value)


# --- hostile arguments: exact one-line messages (issue 15 class 13) ----------------------

NA = -2146826246  # a cell showing #N/A, as classic xlwings passes it; Lite passes "#N/A"
TWO = ([["a"], ["b"]], [[D(2025, 3, 1)], [D(2025, 3, 2)]], [[1.0], [2.0]])


@pytest.mark.parametrize("call,message", [
    (lambda: CRM_SEGMENT([[5], [None]], [[5], [1]], [[5], [1]]),
     "r row 2: is empty but f and m are given; give all three scores or none"),
    (lambda: CRM_SEGMENT([[5], [1]], [[5], [None]], [[5], [None]]),
     "f row 2: is empty but r is given; give all three scores or none"),
    (lambda: CRM_SEGMENT([[None]], [[None]], [[None]]), "r: has no scores (every row is blank)"),
    (lambda: CRM_SEGMENT([[5]], [[5]], [["#N/A"]]), ("m row 1: the cell shows #N/A; correct or "
     "clear it")),
    (lambda: CRM_SEGMENT([[5]], [[5]], [[5]], 7),
     "scheme: must be value8, named, value8-score or a range holding a scheme table, not 7"),
    (lambda: CRM_RFM(*TWO, None, "five"), "bins row 1: 'five' is not a number"),
    (lambda: CRM_RFM(*TWO, None, -1), "bins must be a whole number from 2 to 9, not -1"),
    (lambda: CRM_RFM(*TWO, None, True), "bins row 1: True is TRUE/FALSE, not a number"),
    (lambda: CRM_RFM(*TWO, None, NA), "bins: the cell shows #N/A; correct or clear it"),
    (lambda: CRM_RFM(*TWO, None, 5, 7.0),
     "scheme: must be value8, named, value8-score or a range holding a scheme table, not 7"),
    (lambda: CRM_RFM(*TWO[:2], [[1.0], [NA]]), ("amounts row 2: the cell shows #N/A; correct "
     "or clear it")),
    (lambda: CRM_RFM(*TWO[:2], [[1.0], ["#DIV/0!"]]), ("amounts row 2: the cell shows #DIV/0!; "
     "correct or clear it")),
    (lambda: CRM_RFM(TWO[0], [[D(2025, 3, 1)], [NA]], TWO[2]),
     "dates row 2: the cell shows #N/A; correct or clear it"),
    (lambda: CRM_RFM([["a"], ["#REF!"]], *TWO[1:]),
     "customers row 2: the cell shows #REF!; correct or clear it"),
    (lambda: CRM_RFM(*TWO, [["2025-03-01"], ["x"]]), "as_of: must be one cell, not 2"),
    (lambda: CRM_RFM(*TWO, "#N/A"), "as_of: the cell shows #N/A; correct or clear it"),
    (lambda: CRM_RFM(TWO[0], [["1500-01-01"], ["2025-01-01"]], TWO[2]),
     "dates row 1: 1500-01-01 is before 1900-01-01, the earliest date accepted"),
    (lambda: CRM_RFM_SCORE([[1], ["#N/A"]]), ("values row 2: the cell shows #N/A; correct or "
     "clear it")),
    (lambda: CRM_RFM_SCORE([[1], [NA]]), "values row 2: the cell shows #N/A; correct or clear it"),
    (lambda: CRM_RFM_SCORE([[1], [2]], 5, NA),
     "higher_is_better: the cell shows #N/A; correct or clear it"),
    (lambda: CRM_ABC(TWO[0], [[1], ["#N/A"]]), ("values row 2: the cell shows #N/A; correct or "
     "clear it")),
    (lambda: CRM_DWYER(100, NA, 1, 10, 0.5), "retention: the cell shows #N/A; correct or clear it"),
    (lambda: CRM_DWYER(100, 0.5, 1, 10, 0.5, years=-1), "years: must be between 1 and 100, not -1"),
    (lambda: CRM_DWYER(100, 0.5, 1, 10, 0.5, years="five"), "years row 1: 'five' is not a number"),
    (lambda: CRM_CLV(100, 0.8, 0.1, -3), "years: must be 0 or more, not -3"),
    (lambda: CRM_CLV(True, 0.8, 0.1), "margin row 1: True is TRUE/FALSE, not a number"),
    (lambda: CRM_CLV("#N/A", 0.8, 0.1), "margin: the cell shows #N/A; correct or clear it"),
    (lambda: CRM_STRATEGY([["A"], ["Zzz"]]), ("label row 2: 'Zzz' is not a tier, segment, "
     "stage or quadrant in the strategy catalogue (e.g. A, VIP, Champions, Important value, "
     "Growth, Value)")),
    (lambda: CRM_STRATEGY([["A"], [NA]]), "label row 2: the cell shows #N/A; correct or clear it"),
    (lambda: CRM_STRATEGY("A", [["en"], ["zh"]]), "lang: must be one cell (en or zh), not a range"),
])
def test_hostile_arguments_give_one_exact_line(call, message):
    with pytest.raises(InputError) as err:
        call()
    assert str(err.value) == message


def test_crm_segment_leaves_blank_rows_blank():
    assert CRM_SEGMENT([["R"], [5], [None], [1]], [["F"], [5], [None], [1]],
                       [["M"], [5], [""], [1]]) == \
        [["Segment"], ["Important value"], [None], ["General win-back"]]


def test_crm_strategy_of_a_range_has_its_shape():
    out = CRM_STRATEGY([["A", None], ["VIP", "Champions"]])
    assert out == [[CRM_STRATEGY("A"), None], [CRM_STRATEGY("VIP"), CRM_STRATEGY("Champions")]]
    assert CRM_STRATEGY(["A", "B"]) == [[CRM_STRATEGY("A")], [CRM_STRATEGY("B")]]  # Lite 1-D
    assert out[0][0].startswith("Tier A | Goal:")


def test_nineteen_digit_ids_given_as_text_stay_exact():
    ids = [["1234567890123456789"], ["1234567890123456788"], ["1234567890123456789"]]
    out = CRM_ABC(ids, [[1.0], [2.0], [3.0]])
    assert [r[:2] for r in out[1:]] == [["1234567890123456789", 4.0],
                                        ["1234567890123456788", 2.0]]
    rfm = CRM_RFM(ids, [[D(2025, 3, 1)]] * 3, [[1.0], [2.0], [3.0]])
    assert sorted(r[0] for r in rfm[1:]) == ["1234567890123456788", "1234567890123456789"]
