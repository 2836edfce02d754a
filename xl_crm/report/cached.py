"""Computed values for the report's formulas, stored the way Excel stores them.

openpyxl writes a formula cell as ``<c r="B17"><f>$B$4</f><v /></c>`` (``<v></v>`` when it
writes through lxml): the formula without its result. Excel shows such a cell as 0 (or empty) until it recalculates, and it does not
recalculate in Protected View (every emailed attachment opens there), in Outlook's
previewer or on phones; readers that do not calculate (pandas, python-calamine, openpyxl
``data_only=True``) see nothing. The core already knows every value, so after openpyxl
has written a sheet, :func:`close_with_values` writes them into the ``<v>`` elements of
the named cells; the formulas stay live.

Only cells that are formulas with an empty value are touched, and every cell asked for
must be found: a cell the report meant to fill and did not is a bug, not a silent gap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

# an empty value is <v /> (openpyxl's own XML writer) or <v></v> (with lxml)
_FORMULA_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>([^<]*)</f>(?:<v\s*/>|<v>\s*</v>)</c>')


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"a formula's value must be finite, not {value!r}")
    return repr(float(value))


def fill_formula_values(xml: str, values: Mapping[str, float]) -> str:
    """Sheet XML with ``values`` ({cell reference: number}) stored in those formula cells."""
    missing = set(values)

    def fill(match: re.Match) -> str:
        ref = match.group(1)
        if ref not in values:
            return match.group(0)
        missing.discard(ref)
        return (f'<c r="{ref}"{match.group(2)}><f>{match.group(3)}</f>'
                f"<v>{_number(values[ref])}</v></c>")

    filled = _FORMULA_CELL.sub(fill, xml)
    if missing:
        raise ValueError(f"no empty formula cell {sorted(missing)[:5]} in the sheet")
    return filled


def close_with_values(ws, values: Mapping[str, float]) -> None:
    """Finish the write-only sheet ``ws`` and store ``values`` ({cell reference: number})
    as the computed values of those formula cells, in the sheet XML that openpyxl has
    streamed to its temporary file (which it adds to the archive when the book is saved).
    Costs one pass over this sheet's XML, nothing for the others."""
    ws.close()
    out = Path(ws._writer.out)  # openpyxl's streamed sheet (WorksheetWriter.out)
    out.write_text(fill_formula_values(out.read_text(encoding="utf-8"), values),
                   encoding="utf-8")
