"""The full analysis: every method of the domain on one set of sales, in one call.

:func:`analyze` takes :class:`~xl_crm.core.sales.Sales` and :class:`Options` and returns
an :class:`Analysis` whose ``customers`` table has one row per customer, largest value
first, with these columns (units in brackets):

``customer, name, region, rep, first_purchase, last_purchase (dates), recency (days),
frequency (purchases), monetary, net_sales, purchases, returns (currency), cost, profit
(currency, when the data has them), value (profit when known, else net sales), R, F, M,
RFM, score, segment, abc_tier, abc_rank, abc_share, abc_cumulative_share (fractions),
pyramid_tier, stage, current_value, potential_value (currency), quadrant, value_at_risk
(currency), p_alive (a probability), expected_purchases (purchase days in the next 12
months), expected_value, predicted_clv (currency; :mod:`.predict`, NaN where its models
do not converge and for customers without a purchase), priority (1-9), action (the rule
of the action table, :mod:`.actions`)``. ``prediction`` holds the fitted models.
The labels ``segment``, ``abc_tier``, ``pyramid_tier``, ``stage`` and ``quadrant`` are
pandas categoricals whose categories are every label the method can give, in its order
(A, B, C; VIP ... Small; the scheme's segments, then Unclassified); ``RFM`` is one with
the cells present, in order. They take one byte per customer, sort in the method's
order and count per label without hashing; ``==`` and ``isin`` compare them with text,
and ``.astype(str)`` gives plain text for string operations or new labels.

The summaries (``abc_summary`` ...) have ``label, customers, customer_share, value,
value_share, average``; shares are fractions; the value matrix's ``value`` is the current
value (of the last ``current_days``), the window that defines its quadrants. ``clv`` holds one Dwyer table per group
with the inputs and where each came from; ``log`` what was read, skipped and assumed.
``trend`` holds the monthly trend of the last 24 months (:mod:`.trend`); ``changes``
compares with the previous period end (:mod:`.changes`; None when
``Options.compare`` is "none" or the data starts after that date, which ``log`` notes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionDtype

from .actions import NO_RULE, assign_actions, load_actions, value_at_risk
from .changes import PERIODS, Changes, clv_figures, compare, headline, previous_period_end
from .clv import (
    DEFAULT_INTEREST,
    DwyerInputs,
    covers_two_years,
    dwyer_inputs_from_facts,
    migration_values,
    repurchase_from_facts,
)
from .constants import A_CUT, B_CUT, DEFAULT_BINS, DEFAULT_SCHEME, PYRAMID_SHARES, YEAR_DAYS
from .errors import InputError
from .facts import Facts, customer_facts, previous_date
from .lifecycle import STAGES, LifecycleRules, assign_stages
from .matrix import QUADRANTS, assign_quadrants
from .predict import Prediction, predict
from .rfm import MEASURES, score_rfm
from .sales import Sales
from .segments import assign_segments, level_means, on_scores
from .tiers import (
    ABC_TIERS,
    PYRAMID_TIERS,
    abc_tiers,
    group_summary,
    pyramid_tiers,
    rank_order,
)

CLV_GROUPS = {"abc": "abc_tier", "pyramid": "pyramid_tier", "segment": "segment",
              "stage": "stage", "quadrant": "quadrant", "region": "region"}


@dataclass(frozen=True)
class Options:
    """Parameters of a run; every default is documented in the module it configures."""

    as_of: object | None = None
    bins: int = DEFAULT_BINS
    binning: str = "quantile"
    thresholds: Mapping[str, Sequence[float]] | None = None
    scheme: object = DEFAULT_SCHEME
    monetary: str = "total"
    a_cut: float = A_CUT
    b_cut: float = B_CUT
    pyramid_shares: tuple[float, ...] = PYRAMID_SHARES
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)
    current_days: int = YEAR_DAYS
    clv_group: str = "abc"
    clv_years: int = 5
    clv_overrides: Mapping[str, float] | None = None
    migration_period_days: int = 90
    migration_states: int = 4
    compare: str = PERIODS[0]  # change since the previous month end, week, or none
    actions: object = None  # the action table (None: the shipped one, xl_crm/data/actions.csv)
    currency: str = ""  # shown on money headers (EUR, ¥...); amounts are never converted


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
    changes: Changes | None = None
    trend: pd.DataFrame | None = None  # monthly net sales, customers, orders (.trend)
    prediction: Prediction | None = None  # BG/NBD and Gamma-Gamma (.predict)

    @property
    def total_value(self) -> float:
        """Sum of customer values (currency)."""
        return float(self.customers["value"].sum())

    @cached_property
    def figures(self) -> dict[str, float]:
        """The headline figures now: :func:`~.changes.headline` of the customers, then the
        CLV figures of the CLV group (counts; money in currency). Made once: the report,
        the mail and the terminal read them several times; callers do not change it."""
        return headline(self.customers) | clv_figures(self.clv, self.options.clv_group)


def analyze(sales: Sales, options: Options = Options()) -> Analysis:
    """Run RFM, segments, ABC, pyramid, lifecycle, value matrix, CLV and migration."""
    check_options(options)
    facts = customer_facts(sales.transactions, options.as_of, options.monetary,
                           options.current_days, options.migration_period_days,
                           options.compare)
    return analyze_facts(facts, sales.value_basis, sales.log_fields(), options)


def analyze_facts(facts: Facts, basis: str, source: Mapping[str, object],
                  options: Options = Options()) -> Analysis:
    """The analysis from per-customer facts (computed by pandas or by a SQL engine).

    ``basis`` is "profit" or "net sales"; ``source`` holds ``source``, ``columns``,
    ``rows_read`` and ``blank_rows`` for the log. ``facts.previous`` (the facts at the
    previous period end), when present, is analysed alike and compared.
    """
    check_options(options)
    as_of, t = facts.as_of, facts.table
    out, rfm, order, matrix_cuts = _customer_table(facts, basis, options)
    predicted, prediction = _predict(t, order, out, as_of, basis)
    for col, values in predicted.items():
        out[col] = values
    measures = t[list(MEASURES)]
    clv = _clv(t[[c for c in CLV_FACTS if c in t]].iloc[order], out, facts, options)
    changes = None
    if facts.previous is not None:  # the labels and CLV then; nothing else of that run
        p = facts.previous
        before, _, then_order, _ = _customer_table(p, basis, options)
        then = _clv(p.table[[c for c in CLV_FACTS if c in p.table]].iloc[then_order], before,
                    p, options)
        changes = compare(before, out, p.as_of, clv_figures(then, options.clv_group, clv),
                          clv_figures(clv, options.clv_group))
    rules = load_actions(options.actions)
    rule, out["priority"] = assign_actions(
        out, None if changes is None else changes.previous["stage"], rules)
    names = [r.rule for r in rules]
    out["action"] = pd.Categorical.from_codes(np.where(rule < 0, len(names), rule),
                                              categories=[*names, NO_RULE])

    summaries = {
        "abc": group_summary(out["abc_tier"], out["value"], ABC_TIERS),
        "pyramid": group_summary(out["pyramid_tier"], out["value"], PYRAMID_TIERS),
        "segment": group_summary(out["segment"], out["value"],
                                 list(out["segment"].cat.categories)),
        "stage": group_summary(out["stage"], out["value"], STAGES),
        # the value matrix is defined on the value of the last current_days: its table too
        "quadrant": group_summary(out["quadrant"], out["current_value"], QUADRANTS),
    }
    summaries["segment"] = summaries["segment"][summaries["segment"]["customers"] > 0]
    log = {
        **source,
        "rows_after_as_of": facts.after_as_of,
        "rows_after_as_of_first": list(facts.after_as_of_rows[:20]),
        "as_of": as_of.date().isoformat(),
        "as_of_source": "given" if options.as_of is not None else "latest purchase date",
        "first_date": facts.start.date().isoformat(),
        "customers": len(out),
        "customers_without_purchase": int((out["frequency"] == 0).sum()),
        "value_basis": basis,
        "segment_rule": "scores" if on_scores(options.scheme) else "measures",
        "segment_means": level_means(rfm.table, measures, options.scheme),
        **_comparison(facts, options),
    }
    log["prediction_note"] = prediction.message
    return Analysis(out, as_of, options, basis, rfm.thresholds, summaries, matrix_cuts, clv,
                    _migration(t, facts, options), log, changes, facts.monthly, prediction)


def _predict(t: pd.DataFrame, order: np.ndarray, customers: pd.DataFrame,
             as_of: pd.Timestamp, basis: str) -> tuple[dict[str, np.ndarray], Prediction]:
    """BG/NBD and Gamma-Gamma per customer (:mod:`.predict`) on the facts rows in the
    customer table's order; the margin is the data's value share of net sales (1 on the
    net sales basis)."""
    net = float(customers["net_sales"].sum())
    margin = float(customers["value"].sum()) / net if basis == "profit" and net > 0 else 1.0
    rows = t[list(PREDICT_INPUTS)].iloc[order]
    return predict(rows, as_of, margin, annual_rate=DEFAULT_INTEREST)


def _comparison(facts: Facts, options: Options) -> dict[str, object]:
    """The log's word on the comparison: the previous date, or why there is none."""
    before = previous_period_end(facts.as_of, options.compare)
    if before is None:
        return {"previous_as_of": None, "changes_note": "no comparison (compare = none)"}
    if facts.previous is not None:
        return {"previous_as_of": facts.previous.as_of.date().isoformat(), "changes_note": ""}
    if previous_date(facts.as_of, facts.start, options.compare) is not None:
        return {"previous_as_of": None, "changes_note": "no change figures: the facts were "
                "computed without the previous period (customer_facts(compare=...))"}
    return {"previous_as_of": None,
            "changes_note": f"no change figures: the data starts on {facts.start.date()}, "
                            f"after the previous period end {before.date()}"}


def _customer_table(facts: Facts, basis: str, options: Options
                    ) -> tuple[pd.DataFrame, object, np.ndarray, dict[str, float]]:
    """The customer table (every label, in rank order, value at risk included), the RFM
    result, the rank order of the facts' rows and the value-matrix thresholds."""
    as_of, t = facts.as_of, facts.table
    rfm = score_rfm(t[list(MEASURES)], options.bins, options.binning, options.thresholds)
    segment = assign_segments(rfm.table, options.scheme, options.bins, t[list(MEASURES)])
    value = t["profit" if basis == "profit" else "net_sales"].to_numpy(float)

    # Everything below is aligned by position (no look-ups by customer id: fast at 1M);
    # the customer table is built once, in rank order.
    order = rank_order(t.index, value)
    by_value = pd.Series(value, index=t.index)
    abc = abc_tiers(by_value, options.a_cut, options.b_cut, order)
    pyramid = pyramid_tiers(by_value, options.pyramid_shares, order=order)
    stages = assign_stages(t, as_of, options.lifecycle)
    matrix, matrix_cuts = assign_quadrants(t["current_value"], t["recent"] - t["earlier"])
    computed = {"segment": segment, "value": value}
    ranked = order if (order != np.arange(len(order))).any() else None  # None: in order
    columns = {"customer": _taken(t.index, ranked)}
    for col in CUSTOMER_COLUMNS:
        data = computed.get(col)
        if data is None and col in rfm.table:
            data = rfm.table[col]
        elif data is None and col in t:
            data = t[col]
        if data is not None:
            columns[col] = _taken(data, ranked)
    for col in ("tier", "rank", "share", "cumulative_share"):  # already in rank order
        columns[f"abc_{col}"] = abc[col]
    columns["pyramid_tier"] = pyramid["tier"]
    columns["stage"] = _taken(stages["stage"], ranked)
    for col in matrix.columns:
        columns[col] = _taken(matrix[col], ranked)
    out = pd.DataFrame(columns, copy=False)  # fresh arrays or copy-on-write Series
    out["value_at_risk"] = value_at_risk(out["stage"], out["current_value"])
    return out, rfm, order, matrix_cuts


def _taken(column: pd.Series | pd.Index | np.ndarray, order: np.ndarray | None) -> object:
    """The column's values at positions ``order``, keeping its dtype (categorical and text
    columns are not converted again). ``order`` None: the values in their order, as a
    Series that shares memory with the facts until either is changed (pandas copies on
    write), so the customer table costs no copy."""
    if order is None:
        if isinstance(column, pd.Series):
            return column.reset_index(drop=True)
        return np.array(column)  # an index or array: a copy, typed as the taken ones
    if isinstance(column, pd.Series | pd.Index):
        column = column.array if isinstance(column.dtype, ExtensionDtype) else \
            column.to_numpy()
    return column.take(order)


def check_options(options: Options) -> None:
    """Refuse options no method can use, with the option's name."""
    if options.clv_group not in CLV_GROUPS:
        raise InputError(f"clv_group must be one of {', '.join(CLV_GROUPS)}, "
                         f"not {options.clv_group!r}")
    if options.monetary not in ("total", "mean"):
        raise InputError(f"monetary must be 'total' or 'mean', not {options.monetary!r}")
    if options.compare not in PERIODS:
        raise InputError(f"compare must be one of {', '.join(PERIODS)}, "
                         f"not {options.compare!r}")
    load_actions(options.actions)  # a user's action table is checked before any work
    for name in ("current_days", "migration_period_days", "migration_states", "clv_years"):
        value = getattr(options, name)
        if int(value) != value or value < 1:
            raise InputError(f"{name} must be a whole number of at least 1, not {value!r}")


PREDICT_INPUTS = ("first_purchase", "last_purchase", "purchase_days", "purchases",
                  "first_day_purchases")
CLV_FACTS = ("py_active", "ly_active", "ly_purchases", "ly_net", "ly_cost")
CUSTOMER_COLUMNS = ("name", "region", "rep", "first_purchase", "last_purchase", "recency",
                    "frequency", "monetary", "net_sales", "purchases", "returns", "cost",
                    "profit", "R", "F", "M", "RFM", "score", "weighted", "segment", "value")


def _clv(facts: pd.DataFrame, customers: pd.DataFrame, measured: Facts,
         options: Options) -> dict[str, DwyerInputs]:
    """Dwyer inputs per group; ``facts`` rows are aligned with ``customers`` rows."""
    # group codes, not 1M label texts: the label columns are categoricals
    codes, labels = pd.factorize(customers[CLV_GROUPS[options.clv_group]],
                                 use_na_sentinel=False)
    overrides = {"years": options.clv_years, **dict(options.clv_overrides or {})}
    two_years = covers_two_years(measured.start, measured.as_of)
    groups: dict[str, DwyerInputs] = {}
    for code, label in enumerate(labels):
        groups[str(label) or "(none)"] = dwyer_inputs_from_facts(
            facts.iloc[np.flatnonzero(codes == code)], two_years, overrides)
    order = {k: i for i, k in enumerate(ABC_TIERS + PYRAMID_TIERS + STAGES + QUADRANTS)}
    return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))


def _migration(facts: pd.DataFrame, measured: Facts, options: Options) -> pd.DataFrame:
    """Repurchase probabilities per recency state and the migration-model value.

    Margin per period = value of the last period's rows / customers who bought in it (the
    sum exactly rounded, so the engines' different customer orders give the same margin)."""
    period = options.migration_period_days
    probs = repurchase_from_facts(facts, measured.as_of, period, options.migration_states)
    buyers = int(facts["lp_buyer"].sum())
    margin = math.fsum(facts["lp_value"].to_numpy(float)) / buyers if buyers else 0.0
    discount = (1 + DEFAULT_INTEREST) ** (period / YEAR_DAYS) - 1
    p = probs["probability"].fillna(0.0).to_numpy()
    probs["margin"] = margin
    probs["value"] = migration_values(p, margin, discount)
    return probs
