"""Date and amount parsers: hand cases, bad input with column and row, property tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xl_crm.core.errors import InputError
from xl_crm.core.values import parse_amounts, parse_dates, serials_to_dates


def d(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


@pytest.mark.parametrize("value", [
    "2025-03-01", "2025-03-01 14:30", "2025-03-01T14:30:05", "2025/3/1", "2025.3.1",
    "20250301", "2025年3月1日", "2025 年 3 月 1 日", " 2025-3-1 ", dt.date(2025, 3, 1),
    dt.datetime(2025, 3, 1, 23, 59), pd.Timestamp("2025-03-01 08:00"), 45717, 45717.75,
    "45717", "２０２５－０３－０１",
])
def test_every_documented_date_form(value):
    # 45717 is the Excel serial of 2025-03-01: DATE(2025,3,1) in Excel's 1900 system.
    assert parse_dates([value])[0] == d("2025-03-01")


def test_serials_around_the_1900_leap_bug():
    # Excel: 1 = 1900-01-01, 59 = 1900-02-28, 61 = 1900-03-01 (60 is the fictitious 29 Feb).
    out = serials_to_dates(np.array([1.0, 59.0, 61.0, np.nan]))
    assert list(out[:3]) == [d("1900-01-01"), d("1900-02-28"), d("1900-03-01")]
    assert np.isnat(out[3])
    with pytest.raises(InputError, match="1900-02-29"):
        serials_to_dates(np.array([60.0]))


def test_day_first_or_month_first_decided_by_the_column():
    assert list(parse_dates(["13/03/2025", "01/03/2025"])) == [d("2025-03-13"), d("2025-03-01")]
    assert list(parse_dates(["03/13/2025", "03/01/2025"])) == [d("2025-03-13"), d("2025-03-01")]
    with pytest.raises(InputError, match="could be day-first or month-first"):
        parse_dates(["01/03/2025", "02/03/2025"])
    assert parse_dates(["01/03/2025"], day_first=True)[0] == d("2025-03-01")
    with pytest.raises(InputError, match="month-first but row 2"):
        parse_dates(["03/13/2025", "13/03/2025"])


def test_blank_dates_are_nat_and_bad_dates_name_column_and_row():
    out = parse_dates([None, "", "  ", float("nan")])
    assert np.isnat(out).all()
    with pytest.raises(InputError) as err:
        parse_dates(["2025-01-01", "2025-02-30"], "Order Date", np.array([5, 6]))
    assert str(err.value) == "Order Date row 6: '2025-02-30' is not a real date"
    with pytest.raises(InputError, match=r"dates row 2: 'soon' is not a date"):
        parse_dates(["2025-01-01", "soon"])
    with pytest.raises(InputError, match="TRUE/FALSE"):
        parse_dates([True])


@pytest.mark.parametrize("text,value", [
    ("1,234.50", 1234.5), ("1234.5", 1234.5), ("-12", -12.0), ("(12.50)", -12.5),
    ("$1,000", 1000.0), ("¥1,000.25", 1000.25), ("￥88", 88.0), ("88元", 88.0),
    ("RMB 1,200", 1200.0), ("−5", -5.0), ("１２３", 123.0), ("1e3", 1000.0), (".5", 0.5),
    ("-$12", -12.0), (7, 7.0), (7.25, 7.25),
])
def test_amount_forms(text, value):
    assert parse_amounts([text])[0] == value


@pytest.mark.parametrize("text,message", [
    ("abc", "'abc' is not a number"),
    ("1.234,50", "decimal comma"),
    ("1,23", "decimal comma"),
    ("12,34,567", "'12,34,567' is not a number"),
    ("12%", "is not a number"),
    ("(-5)", "'\\(-5\\)' is not a number"),  # parentheses are the sign: not a second one
    ("(+5)", "is not a number"),
    ("($-5)", "is not a number"),  # after a currency too
    ("(USD -5)", "is not a number"),
    ("0,500", "decimal comma"),  # no thousands group starts with 0
    ("012,345", "decimal comma"),
    (True, "TRUE/FALSE"),
    (dt.date(2025, 1, 1), "is a date"),
])
def test_bad_amounts(text, message):
    with pytest.raises(InputError, match=message):
        parse_amounts([1, text], "Net Sales", np.array([10, 11]))
    with pytest.raises(InputError, match="Net Sales row 11"):
        parse_amounts([1, text], "Net Sales", np.array([10, 11]))


@pytest.mark.parametrize("text", ["2025-03-01 25:00", "2025-03-01 23:60", "2025-03-01 9:99",
                                  "2025-03-01T24:00:00", "13/03/2025 25:00",
                                  "2025年3月1日 23:61"])
def test_an_impossible_time_of_day_is_not_a_date(text):
    with pytest.raises(InputError, match="is not a date"):
        parse_dates([text], "Date", np.array([2]))
    assert parse_dates(["2025-03-01 23:59:59"])[0] == np.datetime64("2025-03-01", "ns")


def test_thousands_dots_are_refused_where_the_comma_is_the_decimal_mark():
    # a CSV file separated by ';' comes from where 1.500 means 1,500
    assert parse_amounts(["1.500"]).tolist() == [1.5]  # elsewhere: one and a half
    assert parse_amounts(["1.5", "1.2345", "-12.25", "1500", "0.500"],
                         comma_decimal=True).tolist() == [1.5, 1.2345, -12.25, 1500.0, 0.5]
    with pytest.raises(InputError, match="row 2: 'x' is not a number"):  # the earliest
        parse_amounts(["x", "1.500"], "Net Sales", np.array([2, 3]), comma_decimal=True)
    for text in ("1.500", "-1.500", "12.345.678", "(1.500)", "€1.500"):
        with pytest.raises(InputError, match=r"Net Sales row 3: .* may mean thousands"):
            parse_amounts(["7", text], "Net Sales", np.array([2, 3]), comma_decimal=True)


def test_blank_amounts_are_nan():
    assert np.isnan(parse_amounts([None, "", " "])).all()


@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2262, 4, 11)))
def test_any_date_round_trips_through_every_text_form_and_serial(day):
    serial = (day - dt.date(1899, 12, 30)).days
    forms = [day.isoformat(), f"{day.year}/{day.month}/{day.day}",
             f"{day.year}年{day.month}月{day.day}日", day.strftime("%Y%m%d"), serial,
             float(serial) + 0.5, dt.datetime.combine(day, dt.time(13, 5))]
    expected = np.datetime64(day, "ns")
    assert all(v == expected for v in parse_dates(forms))


@given(st.decimals(min_value=-10**12 + 1, max_value=10**12 - 1, places=2, allow_nan=False))
def test_any_amount_round_trips_with_thousands_separators(value):
    text = f"{value:,.2f}"
    assert parse_amounts([text])[0] == pytest.approx(float(value), abs=1e-9)
    accounting = f"({abs(value):,.2f})" if value < 0 else text
    assert parse_amounts([accounting])[0] == pytest.approx(float(value), abs=1e-9)


@given(st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=8))
def test_words_are_never_amounts(word):
    stripped = word.strip()
    if stripped in ("元",) or not stripped:
        return
    with pytest.raises(InputError, match="amounts row 1"):
        parse_amounts([word])


def test_a_time_with_its_utc_offset_keeps_the_date_written():
    """The written date is the local one, the column's own calendar date (issue 15)."""
    got = parse_dates(["2025-03-01T23:30:00+05:30", "2025-03-01 00:10Z", "2025-03-01 10:00 -0800",
                       "2025/3/1 23:59:59.5+08", "2025年3月1日 08:00+0900"])
    assert [str(d)[:10] for d in got.astype("datetime64[D]")] == ["2025-03-01"] * 5
    with pytest.raises(InputError, match="is not a date"):
        parse_dates(["2025-03-01 10:00+5"])


@pytest.mark.parametrize("huge", [10**400, -10**400])
def test_an_int_beyond_a_float_is_one_line_not_an_overflow(huge):
    # only the Python API can hand such an int over (a workbook's numbers are floats)
    with pytest.raises(InputError, match=r"^amounts row 2: -?10000+\.\.\. is too large"):
        parse_amounts([5, huge], rows=np.array([1, 2]))
    with pytest.raises(InputError, match=r"^amounts row 2: -?10000+\.\.\. is too large"):
        parse_amounts(["5", huge], rows=np.array([1, 2]))  # the cell-by-cell path
    with pytest.raises(InputError, match=r"^dates row 2: -?10000+\.\.\. is not a date: "
                                         r"Excel date numbers run from 1 to 2958465"):
        parse_dates([45000, huge], rows=np.array([1, 2]))
    # more digits than Python turns into text (4,300): the message says how many
    with pytest.raises(InputError, match=r"^amounts row 2: a negative whole number of about "
                                         r"5,000 digits is too large"):
        parse_amounts([5, -10**5000], rows=np.array([1, 2]))
