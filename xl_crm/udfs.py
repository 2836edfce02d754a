"""Excel worksheet functions (register ``xl_crm.udfs`` in xlwings' "UDF Modules").

Thin adapters: each turns its ranges into columns (:mod:`xl_crm.ranges`), calls the core
and returns a 2-D list that spills, with a header row. Errors read like
``amounts row 17: 'abc' is not a number``; rows count from the first cell of the range.
Each function is registered by :func:`worksheet_function`: its arguments described for
Excel's function wizard, cell errors in them passed as text, and its errors shown in the
cell as that one line (:mod:`xl_crm.cell_errors`). In a worksheet function, rows dated after an explicit ``as_of`` are an error (a
function cannot report what it left out); the CLI and the report leave them out and log
them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import xlwings as xw

from .cell_errors import one_line_errors
from .core.clv import dwyer_table, retention_clv
from .core.constants import (
    A_CUT,
    B_CUT,
    DEFAULT_BINS,
    DEFAULT_SCHEME,
    MAX_BINS,
    MIN_BINS,
    PYRAMID_SHARES,
)
from .core.errors import InputError, show
from .core.facts import customer_facts
from .core.lifecycle import assign_stages
from .core.predict import PREDICTED_COLUMNS, predict, rfm_inputs
from .core.rfm import customer_measures, score_rfm, shared_tie_scores
from .core.sales import Sales, sales_from_columns, same_height
from .core.segments import assign_segments
from .core.strategy import recommend
from .core.tiers import abc_tiers, pyramid_tiers, sum_by_customer
from .core.values import parse_amounts
from .ranges import (
    cells,
    check_errors,
    column,
    flag,
    is_blank,
    is_header_cell,
    one_cell,
    refuse_error,
    scalar,
    strip_header,
    table,
)

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "CRM_ABC",
    "CRM_CLV",
    "CRM_DWYER",
    "CRM_LIFECYCLE",
    "CRM_PREDICT",
    "CRM_PYRAMID",
    "CRM_RFM",
    "CRM_RFM_SCORE",
    "CRM_SEGMENT",
    "CRM_STRATEGY",
]


DOC_LIMIT = 255  # characters xlwings allows in an argument's function-wizard text


@dataclass(frozen=True)
class Arg:
    """An argument as Excel's function wizard shows it: its description and whether a
    range arrives as a list of rows (``ndim=2``)."""

    doc: str
    ndim: int | None = None


def worksheet_function(args: dict[str, Arg]) -> Callable[[F], F]:
    """Register a worksheet function with xlwings (classic and Lite): every argument with
    its description for the function wizard, cell errors in arguments passed as text,
    and errors reaching the cell as one line (:mod:`xl_crm.cell_errors`)."""

    def register(func: F) -> F:
        params = list(inspect.signature(func).parameters)
        if sorted(params) != sorted(args):
            raise TypeError(f"{func.__name__}: descriptions for {sorted(args)}, "
                            f"arguments {sorted(params)}")
        wrapped = one_line_errors(func)
        for name in reversed(params):
            arg = args[name]
            # a cell error arrives as its text (#N/A), not as None (xlwings' default),
            # so that it is refused naming its row instead of read as a blank cell
            options = {"err_to_str": True} | ({} if arg.ndim is None else {"ndim": arg.ndim})
            wrapped = xw.arg(name, doc=arg.doc, **options)(wrapped)
        return xw.func(wrapped)

    return register


SALES = {
    "customers": Arg("The customer of each sale: one column or row, one cell per sale (a "
                     "header row is skipped).", ndim=2),
    "dates": Arg("The date of each sale, same height as customers: dates, Excel date "
                 "numbers or text such as 2025-03-01.", ndim=2),
    "amounts": Arg("The amount of each sale in currency, same height as customers; returns "
                   "are negative.", ndim=2),
}
PAIRS = {
    "customers": Arg("Customer of each value: one column or row; a customer may repeat "
                     "(values are summed).", ndim=2),
    "values": Arg("The value (sales or profit, in currency) beside each customer, same "
                  "height.", ndim=2),
}
RFM_OPTIONS = {
    "as_of": Arg("Analysis date, one cell (default: the latest purchase); sales after it "
                 "are an error."),
    "bins": Arg(f"Number of score classes, a whole number from {MIN_BINS} to {MAX_BINS} "
                f"(default {DEFAULT_BINS})."),
    "scheme": Arg("Segment scheme: value8 (default: eight classes on raw measures), named, "
                  "value8-score (on scores), or a range holding a scheme table."),
}
_YEARLY = " One cell, or one value per year (a row or a column)."
DWYER = {
    "customers": Arg("Group size: the number of customers in the group in year 1."),
    "retention": Arg("Share of customers kept from one year to the next, a fraction." + _YEARLY),
    "orders": Arg("Orders per active customer per year." + _YEARLY),
    "order_value": Arg("Average order value, in currency." + _YEARLY),
    "cost_rate": Arg("Variable cost as a fraction of revenue (0.7 = 70%)." + _YEARLY),
    "acquisition_cost": Arg("Acquisition cost per customer of the group, in currency, "
                            "year 1 only (default 0)."),
    "marketing_cost": Arg("Marketing cost per active customer per year, in currency "
                          "(default 0)." + _YEARLY),
    "interest": Arg("Yearly interest rate for discounting, a fraction (default 0)."),
    "risk": Arg("Risk factor multiplying the interest rate (default 1)."),
    "years": Arg("Number of years in the table, a whole number (default 5)."),
    "referral": Arg("Referred customers per active customer per year (default 0)."
                    + _YEARLY),
    "referral_incentive": Arg("Incentive paid per referred customer, in currency "
                              "(default 0)." + _YEARLY),
    "delay_days": Arg("Days between a purchase and its payment, for discounting "
                      "(default 0)."),
}


def _sales(customers: object, dates: object, amounts: object) -> Sales:
    cols = {"customers": column(customers, "customers"), "dates": column(dates, "dates"),
            "amounts": column(amounts, "amounts")}
    first = strip_header(cols, {"dates": "date", "amounts": "number"})
    return sales_from_columns(
        {"customer": cols["customers"], "date": cols["dates"], "amount": cols["amounts"]},
        {"customer": "customers", "date": "dates", "amount": "amounts"}, first_row=first)


def _measures(sales: Sales, as_of: object, facts: bool = False):
    """Customer measures (with ``facts``: every customer fact, as the analysis computes
    them); rows after an explicit as_of are an error in a worksheet function, which
    cannot report what it left out."""
    as_of = one_cell(as_of, "as_of")
    measure = customer_facts if facts else customer_measures
    measures = measure(sales.transactions, None if is_blank(as_of) else as_of)
    if measures.after_as_of:
        row = measures.after_as_of_rows[0]
        tx = sales.transactions
        when = str(tx.loc[tx["row"] == row, "date"].iloc[0])[:10]
        raise InputError(f"{when} is after as_of {measures.as_of.date()} "
                         f"({measures.after_as_of} rows are); leave as_of empty or select "
                         "rows up to as_of", "dates", row)
    return measures


def _pairs(customers: object, values: object) -> pd.Series:
    cols = {"customers": column(customers, "customers"), "values": column(values, "values")}
    first = strip_header(cols, {"values": "number"})
    sales = sales_from_columns(
        {"customer": cols["customers"], "amount": cols["values"]},
        {"customer": "customers", "amount": "values"}, first_row=first,
        required=("customer", "amount"))
    tx = sales.transactions
    return sum_by_customer(tx["customer"], tx["amount"])


@worksheet_function({**SALES, **RFM_OPTIONS})
def CRM_RFM(customers, dates, amounts, as_of=None, bins=DEFAULT_BINS, scheme=DEFAULT_SCHEME):
    """RFM per customer: Recency, Frequency, Monetary, R, F, M, RFM, Score, Segment.

    customers, dates, amounts: one column each, one row per sale (a header row is
    skipped); as_of: analysis date (default: the latest purchase); bins: 2-9;
    scheme: value8, named, or a range holding a scheme table.
    """
    measures = _measures(_sales(customers, dates, amounts), as_of)
    k = scalar(bins, "bins", DEFAULT_BINS, integer=True)
    scored = score_rfm(measures.table, k).table
    scored["segment"] = assign_segments(scored, _scheme(scheme), k, scored)  # raw measures
    out = scored.reset_index()[["customer", "recency", "frequency", "monetary", "R", "F",
                                "M", "RFM", "score", "segment"]]
    return table(out, ["Customer", "Recency", "Frequency", "Monetary", "R", "F", "M", "RFM",
                       "Score", "Segment"])


@worksheet_function({
    "values": Arg("A column, row or block of numbers to score; blanks stay blank and a header "
                  "row gets \"Score\".", ndim=2),
    "bins": RFM_OPTIONS["bins"],
    "higher_is_better": Arg("TRUE (default): larger values score higher; FALSE for "
                            "recency-like measures (days since the last purchase)."),
})
def CRM_RFM_SCORE(values, bins=DEFAULT_BINS, higher_is_better=True):
    """Scores 1..bins aligned with the input, equal values sharing a score.

    values: a column, row or block of numbers (blanks stay blank, a header row gets
    "Score"); bins: 2-9; higher_is_better: FALSE for recency-like measures.
    """
    rows = cells(values)
    check_errors(rows, "values")
    if not rows or not any(not is_blank(v) for r in rows for v in r):
        raise InputError("is an empty range", "values")
    k = scalar(bins, "bins", DEFAULT_BINS, integer=True)
    better = flag(higher_is_better, "higher_is_better", True)
    first = [v for v in rows[0] if not is_blank(v)]
    header = 1 if first and all(is_header_cell(v) for v in first) else 0
    flat = [(i, j, v) for i, r in enumerate(rows[header:], start=header) for j, v in enumerate(r)
            if not is_blank(v)]
    if not flat:
        raise InputError("has no data rows (only a header)", "values")
    numbers = parse_amounts([v for _, _, v in flat], "values",
                            np.array([i + 1 for i, _, _ in flat]))
    scores = shared_tie_scores(numbers, k, better)
    out: list[list[object]] = [[None] * len(r) for r in rows]
    if header:
        out[0] = ["Score" if not is_blank(v) else None for v in rows[0]]
    for (i, j, _), s in zip(flat, scores):
        out[i][j] = int(s)
    return out


@worksheet_function({
    **{k: Arg(f"A column of {k.upper()} scores, 1 to 9, one row per customer (a header row "
                 "is skipped).", ndim=2) for k in "rfm"},
    "scheme": RFM_OPTIONS["scheme"],
})
def CRM_SEGMENT(r, f, m, scheme=DEFAULT_SCHEME):
    """Segment name per customer from R, F and M scores (same shape as the input).

    r, f, m: one column each of scores 1-9; scheme: value8, named, or a scheme table.
    Only scores are given, so high/low compare each score with the mean score (the
    value8-score rule); CRM_RFM compares the raw measures.
    """
    cols = {"r": column(r, "r"), "f": column(f, "f"), "m": column(m, "m")}
    first = strip_header(cols, {"r": "number", "f": "number", "m": "number"})
    same_height(cols, first)
    if not cols["r"]:
        raise InputError("has no data rows (only a header)", "r")
    blank = np.array([all(is_blank(cols[n][i]) for n in cols) for i in range(len(cols["r"]))])
    if blank.all():
        raise InputError("has no scores (every row is blank)", "r")
    keep = np.flatnonzero(~blank)
    scores = {}
    for name, values in cols.items():
        rows = np.arange(first, first + len(values))
        x = parse_amounts(values, name, rows)
        bad = (np.isnan(x) | (x != np.round(x)) | (x < 1) | (x > 9)) & ~blank
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            if is_blank(values[i]):
                given = " and ".join(n for n in cols if not is_blank(cols[n][i]))
                raise InputError(f"is empty but {given} {'are' if ' and ' in given else 'is'} "
                                 "given; give all three scores or none", name, int(rows[i]))
            raise InputError(f"{show(values[i])} is not a score from 1 to 9", name,
                             int(rows[i]))
        scores[name.upper()] = x[keep].astype("int64")
    names = assign_segments(pd.DataFrame(scores), _scheme(scheme)).tolist()
    out: list[list[object]] = [[None] for _ in blank]
    for i, n in zip(keep, names):
        out[i] = [n]
    return ([["Segment"]] + out) if first == 2 else out


def _scheme(scheme: object) -> object:
    """A scheme argument: a name (blank: value8) or a range holding a scheme table."""
    if isinstance(scheme, list | tuple):
        return cells(scheme)
    if is_blank(scheme):
        return DEFAULT_SCHEME
    if not isinstance(scheme, str):
        raise InputError("must be value8, named, value8-score or a range holding a scheme "
                         f"table, not {show(scheme)}", "scheme")
    return scheme


@worksheet_function({
    **PAIRS,
    "a_cut": Arg(f"Cumulative share of value that closes tier A, a fraction (default "
                 f"{A_CUT:.0%} = {A_CUT})."),
    "b_cut": Arg(f"Cumulative share of value that closes tier B, a fraction above a_cut "
                 f"(default {B_CUT})."),
})
def CRM_ABC(customers, values, a_cut=A_CUT, b_cut=B_CUT):
    """ABC tiers, largest first: Customer, Value, Share, Cumulative share, Tier.

    customers, values: one column each (customers may repeat: values are summed);
    a_cut, b_cut: cumulative shares closing tiers A and B (fractions, 0.8 = 80%).
    """
    tiers = abc_tiers(_pairs(customers, values), scalar(a_cut, "a_cut", A_CUT),
                      scalar(b_cut, "b_cut", B_CUT))
    out = tiers[["customer", "value", "share", "cumulative_share", "tier"]]
    return table(out, ["Customer", "Value", "Share", "Cumulative share", "Tier"])


@worksheet_function({
    **PAIRS,
    "vip": Arg(f"Share of customers, by rank, in the VIP tier, a fraction (default "
               f"{PYRAMID_SHARES[0]})."),
    "major": Arg(f"Share of customers in the Major tier below VIP, a fraction (default "
                 f"{PYRAMID_SHARES[1]})."),
    "ordinary": Arg(f"Share of customers in the Ordinary tier below Major, a fraction "
                    f"(default {PYRAMID_SHARES[2]}); the rest are Small."),
})
def CRM_PYRAMID(customers, values, vip=PYRAMID_SHARES[0], major=PYRAMID_SHARES[1],
                ordinary=PYRAMID_SHARES[2]):
    """Customer pyramid, largest first: Customer, Value, Rank, Tier (VIP/Major/Ordinary/Small).

    vip, major, ordinary: head-count shares of the top tiers (fractions); the rest is Small.
    """
    shares = tuple(scalar(v, name, default) for v, name, default in
                   zip((vip, major, ordinary), ("vip", "major", "ordinary"), PYRAMID_SHARES))
    tiers = pyramid_tiers(_pairs(customers, values), shares)
    return table(tiers[["customer", "value", "rank", "tier"]],
                 ["Customer", "Value", "Rank", "Tier"])


def _per_year(value: object, name: str, default: float | None = None) -> list[float]:
    """One cell, or one value per year (a row or a column without blanks)."""
    if not isinstance(value, list | tuple):
        number = scalar(value, name, default)
        if number is None:
            raise InputError("is required", name)
        return [number]
    flat = column(value, name)
    blank = [i for i, v in enumerate(flat, start=1) if is_blank(v)]
    if blank:
        raise InputError("is empty; give a value for every year", name, blank[0])
    return parse_amounts(flat, name).tolist()


@worksheet_function(DWYER)
def CRM_DWYER(customers, retention, orders, order_value, cost_rate, acquisition_cost=0,
              marketing_cost=0, interest=0, risk=1, years=5, referral=0,
              referral_incentive=0, delay_days=0):
    """Dwyer customer-lifetime-value table: a label column, then one column per year.

    customers: group size; retention, orders, order_value, cost_rate, marketing_cost,
    referral, referral_incentive: one cell or one value per year (row or column);
    rates are fractions; years: default 5.
    """
    size = scalar(customers, "customers")
    if size is None:
        raise InputError("is required (the number of customers in the group)", "customers")
    inputs = {
        "retention": _per_year(retention, "retention"),
        "orders": _per_year(orders, "orders"),
        "order_value": _per_year(order_value, "order_value"),
        "cost_rate": _per_year(cost_rate, "cost_rate"),
        "marketing_cost": _per_year(marketing_cost, "marketing_cost", 0.0),
        "referral": _per_year(referral, "referral", 0.0),
        "referral_incentive": _per_year(referral_incentive, "referral_incentive", 0.0),
    }
    n_years = scalar(years, "years", 5, integer=True)
    inputs["marketing_costs"] = inputs.pop("marketing_cost")
    frame = dwyer_table(
        size, acquisition_cost=scalar(acquisition_cost, "acquisition_cost", 0.0),
        interest=scalar(interest, "interest", 0.0), risk=scalar(risk, "risk", 1.0),
        years=n_years, delay_days=scalar(delay_days, "delay_days", 0.0), **inputs)
    body = [[label] + [float(v) for v in row] for label, row in zip(frame.index, frame.values)]
    return [[""] + list(frame.columns)] + body


@worksheet_function({
    "margin": Arg("Yearly margin per customer, in currency (one cell)."),
    "retention": Arg("Share of customers kept each year, a fraction such as 0.8 (one cell)."),
    "discount": Arg("Yearly discount rate, a fraction such as 0.1 (one cell)."),
    "years": Arg("Number of years to sum, a whole number; empty for the infinite horizon."),
})
def CRM_CLV(margin, retention, discount, years=None):
    """Closed-form retention CLV per customer: m*r/(1+d-r), or its sum over years.

    margin: yearly margin per customer (currency); retention, discount: fractions.
    """
    values = [scalar(v, n) for v, n in ((margin, "margin"), (retention, "retention"),
                                        (discount, "discount"))]
    for v, n in zip(values, ("margin", "retention", "discount")):
        if v is None:
            raise InputError("is required", n)
    return retention_clv(*values, scalar(years, "years", None, integer=True))


@worksheet_function({**SALES, "as_of": RFM_OPTIONS["as_of"]})
def CRM_LIFECYCLE(customers, dates, amounts, as_of=None):
    """Lifecycle stage per customer: Customer, First purchase, Last purchase, Stage.

    Stages: Acquisition, Growth, Maturity, Decline, Lost (thresholds in the README).
    """
    facts = _measures(_sales(customers, dates, amounts), as_of, facts=True)
    stages = assign_stages(facts.table, facts.as_of)
    out = facts.table[["first_purchase", "last_purchase"]].join(stages["stage"])
    return table(out.reset_index(), ["Customer", "First purchase", "Last purchase", "Stage"])


@worksheet_function({**SALES, "as_of": RFM_OPTIONS["as_of"],
                     "horizon_days": Arg("Days ahead to predict (default 365)."),
                     "annual_discount": Arg("Yearly discount rate, a fraction (default 0.1)."),
                     "margin": Arg("Share of sales that is profit, a fraction (default 1: "
                                   "value = sales).")})
def CRM_PREDICT(customers, dates, amounts, as_of=None, horizon_days=365, annual_discount=0.1,
                margin=1):
    """Predicted value per customer, from BG/NBD and Gamma-Gamma.

    One row per customer: Customer, Repeat purchases, Recency (days), Age (days),
    P(alive), Expected purchases, Expected order value, Predicted CLV.

    Purchases are counted per purchase day; recency = days from the first to the last
    purchase, age = days from the first purchase to as_of. When a model cannot be fitted
    (fewer than 2 repeat buyers, no convergence) its columns stay empty and their header
    says why.
    """
    facts = _measures(_sales(customers, dates, amounts), as_of, facts=True)
    days = scalar(horizon_days, "horizon_days", 365.0)
    rate = scalar(annual_discount, "annual_discount", 0.1)
    share = scalar(margin, "margin", 1.0)
    if days <= 0:
        raise InputError(f"must be more than 0 days, not {days:g}", "horizon_days")
    if rate < 0:
        raise InputError(f"must be 0 or more, not {rate:g}", "annual_discount")
    predicted, model = predict(facts.table, facts.as_of, share, days, rate)
    inputs = rfm_inputs(facts.table, facts.as_of)
    buyer = inputs["buyer"]
    out = pd.DataFrame({
        "customer": facts.table.index,
        "frequency": np.where(buyer, inputs["frequency"], np.nan),
        "recency": np.where(buyer, inputs["recency"], np.nan),
        "age": np.where(buyer, inputs["age"], np.nan),
        **{k: predicted[k] for k in PREDICTED_COLUMNS}})
    header = ["Customer", "Repeat purchases", "Recency (days)", "Age (days)", "P(alive)",
              "Expected purchases", "Expected order value", "Predicted CLV"]
    if not model.usable:
        header[4] = f"P(alive): {model.bgnbd.message}"
    elif not model.valued:
        header[6] = f"Expected order value: {model.gamma.message}"
    return table(out, header)


@worksheet_function({
    "label": Arg("A tier, segment, stage or quadrant (A, VIP, Champions, Growth, ... or "
                 "kind:label), one cell or a range of them.", ndim=2),
    "lang": Arg("Language of the text: en (default) or zh."),
})
def CRM_STRATEGY(label, lang="en"):
    """Recommendation (goal, actions, resources) for a tier, segment, stage or quadrant.

    label: one cell, e.g. A, VIP, Important value, Champions, Growth, Value (or
    kind:label), giving one text; or a range, giving one text per cell in the same shape
    (blank cells stay blank); lang: en or zh.
    """
    if isinstance(lang, list | tuple):
        raise InputError("must be one cell (en or zh), not a range", "lang")
    language = "en" if is_blank(lang) else str(lang).strip().lower()
    if not isinstance(label, list | tuple):
        if is_blank(label):
            raise InputError("is empty", "label")
        return _strategy_text(label, language, None)
    rows = cells(label)
    check_errors(rows, "label")
    return [[None if is_blank(v) else _strategy_text(v, language, i) for v in row]
            for i, row in enumerate(rows, start=1)]


def _strategy_text(label: object, lang: str, row: int | None) -> str:
    """One recommendation text; a bad label names its range row (``row``)."""
    refuse_error(label, "label", row)
    text = str(int(label)) if isinstance(label, float) and label.is_integer() else str(label)
    try:
        return recommend(text, lang).text()
    except InputError as err:
        if err.column != "label" or row is None:
            raise
        raise InputError(err.reason, "label", row) from None

