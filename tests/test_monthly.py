"""The button job and macro, driven through an in-memory stand-in for xlwings' book.

Everything behind the stand-in (reading, analysis, report file, mail) runs for real.
"""

from __future__ import annotations

import datetime as dt
import functools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from xl_crm import macros
from xl_crm.core.errors import InputError
from xl_crm.monthly import PREFIX, read_settings, run
from xl_crm.options import SHEET_OPTIONS

from .conftest import SAMPLE_ZH
from .fake_xlwings import Book, Formula, Table


@functools.cache
def _sample_zh_rows() -> tuple[tuple, ...]:
    ws = load_workbook(SAMPLE_ZH, read_only=True)["销售"]
    rows = ws.iter_rows(values_only=True)
    return tuple(r for r in rows if any(v is not None for v in r))  # the stand-in drops blanks


def sales_rows():
    """The Chinese sample's Sales rows as the stand-in workbook takes them: new lists each
    call (a test may change them), read once per test process (2 s with openpyxl)."""
    return [list(r) for r in _sample_zh_rows()]


def settings_rows(**values):
    rows = [["Setting", "Value", "Meaning"]]
    for option in SHEET_OPTIONS:
        rows.append([option.name, values.get(option.name, option.cell_default), option.help])
    return rows


@pytest.fixture
def book(tmp_path):
    b = Book(fullname=str(tmp_path / "monthly.xlsm"))
    b.add_sheet("Notes", [["my own notes"]])
    b.add_sheet("销售", sales_rows())
    b.add_sheet("Settings", settings_rows())
    return b


def crm_sheets(book):
    return [s.name for s in book.sheets if s.name.startswith(PREFIX)]


def test_run_writes_result_sheets_and_leaves_user_sheets_alone(book):
    before = {name: cells for name, cells in book.snapshot()}
    outcome = run(book)
    assert crm_sheets(book) == ["CRM Actions", "CRM Changes", "CRM Customers", "CRM ABC",
                                "CRM Strategy", "CRM Log"]
    for name in ("Notes", "销售", "Settings"):
        assert book.sheets[name].cells == before[name], name
    customers = book.sheets["CRM Customers"].used_range.value
    assert customers[0][:3] == ["Customer", "Name", "Region"]
    assert len(customers) - 1 == len(outcome.analysis.customers) == 335
    log = dict(book.sheets["CRM Log"].used_range.value[1:])
    assert log["rows read"] == 2276 and log["sales sheet"] == "销售"
    assert log["report"].startswith("not saved")


def test_the_button_sheets_show_the_same_action_list_and_changes_as_the_report(book):
    from xl_crm.decisions import action_header, action_list, migration_table

    outcome = run(book)
    a = outcome.analysis
    shown = book.sheets["CRM Actions"].used_range.value
    expected = [action_header("en"), *action_list(a, "en")]
    assert len(shown) == len(expected) > 1
    assert shown[0] == expected[0] and shown[1] == expected[1]
    changes = book.sheets["CRM Changes"].used_range.value
    matrix = migration_table(a, "abc", "en")
    width = len(changes[0])
    at = [r[:len(matrix[0])] for r in changes].index(matrix[0])
    assert [r[:len(matrix[0])] for r in changes[at:at + len(matrix)]] == matrix
    assert all(len(r) == width for r in changes)  # one rectangle, as a range takes it


def test_a_user_sheet_named_like_crm_is_never_touched(book):
    book.add_sheet("CRM Sales notes", [["keep me"]])
    run(book)
    assert book.sheets["CRM Sales notes"].cells == {(1, 1): "keep me"}

    other = Book()
    other.add_sheet("CRM Log", sales_rows())
    other.add_sheet("Settings", settings_rows(sales_sheet="CRM Log"))
    with pytest.raises(InputError, match="has the name of a result sheet"):
        run(other)

def test_second_run_replaces_only_its_own_sheets(book):
    run(book)
    book.sheets["CRM Customers"].cells[(1, 1)] = "stale"
    run(book)
    assert crm_sheets(book) == ["CRM Actions", "CRM Changes", "CRM Customers", "CRM ABC",
                                "CRM Strategy", "CRM Log"]
    assert book.sheets["CRM Customers"].cells[(1, 1)] == "Customer"
    assert [s.name for s in book.sheets][:3] == ["Notes", "销售", "Settings"]


def test_settings_are_applied(book):
    book.sheets["Settings"].cells.clear()
    for i, row in enumerate(settings_rows(language="zh", bins=4), start=1):
        for j, v in enumerate(row, start=1):
            book.sheets["Settings"].cells[(i, j)] = v
    outcome = run(book)
    assert outcome.analysis.options.bins == 4
    assert "CRM 客户明细" in crm_sheets(book)
    assert book.sheets["CRM 客户明细"].cells[(1, 1)] == "客户编号"


def test_a_failure_while_writing_changes_nothing(book):
    run(book)
    before = book.snapshot()
    book.fail_on_write = "CRM~new~1"
    with pytest.raises(OSError, match="simulated"):
        run(book)
    assert book.snapshot() == before


def test_bad_data_reaches_the_user_as_a_message_and_changes_nothing(book):
    sheet = book.sheets["销售"]
    sheet.cells[(5, 8)] = "十二"  # an amount that is not a number
    before = book.snapshot()
    macros.monthly_report(book)
    (message, title, _), = book.app.alerts
    assert title == "xl_crm"
    assert message == "销售额 (column H) row 5: '十二' is not a number"
    assert book.snapshot() == before


def test_bad_settings_name_the_row():
    with pytest.raises(InputError) as err:
        read_settings(settings_rows(bins=12))
    assert str(err.value) == ("Settings row 4: bins = 12: must be a whole number from 2 to 9 "
                              "(scores per RFM measure)")
    with pytest.raises(InputError, match=r"Settings row 3: unknown setting 'bin'"):
        read_settings([["Setting", "Value"], ["as_of", None], ["bin", 4]])
    with pytest.raises(InputError, match=r"Settings row 2: save_report = 'maybe'"):
        read_settings([["Setting", "Value"], ["save_report", "maybe"]])
    with pytest.raises(InputError, match=r"Settings row 2: as_of = 'soon': .*not a date"):
        read_settings([["Setting", "Value"], ["as_of", "soon"]])
    fixed = read_settings([["r_thresholds", "30;60"], ["f_thresholds", "2"]])
    assert fixed.thresholds == {"recency": (30.0, 60.0), "frequency": (2.0,)}
    assert read_settings(settings_rows(recipients="a@x.com; b@x.com")).recipients == \
        ("a@x.com", "b@x.com")
    assert read_settings(None).bins == 5


def test_sales_sheet_from_settings_table_or_active_sheet(tmp_path):
    rows = sales_rows()
    b = Book(fullname=str(tmp_path / "b.xlsm"))
    b.add_sheet("Overview", [["title"]])
    data = b.add_sheet("Month", [["October export"], [None]] + rows, first_row=1)
    b.sheets.active_sheet = data
    outcome = run(b)
    assert outcome.analysis.log["rows_read"] == 2276
    # an Excel table on the sheet is used in preference to the used range
    data.tables.append(Table(data.range(f"A3:J{len(rows) - 100 + 2}")))
    assert run(b).analysis.log["rows_read"] == len(rows) - 101
    b.add_sheet("Settings", settings_rows(sales_sheet="Nope"))
    with pytest.raises(InputError, match="no sheet of that name"):
        run(b)


def test_macro_saves_the_report_and_emails_it_when_asked(book, tmp_path, smtp):
    book.sheets["Settings"].cells.clear()
    for i, row in enumerate(settings_rows(recipients="boss@example.com"), start=1):
        for j, v in enumerate(row, start=1):
            book.sheets["Settings"].cells[(i, j)] = v
    book.app.answers = ["yes"]
    macros.monthly_report(book)
    report = tmp_path / "reports" / "monthly customer-value-2026-10.xlsx"
    assert report.exists()
    prompts = [a[0] for a in book.app.alerts]
    assert prompts[0] == "Email monthly customer-value-2026-10.xlsx to boss@example.com?"
    assert prompts[1] == "sent to boss@example.com"
    (_, recipients, _), = smtp.mails
    assert recipients == ["boss@example.com"]
    assert not (tmp_path / "monthly.xlsm").exists()  # the workbook file is never written


def test_dates_in_the_log_and_sheet_values_are_plain_python(book):
    run(book)
    values = book.sheets["CRM Customers"].used_range.value
    assert isinstance(values[1][4], dt.datetime)  # Last purchase, after the sales rep
    assert all(type(v) in (str, int, float, dt.datetime, type(None)) for v in values[1])


def test_settings_in_any_shape_xlwings_returns(tmp_path):
    b = Book(fullname=str(tmp_path / "b.xlsm"))
    b.add_sheet("Sales", sales_rows())
    b.add_sheet("Settings", [["Setting", "Value", "Meaning"]])  # header only: a flat list
    assert run(b).settings.bins == 5
    b.sheets["Settings"].cells.clear()
    b.sheets["Settings"].cells.update({(3, 1): "bins", (3, 2): 4})  # one row, lower down
    assert run(b).settings.bins == 4
    b.sheets["Settings"].cells[(3, 2)] = 12
    with pytest.raises(InputError, match="Settings row 3: bins = 12"):
        run(b)


def test_a_sheet_named_like_a_result_in_another_case_is_refused(book):
    book.add_sheet("crm log", [["mine"]])
    before = book.snapshot()
    with pytest.raises(InputError, match="'crm log' has the name of a result sheet"):
        run(book)
    assert book.snapshot() == before


def test_an_unsaved_workbook_gets_sheets_but_no_report_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    b = Book(fullname="Book1")
    b.add_sheet("Sales", sales_rows())
    macros.monthly_report(b)
    assert b.app.alerts == []  # no error
    assert "CRM Customers" in [s.name for s in b.sheets]
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere
    assert macros.report_folder("https://example.sharepoint.com/x/Book.xlsm") is None


# --- Excel fidelity and robustness (issues 15 and 16) ---------------------------------

HOSTILE_TEXT = ['=HYPERLINK("http://evil.example","click")', "+1", "+A1", "@SUM(A1)", "-abc",
                "-2", "00123", "1234567890123456789", "3-4", "1/2", "2025-03-01", "TRUE",
                "1e5", "50%", "(12)", "4-Mar"]


def small_book(tmp_path, rows, name="small.xlsm", settings=None):
    b = Book(fullname=str(tmp_path / name))
    b.add_sheet("Sales", rows)
    if settings:
        b.add_sheet("Settings", settings)
    return b


def hostile_rows():
    rows = [["Customer", "Date", "Amount", "Name"]]
    for i, text in enumerate(HOSTILE_TEXT):
        rows.append([text, dt.datetime(2025, 3, 1 + i), 10.0 + i, f"n{text}" if i % 2 else text])
    return rows


def column_values(book, sheet, header):
    values = book.sheets[sheet].used_range.value
    j = values[0].index(header)
    return [r[j] for r in values[1:]]


def test_text_cells_arrive_as_the_exact_text(tmp_path):
    book = small_book(tmp_path, hostile_rows())
    run(book)
    ids = column_values(book, "CRM Customers", "Customer")
    assert sorted(ids) == sorted(HOSTILE_TEXT)  # no formula, number, date or bool
    names = dict(zip(ids, column_values(book, "CRM Customers", "Name")))
    assert names == {t: (f"n{t}" if i % 2 else t) for i, t in enumerate(HOSTILE_TEXT)}
    assert all(type(v) is str for v in column_values(book, "CRM Customers", "RFM"))
    assert column_values(book, "CRM Customers", "Value")[0] == pytest.approx(25.0)
    for sheet in book.sheets:
        assert not any(isinstance(v, Formula) for v in sheet.cells.values()), sheet.name


def test_the_fake_types_text_like_excel_so_a_regression_fails(tmp_path):
    # the regression this guards: writing values without the text format first
    sheet = Book().add_sheet("S")
    sheet.range("A1").value = [HOSTILE_TEXT]
    got = [sheet.cells[(1, j)] for j in range(1, len(HOSTILE_TEXT) + 1)]
    assert got[:4] == ['=HYPERLINK("http://evil.example","click")', 1.0, "=+A1", "=SUM(A1)"]
    assert all(isinstance(v, Formula) for v in (got[0], got[2], got[3], got[4]))
    assert got[5:] == [-2.0, 123.0, 1.23456789012346e18, dt.datetime(2026, 3, 4),
                       dt.datetime(2026, 1, 2), dt.datetime(2025, 3, 1), True, 100000.0, 0.5,
                       -12.0, dt.datetime(2026, 3, 4)]
    sheet.range("A2:P2").number_format = "@"
    sheet.range("A2").value = [HOSTILE_TEXT]
    assert [sheet.cells[(2, j)] for j in range(1, 17)] == HOSTILE_TEXT


def test_mixed_columns_get_the_text_format_only_on_their_text_cells(tmp_path):
    book = small_book(tmp_path, hostile_rows())
    run(book)
    tiers = book.sheets["CRM ABC"]
    for (r, c), v in tiers.cells.items():
        assert (tiers.formats.get((r, c)) == "@") == isinstance(v, str), (r, c, v)
    log = dict(book.sheets["CRM Log"].used_range.value[1:])
    assert log["sales sheet"] == "Sales" and log["customers"] == len(HOSTILE_TEXT)


def test_control_characters_are_shown_and_the_workbook_changes_only_when_all_is_built(tmp_path):
    rows = [["Customer", "Date", "Amount", "Name"],
            ["c1", dt.datetime(2025, 3, 1), 5.0, "Bel\x07l"],
            ["c2", dt.datetime(2025, 3, 2), 6.0, "Nul\x00 Esc\x1b Tab\tok"]]
    book = small_book(tmp_path, rows)
    outcome = run(book, report_dir=tmp_path / "reports")
    assert column_values(book, "CRM Customers", "Name") == \
        ["Nul[U+0000] Esc[U+001B] Tab\tok", "Bel[U+0007]l"]
    assert outcome.report is not None or outcome.report_error.startswith("unexpected error")
    log = dict(book.sheets["CRM Log"].used_range.value[1:])
    assert log["report"] == (str(outcome.report) if outcome.report
                             else f"not saved: {outcome.report_error}")
    # a value no cell can hold is found before any sheet is touched
    book.sheets["Sales"].cells[(2, 4)] = "x" * 40_000
    before = book.snapshot()
    with pytest.raises(InputError) as err:
        run(book, report_dir=tmp_path / "reports")
    assert str(err.value) == ("CRM Customers cell B3: '" + "x" * 36 + "... has 40,000 "
                              "characters; an Excel cell holds at most 32,767")
    assert book.snapshot() == before


def test_an_id_with_a_control_character_changes_nothing(tmp_path):
    rows = [["Customer", "Date", "Amount"], ["ok", dt.datetime(2025, 3, 1), 5.0],
            ["b\x07d", dt.datetime(2025, 3, 2), 6.0]]
    book = small_book(tmp_path, rows)
    before = book.snapshot()
    macros.monthly_report(book)
    assert [a[0] for a in book.app.alerts] == [
        ("Customer (column A) row 3: 'b\\x07d' holds a control character (U+0007); ids must "
         "be plain text")]
    assert book.snapshot() == before


def test_two_workbooks_in_one_folder_keep_their_own_reports(tmp_path):
    rows = hostile_rows()
    for name in ("north.xlsm", "south (2).xlsm"):
        macros.monthly_report(small_book(tmp_path, rows, name))
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "north customer-value-2025-03.xlsx", "south (2) customer-value-2025-03.xlsx"]


def test_a_file_named_reports_costs_the_report_not_the_sheets(tmp_path):
    (tmp_path / "reports").write_text("mine")
    book = small_book(tmp_path, hostile_rows())
    macros.monthly_report(book)
    reason = (f"{tmp_path / 'reports'} is a file, not a folder; rename or move that file so "
              "that the reports folder can be made")
    assert [a[0] for a in book.app.alerts] == [
        f"The result sheets were written, but the report was not saved: {reason}"]
    assert dict(book.sheets["CRM Log"].used_range.value[1:])["report"] == f"not saved: {reason}"
    assert (tmp_path / "reports").read_text() == "mine"


@pytest.mark.parametrize("value,shown", [
    ("inf", "'inf'"), ("nan", "'nan'"), (5.5, "5.5"), ("five", "'five'"), (-1, "-1"),
    ("1e400", "'1e400'"), (float("inf"), "inf"), (True, "True"), (1, "1"), (10, "10")])
def test_bins_setting_refused_in_one_line(value, shown):
    with pytest.raises(InputError) as err:
        read_settings([["Setting", "Value"], ["bins", value]])
    assert str(err.value) == (f"Settings row 2: bins = {shown}: must be a whole number from "
                              "2 to 9 (scores per RFM measure)")


def test_bins_setting_accepts_whole_numbers_as_numbers_or_text():
    assert [read_settings([["bins", v]]).bins for v in (2, 9.0, "4", " 7 ")] == [2, 9, 4, 7]


def test_columns_setting_maps_headers(tmp_path):
    rows = [["Wer", "Wann", "Wieviel"], ["k1", dt.datetime(2025, 3, 1), 5.0],
            ["k2", dt.datetime(2025, 3, 2), 7.0]]
    settings = [["Setting", "Value"], ["columns", "customer=Wer; date=Wann;amount=Wieviel"]]
    outcome = run(small_book(tmp_path, rows, settings=settings))
    assert sorted(outcome.analysis.customers["customer"]) == ["k1", "k2"]
    assert read_settings([["columns", "customer=A, date=B,amount=C"]]).columns == \
        {"customer": "A", "date": "B", "amount": "C"}
    assert read_settings([["columns", "customer=Name, first;date=D"]]).columns == \
        {"customer": "Name, first", "date": "D"}
    with pytest.raises(InputError) as err:
        read_settings([["Setting", "Value"], ["columns", "customer"]])
    assert str(err.value) == ("Settings row 2: columns = 'customer': 'customer' is not "
                              "role=HEADER (e.g. customer=Kunde;date=Datum;amount=Betrag)")
    with pytest.raises(InputError) as err:
        read_settings([["columns", "date=A;Date=B"]])
    assert str(err.value) == ("Settings row 1: columns = 'date=A;Date=B': date is given twice "
                              "('A' and 'B')")
    settings[1][1] = "customer=Who;date=Wann;amount=Wieviel"
    with pytest.raises(InputError, match="the mapping names column 'Who' for customer"):
        run(small_book(tmp_path, rows, "b.xlsm", settings=settings))


def test_a_workbook_opened_by_url_gets_sheets_and_a_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    b = Book(fullname="https://contoso.sharepoint.com/sites/sales/Shared/monthly.xlsm")
    b.add_sheet("Sales", hostile_rows())
    macros.monthly_report(b)
    assert [a[0] for a in b.app.alerts] == [
        ("The result sheets were written, but the report was not saved: the workbook is opened "
        "from https:// (OneDrive or SharePoint), not from a folder on this computer; save a "
        "copy in a local folder (or sync the folder) to get the report file")]
    assert "CRM Customers" in [s.name for s in b.sheets]
    assert list(tmp_path.iterdir()) == []


# ---- the cell rules of the result sheets, on any rows (hypothesis) --------------------

class Text(str):
    """Text of a str subclass (numpy's str_ is one)."""


CELLS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                  st.builds(Text, st.text(max_size=3)),
                  st.floats(allow_nan=True, allow_infinity=True),
                  st.datetimes(dt.datetime(1950, 1, 1), dt.datetime(2100, 1, 1)),
                  st.text(max_size=6), st.sampled_from(["a\x07b", "x\ny", "\x1b", "plain"]))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(CELLS, max_size=5), max_size=8))
def test_text_blocks_cover_every_text_cell_and_nothing_else_but_blanks(rows):
    from xl_crm.ranges import text_blocks

    covered = set()
    for top, left, bottom, right in text_blocks(rows):
        for i in range(top, bottom + 1):
            for j in range(left, right + 1):
                assert (i, j) not in covered  # blocks do not overlap
                covered.add((i, j))
                v = rows[i - 1][j - 1] if j <= len(rows[i - 1]) else None
                assert v is None or isinstance(v, str)
    texts = {(i, j) for i, row in enumerate(rows, 1) for j, v in enumerate(row, 1)
             if isinstance(v, str)}
    assert texts <= covered


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(CELLS, max_size=5), max_size=8))
def test_checked_sheets_keep_plain_cells_show_controls_and_refuse_the_rest(rows):
    from xl_crm.monthly.book import checked_sheets
    from xl_crm.ranges import cell_text

    bad = [(i, j) for i, row in enumerate(rows) for j, v in enumerate(row)
           if isinstance(v, float) and not math.isfinite(v)]
    given_rows = [list(r) for r in rows]
    if bad:
        i, j = bad[0]
        with pytest.raises(InputError, match=rf"^S cell {chr(65 + j)}{i + 1}: .* cannot be written"):
            checked_sheets({"S": given_rows})
        return
    out = checked_sheets({"S": given_rows})["S"]
    assert out == [[cell_text(v) if isinstance(v, str) else v for v in row] for row in rows]
