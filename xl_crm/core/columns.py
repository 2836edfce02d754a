"""Finding the columns of a sales table by their headers, in English or Chinese.

A header matches a role when, after normalising (Unicode NFKC, lower case, spaces,
underscores, hyphens, dots and brackets removed), it equals one of the role's synonyms.
Required roles: ``customer``, ``date``, ``amount``. Optional: ``order_id``, ``name``,
``cost``, ``profit``, ``quantity``, ``region``, ``product``, ``rep``.
An explicit mapping ``{role: header}`` overrides detection for the roles it names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from .errors import InputError, show

REQUIRED = ("customer", "date", "amount")
SALES_SHEETS = ("sales", "销售", "销售数据", "sales data")  # sheet names, lower case

SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer": (
        "customer", "customerid", "customerno", "customernumber", "customercode", "custid",
        "client", "clientid", "clientno", "account", "accountid", "buyer", "buyerid",
        "memberid", "member", "客户", "客户编号", "客户id", "客户代码", "客户号", "客户编码",
        "会员", "会员编号", "会员id", "买家", "顾客", "顾客编号",
    ),
    "name": (
        "customername", "clientname", "accountname", "company", "companyname", "name",
        "客户名称", "客户姓名", "客户名", "公司名称", "顾客名称", "名称",
    ),
    "date": (
        "date", "orderdate", "invoicedate", "transactiondate", "saledate", "salesdate",
        "purchasedate", "day", "日期", "订单日期", "交易日期", "销售日期", "下单日期",
        "购买日期", "开票日期",
    ),
    "order_id": (
        "orderid", "order", "orderno", "ordernumber", "invoice", "invoiceid", "invoiceno",
        "invoicenumber", "transactionid", "receipt", "receiptno", "订单号", "订单编号",
        "单号", "订单", "发票号", "交易号", "单据号",
    ),
    "amount": (
        "amount", "netsales", "sales", "revenue", "netrevenue", "value", "total",
        "salesamount", "netamount", "linetotal", "金额", "销售额", "销售金额", "实收金额",
        "订单金额", "成交金额", "净销售额", "收入",
    ),
    "cost": ("cost", "costofsales", "cogs", "totalcost", "成本", "销售成本", "成本金额"),
    "profit": ("profit", "grossprofit", "margin", "grossmargin", "利润", "毛利", "毛利润"),
    "quantity": ("quantity", "qty", "units", "数量", "销量", "件数"),
    "region": ("region", "area", "territory", "地区", "区域", "大区"),
    "product": (
        "product", "productcategory", "category", "item", "sku", "产品", "商品", "品类",
        "产品类别", "商品类别",
    ),
    "rep": ("salesrep", "rep", "salesperson", "seller", "销售代表", "业务员", "销售员"),
}

ROLES = tuple(SYNONYMS)
_STRIP = re.compile(r"[\s_\-./()（）\[\]:：#]+")
_LOOKUP = {syn: role for role, syns in SYNONYMS.items() for syn in syns}


def normalize_header(text: object) -> str:
    """Header text reduced for matching: NFKC, lower case, separators removed."""
    if text is None:
        return ""
    return _STRIP.sub("", unicodedata.normalize("NFKC", str(text)).lower())


def role_of(header: object) -> str | None:
    """The role a header names, or None."""
    return _LOOKUP.get(normalize_header(header))


def column_letter(index: int) -> str:
    """0-based column index to Excel letters (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def detect_columns(
    headers: Sequence[object], mapping: Mapping[str, object] | None = None
) -> dict[str, int]:
    """Map each role to the index of its column in ``headers``.

    Two columns that could both be the same role is an error naming both (pass a
    mapping to choose); so is a missing required role or a mapping to an unknown header.
    """
    found: dict[str, int] = {}
    mapping = dict(mapping or {})
    unknown = set(mapping) - set(ROLES)
    if unknown:
        raise InputError(f"unknown role(s) in the column mapping: {sorted(unknown)}; "
                         f"roles are {', '.join(ROLES)}")
    by_text = {}
    for i, h in enumerate(headers):
        by_text.setdefault(normalize_header(h), []).append(i)
    for role, header in mapping.items():
        hits = by_text.get(normalize_header(header), [])
        if not hits:
            raise InputError(f"the mapping names column {show(header)} for {role}, "
                             "but no header is called that")
        if len(hits) > 1:
            raise InputError(_duplicate(role, headers, hits))
        found[role] = hits[0]
    taken = set(found.values())
    candidates: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        role = role_of(h)
        if role and role not in mapping and i not in taken:
            candidates.setdefault(role, []).append(i)
    for role, hits in candidates.items():
        if len(hits) > 1:
            raise InputError(_duplicate(role, headers, hits))
        found[role] = hits[0]
    missing = [r for r in REQUIRED if r not in found]
    if missing:
        names = ", ".join(show(h) for h in headers if normalize_header(h))
        raise InputError(
            f"no column for {', '.join(missing)} among the headers [{names}]; "
            f"rename a header (e.g. {', '.join(SYNONYMS[m][0] for m in missing)}) "
            f"or {_choose(missing)}"
        )
    return found


def _duplicate(role: str, headers: Sequence[object], hits: list[int]) -> str:
    cols = " and ".join(f"{show(headers[i])} (column {column_letter(i)})" for i in hits)
    return f"{cols} could both be the {role} column; keep one or {_choose([role])}"


def _choose(roles: Sequence[str]) -> str:
    """How a user names columns: the CLI's ``--columns`` or the workbook's Settings row."""
    pairs = ",".join(f"{role}=HEADER" for role in roles)
    return f"name the column with --columns {pairs} (in the workbook: a columns row in Settings)"


def find_header_row(
    rows: Sequence[Sequence[object]],
    mapping: Mapping[str, object] | None = None,
    scan: int = 30,
) -> int:
    """Index of the first row (within the first ``scan``) holding the required headers.

    Title rows above the table are allowed. Raises with the reason from the best
    candidate row when none qualifies.
    """
    best: tuple[int, InputError] | None = None
    for i, row in enumerate(rows[:scan]):
        try:
            detect_columns(list(row), mapping)
            return i
        except InputError as err:
            hits = sum(1 for h in row if role_of(h))
            if best is None or hits > best[0]:
                best = (hits, err)
    if best is None:
        raise InputError("the sheet is empty: no header row with customer, date and amount")
    raise InputError(f"no header row found in the first {scan} rows: {best[1].reason}")


def pick_sheet(names: list[str], sheet: str | None) -> str:
    """The sheet to read: ``sheet`` if given, else a sales sheet by name, else the first."""
    if sheet is not None:
        if sheet not in names:
            raise InputError(f"no sheet named {sheet!r}; the sheets are {names}")
        return sheet
    for name in names:
        if name.strip().lower() in SALES_SHEETS:
            return name
    return names[0]
