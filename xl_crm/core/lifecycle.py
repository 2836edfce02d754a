"""Lifecycle stage per customer (客户生命周期 / CLP 分析) and the spend trend it uses.

Window: from the first date in the data to ``as_of``, split in two equal halves; the
*trend* compares a customer's net sales in the recent half with the earlier half.
The *usual gap* is the median number of days between a customer's distinct purchase
days; customers with a single purchase day use the median of all customers' gaps.
Both are customer facts (:func:`xl_crm.core.facts.customer_facts`); this module holds
only the rules.

Stages, first matching rule wins (defaults in :class:`LifecycleRules`):

1. **Lost / 流失**: no purchase at all, or recency > ``lost_days`` (180 days).
2. **Acquisition / 考察期**: first purchase at most ``new_days`` (90) days before as_of.
3. **Decline / 退化期**: recency > ``gap_factor`` (2) x usual gap, or a repeat buyer
   whose recent-half spend is below (1 - ``trend_tolerance``) x earlier-half spend.
4. **Growth / 形成期**: a repeat buyer (2+ purchase days) whose recent-half spend is
   above (1 + ``trend_tolerance``) x earlier-half spend (0.2).
5. **Maturity / 稳定期**: any other repeat buyer (steady).
6. **Acquisition / 考察期**: a one-time buyer still within the usual gap (in trial).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

STAGES = ("Acquisition", "Growth", "Maturity", "Decline", "Lost")


@dataclass(frozen=True)
class LifecycleRules:
    """Thresholds of the lifecycle stages (days, factors, fractions)."""

    new_days: int = 90
    lost_days: int = 180
    gap_factor: float = 2.0
    trend_tolerance: float = 0.2


def assign_stages(facts: pd.DataFrame, as_of: pd.Timestamp,
                  rules: LifecycleRules = LifecycleRules()) -> pd.DataFrame:
    """Stage per customer from the facts ``first_purchase``, ``recency``,
    ``purchase_days``, ``median_gap``, ``earlier`` and ``recent``."""
    gap = facts["median_gap"].astype(float)
    overall = float(gap.median()) if gap.notna().any() else np.nan
    gap = gap.fillna(overall).to_numpy(float)
    recency = facts["recency"].to_numpy(float)
    first = facts["first_purchase"].to_numpy(dtype="datetime64[ns]")
    since_first = (as_of.to_datetime64() - first) / np.timedelta64(1, "D")
    days = facts["purchase_days"].to_numpy()
    repeat = days >= 2
    earlier, recent = facts["earlier"].to_numpy(float), facts["recent"].to_numpy(float)
    tol = rules.trend_tolerance
    falling = repeat & (recent < earlier * (1 - tol))
    rising = repeat & (recent > earlier * (1 + tol))
    overdue = recency > rules.gap_factor * gap
    lost = np.isnan(recency) | (recency > rules.lost_days)
    new = since_first <= rules.new_days
    code = {name: i for i, name in enumerate(STAGES)}
    stage = np.select(
        [lost, new, overdue | falling, rising, repeat],
        [code["Lost"], code["Acquisition"], code["Decline"], code["Growth"], code["Maturity"]],
        default=code["Acquisition"],
    )
    index = facts.index
    return pd.DataFrame({  # the facts' own columns are shared copy-on-write, not copied
        "stage": pd.Categorical.from_codes(stage, categories=STAGES),
        "purchase_days": facts["purchase_days"].set_axis(index),
        "usual_gap": gap,
        "earlier": facts["earlier"].astype(float).set_axis(index),
        "recent": facts["recent"].astype(float).set_axis(index),
    }, index=index, copy=False)
