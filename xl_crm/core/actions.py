"""The customer's next action (行动建议, shared/domain.md section 7): one per customer.

An editable action table (``xl_crm/data/actions.csv``, data like the segment schemes)
is read top to bottom and the first matching row gives the action, its priority
(1 = do this week, 2 = this month, 3 = this quarter, 4 = no individual action) and the
reason. Columns:

- ``rule``: a short name, unique (what the customer table's ``action`` column holds);
- conditions, all of which must hold; an empty cell matches anything, ``A|B`` any of
  several labels, ``!Lost`` (or ``!Decline|Lost``) any label but these:
  ``abc`` (A, B, C), ``pyramid`` (VIP, Major, Ordinary, Small), ``stage`` (lifecycle),
  ``segment`` (the scheme's labels), ``quadrant`` (value matrix), ``was`` (the lifecycle
  stage at the previous period end, or ``new``: no purchase before it; a row with a
  ``was`` condition matches nobody when no previous period was analysed),
  ``frequency`` (``high``: more purchases than the mean of all customers, ``low``),
  ``alive`` (``low``: the probability of still being active, BG/NBD, below 0.5;
  ``high``: 0.5 or more; a customer without one matches neither; the column may be left
  out of a user's table);
- ``priority``: a whole number from 1 to 9;
- ``action_en``, ``action_zh``, ``reason_en``, ``reason_zh``: the texts. A reason may
  name ``{days}`` (days since the last purchase), ``{frequency}`` (purchases),
  ``{tier}`` (ABC tier), ``{stage}`` (lifecycle stage) and ``{alive}`` (the probability
  of still being active, as a percentage), shown in its language.

Stage comes before segment in the shipped table, so a customer 342 days without a
purchase is never told to "keep these recent customers loyal", whatever its RFM class.
The shipped order, decided where shared/domain.md leaves it open: tier A and VIP first
(among them, after Decline and Lost, ``a-fading``: a tier A customer whose probability of
still buying fell below 0.5 is called this week before the lifecycle rules see it);
new A/B customers and growing B customers next; C customers in Decline or Lost get no
individual spend, then lapsed frequent buyers of any other tier are reactivated, then
Small (pyramid) customers in Decline or Lost get no individual spend. Without a previous
period (``compare = none``) the two rules on the previous stage match nobody, and the
customers they would have listed fall to ``a-lost`` and ``a-new`` (priority 3).

**Value at risk** of a customer (currency) = its current value (the value of the last
``current_days`` days, 365 by default) when its stage is Decline or Lost, else 0; a
negative current value (returns only) risks nothing and counts 0.
"""

from __future__ import annotations

import csv
import io
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from .errors import InputError, show
from .lifecycle import STAGES
from .matrix import QUADRANTS
from .tiers import ABC_TIERS, PYRAMID_TIERS

AT_RISK_STAGES = ("Decline", "Lost")
NEW = "new"  # the previous label of a customer with no purchase before the previous period
LABEL_CONDITIONS = {"abc": "abc_tier", "pyramid": "pyramid_tier", "stage": "stage",
                    "segment": "segment", "quadrant": "quadrant", "was": "was"}
KNOWN = {"abc": ABC_TIERS, "pyramid": PYRAMID_TIERS, "stage": STAGES, "quadrant": QUADRANTS,
         "was": (*STAGES, NEW)}  # segment labels depend on the scheme
TEXTS = ("action_en", "action_zh", "reason_en", "reason_zh")
COLUMNS = ("rule", *LABEL_CONDITIONS, "frequency", "alive", "priority", *TEXTS)
LIST_PRIORITIES = (1, 2)  # the action list: do this week / this month
REASON_FIELDS = frozenset({"days", "frequency", "tier", "stage", "alive"})
ALIVE_CUT = 0.5  # alive = low below it (shared/domain.md section 7, issue 20)
NO_RULE = "(none)"  # the action of a customer no rule matches (reserved)


@dataclass(frozen=True)
class ActionRule:
    """One row of the action table, checked."""

    rule: str
    conditions: tuple[tuple[str, bool, frozenset[str]], ...]  # (column, negated, labels)
    frequency: str  # "", "high" or "low"
    priority: int
    texts: dict[str, str]
    alive: str = ""  # "", "high" or "low"

    def action(self, lang: str) -> str:
        """The action in ``lang`` (en, zh)."""
        return self.texts[f"action_{lang}"]

    def reason(self, lang: str) -> str:
        """The reason template in ``lang``, with ``{days}`` ... fields (module docstring)."""
        return self.texts[f"reason_{lang}"]


@cache
def _shipped() -> tuple[ActionRule, ...]:
    text = resources.files("xl_crm.data").joinpath("actions.csv").read_text(encoding="utf-8")
    return load_actions([row for row in csv.reader(io.StringIO(text)) if row])


def load_actions(table: Sequence[Sequence[object]] | pd.DataFrame | None = None
                 ) -> tuple[ActionRule, ...]:
    """The action table checked (None: the shipped one); a bad cell is an InputError naming
    its column and row (rows counted as in the file, header = 1)."""
    if table is None:
        return _shipped()
    if isinstance(table, pd.DataFrame):
        rows = [list(table.columns), *table.astype(object).fillna("").values.tolist()]
    else:
        rows = [list(r) for r in table]
    if len(rows) < 2:
        raise InputError("an action table needs a header row and at least one rule", "actions")
    header = [str(h).strip().lower() for h in rows[0]]
    missing = [c for c in ("rule", "priority", *TEXTS) if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown:
        raise InputError(f"the action table needs the columns {', '.join(COLUMNS)}"
                         + (f"; missing {', '.join(missing)}" if missing else "")
                         + (f"; unknown {', '.join(map(show, unknown))}" if unknown else ""),
                         "actions")
    rules, seen = [], set()
    for i, raw in enumerate(rows[1:], start=2):
        rec = {h: "" if v is None else str(v).strip() for h, v in zip(header, raw)}
        rules.append(_rule(rec, i, seen))
    return tuple(rules)


def _rule(rec: dict[str, str], row: int, seen: set[str]) -> ActionRule:
    name = rec.get("rule", "")
    if not name:
        raise InputError("the rule name is empty", "actions rule", row)
    if name == NO_RULE:
        raise InputError(f"{NO_RULE} is reserved (customers no rule matches); use another "
                         "name", "actions rule", row)
    if name in seen:
        raise InputError(f"the rule {show(name)} appears twice", "actions rule", row)
    seen.add(name)
    conditions = []
    for col in LABEL_CONDITIONS:
        cell = rec.get(col, "")
        if not cell or cell == "*":
            continue
        negated = cell.startswith("!")
        labels = frozenset(p.strip() for p in cell.removeprefix("!").split("|"))
        known = KNOWN.get(col)
        bad = sorted(lab for lab in labels if not lab or (known and lab not in known))
        if bad:
            raise InputError(f"{show(cell)} is not a condition on {col}"
                             + (f" (use {', '.join(known)})" if known else ""),
                             f"actions {col}", row)
        conditions.append((col, negated, labels))
    frequency = rec.get("frequency", "").lower()
    if frequency not in ("", "*", "high", "low"):
        raise InputError(f"{show(rec['frequency'])} is not high, low or empty",
                         "actions frequency", row)
    alive = rec.get("alive", "").lower()
    if alive not in ("", "*", "high", "low"):
        raise InputError(f"{show(rec['alive'])} is not high, low or empty", "actions alive",
                         row)
    try:
        priority = int(float(rec["priority"]))
    except ValueError:
        priority = 0
    if not 1 <= priority <= 9 or str(priority) != rec["priority"].removesuffix(".0"):
        raise InputError(f"{show(rec['priority'])} is not a priority from 1 to 9",
                         "actions priority", row)
    for col in TEXTS:
        if not rec.get(col):
            raise InputError("is empty", f"actions {col}", row)
        _check_template(rec[col], col, row)
    return ActionRule(name, tuple(conditions), frequency.strip("*"), priority,
                      {c: rec[c] for c in TEXTS}, alive.strip("*"))


def _check_template(text: str, col: str, row: int) -> None:
    """A text's ``{field}`` names must be the reason fields (module docstring); a brace
    that opens no field is written ``{{``."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as err:
        raise InputError(f"{show(text)}: {err} (write {{{{ for a brace)", f"actions {col}",
                         row) from None
    unknown = sorted(fields - REASON_FIELDS)
    if unknown:
        raise InputError(f"{show(text)} names {', '.join('{' + f + '}' for f in unknown)}; "
                         "a text may name {days}, {frequency}, {tier}, {stage}, {alive}",
                         f"actions {col}", row)


def value_at_risk(stage: pd.Series, current_value: pd.Series) -> np.ndarray:
    """Per customer: current value (currency) when the stage is Decline or Lost, else 0
    (and 0 for a negative current value: returns only, nothing to lose)."""
    risky = np.asarray(pd.Series(stage).isin(AT_RISK_STAGES))
    return np.where(risky, np.maximum(np.asarray(current_value, dtype=float), 0.0), 0.0)


def assign_actions(customers: pd.DataFrame, was: pd.Series | None = None,
                   rules: Sequence[ActionRule] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per customer (rows of ``customers``: abc_tier, pyramid_tier, stage, segment, quadrant,
    frequency) the index of the first matching rule and its priority.

    ``was``: per customer, the stage at the previous period end or ``"new"`` (None: no
    previous period). A customer no rule matches gets index -1 and priority 9; the
    shipped table ends with a catch-all row."""
    rules = tuple(rules) if rules is not None else _shipped()
    n = len(customers)
    freq = customers["frequency"].to_numpy(dtype=float)
    high = freq > (freq.mean() if n else 0.0)
    p_alive = customers["p_alive"].to_numpy(dtype=float) if "p_alive" in customers \
        else np.full(n, np.nan)
    alive_low, alive_high = p_alive < ALIVE_CUT, p_alive >= ALIVE_CUT  # NaN: neither
    columns = {c: customers[col] for c, col in LABEL_CONDITIONS.items() if col in customers}
    if was is not None:
        columns["was"] = pd.Series(np.asarray(was, dtype=object))
    out = np.full(n, -1, dtype="int32")
    free = np.ones(n, dtype=bool)
    for i, rule in enumerate(rules):
        hit = free.copy()
        for col, negated, labels in rule.conditions:
            values = columns.get(col)
            if values is None:  # no previous period, or no such column: nobody matches
                hit[:] = False
                break
            inside = np.asarray(values.isin(list(labels)))
            hit &= ~inside if negated else inside
        if rule.frequency:
            hit &= high if rule.frequency == "high" else ~high
        if rule.alive:
            hit &= alive_low if rule.alive == "low" else alive_high
        out[hit] = i
        free &= ~hit
    priority = np.array([r.priority for r in rules] + [9], dtype="int8")[out]
    return out, priority
