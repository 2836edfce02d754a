"""The report opened in real LibreOffice (headless): formulas recalculate to the core's
values, no cell is an error, an edited input recomputes, and the Chinese report renders.

LibreOffice is required in CI (.ci/run installs it); outside CI the tests skip without it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import zipfile

import pytest
from openpyxl import load_workbook

from xl_crm.core.analysis import Options, analyze
from xl_crm.files import read_sales
from xl_crm.i18n import text
from xl_crm.libreoffice import convert
from xl_crm.report import ReportOptions, write_report
from xl_crm.report.cached import fill_formula_values
from xl_crm.report.clv_sheet import ROWS

from .conftest import SAMPLE_ZH

if not shutil.which("soffice") and not os.environ.get("CI"):
    pytest.skip("LibreOffice is not installed (CI installs it)", allow_module_level=True)

ERRORS = ("#VALUE!", "#DIV/0!", "#REF!", "#NAME?", "#N/A", "#NUM!", "#NULL!", "Err:")


@pytest.fixture(scope="module")
def small_analysis():
    return analyze(read_sales(SAMPLE_ZH, today=dt.date(2026, 11, 22)))


def recalculated(path, tmp_path):
    out = convert(path, "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    return load_workbook(out, data_only=True)


def clv_blocks(ws):
    """{block title: {row label: [values per year]}} of a recalculated CLV sheet."""
    shown = {text(f"row.{key}", "en"): key for key in ROWS}
    blocks, current = {}, None
    for row in ws.iter_rows(values_only=True):
        label = row[0]
        if isinstance(label, str) and label.endswith("Dwyer customer lifetime value"):
            current = blocks.setdefault(label.split(" — ")[0], {})
        elif current is not None and label in shown:
            current[shown[label]] = [v for v in row[1:] if v is not None]
    return blocks


def test_clv_formulas_recalculate_to_the_core_values(small_analysis, tmp_path):
    path = write_report(small_analysis, tmp_path / "report.xlsx")
    book = recalculated(path, tmp_path)
    blocks = clv_blocks(book["CLV"])
    assert set(blocks) == {"Tier A", "Tier B", "Tier C"}
    for group, inputs in small_analysis.clv.items():
        expected = inputs.table()
        for label in ROWS:
            got = blocks[f"Tier {group}"][label]
            assert got == pytest.approx(expected.loc[label].tolist(), rel=1e-9, abs=1e-6), label
    for ws in book.worksheets:
        for row in ws.iter_rows(values_only=True):
            bad = [v for v in row if isinstance(v, str) and v.startswith(ERRORS)]
            assert not bad, (ws.title, bad)


def test_libreoffice_recalculates_whatever_the_file_stores(small_analysis, tmp_path):
    """The check above compares LibreOffice's own results, not the values the report
    stores: a copy whose stored values are all 0 still converts to the core's values."""
    path = write_report(small_analysis, tmp_path / "report.xlsx")
    book = load_workbook(path)
    stripped = tmp_path / "stripped.xlsx"
    book.save(stripped)  # openpyxl drops the stored values
    ws = book["CLV"]
    zeros = {c.coordinate: 0.0 for row in ws.iter_rows() for c in row if c.data_type == "f"}
    part = f"xl/worksheets/sheet{book.sheetnames.index('CLV') + 1}.xml"
    zeroed = tmp_path / "zeros.xlsx"
    with zipfile.ZipFile(stripped) as src, zipfile.ZipFile(zeroed, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == part:
                data = fill_formula_values(data.decode(), zeros).encode()
            dst.writestr(info, data)
    stripped = zeroed
    first = next(iter(zeros))
    assert load_workbook(stripped, data_only=True)["CLV"][first].value == 0.0
    blocks = clv_blocks(recalculated(stripped, tmp_path)["CLV"])
    expected = small_analysis.clv["A"].table().loc["Lifetime value per customer"].tolist()
    assert blocks["Tier A"]["Lifetime value per customer"] == pytest.approx(expected, rel=1e-9)


def test_changing_an_input_recomputes_the_table(small_analysis, tmp_path):
    path = write_report(small_analysis, tmp_path / "report.xlsx")
    book = load_workbook(path)
    ws = book["CLV"]
    labels = [r[0].value for r in ws.iter_rows(max_col=1)]
    interest = labels.index("Interest rate") + 1  # the first block: Tier A
    ws.cell(interest, 2).value = 0.25
    edited = tmp_path / "edited.xlsx"
    book.save(edited)
    blocks = clv_blocks(recalculated(edited, tmp_path)["CLV"])
    a = small_analysis.clv["A"]
    a.interest = 0.25
    expected = a.table().loc["Lifetime value per customer"].tolist()
    assert blocks["Tier A"]["Lifetime value per customer"] == pytest.approx(expected, rel=1e-9)


def test_chinese_report_renders_to_pdf(small_analysis, tmp_path):
    result = analyze(read_sales(SAMPLE_ZH, today=dt.date(2026, 11, 22)), Options(bins=5))
    path = write_report(result, tmp_path / "zh.xlsx", ReportOptions(lang="zh"))
    pdf = convert(path, "pdf", tmp_path / "pdf")
    assert pdf.stat().st_size > 10_000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-l", "1", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "客户价值报告" in text
