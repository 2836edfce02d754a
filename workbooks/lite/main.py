"""xlwings Lite: paste this file into the add-in's main.py editor and the next file
(requirements.txt) into its requirements tab.

It registers every xl_crm worksheet function (Lite finds decorated functions in this
module, including imported ones) and the "monthly report" script, which writes the result
sheets into the workbook. Lite cannot save files or send mail; use the CLI for the report.
"""

import xlwings as xw
from xlwings import script

from xl_crm.monthly import run
from xl_crm.udfs import (  # noqa: F401 - imported to register them
    CRM_ABC,
    CRM_CLV,
    CRM_DWYER,
    CRM_LIFECYCLE,
    CRM_PREDICT,
    CRM_PYRAMID,
    CRM_RFM,
    CRM_RFM_SCORE,
    CRM_SEGMENT,
    CRM_STRATEGY,
)


@script
def monthly_report(book: xw.Book):
    """Turn the Sales sheet into the CRM result sheets (no report file in Lite)."""
    run(book, report_dir=None)
