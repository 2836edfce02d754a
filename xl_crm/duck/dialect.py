"""SQL text every DuckDB query of the engine shares (quoting, the white space the pandas
engine trims, the ``tx`` relation); the portable per-customer facts query itself is
:func:`xl_crm.facts_query.facts_sql`, shared with the Spark engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..core.constants import LABEL_FACTS

# the white space trimmed around text cells: what Python's str.strip() removes, as the
# pandas engine does (one literal holding the characters themselves)
_SPACES = [c for c in range(0x3001) if chr(c).isspace()]


SPACE = "'" + "".join(chr(c) for c in _SPACES) + "'"


# code points that are certainly not white space: a cell starting and ending with one
# needs no trimming (the fast path; CASE evaluates its ELSE only for the other rows).
# NOT IN costs a little planning per use, but a chain of comparisons measured slower
# on 10M-line files.
SOLID = ("(CASE WHEN {o} BETWEEN 33 AND 132 THEN true ELSE {o} > 160 AND {o} NOT IN ("
          + ", ".join(str(c) for c in _SPACES if c > 160) + ") END)")


def solid_ends(text: str) -> str:
    """Whether the text starts and ends with a character that is not white space."""
    return " AND ".join(SOLID.format(o=f"ord({e})") for e in (text, f"{text}[-1]"))


def trimmed(text: str) -> str:
    """``text`` without surrounding white space, trimming only cells that have some."""
    return f"(CASE WHEN {solid_ends(text)} THEN {text} ELSE trim({text}, {SPACE}) END)"


def quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tx_columns(found: Mapping[str, int]) -> str:
    blank_key = "chr(1) || CAST(rowid AS VARCHAR)"  # a line without order id: its own order
    parts = ["customer", "date", "amount"]
    parts.append(f"CASE WHEN order_id = '' THEN {blank_key} ELSE order_id END AS order_key"
                 if "order_id" in found else f"{blank_key} AS order_key")
    if "profit" in found:
        parts.append("profit AS value")
    elif "cost" in found:
        parts.append("amount - cost AS value")
    else:
        parts.append("amount AS value")
    for role in ("cost", "profit"):
        if role in found:
            parts.append(role)
    for role in LABEL_FACTS:
        parts.append(role if role in found else f"'' AS {role}")
    parts.append("(date - DATE '1970-01-01') * 4294967296 + rowid AS seq")
    return ", ".join(parts)
