"""The shipped macro workbook, its Python module, and the xlwings Lite files."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from oletools.olevba import VBA_Parser
from openpyxl import load_workbook

from xl_crm.options import SHEET_OPTIONS

from .conftest import ROOT
from .readback import tables

WORKBOOK = ROOT / "workbooks" / "xl_crm_monthly.xlsm"
INTERFACE = ("CRM_RFM", "CRM_RFM_SCORE", "CRM_SEGMENT", "CRM_ABC", "CRM_PYRAMID", "CRM_DWYER",
             "CRM_CLV", "CRM_LIFECYCLE", "CRM_STRATEGY")


@pytest.fixture(scope="module")
def book():
    # read-only: a sheet is parsed when it is read, not the 36,546 sales rows up front
    return load_workbook(WORKBOOK, read_only=True)


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sheets_settings_and_conf(book):
    assert book.sheetnames == ["Start", "Sales", "Settings", "Functions", "xlwings.conf"]
    settings = [[c.value for c in r] for r in book["Settings"].iter_rows()]
    assert settings[0] == ["Setting", "Value", "Meaning"]
    assert [r[0] for r in settings[1:]] == [o.name for o in SHEET_OPTIONS]
    assert book["xlwings.conf"]["A1"].value == "UDF Modules"
    assert book["xlwings.conf"]["B1"].value == "xl_crm.udfs"
    assert tables(WORKBOOK)["Sales"] == ["SalesTable"]  # the Sales sheet's, as Excel finds it
    with zipfile.ZipFile(WORKBOOK) as z:
        parts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/tables/")]
    assert [re.search(r'<table [^>]*\bref="([A-Z0-9:]+)"', t).group(1) for t in parts] == [
        "A1:J36547"]
    assert book["Sales"]["A1"].value == "Date" and book["Sales"].max_row == 36547


def test_functions_sheet_types_every_worksheet_function(book):
    formulas = " ".join(str(v) for row in cells(book["Functions"]) for v in row
                        if isinstance(v, str) and v.startswith("="))
    for name in INTERFACE:
        if name not in ("CRM_RFM_SCORE", "CRM_SEGMENT"):  # shown on the data by CRM_RFM
            assert f"{name}(" in formulas, name
    assert "Sales!C2:C36547" in formulas


def test_button_runs_the_quickstart_macro_which_runs_python(book):
    with zipfile.ZipFile(WORKBOOK) as zf:
        vml = "".join(zf.read(n).decode() for n in zf.namelist() if n.endswith(".vml"))
        assert "xl/vbaProject.bin" in zf.namelist()
    assert "<x:FmlaMacro>[0]!SampleCall</x:FmlaMacro>" in vml
    assert "Generate report" in vml
    parser = VBA_Parser(str(WORKBOOK))
    code = "\n".join(source for _, _, _, source in parser.extract_macros())
    parser.close()
    assert "Sub SampleCall()" in code
    assert 'RunPython "import " & mymodule & ";" & mymodule & ".main()"' in code
    # the module is the workbook's name: the Start sheet says what a renamed copy needs
    start = " ".join(str(v) for r in book["Start"].iter_rows(values_only=True) for v in r
                     if v)
    assert "copy xl_crm_monthly.py beside it as crm_north.py" in start


def test_workbook_module_calls_the_macro(monkeypatch):
    module = load_module(ROOT / "workbooks" / "xl_crm_monthly.py", "xl_crm_monthly")
    assert WORKBOOK.stem == module.__name__  # SampleCall imports the workbook's name
    calls = []
    monkeypatch.setattr("xl_crm.macros.monthly_report", lambda: calls.append(True))
    module.main()
    assert calls == [True]


def test_lite_main_defines_every_function_and_the_script():
    module = load_module(ROOT / "workbooks" / "lite" / "main.py", "lite_main")
    members = dict(inspect.getmembers(module, callable))
    for name in INTERFACE:
        assert name in members, name
    script = members["monthly_report"]
    assert list(inspect.signature(script).parameters) == ["book"]
    requirements = (ROOT / "workbooks" / "lite" / "requirements.txt").read_text()
    assert {"xl_crm", "xlwings>=0.37.7", "pandas", "numpy", "openpyxl"} <= {
        line.strip() for line in requirements.splitlines() if not line.startswith("#")}


LITE_WITHOUT_SSL = """
import importlib.util, inspect, json, sys
sys.modules["ssl"] = sys.modules["_ssl"] = None  # Pyodide does not load ssl by default
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
main = importlib.util.module_from_spec(spec)
spec.loader.exec_module(main)
import xl_crm.udfs
print(json.dumps({
    "udfs": sorted(n for n in dir(xl_crm.udfs) if n.startswith("CRM_")),
    "main": sorted(n for n, f in inspect.getmembers(main, callable) if n.startswith("CRM_")),
    "script": list(inspect.signature(main.monthly_report).parameters),
    "mail": sorted(m for m in ("smtplib", "ssl", "xl_crm.mail") if sys.modules.get(m)),
}))
"""


def test_lite_main_loads_without_ssl_and_registers_every_function():
    """xlwings Lite registers nothing when main.py fails to import; main.py must not
    pull in smtplib/ssl (the mailer), and must offer every worksheet function."""
    done = subprocess.run([sys.executable, "-c", LITE_WITHOUT_SSL,
                           str(ROOT / "workbooks" / "lite" / "main.py")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["main"] == found["udfs"] and set(INTERFACE) <= set(found["main"])
    assert found["script"] == ["book"]
    assert found["mail"] == []


@pytest.mark.skipif(not shutil.which("soffice") and not os.environ.get("CI"),
                    reason="LibreOffice is not installed (CI installs it)")
def test_libreoffice_opens_the_macro_workbook(tmp_path):
    from xl_crm.libreoffice import convert

    out = convert(WORKBOOK, "xlsx:Calc MS Excel 2007 XML", tmp_path)
    reopened = load_workbook(out, read_only=True)
    assert {"Start", "Sales", "Settings"} <= set(reopened.sheetnames)


def test_builder_rebuilds_the_same_workbook(tmp_path):
    builder = load_module(ROOT / "workbooks" / "build_macro_workbook.py", "builder")
    # read-only: only the compared sheets are parsed, not the 36,546 sales rows
    rebuilt = load_workbook(builder.build(tmp_path / "again.xlsm"), read_only=True)
    shipped = load_workbook(WORKBOOK, read_only=True)
    assert rebuilt.sheetnames == shipped.sheetnames
    for name in ("Start", "Settings", "Functions"):
        assert cells(rebuilt[name]) == cells(shipped[name]), name


def cells(ws):
    """Cell values, array formulas as their text."""
    return [[getattr(c.value, "text", c.value) for c in r] for r in ws.iter_rows()]
