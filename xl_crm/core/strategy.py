"""Strategy recommendations (客户策略) from an editable catalogue (data, not code).

The catalogue (``xl_crm/data/strategies.csv``, UTF-8) has one row per label and language:
``kind, label, lang, name, goal, actions, resources``; actions are separated by `` | ``.
Kinds: ``abc``, ``pyramid``, ``value8``, ``named``, ``lifecycle``, ``matrix``, ``fallback``.
A user's own table with the same columns replaces it.

Looking a label up: case-insensitive, by canonical label (``Important value``) or by
display name in either language (``重要价值客户``); ``kind:label`` (``lifecycle:Lost``)
chooses between equal labels of different kinds, otherwise kinds are searched in the
order above (so ``Lost`` is the named segment and ``lifecycle:Lost`` the stage).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd

from .constants import LANGS
from .errors import InputError, show

KINDS = ("abc", "pyramid", "value8", "named", "lifecycle", "matrix", "fallback")
COLUMNS = ("kind", "label", "lang", "name", "goal", "actions", "resources")


@dataclass(frozen=True)
class Recommendation:
    """One catalogue entry in one language."""

    kind: str
    label: str
    lang: str
    name: str
    goal: str
    actions: tuple[str, ...]
    resources: str

    def text(self) -> str:
        """The recommendation as one paragraph (what ``CRM_STRATEGY`` returns)."""
        if self.lang == "zh":
            steps = "；".join(f"{i}. {a}" for i, a in enumerate(self.actions, 1))
            return f"{self.name}｜目标：{self.goal} 措施：{steps} 资源：{self.resources}"
        steps = "; ".join(f"{i}. {a}" for i, a in enumerate(self.actions, 1))
        return f"{self.name} | Goal: {self.goal} Actions: {steps} Resources: {self.resources}"


@cache
def _shipped() -> pd.DataFrame:
    path = resources.files("xl_crm.data").joinpath("strategies.csv")
    with path.open(encoding="utf-8") as fh:
        return check_catalogue(pd.read_csv(fh, dtype=str, keep_default_na=False))


def check_catalogue(table: pd.DataFrame) -> pd.DataFrame:
    """Validate a catalogue table: columns, kinds, languages, no empty text."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"the strategy catalogue lacks columns {missing}")
    table = table[list(COLUMNS)].fillna("").astype(str)
    for i, rec in enumerate(table.to_dict("records"), start=2):
        if rec["kind"] not in KINDS:
            raise InputError(f"unknown kind {show(rec['kind'])}", "strategy catalogue", i)
        if rec["lang"] not in LANGS:
            raise InputError(f"unknown language {show(rec['lang'])}", "strategy catalogue", i)
        empty = [c for c in COLUMNS if not rec[c].strip()]
        if empty:
            raise InputError(f"empty {', '.join(empty)}", "strategy catalogue", i)
    return table.reset_index(drop=True)


def catalogue(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The shipped catalogue, or ``table`` checked."""
    return _shipped() if table is None else check_catalogue(table)


def recommend(label: str, lang: str = "en", kind: str | None = None,
              table: pd.DataFrame | None = None) -> Recommendation:
    """The recommendation for a tier, segment, stage or quadrant label."""
    if lang not in LANGS:
        raise InputError(f"must be en or zh, not {show(lang)}", "lang")
    text = str(label).strip()
    if kind is None and ":" in text and text.split(":", 1)[0].strip().lower() in KINDS:
        kind, text = (part.strip() for part in text.split(":", 1))
        kind = kind.lower()
    # the shipped catalogue's lookups are built once (10,000 CRM_STRATEGY cells: one scan)
    names, texts = _shipped_index() if table is None else _build_index(catalogue(table))
    hits = [h for h in names.get(text.casefold(), ()) if kind is None or h[0] == kind]
    if not hits:
        raise InputError(f"{show(label)} is not a tier, segment, stage or quadrant in the "
                         "strategy catalogue (e.g. A, VIP, Champions, Important value, "
                         "Growth, Value)", "label")
    first = min(hits, key=lambda h: KINDS.index(h[0]))  # the first row of the first kind
    found = texts.get((*first, lang))
    if found is None:
        raise InputError(f"{show(first[1])} has no text in language {lang}", "label")
    return found


@cache
def _shipped_index():
    return _build_index(catalogue(None))


def _build_index(cat: pd.DataFrame) -> tuple[dict[str, list[tuple[str, str]]],
                                             dict[tuple[str, str, str], Recommendation]]:
    """The catalogue as lookups: casefolded label or name -> (kind, label) in row order,
    and (kind, label, lang) -> its recommendation (the first such row)."""
    names: dict[str, list[tuple[str, str]]] = {}
    texts: dict[tuple[str, str, str], Recommendation] = {}
    for rec in cat.itertuples(index=False):
        pair = (rec.kind, rec.label)
        for word in {str(rec.label).casefold(), str(rec.name).casefold()}:
            listed = names.setdefault(word, [])
            if pair not in listed:
                listed.append(pair)
        texts.setdefault((rec.kind, rec.label, rec.lang), Recommendation(
            rec.kind, rec.label, rec.lang, rec.name, rec.goal,
            tuple(a.strip() for a in rec.actions.split("|") if a.strip()), rec.resources))
    return names, texts


def display_name(label: str, kind: str, lang: str = "en",
                 table: pd.DataFrame | None = None) -> str:
    """A label's display name in ``lang`` (the label itself when the catalogue lacks it)."""
    try:
        return recommend(label, lang, kind, table).name
    except InputError:
        return label
