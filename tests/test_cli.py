"""The xl-crm command line: real runs on real files, exit codes, help and README coverage."""

from __future__ import annotations

import subprocess
import sys

from xl_crm.cli import build_parser, main

from .conftest import ROOT


def test_demo_prints_the_analysis_of_the_sample(capsys):
    assert main(["demo"]) == 0
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


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    parser = build_parser()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert "Example: xl-crm" in sub.description, name
        assert f"xl-crm {name}" in readme, name
