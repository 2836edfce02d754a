"""Computed values for the report's formulas, stored the way Excel stores them.

openpyxl writes a formula cell as ``<c r="B17"><f>$B$4</f><v /></c>``: the formula without
its result. Excel shows such a cell as 0 (or empty) until it recalculates, and it does not
recalculate in Protected View (every emailed attachment opens there), in Outlook's
previewer or on phones; readers that do not calculate (pandas, python-calamine, openpyxl
``data_only=True``) see nothing. The core already knows every value, so after openpyxl
has saved the workbook :func:`store_values` writes them into the ``<v>`` elements of the
named cells; the formulas stay live.

Only cells that are formulas with an empty value are touched, and every cell asked for
must be found: a cell the report meant to fill and did not is a bug, not a silent gap.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from xml.etree import ElementTree

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_FORMULA_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>([^<]*)</f><v\s*/>(?:</v>)?</c>')


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the archive path of its XML part (from workbook.xml and its rels)."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target") for rel in rels.iter(f"{_PKG}Relationship")}
    parts = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets[sheet.get(f"{_REL}id")]
        path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        parts[sheet.get("name")] = posixpath.normpath(path)
    return parts


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


def store_values(path: Path, values: Mapping[str, Mapping[str, float]]) -> None:
    """Rewrite the workbook at ``path`` with ``values`` ({sheet: {cell: number}}) stored
    as the computed values of those formula cells. ``path`` is replaced only when the new
    archive is complete (it is the report's own temporary file)."""
    if not any(values.values()):
        return
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(path) as source, \
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            parts = sheet_parts(source)
            patch = {parts[name]: cells for name, cells in values.items() if cells}
            for info in source.infolist():
                data = source.read(info)
                if info.filename in patch:
                    data = fill_formula_values(data.decode("utf-8"),
                                               patch[info.filename]).encode("utf-8")
                target.writestr(info, data, compress_type=info.compress_type)
        shutil.copymode(path, tmp)  # the mode the caller gave its file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
