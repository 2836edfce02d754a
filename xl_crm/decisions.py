"""The decision views a manager reads first, as plain data (no openpyxl, xlwings or
smtplib): the headline figures with their change since the previous period, the action
list, the migration matrices and the movers (shared/domain.md sections 7 and 8). The
report, the email, the button's sheets and ``xl-crm analyze`` render these, so they can
never disagree. Values are plain Python, as a cell holds them; money in currency, shares
as fractions, days as whole numbers.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd

from .core.actions import LIST_PRIORITIES, NEW, load_actions
from .core.analysis import Analysis
from .core.changes import MIGRATIONS, MOVER_COLUMNS
from .core.predict import HORIZON_DAYS, MONTH_DAYS
from .core.tiers import ABC_TIERS
from .i18n import method_name, money_header, text
from .keyfigures import FigureRow, ReportSummary, TierRow
from .views import excel_value, group_kind

_name = cache(method_name)  # display names: the catalogue is searched once per label

# headline figures in the order shown; "money" ones are currency, the others counts
HEADLINE = ("active_customers", "current_value", "value_at_risk", "vips_at_risk",
            "customers")
FIGURE_COLUMNS = ("figure", "now", "previous", "change", "change_share")  # labels fig.*
def is_money_figure(name: str) -> bool:
    """Whether a headline figure is currency (value, value at risk, per-tier value, CLV)."""
    return name in ("current_value", "value_at_risk") or name.startswith(("value_", "clv_"))
# the action-list columns of the short lists (email, terminal; of ACTION_COLUMNS)
SHORT_ACTION_COLUMNS = ("priority", "name", "rep", "recency", "abc_tier", "stage",
                        "value_at_risk", "action")
# the action list's columns; the first PRINTED_ACTIONS are what a printed page shows
ACTION_COLUMNS = ("priority", "customer", "name", "rep", "recency", "abc_tier", "stage",
                  "value_at_risk", "action", "reason", "region", "last_purchase",
                  "pyramid_tier", "current_value")
PRINTED_ACTIONS = 9  # priority ... action (the reason follows on screen)


def figure_label(name: str, lang: str) -> str:
    """The label of a headline figure (``value_A`` reads "Value, tier A")."""
    if name.startswith(("customers_", "value_", "clv_")) and name.count("_") == 1:
        kind, tier = name.split("_")
        return text(f"fig.{kind}_tier", lang, tier=_name(tier, "abc", lang))
    return text(f"fig.{name}", lang)


def headline_figures(analysis: Analysis, lang: str = "en",
                     names: tuple[str, ...] | None = None) -> list[FigureRow]:
    """The headline figures (default: :data:`HEADLINE`, then customers and value per ABC
    tier), each with its change when the analysis has a previous period."""
    now = analysis.figures
    names = names or (*HEADLINE, *(n for n in now if n not in HEADLINE))
    before = None
    if analysis.changes is not None:
        before = analysis.changes.deltas.set_index("figure")
    out = []
    for name in names:
        prev = change = share = None
        if before is not None and name in before.index:
            row = before.loc[name]
            known = (None if math.isnan(row[c]) else float(row[c])
                     for c in ("previous", "change", "change_share"))
            prev, change, share = known
        label = figure_label(name, lang)
        money = is_money_figure(name)
        if money:
            label = money_header(label, analysis.options.currency)
        out.append(FigureRow(name, label, now[name], prev, change, share, money))
    return out


def data_window(analysis: Analysis, lang: str = "en") -> str:
    """The data window in words: "24 months of data, 2024-11-01 to 2026-10-31"; a
    manager's analysis (core.split) begins with whose it is and the company's figures."""
    start = pd.Timestamp(analysis.log["first_date"])
    months = (analysis.as_of.year - start.year) * 12 + analysis.as_of.month - start.month + 1
    window = text("window", lang, months=months, start=start.date().isoformat(),
                  as_of=analysis.as_of.date().isoformat())
    scope = scope_note(analysis, lang)
    return window if scope is None else f"{scope} · {window}"


def scope_note(analysis: Analysis, lang: str = "en") -> str | None:
    """Whose customers a manager's analysis holds, with the company's headline figures
    (customers, active customers, value of the last 12 months, value at risk); None for
    the company's own analysis."""
    scope = analysis.log.get("scope")
    if scope is None:
        return None
    company = scope["company"]
    money = analysis.options.currency
    figures = ", ".join(
        f"{text(f'fig.{k}', lang)} {v:,.0f}" if k.endswith("customers")
        else f"{money_header(text(f'fig.{k}', lang), money)} {v:,.0f}"
        for k, v in company.items() if k != "customers")
    return text("scope.line", lang, who=text(f"scope.{scope['by']}", lang, value=scope["key"]),
                customers=f"{scope['customers']:,}", company=f"{scope['company_customers']:,}",
                figures=figures)


def history_note(analysis: Analysis, lang: str = "en") -> str | None:
    """For several files read as one history (core.history): how many, and the lines
    found in a later file too and counted once from it, per file; None for one file."""
    log = analysis.log
    if "files" not in log:
        return None
    repeats = "; ".join(text("history.repeat", lang, file=f, lines=f"{n:,}", orders=f"{o:,}",
                             later=later) for f, n, o, later in log["repeats"])
    return text("history.files", lang, files=len(log["files"]),
                lines=f"{log['repeated_lines']:,}") + (f" ({repeats})" if repeats else "")


def comparison_note(analysis: Analysis, lang: str = "en") -> str:
    """What the change figures compare with, or why there are none."""
    if analysis.changes is not None:
        return text("changes.since", lang,
                    date=analysis.changes.previous_as_of.date().isoformat())
    if analysis.options.compare == "none":
        return text("changes.off", lang)
    return text("changes.none", lang, start=analysis.log["first_date"])


def _days(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{int(value)}"


def action_list(analysis: Analysis, lang: str = "en",
                limit: int | None = None) -> list[list[object]]:
    """The action list (shared/domain.md section 7): customers with priority 1 or 2,
    ordered by priority, then value at risk, then value (largest first), as rows of
    :data:`ACTION_COLUMNS` with labels, action and reason in ``lang``; at most ``limit``
    rows."""
    c = analysis.customers
    listed = c[c["priority"].isin(LIST_PRIORITIES)]
    order = np.lexsort((-listed["value"].to_numpy(float),
                        -listed["value_at_risk"].to_numpy(float),
                        listed["priority"].to_numpy()))
    if limit is not None:
        order = order[:limit]
    rows = listed.iloc[order]
    rules = {r.rule: r for r in load_actions(analysis.options.actions)}
    # display names looked up once per label, not once per customer
    names = {kind: {label: _name(label, kind, lang) for label in c[col].cat.categories}
             for kind, col in (("abc", "abc_tier"), ("lifecycle", "stage"),
                               ("pyramid", "pyramid_tier"))}
    out = []
    for rec in rows.itertuples(index=False):
        rule = rules[rec.action]
        tier, stage = names["abc"][rec.abc_tier], names["lifecycle"][rec.stage]
        alive = getattr(rec, "p_alive", float("nan"))
        reason = rule.reason(lang).format(days=_days(rec.recency), frequency=rec.frequency,
                                          tier=tier, stage=stage,
                                          alive="–" if math.isnan(alive) else f"{alive:.0%}")
        out.append([int(rec.priority), rec.customer, rec.name, rec.rep,
                    excel_value(rec.recency), tier, stage, float(rec.value_at_risk),
                    rule.action(lang), reason, rec.region, excel_value(rec.last_purchase),
                    names["pyramid"][rec.pyramid_tier], float(rec.current_value)])
    return out


MONEY_ACTION_COLUMNS = frozenset({"value_at_risk", "current_value"})


def action_header(lang: str = "en", currency: str = "") -> list[str]:
    """The header of :func:`action_list` (money columns with ``currency``)."""
    return [money_header(text(f"act.{c}", lang), currency) if c in MONEY_ACTION_COLUMNS
            else text(f"act.{c}", lang) for c in ACTION_COLUMNS]


def short_actions(analysis: Analysis, lang: str = "en", limit: int = 10,
                  columns: tuple[str, ...] = SHORT_ACTION_COLUMNS) -> list[list[object]]:
    """The top ``limit`` rows of the action list in ``columns`` (of :data:`ACTION_COLUMNS`),
    header first, as the Summary, the email and the terminal show it; a customer without
    a name shows its customer id in the name column."""
    picks = [ACTION_COLUMNS.index(c) for c in columns]
    named, customer = ACTION_COLUMNS.index("name"), ACTION_COLUMNS.index("customer")
    header = action_header(lang, analysis.options.currency)
    out = [[header[i] for i in picks]]
    for row in action_list(analysis, lang, limit):
        if not row[named]:
            row[named] = row[customer]
        out.append([row[i] for i in picks])
    return out


def action_count(analysis: Analysis) -> int:
    """How many customers the action list holds."""
    return int(analysis.customers["priority"].isin(LIST_PRIORITIES).sum())


def migration_table(analysis: Analysis, key: str, lang: str = "en",
                    values: bool = False) -> list[list[object]] | None:
    """Migration matrix ``key`` (abc, pyramid, segment, stage) as rows: a header row
    (previous \\ current, the current labels, total) then one row per previous label
    (plus "new"), counts or (``values``) current value in currency; None without a
    comparison. Rows and columns without any customer are left out, except the tiers."""
    if analysis.changes is None:
        return None
    counts = getattr(analysis.changes, key)
    table = analysis.changes.values[key] if values else counts
    kind = group_kind(key, analysis.options.scheme)
    keep_all = key in ("abc", "pyramid")
    row_used, col_used = counts.sum(axis=1), counts.sum(axis=0)
    rows = [r for r in table.index if keep_all or row_used[r] > 0 or r == NEW]
    cols = [c for c in table.columns if keep_all or col_used[c] > 0]
    shown = table.loc[rows, cols]

    def name(label: str) -> str:
        return text("changes.new", lang) if label == NEW else _name(label, kind, lang)

    out = [[text("changes.corner", lang), *(name(c) for c in cols), text("changes.total", lang)]]
    for r, cells, total in zip(rows, shown.to_numpy().tolist(), shown.sum(axis=1).tolist(),
                               strict=True):
        out.append([name(r), *(excel_value(v) for v in cells), excel_value(total)])
    return out


MIGRATION_KEYS = tuple(MIGRATIONS)
LABEL_KINDS = {"abc_tier": "abc", "pyramid_tier": "pyramid", "stage": "lifecycle"}


def movers_header(lang: str = "en", currency: str = "") -> list[str]:
    """The header of :func:`movers_table`."""
    return [*(text(k, lang) for k in ("movers.kind", "act.customer", "act.name",
                                      "movers.previous", "movers.current")),
            money_header(text("col.value", lang), currency)]


def movers_table(analysis: Analysis, lang: str = "en",
                 limit: int = 50) -> list[list[object]] | None:
    """Movers: per kind (entered or left tier A or VIP, became Lost, new) the customers,
    largest value first, at most ``limit`` per kind; rows of kind, customer, name,
    previous label, current label, value. None without a comparison."""
    if analysis.changes is None:
        return None
    movers = analysis.changes.movers
    names = analysis.customers.set_index("customer")["name"]
    out = []
    for kind, part in movers.groupby("kind", sort=False):
        label_kind = LABEL_KINDS[MOVER_COLUMNS[kind]]
        for rec in part.sort_values("value", ascending=False).head(limit).itertuples():
            out.append([text(f"movers.{kind}", lang), rec.customer, names.get(rec.customer, ""),
                        text("changes.new", lang) if rec.previous == NEW
                        else _name(rec.previous, label_kind, lang),
                        _name(rec.current, label_kind, lang), float(rec.value)])
    return out


def subject_headline(analysis: Analysis, lang: str = "en") -> str:
    """The change for a subject line: "14 VIPs at risk, value -0.2% since 2026-09-30"
    (without a comparison: the VIPs at risk only)."""
    figures = {f.name: f for f in headline_figures(analysis, lang,
                                                   ("vips_at_risk", "current_value"))}
    vips = int(figures["vips_at_risk"].current)
    share = figures["current_value"].change_share
    if analysis.changes is None or share is None:
        return text("mail.headline.short", lang, vips=vips)
    return text("mail.headline", lang, vips=vips, change=f"{share:+.1%}".replace("-", "−"),
                date=analysis.changes.previous_as_of.date().isoformat())


def report_summary(analysis: Analysis, lang: str = "en",
                   actions: int = 10) -> ReportSummary:
    """What the report stores and the email shows: key figures, the ABC tier table, and the
    decision part (headline figures with their change, the top ``actions`` rows of the
    action list, the data window), all in ``lang``."""
    abc = analysis.summaries["abc"]
    tiers = tuple(TierRow(r.label, _name(r.label, "abc", lang), int(r.customers),
                          float(r.customer_share), float(r.value), float(r.value_share))
                  for r in abc.itertuples(index=False))
    c = analysis.customers
    figures = tuple(headline_figures(analysis, lang, HEADLINE))
    header, *rows = short_actions(analysis, lang, actions)
    return ReportSummary(period=analysis.as_of.strftime("%Y-%m"), as_of=analysis.log["as_of"],
                         source=str(analysis.log["source"]), customers=len(c),
                         revenue=float(c["net_sales"].sum()), value=analysis.total_value,
                         value_basis=analysis.value_basis, tiers=tiers,
                         window=data_window(analysis, lang),
                         comparison=comparison_note(analysis, lang),
                         headline=subject_headline(analysis, lang), figures=figures,
                         action_count=action_count(analysis),
                         action_header=tuple(header),
                         actions=tuple(tuple(_plain(v) for v in r) for r in rows),
                         warnings=tuple(data_warnings(analysis, lang)),
                         currency=analysis.options.currency)


def _plain(value: object) -> object:
    """A value JSON keeps as it is: dates as ISO text, whole floats as int."""
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def method_warnings(analysis: Analysis, lang: str = "en") -> dict[str, list[str]]:
    """Where the data is too short for a method (shared/domain.md section 8), by the place
    its numbers appear: ``clv`` (retention assumed), ``matrix`` (a value window longer
    than the data), ``migration`` (Dwyer's repurchase probabilities without enough
    periods), ``changes`` (no change figures), ``trend`` (no year-earlier months)."""
    start = pd.Timestamp(analysis.log["first_date"])
    days = (analysis.as_of - start).days + 1
    months = (analysis.as_of.year - start.year) * 12 + analysis.as_of.month - start.month + 1
    o = analysis.options
    out: dict[str, list[str]] = {k: [] for k in WARNING_PLACES}
    if any(i.sources.get("retention") == "assumed" for i in analysis.clv.values()):
        out["clv"].append(text("warn.retention", lang, months=months))
    if days < o.current_days:
        out["matrix"].append(text("warn.current", lang, months=months, days=o.current_days))
    if days < o.migration_period_days * o.migration_states:
        out["migration"].append(text("warn.migration", lang, days=days,
                                     needed=o.migration_period_days * o.migration_states))
    if analysis.changes is None and o.compare != "none":
        out["changes"].append(comparison_note(analysis, lang))
    if months < 24 and analysis.trend is not None:
        out["trend"].append(text("warn.trend", lang, months=months))
    return out


WARNING_PLACES = ("clv", "matrix", "migration", "changes", "trend")


def data_warnings(analysis: Analysis, lang: str = "en") -> list[str]:
    """Every warning of :func:`method_warnings`, one line each (the Summary, the email,
    the button's log and ``xl-crm analyze`` show them all)."""
    return [w for place in method_warnings(analysis, lang).values() for w in place]


PREDICTED_HEADER = ("group", "customers", "alive", "purchases", "value", "per_customer",
                    "dwyer_year")  # labels predict.*


def predicted_table(analysis: Analysis, lang: str = "en") -> list[list[object]]:
    """The Predicted value section (BG/NBD and Gamma-Gamma, core.predict) by ABC tier and
    in total: customers, mean P(still buying) of the buyers, expected purchases and
    predicted value of the next months (currency, summed), predicted value per customer,
    and Dwyer's first-year lifetime value per customer of the tier beside it. A header row
    first; only the header when the models are not usable."""
    header = [money_header(text(f"predict.{k}", lang, months=_months(analysis)),
                           analysis.options.currency)
              if k in ("value", "per_customer", "dwyer_year")
              else text(f"predict.{k}", lang, months=_months(analysis))
              for k in PREDICTED_HEADER]
    p = analysis.prediction
    if p is None or not p.usable:
        return [header]
    c = analysis.customers
    rows = [header]
    for tier in (*ABC_TIERS, None):
        part = c if tier is None else c[c["abc_tier"] == tier]
        if part.empty:
            continue
        dwyer = analysis.clv.get(tier) if analysis.options.clv_group == "abc" else None
        first_year = None if dwyer is None else float(
            dwyer.table().loc["Lifetime value per customer"].iloc[0])
        value = float(part["predicted_clv"].sum()) if p.valued else None
        rows.append([text("predict.total", lang) if tier is None else
                     _name(tier, "abc", lang), len(part),
                     _mean(part["p_alive"]), float(part["expected_purchases"].sum()),
                     value, None if value is None else value / len(part), first_year])
    return rows


def predicted_notes(analysis: Analysis, lang: str = "en") -> list[str]:
    """The lines under the Predicted value table: why it differs from Dwyer's (two
    sentences), the fitted parameters, or why there is no prediction."""
    p = analysis.prediction
    if p is None:
        return []
    months = _months(analysis)
    lines = [text("predict.explain", lang, months=months, years=analysis.options.clv_years)]
    if not p.usable or not p.valued:
        lines.append(text("predict.missing", lang, reason=p.message))
    if p.usable:
        b = p.bgnbd
        lines.append(text("predict.once", lang))
        lines.append(text("predict.bgnbd", lang, r=f"{b.r:.3f}", alpha=f"{b.alpha:.2f}",
                          a=f"{b.a:.3f}", b=f"{b.b:.3f}", customers=f"{b.customers:,}"))
    if p.valued:
        g = p.gamma
        lines.append(text("predict.gamma", lang, p=f"{g.p:.3f}", q=f"{g.q:.3f}",
                          v=f"{g.v:,.2f}", customers=f"{g.customers:,}",
                          margin=f"{p.margin:.1%}", rate=f"{p.annual_rate:.0%}"))
    return lines


def _months(analysis: Analysis) -> int:
    p = analysis.prediction
    return p.months if p is not None else round(HORIZON_DAYS / MONTH_DAYS)


def _mean(values: pd.Series) -> float | None:
    v = values.to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else None


TREND_HEADER = ("month", "net_sales", "net_sales_before", "customers", "customers_before",
                "orders", "orders_before")  # labels trend.*


def trend_table(analysis: Analysis, lang: str = "en") -> list[list[object]]:
    """The last 12 calendar months up to the analysis date's month: month, net sales
    (currency), customers who bought, orders, each beside the same month a year earlier
    (empty for a month the data does not cover: not a fall to zero). An analysis date
    before the month's end marks that month "to day N". A header row first."""
    t = analysis.trend
    header = [money_header(text(f"trend.{k}", lang), analysis.options.currency)
              if k.startswith("net_sales") else text(f"trend.{k}", lang) for k in TREND_HEADER]
    if t is None or len(t) < 24:
        return [header]
    rows = [header]
    as_of = analysis.as_of
    partial = as_of.day != as_of.days_in_month  # the analysis month is not complete
    for now, before in zip(t.iloc[12:].itertuples(), t.iloc[:12].itertuples()):
        row = [text("trend.partial", lang, month=now.month, day=as_of.day)
               if partial and now.Index == len(t) - 1 else now.month]
        for col, kind in (("net_sales", float), ("customers", int), ("orders", int)):
            row += [kind(getattr(m, col)) if m.covered else None for m in (now, before)]
        rows.append(row)
    return rows
