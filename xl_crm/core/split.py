"""One analysis per manager: the customers of a region or a sales rep, analysed alone.

Rules:
- a customer belongs to the region (rep) of its latest line that names one (the
  customer table's ``region``/``rep``: :data:`xl_crm.core.constants.LABEL_FACTS`);
- a manager's analysis is the whole analysis of their customers' lines (all of them, of
  any region), on the company's analysis date: tiers, scores and segments are within the
  manager's book (its tier A makes 80% of *its* value), and every figure of the manager's
  report adds up to the manager's total;
- ``log["scope"]`` says whose the analysis is and carries the company's headline
  figures, for context;
- keys match the data's values ignoring case and surrounding spaces; a customer whose
  region (rep) no key names is counted in :func:`unassigned`, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

import pandas as pd

from .analysis import Analysis, Options, analyze_facts
from .changes import headline
from .facts import customer_facts
from .sales import Sales

SPLIT_BY = ("region", "rep")
CONTEXT = ("customers", "active_customers", "current_value", "value_at_risk")


def owners(analysis: Analysis, by: str) -> pd.Series:
    """Per customer of ``analysis`` (aligned with its customer table) the region or rep it
    belongs to ("" when its lines name none)."""
    if by not in SPLIT_BY:
        raise ValueError(f"split by region or rep, not {by!r}")
    return analysis.customers[by].astype(object).fillna("").astype(str)


def _key(value: str) -> str:
    return value.strip().casefold()


def unassigned(analysis: Analysis, by: str, keys: Iterable[str]) -> dict[str, int]:
    """Customers whose region (rep) none of ``keys`` names: count per value ("" = none)."""
    wanted = {_key(k) for k in keys}
    own = owners(analysis, by)
    left = own[~own.map(_key).isin(wanted)]
    return {str(k): int(n) for k, n in left.value_counts().sort_index().items()}


def split_analyses(sales: Sales, source: Mapping[str, object], company: Analysis, by: str,
                   keys: Iterable[str], options: Options) -> dict[str, Analysis]:
    """The analysis of each key's customers (keys without a customer are left out: the
    caller says so), on the company analysis date, each with ``log["scope"]``."""
    own = owners(company, by).map(_key)
    tx = sales.transactions
    figures = headline(company.customers)
    context = {k: figures[k] for k in CONTEXT}
    out: dict[str, Analysis] = {}
    at = replace(options, as_of=company.as_of)
    for key in dict.fromkeys(keys):
        mine = company.customers["customer"][own == _key(key)]
        if mine.empty:
            continue
        part = tx[tx["customer"].isin(mine)]
        facts = customer_facts(part, at.as_of, at.monetary, at.current_days,
                               at.migration_period_days, at.compare)
        result = analyze_facts(facts, sales.value_basis,
                               {**source, "rows_read": len(part)}, at)
        scope = {"by": by, "key": key, "customers": len(mine),
                 "company_customers": len(company.customers), "company": context}
        out[key] = replace(result, log={**result.log, "scope": scope})
    return out
