"""The xl-crm command line: real runs on real files, exit codes, help and README coverage."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys

import pytest
from openpyxl import load_workbook

from xl_crm.cli import build_parser, main

from .conftest import ROOT, SAMPLE, SAMPLE_ZH


def test_demo_prints_the_analysis_and_writes_the_report(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    assert main(["demo"]) == 0  # runs again: the demo replaces its own report
    assert (tmp_path / "out" / "sample-customer-value-2026-10-en.xlsx").exists()
    out = capsys.readouterr().out
    assert "sample_sales.xlsx [Sales]" in out
    assert "as of 2026-10-31" in out
    assert "customers 3,000 (without a purchase: 3)" in out
    for title in ("ABC tiers", "Customer pyramid", "RFM segments", "Lifecycle stages",
                  "Customer value matrix", "Dwyer lifetime value"):
        assert title in out


def test_bad_input_gives_one_line_and_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("Customer,Date,Amount\nC1,2025-03-01,12\nC2,2025-03-02,twelve\n")
    assert main(["analyze", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "xl-crm: bad.csv: Amount (column C) row 3: 'twelve' is not a number"
    assert bad.read_text().endswith("twelve\n")  # the input is untouched


def test_console_script_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "xl_crm.cli", "--version"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.startswith("xl_crm ")


def test_a_command_collects_less_often_and_leaves_the_collector_as_it_was(capsys):
    import gc

    from xl_crm.cli import GC_YOUNG, fewer_collections

    before = gc.get_threshold()
    raised = (max(GC_YOUNG, before[0]), *before[1:])
    with fewer_collections():
        assert gc.get_threshold() == raised
    assert gc.get_threshold() == before
    # two commands in two threads, the first ending first: restored when both have ended
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == raised
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    for argv in (["--version"], ["no-such-command"]):  # argparse exits: SystemExit
        with pytest.raises(SystemExit):
            main(argv)
        assert gc.get_threshold() == before and gc.isenabled()
    assert main(["report", "no-such-file.csv"]) == 1
    assert gc.get_threshold() == before
    capsys.readouterr()


def test_the_console_script_is_main_then_no_collection_at_exit(monkeypatch, capsys):
    import gc
    import tomllib

    from xl_crm.cli import console

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"xl-crm": "xl_crm.cli:console"}
    monkeypatch.setattr(sys, "argv", ["xl-crm", "report", "no-such-file.csv"])
    try:
        assert console() == 1  # main's exit status
        assert not gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()
    assert capsys.readouterr().err.startswith("xl-crm: ")


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    parser = build_parser()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert "Example: xl-crm" in sub.description, name
        assert f"xl-crm {name}" in readme, name


# --- report and mail through the command line, with a real SMTP server on loopback ---

import email
import email.policy


def test_report_is_written_then_mailed(tmp_path, smtp, capsys):
    out = tmp_path / "oct.xlsx"
    code = main(["report", str(SAMPLE_ZH), "-o", str(out), "--lang", "zh",
                 "--email", "boss@example.com", "--bcc", "audit@example.com"])
    assert code == 0, capsys.readouterr().err
    assert load_workbook(out, read_only=True).sheetnames[0] == "摘要"
    (sender, recipients, raw), = smtp.mails
    assert sender == "reports@example.com"
    assert recipients == ["boss@example.com", "audit@example.com"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    # the month, then the headline change (VIPs at risk, value since the previous month end)
    assert message["Subject"] == "客户价值报告 — 2026-10：风险VIP客户 4 位，客户价值较 2026-09-30 +19.9%"
    attachment = next(message.iter_attachments())
    assert attachment.get_content() == out.read_bytes()


def test_a_report_over_the_mail_limit_is_mailed_as_a_summary_workbook(tmp_path, smtp, capsys,
                                                                     monkeypatch, small_sample):
    monkeypatch.setenv("XL_CRM_MAIL_MAX_MB", "0.1")  # the 300 customers' report: about 0.2 MB
    out = tmp_path / "oct.xlsx"
    assert main(["report", str(small_sample), "-o", str(out), "--email",
                 "boss@example.com"]) == 0
    small = tmp_path / "oct summary.xlsx"
    assert f"summary for mail written: {small.resolve()}" in capsys.readouterr().out
    (_, _, raw), = smtp.mails
    message = email.message_from_bytes(raw, policy=email.policy.default)
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "oct summary.xlsx"
    assert attachment.get_content() == small.read_bytes()
    names = load_workbook(small, read_only=True).sheetnames
    assert names[:4] == ["Summary", "Actions", "Changes", "Distributions"]
    assert "Customers" not in names and "Tier A" not in names
    body = message.get_body(("plain",)).get_content()
    size = out.stat().st_size / 1e6
    assert (f"The full report ({size:.1f} MB) is over the mail limit of 0.1 MB, so the "
            f"attachment holds the summary sheets only; the full report is at "
            f"{out.resolve()}") in " ".join(body.split())
    # an existing report over the limit is refused in one line, nothing sent
    assert main(["email", str(out), "--to", "boss@example.com"]) == 1
    err = capsys.readouterr().err
    assert err == (f"xl-crm: oct.xlsx is {size:.1f} MB, over the mail limit of 0.1 MB "
                   "(XL_CRM_MAIL_MAX_MB); send it with xl-crm report --email, which attaches "
                   "a summary workbook, or raise the limit\n")
    assert len(smtp.mails) == 1


def test_report_stays_when_a_recipient_is_refused(small_sample, tmp_path, smtp, capsys):
    out = tmp_path / "r.xlsx"
    code = main(["report", str(small_sample), "-o", str(out),
                 "--email", "boss@example.com", "nobody@example.com"])
    captured = capsys.readouterr()
    assert code == 1 and out.exists()
    assert "refused: nobody@example.com (550 no such user)" in captured.out
    assert "boss@example.com" in captured.out


def test_report_stays_when_the_server_is_down(small_sample, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XL_CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("XL_CRM_SMTP_PORT", "9")  # discard port: nothing listens
    monkeypatch.setenv("XL_CRM_SMTP_SECURITY", "none")
    monkeypatch.setenv("XL_CRM_MAIL_FROM", "reports@example.com")
    out = tmp_path / "r.xlsx"
    assert main(["report", str(small_sample), "-o", str(out), "--email", "a@example.com"]) == 1
    err = capsys.readouterr().err
    assert out.exists()
    assert err.startswith(f"xl-crm: the report is written ({out.resolve()}) but was not sent:")
    assert "cannot reach SMTP server 127.0.0.1:9" in err


def test_email_existing_report_dry_run_writes_eml(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("XL_CRM_SMTP_HOST", raising=False)
    out = tmp_path / "r.xlsx"
    assert main(["report", str(SAMPLE_ZH), "-o", str(out)]) == 0
    assert main(["email", str(out), "--to", "boss@example.com", "--dry-run"]) == 0
    eml = tmp_path / "r.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "boss@example.com"
    assert message["Subject"] == ("Customer value report — 2026-10: 4 VIPs at risk, value "
                                  "+19.9% since 2026-09-30")
    kinds = {part.get_content_type() for part in message.walk()}
    assert {"text/plain", "text/html"} <= kinds
    assert "dry run: message written to" in capsys.readouterr().out


def test_report_refuses_existing_output_and_input(small_sample, tmp_path, capsys):
    out = tmp_path / "r.xlsx"
    assert main(["report", str(small_sample), "-o", str(out)]) == 0
    assert main(["report", str(small_sample), "-o", str(out)]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    copy = tmp_path / "sales.xlsx"
    copy.write_bytes(small_sample.read_bytes())
    assert main(["report", str(copy), "-o", str(copy), "--overwrite"]) == 1
    assert "is the input file" in capsys.readouterr().err
    assert copy.read_bytes() == small_sample.read_bytes()


def test_an_interrupted_report_leaves_no_file(small_sample, tmp_path, monkeypatch, capsys):
    from openpyxl.writer.excel import ExcelWriter

    def interrupted(self):  # half the parts written, then Ctrl+C
        self._archive.writestr("partial.xml", b"<partial/>")
        raise KeyboardInterrupt

    monkeypatch.setattr(ExcelWriter, "write_data", interrupted)
    out = tmp_path / "r.xlsx"
    assert main(["report", str(small_sample), "-o", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the report nor a temporary file


def test_a_signal_as_the_temporary_file_is_made_leaves_no_file(small_sample, tmp_path,
                                                               monkeypatch, capsys):
    """The window CI hit (SIGINT while saving): the signal raised just after the temporary
    file beside the report was created, before its name reached the cleanup."""
    from xl_crm import output

    real_close = os.close

    def close_then_interrupted(fd):  # the file exists now; a signal raises here
        real_close(fd)
        monkeypatch.setattr(output.os, "close", real_close)
        raise KeyboardInterrupt

    monkeypatch.setattr(output.os, "close", close_then_interrupted)
    out = tmp_path / "r.xlsx"
    out.write_bytes(b"the previous report")
    assert main(["report", str(small_sample), "-o", str(out), "--overwrite"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]  # no .r-*.xlsx left
    assert out.read_bytes() == b"the previous report"


def test_engine_option_gives_the_same_report_figures(tmp_path, capsys):
    csv = tmp_path / "sales.csv"
    load = load_workbook(SAMPLE_ZH, read_only=True)["销售"]
    rows = [r for r in load.iter_rows(values_only=True) if any(v is not None for v in r)]
    import csv as csv_module

    with csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv_module.writer(fh)
        for r in rows:
            writer.writerow([v.date().isoformat() if hasattr(v, "date") else v for v in r])
    assert main(["analyze", str(csv)]) == 0
    pandas_out = capsys.readouterr().out.splitlines()[2:]
    assert main(["analyze", str(csv), "--engine", "duckdb"]) == 0
    duck_out = capsys.readouterr().out.splitlines()[2:]
    assert pandas_out == duck_out


def test_the_runtime_package_ships_the_sample_and_not_its_generator():
    from xl_crm.cli import sample_path

    package = ROOT / "xl_crm"
    assert sample_path() == package / "data" / "sample_sales.xlsx" and sample_path().exists()
    assert not (package / "sample.py").exists()
    imports = re.compile(r"^\s*(from|import)\s+workbooks\b", re.MULTILINE)
    for module in package.rglob("*.py"):  # the generator and builders are repository tools
        assert not imports.search(module.read_text(encoding="utf-8")), module


def test_an_action_table_from_a_file(tmp_path, capsys):
    table = tmp_path / "actions.csv"
    table.write_text("rule,stage,priority,action_en,action_zh,reason_en,reason_zh\n"
                     "call,Lost,1,Call them,致电,Lost {days} days,流失{days}天\n"
                     "rest,,4,Nothing,无,-,-\n", encoding="utf-8")
    assert main(["analyze", str(SAMPLE), "--actions", str(table)]) == 0
    out = capsys.readouterr().out
    assert "1,791 customers to contact" in out and "Call them" in out
    table.write_text("rule,stage,priority,action_en,action_zh,reason_en,reason_zh\n"
                     "call,Asleep,1,a,b,c,d\n", encoding="utf-8")
    assert main(["analyze", str(SAMPLE), "--actions", str(table)]) == 1
    assert capsys.readouterr().err == (
        "xl-crm: --actions: actions.csv: actions stage row 2: 'Asleep' is not a condition on "
        "stage (use Acquisition, Growth, Maturity, Decline, Lost)\n")


def test_an_unreadable_action_table_or_mail_limit_is_one_line(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "none.csv"
    assert main(["analyze", str(SAMPLE), "--actions", str(missing)]) == 1
    assert capsys.readouterr().err == f"xl-crm: --actions: file not found: {missing}\n"
    latin = tmp_path / "latin.csv"
    latin.write_bytes("rule,priority,action_en,action_zh,reason_en,reason_zh\n"
                      "caf\xe9,1,a,b,c,d\n".encode("latin-1"))
    assert main(["analyze", str(SAMPLE), "--actions", str(latin)]) == 1
    assert capsys.readouterr().err == ("xl-crm: --actions: latin.csv is not UTF-8 text; "
                                       "save the table as CSV UTF-8\n")
    from xl_crm.core.errors import InputError
    from xl_crm.delivery import attachment_limit

    for bad in ("ten", "0", "-1", "nan", "inf"):
        with pytest.raises(InputError) as err:
            attachment_limit({"XL_CRM_MAIL_MAX_MB": bad})
        assert str(err.value) == (f"XL_CRM_MAIL_MAX_MB = {bad!r}: must be a number of "
                                  "megabytes above 0")
    assert attachment_limit({"XL_CRM_MAIL_MAX_MB": "2.5"}) == 2_500_000
    assert attachment_limit({}) == 10_000_000


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("2", "2")])
def test_the_command_line_starts_numpy_with_one_blas_thread_unless_told(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given:
        env["OPENBLAS_NUM_THREADS"] = given
    code = ("import os, sys; from xl_crm.cli import one_blas_thread; one_blas_thread(); "
            "import numpy; print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == expected


def test_one_blas_thread_leaves_a_process_with_numpy_loaded_alone(monkeypatch):
    from xl_crm.cli import one_blas_thread

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    one_blas_thread()  # numpy is loaded in the test process: too late to matter
    assert "OPENBLAS_NUM_THREADS" not in os.environ
