"""RFM segment schemes as data: a table of score conditions, first matching row wins.

A scheme is a table with a ``segment`` column and condition columns among ``R``, ``F``,
``M`` and ``FM`` (the mean of F and M rounded half up). A condition cell is one of:

- empty or ``*``: any score;
- ``4`` or ``2-3``: a score or an inclusive range of scores;
- ``high`` / ``low``: the customer is better / not better than the mean of all customers
  (the rule of the eight value classes, RFM 八类客户). When the raw measures are given
  (:func:`assign_segments`' ``measures``) R, F and M compare them, as shared/domain.md
  section 1 asks: R is high when the recency in days is below the mean recency of the
  customers who bought (a customer who never bought is low), F and M when the purchases
  and the monetary value are above their means. Scheme ``value8-score`` and calls
  without measures compare the scores with the mean score instead (the textbook
  variant, which moves customers with M = 3 between classes when only the customer
  count changes). FM, a score only, always compares scores.

Shipped schemes (``xl_crm/data/schemes``): ``value8`` (default, any number of bins),
``value8-score`` (the same table on scores) and ``named`` (Champions ... Lost, defined
on 1-5 scores). A user's own table (DataFrame,
2-D list with a header row, or CSV file read by an adapter) works the same way.
Customers no row matches are labelled ``Unclassified``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from .constants import DEFAULT_SCHEME, SCHEME_KINDS, SCHEMES
from .errors import InputError, show

UNCLASSIFIED = "Unclassified"
CONDITIONS = ("R", "F", "M", "FM")
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@cache
def _shipped_checked(name: str) -> pd.DataFrame:
    """A shipped scheme, read and checked once (callers get copies). Read with the csv
    module: pandas' CSV reader costs a few ms more on first use, in every run."""
    file = SCHEME_KINDS[name]  # value8-score is value8's table on another basis
    text = resources.files("xl_crm.data").joinpath("schemes", f"{file}.csv").read_text(
        encoding="utf-8")
    return load_scheme([row for row in csv.reader(io.StringIO(text)) if row])


def load_scheme(scheme: str | pd.DataFrame | Sequence[Sequence[object]]) -> pd.DataFrame:
    """A scheme by name (``value8``, ``named``), or a user's table, checked and normalised."""
    if isinstance(scheme, str):
        key = scheme.strip().lower()
        if key not in SCHEMES:
            raise InputError(f"unknown scheme {show(scheme)}; use {', '.join(SCHEMES)} "
                             "or give a table with a segment column")
        return _shipped_checked(key).copy()  # checked once per process
    if isinstance(scheme, pd.DataFrame):
        table = scheme.copy()
    else:
        rows = [list(r) for r in scheme]
        if len(rows) < 2:
            raise InputError("a scheme table needs a header row and at least one rule", "scheme")
        table = pd.DataFrame(rows[1:], columns=[str(h) for h in rows[0]])
    table.columns = [str(c).strip() for c in table.columns]
    rename = {c: c.upper() for c in table.columns if c.upper() in CONDITIONS}
    rename.update({c: "segment" for c in table.columns if c.lower() == "segment"})
    table = table.rename(columns=rename)
    if "segment" not in table:
        raise InputError("a scheme table needs a 'segment' column", "scheme")
    unknown = [c for c in table.columns if c not in CONDITIONS and c != "segment"]
    if unknown:
        raise InputError(f"unknown scheme columns {unknown}; use segment, R, F, M, FM",
                         "scheme")
    table = table.fillna("").astype(str)
    for i, rec in enumerate(table.to_dict("records"), start=2):
        if not rec["segment"].strip():
            raise InputError("the segment name is empty", "scheme", i)
        for c in CONDITIONS:
            if c in rec:
                _condition(rec[c], c, i)  # validates
    return table.reset_index(drop=True)


def _condition(text: str, column: str, row: int) -> tuple[str, float, float]:
    t = str(text).strip().lower()
    t = t.removesuffix(".0")
    if t in ("", "*", "any"):
        return ("any", 0, 0)
    if t in ("high", "low", "高", "低"):
        return ("high" if t in ("high", "高") else "low", 0, 0)
    m = _RANGE.match(t)
    if not m:
        raise InputError(f"{show(text)} is not a condition (use 4, 2-3, high, low or *)",
                         f"scheme {column}", row)
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    if hi < lo:
        raise InputError(f"{show(text)}: the range runs backwards", f"scheme {column}", row)
    return ("range", lo, hi)


def fm_score(f: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Mean of F and M scores rounded half up (4 and 5 give 5)."""
    return np.floor((np.asarray(f) + np.asarray(m)) / 2 + 0.5).astype("int64")


def on_scores(scheme: object) -> bool:
    """Whether the scheme's high/low compare scores (``value8-score``) rather than measures."""
    return isinstance(scheme, str) and scheme.strip().lower() == "value8-score"


def level_means(scores: pd.DataFrame, measures: pd.DataFrame | None = None,
                scheme: object = DEFAULT_SCHEME) -> dict[str, float]:
    """The means that high/low compare with: R, F, M as raw measures (recency in days over
    the customers who bought, purchases, monetary in currency) when ``measures`` are
    given and the scheme is not on scores, else the mean scores; FM always a mean score."""
    values = _levels(scores, measures, scheme)
    return {c: float(v[0]) for c, v in values.items()}


def _levels(scores: pd.DataFrame, measures: pd.DataFrame | None,
            scheme: object) -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    """Per condition column: (mean, values, high mask), "high" meaning better than the mean."""
    score = {c: scores[c].to_numpy(dtype="int64") for c in ("R", "F", "M")}
    score["FM"] = fm_score(score["F"], score["M"])
    out = {}
    for c, v in score.items():
        mean = float(v.mean()) if len(v) else 0.0
        out[c] = (mean, v, v > mean)
    if measures is None or on_scores(scheme):
        return out
    for c, col in (("R", "recency"), ("F", "frequency"), ("M", "monetary")):
        v = measures[col].to_numpy(dtype=float)
        known = ~np.isnan(v)
        mean = float(v[known].mean()) if known.any() else 0.0
        with np.errstate(invalid="ignore"):
            high = (v < mean) if c == "R" else (v > mean)  # NaN compares False: low
        out[c] = (mean, v, high & known)
    return out


def assign_segments(
    scores: pd.DataFrame, scheme: str | pd.DataFrame | Sequence[Sequence[object]] = DEFAULT_SCHEME,
    bins: int | None = None, measures: pd.DataFrame | None = None,
) -> pd.Series:
    """Segment name per row of ``scores`` (columns R, F, M); first matching rule wins.
    Categorical, with the categories of :func:`scheme_labels`.

    ``bins``: the number of scores used; the ``named`` scheme needs 5. ``measures``
    (columns recency, frequency, monetary, aligned with ``scores``): high/low compare
    them with their means (see the module docstring).
    """
    table = load_scheme(scheme)
    levels = _levels(scores, measures, scheme)
    values = {c: scores[c].to_numpy(dtype="int64") for c in ("R", "F", "M")}
    values["FM"] = levels["FM"][1]
    if isinstance(scheme, str) and scheme.strip().lower() == "named":
        top = max((int(v.max()) for v in values.values() if len(v)), default=5)
        if top > 5 or bins not in (None, 5):
            raise InputError("the named scheme is defined on scores 1-5; use bins=5", "scheme")
    names = _labels(table)
    out = np.full(len(scores), names.index(UNCLASSIFIED), dtype="int16")
    free = np.ones(len(scores), dtype=bool)
    for i, rec in enumerate(table.to_dict("records"), start=2):
        hit = free.copy()
        for c in CONDITIONS:
            if c not in rec:
                continue
            kind, lo, hi = _condition(rec[c], c, i)
            if kind == "high":
                hit &= levels[c][2]
            elif kind == "low":
                hit &= ~levels[c][2]
            elif kind == "range":
                hit &= (values[c] >= lo) & (values[c] <= hi)
        out[hit] = names.index(rec["segment"].strip())
        free &= ~hit
    return pd.Series(pd.Categorical.from_codes(out, categories=names), index=scores.index,
                     name="segment")


def scheme_labels(scheme: str | pd.DataFrame | Sequence[Sequence[object]]) -> list[str]:
    """Segment names a scheme can emit, in table order, plus ``Unclassified`` (each once)."""
    return _labels(load_scheme(scheme))


def _labels(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys([*table["segment"].str.strip(), UNCLASSIFIED]))
