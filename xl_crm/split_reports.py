"""One report per manager (``xl-crm report ... --split-by region|rep --managers FILE``):
each manager's workbook holds only their customers (:mod:`xl_crm.core.split`) and goes
to that manager only, in their language; head-office rows (``*``) get the full report.

Workbooks are written beside the full report as ``<report>-<region|rep>-<value>.xlsx``;
a dry run writes one .eml beside each. A refused address or a failed send is listed and
the other managers still get theirs; :func:`send_split` says whether all went out.
Customers no manager's row names are counted on stderr (they are in the full report).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .core.analysis import Analysis, Options
from .core.errors import XlCrmError
from .core.sales import Sales
from .core.split import split_analyses, unassigned
from .managers import HEAD_OFFICE, Manager


@dataclass(frozen=True)
class Delivery:
    """One workbook and who it goes to."""

    key: str
    lang: str
    analysis: Analysis  # the manager's, or the company's for head office
    recipients: tuple[str, ...]

    @property
    def full(self) -> bool:
        """Head office: the full report, already written."""
        return self.key == HEAD_OFFICE


def plan(company: Analysis, sales: Sales, source: dict, managers: Sequence[Manager], by: str,
         options: Options, lang: str) -> tuple[list[Delivery], list[str]]:
    """The deliveries (one per value and language, the addresses of its rows together) and
    the warnings: values without customers, customers without a manager."""
    keys = [m.key for m in managers if not m.head_office]
    analyses = split_analyses(sales, source, company, by, keys, options)
    groups: dict[tuple[str, str], list[str]] = {}
    for m in managers:
        groups.setdefault((m.key, m.lang or lang), []).extend(m.emails)
    out, warnings = [], []
    for (key, language), emails in groups.items():
        if key == HEAD_OFFICE:
            out.append(Delivery(key, language, company, tuple(emails)))
        elif key in analyses:
            out.append(Delivery(key, language, analyses[key], tuple(emails)))
        elif not any(w.startswith(f"{by} {key!r}") for w in warnings):
            warnings.append(f"{by} {key!r} of the managers file has no customers: no report "
                            f"for {', '.join(emails)}")
    left = unassigned(company, by, keys)
    if left:
        shown = ", ".join(f"{v!r}: {n:,}" if v else f"none: {n:,}" for v, n in left.items())
        warnings.append(f"{sum(left.values()):,} customers have no manager in the managers "
                        f"file ({by} {shown}); they are in the full report only")
    return out, warnings


def workbook_name(report: Path, by: str, key: str, lang: str, langs: set[str]) -> Path:
    """``<report>-<by>-<key>[-<lang>].xlsx`` beside the full report; the key's letters and
    digits kept (any script), other characters as ``_``."""
    slug = re.sub(r"[^\w]+", "_", key, flags=re.UNICODE).strip("_")[:40] or "blank"
    tail = f"-{lang}" if len(langs) > 1 else ""
    return report.with_name(f"{report.stem}-{by}-{slug}{tail}{report.suffix}")


def send_split(deliveries: Sequence[Delivery], report: Path, by: str, *, tiers,
               dry_run: bool, overwrite: bool, inputs: Sequence[Path],
               say: Callable[[str], None], complain: Callable[[str], None]) -> bool:
    """Write and send every delivery, to its recipients only (no Cc or Bcc: a manager's
    customers reach nobody else); True when every recipient of every one accepted."""
    from .decisions import report_summary
    from .delivery import mail_attachment
    from .mail import mail_report
    from .report import ReportOptions, write_report

    ok = True
    used: set[Path] = set()
    for d in deliveries:
        langs = {x.lang for x in deliveries if x.key == d.key}
        try:
            if d.full:
                path = report
            else:
                path = workbook_name(report, by, d.key, d.lang, langs)
                if path in used:  # two values of one slug ("North" and "north!")
                    path = path.with_name(f"{path.stem}-{len(used)}{path.suffix}")
                used.add(path)
                write_report(d.analysis, path, ReportOptions(lang=d.lang, tiers=tiers),
                             overwrite=overwrite, inputs=inputs)
            attachment, summary = mail_attachment(d.analysis, path,
                                                  report_summary(d.analysis, d.lang), d.lang,
                                                  inputs=inputs, overwrite=overwrite)
            line, complete = mail_report(attachment, summary, d.recipients, (), (), d.lang,
                                         dry_run, overwrite=overwrite)
        except XlCrmError as err:
            complain(f"{_who(by, d.key)}: not sent: {err}")
            ok = False
            continue
        say(f"{_who(by, d.key)}: {attachment.name}: {line}")
        if not complete:
            complain(f"{_who(by, d.key)}: some recipients were refused")
            ok = False
    return ok


def _who(by: str, key: str) -> str:
    return "head office" if key == HEAD_OFFICE else f"{by} {key}"
