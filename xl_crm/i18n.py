"""Labels of the report, mail and macro in English or Chinese, from ``data/labels.csv``.

Method labels (tiers, segments, stages, quadrants) take their display names from the
strategy catalogue, so one table holds each name.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from .core.constants import LANGS
from .core.errors import InputError
from .core.strategy import display_name


@cache
def _labels() -> dict[str, dict[str, str]]:
    path = resources.files("xl_crm.data").joinpath("labels.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["key"]: {"en": row["en"], "zh": row["zh"]} for row in csv.DictReader(fh)}


def check_lang(lang: str) -> str:
    """``lang`` if supported (en, zh), else an error."""
    if lang not in LANGS:
        raise InputError(f"language must be en or zh, not {lang!r}", "lang")
    return lang


def text(key: str, lang: str = "en", **fields: object) -> str:
    """The label ``key`` in ``lang``, with ``{fields}`` filled in; the key itself if unknown."""
    entry = _labels().get(key)
    value = entry[check_lang(lang)] if entry else key
    return value.format(**fields) if fields else value


def method_name(label: str, kind: str, lang: str = "en") -> str:
    """Display name of a tier, segment, stage or quadrant (e.g. ``重要价值客户``)."""
    return display_name(label, kind, lang)


def money_header(label: str, currency: str) -> str:
    """A money column's header with the currency, when one is set: "Value (EUR)"."""
    return f"{label} ({currency})" if currency else label
