"""The ``xl-crm`` command line: the same analysis as the Excel functions, without Excel.

Each command parses its arguments, calls library functions and turns a domain error into
a one-line message on stderr with exit status 1 (2 for a usage error). Sending mail
never blocks the report: the report is written first; if sending fails it stays, and the
command says so with exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import __version__
from .core.analysis import Analysis, Options
from .core.errors import XlCrmError
from .engines import ENGINES, analyze_path
from .mail import mail_report
from .report import ReportOptions, read_summary, report_summary, write_report

STARTED = time.perf_counter()
REPO_SAMPLE = Path(__file__).resolve().parent.parent / "workbooks" / "sample_sales.xlsx"
DEMO_OUTPUT = Path("out")


def sample_path() -> Path:
    """The shipped sample workbook; written from the seeded generator when the package
    runs without the repository's ``workbooks/`` folder."""
    if REPO_SAMPLE.exists():
        return REPO_SAMPLE
    from .sample import EN_WIDTHS, generate_transactions, write_workbook

    path = Path(tempfile.gettempdir()) / "xl_crm_sample_sales.xlsx"
    if not path.exists():
        write_workbook(generate_transactions(), path, "Sales", EN_WIDTHS)
    return path


def _options(args: argparse.Namespace) -> Options:
    return Options(as_of=args.as_of, bins=args.bins, binning=args.binning, scheme=args.scheme)


def format_analysis(result: Analysis) -> str:
    """Plain-text tables of an analysis, for the terminal."""
    log = result.log
    lines = [
        f"xl_crm {__version__} - customer value of {log['source']}",
        f"as of {log['as_of']} ({log['as_of_source']}); data from {log['first_date']}",
        (f"rows read {log['rows_read']:,}, blank rows skipped {len(log['blank_rows'])}, "
         f"rows after the analysis date left out {log['rows_after_as_of']}"),
        (f"customers {log['customers']:,} (without a purchase: "
         f"{log['customers_without_purchase']}); value = {result.value_basis}, "
         f"total {result.total_value:,.2f}"),
    ]
    titles = {"abc": "ABC tiers", "pyramid": "Customer pyramid", "segment": "RFM segments",
              "stage": "Lifecycle stages", "quadrant": "Customer value matrix"}
    for key, title in titles.items():
        lines += ["", title, _table(result.summaries[key])]
    clv = pd.DataFrame({
        group: {"customers": inputs.group_size, "retention": inputs.retention,
                "orders/yr": inputs.orders, "order value": inputs.order_value,
                "cost rate": inputs.cost_rate,
                f"CLV {inputs.years}y": inputs.table().loc["Lifetime value per customer"].iloc[-1]}
        for group, inputs in result.clv.items()
    }).T
    title = ("Dwyer lifetime value per customer (inputs measured from the data; "
             "10% discount assumed)")
    lines += ["", title, clv.to_string(float_format=lambda v: f"{v:,.2f}")]
    return "\n".join(lines)


def _table(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for col in ("customer_share", "value_share"):
        shown[col] = shown[col].map(lambda v: f"{v:.1%}")
    return shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}")


def progress(message: str) -> None:
    """Progress on the terminal (stderr, only when it is a terminal)."""
    if sys.stderr.isatty():
        print(f"[{time.perf_counter() - STARTED:6.1f}s] {message} ...", file=sys.stderr,
              flush=True)


def _analysis(args: argparse.Namespace) -> Analysis:
    return analyze_path(args.input, _options(args), getattr(args, "engine", "pandas"),
                        sheet=args.sheet, progress=progress)


def cmd_analyze(args: argparse.Namespace) -> int:
    """Print the analysis of INPUT."""
    print(format_analysis(_analysis(args)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report workbook of INPUT; email it when asked."""
    result = _analysis(args)
    output = args.output or Path(f"customer-value-{result.as_of:%Y-%m}.xlsx")
    progress(f"writing {output}")
    written = write_report(result, output, ReportOptions(lang=args.lang, tiers=args.tiers),
                           overwrite=args.overwrite, inputs=[args.input])
    print(f"report written: {written}")
    if not (args.email or args.cc or args.bcc):
        return 0
    return _mail(written, report_summary(result, args.lang), args,
                 f"the report is written ({written}) but was not sent")


def _mail(report: Path, summary, args: argparse.Namespace, failed: str = "not sent") -> int:
    progress("sending" if not args.dry_run else "writing the message")
    try:
        line, complete = mail_report(report, summary, args.email, args.cc, args.bcc,
                                     args.lang, args.dry_run)
    except XlCrmError as err:
        print(f"xl-crm: {failed}: {err}", file=sys.stderr)
        return 1
    print(line)
    if not complete:
        print("xl-crm: some recipients were refused", file=sys.stderr)
        return 1
    return 0


def cmd_email(args: argparse.Namespace) -> int:
    """Email an existing report."""
    args.email = args.to
    return _mail(args.report, read_summary(args.report), args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Analyse the shipped sample, print the tables and write its report to out/."""
    args.input, args.sheet = sample_path(), None
    result = _analysis(args)
    print(format_analysis(result))
    DEMO_OUTPUT.mkdir(exist_ok=True)
    output = DEMO_OUTPUT / f"sample-customer-value-{result.as_of:%Y-%m}-{args.lang}.xlsx"
    written = write_report(result, output, ReportOptions(lang=args.lang, tiers=args.tiers),
                           overwrite=True, inputs=[args.input])
    print(f"\nreport written: {written}")
    return 0


def _add_analysis_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=ENGINES, default="pandas",
                   help="pandas (default, every format) or duckdb (large CSV/Parquet files)")
    p.add_argument("--as-of", help="analysis date, e.g. 2026-10-31 (default: latest purchase)")
    p.add_argument("--bins", type=int, default=5, help="scores per measure, 2-9 (default 5)")
    p.add_argument("--binning", choices=("quantile", "nested"), default="quantile",
                   help="RFM binning (default quantile, shared ties)")
    p.add_argument("--scheme", choices=("value8", "named"), default="value8",
                   help="RFM segment scheme (default value8, the eight value classes)")


def _add_report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="report language")
    p.add_argument("--tiers", nargs="+", choices=("abc", "pyramid"), default=["abc"],
                   help="tier sheets to write (default abc)")


def _add_mail_options(p: argparse.ArgumentParser, to_flag: str) -> None:
    p.add_argument(to_flag, nargs="+", default=[], metavar="ADDRESS", required=to_flag == "--to",
                   dest="to" if to_flag == "--to" else "email", help="recipients")
    p.add_argument("--cc", nargs="+", default=[], metavar="ADDRESS", help="copy recipients")
    p.add_argument("--bcc", nargs="+", default=[], metavar="ADDRESS",
                   help="blind copy recipients")
    p.add_argument("--dry-run", action="store_true",
                   help="write the message as REPORT.eml instead of sending it")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the tests that check every command has help)."""
    parser = argparse.ArgumentParser(
        prog="xl-crm", description="Customer value from sales data: RFM, ABC, pyramid, CLV, "
        "lifecycle, value matrix and strategy. Mail settings: XL_CRM_SMTP_HOST, "
        "XL_CRM_SMTP_PORT, XL_CRM_SMTP_SECURITY, XL_CRM_SMTP_USER, XL_CRM_SMTP_PASSWORD, "
        "XL_CRM_MAIL_FROM.",
        epilog="Example: xl-crm report sales.xlsx --lang zh --email boss@example.com")
    parser.add_argument("--version", action="version", version=f"xl_crm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="write the formatted report workbook of a sales file",
                       description="Analyse a sales file (.xlsx, .xlsm, .csv, .parquet) and "
                       "write the management report workbook. Example: xl-crm report "
                       "sales.xlsx -o report.xlsx --as-of 2026-10-31 --email boss@example.com")
    p.add_argument("input", type=Path, help="sales data file")
    p.add_argument("-o", "--output", type=Path,
                   help="report file (default: customer-value-YYYY-MM.xlsx here)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument("--sheet", help="sheet to read (default: Sales/销售, else the first)")
    _add_analysis_options(p)
    _add_report_options(p)
    _add_mail_options(p, "--email")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="analyse the shipped sample data (no arguments needed)",
                       description="Analyse the sample sales shipped in workbooks/, print the "
                       "tables and write the report to out/. Example: xl-crm demo --lang zh")
    _add_analysis_options(p)
    _add_report_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("email", help="email an existing report",
                       description="Email a report written by xl-crm report. Example: "
                       "xl-crm email customer-value-2026-10.xlsx --to boss@example.com")
    p.add_argument("report", type=Path, help="report workbook")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="message language")
    _add_mail_options(p, "--to")
    p.set_defaults(func=cmd_email)

    p = sub.add_parser("analyze", help="print the analysis of a sales file",
                       description="Print the analysis of a sales file (.xlsx, .xlsm, .csv, "
                       ".parquet). Example: xl-crm analyze sales.xlsx --as-of 2026-10-31")
    p.add_argument("input", type=Path, help="sales data file")
    p.add_argument("--sheet", help="sheet to read (default: Sales/销售, else the first)")
    _add_analysis_options(p)
    p.set_defaults(func=cmd_analyze)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xl-crm`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except XlCrmError as err:
        print(f"xl-crm: {err}", file=sys.stderr)
    except OSError as err:  # a file that cannot be read or written (open in Excel, ...)
        print(f"xl-crm: {err.strerror or err}: {err.filename or ''}".rstrip(": "),
              file=sys.stderr)
    except KeyboardInterrupt:
        print("xl-crm: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - one line for the user, never a traceback
        print(f"xl-crm: unexpected error: {type(err).__name__}: {err}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
