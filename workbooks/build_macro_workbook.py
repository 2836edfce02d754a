"""Build workbooks/xl_crm_monthly.xlsm, the ready-to-use macro workbook, without Excel.

    python -m workbooks.build_macro_workbook   (from the repository root)

How it is made: the VBA project (``xl/vbaProject.bin``) is taken unchanged from xlwings'
own quickstart template (``xlwings/quickstart.xlsm`` in the installed xlwings package);
its ``Module1.SampleCall`` runs ``RunPython "import <workbook name>; <workbook
name>.main()"``, so the button, wired to ``SampleCall``, runs ``xl_crm_monthly.main()``
from ``workbooks/xl_crm_monthly.py``, which calls ``xl_crm.macros.monthly_report()``.
XlsxWriter writes the sheets, the button and the VBA project (openpyxl cannot add form
controls). Sheets: Start (instructions and the button), Sales (the sample's sales as an
Excel table), Settings, Functions (the worksheet functions typed as formulas) and
xlwings.conf (UDF Modules = xl_crm.udfs).
"""

from __future__ import annotations

import datetime as dt
import sys
import zipfile
from pathlib import Path

import xlsxwriter
import xlwings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from workbooks.generate_sample import generate_transactions
from xl_crm.options import SHEET_OPTIONS

TARGET = HERE / "xl_crm_monthly.xlsm"
MACRO = "SampleCall"


def vba_project() -> bytes:
    """The VBA project of xlwings' quickstart workbook."""
    template = Path(xlwings.__file__).parent / "quickstart.xlsm"
    with zipfile.ZipFile(template) as zf:
        return zf.read("xl/vbaProject.bin")


def build(target: Path = TARGET) -> Path:
    """Write the macro workbook; returns its path."""
    frame = generate_transactions()
    n = len(frame)
    tmp = target.with_name(f".{target.stem}-build.xlsm")
    book = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False,
                                          "strings_to_numbers": False})
    book.set_properties({"title": "xl_crm monthly report", "created": dt.datetime(2026, 11, 1)})
    vba = tmp.with_suffix(".bin")
    vba.write_bytes(vba_project())
    book.add_vba_project(str(vba))
    book.set_vba_name("ThisWorkbook")
    fmt = _formats(book)
    _start(book, fmt)
    _sales(book, fmt, frame)
    _settings(book, fmt)
    _functions(book, fmt, n)
    conf = book.add_worksheet("xlwings.conf")
    conf.write_row(0, 0, ["UDF Modules", "xl_crm.udfs"])
    conf.set_column(0, 1, 24)
    book.close()
    vba.unlink()
    tmp.replace(target)
    return target


def _formats(book) -> dict:
    return {
        "title": book.add_format({"bold": True, "font_size": 18, "font_color": "#1F4E78"}),
        "bold": book.add_format({"bold": True}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "money": book.add_format({"num_format": "#,##0.00"}),
        "header": book.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78"}),
        "code": book.add_format({"font_name": "Consolas", "font_color": "#595959"}),
    }


def _start(book, fmt) -> None:
    ws = book.add_worksheet("Start")
    ws.set_column(0, 0, 4)
    ws.set_column(1, 1, 100)
    ws.write(0, 1, "xl_crm — monthly customer value", fmt["title"])
    steps = [
        ("1. The first time: paste all the sales you have (a year or two; one row per order "
         "line, columns found by header, English or Chinese) into the Sales sheet and press "
         "the button once. They are kept in the Sales History sheet, which the button "
         "writes."),
        ("2. Every month after: replace the Sales sheet's rows by the month's sales and "
         "press the button. That month is added to Sales History (pressed again, or pasted "
         "again corrected, it replaces the same month, never doubles it) and the analysis "
         "covers the whole history. Sales History changes only when the run succeeded."),
        "3. Check the Settings sheet (analysis date, bins, scheme, language, recipients).",
        ("4. Results appear in the sheets named 'CRM ...'; the formatted report is saved in "
         "reports/ next to this workbook. One report per manager: set split_by to region or "
         "rep and add a sheet Managers (columns Region or Rep, Email, Name, Language)."),
        "5. Needs Python with xl_crm and the xlwings add-in (see the README).",
        ("6. The button runs the Python file named like this workbook: keep "
         "xl_crm_monthly.py beside it. To keep a copy under another name (Save As, or a "
         "download saved as '... (2)'), give it a name of letters, digits and _ only "
         "(e.g. crm_north.xlsm) and copy xl_crm_monthly.py beside it as crm_north.py. "
         "Otherwise the button stops with 'No module named ...' or 'invalid syntax'."),
    ]
    for i, step in enumerate(steps, start=2):
        ws.write(i, 1, step, fmt["wrap"])
    ws.insert_button("B10", {"macro": MACRO, "caption": "Generate report", "width": 220,
                            "height": 44})
    ws.activate()


def _sales(book, fmt, frame) -> None:
    ws = book.add_worksheet("Sales")
    columns = list(frame.columns)
    rows = frame.to_numpy().tolist()
    date_col = columns.index("Date")
    formats = {columns.index("Net Sales"): fmt["money"], columns.index("Cost"): fmt["money"],
               date_col: fmt["date"]}
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if c == date_col:
                ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), fmt["date"])
            elif isinstance(value, str):
                ws.write_string(r, c, value)  # text stays text (e.g. '=HYPERLINK(...)')
            else:
                ws.write_number(r, c, value, formats.get(c))
    ws.add_table(0, 0, len(rows), len(columns) - 1,
                 {"name": "SalesTable", "columns": [{"header": h} for h in columns],
                  "style": "Table Style Medium 2"})
    ws.set_column(0, 0, 12)
    ws.set_column(1, 2, 12)
    ws.set_column(3, 3, 36)
    ws.set_column(4, 9, 14)
    ws.freeze_panes(1, 0)


def _settings(book, fmt) -> None:
    ws = book.add_worksheet("Settings")
    ws.write_row(0, 0, ["Setting", "Value", "Meaning"], fmt["header"])
    for i, option in enumerate(SHEET_OPTIONS, start=1):
        ws.write_string(i, 0, option.name, fmt["bold"])
        default = option.cell_default
        if isinstance(default, str):
            ws.write_string(i, 1, default)
        else:
            ws.write_number(i, 1, default)
        ws.write_string(i, 2, option.help)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 16)
    ws.set_column(2, 2, 80)


def _functions(book, fmt, n: int) -> None:
    """Small functions in A:H (label, formula text, result); spilling tables from J on."""
    ws = book.add_worksheet("Functions")
    rng = {k: f"Sales!{c}2:{c}{n + 1}" for k, c in (("date", "A"), ("customer", "C"),
                                                    ("amount", "H"))}
    ws.write(0, 0, "xl_crm worksheet functions (register xl_crm.udfs in xlwings' UDF Modules, "
                   "then Import Functions)", fmt["bold"])
    small = [
        ("closed-form CLV: margin 120, retention 80%, discount 12%", "=CRM_CLV(120, 0.8, 0.12)"),
        ("the same over 5 years", "=CRM_CLV(120, 0.8, 0.12, 5)"),
        ("recommendation for a segment", '=CRM_STRATEGY("Important value")'),
        ("in Chinese", '=CRM_STRATEGY("VIP", "zh")'),
        ("Dwyer table of 1,000 customers (spills below)",
         "=CRM_DWYER(1000, 0.6, 2, 95, 0.65, 40, 5, 0.08, 1.5, 5)"),
    ]
    for row, (label, formula) in enumerate(small, start=2):
        ws.write_string(row, 0, label)
        ws.write_string(row, 1, formula, fmt["code"])
    for row, (_, formula) in enumerate(small[:4], start=2):
        ws.write_dynamic_array_formula(row, 2, row, 2, formula)
    ws.write_dynamic_array_formula(8, 2, 8, 2, small[4][1])
    big = [
        ("RFM per customer", f"=CRM_RFM({rng['customer']}, {rng['date']}, {rng['amount']})"),
        ("ABC tiers", f"=CRM_ABC({rng['customer']}, {rng['amount']})"),
        ("customer pyramid", f"=CRM_PYRAMID({rng['customer']}, {rng['amount']})"),
        ("lifecycle stages",
         f"=CRM_LIFECYCLE({rng['customer']}, {rng['date']}, {rng['amount']})"),
        ("predicted value (BG/NBD, Gamma-Gamma)",
         f"=CRM_PREDICT({rng['customer']}, {rng['date']}, {rng['amount']})"),
    ]
    column = 9  # J
    for (label, formula), width in zip(big, (10, 5, 4, 4, 8)):
        ws.write_string(1, column, f"{label}: {formula}", fmt["bold"])
        ws.write_dynamic_array_formula(2, column, 2, column, formula)
        column += width + 1
    ws.set_column(0, 0, 48)
    ws.set_column(1, 1, 52)
    ws.set_column(2, 7, 14)


if __name__ == "__main__":
    print(build())
