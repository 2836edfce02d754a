"""The tables a manager reads, as plain data: every renderer (the report workbook, the
button's ``CRM ...`` sheets, the worksheet functions) takes them from here, so they can
never disagree. No openpyxl, xlwings or smtplib here; values are plain Python (numbers,
text, ``datetime``), as a cell holds them.

- :data:`GROUP_KINDS`: the summaries of an analysis and the catalogue kind that names
  and explains their labels (the segments' kind follows the scheme).
- :func:`customer_frame`: the customers with labels in the reader's language and their
  next action (the action table's, :mod:`xl_crm.core.actions`; never the segment's alone).
- :func:`group_table`: one summary (tiers, segments, stages, quadrants) as rows.
- :func:`strategy_rows`: one row per label present, with its recommendation.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from .core.actions import NO_RULE, load_actions
from .core.analysis import Analysis
from .core.constants import SCHEME_KINDS
from .core.errors import InputError
from .core.strategy import recommend
from .i18n import method_name, money_header, text

# summary key -> catalogue kind of its labels (None: the segment scheme's kind)
GROUP_KINDS: dict[str, str | None] = {"abc": "abc", "pyramid": "pyramid", "segment": None,
                                      "stage": "lifecycle", "quadrant": "matrix"}
# customer column -> the summary it is grouped by
LABEL_COLUMNS = {"abc_tier": "abc", "pyramid_tier": "pyramid", "segment": "segment",
                 "stage": "stage", "quadrant": "quadrant"}
GROUP_COLUMNS = ("label", "customers", "customer_share", "value", "value_share", "average")
STRATEGY_COLUMNS = ("strategy.kind", "strategy.label", "strategy.name", "sum.customers",
                    "sum.value", "strategy.goal", "strategy.actions", "strategy.resources")


def segment_kind(scheme: object) -> str:
    """Catalogue kind of the segment labels of a scheme (a scheme table: ``custom``)."""
    return SCHEME_KINDS.get(scheme, "custom") if isinstance(scheme, str) else "custom"


def group_kind(key: str, scheme: object) -> str:
    """Catalogue kind of the labels of summary ``key`` (``abc``, ``segment``...)."""
    return GROUP_KINDS.get(key) or segment_kind(scheme)


MAX_CELL_TEXT = 32767  # characters an Excel cell holds, counted as Excel counts them


def excel_length(text: str) -> int:
    """The length of ``text`` as Excel counts it (``LEN``, and the cell limit
    :data:`MAX_CELL_TEXT`): UTF-16 code units, so a character beyond U+FFFF (an emoji,
    a rare Chinese character) counts 2."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fits_a_cell(text: str) -> bool:
    """Whether ``text`` fits an Excel cell (:data:`MAX_CELL_TEXT` as Excel counts); a
    text of at most half as many characters always does, with nothing to count."""
    return len(text) <= MAX_CELL_TEXT // 2 or excel_length(text) <= MAX_CELL_TEXT


def excel_prefix(text: str, units: int) -> str:
    """The longest start of ``text`` of at most ``units`` UTF-16 code units (a character
    beyond U+FFFF is never split)."""
    if excel_length(text) <= units:
        return text
    return text.encode("utf-16-le", "surrogatepass")[:2 * units].decode("utf-16-le", "ignore")


def excel_value(v: object) -> object:
    """A value Excel can show: NaN/NaT to empty, numpy scalars to Python, dates to datetime."""
    if v is None:
        return None
    if isinstance(v, float | np.floating):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(v)
        return None if pd.isna(stamp) else stamp.to_pydatetime()
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)
    return v


def series_values(series: pd.Series, each=excel_value) -> list[object]:
    """A column as cell values, converted column-wise (one numpy pass for dates, floats,
    integers and booleans): dates as datetime, NaN and NaT as empty; other values one by
    one through ``each`` (:func:`excel_value`)."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_dtype(dtype):  # naive; NaT becomes None
        return series.to_numpy(dtype="datetime64[us]").astype(object).tolist()
    if pd.api.types.is_float_dtype(dtype):
        arr = series.to_numpy(dtype=float)
        return np.where(np.isnan(arr), None, arr).tolist() if np.isnan(arr).any() \
            else arr.tolist()
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy().tolist()
    values = series.tolist()
    if each is excel_value and set(map(type, values)) <= _AS_THEY_ARE:
        return values  # text, empty, whole numbers, booleans, datetimes: nothing to convert
    return [each(v) for v in values]


_AS_THEY_ARE = frozenset({str, type(None), int, bool, dt.datetime})  # excel_value keeps them


def _recommendation(label: str, kind: str, lang: str):
    """The catalogue's recommendation for a label (the fallback's when it has none)."""
    try:
        return recommend(label, lang, None if kind == "custom" else kind)
    except InputError:
        return recommend("Unclassified", lang, "fallback")


def action_texts(analysis: Analysis, lang: str = "en") -> pd.Series:
    """Per customer (rows of the customer table) the action text of its rule in ``lang``."""
    texts = {r.rule: r.action(lang) for r in load_actions(analysis.options.actions)}
    texts[NO_RULE] = ""
    return analysis.customers["action"].map(texts).astype(object)


def customer_frame(analysis: Analysis, lang: str) -> pd.DataFrame:
    """The customers table as shown: labels translated, the next action of the action table
    as ``recommendation``, ``cost`` and ``profit`` present (empty when the data has none)."""
    c = analysis.customers.copy()
    scheme = analysis.options.scheme
    c["recommendation"] = action_texts(analysis, lang)
    for col, key in LABEL_COLUMNS.items():
        kind = group_kind(key, scheme)
        shown = {label: method_name(label, kind, lang) for label in c[col].unique()}
        c[col] = c[col].map(shown)
    for col in ("cost", "profit"):
        if col not in c:
            c[col] = float("nan")
    return c


def group_table(analysis: Analysis, key: str, lang: str) -> list[list[object]]:
    """Summary ``key`` as rows of label (in ``lang``), customers, customer share, value,
    value share and average value (shares as fractions, money in currency)."""
    kind = group_kind(key, analysis.options.scheme)
    return [[method_name(r.label, kind, lang), int(r.customers), float(r.customer_share),
             float(r.value), float(r.value_share), float(r.average)]
            for r in analysis.summaries[key].itertuples(index=False)]


MONEY_GROUP_COLUMNS = frozenset({"value", "average"})


def group_header(lang: str, currency: str = "") -> list[str]:
    """The header of :func:`group_table` (money columns with ``currency``)."""
    return [money_header(text(f"sum.{c}", lang), currency) if c in MONEY_GROUP_COLUMNS
            else text(f"sum.{c}", lang) for c in GROUP_COLUMNS]


def strategy_columns(lang: str) -> tuple[str, ...]:
    """The strategy table's columns in ``lang``: the catalogue's English label (what
    ``CRM_STRATEGY`` also accepts) only in English; in Chinese the name says it."""
    return tuple(k for k in STRATEGY_COLUMNS if lang == "en" or k != "strategy.label")


def strategy_header(lang: str, currency: str = "") -> list[str]:
    """The header of :func:`strategy_rows` (the value column with ``currency``)."""
    return [money_header(text(k, lang), currency) if k == "sum.value" else text(k, lang)
            for k in strategy_columns(lang)]


def strategy_rows(analysis: Analysis, lang: str) -> list[tuple]:
    """One row per tier, segment, stage and quadrant present, in
    :func:`strategy_columns`: kind, label (English only), name, customers, value, goal,
    actions (one per line), resources."""
    keep = [STRATEGY_COLUMNS.index(k) for k in strategy_columns(lang)]
    rows = []
    for key in GROUP_KINDS:
        kind = group_kind(key, analysis.options.scheme)
        table = analysis.summaries[key]
        for rec in table[table["customers"] > 0].itertuples(index=False):
            r = _recommendation(rec.label, kind, lang)
            row = (text(f"kind.{kind}", lang), rec.label, r.name, int(rec.customers),
                   float(rec.value), r.goal, "\n".join(f"• {a}" for a in r.actions),
                   r.resources)
            rows.append(tuple(row[i] for i in keep))
    return rows
