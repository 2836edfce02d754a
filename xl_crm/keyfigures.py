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
class ReportSummary:
    """The key figures shown in the message body.

    ``period`` is the month of the analysis date ("2026-10"), ``as_of`` an ISO date,
    ``revenue`` net sales and ``value`` total customer value, both in the report currency;
    ``value_basis`` is "profit" or "net sales"; ``tiers`` the ABC table, A first.
    """

    period: str
    as_of: str
    source: str
    customers: int
    revenue: float
    value: float
    value_basis: str
    tiers: tuple[TierRow, ...]
