"""The button job: the month's sales sheet of a workbook in, result sheets (and a report
file) out. Everything here runs without Excel; :mod:`xl_crm.macros` only hands it the
calling workbook.

The job touches a workbook only through the few xlwings members listed in
:class:`BookLike` (``sheets``, ``range(...).value``, ``used_range``, ``tables``,
``name``, ``delete``, ``add``), so tests drive it with a small in-memory stand-in.

Rules:
- **Where the sales are**: the sheet named by the ``sales_sheet`` setting, else a sheet
  called ``Sales`` or ``销售``, else the active sheet; on it, the first Excel table if
  there is one, else the used range, whose header row is found like everywhere else.
- **Settings** come from a sheet named ``Settings`` or ``设置`` (two columns, setting and
  value, under a header row; see :data:`xl_crm.options.OPTIONS` for names, defaults and meanings).
- **Output**: the sheets ``CRM Customers``, ``CRM ABC``, ``CRM Strategy``, ``CRM Log``
  (Chinese names in Chinese); only sheets with exactly these names are ever replaced, and
  a sales sheet with such a name is refused. The sales data is never written to.
- **All or nothing**: the analysis and every output table are computed first and every
  cell value is checked (control characters shown as ``[U+0007]``, see
  :func:`xl_crm.ranges.cell_text`); only then is the workbook touched: the new sheets are
  written under temporary names and swapped in only when all are written, so a failure
  leaves the workbook as it was.
- **Text stays text**: every text cell is given the text number format ``@`` before the
  values are written, because Excel types a text written through ``Range.value`` as if
  entered by hand (``=...`` a formula, ``00123`` the number 123, ``3-4`` a date).
- **Report file**: ``reports/<workbook name> customer-value-YYYY-MM.xlsx`` beside the
  workbook (the workbook's name keeps two workbooks in one folder apart), saved before the
  sheets are swapped; when it cannot be saved, the sheets are still written and the log's
  ``report`` row (and the macro's dialog) gives the one-line reason.

One job per module: :mod:`.settings` (the Settings sheet), :mod:`.book` (the workbook:
finding and writing sheets) and :mod:`.job` (:func:`run`).
"""

from .book import PREFIX, BookLike
from .job import Outcome, run
from .settings import Settings, read_settings

__all__ = ["PREFIX", "BookLike", "Outcome", "Settings", "read_settings", "run"]
