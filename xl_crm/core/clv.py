"""Customer lifetime value: the Dwyer table, closed-form retention CLV, migration model.

Dwyer table (客户生命周期价值 — Dwyer 法), year t = 1..T, for a group of G customers.
Every input may be one value or one value per year; rates are fractions, money is in
the data's currency, delays are days:

- retained_1 = G; retained_t = N_{t-1} * r_{t-1}; referred_t = retained_t * referral_t;
  N_t = retained_t + referred_t
- revenue = N_t * orders_t * order_value_t; cost of sales = revenue * cost_rate_t
- acquisition cost = acquisition_cost * G in year 1 only
- each marketing/service line = cost_t * N_t; referral incentive = incentive_t * referred_t
- gross profit = revenue - all costs
- D_t = (1 + interest * risk) ** (t - 1 + delay_days / 365); NPV = gross profit / D_t
- cumulative NPV = running sum; lifetime value per customer = cumulative NPV / G

Closed form: CLV = m * r / (1 + d - r) for an infinite horizon, or the sum over t = 1..T
of m * (r / (1 + d)) ** t (m: yearly margin per customer, r: retention, d: discount).

Migration model (Dwyer's always-a-share, as a Markov chain after Pfeifer & Carraway
2000): states 1..K are "last bought 0, 1, ..., K-1 periods ago", then an absorbing lost
state. From state j a customer buys with probability p_j (back to state 1) or moves to
state j+1. Reward: margin - cost in state 1, -cost in states 2..K (still marketed to),
0 when lost. Value per starting state V = sum_t (P / (1 + d))^t R, t = 0.. (the current
period counts undiscounted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .constants import YEAR_DAYS
from .errors import InputError

PerYear = float | Sequence[float]
DEFAULT_INTEREST = 0.10  # assumed discount rate when measuring inputs from data


def per_year(value: PerYear, years: int, name: str) -> np.ndarray:
    """One value or one per year, as an array of length ``years``."""
    arr = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
    if not np.isfinite(arr).all():
        raise InputError("has an empty or non-finite value", name)
    if arr.size == 1:
        return np.repeat(arr, years)
    if arr.size != years:
        raise InputError(f"has {arr.size} values for {years} years; give one value or "
                         f"one per year", name)
    return arr


def dwyer_table(
    group_size: float,
    retention: PerYear,
    orders: PerYear,
    order_value: PerYear,
    cost_rate: PerYear,
    acquisition_cost: float = 0.0,
    marketing_costs: PerYear | Mapping[str, PerYear] = 0.0,
    interest: float = 0.0,
    risk: float = 1.0,
    years: int = 5,
    referral: PerYear = 0.0,
    referral_incentive: PerYear = 0.0,
    delay_days: float = 0.0,
) -> pd.DataFrame:
    """The Dwyer table: one row per line of the method, one column per year ("Year 1"...).

    ``marketing_costs`` is one cost per active customer and year (one value or per
    year), or several named lines ``{"Marketing cost": ..., "Database cost": ...}``.
    """
    years = int(years)
    if not 1 <= years <= 100:
        raise InputError(f"must be between 1 and 100, not {years}", "years")
    for name, number in (("customers", group_size), ("acquisition_cost", acquisition_cost),
                         ("interest", interest), ("risk", risk), ("delay_days", delay_days)):
        if not np.isfinite(number):
            raise InputError(f"must be a number, not {number}", name)
    if group_size <= 0:
        raise InputError(f"must be a positive number of customers, not {group_size}",
                         "customers")
    r = per_year(retention, years, "retention")
    o = per_year(orders, years, "orders")
    v = per_year(order_value, years, "order_value")
    c = per_year(cost_rate, years, "cost_rate")
    ref = per_year(referral, years, "referral")
    incentive = per_year(referral_incentive, years, "referral_incentive")
    for name, arr in (("retention", r), ("cost_rate", c), ("referral", ref)):
        if ((arr < 0) | (arr > 1)).any():
            raise InputError(f"must be fractions between 0 and 1 (e.g. 0.6 for 60%), got "
                             f"{arr.tolist()}", name)
    if interest * risk <= -1:
        raise InputError("interest x risk must be above -1", "interest")
    lines = marketing_costs if isinstance(marketing_costs, Mapping) else {
        "Marketing cost": marketing_costs}
    lines = {name: per_year(val, years, name) for name, val in lines.items()}

    retained, referred, customers = (np.zeros(years) for _ in range(3))
    for t in range(years):
        retained[t] = group_size if t == 0 else customers[t - 1] * r[t - 1]
        referred[t] = retained[t] * ref[t]
        customers[t] = retained[t] + referred[t]
    revenue = customers * o * v
    cost_of_sales = revenue * c
    acquisition = np.zeros(years)
    acquisition[0] = acquisition_cost * group_size
    line_costs = {name: arr * customers for name, arr in lines.items()}
    incentives = incentive * referred
    total = cost_of_sales + acquisition + sum(line_costs.values()) + incentives
    profit = revenue - total
    t = np.arange(years)
    discount = (1 + interest * risk) ** (t + delay_days / YEAR_DAYS)
    npv = profit / discount
    cumulative = np.cumsum(npv)
    rows = {
        "Retained customers": retained,
        "Referred customers": referred,
        "Customers": customers,
        "Retention rate": r,
        "Referral rate": ref,
        "Orders per customer": o,
        "Average order value": v,
        "Revenue": revenue,
        "Variable cost rate": c,
        "Cost of sales": cost_of_sales,
        "Acquisition cost": acquisition,
        **line_costs,
        "Referral incentive": incentives,
        "Total costs": total,
        "Gross profit": profit,
        "Discount factor": discount,
        "NPV of profit": npv,
        "Cumulative NPV": cumulative,
        "Lifetime value per customer": cumulative / group_size,
    }
    return pd.DataFrame(rows, index=[f"Year {i + 1}" for i in t]).T


def retention_clv(margin: float, retention: float, discount: float,
                  years: int | None = None) -> float:
    """Closed-form CLV per customer: m*r/(1+d-r), or its sum over ``years`` years."""
    for name, number in (("margin", margin), ("retention", retention), ("discount", discount)):
        if not np.isfinite(number):
            raise InputError(f"must be a number, not {number}", name)
    if not 0 <= retention <= 1:
        raise InputError(f"must be a fraction between 0 and 1, not {retention}", "retention")
    if discount <= -1:
        raise InputError(f"must be above -1, not {discount}", "discount")
    if years is None:
        if retention >= 1 + discount:
            raise InputError("the infinite sum diverges when retention >= 1 + discount; "
                             "give years", "retention")
        return margin * retention / (1 + discount - retention)
    years = int(years)
    if years < 0:
        raise InputError(f"must be 0 or more, not {years}", "years")
    q = retention / (1 + discount)
    return float(margin * sum(q ** t for t in range(1, years + 1)))


def migration_values(
    repurchase: Sequence[float],
    margin: float,
    discount: float,
    cost: float = 0.0,
    periods: int | None = None,
) -> np.ndarray:
    """Expected discounted value per starting state 1..K (see the module docstring).

    ``periods`` None: infinite horizon; else the sum over t = 0..periods-1.
    """
    p = np.asarray(repurchase, dtype=float)
    if p.ndim != 1 or p.size == 0 or ((p < 0) | (p > 1)).any():
        raise InputError("must be probabilities between 0 and 1, one per state", "repurchase")
    if discount <= -1:
        raise InputError(f"must be above -1, not {discount}", "discount")
    k = p.size
    P = np.zeros((k + 1, k + 1))
    P[np.arange(k), 0] = p
    P[np.arange(k), np.minimum(np.arange(1, k + 1), k)] += 1 - p
    P[k, k] = 1.0
    R = np.concatenate([[margin - cost], np.full(k - 1, -cost), [0.0]])
    M = P / (1 + discount)
    if periods is None:
        if discount <= 0 and (p > 0).any():
            raise InputError("an infinite horizon needs a positive discount rate", "discount")
        return np.linalg.solve(np.eye(k + 1) - M, R)[:k]
    value, term = np.zeros(k + 1), R.copy()
    for _ in range(int(periods)):
        value += term
        term = M @ term
    return value[:k]


def measure_repurchase(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp,
    period_days: int = 90,
    states: int = 4,
) -> pd.DataFrame:
    """Repurchase probability per recency state from the last two periods of data.

    The cut is ``as_of - period_days``. A customer's state at the cut is 1 + whole
    periods between the last purchase on or before the cut and the cut (state 1: bought
    in the period ending at the cut). ``probability`` = share of the state's customers
    who bought in the period after the cut. Returns ``state``, ``customers``,
    ``repurchased``, ``probability`` (NaN where a state has no customer).
    """
    from .facts import customer_facts

    facts = customer_facts(transactions, as_of, period_days=period_days)
    return repurchase_from_facts(facts.table, as_of, period_days, states)


def repurchase_from_facts(facts: pd.DataFrame, as_of: pd.Timestamp, period_days: int = 90,
                          states: int = 4) -> pd.DataFrame:
    """:func:`measure_repurchase` from the facts ``last_before_cut`` and ``lp_buyer``."""
    cut = int(np.datetime64(as_of, "D").astype("int64")) - period_days
    last = facts["last_before_cut"].to_numpy(float)
    known = ~np.isnan(last)
    state = 1 + (cut - last[known].astype("int64")) // period_days
    frame = pd.DataFrame({"state": state,
                          "bought": facts["lp_buyer"].to_numpy(bool)[known]})
    frame = frame[frame["state"] <= states]
    stats = frame.groupby("state")["bought"].agg(["size", "sum"]).reindex(
        range(1, states + 1), fill_value=0)
    return pd.DataFrame({
        "state": np.arange(1, states + 1),
        "customers": stats["size"].to_numpy(),
        "repurchased": stats["sum"].to_numpy(),
        "probability": np.where(stats["size"] > 0,
                                stats["sum"] / stats["size"].clip(lower=1), np.nan),
    })


@dataclass
class DwyerInputs:
    """Inputs of one Dwyer table and where each came from (given, measured, assumed)."""

    group_size: float
    retention: float
    orders: float
    order_value: float
    cost_rate: float
    acquisition_cost: float = 0.0
    marketing_cost: float = 0.0
    interest: float = DEFAULT_INTEREST
    risk: float = 1.0
    years: int = 5
    referral: float = 0.0
    referral_incentive: float = 0.0
    delay_days: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The Dwyer table for these inputs."""
        return dwyer_table(
            self.group_size, self.retention, self.orders, self.order_value, self.cost_rate,
            self.acquisition_cost, self.marketing_cost, self.interest, self.risk, self.years,
            self.referral, self.referral_incentive, self.delay_days)


MEASURABLE = ("group_size", "retention", "orders", "order_value", "cost_rate")


def measure_dwyer_inputs(
    transactions: pd.DataFrame,
    members: Sequence[object],
    as_of: pd.Timestamp,
    overrides: Mapping[str, float] | None = None,
    assumed_retention: float = 0.5,
) -> DwyerInputs:
    """Inputs for the group of customers ``members``, measured from their transactions.

    Last year = the 365 days ending ``as_of``; previous year = the 365 days before it.
    - group_size: customers in the group;
    - retention: share of the group's customers who bought in the previous year and
      bought again in the last year (needs data covering two years; otherwise
      ``assumed_retention`` is used and marked assumed);
    - orders: purchases in the last year per customer of the group (customers who did
      not buy count as zero, so that size x orders x order value reproduces the group's
      net sales of the last year);
    - order_value: net sales of the last year per purchase;
    - cost_rate: cost / net sales of the last year (0 assumed without a cost column).
    ``overrides`` (any field) win and are marked given.
    """
    from .facts import customer_facts

    facts = customer_facts(transactions, as_of)
    group = facts.table.loc[facts.table.index.isin(pd.Index(list(members)))]
    missing = len(set(members)) - len(group)
    return dwyer_inputs_from_facts(group, covers_two_years(facts.start, as_of), overrides,
                                   assumed_retention, extra_members=missing)


def covers_two_years(start: pd.Timestamp, as_of: pd.Timestamp) -> bool:
    """True when the data starts early enough to measure a yearly retention (a month of
    slack: data that starts in the month two years back counts)."""
    return (as_of - start).days >= 2 * YEAR_DAYS - 31


def dwyer_inputs_from_facts(
    group: pd.DataFrame,
    two_years: bool,
    overrides: Mapping[str, float] | None = None,
    assumed_retention: float = 0.5,
    extra_members: int = 0,
) -> DwyerInputs:
    """:func:`measure_dwyer_inputs` from the facts of the group's customers."""
    overrides = dict(overrides or {})
    sources: dict[str, str] = {"group_size": "measured"}
    size = len(group) + extra_members
    values: dict[str, float] = {"group_size": float(size)}
    prev, last = group["py_active"].to_numpy(bool), group["ly_active"].to_numpy(bool)
    if two_years and prev.any():
        values["retention"] = float((prev & last).sum() / prev.sum())
        sources["retention"] = "measured"
    else:
        values["retention"] = assumed_retention
        sources["retention"] = "assumed"
    purchases = int(group["ly_purchases"].sum())
    net = float(group["ly_net"].sum())
    if last.any() and purchases:
        values["orders"] = purchases / size
        values["order_value"] = net / purchases
        sources["orders"] = sources["order_value"] = "measured"
    else:
        values["orders"], values["order_value"] = 0.0, 0.0
        sources["orders"] = sources["order_value"] = "measured (no purchase in the last year)"
    if "ly_cost" in group and net > 0:
        values["cost_rate"] = min(max(float(group["ly_cost"].sum()) / net, 0.0), 1.0)
        sources["cost_rate"] = "measured"
    else:
        values["cost_rate"] = 0.0
        sources["cost_rate"] = "assumed (no cost column: the value is a revenue value)"
    for key in ("acquisition_cost", "marketing_cost", "interest", "risk", "years", "referral",
                "referral_incentive", "delay_days"):
        sources[key] = "assumed"
    for key, val in overrides.items():
        if key not in DwyerInputs.__dataclass_fields__ or key == "sources":
            raise InputError(f"unknown Dwyer input {key!r}")
        values[key] = val
        sources[key] = "given"
    return DwyerInputs(**values, sources=sources)
