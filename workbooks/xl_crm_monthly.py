"""Python side of xl_crm_monthly.xlsm (classic xlwings on Windows and macOS).

The workbook's "Generate report" button runs the xlwings quickstart macro ``SampleCall``,
which does ``RunPython "import xl_crm_monthly; xl_crm_monthly.main()"`` (the module named
after the workbook, found because the workbook's folder is on PYTHONPATH).
"""

import xl_crm.macros


def main() -> None:
    """What the button runs."""
    xl_crm.macros.monthly_report()
