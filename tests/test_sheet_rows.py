"""The table rows the report streams as sheet XML (xl_crm.report.sheet_rows), read back the
way Excel reads them: the cell types in the XML, and the values through openpyxl and
python-calamine. Expected values are the inputs themselves (text as
``layout.cell_text`` stores it)."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.utils.escape import unescape
from python_calamine import CalamineWorkbook

from xl_crm.report import discard
from xl_crm.report.layout import DATE, MONEY, Styler, cell_value, table_rows, write_table
from xl_crm.report.sheet_rows import ROWS_FILE, TableRows

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
TEXTS = ['=HYPERLINK("http://evil.example/","open")', "=1+1", "#N/A", "#DIV/0!", "TRUE",
         "00123", " leading", "trailing ", "a\r\nb", "tab\there", "<b>&amp;</b>", "x > y",
         "Bel\x07l", "literal _x0041_", "张三", "O'Brien", 'say "hi"', "ID-🙂",
         "{0} and {name}}", ""]


def _book(tmp_path, columns, formats, widths=None):
    book = Workbook(write_only=True)
    ws = book.create_sheet("T")
    s = Styler(ws, "en")
    n = write_table(ws, s, ["Text", "Number", "Date", "Flag"],
                    table_rows(s, columns, formats, widths), "T", set())
    path = tmp_path / "t.xlsx"
    book.save(path)
    return path, n


def test_text_stays_text_and_every_value_reads_back(tmp_path):
    texts = [cell_value(t) for t in TEXTS]
    numbers = [i * 1.1 - 3 for i in range(len(texts) - 1)] + [None]
    dates = [dt.datetime(1900, 1, 1) + dt.timedelta(days=40 * i) for i in range(len(texts))]
    dates[-1] = dt.datetime(2026, 10, 31)
    flags = [i % 2 == 0 for i in range(len(texts))]
    path, n = _book(tmp_path, [texts, numbers, dates, flags], ["text", MONEY, DATE, None])
    assert n == len(texts)

    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    cells = ElementTree.fromstring(xml).iter(f"{MAIN}c")
    text_types = [c.get("t") for c in cells if re.fullmatch(r"A\d+", c.get("r"))]
    assert text_types == ["inlineStr"] * (len(texts) + 1)  # never a formula or an error
    assert "<f>" not in xml and 't="e"' not in xml
    assert "&#13;" in xml  # a carriage return survives an XML reader

    ws = load_workbook(path)["T"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [r[0] or "" for r in rows] == texts  # openpyxl reads "" as an empty cell
    assert [r[1] for r in rows] == numbers  # the same doubles, to the last bit
    assert [r[2] for r in rows] == dates  # 1900-01-01 is serial 1 (before the 1900 leap bug)
    assert [r[3] for r in rows] == flags
    assert ws["B2"].number_format == MONEY and ws["C2"].number_format == DATE
    assert ws["B2"].font.name == ws["A2"].font.name == "Calibri"

    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("T").to_python()
    shown = [r[0] for r in sheet[1:]]
    # python-calamine (0.5.4 and later, the versions supported) decodes OOXML's _xHHHH_
    # escape as Excel does: the typed "_x0041_" reads back as typed
    assert shown[13] == "literal _x0041_"
    assert shown == [unescape(t) for t in texts]  # as Excel shows
    assert shown[12] == "Bel\u2407l"
    assert sheet[1][2] == dt.date(1900, 1, 1) or sheet[1][2] == dt.datetime(1900, 1, 1)


def test_wrapped_rows_get_their_height_and_an_empty_table_is_a_table(tmp_path):
    long = "word " * 40
    path, n = _book(tmp_path, [["short", long], [1, 2], [None, None], [None, None]],
                    ["wrap", None, None, None], widths=[20, 8, 8, 8])
    ws = load_workbook(path)["T"]
    assert ws.row_dimensions[2].height == 13.5 and ws.row_dimensions[3].height > 13.5
    assert ws["A3"].alignment.wrap_text
    path, n = _book(tmp_path, [[], [], [], []], ["text", None, None, None])
    ws = load_workbook(path)["T"]
    assert n == 0 and ws.tables["T"].ref == "A1:D2" and ws.max_row == 1


def test_numpy_and_pandas_scalars_are_written_as_their_plain_values(tmp_path):
    import pandas as pd

    class Label(str):
        pass

    values = [np.float64(2.5), np.int64(7), np.bool_(True), pd.Timestamp("2026-10-31"),
              dt.date(2025, 3, 1), Label("=SUM(A1)")]
    path, _ = _book(tmp_path, [values, [None] * 6, [None] * 6, [None] * 6],
                    [None, None, None, None])
    got = [r[0] for r in load_workbook(path)["T"].iter_rows(min_row=2, values_only=True)]
    serial = [(d - dt.date(1899, 12, 30)).days for d in (dt.date(2026, 10, 31),
                                                          dt.date(2025, 3, 1))]
    assert serial == [46326, 45717]  # days since 1899-12-30; no date format in the column
    assert got == [2.5, 7, True, *serial, "=SUM(A1)"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object(), np.float64("nan")])
def test_a_value_no_cell_holds_is_refused(tmp_path, bad):
    book = Workbook(write_only=True)
    ws = book.create_sheet("T")
    ws.append(["h"])
    with pytest.raises((ValueError, TypeError)):
        TableRows([0], book.epoch).add([[1.0, bad]])
    assert getattr(ws, ROWS_FILE, None) is None  # nothing was started on the sheet
    discard(book)


def test_rows_made_once_are_written_on_several_sheets_in_the_order_selected(tmp_path):
    book = Workbook(write_only=True)
    sheets = [book.create_sheet(name) for name in ("All", "Some", "None")]
    s = Styler(sheets[0], "en")
    names = ["a {0}", "b", "c }{", "d"]
    table = table_rows(s, [names, [1.5, 2.5, None, 4.0]], ["text", MONEY])
    written = [write_table(ws, Styler(ws, "en"), ["Name", "Amount"], table, ws.title, set(),
                           select=select)
               for ws, select in zip(sheets, (None, np.array([3, 1]), np.array([], int)))]
    path = tmp_path / "t.xlsx"
    book.save(path)
    assert written == [4, 2, 0]
    got = load_workbook(path)
    assert [list(r) for r in got["All"].iter_rows(min_row=2, values_only=True)] == \
        [["a {0}", 1.5], ["b", 2.5], ["c }{", None], ["d", 4.0]]
    assert [list(r) for r in got["Some"].iter_rows(min_row=2, values_only=True)] == \
        [["d", 4.0], ["b", 2.5]]  # rows 2 and 3 of their sheet
    assert got["Some"]["A2"].number_format == "General" and \
        got["Some"]["B2"].number_format == MONEY
    assert got["None"].max_row == 1 and got["None"].tables["None"].ref == "A1:B2"


def test_a_failed_write_leaves_no_rows_file(tmp_path):
    book = Workbook(write_only=True)
    ws = book.create_sheet("T")
    s = Styler(ws, "en")
    table = table_rows(s, [["x"]], ["text"])
    table.templates.append("<row>{1}</row>")  # a template that cannot be filled in
    with pytest.raises(IndexError):
        write_table(ws, s, ["Name"], table, "T", set())
    assert getattr(ws, ROWS_FILE) is None  # the rows written so far are deleted
    discard(book)


column_values = st.one_of(
    st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))),
    st.lists(st.integers(-10**20, 10**20)),
    st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)),
    st.lists(st.sampled_from(["plain", " lead", "trail ", "a&b", "<x>", "{0}", "}{", "\r"])))


@settings(max_examples=200, deadline=None)
@given(column_values, st.sampled_from([0, 7]))
def test_a_column_of_one_kind_gives_the_cells_made_one_by_one(values, style):
    from xl_crm.report.sheet_rows import _Column

    column = _Column("D", style, dt.datetime(1899, 12, 30))
    assert column.cells(values) == column.each(values)


def test_a_column_of_numbers_refuses_what_a_cell_cannot_hold():
    from xl_crm.report.sheet_rows import _Column

    column = _Column("D", 0, dt.datetime(1899, 12, 30))
    for values in ([1.0, float("nan")], [None, float("inf")], [-float("inf")]):
        with pytest.raises(ValueError, match="column D: a cell cannot hold"):
            column.cells(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(float("nan")), st.floats(-5, 5),
                          st.text(max_size=6), st.sampled_from(["_x0041_", "a\x07", "b_", "x"]))),
       st.sampled_from(["object", "str", "category"]))
def test_a_column_of_text_gives_the_values_made_one_by_one(values, dtype):
    import pandas as pd

    from xl_crm.report.layout import column_values

    if dtype != "object":  # pandas' text and category columns hold text and blanks only
        values = [v for v in values if not isinstance(v, float)]
    series = pd.Series(values, dtype=dtype)
    assert column_values(series) == [cell_value(v) for v in series.tolist()]
