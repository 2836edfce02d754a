"""Change since the previous period (环比变化, shared/domain.md section 8).

The analysis runs twice on the same transactions, at ``as_of`` and at the previous
period end (:func:`previous_period_end`: the last day of the month before as_of's
month, or as_of - 7 days for a weekly report), and :func:`compare` sets the two side by
side per customer:

- migration matrices of ABC tier, pyramid tier, segment and lifecycle stage: previous
  label (rows, plus ``"new"``: no purchase on or before the previous date) against the
  current label (columns), as customer counts and as customer value now (the ``value``
  column, of the whole window; currency);
- movers: customers who entered or left tier A or VIP, became Lost, or are new;
- the headline figures (:func:`headline`) then and now, with the change as an amount
  and as a fraction of the previous figure (empty when that was 0).

Every customer of the previous run is a customer now (the same rows, fewer of them), so
the matrices cover exactly the current customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .actions import AT_RISK_STAGES, NEW
from .constants import PERIODS

ACTIVE_DAYS = 90  # "active customers": a purchase in the last 90 days (recency < 90)
MIGRATIONS = {"abc": "abc_tier", "pyramid": "pyramid_tier", "segment": "segment",
              "stage": "stage"}
# mover kind -> the customer column whose labels it shows (previous and now)
MOVER_COLUMNS = {"entered_A": "abc_tier", "left_A": "abc_tier", "entered_VIP": "pyramid_tier",
                 "left_VIP": "pyramid_tier", "became_lost": "stage", "new": "abc_tier"}


def previous_period_end(as_of: pd.Timestamp, period: str = "month") -> pd.Timestamp | None:
    """The date the previous period ended: the last day of the month before as_of's month
    (``month``), as_of - 7 days (``week``), or None (``none``: no comparison)."""
    if period == "none":
        return None
    if period == "week":
        return pd.Timestamp(as_of) - pd.Timedelta(days=7)
    if period != "month":
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return pd.Timestamp(as_of).normalize().replace(day=1) - pd.Timedelta(days=1)


def clv_figures(clv: Mapping[str, object], group: str,
                like: Mapping[str, object] | None = None) -> dict[str, float]:
    """Dwyer's lifetime value per customer (currency, over the table's years) of each ABC
    tier, as headline figures ``clv_A`` ...; none when CLV is grouped otherwise. With
    ``like`` (the other run's inputs) only the tiers whose retention was found the same
    way (measured, or assumed) in both: a value from an assumed retention against one
    from a measured retention is no change."""
    if group != "abc":
        return {}
    out = {}
    for tier, inputs in clv.items():
        other = (like or {}).get(tier)
        if tier not in ("A", "B", "C") or (
                like is not None and (other is None or other.sources.get("retention")
                                      != inputs.sources.get("retention"))):
            continue
        out[f"clv_{tier}"] = float(inputs.table().loc["Lifetime value per customer"].iloc[-1])
    return out


def headline(customers: pd.DataFrame) -> dict[str, float]:
    """The figures a manager reads first, from a customer table (counts; money in currency):
    customers, active customers (a purchase in the last 90 days), value of the last year
    (``current_value`` summed), value at risk, VIPs at risk (VIP in Decline or Lost), and
    customers and value per ABC tier."""
    c = customers
    risky = c["stage"].isin(AT_RISK_STAGES)
    out = {
        "customers": float(len(c)),
        "active_customers": float((c["recency"] < ACTIVE_DAYS).sum()),
        "current_value": float(c["current_value"].sum()),
        "value_at_risk": float(c["value_at_risk"].sum()),
        "vips_at_risk": float(((c["pyramid_tier"] == "VIP") & risky).sum()),
    }
    for tier in c["abc_tier"].cat.categories:
        inside = c["abc_tier"] == tier
        out[f"customers_{tier}"] = float(inside.sum())
        out[f"value_{tier}"] = float(c.loc[inside, "value"].sum())
    return out


@dataclass(frozen=True)
class Changes:
    """The comparison of :func:`compare`. ``abc``, ``pyramid``, ``segment``, ``stage``:
    customer counts, index = previous label plus ``"new"``, columns = current label;
    ``values``: the same matrices as customer value now (currency); ``previous``: per current
    customer (rows aligned with the current customer table) the previous labels, ``"new"``
    for customers without a purchase then; ``movers``: customer, kind (see
    :data:`MOVER_COLUMNS`), previous and current label, value; ``deltas``: figure,
    previous, current, change, change_share (a fraction, NaN when previous is 0)."""

    previous_as_of: pd.Timestamp
    abc: pd.DataFrame
    pyramid: pd.DataFrame
    segment: pd.DataFrame
    stage: pd.DataFrame
    values: Mapping[str, pd.DataFrame]
    previous: pd.DataFrame
    movers: pd.DataFrame
    deltas: pd.DataFrame


def previous_labels(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``current`` the labels the customer had in ``previous`` (the previous
    run's customer table), ``"new"`` where it had no purchase then: categoricals with the
    current column's categories and ``"new"`` last (codes, not 1M label texts)."""
    at = pd.Index(previous["customer"]).get_indexer(current["customer"])  # once: -1 = absent
    bought = previous["first_purchase"].notna().to_numpy()
    known = at >= 0
    known[known] = bought[at[known]]  # present and with a purchase then
    out = {}
    for col in MIGRATIONS.values():
        labels = list(current[col].cat.categories)
        then = previous[col].cat.codes.to_numpy()
        if list(previous[col].cat.categories) != labels:  # never from one analysis; safe
            then = pd.Categorical(previous[col].astype(object), categories=labels).codes
        codes = np.full(len(current), len(labels), dtype="int16")  # "new"
        codes[known] = then[at[known]]
        out[col] = pd.Categorical.from_codes(codes, categories=[*labels, NEW])
    return pd.DataFrame(out, index=current.index)


def _matrix(was: pd.Series, now: pd.Series, value: np.ndarray) -> tuple[pd.DataFrame,
                                                                       pd.DataFrame]:
    labels = list(now.cat.categories)
    rows = labels + [NEW]
    row = was.cat.codes.to_numpy(dtype="int64")
    col = now.cat.codes.to_numpy(dtype="int64")
    cells = row * len(labels) + col
    size = len(rows) * len(labels)
    counts = np.bincount(cells, minlength=size).reshape(len(rows), len(labels))
    sums = np.bincount(cells, weights=value, minlength=size).reshape(len(rows), len(labels))
    index, columns = pd.Index(rows, name="previous"), pd.Index(labels, name="current")
    return (pd.DataFrame(counts, index=index, columns=columns),
            pd.DataFrame(np.round(sums, 6), index=index, columns=columns))


def _movers(current: pd.DataFrame, was: pd.DataFrame) -> pd.DataFrame:
    abc, vip = current["abc_tier"], current["pyramid_tier"]  # categoricals compare as text
    kinds = {
        "entered_A": (abc == "A") & (was["abc_tier"] != "A"),
        "left_A": (abc != "A") & (was["abc_tier"] == "A"),
        "entered_VIP": (vip == "VIP") & (was["pyramid_tier"] != "VIP"),
        "left_VIP": (vip != "VIP") & (was["pyramid_tier"] == "VIP"),
        "became_lost": (current["stage"] == "Lost") & ~was["stage"].isin(["Lost", NEW]),
        "new": was["stage"] == NEW,
    }
    picks = {kind: np.flatnonzero(np.asarray(mask)) for kind, mask in kinds.items()}
    idx = np.concatenate(list(picks.values()))  # the movers only: a few per cent
    kind = np.repeat(list(picks), [len(p) for p in picks.values()])
    out = {"customer": current["customer"].to_numpy()[idx] if len(idx) else
           np.array([], dtype=object), "kind": kind}
    for side, table in (("previous", was), ("current", current)):
        labels = np.empty(len(idx), dtype=object)
        for name, col in MOVER_COLUMNS.items():
            rows = kind == name
            labels[rows] = np.asarray(table[col].take(idx[rows]), dtype=object)
        out[side] = labels
    out["value"] = current["value"].to_numpy(dtype=float)[idx]
    return pd.DataFrame(out)


def deltas(previous: Mapping[str, float], current: Mapping[str, float]) -> pd.DataFrame:
    """Figure by figure: previous, current, change and change as a fraction of previous;
    a figure missing on one side is NaN there, and so are its change and share."""
    names = list(dict.fromkeys([*current, *previous]))
    before = np.array([previous.get(n, np.nan) for n in names], dtype=float)  # NaN: unknown
    now = np.array([current.get(n, np.nan) for n in names], dtype=float)
    change = np.round(now - before, 6)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(before != 0, change / np.abs(before), np.nan)  # NaN stays NaN
    return pd.DataFrame({"figure": names, "previous": before, "current": now,
                         "change": change, "change_share": share})


def compare(previous: pd.DataFrame, current: pd.DataFrame, previous_as_of: pd.Timestamp,
            figures_then: Mapping[str, float] | None = None,
            figures_now: Mapping[str, float] | None = None) -> Changes:
    """The changes from the previous run's customer table to the current one (both with
    customer, first_purchase, the label columns, value, current_value, value_at_risk);
    ``figures_then``/``figures_now``: more headline figures (e.g. :func:`clv_figures`)."""
    was = previous_labels(previous, current)
    value = current["value"].to_numpy(dtype=float)
    counts, values = {}, {}
    for key, col in MIGRATIONS.items():
        counts[key], values[key] = _matrix(was[col], current[col], value)
    return Changes(pd.Timestamp(previous_as_of), counts["abc"], counts["pyramid"],
                   counts["segment"], counts["stage"], values, was, _movers(current, was),
                   deltas(headline(previous) | dict(figures_then or {}),
                          headline(current) | dict(figures_now or {})))
