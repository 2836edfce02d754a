"""The fast workbook reader (python-calamine, xl_crm.xlsx_fast) gives exactly what the
openpyxl reader gives, and leaves to openpyxl every sheet it cannot read the same way."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from tests.conftest import SAMPLE
from xl_crm import xlsx_fast
from xl_crm.core.errors import InputError
from xl_crm.files import read_sales

TODAY = dt.date(2026, 11, 22)


def _both(path: Path, monkeypatch, **kw):
    """(fast, openpyxl) readings of ``path``: Sales, or the InputError text."""
    def read():
        try:
            return read_sales(path, today=TODAY, **kw)
        except InputError as err:
            return str(err)

    fast = read()
    with monkeypatch.context() as m:
        m.setattr(xlsx_fast, "available", lambda: False)
        slow = read()
    return fast, slow


def _same(fast, slow) -> None:
    if isinstance(slow, str):
        assert fast == slow
        return
    pd.testing.assert_frame_equal(fast.transactions, slow.transactions)
    assert (fast.columns, fast.blank_rows, fast.source) == \
        (slow.columns, slow.blank_rows, slow.source)


def _book(path: Path, rows, title: str = "Sales", at: str = "A1") -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    col = ord(at[0]) - 65
    top = int(at[1:])
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v is not None:
                ws.cell(top + i, col + j + 1, v)
    wb.save(path)
    return path


def test_the_sample_reads_fast_and_a_workbook_like_it_reads_the_same(small_sample,
                                                                      monkeypatch):
    # the shipped sample takes the fast reader; the same model's workbook with 300
    # customers (columns, layout and cell kinds of the sample; the openpyxl reader takes
    # 3.5 s for the sample's 36,546 lines) reads the same either way
    assert xlsx_fast.available()
    assert xlsx_fast.fast_rows(SAMPLE, lambda names: names[0], None) is not None
    assert xlsx_fast.fast_rows(small_sample, lambda names: names[0], None) is not None
    _same(*_both(small_sample, monkeypatch))


cells = st.one_of(
    st.none(), st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=6),
    st.integers(-10**6, 10**6),
    st.floats(-1e9, 1e9, allow_nan=False), st.booleans(),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2026, 11, 1)),
    st.sampled_from(["2025-03-01", "3/4/2025", "00123", "1,234.5", "=A1", " x ", "#N/A",
                     "a_x0041_", "_x005F_x0041_b"]))  # stored as typed: Excel decodes them


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(cells, cells, cells, cells), min_size=1, max_size=8),
       st.sampled_from(["A1", "C3"]))
def test_any_sheet_reads_the_same_either_way(tmp_path_factory, monkeypatch, rows, at):
    path = tmp_path_factory.mktemp("fast") / "s.xlsx"
    _book(path, [("Customer", "Date", "Amount", "Order"), *rows], at=at)
    _same(*_both(path, monkeypatch))


def test_an_error_cell_goes_to_openpyxl_and_is_named(tmp_path, monkeypatch):
    path = tmp_path / "e.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Customer", "Date", "Amount"])
    ws.append(["a", dt.datetime(2025, 1, 2), 5])
    ws.append(["b", dt.datetime(2025, 1, 3), 7])
    ws["C3"].value, ws["C3"].data_type = "#N/A", "e"
    wb.save(path)
    assert xlsx_fast.fast_rows(path, lambda names: names[0], None) is None
    fast, slow = _both(path, monkeypatch)
    assert isinstance(slow, str) and "#N/A" in slow
    assert fast == slow


def test_an_error_cell_as_an_id_is_refused_not_made_a_customer(tmp_path):
    # a failed VLOOKUP leaves #N/A in the customer column: read as text, two unrelated
    # rows would become one customer called "#N/A"
    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Customer", "Order ID", "Date", "Amount"])
    for i, (customer, order) in enumerate([("C1", "O1"), ("C2", "O2"), ("C3", "O3"),
                                           ("C4", "O4")]):
        ws.append([customer, order, dt.datetime(2026, 1, 5 + i), 10 * (i + 1)])
    ws["B4"].value, ws["B4"].data_type = "#REF!", "e"
    path = tmp_path / "ids.xlsx"
    wb.save(path)
    with pytest.raises(InputError, match=r"^ids.xlsx \[Sales\]: Order ID \(column B\) row 4: "
                                         r"the cell shows #REF!; correct or clear it$"):
        read_sales(path, today=dt.date(2026, 2, 1))
    ws["A3"].value, ws["A3"].data_type = "#N/A", "e"  # the customer is checked first
    wb.save(path)
    with pytest.raises(InputError, match=r"Customer \(column A\) row 3: the cell shows #N/A"):
        read_sales(path, today=dt.date(2026, 2, 1))


def test_a_formula_without_a_value_goes_to_openpyxl(tmp_path, monkeypatch):
    path = _book(tmp_path / "f.xlsx", [("Customer", "Date", "Amount"),
                                       ("a", dt.datetime(2025, 1, 2), "=2*3")])
    assert xlsx_fast.fast_rows(path, lambda names: names[0], None) is None
    fast, slow = _both(path, monkeypatch)
    assert "holds a formula without a computed value" in fast and fast == slow


def test_a_huge_integer_id_is_left_to_openpyxl(tmp_path, monkeypatch):
    """calamine reads every number as a float; an id of 2**53 or more goes to the openpyxl
    reader, whose rules (text_ids) decide it."""
    path = _book(tmp_path / "i.xlsx", [("Customer", "Date", "Amount"),
                                       (1234567890123456789, dt.datetime(2025, 1, 2), 5)])
    assert xlsx_fast.fast_rows(path, lambda names: names[0], None) is None
    _same(*_both(path, monkeypatch))


def test_dates_before_march_1900_go_to_openpyxl(tmp_path, monkeypatch):
    path = _book(tmp_path / "d.xlsx", [("Customer", "Date", "Amount"),
                                       ("a", dt.datetime(1900, 2, 27), 5)])
    assert xlsx_fast.fast_rows(path, lambda names: names[0], None) is None
    _same(*_both(path, monkeypatch))


def test_the_1904_date_system_reads_the_same(tmp_path, monkeypatch):
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    wb = Workbook()
    wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Customer", "Date", "Amount"])
    ws.append(["a", dt.datetime(2025, 1, 2), 5])
    ws.append(["b", 44000, 3])  # a plain number in the date column: a 1904 serial
    path = tmp_path / "m.xlsx"
    wb.save(path)
    fast = xlsx_fast.fast_rows(path, lambda names: names[0], None)
    assert fast is not None and fast[2] is True
    a, b = _both(path, monkeypatch)
    _same(a, b)
    assert [d.date() for d in a.transactions["date"]] == [dt.date(2025, 1, 2),
                                                          dt.date(2024, 6, 19)]


def test_a_missing_sheet_is_named_the_same_way(tmp_path, monkeypatch):
    path = _book(tmp_path / "s.xlsx", [("Customer", "Date", "Amount")])
    fast, slow = _both(path, monkeypatch, sheet="Nope")
    assert fast == slow == "no sheet named 'Nope'; the sheets are ['Sales']"


def test_a_negative_serial_goes_to_openpyxl(tmp_path, monkeypatch):
    """A date before 1900 is a negative serial, which calamine reads as a time of day."""
    path = _book(tmp_path / "n.xlsx", [("Customer", "Date", "Amount"),
                                       ("a", dt.datetime(202, 3, 1), 5)])
    assert xlsx_fast.fast_rows(path, lambda names: names[0], None) is None
    fast, slow = _both(path, monkeypatch)
    assert fast == slow and "is before 1900-01-01" in fast


# ---- the read started ahead (xlsx_fast.read_ahead) ---------------------------------------

def _rows_of(path: Path, sheet: str | None = None):
    from xl_crm.core.columns import pick_sheet

    return xlsx_fast.fast_rows(path, lambda names: pick_sheet(names, sheet), None)


def test_a_read_ahead_gives_the_rows_of_a_plain_read(tmp_path):
    path = _book(tmp_path / "a.xlsx", [("Customer", "Date", "Amount"),
                                       ("a", dt.datetime(2025, 1, 2), 5)])
    plain = _rows_of(path)
    xlsx_fast.read_ahead(path, None)
    ahead = xlsx_fast._ahead
    assert ahead is not None and ahead.path == path
    assert _rows_of(path) == plain
    assert isinstance(ahead.outcome[0], xlsx_fast._Raw)  # the rows came from the thread
    assert not ahead.thread.is_alive() and xlsx_fast._ahead is None  # taken once


def test_a_read_ahead_is_not_taken_for_another_file_sheet_or_a_changed_file(tmp_path):
    first = _book(tmp_path / "a.xlsx", [("Customer", "Date", "Amount"), ("a", 45000, 5)])
    second = _book(tmp_path / "b.xlsx", [("Customer", "Date", "Amount"), ("b", 45000, 7)])
    xlsx_fast.read_ahead(first, None)
    assert _rows_of(second)[0][1] == ["b", 45000, 7]  # another file: read, not taken
    assert xlsx_fast._ahead is None  # and the other read is dropped

    xlsx_fast.read_ahead(first, "Other")  # no such sheet: the read raises in its thread
    xlsx_fast._ahead.thread.join()
    assert isinstance(xlsx_fast._ahead.outcome[0], InputError)
    assert _rows_of(first)[0][1] == ["a", 45000, 5]  # the reader reads its own sheet
    xlsx_fast.read_ahead(first, None)
    with pytest.raises(InputError, match="no sheet named 'Other'"):
        _rows_of(first, "Other")  # and names its own missing sheet

    xlsx_fast.read_ahead(first, None)
    xlsx_fast._ahead.thread.join()
    _book(first, [("Customer", "Date", "Amount"), ("a", 45000, 6), ("c", 45001, 1)])
    os.utime(first, ns=(1, 1))  # a copy over the file: another size and time
    assert _rows_of(first)[0][1:] == [["a", 45000, 6], ["c", 45001, 1]]


def test_the_command_line_reads_a_workbook_ahead(tmp_path, monkeypatch, capsys):
    from xl_crm import cli

    started = []
    monkeypatch.setattr(xlsx_fast, "read_ahead",
                        lambda path, sheet: started.append((path, sheet)))
    assert cli.main(["analyze", str(SAMPLE)]) == 0
    assert cli.main(["analyze", str(SAMPLE), "--engine", "duckdb"]) == 1  # not for DuckDB
    assert started == [(SAMPLE, None)]
    capsys.readouterr()


def test_the_parse_runs_beside_the_look_for_formulas_and_its_failure_falls_back(
        tmp_path, monkeypatch):
    import threading

    path = _book(tmp_path / "s.xlsx", [("Customer", "Date", "Amount"),
                                        ("a", dt.datetime(2025, 3, 1), 5)])
    parsed, seen = threading.Event(), []
    read, look = xlsx_fast._Parse._read, xlsx_fast._needs_care

    def read_and_say(self):
        read(self)
        parsed.set()

    def needs_care(archive, member):  # the parse is under way before the look ends
        seen.append(parsed.wait(timeout=30))
        return look(archive, member)

    monkeypatch.setattr(xlsx_fast._Parse, "_read", read_and_say)
    monkeypatch.setattr(xlsx_fast, "_needs_care", needs_care)
    raw = xlsx_fast._calamine(path, lambda names: names[0])
    assert raw.rows == [["Customer", "Date", "Amount"], ["a", dt.date(2025, 3, 1), 5.0]]
    assert seen == [True]
    monkeypatch.undo()
    # no thread to be had: the parse is done in the caller's thread after the look, and
    # not at all for a sheet the openpyxl reader must read
    monkeypatch.setattr(threading.Thread, "start",
                        lambda self: (_ for _ in ()).throw(RuntimeError("no threads")))
    assert xlsx_fast._calamine(path, lambda names: names[0]).rows == raw.rows
    parsed.clear()
    monkeypatch.setattr(xlsx_fast._Parse, "_read", read_and_say)
    monkeypatch.setattr(xlsx_fast, "_needs_care", lambda archive, member: True)
    assert xlsx_fast._calamine(path, lambda names: names[0]).rows is None
    assert not parsed.is_set()
    monkeypatch.undo()
    # a parse that fails (calamine's error, raised again in the caller's thread) leaves
    # the sheet to the openpyxl reader, which names what is wrong
    from python_calamine import CalamineError

    def fail(self):
        self.outcome.append(CalamineError("broken"))

    monkeypatch.setattr(xlsx_fast._Parse, "_read", fail)
    failed = xlsx_fast._calamine(path, lambda names: names[0])
    assert failed.rows is None and failed.name == "Sales"
    monkeypatch.undo()
    # a sheet the openpyxl reader must read: the parse is left to end on its own, and
    # makes no rows (here held back until it is cancelled, as a large sheet's is)
    made, cancelled = [], threading.Event()
    start, read, cancel = (xlsx_fast._Parse.__init__, xlsx_fast._Parse._read,
                           xlsx_fast._Parse.cancel)

    def remember(self, *args):
        made.append(self)
        start(self, *args)

    def read_when_cancelled(self):
        cancelled.wait(timeout=30)
        read(self)

    def cancel_and_say(self):
        cancel(self)
        cancelled.set()

    monkeypatch.setattr(xlsx_fast._Parse, "__init__", remember)
    monkeypatch.setattr(xlsx_fast._Parse, "_read", read_when_cancelled)
    monkeypatch.setattr(xlsx_fast._Parse, "cancel", cancel_and_say)
    wb = Workbook()
    wb.active.append(["Customer", "Date", "Amount"])
    wb.active.append(["a", dt.datetime(2025, 3, 1), "=1/0"])
    wb.save(tmp_path / "e.xlsx")
    assert xlsx_fast._calamine(tmp_path / "e.xlsx", lambda names: names[0]).rows is None
    (parse,) = made
    assert parse.cancelled and parse.thread is not None
    parse.thread.join()
    assert parse.outcome == []


def _with_stored_strings(path: Path, shared: list[str], cells: dict[str, str]) -> Path:
    """The workbook at ``path`` with a shared-string table of the ``<si>`` bodies
    ``shared`` and the cells ``cells`` (reference: XML of the cell's content) as stored
    XML, the way Excel writes text openpyxl's writer does not (escapes, rich runs)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, xml in cells.items():
        sheet, count = re.subn(rf'<c r="{ref}"[^>]*?(?:/>|>.*?</c>)', xml, sheet)
        assert count == 1, ref
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    parts["xl/sharedStrings.xml"] = (f'<sst xmlns="{main}">'
                                     + "".join(f"<si>{s}</si>" for s in shared)
                                     + "</sst>").encode()
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}"/>'
                     "</Types>".encode())
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        f'<Relationship Id="rIdSST" Type="{rel}" Target="sharedStrings.xml"/>'
        "</Relationships>".encode())
    out = path.with_name("stored-" + path.name)
    with zipfile.ZipFile(out, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out


def test_text_reads_as_excel_shows_it_on_both_readers(tmp_path, monkeypatch):
    """OOXML's _xHHHH_ escape (a character XML cannot hold, e.g. _x000D_ for a carriage
    return) is decoded, _x005F_ being an escaped "_": Excel shows the stored
    P_x005F_x0041_Q as P_x0041_Q, as typed. Shared and inline strings alike; rich text
    runs joined, phonetic runs left out."""
    rows = [("Customer", "Date", "Amount", "Customer Name")] + [
        (f"c{i}", dt.datetime(2025, 3, 1 + i), 5 + i, f"n{i}") for i in range(5)]
    path = _with_stored_strings(_book(tmp_path / "t.xlsx", rows), [
        "<t>X_x0041_Y</t>", "<t>P_x005F_x0041_Q</t>",
        "<r><t>Ri</t></r><r><rPr><b/></rPr><t>ch</t></r><rPh sb=\"0\" eb=\"1\"><t>ふ</t></rPh>",
        "<t>Line_x000D_\nbreak</t>"], {
        "A2": '<c r="A2" t="s"><v>0</v></c>', "A3": '<c r="A3" t="s"><v>1</v></c>',
        "A4": '<c r="A4" t="s"><v>2</v></c>',
        "A5": '<c r="A5" t="inlineStr"><is><t>U_x005F_x005F_V</t></is></c>',
        "D6": '<c r="D6" t="s"><v>3</v></c>'})
    fast, slow = _both(path, monkeypatch)
    _same(fast, slow)
    tx = fast.transactions
    assert sorted(tx["customer"]) == ["P_x0041_Q", "Rich", "U_x005F_V", "XAY", "c4"]
    assert tx.loc[tx["customer"] == "c4", "name"].item() == "Line\r\nbreak"
