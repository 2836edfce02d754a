"""Tables as monospaced text lines, for the terminal and the plain-text email: columns
padded by display width (East Asian wide characters count 2), so Chinese lines up too."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from .core.errors import is_control


def width(text: str) -> int:
    """Display width in a monospaced font: East Asian wide characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, size: int, right: bool) -> str:
    """``text`` padded with spaces to display width ``size``, on the left when ``right``."""
    gap = " " * (size - width(text))
    return gap + text if right else text + gap


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]],
               right: Sequence[int] = (), indent: str = "  ") -> list[str]:
    """The header and rows as lines, columns ``right`` aligned right, two spaces apart."""
    table = [list(header), *[list(r) for r in rows]]
    sizes = [max(width(row[i]) for row in table) for i in range(len(table[0]))]
    return [indent + "  ".join(pad(c, w, i in right) for i, (c, w) in
                               enumerate(zip(row, sizes))).rstrip() for row in table]


def shown(value: object, signed: bool = False) -> str:
    """A cell value as text: numbers whole with thousands separators (``signed``: with
    their sign, a true minus), dates as ISO dates, empty as "–" for numbers' absence."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        out = f"{value:+,.0f}" if signed else f"{value:,.0f}"
        return out.replace("-", "−")
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    return flat(str(value))


def flat(text: str) -> str:
    """Text on one line: line breaks, tabs and other control characters (ESC...) and line
    separators become spaces, so data cannot break a table, a header or the terminal."""
    return "".join(" " if is_control(ch) else ch for ch in text)


def shown_share(value: float | None) -> str:
    """A change as a signed percentage with one decimal ("+2.1%", "−0.2%")."""
    return "–" if value is None else f"{value:+.1%}".replace("-", "−")
