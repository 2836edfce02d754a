"""The full analysis: every method of the domain on one set of sales, in one call.

:func:`analyze` takes :class:`~xl_crm.core.sales.Sales` and :class:`Options` and returns
an :class:`Analysis` whose ``customers`` table has one row per customer, largest value
first, with these columns (units in brackets):

``customer, name, region, first_purchase, last_purchase (dates), recency (days),
frequency (purchases), monetary, net_sales, purchases, returns (currency), cost, profit
(currency, when the data has them), value (profit when known, else net sales), R, F, M,
RFM, score, segment, abc_tier, abc_rank, abc_share, abc_cumulative_share (fractions),
pyramid_tier, stage, current_value, potential_value (currency), quadrant``.

The summaries (``abc_summary`` ...) have ``label, customers, customer_share, value,
value_share, average``; shares are fractions. ``clv`` holds one Dwyer table per group
with the inputs and where each came from; ``log`` what was read, skipped and assumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .clv import (
    DEFAULT_INTEREST,
    DwyerInputs,
    measure_dwyer_inputs,
    measure_repurchase,
    migration_values,
)
from .errors import InputError
from .grouping import row_codes
from .lifecycle import STAGES, LifecycleRules, lifecycle_stages
from .matrix import QUADRANTS, value_matrix
from .rfm import customer_measures, score_rfm
from .sales import Sales
from .segments import assign_segments, scheme_labels
from .tiers import ABC_TIERS, PYRAMID_SHARES, PYRAMID_TIERS, abc_tiers, group_summary, pyramid_tiers

CLV_GROUPS = {"abc": "abc_tier", "pyramid": "pyramid_tier", "segment": "segment",
              "stage": "stage", "quadrant": "quadrant", "region": "region"}


@dataclass(frozen=True)
class Options:
    """Parameters of a run; every default is documented in the module it configures."""

    as_of: object | None = None
    bins: int = 5
    binning: str = "quantile"
    thresholds: Mapping[str, Sequence[float]] | None = None
    scheme: object = "value8"
    monetary: str = "total"
    a_cut: float = 0.8
    b_cut: float = 0.95
    pyramid_shares: tuple[float, ...] = PYRAMID_SHARES
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)
    current_days: int = 365
    clv_group: str = "abc"
    clv_years: int = 5
    clv_overrides: Mapping[str, float] | None = None
    migration_period_days: int = 90
    migration_states: int = 4


@dataclass(frozen=True)
class Analysis:
    """Everything one run computed (see the module docstring for the columns)."""

    customers: pd.DataFrame
    as_of: pd.Timestamp
    options: Options
    value_basis: str
    thresholds: pd.DataFrame
    summaries: dict[str, pd.DataFrame]
    matrix_thresholds: dict[str, float]
    clv: dict[str, DwyerInputs]
    migration: pd.DataFrame
    log: dict[str, object]

    @property
    def total_value(self) -> float:
        """Sum of customer values (currency)."""
        return float(self.customers["value"].sum())


def analyze(sales: Sales, options: Options = Options()) -> Analysis:
    """Run RFM, segments, ABC, pyramid, lifecycle, value matrix, CLV and migration."""
    if options.clv_group not in CLV_GROUPS:
        raise InputError(f"clv_group must be one of {', '.join(CLV_GROUPS)}, "
                         f"not {options.clv_group!r}")
    tx = sales.transactions
    measured = customer_measures(tx, options.as_of, options.monetary)
    as_of = measured.as_of
    rfm = score_rfm(measured.table, options.bins, options.binning, options.thresholds)
    table = rfm.table
    table["segment"] = assign_segments(table, options.scheme, options.bins)
    basis = sales.value_basis
    table["value"] = table["profit"] if basis == "profit" else table["net_sales"]

    abc = abc_tiers(table["value"], options.a_cut, options.b_cut).set_index("customer")
    pyramid = pyramid_tiers(table["value"], options.pyramid_shares).set_index("customer")
    inside = tx if not measured.after_as_of else tx[tx["date"].to_numpy() <= as_of.to_datetime64()]
    stages = lifecycle_stages(inside, table, as_of, options.lifecycle)
    matrix, matrix_cuts = value_matrix(inside, table.index, as_of, options.current_days)

    out = _labels(inside, table.index)
    out = out.join(table.drop(columns=["first_seen"]))
    out["abc_tier"] = abc["tier"]
    out["abc_rank"] = abc["rank"]
    out["abc_share"] = abc["share"]
    out["abc_cumulative_share"] = abc["cumulative_share"]
    out["pyramid_tier"] = pyramid["tier"]
    out["stage"] = stages["stage"]
    out = out.join(matrix)
    out = out.sort_values("abc_rank").reset_index()

    summaries = {
        "abc": group_summary(out["abc_tier"], out["value"], ABC_TIERS),
        "pyramid": group_summary(out["pyramid_tier"], out["value"], PYRAMID_TIERS),
        "segment": group_summary(out["segment"], out["value"], scheme_labels(options.scheme)),
        "stage": group_summary(out["stage"], out["value"], STAGES),
        "quadrant": group_summary(out["quadrant"], out["value"], QUADRANTS),
    }
    summaries["segment"] = summaries["segment"][summaries["segment"]["customers"] > 0]
    clv = _clv(inside, out, as_of, options)
    log = {
        "source": sales.source,
        "columns": dict(sales.columns),
        "rows_read": sales.rows_read,
        "blank_rows": list(sales.blank_rows),
        "rows_after_as_of": measured.after_as_of,
        "rows_after_as_of_first": list(measured.after_as_of_rows[:20]),
        "as_of": as_of.date().isoformat(),
        "as_of_source": "given" if options.as_of is not None else "latest purchase date",
        "first_date": pd.Timestamp(inside["date"].min()).date().isoformat(),
        "customers": len(out),
        "customers_without_purchase": int((out["frequency"] == 0).sum()),
        "value_basis": basis,
    }
    return Analysis(out, as_of, options, basis, rfm.thresholds, summaries, matrix_cuts, clv,
                    _migration(inside, as_of, options, basis), log)


def _labels(tx: pd.DataFrame, customers: pd.Index) -> pd.DataFrame:
    """Latest non-empty name and region per customer ("" when the data has none)."""
    out = pd.DataFrame(index=customers)
    codes = row_codes(tx, customers)
    for col in ("name", "region"):
        out[col] = ""
        if col in tx:
            text = tx[col].to_numpy()
            keep = (text != "") & (codes >= 0)
            last = pd.Series(text[keep]).groupby(codes[keep], sort=False).last()
            out.iloc[last.index.to_numpy(), out.columns.get_loc(col)] = last.to_numpy()
    return out


def _clv(tx: pd.DataFrame, customers: pd.DataFrame, as_of: pd.Timestamp,
         options: Options) -> dict[str, DwyerInputs]:
    column = CLV_GROUPS[options.clv_group]
    overrides = {"years": options.clv_years, **dict(options.clv_overrides or {})}
    groups: dict[str, DwyerInputs] = {}
    for label, members in customers.groupby(column, sort=False)["customer"]:
        groups[str(label) or "(none)"] = measure_dwyer_inputs(
            tx, members.to_numpy(), as_of, overrides)
    order = {k: i for i, k in enumerate(ABC_TIERS + PYRAMID_TIERS + STAGES + QUADRANTS)}
    return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))


def _migration(tx: pd.DataFrame, as_of: pd.Timestamp, options: Options,
               basis: str) -> pd.DataFrame:
    """Repurchase probabilities per recency state and the migration-model value."""
    period = options.migration_period_days
    probs = measure_repurchase(tx, as_of, period, options.migration_states)
    end = as_of.to_datetime64()
    last = tx[(tx["date"].to_numpy() > end - np.timedelta64(period, "D"))]
    buyers = last.loc[last["amount"] > 0, "customer"].nunique()
    if basis == "profit":
        margin_total = (last["profit"].sum() if "profit" in last
                        else (last["amount"] - last["cost"]).sum())
    else:
        margin_total = last["amount"].sum()
    margin = float(margin_total) / buyers if buyers else 0.0
    discount = (1 + DEFAULT_INTEREST) ** (period / 365) - 1
    p = probs["probability"].fillna(0.0).to_numpy()
    probs["margin"] = margin
    probs["value"] = migration_values(p, margin, discount)
    return probs
