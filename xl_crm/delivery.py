"""Mailing a written report within a size limit: a report too large to attach (a
100,000-customer workbook is tens of MB; many mail servers refuse more than 10-25 MB) is
replaced in the message by a summary workbook (Summary, Actions, Changes, Distributions,
CLV, Strategy, Notes; no customer sheets) written beside it, and the message says where
the full report is. The limit is ``XL_CRM_MAIL_MAX_MB`` (megabytes, default 10).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from pathlib import Path

from .core.analysis import Analysis
from .core.errors import InputError
from .i18n import text
from .keyfigures import ReportSummary

DEFAULT_LIMIT_MB = 10.0


def attachment_limit(environ: Mapping[str, str] | None = None) -> int:
    """The largest attachment in bytes, from ``XL_CRM_MAIL_MAX_MB`` (default 10 MB)."""
    raw = (environ if environ is not None else os.environ).get("XL_CRM_MAIL_MAX_MB", "")
    if not raw.strip():
        return int(DEFAULT_LIMIT_MB * 1_000_000)
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not (math.isfinite(mb) and mb > 0):
        raise InputError(f"XL_CRM_MAIL_MAX_MB = {raw!r}: must be a number of megabytes above 0")
    return int(mb * 1_000_000)


def mail_attachment(analysis: Analysis, report: Path, summary: ReportSummary, lang: str,
                    environ: Mapping[str, str] | None = None, inputs: tuple[Path, ...] = (),
                    overwrite: bool = False) -> tuple[Path, ReportSummary]:
    """The workbook to attach and the summary to show: the report itself when it is within
    the limit, else a summary workbook beside it (``<name> summary.xlsx``; an existing one
    is replaced only with ``overwrite``) with a note in the message naming the full
    report's size and place. A summary workbook still over the limit is refused."""
    from .report import ReportOptions, write_report

    limit = attachment_limit(environ)
    size = report.stat().st_size
    if size <= limit:
        return report, summary
    small = report.with_name(f"{report.stem} summary{report.suffix}")
    written = write_report(analysis, small, ReportOptions(lang=lang, summary_only=True),
                           overwrite=overwrite, inputs=[*inputs, report])
    if written.stat().st_size > limit:
        raise InputError(f"even the summary workbook {written.name} is "
                         f"{written.stat().st_size / 1e6:.1f} MB, over the mail limit of "
                         f"{limit / 1e6:g} MB (XL_CRM_MAIL_MAX_MB); raise the limit")
    note = text("mail.too_big", lang, size=f"{size / 1e6:.1f}", limit=f"{limit / 1e6:g}",
                path=str(report))
    return written, dataclasses.replace(summary, attachment_note=note)


def check_attachment(report: Path, environ: Mapping[str, str] | None = None) -> None:
    """Refuse to mail an existing report over the limit (no analysis to summarise it)."""
    limit, size = attachment_limit(environ), Path(report).stat().st_size
    if size > limit:
        raise InputError(f"{Path(report).name} is {size / 1e6:.1f} MB, over the mail limit of "
                         f"{limit / 1e6:g} MB (XL_CRM_MAIL_MAX_MB); send it with xl-crm report "
                         "--email, which attaches a summary workbook, or raise the limit")
