"""The button job and macro, driven through an in-memory stand-in for xlwings' book.

Everything behind the stand-in (reading, analysis, report file, mail) runs for real.
"""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook

from xl_crm import macros
from xl_crm.core.errors import InputError
from xl_crm.monthly import PREFIX, SETTINGS, read_settings, run

from .conftest import SAMPLE_ZH
from .fake_xlwings import Book, Table


def sales_rows():
    ws = load_workbook(SAMPLE_ZH, read_only=True)["销售"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return [r for r in rows if any(v is not None for v in r)]  # the stand-in drops blanks


def settings_rows(**values):
    rows = [["Setting", "Value", "Meaning"]]
    for name, (default, meaning) in SETTINGS.items():
        rows.append([name, values.get(name, default), meaning])
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
    assert crm_sheets(book) == ["CRM Customers", "CRM ABC", "CRM Strategy", "CRM Log"]
    for name in ("Notes", "销售", "Settings"):
        assert book.sheets[name].cells == before[name], name
    customers = book.sheets["CRM Customers"].used_range.value
    assert customers[0][:3] == ["Customer", "Name", "Region"]
    assert len(customers) - 1 == len(outcome.analysis.customers) == 335
    log = dict(book.sheets["CRM Log"].used_range.value[1:])
    assert log["rows read"] == 2276 and log["sales sheet"] == "销售"
    assert log["report"].startswith("not saved")


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
    assert crm_sheets(book) == ["CRM Customers", "CRM ABC", "CRM Strategy", "CRM Log"]
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
    with pytest.raises(InputError, match=r"Settings row 4: bins = 12: bins must be a whole"):
        read_settings(settings_rows(bins=12))
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
    report = tmp_path / "reports" / "customer-value-2026-10.xlsx"
    assert report.exists()
    prompts = [a[0] for a in book.app.alerts]
    assert prompts[0] == "Email customer-value-2026-10.xlsx to boss@example.com?"
    assert prompts[1] == "sent to boss@example.com"
    (_, recipients, _), = smtp.mails
    assert recipients == ["boss@example.com"]
    assert not (tmp_path / "monthly.xlsm").exists()  # the workbook file is never written


def test_dates_in_the_log_and_sheet_values_are_plain_python(book):
    run(book)
    values = book.sheets["CRM Customers"].used_range.value
    assert isinstance(values[1][3], dt.datetime)
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
