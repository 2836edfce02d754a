"""The report as Excel reads it (issue 16): the XML of the charts, the computed values
stored with every formula, the calculation settings, and the key figures kept where
Office does not cut them. LibreOffice forgives all of these; Excel does not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import zipfile
from xml.etree import ElementTree

import pytest
from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty

from tests.conftest import SAMPLE
from tests.readback import sheets
from xl_crm.core.errors import InputError
from xl_crm.report import (
    DATA_SHEET,
    EXCEL_CALC_ID,
    SUMMARY_PROPERTY,
    ReportOptions,
    read_summary,
    report_summary,
    write_report,
)
from xl_crm.report.cached import fill_formula_values
from xl_crm.report.clv_sheet import ROWS

CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
AXES = ("catAx", "valAx", "dateAx", "serAx")


@pytest.fixture(scope="module")
def report_path(sample_analysis, tmp_path_factory):
    return write_report(sample_analysis, tmp_path_factory.mktemp("xml") / "report.xlsx",
                        ReportOptions(tiers=("abc", "pyramid")))


def test_every_chart_axis_is_shown(report_path):
    with zipfile.ZipFile(report_path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 4  # the Summary's trend, the Distributions' three
        trend = [n for n in charts if b"'Changes'!$A$6:$A$17" in z.read(n)]
        assert len(trend) == 1  # net sales per month, from the Changes sheet's trend table
        assert {b"'Changes'!$B$6:$B$17", b"'Changes'!$C$6:$C$17"} <= set(
            re.findall(rb"<(?:c:)?f>([^<]*)</(?:c:)?f>", z.read(trend[0])))
        for name in charts:
            root = ElementTree.fromstring(z.read(name))
            axes = [a for kind in AXES for a in root.iter(f"{CHART}{kind}")]
            assert len(axes) >= 2, name
            for axis in axes:
                delete = axis.find(f"{CHART}delete")
                assert delete is not None and delete.get("val") == "0", (name, axis.tag)


def test_every_number_format_is_one_excel_reads(report_path):
    # Excel's format codes: digits placeholders, separators, signs, %, date and time
    # letters; any other letter must be quoted or escaped, or Excel repairs styles.xml
    # ("text", once written for the action list's user text, is not a format)
    with zipfile.ZipFile(report_path) as z:
        styles = ElementTree.fromstring(z.read("xl/styles.xml"))
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    codes = [f.get("formatCode") for f in styles.iter(f"{main}numFmt")]
    assert codes and "yyyy-mm-dd" in codes
    for code in codes:
        bare = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code)  # quoted, escaped, [colour]
        assert re.fullmatch(r"[0#?.,%;+\-/:() $@E ymdhsAMP]*", bare), code


def test_every_formula_has_its_computed_value(report_path, sample_analysis):
    # read as Excel reads the file: every <c> with an <f> also stores its value in a <v>
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    count = 0
    with zipfile.ZipFile(report_path) as z:
        for name in z.namelist():
            if not re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                continue
            for cell in ElementTree.fromstring(z.read(name)).iter(f"{ns}c"):
                if cell.find(f"{ns}f") is not None:
                    count += 1
                    stored = cell.find(f"{ns}v")
                    assert cell.get("t") in (None, "n"), (name, cell.get("r"))
                    assert stored is not None and math.isfinite(float(stored.text)), \
                        (name, cell.get("r"))
    # 3 ABC tiers x 14 rows x 5 years
    assert count == len(sample_analysis.clv) * len(ROWS) * 5
    # the stored numbers are the core's: the last row of the tier A block
    row = next(r for r in sheets(report_path)["CLV"] if r[0] == "Lifetime value per customer")
    stored = row[1:6]
    expected = sample_analysis.clv["A"].table().loc["Lifetime value per customer"].tolist()
    assert stored == pytest.approx(expected, rel=1e-12)


def test_rfm_codes_carry_no_number_stored_as_text_marks(report_path, sample_analysis):
    """Excel flags text that looks like a number ("545") with a green triangle unless the
    sheet lists the range in <ignoredErrors>, in its place after the header/footer."""
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    book = sheets(report_path)
    customer_sheets = [n for n in book if n.startswith(("Tier", "Customers", "VIP", "Major",
                                                        "Ordinary", "Small"))]
    with zipfile.ZipFile(report_path) as z:
        for i, name in enumerate(book, start=1):
            root = ElementTree.fromstring(z.read(f"xl/worksheets/sheet{i}.xml"))
            ignored = root.find(f"{ns}ignoredErrors")
            if name not in customer_sheets:
                assert ignored is None, name
                continue
            header = book[name][0]
            column = chr(ord("A") + header.index("RFM"))
            rows = len(book[name])
            (item,) = list(ignored)
            assert (item.get("sqref"), item.get("numberStoredAsText")) == (
                f"{column}2:{column}{rows}", "1"), name
            tags = [child.tag.removeprefix(ns) for child in root]
            assert tags.index("headerFooter") < tags.index("ignoredErrors") < \
                tags.index("tableParts")
    assert len(customer_sheets) == 8  # A, B, C, the four pyramid tiers, Customers


def test_excel_opens_it_without_recalculating(report_path):
    with zipfile.ZipFile(report_path) as z:
        book = z.read("xl/workbook.xml").decode()
    calc = re.search(r"<calcPr[^>]*/>", book).group(0)
    assert f'calcId="{EXCEL_CALC_ID}"' in calc
    assert 'fullCalcOnLoad="1"' not in calc


def test_fill_formula_values_touches_only_the_named_empty_formulas():
    xml = ('<row r="1"><c r="A1" t="n"><v>3</v></c><c r="B1" s="2"><f>A1*2</f><v /></c>'
           '<c r="C1"><f>B1+1</f><v/></c></row>')
    assert fill_formula_values(xml, {"B1": 6.0}) == (
        '<row r="1"><c r="A1" t="n"><v>3</v></c><c r="B1" s="2"><f>A1*2</f><v>6.0</v></c>'
        '<c r="C1"><f>B1+1</f><v/></c></row>')
    with pytest.raises(ValueError, match="no empty formula cell"):
        fill_formula_values(xml, {"A1": 1.0})
    with pytest.raises(ValueError, match="finite"):
        fill_formula_values(xml, {"B1": float("nan")})
    # openpyxl writing through lxml writes the empty value as <v></v>
    lxml_style = '<row r="1"><c r="B1"><f>A1*2</f><v></v></c></row>'
    assert fill_formula_values(lxml_style, {"B1": 6.0}) == \
        '<row r="1"><c r="B1"><f>A1*2</f><v>6.0</v></c></row>'


@pytest.mark.parametrize("lxml", ["True", "False"])
def test_the_report_is_written_with_and_without_lxml(tmp_path, lxml):
    """openpyxl writes through lxml when it is installed (a dependency) and OPENPYXL_LXML
    allows it; the CLV sheet's cached values are stored either way."""
    import os
    import subprocess
    import sys

    code = ("import openpyxl.xml, sys\n"
            "from xl_crm.engines import analyze_path\n"
            "from xl_crm.report import write_report\n"
            "a = analyze_path(sys.argv[1])\n"
            "write_report(a, sys.argv[2])\n"
            "print(openpyxl.xml.LXML)\n")
    out = tmp_path / "r.xlsx"
    run = subprocess.run([sys.executable, "-c", code, str(SAMPLE), str(out)], check=False,
                         text=True,
                         capture_output=True, env={**os.environ, "OPENPYXL_LXML": lxml})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == lxml
    clv = sheets(out)["CLV"]  # the stored values, as a reader that never calculates
    row = next(r for r in clv if r[0] == "Lifetime value per customer")
    assert isinstance(row[1], float)  # a cached formula value, not empty


def test_key_figures_beyond_255_characters_round_trip(report_path, sample_analysis):
    with zipfile.ZipFile(report_path) as z:
        workbook = z.read("xl/workbook.xml").decode()
        custom = z.read("docProps/custom.xml") if "docProps/custom.xml" in z.namelist() \
            else b""
    (sheet,) = re.findall(rf'<sheet [^>]*name="{DATA_SHEET}"[^>]*/>', workbook)
    assert 'state="veryHidden"' in sheet
    assert SUMMARY_PROPERTY.encode() not in custom
    stored = "".join(r[0] for r in sheets(report_path)[DATA_SHEET])
    assert len(stored) > 255
    assert read_summary(report_path) == report_summary(sample_analysis)


def test_a_report_of_the_first_release_is_still_read(sample_analysis, tmp_path):
    """Reports before this change kept the figures in a custom document property."""
    old = tmp_path / "old.xlsx"
    book = Workbook()
    summary = report_summary(sample_analysis, "zh")
    book.custom_doc_props.append(StringProperty(
        name=SUMMARY_PROPERTY, value=json.dumps(dataclasses.asdict(summary), ensure_ascii=False)))
    book.save(old)
    assert read_summary(old) == summary


def test_damaged_key_figures_are_one_line(tmp_path):
    cut = tmp_path / "cut.xlsx"
    book = Workbook()
    book.custom_doc_props.append(StringProperty(name=SUMMARY_PROPERTY,
                                                value='{"period": "2026-10", "as_of": "20'))
    book.save(cut)  # what Office's 255-character cut does to a long property
    with pytest.raises(InputError) as err:
        read_summary(cut)
    assert str(err.value) == ("cut.xlsx: the key figures stored in the report are damaged (was "
                              "it edited by another program?); write the report again with "
                              "xl-crm report")


def _tables_and_headers(report) -> list[tuple[list[str], list[str]]]:
    """Each table's column names and its sheet's header cells, both as stored."""
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    pairs = []
    with zipfile.ZipFile(report) as z:
        for name in z.namelist():
            if not re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                continue
            sheet = ElementTree.fromstring(z.read(name))
            parts = [p.get(rel) for p in sheet.iter(f"{main}tablePart")]
            if not parts:
                continue
            rels = ElementTree.fromstring(z.read(name.replace("worksheets/", "worksheets/_rels/")
                                                 + ".rels"))
            targets = {r.get("Id"): r.get("Target") for r in rels}
            header = next(sheet.iter(f"{main}row"))
            cells = ["".join(c.itertext()) for c in header.iter(f"{main}c")]
            for part in parts:
                table = ElementTree.fromstring(
                    z.read("xl/" + targets[part].removeprefix("/xl/").replace("../", "")))
                columns = [c.get("name") for c in table.iter(f"{main}tableColumn")]
                pairs.append((columns, cells[:len(columns)]))
    return pairs


@pytest.mark.parametrize("currency", ["EUR", "_x0041_", "EUR\x07"])
def test_every_table_column_is_named_as_its_header_cell_stores_it(tmp_path, currency):
    # Excel repairs a table whose column names differ from its header cells; both are
    # read through OOXML's _xHHHH_ escape, so they must be stored alike
    from xl_crm.core.analysis import Options
    from xl_crm.engines import analyze_path

    sales = tmp_path / "cur.csv"
    sales.write_text("Customer,Date,Amount\nC1,2025-03-01,10\nC2,2025-03-02,5\n")
    analysis = analyze_path(sales, Options(currency=currency), today=dt.date(2025, 4, 1))
    report = write_report(analysis, tmp_path / "report.xlsx")
    pairs = _tables_and_headers(report)
    assert len(pairs) >= 3
    for columns, cells in pairs:
        assert columns == cells
    stored = {"EUR": "EUR", "_x0041_": "_x005F_x0041_", "EUR\x07": "EUR\u2407"}[currency]
    assert any(f"({stored})" in " ".join(columns) for columns, _ in pairs)


def test_a_cell_holds_32767_characters_as_excel_counts_them():
    from xl_crm.report.layout import cell_text, texts_as_they_are
    from xl_crm.views import excel_length, excel_prefix

    emoji = "\U0001f600"  # two UTF-16 units, as Excel's LEN counts it
    assert excel_length(emoji * 3 + "a") == 7 and excel_length("张三") == 2
    long = emoji * 20_000  # 20,000 characters, 40,000 units: over the limit
    cut = cell_text(long)
    assert excel_length(cut) == 32_767 and cut.endswith("…") and cut[:-1] == emoji * 16_383
    assert excel_prefix("a" + emoji, 2) == "a"  # never half of a character
    fits = emoji * 16_383 + "a"
    assert cell_text(fits) == fits and texts_as_they_are([fits])
    assert not texts_as_they_are(["x", long])


def test_the_button_refuses_text_longer_than_excel_counts_a_cell(tmp_path):
    from xl_crm.monthly.book import checked_sheets

    # 20,000 characters, which Excel counts as 40,000
    with pytest.raises(InputError, match=r"CRM Log cell B1: .* has 40,000 characters; an "
                                         r"Excel cell holds at most 32,767"):
        checked_sheets({"CRM Log": [["x", "\U0001f600" * 20_000]]})


def test_key_figures_with_escape_like_text_beyond_a_cell_read_back(tmp_path):
    # the JSON of the key figures spans several cells; a customer's name holding OOXML's
    # escape (_x0041_) once made the stored text longer than its cell, and it was cut
    from xl_crm.engines import analyze_path

    name = "_x0041_ 张 \U0001f600 " * 2_000
    rows = [f"C{i},{name}{i},2025-0{1 + i % 8}-{1 + i:02d},{10 + i}" for i in range(14)]
    sales = tmp_path / "names.csv"
    sales.write_text("Customer,Name,Date,Amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    analysis = analyze_path(sales, today=dt.date(2025, 12, 1))
    report = write_report(analysis, tmp_path / "report.xlsx")
    stored = "".join(r[0] for r in sheets(report)[DATA_SHEET])
    assert len(stored) > 32_767 and stored.isascii()
    assert read_summary(report) == report_summary(analysis)
