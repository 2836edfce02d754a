"""The button workbook's *Sales History* sheet (*销售历史*): every month pressed so far,
so that the analysis covers the customer's whole history, not the month pasted into
*Sales*. Not *History*: Excel reserves that sheet name (its change-tracking sheet) and
refuses it.

Why a sheet and not a file beside the workbook: it travels with the workbook (mailed,
copied, on OneDrive), it is there in xlwings Lite, which cannot write files beside the
workbook, and it is written in the same all-or-nothing step as the result sheets.

Rules (:func:`xl_crm.core.history.replace_months`): each calendar month found in *Sales*
replaces that month in the history; pressing twice gives the same history. The sheet is
rewritten only after the analysis and every result sheet succeeded (it is swapped in with
them by :func:`xl_crm.monthly.book.replace_sheets`), in fixed English headers the reader
recognises; a history sheet the user pasted (any recognised headers, header in row 1) is
read too, and one named *History* (made by another program) is read and replaced by
*Sales History*. A workbook with two history sheets is refused: which one holds the
history is the user's to say. Load the first year(s) once by pasting them into *Sales*
and pressing the button.
"""

from __future__ import annotations

from ..core.errors import InputError
from ..core.history import MonthChange, replace_months
from ..core.sales import ORDER, Sales, sales_from_rows
from ..views import series_values
from .book import BookLike, SheetLike, sheet_rows

# The names a history sheet is found under; the button writes the first (or keeps the
# name it found, unless Excel reserves it: RESERVED, compared in lower case).
HISTORY_SHEETS = ("Sales History", "销售历史", "History", "历史")
RESERVED = ("history",)
HEADERS = {"customer": "Customer ID", "name": "Customer Name", "date": "Date",
           "order_id": "Order ID", "amount": "Net Sales", "cost": "Cost", "profit": "Profit",
           "quantity": "Quantity", "region": "Region", "product": "Product Category",
           "rep": "Sales Rep"}


def history_sheet(book: BookLike) -> SheetLike | None:
    """The workbook's history sheet, or None; two of them are refused, naming both."""
    wanted = {n.lower() for n in HISTORY_SHEETS}
    found = [s for s in book.sheets if s.name.strip().lower() in wanted]
    if len(found) > 1:
        raise InputError(f"the workbook has two history sheets, {found[0].name!r} and "
                         f"{found[1].name!r}; keep the one that holds the history")
    return found[0] if found else None


def history_name(book: BookLike) -> str:
    """The name the history sheet is written under: the existing one's, else (or when
    Excel reserves it) ``Sales History``."""
    sheet = history_sheet(book)
    if sheet is None or sheet.name.strip().lower() in RESERVED:
        return HISTORY_SHEETS[0]
    return sheet.name


def history_sheets(book: BookLike) -> list[str]:
    """The names of the history sheets a press replaces: the one it writes, and the one
    of a reserved name it read."""
    sheet = history_sheet(book)
    written = history_name(book)
    return [written] if sheet is None or sheet.name == written else [written, sheet.name]


def with_history(book: BookLike, sales: Sales, sales_name: str = "Sales"
                 ) -> tuple[Sales, tuple[MonthChange, ...]]:
    """The workbook's history with the months of ``sales`` (read from sheet
    ``sales_name``) replaced by them (a workbook without a History sheet, or an empty
    one: ``sales`` itself, every month added)."""
    sheet = history_sheet(book)
    rows, first_row = sheet_rows(sheet) if sheet is not None else ([], 1)
    if not any(any(v not in (None, "") for v in r) for r in rows[1:]):  # none or header only
        history = None
    else:
        try:
            history = sales_from_rows(rows, source=f"{getattr(book, 'name', 'workbook')} "
                                      f"[{sheet.name}]", first_row=first_row)
        except InputError as err:  # say which sheet: the user looks at Sales first
            raise InputError(f"sheet {sheet.name}: {err}") from None
    if history is None:
        months = sales.transactions["date"].dt.to_period("M").value_counts()
        return sales, tuple(MonthChange(str(m), 0, int(n)) for m, n in sorted(months.items()))
    return replace_months(history, sales, (sheet.name, sales_name))


def history_rows(sales: Sales) -> list[list[object]]:
    """The History sheet's rows: a header of the columns the sales have, then every line
    (ids and names as text, dates as dates, money as numbers)."""
    tx = sales.transactions
    roles = [r for r in ORDER if r in tx]
    columns = [series_values(tx[r]) for r in roles]  # column-wise: 36k lines in ~0.1 s
    return [[HEADERS[r] for r in roles], *(list(line) for line in zip(*columns))]


def month_lines(changes: tuple[MonthChange, ...]) -> list[tuple[str, object]]:
    """The log's lines of what the run did to the history."""
    return [("history " + c.month, f"replaced: {c.before:,} lines before, {c.now:,} now"
             if c.before else f"added: {c.now:,} lines") for c in changes]
