"""The ``xl-crm`` command line: the same analysis as the Excel functions, without Excel.

Each command parses its arguments, calls one library function and turns a domain error
into a one-line message on stderr with exit status 1 (2 for a usage error).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import __version__
from .core.analysis import Analysis, Options, analyze
from .core.errors import XlCrmError
from .files import read_sales

REPO_SAMPLE = Path(__file__).resolve().parent.parent / "workbooks" / "sample_sales.xlsx"


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


def cmd_analyze(args: argparse.Namespace) -> int:
    """Print the analysis of INPUT."""
    sales = read_sales(args.input, sheet=args.sheet)
    print(format_analysis(analyze(sales, _options(args))))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Print the analysis of the shipped sample."""
    args.input, args.sheet = sample_path(), None
    return cmd_analyze(args)


def _add_analysis_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", help="analysis date, e.g. 2026-10-31 (default: latest purchase)")
    p.add_argument("--bins", type=int, default=5, help="scores per measure, 2-9 (default 5)")
    p.add_argument("--binning", choices=("quantile", "nested"), default="quantile",
                   help="RFM binning (default quantile, shared ties)")
    p.add_argument("--scheme", choices=("value8", "named"), default="value8",
                   help="RFM segment scheme (default value8, the eight value classes)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the tests that check every command has help)."""
    parser = argparse.ArgumentParser(
        prog="xl-crm", description="Customer value from sales data: RFM, ABC, pyramid, CLV, "
        "lifecycle, value matrix and strategy.",
        epilog="Example: xl-crm analyze workbooks/sample_sales.xlsx --as-of 2026-10-31")
    parser.add_argument("--version", action="version", version=f"xl_crm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("analyze", help="print the analysis of a sales file",
                       description="Print the analysis of a sales file (.xlsx, .xlsm, .csv, "
                       ".parquet). Example: xl-crm analyze sales.xlsx --as-of 2026-10-31")
    p.add_argument("input", type=Path, help="sales data file")
    p.add_argument("--sheet", help="sheet to read (default: Sales/销售, else the first)")
    _add_analysis_options(p)
    p.set_defaults(func=cmd_analyze)
    p = sub.add_parser("demo", help="analyse the shipped sample data (no arguments needed)",
                       description="Analyse the sample sales shipped in workbooks/. "
                       "Example: xl-crm demo")
    _add_analysis_options(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xl-crm`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except XlCrmError as err:
        print(f"xl-crm: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("xl-crm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
