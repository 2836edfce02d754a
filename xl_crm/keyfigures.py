"""The key figures of a report, as plain data: what the report stores (for mailing an
existing report) and what the message body shows. No Excel, no mail, no files here, so
the report writer and the mailer share these types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TierRow:
    """One row of the ABC tier table: shares are fractions (0.25 = 25%), value in currency."""

    label: str
    name: str
    customers: int
    customer_share: float
    value: float
    value_share: float


@dataclass(frozen=True)
class FigureRow:
    """One headline figure: its name (``value_at_risk``), label in the reader's language, the
    value now and at the previous period end, the change and the change as a fraction
    (None: no comparison, or the previous value was 0); ``money``: currency, else a count."""

    name: str
    label: str
    current: float
    previous: float | None
    change: float | None
    change_share: float | None
    money: bool


@dataclass(frozen=True)
class ReportSummary:
    """The key figures shown in the message body.

    ``period`` is the month of the analysis date ("2026-10"), ``as_of`` an ISO date,
    ``revenue`` net sales and ``value`` total customer value, both in the report currency;
    ``value_basis`` is "profit" or "net sales"; ``tiers`` the ABC table, A first.
    The decision part (empty in reports written before 0.4): ``window`` (the data window in
    words), ``comparison`` (what the changes compare with), ``headline`` (the change for the
    subject line), ``figures`` (headline figures with their change), ``action_count`` (the
    action list's length), ``actions`` (its top rows, under ``action_header``) and
    ``warnings`` (methods the data is too short for).
    """

    period: str
    as_of: str
    source: str
    customers: int
    revenue: float
    value: float
    value_basis: str
    tiers: tuple[TierRow, ...]
    window: str = ""
    comparison: str = ""
    headline: str = ""
    figures: tuple[FigureRow, ...] = ()
    action_count: int = 0
    action_header: tuple[str, ...] = ()
    actions: tuple[tuple[object, ...], ...] = ()
    warnings: tuple[str, ...] = ()  # where the data is too short for a method
    attachment_note: str = ""  # why the attachment is a summary workbook (xl_crm.delivery)
    currency: str = ""  # shown on money headers ("EUR"); empty: none
