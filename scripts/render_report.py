"""Render a report workbook to PDF with LibreOffice and its first pages to PNG.

    python scripts/render_report.py REPORT.xlsx [--out DIR] [--pages 4]

Writes DIR/REPORT.pdf and DIR/REPORT-1.png ... (default DIR: ./out/render), so anyone
can look at what managers will see without Excel.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xl_crm.libreoffice import convert, pdf_to_png


def main(argv: list[str] | None = None) -> int:
    """Render the report given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--out", type=Path, default=Path("out/render"))
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args(argv)
    pdf = convert(args.report, "pdf", args.out)
    for png in pdf_to_png(pdf, args.out, 1, args.pages, args.dpi):
        print(png)
    print(pdf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
