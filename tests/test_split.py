"""One report per manager (--split-by region|rep --managers FILE), over the real SMTP test
server: each manager receives only their customers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import pytest

from tests.readback import sheets, texts_among
from xl_crm.cli import main
from xl_crm.core.errors import InputError
from xl_crm.engines import analyze_path
from xl_crm.managers import parse_managers

TODAY_FLAGS = ["--as-of", "2026-10-31"]


@pytest.fixture(scope="module")
def small(small_sample):
    """The 300-customer workbook and its customers."""
    return small_sample, analyze_path(small_sample, today=dt.date(2026, 11, 22)).customers


@pytest.fixture(scope="module")
def regions(small):
    c = small[1]
    return {r: set(c.loc[c["region"] == r, "customer"]) for r in c["region"].unique()}


def _attachment(raw: bytes):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in message.walk():
        if part.get_filename() and part.get_filename().endswith(".xlsx"):
            return part.get_filename(), part.get_payload(decode=True), message
    raise AssertionError("no workbook attached")


def _workbook_ids(data: bytes | Path, everyone: set[str]) -> set[str]:
    """Every customer id found in any cell of the workbook."""
    return texts_among(data, everyone)


def test_each_manager_receives_only_their_customers(tmp_path, smtp, small, regions, capsys):
    names = sorted(regions)
    north, south, *rest = names
    managers = tmp_path / "managers.csv"
    managers.write_text("Region,Email,Name,Language\n"
                        f"{north},north@example.com,Nora,en\n"
                        f"{south},south@example.com,孙,zh\n"
                        "*,boss@example.com,Head office,\n", encoding="utf-8")
    out = tmp_path / "report.xlsx"
    status = main(["report", str(small[0]), "-o", str(out), *TODAY_FLAGS, "--split-by",
                   "region", "--managers", str(managers)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    everyone = set().union(*regions.values())
    by_rcpt = {tuple(rcpt): raw for _, rcpt, raw in smtp.mails}
    assert sorted(by_rcpt) == [("boss@example.com",), ("north@example.com",),
                               ("south@example.com",)]
    for who, region in (("north@example.com", north), ("south@example.com", south)):
        name, data, message = _attachment(by_rcpt[(who,)])
        assert name == f"report-region-{region}.xlsx"
        ids = _workbook_ids(data, everyone)
        assert ids == regions[region]  # all theirs, nobody else's
        body = message.get_body(("plain",)).get_content()
        others = everyone - regions[region]
        assert not any(c in body for c in others)
    zh = email.message_from_bytes(by_rcpt[("south@example.com",)], policy=email.policy.default)
    assert "客户" in zh.get_body(("plain",)).get_content()
    _, full, _ = _attachment(by_rcpt[("boss@example.com",)])
    assert _workbook_ids(full, everyone) == everyone
    # the regions without a manager are said, with their customer counts
    left = sum(len(regions[r]) for r in rest)
    assert f"{left:,} customers have no manager" in captured.err
    north_book = sheets(tmp_path / f"report-region-{north}.xlsx")
    summary = [v for r in north_book["Summary"] for v in r if v]
    assert any(isinstance(v, str) and v.startswith(f"Region {north}: {len(regions[north]):,} "
                                                   "of the company's 300 customers")
               for v in summary)


def test_a_refused_manager_is_listed_and_the_others_still_receive(tmp_path, smtp, small,
                                                                    regions, capsys):
    north, south = sorted(regions)[:2]
    managers = tmp_path / "managers.csv"
    managers.write_text(f"region,email\n{north},nobody@example.com\n{south},s@example.com\n")
    status = main(["report", str(small[0]), "-o", str(tmp_path / "r.xlsx"), *TODAY_FLAGS,
                   "--split-by", "region", "--managers", str(managers)])
    err = capsys.readouterr().err
    assert status == 1
    assert (f"region {north}: not sent: the SMTP server refused every recipient: "
            "nobody@example.com") in err
    assert [rcpt for _, rcpt, _ in smtp.mails] == [["s@example.com"]]


def test_dry_run_writes_one_message_per_manager(tmp_path, small, regions, capsys,
                                                 monkeypatch):
    monkeypatch.delenv("XL_CRM_SMTP_HOST", raising=False)
    names = sorted(regions)
    managers = tmp_path / "managers.csv"
    managers.write_text("region,email\n" + "".join(f"{r},{i}@example.com\n"
                                                   for i, r in enumerate(names)))
    out = tmp_path / "r.xlsx"
    assert main(["report", str(small[0]), "-o", str(out), *TODAY_FLAGS, "--split-by", "region",
                 "--managers", str(managers), "--dry-run"]) == 0
    emls = sorted(p.name for p in tmp_path.glob("*.eml"))
    assert emls == sorted(f"r-region-{r}.eml" for r in names)
    for i, r in enumerate(names):
        message = email.message_from_bytes((tmp_path / f"r-region-{r}.eml").read_bytes())
        assert message["To"] == f"{i}@example.com"
    assert "have no manager" not in capsys.readouterr().err


def test_split_by_rep(tmp_path, small, monkeypatch, capsys):
    monkeypatch.delenv("XL_CRM_SMTP_HOST", raising=False)
    c = small[1]
    rep = min(c["rep"].unique())
    managers = tmp_path / "m.csv"
    managers.write_text(f"Sales Rep;E-mail\n{rep};rep@example.com\n")
    assert main(["report", str(small[0]), "-o", str(tmp_path / "r.xlsx"), *TODAY_FLAGS,
                 "--split-by", "rep", "--managers", str(managers), "--dry-run"]) == 0
    slug = rep.replace(" ", "_")
    mine = set(c.loc[c["rep"] == rep, "customer"])
    assert _workbook_ids(tmp_path / f"r-rep-{slug}.xlsx", set(c["customer"])) == mine


@pytest.mark.parametrize(("rows", "message"), [
    ([["region", "name"], ["North", "x"]], "has no email column"),
    ([["email"], ["a@x.com"]], "has no region column"),
    ([["region", "email"], ["", "a@x.com"]], "managers row 2: the region is empty"),
    ([["region", "email"], ["North", ""]], "managers row 2: no email address for 'North'"),
    ([["region", "email"], ["North", "a@@x"]], "managers row 2: bad email address"),
    ([["region", "email", "language"], ["North", "a@x.com", "fr"]],
     "managers row 2: language 'fr' is not one of en, zh"),
    ([["region", "email"], [None, None]], "managers lists no manager"),
])
def test_a_bad_managers_table_is_one_line_naming_the_row(rows, message):
    with pytest.raises(InputError, match=message):
        parse_managers(rows, "region")


def test_split_flags_go_together_and_are_checked_before_work(tmp_path, small, capsys):
    out = tmp_path / "r.xlsx"
    assert main(["report", str(small[0]), "-o", str(out), "--split-by", "region"]) == 1
    assert "--split-by and --managers go together" in capsys.readouterr().err
    bad = tmp_path / "m.csv"
    bad.write_text("region,email\nNorth,not-an-address\n")
    assert main(["report", str(small[0]), "-o", str(out), "--split-by", "region",
                 "--managers", str(bad)]) == 1
    assert "m.csv row 2: bad email address" in capsys.readouterr().err
    assert not out.exists()


def test_the_button_sends_each_manager_only_their_customers(tmp_path, smtp):
    from tests.fake_xlwings import Book
    from tests.test_monthly import sales_rows, settings_rows
    from xl_crm import macros

    plain = Book(fullname=str(tmp_path / "plain.xlsm"))
    plain.add_sheet("销售", sales_rows())
    c = macros.run(plain).analysis.customers  # the regions of the customers
    book = Book(fullname=str(tmp_path / "monthly.xlsm"), answers=["yes"])
    book.add_sheet("销售", sales_rows())
    book.add_sheet("Settings", settings_rows(split_by="region"))
    first, second = sorted(c["region"].unique())[:2]
    book.add_sheet("Managers", [["地区", "邮箱", "语言"], [first, "a@example.com", "zh"],
                                [second, "b@example.com", None]])
    macros.monthly_report(book)
    prompt, _, buttons = book.app.alerts[0]
    assert buttons == "yes_no" and "2 managers" in prompt
    everyone = set(c["customer"])
    got = {}
    for _, rcpt, raw in smtp.mails:
        _, data, _ = _attachment(raw)
        got[tuple(rcpt)] = _workbook_ids(data, everyone)
    assert got == {("a@example.com",): set(c.loc[c["region"] == first, "customer"]),
                   ("b@example.com",): set(c.loc[c["region"] == second, "customer"])}
    assert (tmp_path / "reports").is_dir()
    assert "customers have no manager" in book.app.alerts[-1][0]


def test_the_button_refuses_a_split_without_a_managers_sheet(tmp_path):
    from tests.fake_xlwings import Book
    from tests.test_monthly import sales_rows, settings_rows
    from xl_crm import macros

    book = Book(fullname=str(tmp_path / "monthly.xlsm"))
    book.add_sheet("销售", sales_rows())
    book.add_sheet("Settings", settings_rows(split_by="rep"))
    before = book.snapshot()
    macros.monthly_report(book)
    assert "needs a sheet named Managers" in book.app.alerts[0][0]
    assert book.snapshot() == before
