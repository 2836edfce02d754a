"""The CLV sheet: one Dwyer table per group, as live formulas over marked input cells.

Each block has yellow input cells (scalars in column B, per-year inputs in one column per
year) and the rows of :func:`xl_crm.core.clv.dwyer_table` as Excel formulas that refer to
them, so a manager can change the discount or the retention and see the table recompute.
The formulas are the core's rules written in Excel; a LibreOffice test checks that the
values Excel-compatible software computes equal the core's. The core's values are also
stored as the formulas' computed values (:func:`formula_values`, :mod:`.cached`), so the
sheet shows its numbers before anything recalculates (Protected View, previews, phones).
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from ..core.clv import DwyerInputs, per_year
from ..core.constants import YEAR_DAYS
from ..i18n import text
from .layout import INPUT_FILL, INTEGER, MONEY, PERCENT, RATE, Formula, Styler, set_widths

SCALARS = (("group_size", INTEGER), ("acquisition_cost", MONEY), ("interest", PERCENT),
           ("risk", RATE), ("delay_days", INTEGER))
PER_YEAR = (("retention", PERCENT), ("referral", PERCENT), ("orders", RATE),
            ("order_value", MONEY), ("cost_rate", PERCENT), ("marketing_cost", MONEY),
            ("referral_incentive", MONEY))
ROWS = ("Retained customers", "Referred customers", "Customers", "Revenue", "Cost of sales",
        "Acquisition cost", "Marketing cost", "Referral incentive", "Total costs",
        "Gross profit", "Discount factor", "NPV of profit", "Cumulative NPV",
        "Lifetime value per customer")
ROW_FORMATS = {"Retained customers": INTEGER, "Referred customers": INTEGER,
               "Customers": INTEGER, "Discount factor": "0.0000"}


def block_height() -> int:
    """Rows one group's block takes, blank row included."""
    return 3 + len(SCALARS) + len(PER_YEAR) + 1 + len(ROWS) + 1


def write_clv_sheet(ws, groups: dict[str, tuple[str, DwyerInputs]], lang: str,
                    warnings: Sequence[str] = ()) -> dict:
    """Write one block per group (title label -> inputs); returns the cell map for tests.
    ``warnings`` (data too short for the method) follow each block's help line.

    The map is ``{group: {row label: row number}}`` with ``"years"`` and input rows too.
    """
    s = Styler(ws, lang)
    years = max((inputs.years for _, inputs in groups.values()), default=5)
    set_widths(ws, [44] + [16] * years + [40])
    cells: dict[str, dict[str, int]] = {}
    row = 1
    for group, (title, inputs) in groups.items():
        cells[group] = _block(ws, s, row, title, inputs, lang, warnings)
        row += block_height()
        ws.row_breaks.append(Break(id=row - 1))  # one block per printed page
    return cells


def formula_values(cells: dict, groups: dict[str, tuple[str, DwyerInputs]]) -> dict[str, float]:
    """{cell reference: the core's value} of every formula cell that
    :func:`write_clv_sheet` wrote (``cells`` is its return value)."""
    values: dict[str, float] = {}
    for group, (_, inputs) in groups.items():
        table = inputs.table()
        at = cells[group]
        for label in ROWS:
            for j, value in enumerate(table.loc[label].tolist()):
                values[f"{get_column_letter(2 + j)}{at[label]}"] = float(value)
    return values


def _block(ws, s: Styler, top: int, title: str, inputs: DwyerInputs, lang: str,
           warnings: Sequence[str] = ()) -> dict:
    t = inputs.years
    cols = [get_column_letter(2 + i) for i in range(t)]
    year_headers = [text("clv.year", lang, n=i + 1) for i in range(t)]
    ws.append([s.cell(f"{title} — {text('clv.title', lang)}", font=s.title)])
    ws.append([s.cell("  ".join([text("clv.help", lang), *(f"⚠ {w}" for w in warnings)]),
                      font=s.small)])
    ws.append(s.header_row([text("clv.inputs", lang)] + year_headers + [text("clv.source", lang)]))
    at: dict[str, int] = {"years": t}
    row = top + 3
    for key, fmt in SCALARS:
        value = getattr(inputs, key)
        ws.append([s.cell(text(f"clv.{key}", lang)), s.cell(value, fmt, fill=INPUT_FILL)]
                  + [None] * (t - 1) + [s.cell(_source(inputs, key, lang), font=s.small)])
        at[key] = row
        row += 1
    for key, fmt in PER_YEAR:
        values = per_year(getattr(inputs, key), t, key)
        ws.append([s.cell(text(f"clv.{key}", lang))]
                  + [s.cell(float(v), fmt, fill=INPUT_FILL) for v in values]
                  + [s.cell(_source(inputs, key, lang), font=s.small)])
        at[key] = row
        row += 1
    ws.append(s.header_row([""] + year_headers))
    row += 1
    first_row = row
    for i, label in enumerate(ROWS):
        at[label] = first_row + i
    for label in ROWS:
        fmt = ROW_FORMATS.get(label, MONEY)
        formulas = [_formula(label, j, cols, at) for j in range(t)]
        ws.append([s.cell(text(f"row.{label}", lang), font=s.bold)]
                  + [s.formula(f, fmt) for f in formulas])
    ws.append([])
    return at


def _formula(label: str, j: int, cols: list[str], at: dict[str, int]) -> Formula:
    """The Excel formula of one cell of the Dwyer table (year j + 1, column cols[j])."""
    x, p = cols[j], cols[j - 1] if j else None

    def ref(key: str, col: str = x) -> str:
        return f"{col}{at[key]}"

    def fixed(key: str) -> str:
        return f"$B${at[key]}"

    rules = {
        "Retained customers": fixed("group_size") if j == 0
        else f"{ref('Customers', p)}*{ref('retention', p)}",
        "Referred customers": f"{ref('Retained customers')}*{ref('referral')}",
        "Customers": f"{ref('Retained customers')}+{ref('Referred customers')}",
        "Revenue": f"{ref('Customers')}*{ref('orders')}*{ref('order_value')}",
        "Cost of sales": f"{ref('Revenue')}*{ref('cost_rate')}",
        "Acquisition cost": f"{fixed('acquisition_cost')}*{fixed('group_size')}" if j == 0
        else "0",
        "Marketing cost": f"{ref('marketing_cost')}*{ref('Customers')}",
        "Referral incentive": f"{ref('referral_incentive')}*{ref('Referred customers')}",
        "Total costs": f"SUM({ref('Cost of sales')}:{ref('Referral incentive')})",
        "Gross profit": f"{ref('Revenue')}-{ref('Total costs')}",
        "Discount factor": f"(1+{fixed('interest')}*{fixed('risk')})"
                           f"^({j}+{fixed('delay_days')}/{YEAR_DAYS})",
        "NPV of profit": f"{ref('Gross profit')}/{ref('Discount factor')}",
        "Cumulative NPV": ref("NPV of profit") if j == 0
        else f"{ref('Cumulative NPV', p)}+{ref('NPV of profit')}",
        "Lifetime value per customer": f"{ref('Cumulative NPV')}/{fixed('group_size')}",
    }
    return Formula(rules[label])


def _source(inputs: DwyerInputs, key: str, lang: str) -> str:
    source = inputs.sources.get(key, "given")
    word = source.split(" ", 1)[0]
    rest = source[len(word):].strip()
    label = text(f"clv.{word}", lang)
    return f"{label} {rest}".strip() if lang == "en" else label


def write_predicted(ws, analysis, lang: str) -> None:
    """The Predicted value section below Dwyer's tables: per ABC tier the BG/NBD and
    Gamma-Gamma figures beside Dwyer's first year, then why they differ and the fitted
    parameters (or why there is no prediction)."""
    from ..decisions import predicted_notes, predicted_table

    s = Styler(ws, lang)
    table = predicted_table(analysis, lang)
    ws.append([s.cell(text("predict.title", lang), font=s.title)])
    ws.append(s.header_row(table[0]))
    formats = (None, INTEGER, PERCENT, "0.0", MONEY, MONEY, MONEY)
    for row in table[1:]:
        ws.append([s.cell(v, f) for v, f in zip(row, formats)])
    for line in predicted_notes(analysis, lang):
        ws.append([s.cell(line, font=s.small)])
