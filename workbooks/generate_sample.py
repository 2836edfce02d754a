"""Seeded generator for the xl_crm sample workbooks.

Simulates the monthly sales export of a small/mid-sized B2B/B2C distributor
over 24 months (2024-11-01 .. 2026-10-31) and writes two workbooks into the package's
data folder, ``xl_crm/data`` (or into ``--out-dir``), from the repository root::

    python -m workbooks.generate_sample [--out-dir DIR]

The workbooks are package data (``xl-crm demo`` reads the English one); the generator is
not part of the installed package: the tests, the benchmarks and the button workbook's
builder import it from here.

* ``sample_sales.xlsx``    - sheet "Sales", English headers, all rows.
* ``sample_sales_zh.xlsx`` - sheet "销售", Chinese headers; the last 6 months for
  customers C00001..C00800, with deliberately messy dates (about 10% text
  "2026/3/1", about 5% text "2026年3月1日") and two blank rows in the middle.

Model (all randomness from ``numpy.random.default_rng(seed)``; same seed, same
rows, and the saved files are byte-identical across runs):

* Customers get a region (fixed sales rep per region), an acquisition month
  (weighted towards the first months so there is an existing base), a monthly
  purchase rate (gamma: most buy once or twice, a few buy monthly or more), a
  line-value level (lognormal, heavy tail: ~20% of customers make ~75-80% of
  revenue), a favourite product category, and for about half of them a churn
  month after which they stop buying.
* Every month each active customer places Poisson(rate x seasonality) orders
  (Q4 higher, Q1 lower), plus one guaranteed order in the acquisition month.
  Order IDs "SO-000001".. are sequential in date order. Each order has 1-4
  lines, each in a different product category.
* About 2.5% of order lines get a return line 3-30 days later (dropped if past
  the end date): same Order ID, negative Quantity, Net Sales and Cost (full or
  partial quantity). Exactly three customers appear only through one return
  each (their purchase was before the window), with order IDs "SO-R0001"...
* Three customers carry names that look like spreadsheet formulas
  ("+Plus...", "@Home...", "=HYPERLINK(...)") to test injection safety; the
  workbooks store them as plain text, never as formulas.

Columns (English file, in order): Date (Excel date, yyyy-mm-dd), Order ID,
Customer ID, Customer Name, Region, Product Category, Quantity (int),
Net Sales (2 decimals), Cost (2 decimals, ~55-75% of net sales by category),
Sales Rep. Rows are sorted by Date, then Order ID.
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.xml.constants import ARC_CORE
from openpyxl.xml.functions import tostring

SEED = 20261101
START = date(2024, 11, 1)
END = date(2026, 10, 31)
FIXED_TIMESTAMP = datetime(2026, 11, 1)
DATA_DIR = Path(__file__).resolve().parent.parent / "xl_crm" / "data"

COLUMNS = [
    "Date", "Order ID", "Customer ID", "Customer Name", "Region",
    "Product Category", "Quantity", "Net Sales", "Cost", "Sales Rep",
]
ZH_COLUMNS = [
    "日期", "订单号", "客户编号", "客户名称", "地区",
    "品类", "数量", "销售额", "成本", "销售代表",
]
EN_WIDTHS = (12, 12, 12, 40, 10, 17, 10, 14, 14, 16)
ZH_WIDTHS = (16, 12, 12, 40, 8, 12, 8, 14, 14, 10)
DATE_FORMAT = "yyyy-mm-dd"
AMOUNT_FORMAT = "#,##0.00"

REGIONS = np.array(["North", "South", "East", "West", "Central"], dtype=object)
REGION_WEIGHTS = np.array([0.22, 0.20, 0.26, 0.14, 0.18])
REPS = np.array(
    ["Alice Morgan", "Ben Carter", "Chloe Nguyen", "Daniel Ruiz", "Emma Schultz"],
    dtype=object,
)
CATEGORIES = np.array(
    ["Beverages", "Snacks", "Household", "Personal Care", "Stationery", "Electronics"],
    dtype=object,
)
CATEGORY_WEIGHTS = np.array([0.24, 0.22, 0.18, 0.15, 0.12, 0.09])
UNIT_PRICE = np.array([3.2, 2.4, 6.5, 5.8, 1.9, 48.0])
LINE_VALUE = np.array([1.0, 0.8, 1.1, 0.9, 0.6, 2.2])
COST_RATIO = np.array([0.70, 0.66, 0.62, 0.58, 0.57, 0.73])
LINES_PER_ORDER_P = np.array([0.35, 0.30, 0.20, 0.15])
SEASONALITY = {1: 0.85, 2: 0.90, 10: 1.15, 11: 1.25, 12: 1.35}

ZH_REGIONS = {
    "North": "华北", "South": "华南", "East": "华东", "West": "西部", "Central": "华中",
}
ZH_CATEGORIES = {
    "Beverages": "饮料", "Snacks": "零食", "Household": "家居用品",
    "Personal Care": "个人护理", "Stationery": "文具", "Electronics": "电子产品",
}
ZH_REPS = dict(zip(REPS, ["王伟", "李娜", "张敏", "刘洋", "陈静"]))

TRICKY_NAMES = (
    "+Plus Office Supplies",
    "@Home Decor",
    '=HYPERLINK("http://example.com","Acme")',
)
N_RETURN_ONLY = 3
RETURN_RATE = 0.025
ZH_MAX_CUSTOMER = 800
ZH_MONTHS = 6

NAME_FIRST = (
    "Blue", "Silver", "Golden", "Green", "Red", "North", "South", "East", "West",
    "Pacific", "Atlantic", "Summit", "Maple", "Cedar", "Pine", "Oak", "Iron",
    "Crystal", "Royal", "Sunny", "Bright", "Grand", "Evergreen", "Harbor",
    "Liberty", "Pioneer", "Prairie", "Highland", "Coastal", "Metro", "Urban",
    "Alpine", "Riverside", "Lakeside", "Heritage", "Premier", "Swift", "Crown",
    "Eagle", "Falcon",
)
NAME_SECOND = (
    "River", "Ridge", "Valley", "Bay", "Star", "Field", "Stone", "Bridge", "Lake",
    "Hill", "Point", "Creek", "Peak", "Grove", "Brook", "Gate", "Wood", "Leaf",
    "Rock", "Spring", "Meadow", "Crest", "Wind", "Shore", "Mill", "Port",
    "Haven", "Park", "Line", "Way",
)
NAME_TRADE = (
    "Trading", "Foods", "Supplies", "Distribution", "Retail", "Wholesale",
    "Market", "Goods", "Imports", "Stores", "Office Supplies", "Provisions",
    "Catering", "Hardware", "Pharmacy", "Grocers", "Traders", "Merchants",
    "Logistics", "Home Goods",
)
NAME_SUFFIX = ("", " Ltd", " Co.", " Inc.", " LLC", " Group", " & Co.", " & Sons")


@dataclass
class Customers:
    """Per-customer attributes, one array element per customer."""

    ids: np.ndarray
    names: np.ndarray
    region: np.ndarray
    acq: np.ndarray
    churn: np.ndarray
    rate: np.ndarray
    spend: np.ndarray
    fav: np.ndarray
    return_only: np.ndarray


# --------------------------------------------------------------------------
# Calendar helpers
# --------------------------------------------------------------------------


def _month_spans(start: date, end: date) -> list[tuple[int, int, float]]:
    """(first day offset, last day offset, seasonality) for each month."""
    spans = []
    first = date(start.year, start.month, 1)
    while first <= end:
        nxt = _add_months(first, 1)
        lo = (max(first, start) - start).days
        hi = (min(nxt - timedelta(days=1), end) - start).days
        spans.append((lo, hi, SEASONALITY.get(first.month, 1.0)))
        first = nxt
    return spans


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# --------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------


def _company_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique company names drawn from the product of the word lists."""
    shape = (len(NAME_FIRST), len(NAME_SECOND), 2, len(NAME_TRADE), len(NAME_SUFFIX))
    total = int(np.prod(shape))
    picks = np.resize(rng.permutation(total), n)
    parts = np.unravel_index(picks, shape)
    names = []
    for i, (a, b, joined, t, s) in enumerate(zip(*(p.tolist() for p in parts))):
        stem = NAME_FIRST[a] + (NAME_SECOND[b].lower() if joined else " " + NAME_SECOND[b])
        extra = f" {i // total + 1}" if i >= total else ""
        names.append(f"{stem}{extra} {NAME_TRADE[t]}{NAME_SUFFIX[s]}")
    return np.array(names, dtype=object)


def _make_customers(rng: np.random.Generator, n: int, n_months: int) -> Customers:
    acq_weights = np.exp(-np.arange(n_months) / 14.0)
    acq_weights[0] += 5.0
    acq = rng.choice(n_months, size=n, p=acq_weights / acq_weights.sum())
    churns = rng.random(n) < 0.5
    churn = np.where(churns, acq + 1 + rng.geometric(1 / 9, size=n), n_months)
    customers = Customers(
        ids=np.array([f"C{i:05d}" for i in range(1, n + 1)], dtype=object),
        names=_company_names(rng, n),
        region=rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS),
        acq=acq,
        churn=np.minimum(churn, n_months),
        rate=rng.gamma(0.55, 0.6, size=n),
        spend=rng.lognormal(np.log(110.0), 1.05, size=n),
        fav=rng.choice(len(CATEGORIES), size=n, p=CATEGORY_WEIGHTS),
        return_only=np.zeros(n, dtype=bool),
    )
    _add_special_customers(rng, customers, n_months)
    return customers


def _add_special_customers(
    rng: np.random.Generator, customers: Customers, n_months: int
) -> None:
    """Tricky names on three loyal low-ID customers; three return-only customers."""
    n = customers.ids.size
    tricky = rng.choice(min(n, ZH_MAX_CUSTOMER), size=len(TRICKY_NAMES), replace=False)
    customers.names[tricky] = TRICKY_NAMES
    customers.acq[tricky] = 0
    customers.churn[tricky] = n_months
    customers.rate[tricky] = np.maximum(customers.rate[tricky], 0.8)
    others = np.setdiff1d(np.arange(n), tricky)
    ret_only = rng.choice(others, size=N_RETURN_ONLY, replace=False)
    customers.return_only[ret_only] = True
    customers.acq[ret_only] = n_months  # never acquired inside the window
    customers.churn[ret_only] = n_months


# --------------------------------------------------------------------------
# Orders, lines, returns
# --------------------------------------------------------------------------


def _first_order_month(rng: np.random.Generator, customers: Customers) -> np.ndarray:
    """Month of each customer's guaranteed order.

    New customers order in their acquisition month; the existing base
    (acquired in month 0) is spread over the first three active months so the
    first month does not spike.
    """
    active_months = np.maximum(customers.churn - customers.acq, 1)
    delay = rng.integers(0, np.minimum(active_months, 3))
    return customers.acq + np.where(customers.acq == 0, delay, 0)


def _make_orders(
    rng: np.random.Generator, customers: Customers, spans: list[tuple[int, int, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Customer index and day offset per order, sorted in date order."""
    all_customers = np.arange(customers.ids.size)
    first = _first_order_month(rng, customers)
    cust_parts, day_parts = [], []
    for month, (lo, hi, season) in enumerate(spans):
        active = (customers.acq <= month) & (month < customers.churn)
        lam = np.where(active, customers.rate * season, 0.0)
        counts = rng.poisson(lam) + (first == month)
        cust = np.repeat(all_customers, counts)
        cust_parts.append(cust)
        day_parts.append(rng.integers(lo, hi + 1, size=cust.size))
    cust, day = np.concatenate(cust_parts), np.concatenate(day_parts)
    order = np.lexsort((rng.random(cust.size), day))
    return cust[order], day[order]


def _make_lines(
    rng: np.random.Generator, customers: Customers, order_cust: np.ndarray, order_day: np.ndarray
) -> pd.DataFrame:
    """Expand orders into 1-4 lines with distinct categories and price them."""
    n_orders, n_cat = order_cust.size, len(CATEGORIES)
    n_lines = rng.choice(4, size=n_orders, p=LINES_PER_ORDER_P) + 1
    keys = np.log(CATEGORY_WEIGHTS) + rng.gumbel(size=(n_orders, n_cat))
    keys[np.arange(n_orders), customers.fav[order_cust]] += np.log(4.0)
    ranked = np.argsort(-keys, axis=1)[:, :4]
    mask = np.arange(4) < n_lines[:, None]
    order_idx, line_no = np.nonzero(mask)
    cat = ranked[mask]
    cust = order_cust[order_idx]
    qty, net, cost = _price_lines(rng, customers.spend[cust], cat)
    return pd.DataFrame({
        "day": order_day[order_idx], "order": order_idx, "line": line_no,
        "cust": cust, "cat": cat, "qty": qty, "net": net, "cost": cost,
    })


def _price_lines(
    rng: np.random.Generator, spend: np.ndarray, cat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantity, net sales and cost for each line."""
    n = cat.size
    target = spend * LINE_VALUE[cat] * rng.lognormal(0.0, 0.35, size=n)
    unit = np.round(UNIT_PRICE[cat] * rng.lognormal(0.0, 0.08, size=n), 2)
    qty = np.maximum(1, np.rint(target / unit)).astype(np.int64)
    net = np.round(qty * unit, 2)
    ratio = np.clip(COST_RATIO[cat] + rng.normal(0.0, 0.015, size=n), 0.555, 0.745)
    return qty, net, np.round(net * ratio, 2)


def _make_returns(rng: np.random.Generator, lines: pd.DataFrame, last_day: int) -> pd.DataFrame:
    """Return lines (same order, 3-30 days later) for ~2.5% of order lines."""
    picked = lines[rng.random(len(lines)) < RETURN_RATE].copy()
    picked["day"] += rng.integers(3, 31, size=len(picked))
    picked = picked[picked["day"] <= last_day]
    qty = picked["qty"].to_numpy()
    partial = rng.integers(1, np.maximum(qty, 2))
    full = (rng.random(qty.size) < 0.6) | (qty == 1)
    returned = np.where(full, qty, partial)
    share = returned / qty
    picked["qty"] = -returned
    picked["net"] = -np.round(picked["net"].to_numpy() * share, 2)
    picked["cost"] = -np.round(picked["cost"].to_numpy() * share, 2)
    return picked


def _return_only_lines(
    rng: np.random.Generator, customers: Customers, first_order: int, last_day: int
) -> pd.DataFrame:
    """One return line each for the customers who bought before the window."""
    cust = np.flatnonzero(customers.return_only)
    cat = customers.fav[cust]
    qty, net, cost = _price_lines(rng, customers.spend[cust], cat)
    return pd.DataFrame({
        "day": rng.integers(0, last_day + 1, size=cust.size),
        "order": first_order + np.arange(cust.size), "line": 0,
        "cust": cust, "cat": cat, "qty": -qty, "net": -net, "cost": -cost,
    })


def _order_ids(n_orders: int, n_return_only: int) -> np.ndarray:
    regular = [f"SO-{i:06d}" for i in range(1, n_orders + 1)]
    special = [f"SO-R{i:04d}" for i in range(1, n_return_only + 1)]
    return np.array(regular + special, dtype=object)


def _to_frame(
    lines: pd.DataFrame, customers: Customers, n_orders: int, start: date, n_days: int
) -> pd.DataFrame:
    """Map the integer codes onto the final English columns, sorted."""
    lines = lines.sort_values(["day", "order", "line"], kind="stable")
    day_lookup = np.array([start + timedelta(days=i) for i in range(n_days)], dtype=object)
    cust, region = lines["cust"].to_numpy(), customers.region[lines["cust"].to_numpy()]
    order_ids = _order_ids(n_orders, N_RETURN_ONLY)
    frame = pd.DataFrame({
        "Date": day_lookup[lines["day"].to_numpy()],
        "Order ID": order_ids[lines["order"].to_numpy()],
        "Customer ID": customers.ids[cust],
        "Customer Name": customers.names[cust],
        "Region": REGIONS[region],
        "Product Category": CATEGORIES[lines["cat"].to_numpy()],
        "Quantity": lines["qty"].to_numpy(),
        "Net Sales": lines["net"].to_numpy(),
        "Cost": lines["cost"].to_numpy(),
        "Sales Rep": REPS[region],
    })
    return frame[COLUMNS]


def generate_transactions(
    n_customers: int = 3000,
    start: date = START,
    end: date = END,
    seed: int = SEED,
) -> pd.DataFrame:
    """Return the English-column sales DataFrame (one row per order/return line)."""
    if n_customers < 10:
        raise ValueError("n_customers must be at least 10")
    if end <= start:
        raise ValueError("end must be after start")
    rng = np.random.default_rng(seed)
    spans = _month_spans(start, end)
    customers = _make_customers(rng, n_customers, len(spans))
    order_cust, order_day = _make_orders(rng, customers, spans)
    lines = _make_lines(rng, customers, order_cust, order_day)
    last_day = (end - start).days
    lines = pd.concat(
        [
            lines,
            _make_returns(rng, lines, last_day),
            _return_only_lines(rng, customers, order_cust.size, last_day),
        ],
        ignore_index=True,
    )
    return _to_frame(lines, customers, order_cust.size, start, last_day + 1)


# --------------------------------------------------------------------------
# Chinese copy
# --------------------------------------------------------------------------


def _messy_dates(rng: np.random.Generator, dates: pd.Series) -> list[date | str]:
    """~10% "2026/3/1" text, ~5% "2026年3月1日" text, the rest real dates."""
    draw = rng.random(len(dates))
    out: list[date | str] = []
    for d, u in zip(dates.tolist(), draw.tolist()):
        if u < 0.10:
            out.append(f"{d.year}/{d.month}/{d.day}")
        elif u < 0.15:
            out.append(f"{d.year}年{d.month}月{d.day}日")
        else:
            out.append(d)
    return out


def to_chinese(
    frame: pd.DataFrame, end: date = END, seed: int = SEED
) -> tuple[pd.DataFrame, list[int]]:
    """Chinese subset plus the data-row positions to precede with a blank row."""
    rng = np.random.default_rng([seed, 1])
    window_start = _add_months(date(end.year, end.month, 1), 1 - ZH_MONTHS)
    id_number = frame["Customer ID"].str[1:].astype(int)
    sub = frame[(frame["Date"] >= window_start) & (id_number <= ZH_MAX_CUSTOMER)]
    zh = pd.DataFrame({
        "日期": _messy_dates(rng, sub["Date"]),
        "订单号": sub["Order ID"].to_numpy(),
        "客户编号": sub["Customer ID"].to_numpy(),
        "客户名称": sub["Customer Name"].to_numpy(),
        "地区": sub["Region"].map(ZH_REGIONS).to_numpy(),
        "品类": sub["Product Category"].map(ZH_CATEGORIES).to_numpy(),
        "数量": sub["Quantity"].to_numpy(),
        "销售额": sub["Net Sales"].to_numpy(),
        "成本": sub["Cost"].to_numpy(),
        "销售代表": sub["Sales Rep"].map(ZH_REPS).to_numpy(),
    })
    n = len(zh)
    blanks = sorted(rng.choice(np.arange(n // 3, 2 * n // 3), size=2, replace=False).tolist())
    return zh, blanks


# --------------------------------------------------------------------------
# Excel output
# --------------------------------------------------------------------------


def _styled(
    ws: object, value: object, number_format: str | None = None, bold: bool = False
) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)
    return cell


def _literal(ws: object, value: object) -> object:
    """Keep text such as '=HYPERLINK(...)' a string; openpyxl would write a formula."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _row_cells(ws: object, row: tuple) -> list:
    values = [_literal(ws, v) for v in row]
    if isinstance(values[0], date):
        values[0] = _styled(ws, values[0], DATE_FORMAT)
    values[7] = _styled(ws, values[7], AMOUNT_FORMAT)
    values[8] = _styled(ws, values[8], AMOUNT_FORMAT)
    return values


def write_workbook(
    frame: pd.DataFrame,
    path: Path,
    sheet_name: str,
    widths: tuple[int, ...],
    blank_before: list[int] | None = None,
) -> None:
    """Write ``frame`` (10 columns, Sales layout) with openpyxl in write-only mode."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet_name)
    ws.freeze_panes = "A2"
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append([_styled(ws, h, bold=True) for h in frame.columns])
    blanks = set(blank_before or [])
    columns = [frame[c].tolist() for c in frame.columns]
    for i, row in enumerate(zip(*columns)):
        if i in blanks:
            ws.append([])
        ws.append(_row_cells(ws, row))
    _save_reproducible(wb, path)


def _save_reproducible(wb: Workbook, path: Path) -> None:
    """Save with fixed document properties and zip timestamps."""
    buffer = io.BytesIO()
    wb.save(buffer)  # openpyxl stamps "modified" with now(); rewritten below
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    core = tostring(wb.properties.to_tree())
    stamp = FIXED_TIMESTAMP.timetuple()[:6]
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = core if info.filename == ARC_CORE else src.read(info)
            dst.writestr(zipfile.ZipInfo(info.filename, stamp), data, zipfile.ZIP_DEFLATED)


def main(argv: list[str] | None = None) -> None:
    """Write both sample workbooks (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DATA_DIR,
                        help="folder for the two workbooks (default: xl_crm/data)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frame = generate_transactions()
    write_workbook(frame, args.out_dir / "sample_sales.xlsx", "Sales", EN_WIDTHS)
    zh, blanks = to_chinese(frame)
    zh_path = args.out_dir / "sample_sales_zh.xlsx"
    write_workbook(zh, zh_path, "销售", ZH_WIDTHS, blank_before=blanks)
    print(
        f"sample_sales.xlsx: {len(frame):,} rows, "
        f"{frame['Customer ID'].nunique():,} customers; "
        f"sample_sales_zh.xlsx: {len(zh):,} rows; {time.perf_counter() - t0:.1f}s"
    )


if __name__ == "__main__":
    main()
