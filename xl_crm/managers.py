"""The managers table of ``--split-by region|rep --managers FILE``: who receives which
customers.

FILE is a CSV (any encoding and delimiter the sales reader takes) or a workbook whose
*Managers* (*经理*) sheet, else first sheet, holds the table. Columns, found by header
(English or Chinese, any case): the region or rep value (``region``/``地区``,
``rep``/``sales rep``/``销售代表``, or ``key``/``value``), ``email`` (``e-mail``, ``mail``,
``邮箱``; several addresses separated by commas or semicolons), optional ``name``
(``姓名``) and ``language`` (``lang``, ``语言``: en or zh; empty: the command's
``--lang``). A value of ``*`` marks a head-office recipient, who gets the full report.
Blank rows are skipped; a row with an address but no value, an unknown language or a bad
address is refused naming its row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .core.constants import LANGS
from .core.errors import InputError, show, show_path

HEAD_OFFICE = "*"
HEADERS = {
    "key": ("key", "value", "region", "rep", "salesrep", "sales rep", "地区", "区域",
            "销售代表", "业务员"),
    "email": ("email", "e-mail", "mail", "emails", "邮箱", "电子邮件", "邮件"),
    "name": ("name", "manager", "姓名", "名称", "经理"),
    "language": ("language", "lang", "语言"),
}
MANAGER_SHEETS = ("managers", "经理")


@dataclass(frozen=True)
class Manager:
    """One row of the table: the region or rep value, addresses, name and language."""

    key: str
    emails: tuple[str, ...]  # as written (checked), each may hold several addresses
    name: str = ""
    lang: str | None = None  # None: the command's language
    row: int = 0  # the row in FILE

    @property
    def head_office(self) -> bool:
        """Receives the full report."""
        return self.key == HEAD_OFFICE


def read_managers(path: Path, by: str) -> list[Manager]:
    """The managers of FILE (see the module docstring); ``by`` ("region" or "rep") is the
    column the key may be named after."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"managers file not found: {show_path(path)}")
    rows = _rows(path)
    return parse_managers(rows, by, path.name)


def _rows(path: Path) -> list[list[object]]:
    from .core.columns import pick_sheet
    from .files import csv_delimiter, csv_encoding

    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises several types for damaged files
            raise InputError(f"{path.name} is not a readable Excel workbook: {err}") from err
        try:
            names = book.sheetnames
            name = next((n for n in names if n.strip().lower() in MANAGER_SHEETS), None)
            sheet = book[name or pick_sheet(names, None)]
            return [list(r) for r in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    raw = path.read_bytes()
    try:
        text = raw.decode(csv_encoding(raw))
    except (InputError, UnicodeDecodeError) as err:
        raise InputError(f"{path.name}: {err}") from None
    try:
        return [list(r) for r in csv.reader(io.StringIO(text, newline=""),
                                             delimiter=csv_delimiter(text))]
    except csv.Error as err:
        raise InputError(f"{path.name}: not a readable CSV table ({err})") from None


def _norm(header: object) -> str:
    return " ".join(str(header or "").replace("_", " ").split()).casefold()


def parse_managers(rows: list[list[object]], by: str, name: str = "managers") -> list[Manager]:
    """The managers of a table's rows (header first), checked."""
    from .mail.settings import MailError, parse_addresses

    if not rows:
        raise InputError(f"{name} is empty; it needs a header row: {by}, email")
    header = [_norm(h) for h in rows[0]]
    found = {}
    for role, names in HEADERS.items():
        hits = [i for i, h in enumerate(header) if h in names or h.replace(" ", "") in names]
        preferred = [i for i in hits if header[i] in (by, "key", "value")]
        if hits:
            found[role] = (preferred or hits)[0]
    for role in ("key", "email"):
        if role not in found:
            raise InputError(f"{name} has no {by if role == 'key' else 'email'} column (the "
                             f"header row is {show(', '.join(map(str, rows[0])), 80)})")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        cells = {role: ("" if i >= len(row) or row[i] is None else str(row[i]).strip())
                 for role, i in found.items()}
        if not any(cells.values()):
            continue
        where = f"{name} row {number}"
        if not cells["key"]:
            raise InputError(f"{where}: the {by} is empty ({HEAD_OFFICE} for the full report)")
        if not cells["email"]:
            raise InputError(f"{where}: no email address for {show(cells['key'])}")
        try:
            parse_addresses(cells["email"], "email")
        except MailError as err:
            raise InputError(f"{where}: {err}") from None
        lang = cells.get("language", "").lower() or None
        if lang is not None and lang not in LANGS:
            raise InputError(f"{where}: language {show(lang)} is not one of "
                             f"{', '.join(LANGS)}")
        out.append(Manager(cells["key"], (cells["email"],), cells.get("name", ""), lang,
                           number))
    if not out:
        raise InputError(f"{name} lists no manager")
    return out
